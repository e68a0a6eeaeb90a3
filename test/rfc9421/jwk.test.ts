import { describe, expect, it } from "vitest";
import {
  algorithmForJwk,
  createContentDigest,
  type DigestAlgorithm,
  importSigningKey,
  importVerificationKey,
  jwkThumbprint,
  jwkThumbprintUri,
  verifyContentDigest,
} from "../../worker/rfc9421/index.ts";
import digestFile from "../vectors/content-digest.json";
import thumbprintFile from "../vectors/jwk-thumbprints.json";
import { rfcKey } from "./rfc-keys.ts";

describe("JWK thumbprints (test/vectors/jwk-thumbprints.json)", () => {
  it.each(thumbprintFile.vectors.map((v) => [v.name, v] as const))("%s", async (_name, v) => {
    expect(await jwkThumbprint(v.jwk)).toBe(v.thumbprint);
    if ("uri" in v) expect(await jwkThumbprintUri(v.jwk)).toBe(v.uri);
  });

  it("ignores members outside the required set, so private JWKs give the public thumbprint", async () => {
    const { jwk } = rfcKey("test-key-ed25519");
    const { d: _d, ...publicJwk } = jwk;
    expect(await jwkThumbprint(jwk)).toBe(await jwkThumbprint(publicJwk));
  });
});

describe("Content-Digest (test/vectors/content-digest.json)", () => {
  it.each(digestFile.vectors.map((v) => [v.name, v] as const))("%s", async (_name, v) => {
    const body = new TextEncoder().encode(v.body);
    expect(await createContentDigest(body, v.algorithms as DigestAlgorithm[])).toBe(v.field);
    await expect(verifyContentDigest(v.field, body)).resolves.toEqual(v.algorithms);
  });

  it("checks every known algorithm present and ignores unknown ones", async () => {
    const body = new TextEncoder().encode("x");
    const both = await createContentDigest(body, ["sha-256", "sha-512"]);
    await expect(verifyContentDigest(`md5=:AAAA:, ${both}`, body)).resolves.toEqual(["sha-256", "sha-512"]);
    const wrong512 = both.replace(/sha-512=:[^:]+:/, "sha-512=:AAAA:");
    await expect(verifyContentDigest(wrong512, body)).rejects.toMatchObject({ code: "content_digest_mismatch" });
  });
});

describe("JWK import binds a key to one algorithm", () => {
  it("implies the algorithm from OKP and EC keys and refuses to guess for RSA", () => {
    expect(algorithmForJwk(rfcKey("test-key-ed25519").jwk)).toBe("ed25519");
    expect(algorithmForJwk(rfcKey("test-key-ecc-p256").jwk)).toBe("ecdsa-p256-sha256");
    expect(() => algorithmForJwk(rfcKey("test-key-rsa-pss").jwk)).toThrow(/name the algorithm/);
    expect(algorithmForJwk({ ...rfcKey("test-key-rsa-pss").jwk, alg: "PS512" })).toBe("rsa-pss-sha512");
  });

  it("refuses a JWK alg that disagrees with the requested algorithm", async () => {
    const jwk = { ...rfcKey("test-key-rsa-pss").jwk, alg: "RS256" };
    await expect(importVerificationKey(jwk, { algorithm: "rsa-pss-sha512" })).rejects.toMatchObject({
      code: "algorithm_mismatch",
    });
  });

  it("never runs HMAC with public-key material", async () => {
    await expect(
      importVerificationKey(rfcKey("test-key-ed25519").jwk, { algorithm: "hmac-sha256" }),
    ).rejects.toMatchObject({ code: "algorithm_mismatch" });
  });

  it("refuses a JWK meant for encryption", async () => {
    const jwk = { ...rfcKey("test-key-ecc-p256").jwk, use: "enc" };
    await expect(importVerificationKey(jwk)).rejects.toMatchObject({ code: "invalid_key" });
  });

  it("imports only the public half of a private JWK for verification", async () => {
    const key = await importVerificationKey(rfcKey("test-key-ecc-p256").jwk);
    expect(key.type).toBe("public");
    expect(key.signatureLength).toBe(64);
  });

  it("needs the private part to sign", async () => {
    const { d: _d, ...publicJwk } = rfcKey("test-key-ed25519").jwk;
    await expect(importSigningKey(publicJwk)).rejects.toMatchObject({ code: "invalid_key" });
  });

  it("reports the RSA signature length from the modulus", async () => {
    const key = await importVerificationKey(rfcKey("test-key-rsa-pss").jwk, { algorithm: "rsa-pss-sha512" });
    expect(key.signatureLength).toBe(256);
  });
});
