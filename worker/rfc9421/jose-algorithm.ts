/**
 * JOSE signature algorithms for RFC 9421 (§3.3.7): the signature base is signed as a JWS Signing Input, and the
 * algorithm comes from the key's fully specified JWK `alg` (RFC 7518, RFC 9864), never from the `alg` signature
 * parameter. HTTP Signature Keys and AAuth use these names (`Ed25519`, `ES256`, `PS512`, ...).
 *
 * @module
 */
import { type ImportParams, JOSE_ALGORITHMS, type JoseAlgorithm, type SignParams } from "./algorithm.ts";
import { SignatureError } from "./errors.ts";
import {
  checkEd25519PublicKey,
  decodeMember,
  type Jwk,
  publicJwkOf,
  rsaModulusBytes,
  type VerificationKey,
} from "./key.ts";

// The names live with the RFC 9421 ones (algorithm.ts), below key.ts, so key.ts can name them without a circle.
export { JOSE_ALGORITHMS, type JoseAlgorithm } from "./algorithm.ts";

interface JoseSpec {
  readonly kty: "OKP" | "EC" | "RSA";
  readonly crv?: string;
  readonly importParams: ImportParams;
  readonly signParams: SignParams;
  readonly signatureLength?: number;
}

const rsa = (name: "RSA-PSS" | "RSASSA-PKCS1-v1_5", bits: 256 | 384 | 512): JoseSpec => ({
  kty: "RSA",
  importParams: { name, hash: `SHA-${bits}` },
  // JWS RSA-PSS uses a salt as long as the hash (RFC 7518 §3.5).
  signParams: name === "RSA-PSS" ? { name, saltLength: bits / 8 } : { name },
});
const ec = (crv: "P-256" | "P-384" | "P-521", bits: 256 | 384 | 512, length: number): JoseSpec => ({
  kty: "EC",
  crv,
  importParams: { name: "ECDSA", namedCurve: crv },
  signParams: { name: "ECDSA", hash: `SHA-${bits}` },
  signatureLength: length,
});

const SPECS: Readonly<Record<JoseAlgorithm, JoseSpec>> = Object.freeze({
  Ed25519: {
    kty: "OKP",
    crv: "Ed25519",
    importParams: { name: "Ed25519" },
    signParams: { name: "Ed25519" },
    signatureLength: 64,
  },
  ES256: ec("P-256", 256, 64),
  ES384: ec("P-384", 384, 96),
  ES512: ec("P-521", 512, 132),
  PS256: rsa("RSA-PSS", 256),
  PS384: rsa("RSA-PSS", 384),
  PS512: rsa("RSA-PSS", 512),
  RS256: rsa("RSASSA-PKCS1-v1_5", 256),
  RS384: rsa("RSASSA-PKCS1-v1_5", 384),
  RS512: rsa("RSASSA-PKCS1-v1_5", 512),
});

/**
 * Whether a string is one of {@link JOSE_ALGORITHMS}.
 *
 * @example
 * ```ts
 * isJoseAlgorithm("ES256"); // true
 * isJoseAlgorithm("EdDSA"); // false: polymorphic, refused
 * ```
 */
export function isJoseAlgorithm(name: unknown): name is JoseAlgorithm {
  return typeof name === "string" && Object.hasOwn(SPECS, name);
}

/**
 * Imports a public JWK whose `alg` names a JOSE algorithm, for verifying RFC 9421 signatures made with it. The
 * `alg` is required and must be fully specified; `kty` and `crv` must agree with it; weak keys are refused as
 * for {@link importVerificationKey}.
 *
 * @throws {SignatureError} `unsupported_algorithm` (no, polymorphic, symmetric or unknown `alg`; an unknown
 *   `kty`), `invalid_key` (`kty`/`crv` disagree with `alg`, bad members) or `weak_key`
 *
 * @example
 * ```ts
 * const key = await importJoseVerificationKey({ kty: "OKP", crv: "Ed25519", x: "...", alg: "Ed25519" });
 * key.algorithm; // "Ed25519"
 * ```
 */
export async function importJoseVerificationKey(jwk: Jwk, keyid?: string): Promise<VerificationKey> {
  const alg = jwk.alg;
  if (alg === undefined) throw new SignatureError("unsupported_algorithm", 'the JWK has no "alg"; it must name one');
  if (!isJoseAlgorithm(alg)) {
    throw new SignatureError(
      "unsupported_algorithm",
      `the JWK's alg "${alg}" is not an accepted, fully specified algorithm`,
    );
  }
  const spec = SPECS[alg];
  if (jwk.kty !== spec.kty || (spec.crv !== undefined && jwk.crv !== spec.crv)) {
    throw new SignatureError(
      "invalid_key",
      `a ${jwk.kty}${jwk.crv ? `/${jwk.crv}` : ""} key cannot be used for ${alg}`,
    );
  }
  if (jwk.use !== undefined && jwk.use !== "sig") {
    throw new SignatureError("invalid_key", `the JWK is for use "${jwk.use}", not signatures`);
  }
  let signatureLength = spec.signatureLength ?? 0;
  if (spec.kty === "RSA") signatureLength = rsaModulusBytes(jwk);
  if (spec.kty === "OKP") checkEd25519PublicKey(decodeMember(jwk.x, "x"));
  const { key_ops: _ops, use: _use, alg: _alg, ext: _ext, ...material } = publicJwkOf(jwk);
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await crypto.subtle.importKey("jwk", material as JsonWebKey, spec.importParams, false, ["verify"]);
  } catch (cause) {
    throw new SignatureError("invalid_key", `the JWK could not be imported: ${(cause as Error).message}`, { cause });
  }
  return {
    algorithm: alg,
    type: "public",
    keyid: keyid ?? jwk.kid,
    signatureLength,
    verify: (data, signature) => crypto.subtle.verify(spec.signParams, cryptoKey, signature, data),
  };
}
