/**
 * Keys for signing and verifying, imported from JWK (RFC 7517) and bound to one algorithm for life
 * (RFC 9421 §7.3.6: a key accepted for one algorithm must never verify another).
 *
 * @module
 */
import * as ed25519 from "@noble/ed25519";
import {
  algorithmFromJws,
  algorithmSpec,
  type ImportParams,
  isSignatureAlgorithm,
  type JoseAlgorithm,
  type SignatureAlgorithm,
} from "./algorithm.ts";
import { decodeBase64Url } from "./base64.ts";
import { SignatureError } from "./errors.ts";

/**
 * A JSON Web Key (RFC 7517) as the core reads it: the members of the key types it uses, plus `kid`.
 */
export interface Jwk {
  readonly kty?: string | undefined;
  readonly kid?: string | undefined;
  readonly alg?: string | undefined;
  readonly use?: string | undefined;
  readonly key_ops?: readonly string[] | undefined;
  readonly ext?: boolean | undefined;
  readonly crv?: string | undefined;
  readonly x?: string | undefined;
  readonly y?: string | undefined;
  readonly n?: string | undefined;
  readonly e?: string | undefined;
  readonly d?: string | undefined;
  readonly p?: string | undefined;
  readonly q?: string | undefined;
  readonly dp?: string | undefined;
  readonly dq?: string | undefined;
  readonly qi?: string | undefined;
  readonly k?: string | undefined;
  readonly [member: string]: unknown;
}

