/**
 * The `Signature-Error` codes of HTTP Signature Keys (draft-hardt-httpbis-signature-key-09 §5.4), which AAuth
 * (draft-hardt-oauth-aauth-protocol-11) answers with on every signature failure, and the failure value every
 * AAuth module returns instead of throwing.
 *
 * @module
 */

/**
 * Every `Signature-Error` `error` value of SK-09, in the draft's order. `cache_miss` and `revoked_jwt` are listed
 * for completeness: Signet implements neither the `cached` scheme nor revocation, so it never produces them.
 *
 * @example
 * ```ts
 * SK_ERROR_CODES.includes("clock_skew"); // true
 * ```
 */
export const SK_ERROR_CODES = [
  "unsupported_algorithm",
  "unsupported_scheme",
  "cache_miss",
  "invalid_signature",
  "invalid_input",
  "invalid_request",
  "invalid_key",
  "unknown_key",
  "issuer_missing",
  "issuer_mismatch",
  "invalid_jwt",
  "expired_jwt",
  "revoked_jwt",
  "clock_skew",
] as const;

/**
 * One of {@link SK_ERROR_CODES}.
 *
 * @example
 * ```ts
 * const code: SkErrorCode = "issuer_mismatch";
 * ```
 */
export type SkErrorCode = (typeof SK_ERROR_CODES)[number];

/**
 * Why a step of AAuth verification refused its input. `outcome` says whether the signature was judged invalid or
 * could not be judged at all (a metadata or JWKS fetch failed): `unverified`.
 *
 * @example
 * ```ts
 * const failure: AAuthFailure = { ok: false, code: "invalid_input", message: "…", requiredInput: ["@path"] };
 * ```
 */
export interface AAuthFailure {
  readonly ok: false;
  readonly code: SkErrorCode;
  readonly message: string;
  /** `invalid` (default) or `unverified` (the key could not be obtained: network, egress refusal). */
  readonly outcome?: "invalid" | "unverified" | undefined;
  /** For `invalid_input`: the components the signature must cover and does not. */
  readonly requiredInput?: readonly string[] | undefined;
  /** The key discovery code behind the failure, when fetching was the cause (`directory_unreachable`, …). */
  readonly discoveryCode?: string | undefined;
}

/**
 * Builds an {@link AAuthFailure}.
 *
 * @example
 * ```ts
 * return fail("invalid_key", 'the hwk key must not carry "kid"');
 * ```
 */
export function fail(code: SkErrorCode, message: string, extra: Partial<Omit<AAuthFailure, "ok">> = {}): AAuthFailure {
  return { ...extra, ok: false, code, message };
}

/**
 * Whether a string is one of {@link SK_ERROR_CODES}.
 *
 * @example
 * ```ts
 * isSkErrorCode("invalid_jwt"); // true
 * ```
 */
export function isSkErrorCode(value: unknown): value is SkErrorCode {
  return typeof value === "string" && (SK_ERROR_CODES as readonly string[]).includes(value);
}
