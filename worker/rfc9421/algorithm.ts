/**
 * The signature algorithms of the HTTP Signature Algorithms registry (RFC 9421 §3.3, §6.2.2) as WebCrypto
 * parameters.
 *
 * @module
 */

/** Every algorithm the core signs and verifies. */
export const SIGNATURE_ALGORITHMS = [
  "ed25519",
  "ecdsa-p256-sha256",
  "ecdsa-p384-sha384",
  "rsa-pss-sha512",
  "rsa-v1_5-sha256",
  "hmac-sha256",
] as const;

/** An RFC 9421 algorithm name. */
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

/** WebCrypto `importKey` parameters, typed structurally so the core does not depend on one runtime's lib types. */
export interface ImportParams {
  readonly name: string;
  readonly namedCurve?: string;
  readonly hash?: string;
}

/** WebCrypto `sign`/`verify` parameters. */
export interface SignParams {
  readonly name: string;
  readonly hash?: string;
  readonly saltLength?: number;
}

/** How one algorithm maps onto WebCrypto and JWK. */
export interface AlgorithmSpec {
  readonly name: SignatureAlgorithm;
  /** The JWK key type and, for curves, the curve the key must have. */
  readonly kty: "OKP" | "EC" | "RSA" | "oct";
  readonly crv?: string;
  /** The JWS `alg` value that names the same operation (RFC 7518, RFC 8037, RFC 9864). */
  readonly jwsAlg: string;
  readonly importParams: ImportParams;
  readonly signParams: SignParams;
  /** The signature length in bytes, when it is fixed by the algorithm (RSA: the modulus length). */
  readonly signatureLength?: number;
}

const SPECS: Readonly<Record<SignatureAlgorithm, AlgorithmSpec>> = Object.freeze({
  ed25519: {
    name: "ed25519",
    kty: "OKP",
    crv: "Ed25519",
    jwsAlg: "Ed25519",
    importParams: { name: "Ed25519" },
    signParams: { name: "Ed25519" },
    signatureLength: 64,
  },
  "ecdsa-p256-sha256": {
    name: "ecdsa-p256-sha256",
    kty: "EC",
    crv: "P-256",
    jwsAlg: "ES256",
    importParams: { name: "ECDSA", namedCurve: "P-256" },
    signParams: { name: "ECDSA", hash: "SHA-256" },
    signatureLength: 64,
  },
  "ecdsa-p384-sha384": {
    name: "ecdsa-p384-sha384",
    kty: "EC",
    crv: "P-384",
    jwsAlg: "ES384",
    importParams: { name: "ECDSA", namedCurve: "P-384" },
    signParams: { name: "ECDSA", hash: "SHA-384" },
    signatureLength: 96,
  },
  "rsa-pss-sha512": {
    name: "rsa-pss-sha512",
    kty: "RSA",
    jwsAlg: "PS512",
    importParams: { name: "RSA-PSS", hash: "SHA-512" },
    // RFC 9421 §3.3.1: MGF1 with SHA-512 and a salt of exactly 64 bytes.
    signParams: { name: "RSA-PSS", saltLength: 64 },
  },
  "rsa-v1_5-sha256": {
    name: "rsa-v1_5-sha256",
    kty: "RSA",
    jwsAlg: "RS256",
    importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    signParams: { name: "RSASSA-PKCS1-v1_5" },
  },
  "hmac-sha256": {
    name: "hmac-sha256",
    kty: "oct",
    jwsAlg: "HS256",
    importParams: { name: "HMAC", hash: "SHA-256" },
    signParams: { name: "HMAC" },
    signatureLength: 32,
  },
});

/**
 * Whether a string names an algorithm of {@link SIGNATURE_ALGORITHMS}.
 *
 * @example
 * ```ts
 * isSignatureAlgorithm("ed25519"); // true
 * isSignatureAlgorithm("EdDSA"); // false: JWS names are not RFC 9421 names
 * ```
 */
export function isSignatureAlgorithm(name: unknown): name is SignatureAlgorithm {
  return typeof name === "string" && Object.hasOwn(SPECS, name);
}

/**
 * The WebCrypto and JWK description of an algorithm.
 *
 * @example
 * ```ts
 * algorithmSpec("rsa-pss-sha512").signParams; // { name: "RSA-PSS", saltLength: 64 }
 * ```
 */
export function algorithmSpec(name: SignatureAlgorithm): AlgorithmSpec {
  return SPECS[name];
}

/**
 * The RFC 9421 algorithm a JWS `alg` value names, if any.
 *
 * @example
 * ```ts
 * algorithmFromJws("PS512"); // "rsa-pss-sha512"
 * ```
 */
export function algorithmFromJws(jwsAlg: string): SignatureAlgorithm | undefined {
  if (jwsAlg === "EdDSA") return "ed25519";
  return SIGNATURE_ALGORITHMS.find((name) => SPECS[name].jwsAlg === jwsAlg);
}

/** Every JOSE algorithm the core verifies. `EdDSA`, `none` and the symmetric `HS*` are refused on purpose. */
export const JOSE_ALGORITHMS = [
  "Ed25519",
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
  "RS256",
  "RS384",
  "RS512",
] as const;

/** A fully specified JOSE signature algorithm. */
export type JoseAlgorithm = (typeof JOSE_ALGORITHMS)[number];
