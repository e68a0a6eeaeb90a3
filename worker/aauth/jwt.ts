/**
 * Compact JWTs in `Signature-Key` (`jwt`, `jkt-jwt`): decoding without trust, then verifying with a key the
 * verifier resolved itself, with `jose`. `exp` is required and judged with no clock tolerance (AA-11); a future
 * `iat` beyond the window is `clock_skew` (SK-09).
 *
 * @module
 */
import { decodeJwt, decodeProtectedHeader, errors, importJWK, type JWTPayload, jwtVerify } from "jose";
import type { Jwk } from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";

/**
 * A JWT's protected header and claims, decoded but not yet trusted.
 *
 * @example
 * ```ts
 * const decoded = decodeUntrustedJwt(token);
 * if (decoded.ok) decoded.header.typ; // "aa-agent+jwt"
 * ```
 */
export interface DecodedJwt {
  readonly ok: true;
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Longest JWT accepted, in characters (a `Signature-Key` field is a request header). */
export const MAX_JWT_LENGTH = 16_384;

/**
 * Decodes a compact JWS JWT without verifying it; anything malformed is `invalid_jwt`.
 *
 * @example
 * ```ts
 * decodeUntrustedJwt("not.a.jwt"); // { ok: false, code: "invalid_jwt", … }
 * ```
 */
export function decodeUntrustedJwt(jwt: string): DecodedJwt | AAuthFailure {
  if (jwt.length > MAX_JWT_LENGTH) return fail("invalid_jwt", `the JWT is longer than ${MAX_JWT_LENGTH} characters`);
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jwt)) {
    return fail("invalid_jwt", "the JWT is not a compact JWS of three base64url parts");
  }
  try {
    const header = decodeProtectedHeader(jwt) as Record<string, unknown>;
    const payload = decodeJwt(jwt) as Record<string, unknown>;
    return { ok: true, header, payload };
  } catch (error) {
    return fail("invalid_jwt", `the JWT cannot be decoded: ${(error as Error).message}`);
  }
}

/**
 * Options of {@link verifyJwt}.
 *
 * @example
 * ```ts
 * const options: VerifyJwtOptions = { now: 1732210000, typ: "aa-agent+jwt", iatWindow: 60 };
 * ```
 */
export interface VerifyJwtOptions {
  /** The current time, Unix seconds. */
  readonly now: number;
  /** The required `typ` header value, compared exactly. */
  readonly typ: string;
  /** How far `iat` may be ahead of `now`, in seconds, before `clock_skew`. */
  readonly iatWindow: number;
}

/**
 * Verifies a JWT's signature with `jwk` (whose `alg` must equal the header's `alg`) and its time claims: `exp`
 * REQUIRED and in the future with no tolerance (`expired_jwt`), `nbf` not in the future, `iat` (when present) a
 * number not more than `iatWindow` ahead (`clock_skew`). The key must already have passed `importAAuthJwk`.
 *
 * @example
 * ```ts
 * const checked = await verifyJwt(token, issuerJwk, { now, typ: "aa-agent+jwt", iatWindow: 60 });
 * if (checked.ok) checked.payload.sub;
 * ```
 */
export async function verifyJwt(
  jwt: string,
  jwk: Jwk,
  options: VerifyJwtOptions,
): Promise<{ readonly ok: true; readonly payload: JWTPayload } | AAuthFailure> {
  const alg = jwk.alg as string;
  let payload: JWTPayload;
  try {
    const { kid: _kid, use: _use, key_ops: _ops, ...material } = jwk;
    const key = await importJWK({ ...material, alg } as Parameters<typeof importJWK>[0], alg);
    ({ payload } = await jwtVerify(jwt, key, {
      algorithms: [alg],
      typ: options.typ,
      requiredClaims: ["exp"],
      clockTolerance: 0,
      currentDate: new Date(options.now * 1000),
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) return fail("expired_jwt", "the JWT has expired");
    if (error instanceof errors.JOSEAlgNotAllowed) {
      return fail("invalid_jwt", `the JWT header "alg" is not the key's algorithm ${alg}`);
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return fail("invalid_jwt", "the JWT signature does not verify");
    }
    return fail("invalid_jwt", `the JWT is not valid: ${(error as Error).message}`);
  }
  if (typeof payload.iat === "number" && payload.iat > options.now + options.iatWindow) {
    return fail("clock_skew", `the JWT was issued ${payload.iat - options.now} s ahead of this verifier's clock`);
  }
  return { ok: true, payload };
}
