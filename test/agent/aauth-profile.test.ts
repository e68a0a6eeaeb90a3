import { describe, expect, it } from "vitest";
import { aauthProfile, signRequest } from "../../agent/index.ts";
import { rfcKey } from "../rfc9421/rfc-keys.ts";

// Derived AAuth-profile vectors (aauth.md §5, from SK-08/SK-09 and AA-11; RFC 9421 B.1.4 test key, Ed25519 is
// deterministic). The same values are the verifier's vectors under test/vectors/.
const CREATED = 1732210000;
const V1_SIGNATURE = "sig=:u6KBEWdPc9EVHskXlQBQeX0KSVyiPPnxA1lSEnrcSANE2M9s3Fk9NidqCyEbl9Taz7LkcpVmgRdhqCAK4GtaDA==:";
const V3_SIGNATURE = "sig=:Eo0Wb3G0xTT3f6G2TR4538xMqTEv1QVm99hBhPYHRTp7TkYCmw4GgTdEZfK+AxnL9SnpAALOwISVjgzoO2aZBQ==:";

describe("the AAuth signing profile", () => {
  it("hwk: reproduces the derived V1 vector byte for byte", async () => {
    const signed = await signRequest(new Request("https://resource.example/api/data"), {
      key: rfcKey("test-key-ed25519").jwk,
      profile: aauthProfile({ scheme: "hwk" }),
      label: "sig",
      now: () => CREATED,
    });
    expect(signed.headers.get("signature-key")).toBe(
      'sig=hwk;kty="OKP";crv="Ed25519";x="JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";alg="Ed25519"',
    );
    expect(signed.headers.get("signature-input")).toBe(
      'sig=("@method" "@authority" "@path" "signature-key");created=1732210000',
    );
    expect(signed.headers.get("signature")).toBe(V1_SIGNATURE);
    expect(signed.headers.has("signature-agent")).toBe(false);
  });

  it("hwk with a body: covers content-type and content-digest, reproducing V3", async () => {
    const signed = await signRequest(
      new Request("https://resource.example/api/items", {
        method: "POST",
        body: '{"hello":"world"}',
        headers: { "content-type": "application/json" },
      }),
      {
        key: rfcKey("test-key-ed25519").jwk,
        profile: aauthProfile({ scheme: "hwk" }),
        label: "sig",
        now: () => CREATED,
      },
    );
    expect(signed.headers.get("content-digest")).toBe("sha-256=:k6I5cakU5erL8KjSUVTNownDwccvu5kU1Hxg88toFYg=:");
    expect(signed.headers.get("signature-input")).toBe(
      'sig=("@method" "@authority" "@path" "content-type" "content-digest" "signature-key");created=1732210000',
    );
    expect(signed.headers.get("signature")).toBe(V3_SIGNATURE);
  });

  it("jwt: carries the agent token and covers authorization when present", async () => {
    const token = "eyJhbGciOiJFZDI1NTE5In0.eyJpc3MiOiJodHRwczovL2FwLmV4YW1wbGUifQ.c2ln";
    const signed = await signRequest(
      new Request("https://resource.example/api/data", { headers: { authorization: "AAuth session-1" } }),
      { key: rfcKey("test-key-ed25519").jwk, profile: aauthProfile({ scheme: "jwt", token }), now: () => CREATED },
    );
    expect(signed.headers.get("signature-key")).toBe(`sig1=jwt;jwt="${token}"`);
    expect(signed.headers.get("signature-input")).toBe(
      'sig1=("@method" "@authority" "@path" "authorization" "signature-key");created=1732210000',
    );
  });

  it("refuses a jwt scheme without a compact JWT", () => {
    expect(() => aauthProfile({ scheme: "jwt", token: "not a jwt" })).toThrow(/compact JWT/);
  });
});
