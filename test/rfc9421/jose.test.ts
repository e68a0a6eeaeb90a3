import { describe, expect, it } from "vitest";
import {
  encodeBase64Url,
  importJoseVerificationKey,
  importSigningKey,
  JOSE_ALGORITHMS,
  type JoseAlgorithm,
  type Jwk,
  signMessage,
  verifyMessage,
} from "../../worker/rfc9421/index.ts";

const GENERATE: Record<JoseAlgorithm, object> = {
  Ed25519: { name: "Ed25519" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  ES384: { name: "ECDSA", namedCurve: "P-384" },
  ES512: { name: "ECDSA", namedCurve: "P-521" },
  PS256: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  PS384: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-384" },
  PS512: { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
  RS256: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  RS384: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-384" },
  RS512: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
};

const SIGN: Record<JoseAlgorithm, object> = {
  Ed25519: { name: "Ed25519" },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  ES512: { name: "ECDSA", hash: "SHA-512" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
  PS384: { name: "RSA-PSS", saltLength: 48 },
  PS512: { name: "RSA-PSS", saltLength: 64 },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  RS384: { name: "RSASSA-PKCS1-v1_5" },
  RS512: { name: "RSASSA-PKCS1-v1_5" },
};

async function pair(alg: JoseAlgorithm): Promise<{ privateKey: CryptoKey; publicJwk: Jwk }> {
  const keys = (await crypto.subtle.generateKey(
    GENERATE[alg] as Parameters<typeof crypto.subtle.generateKey>[0],
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const publicJwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as Jwk;
  return {
    privateKey: keys.privateKey,
    publicJwk: {
      kty: publicJwk.kty,
      crv: publicJwk.crv,
      x: publicJwk.x,
      y: publicJwk.y,
      n: publicJwk.n,
      e: publicJwk.e,
      alg,
    },
  };
}

describe("JOSE algorithms for RFC 9421 (§3.3.7)", () => {
  it.each(JOSE_ALGORITHMS.map((a) => [a] as const))(
    "%s: the key's alg decides, and the alg parameter is ignored when asked",
    async (alg) => {
      const { privateKey, publicJwk } = await pair(alg);
      const key = await importJoseVerificationKey(publicJwk);
      expect(key.algorithm).toBe(alg);
      const message = {
        kind: "request" as const,
        method: "GET",
        targetUri: "https://r.example/x",
        headers: [] as Array<[string, string]>,
      };
      const signing = {
        algorithm: "ed25519" as const,
        keyid: undefined,
        sign: async (data: Uint8Array) =>
          new Uint8Array(
            await crypto.subtle.sign(SIGN[alg] as Parameters<typeof crypto.subtle.sign>[0], privateKey, data),
          ),
      };
      const signed = await signMessage(message, {
        key: signing,
        components: ["@method", "@authority"],
        params: { created: 1000, alg: "ed25519" },
      });
      const withSignature = {
        ...message,
        headers: [
          ["Signature-Input", signed.signatureInput],
          ["Signature", signed.signature],
        ] as Array<[string, string]>,
      };
      const options = { keys: () => key, now: () => 1000, algorithms: [alg] };
      await expect(verifyMessage(withSignature, { ...options, algParameter: "ignore" })).resolves.toMatchObject({
        algorithm: alg,
      });
      // Checked, the parameter names an RFC 9421 algorithm the policy does not accept, and then not the key's.
      await expect(verifyMessage(withSignature, options)).rejects.toMatchObject({ code: "algorithm_not_allowed" });
      await expect(verifyMessage(withSignature, { ...options, algorithms: [alg, "ed25519"] })).rejects.toMatchObject({
        code: "algorithm_mismatch",
      });
    },
  );

  it.each([
    [{ kty: "OKP", crv: "Ed25519", x: encodeBase64Url(new Uint8Array(32).fill(7)) }, "unsupported_algorithm"],
    [
      { kty: "OKP", crv: "Ed25519", x: encodeBase64Url(new Uint8Array(32).fill(7)), alg: "EdDSA" },
      "unsupported_algorithm",
    ],
    [{ kty: "oct", k: "AAAA", alg: "HS256" }, "unsupported_algorithm"],
    [{ kty: "OKP", crv: "Ed25519", x: "AAAA", alg: "none" }, "unsupported_algorithm"],
    [{ kty: "OKP", crv: "Ed25519", x: encodeBase64Url(new Uint8Array(32).fill(7)), alg: "ES256" }, "invalid_key"],
    [{ kty: "EC", crv: "P-384", x: "AA", y: "AA", alg: "ES256" }, "invalid_key"],
    [{ kty: "OKP", crv: "Ed25519", x: `AQ${"A".repeat(41)}`, alg: "Ed25519" }, "weak_key"],
  ])("refuses %j with %s", async (jwk, code) => {
    await expect(importJoseVerificationKey(jwk as Jwk)).rejects.toMatchObject({ code });
  });

  it("refuses RSA under 2048 bits", async () => {
    const { publicJwk } = await pair("PS256");
    await expect(
      importJoseVerificationKey({ ...publicJwk, n: encodeBase64Url(new Uint8Array(128).fill(0xc1)) }),
    ).rejects.toMatchObject({ code: "weak_key" });
  });

  it("keeps importSigningKey for RFC 9421 names only", async () => {
    await expect(
      importSigningKey({ kty: "EC", crv: "P-521", x: "a", y: "b", d: "c", alg: "ES512" }),
    ).rejects.toMatchObject({ code: "unsupported_algorithm" });
  });
});
