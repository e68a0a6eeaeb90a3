/**
 * The one error type of the RFC 9421 core, with a stable machine-readable `code`.
 *
 * @module
 */

/**
 * Every way the RFC 9421 core can refuse an input. The strings are stable: callers switch on them,
 * the edge Worker turns them into problem types, and tests trigger each one.
 */
export const SIGNATURE_ERROR_CODES = [
  // Structured fields: Signature-Input, Signature, Accept-Signature, Content-Digest (RFC 9421 §4, RFC 8941)
  "malformed_signature_input",
  "malformed_signature",
  "malformed_accept_signature",
  "malformed_content_digest",
  "duplicate_label",
  "duplicate_parameter",
  "unsupported_structured_type",
  "label_mismatch",
  "missing_signature_input",
  "too_many_members",
  // Covered components (RFC 9421 §2, §2.5)
  "invalid_component",
  "duplicate_component",
  "unknown_component",
  "unknown_component_parameter",
  "incompatible_component_parameters",
  "component_not_applicable",
  "missing_field",
  "missing_trailer",
  "missing_dictionary_member",
  "invalid_structured_field",
  "missing_query_param",
  "repeated_query_param",
  "request_target_unavailable",
  "invalid_target_uri",
  "non_ascii_base",
  // Signature parameters (RFC 9421 §2.3)
  "invalid_signature_parameter",
  // Verification policy (RFC 9421 §3.2, §3.2.1)
  "no_signature",
  "label_not_found",
  "missing_required_component",
  "missing_required_parameter",
  "tag_mismatch",
  "signature_expired",
  "created_in_future",
  "signature_too_old",
  "validity_too_long",
  "invalid_validity",
  // Keys and algorithms (RFC 9421 §3.3, §7.3)
  "unknown_key",
  "invalid_key",
  "weak_key",
  "unsupported_algorithm",
  "algorithm_not_allowed",
  "algorithm_mismatch",
  "invalid_signature_length",
  "invalid_signature",
  // Content-Digest (RFC 9530)
  "content_digest_mismatch",
  "unsupported_digest_algorithm",
  "missing_body",
  // Signing
  "invalid_signing_input",
  // Raw HTTP/1.1 text (tests, `signet explain`)
  "malformed_http_message",
] as const;

/** A stable reason code carried by every {@link SignatureError}. */
export type SignatureErrorCode = (typeof SIGNATURE_ERROR_CODES)[number];

/**
 * The error every operation of the core throws for bad input, bad keys or a failed check.
 *
 * @example
 * ```ts
 * try {
 *   await verifyMessage(message, options);
 * } catch (err) {
 *   if (err instanceof SignatureError && err.code === "signature_expired") retryWithFreshSignature();
 *   else throw err;
 * }
 * ```
 */
export class SignatureError extends Error {
  /** The stable reason code. */
  readonly code: SignatureErrorCode;
  /** The signature label the error concerns, when there is one. */
  readonly label: string | undefined;

  constructor(code: SignatureErrorCode, message: string, options?: { cause?: unknown; label?: string | undefined }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SignatureError";
    this.code = code;
    this.label = options?.label;
  }

  /** A copy of this error attributed to a signature label. */
  withLabel(label: string): SignatureError {
    if (this.label === label) return this;
    return new SignatureError(this.code, this.message, { cause: this.cause, label });
  }
}

/**
 * Whether a value is a {@link SignatureError}, optionally with a given code.
 *
 * @example
 * ```ts
 * if (isSignatureError(err, "unknown_key")) refreshKeys();
 * ```
 */
export function isSignatureError(value: unknown, code?: SignatureErrorCode): value is SignatureError {
  return value instanceof SignatureError && (code === undefined || value.code === code);
}