/** A key that verifies signatures of exactly one algorithm: an RFC 9421 one, or a JOSE one (§3.3.7). */
export interface VerificationKey {
  readonly algorithm: SignatureAlgorithm | JoseAlgorithm;
  /** `public` for asymmetric keys, `secret` for HMAC. */
  readonly type: "public" | "secret";
  readonly keyid?: string | undefined;
  /** The signature length in bytes this key produces. */
  readonly signatureLength: number;
  verify(data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** A key that signs with exactly one algorithm. */
export interface SigningKey {
  readonly algorithm: SignatureAlgorithm;
  readonly keyid?: string | undefined;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Options for importing a JWK. */
export interface ImportKeyOptions {
  /**
   * The algorithm the key is for. Required when the JWK does not say (an RSA or `oct` JWK without `alg`);
   * when both say, they must agree.
   */
  readonly algorithm?: SignatureAlgorithm | undefined;
  /** The key id to report; defaults to the JWK's `kid`. */
  readonly keyid?: string | undefined;
}

/** RSA keys shorter than this are refused (RFC 9421 §7.3.3 leaves the floor to the application). */
export const MIN_RSA_BITS = 2048;
/** HMAC keys shorter than the SHA-256 output are refused. */
export const MIN_HMAC_BYTES = 32;

/** JWK members that only private or secret keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2; `priv`). */
export const PRIVATE_JWK_MEMBERS = Object.freeze(["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"] as const);

/**
 * The private members a JWK actually carries (a member present with the value `undefined`, as some runtimes'
 * `exportKey` leave on public keys, does not count).
 *
 * @example
 * ```ts
 * privateMembersOf({ kty: "OKP", crv: "Ed25519", x: "...", d: "..." }); // ["d"]
 * ```
 */
export function privateMembersOf(jwk: object): string[] {
  const record = jwk as Record<string, unknown>;
  return PRIVATE_JWK_MEMBERS.filter((name) => record[name] !== undefined);
}

/**
 * The public half of a JWK: every private member and every `undefined` member removed.
 *
 * @example
 * ```ts
 * const publicJwk = publicJwkOf(privateJwk);
 * ```
 */
export function publicJwkOf(jwk: Jwk): Jwk {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(jwk)) {
    if (value !== undefined && !(PRIVATE_JWK_MEMBERS as readonly string[]).includes(name)) out[name] = value;
  }
  return out as Jwk;
}

/**
 * The algorithm a JWK is for, from `options.algorithm`, the JWK's `alg`, and its key type, refusing any
 * disagreement between them.
 *
 * @throws {SignatureError} `algorithm_mismatch`, `unsupported_algorithm` or `invalid_key`
 *
 * @example
 * ```ts
 * algorithmForJwk({ kty: "OKP", crv: "Ed25519", x: "..." }); // "ed25519"
 * algorithmForJwk({ kty: "RSA", n: "...", e: "AQAB", alg: "PS512" }); // "rsa-pss-sha512"
 * ```
 */
export function algorithmForJwk(jwk: Jwk, requested?: SignatureAlgorithm): SignatureAlgorithm {
  if (requested !== undefined && !isSignatureAlgorithm(requested)) {
    throw new SignatureError("unsupported_algorithm", `"${String(requested)}" is not an RFC 9421 algorithm`);
  }
  let fromJwk: SignatureAlgorithm | undefined;
  if (jwk.alg !== undefined) {
    fromJwk = algorithmFromJws(jwk.alg);
    if (fromJwk === undefined) {
      throw new SignatureError("unsupported_algorithm", `the JWK's alg "${jwk.alg}" has no RFC 9421 algorithm`);
    }
  }
  if (requested !== undefined && fromJwk !== undefined && requested !== fromJwk) {
    throw new SignatureError("algorithm_mismatch", `the key is for ${fromJwk}, not ${requested}`);
  }
  const algorithm = requested ?? fromJwk ?? impliedByKeyType(jwk);
  const spec = algorithmSpec(algorithm);
  if (jwk.kty !== spec.kty || (spec.crv !== undefined && jwk.crv !== spec.crv)) {
    throw new SignatureError(
      "algorithm_mismatch",
      `a ${jwk.kty ?? "typeless"}${jwk.crv ? `/${jwk.crv}` : ""} key cannot be used for ${algorithm}`,
    );
  }
  return algorithm;
}

function impliedByKeyType(jwk: Jwk): SignatureAlgorithm {
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "ed25519";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ecdsa-p256-sha256";
  if (jwk.kty === "EC" && jwk.crv === "P-384") return "ecdsa-p384-sha384";
  if (jwk.kty === "RSA" || jwk.kty === "oct") {
    throw new SignatureError(
      "unsupported_algorithm",
      `a ${jwk.kty} JWK without "alg" fits more than one algorithm; name the algorithm`,
    );
  }
  throw new SignatureError("unsupported_algorithm", `no RFC 9421 algorithm uses a ${jwk.kty}/${jwk.crv} key`);
}

/**
 * Imports a JWK for verification. Private members are ignored (only the public half is imported); HMAC keys are
 * secrets and stay secret. Weak keys are refused: RSA under 2048 bits, HMAC under 32 bytes, and Ed25519 keys that
 * are not canonically encoded or have small order (workerd's WebCrypto accepts the identity point with a trivial
 * signature for any message, so this check is what stands between a forged directory key and a valid signature).
 *
 * @throws {SignatureError} `invalid_key`, `weak_key`, `algorithm_mismatch` or `unsupported_algorithm`
 *
 * @example
 * ```ts
 * const key = await importVerificationKey(jwk, { algorithm: "ed25519" });
 * await key.verify(base, signature);
 * ```
 */
export async function importVerificationKey(jwk: Jwk, options: ImportKeyOptions = {}): Promise<VerificationKey> {
  const algorithm = algorithmForJwk(jwk, options.algorithm);
  checkKeyUse(jwk, "verify");
  const spec = algorithmSpec(algorithm);
  const material = spec.kty === "oct" ? { kty: jwk.kty, k: jwk.k } : publicMembers(jwk);
  const signatureLength = checkStrength(algorithm, jwk);
  const keyid = options.keyid ?? jwk.kid;
  if (algorithm === "ed25519") {
    const raw = decodeMember(jwk.x, "x");
    return ed25519VerificationKey(raw, material, keyid);
  }
  const cryptoKey = await importJwk(material, spec.importParams, ["verify"]);
  return {
    algorithm,
    type: spec.kty === "oct" ? "secret" : "public",
    keyid,
    signatureLength,
    verify: (data, signature) => crypto.subtle.verify(spec.signParams, cryptoKey, signature, data),
  };
}

/**
 * Imports a private JWK (or an HMAC secret) for signing.
 *
 * @throws {SignatureError} `invalid_key`, `weak_key`, `algorithm_mismatch` or `unsupported_algorithm`
 *
 * @example
 * ```ts
 * const key = await importSigningKey(privateJwk);
 * const signature = await key.sign(new TextEncoder().encode(base));
 * ```
 */
export async function importSigningKey(jwk: Jwk, options: ImportKeyOptions = {}): Promise<SigningKey> {
  const algorithm = algorithmForJwk(jwk, options.algorithm);
  checkKeyUse(jwk, "sign");
  const spec = algorithmSpec(algorithm);
  if (spec.kty === "oct" ? jwk.k === undefined : jwk.d === undefined) {
    throw new SignatureError("invalid_key", "a signing key needs its private part");
  }
  checkStrength(algorithm, jwk);
  if (algorithm === "ed25519") {
    checkEd25519PublicKey(decodeMember(jwk.x, "x"));
  }
  const { key_ops: _ops, use: _use, alg: _alg, ext: _ext, ...material } = jwk;
  const cryptoKey = await importJwk(material, spec.importParams, ["sign"]);
  return {
    algorithm,
    keyid: options.keyid ?? jwk.kid,
    sign: async (data) => new Uint8Array(await crypto.subtle.sign(spec.signParams, cryptoKey, data)),
  };
}

/** The members WebCrypto imports for verification: the public key without usage hints it might refuse. */
function publicMembers(jwk: Jwk): Jwk {
  const { key_ops: _ops, use: _use, alg: _alg, ext: _ext, ...material } = publicJwkOf(jwk);
  return material;
}

function checkKeyUse(jwk: Jwk, op: "sign" | "verify"): void {
  if (jwk.use !== undefined && jwk.use !== "sig") {
    throw new SignatureError("invalid_key", `the JWK is for use "${jwk.use}", not signatures`);
  }
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes(op)) {
    throw new SignatureError("invalid_key", `the JWK's key_ops do not allow "${op}"`);
  }
}

/** Refuses weak keys and returns the signature length the key produces. */
function checkStrength(algorithm: SignatureAlgorithm, jwk: Jwk): number {
  const spec = algorithmSpec(algorithm);
  if (spec.kty === "RSA") return rsaModulusBytes(jwk);
  if (spec.kty === "oct") {
    const k = decodeMember(jwk.k, "k");
    if (k.length < MIN_HMAC_BYTES) {
      throw new SignatureError("weak_key", `HMAC keys need at least ${MIN_HMAC_BYTES} bytes; this one has ${k.length}`);
    }
  }
  return spec.signatureLength as number;
}

/**
 * The length in bytes of an RSA JWK's modulus (its signature length), refusing keys under {@link MIN_RSA_BITS}.
 *
 * @throws {SignatureError} `invalid_key` or `weak_key`
 */
export function rsaModulusBytes(jwk: Jwk): number {
  const n = decodeMember(jwk.n, "n");
  let first = 0;
  while (first < n.length && n[first] === 0) first++;
  const bytes = n.length - first;
  const bits = bytes === 0 ? 0 : (bytes - 1) * 8 + (32 - Math.clz32(n[first] as number));
  if (bits < MIN_RSA_BITS) {
    throw new SignatureError("weak_key", `RSA keys need at least ${MIN_RSA_BITS} bits; this one has ${bits}`);
  }
  decodeMember(jwk.e, "e");
  return bytes;
}

/**
 * A base64url JWK member as bytes.
 *
 * @throws {SignatureError} `invalid_key` when it is missing or not base64url
 */
export function decodeMember(value: unknown, name: string): Uint8Array {
  if (typeof value !== "string") throw new SignatureError("invalid_key", `the JWK has no "${name}" member`);
  try {
    return decodeBase64Url(value);
  } catch (cause) {
    throw new SignatureError("invalid_key", `the JWK's "${name}" is not base64url`, { cause });
  }
}

async function importJwk(jwk: Jwk, params: ImportParams, usages: Array<"sign" | "verify">): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey("jwk", jwk as JsonWebKey, params, false, usages);
  } catch (cause) {
    throw new SignatureError("invalid_key", `the JWK could not be imported: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Refuses an Ed25519 public key that is not a canonical encoding of a curve point or whose point has small
 * order (RFC 8032 §5.1.3 decoding, without ZIP-215 leniency).
 *
 * @throws {SignatureError} `invalid_key` or `weak_key`
 *
 * @example
 * ```ts
 * checkEd25519PublicKey(new Uint8Array(32).fill(0, 0).fill(1, 0, 1)); // the identity point: throws weak_key
 * ```
 */
export function checkEd25519PublicKey(raw: Uint8Array): void {
  if (raw.length !== 32) throw new SignatureError("invalid_key", `an Ed25519 key is 32 bytes, not ${raw.length}`);
  let point: ed25519.Point;
  try {
    point = ed25519.Point.fromBytes(raw, false);
  } catch (cause) {
    throw new SignatureError("invalid_key", "the Ed25519 key is not a canonically encoded curve point", { cause });
  }
  if (point.isSmallOrder()) throw new SignatureError("weak_key", "the Ed25519 key has small order");
}

async function ed25519VerificationKey(raw: Uint8Array, jwk: Jwk, keyid: string | undefined): Promise<VerificationKey> {
  checkEd25519PublicKey(raw);
  let verify: VerificationKey["verify"];
  try {
    const cryptoKey = await crypto.subtle.importKey("jwk", jwk as JsonWebKey, { name: "Ed25519" }, false, ["verify"]);
    verify = (data, signature) => crypto.subtle.verify({ name: "Ed25519" }, cryptoKey, signature, data);
  } catch (cause) {
    if ((cause as Error).name !== "NotSupportedError") {
      throw new SignatureError("invalid_key", `the JWK could not be imported: ${(cause as Error).message}`, { cause });
    }
    // A runtime whose WebCrypto lacks Ed25519: strict RFC 8032 verification in JavaScript.
    verify = (data, signature) => ed25519.verifyAsync(signature, data, raw, { zip215: false });
  }
  return { algorithm: "ed25519", type: "public", keyid, signatureLength: 64, verify };
}
