import { parseDictionary, parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import {
  aauthRequirementHeader,
  acceptSignatureAlgHeader,
  acceptSignatureSchemeHeader,
  buildResourceMetadata,
  isAgentIdentifier,
  isServerIdentifier,
  parseSignatureKey,
  SK_ERROR_CODES,
  selectSignatureKey,
  signatureErrorHeader,
  signatureErrorProblemType,
  signatureErrorResponse,
} from "../../../worker/aauth/index.ts";

describe("Signature-Key parsing", () => {
  it("reads schemes and typed parameters per label", () => {
    const parsed = parseSignatureKey(
      'sig=hwk;kty="OKP";alg="Ed25519", s2=jwt;jwt="a.b.c";cache, s3=x509;x5t=:AAE=:;n=5',
    );
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.field.members.get("sig")?.scheme).toBe("hwk");
    expect(parsed.field.members.get("s2")?.params.get("cache")).toEqual({ type: "boolean", value: true });
    expect(parsed.field.members.get("s3")?.params.get("x5t")).toEqual({ type: "bytes", value: new Uint8Array([0, 1]) });
    expect(parsed.field.members.get("s3")?.params.get("n")).toEqual({ type: "number", value: 5 });
    expect(selectSignatureKey(parsed.field, "s3")).toMatchObject({ ok: false, code: "unsupported_scheme" });
    expect(selectSignatureKey(parsed.field, "nope")).toMatchObject({ ok: false, code: "invalid_signature" });
    expect(selectSignatureKey(parsed.field, "sig")).toMatchObject({ ok: true });
  });

  it("refuses duplicate labels, non-Token schemes and Inner Lists", () => {
    expect(parseSignatureKey("sig=hwk, sig=jwt")).toMatchObject({ ok: false, code: "invalid_signature" });
    const parsed = parseSignatureKey('a="hwk", b=(hwk), c=hwk');
    if (!parsed.ok) throw new Error(parsed.message);
    expect(selectSignatureKey(parsed.field, "a")).toMatchObject({ ok: false, code: "invalid_signature" });
    expect(selectSignatureKey(parsed.field, "b")).toMatchObject({ ok: false, code: "invalid_signature" });
    expect(selectSignatureKey(parsed.field, "c")).toMatchObject({ ok: true });
  });
});

describe("identifiers", () => {
  it("server identifiers: https, lower-case host only", () => {
    expect(isServerIdentifier("https://agent.example")).toBe(true);
    for (const bad of [
      "http://agent.example",
      "https://Agent.Example",
      "https://agent.example:8443",
      "https://agent.example/v1",
      "https://agent.example/",
      "https://agent",
      "https://1.2.3.4",
    ]) {
      expect([bad, isServerIdentifier(bad)]).toEqual([bad, false]);
    }
    expect(isServerIdentifier("http://127.0.0.1:8080/i/x")).toBe(false);
    expect(isServerIdentifier("http://127.0.0.1:8080/i/x", { unsafeAllowLoopback: true })).toBe(true);
  });

  it("agent identifiers allow upper case in local (AA-11)", () => {
    expect(isAgentIdentifier("aauth:planner.7f3c+search1@vendor.example")).toBe(true);
    expect(isAgentIdentifier("aauth:Planner@vendor.example")).toBe(true);
    for (const bad of [
      "aauth:@vendor.example",
      "acct:a@vendor.example",
      "aauth:a b@vendor.example",
      "aauth:a@Vendor.example",
      "aauth:a@b@c.example",
    ]) {
      expect([bad, isAgentIdentifier(bad)]).toEqual([bad, false]);
    }
  });
});

describe("response fields", () => {
  it("Signature-Error with required_input as an Inner List of Strings", () => {
    expect(signatureErrorHeader("unknown_key")).toBe("error=unknown_key");
    const value = signatureErrorHeader("invalid_input", ['"@path"', '"signature-key"']);
    expect(value).toBe('error=invalid_input, required_input=("@path" "signature-key")');
    const parsed = parseDictionary(value);
    expect(parsed.get("required_input")?.[0]).toEqual([
      ["@path", new Map()],
      ["signature-key", new Map()],
    ]);
    for (const code of SK_ERROR_CODES) expect(parseDictionary(signatureErrorHeader(code)).size).toBe(1);
  });

  it("Accept-Signature-Scheme and Accept-Signature-Alg are Lists of Tokens, case kept", () => {
    expect(acceptSignatureSchemeHeader(["jwt", "jwks_uri"])).toBe("jwt, jwks_uri");
    expect(acceptSignatureAlgHeader(["Ed25519", "ES256"])).toBe("Ed25519, ES256");
    expect(parseList(acceptSignatureAlgHeader(["PS512"])).length).toBe(1);
  });

  it("AAuth-Requirement and the problem type", () => {
    expect(aauthRequirementHeader({ requirement: "agent-token" })).toBe("requirement=agent-token");
    expect(aauthRequirementHeader({ requirement: "person-token" })).toBe("requirement=person-token");
    expect(aauthRequirementHeader({ requirement: "auth-token", resourceToken: "eyJ.a.b" })).toBe(
      'requirement=auth-token;resource-token="eyJ.a.b"',
    );
    expect(signatureErrorProblemType("clock_skew")).toBe("urn:ietf:params:sig-error:clock_skew");
  });

  it("a complete 401", async () => {
    const response = signatureErrorResponse("unsupported_scheme", {
      schemes: ["jwt"],
      requirement: { requirement: "agent-token" },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("signature-error")).toBe("error=unsupported_scheme");
    expect(response.headers.get("accept-signature-scheme")).toBe("jwt");
    expect(response.headers.get("accept-signature-alg")).toBeNull();
    expect(response.headers.get("aauth-requirement")).toBe("requirement=agent-token");
    expect(await response.json()).toMatchObject({ type: "urn:ietf:params:sig-error:unsupported_scheme", status: 401 });
  });
});

describe("resource metadata", () => {
  it("builds aauth-resource.json from options, jwks_uri only when given", () => {
    expect(buildResourceMetadata({ resource: "https://resource.example" })).toEqual({
      issuer: "https://resource.example",
    });
    expect(
      buildResourceMetadata({
        resource: "https://resource.example",
        accessMode: "auth-token",
        signatureWindow: 30,
        additionalSignatureComponents: ["content-type"],
        acceptSignatureAlgs: ["Ed25519"],
        name: "Docs",
        scopeDescriptions: { "data.read": "Read" },
        jwksUri: "https://resource.example/jwks.json",
      }),
    ).toEqual({
      issuer: "https://resource.example",
      jwks_uri: "https://resource.example/jwks.json",
      access_mode: "auth-token",
      name: "Docs",
      signature_window: 30,
      additional_signature_components: ["content-type"],
      accept_signature_algs: ["Ed25519"],
      scope_descriptions: { "data.read": "Read" },
    });
  });
});
