import { describe, expect, it } from "vitest";
import { generateAgentKey } from "../../agent/index.ts";
import { buildDirectory, DIRECTORY_MEDIA_TYPE, directoryRoute } from "../../directory/index.ts";
import {
  type HttpRequestMessage,
  type HttpResponseMessage,
  importVerificationKey,
  parseHttpMessage,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";
import { rfcKey } from "../rfc9421/rfc-keys.ts";
import directoryVectors from "../vectors/web-bot-auth-directory.json";

const vector = directoryVectors.vectors[0] as (typeof directoryVectors.vectors)[number];

function header(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

describe("signed key directory (test/vectors/web-bot-auth-directory.json)", () => {
  it(`reproduces the ${vector.name} vector byte for byte (${vector.source})`, async () => {
    const built = await buildDirectory({
      keys: [{ jwk: rfcKey(vector.key).jwk }],
      authority: vector.authority,
      now: vector.created,
      created: vector.created,
      expires: vector.expires,
    });
    expect(built.body).toBe(vector.body);
    expect(header(built.headers, "content-type")).toBe(DIRECTORY_MEDIA_TYPE);
    expect(header(built.headers, "content-digest")).toBe(vector.content_digest);
    expect(header(built.headers, "signature-input")).toBe(vector.signature_input);
    expect(header(built.headers, "signature")).toBe(vector.signature);
  });

  it("verifies with Signet's core against the request that fetched it", async () => {
    const built = await buildDirectory({
      keys: [{ jwk: rfcKey(vector.key).jwk }],
      authority: vector.authority,
      now: vector.created,
      created: vector.created,
      expires: vector.expires,
    });
    const request = parseHttpMessage(vector.request) as HttpRequestMessage;
    const response: HttpResponseMessage = {
      kind: "response",
      status: 200,
      headers: built.headers,
      body: new TextEncoder().encode(built.body),
      request,
    };
    const key = await importVerificationKey(JSON.parse(built.body).keys[0]);
    const [outcome] = await verifySignatures(response, {
      keys: () => key,
      tag: "http-message-signatures-directory",
      requiredComponents: ['"@authority";req', "content-digest"],
      now: () => vector.created,
    });
    expect(outcome?.verified && outcome.result.base).toBe(vector.signature_base);
  });

  it("never publishes private members, and rotates keys: expired keys are dropped, others each sign", async () => {
    const now = 1_800_000_000;
    const current = await generateAgentKey("ed25519");
    const next = await generateAgentKey("ecdsa-p256-sha256");
    const retired = await generateAgentKey("rsa-pss-sha512");
    const built = await buildDirectory({
      keys: [
        { jwk: retired.privateJwk, exp: now - 1 },
        { jwk: current.privateJwk, exp: now + 86_400 },
        { jwk: next.privateJwk },
      ],
      authority: "agent.example",
      now,
    });
    const listed = JSON.parse(built.body).keys as Array<Record<string, unknown>>;
    expect(listed.map((k) => k.kid)).toEqual([current.thumbprint, next.thumbprint]);
    for (const key of listed) {
      for (const member of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(key).not.toHaveProperty(member);
    }
    expect(listed[0]).toMatchObject({ use: "sig", exp: now + 86_400 });
    expect(header(built.headers, "signature-input")).toMatch(/^binding=\(.*, binding1=\(/);
    const response: HttpResponseMessage = {
      kind: "response",
      status: 200,
      headers: built.headers,
      body: new TextEncoder().encode(built.body),
      request: { kind: "request", method: "GET", targetUri: "https://agent.example/.well-known/x", headers: [] },
    };
    const keys = await Promise.all(listed.map((jwk) => importVerificationKey(jwk)));
    const outcomes = await verifySignatures(response, {
      keys: ({ keyid }) => keys.find((k) => k.keyid === keyid),
      now: () => now,
    });
    expect(outcomes.map((o) => o.verified)).toEqual([true, true]);
  });

  it("lists a public-only key without signing with it", async () => {
    const signer = await generateAgentKey();
    const old = await generateAgentKey();
    const built = await buildDirectory({
      keys: [{ jwk: signer.privateJwk }, { jwk: old.publicJwk }],
      authority: "agent.example",
    });
    expect(built.keyids).toEqual([signer.thumbprint, old.thumbprint]);
    expect(header(built.headers, "signature-input")).not.toContain(old.thumbprint);
  });
});

describe("directoryRoute (Hono)", () => {
  it("serves the signed directory for the authority it is asked on, with CORS and caching headers", async () => {
    const key = await generateAgentKey();
    const app = directoryRoute({ keys: [{ jwk: key.privateJwk }], maxAge: 600 });
    const response = await app.request("https://agent.example/.well-known/http-message-signatures-directory");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(DIRECTORY_MEDIA_TYPE);
    expect(response.headers.get("cache-control")).toBe("max-age=600");
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("signature-input")).toContain(`keyid="${key.thumbprint}"`);
    const body = await response.json();
    expect(body).toEqual({ keys: [key.publicJwk] });

    const head = await app.request("https://agent.example/.well-known/http-message-signatures-directory", {
      method: "HEAD",
    });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await app.request("https://agent.example/other")).status).toBe(404);
  });

  it("refuses options that cannot work", () => {
    expect(() => directoryRoute({ keys: [] })).toThrow(/no keys/);
    expect(() => directoryRoute({ keys: [{ jwk: {} }], maxAge: 100, signatureValidity: 50 })).toThrow(
      /signatureValidity/,
    );
  });
});
