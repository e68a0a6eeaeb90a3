/**
 * Why an origin refuses a request as not attested by Signet: stable reason codes with their RFC 9457 titles
 * and problem types.
 *
 * @module
 */

/**
 * Every reason {@link verifySignetRequest} gives, with a title for problem responses.
 *
 * @example
 * ```ts
 * SIGNET_FAILURE_REASONS.attestation_replayed.title; // "The Signet attestation was already used"
 * ```
 */
export const SIGNET_FAILURE_REASONS = Object.freeze({
  /** No `signet-attestation` signature: the request did not come through Signet. */
  attestation_missing: { title: "The request was not attested by Signet" },
  /**
   * A `signet-attestation` signature is there and does not hold: bad signature, a key that is not Signet's,
   * required components or parameters missing, `Verified-Agent` present but not covered, unreadable fields.
   */
  attestation_invalid: { title: "The Signet attestation is not valid" },
  /** The attestation has expired, is older than `maxAge`, or was created in the future. */
  attestation_expired: { title: "The Signet attestation has expired" },
  /** The attestation's nonce was seen before (or the in-memory replay cache is full of live nonces). */
  attestation_replayed: { title: "The Signet attestation was already used" },
  /**
   * The request's `Host` (or `:authority`) is not a valid authority (host and optional port only), appears more
   * than once, or disagrees with an absolute-form target or the request URL; or the target is not plain path
   * and query; or the request carries a method or path override header (`X-HTTP-Method-Override`,
   * `X-Original-URL`, ...), which Signet never forwards. Nothing is verified: the helper cannot say which request
   * the application would act on.
   */
  target_invalid: { title: "The request target is not one an attestation can be checked against" },
  /** The attestation binds the body by `content-digest`, and the body is larger than `maxBodyBytes`. */
  body_too_large: { title: "The request body is too large to check against the Signet attestation" },
  /** The attestation verified, and the `Verified-Agent` it covers cannot be parsed. */
  identity_malformed: { title: "The Verified-Agent header cannot be parsed" },
} as const);

/**
 * A stable reason code of {@link SIGNET_FAILURE_REASONS}.
 *
 * @example
 * ```ts
 * const retryable = (reason: SignetFailureReason) => reason === "attestation_expired";
 * ```
 */
export type SignetFailureReason = keyof typeof SIGNET_FAILURE_REASONS;

/**
 * The reasons of the Hono middleware's problem responses: {@link SignetFailureReason} or `agent_required` (no
 * verified agent, or one below the level the origin asks for).
 *
 * @example
 * ```ts
 * const { reason } = (await response.json()) as { reason: SignetOriginReason };
 * ```
 */
export type SignetOriginReason = SignetFailureReason | "agent_required";

/**
 * Every reason code of {@link SIGNET_FAILURE_REASONS}, for iteration.
 *
 * @example
 * ```ts
 * for (const reason of SIGNET_FAILURE_REASON_CODES) metrics.counter(`origin.refused.${reason}`);
 * ```
 */
export const SIGNET_FAILURE_REASON_CODES = Object.freeze(Object.keys(SIGNET_FAILURE_REASONS) as SignetFailureReason[]);

/**
 * The RFC 9457 problem type URI of a reason, in the same `urn:signet:problem:` namespace as the gateway's own.
 *
 * @example
 * ```ts
 * signetProblemType("attestation_missing"); // "urn:signet:problem:attestation_missing"
 * ```
 */
export function signetProblemType(reason: SignetOriginReason): string {
  return `urn:signet:problem:${reason}`;
}
