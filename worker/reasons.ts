/**
 * Why Signet refuses a request: stable reason codes, each with its HTTP status and problem type.
 *
 * @module
 */

/** Every reason Signet gives for refusing (or, in monitor mode, for what it would have refused). */
export const REJECTION_REASONS = {
  /**
   * `Signature-Input` or `Signature` cannot be parsed as a whole (RFC 9421 §3.2 steps 1-3), their labels differ, or
   * one has more than 64 members (`signature_error: too_many_members`).
   */
  malformed_signature_fields: { status: 400, title: "The signature fields cannot be parsed" },
  /**
   * The request path has no single meaning: no canonical form (an escaped slash, a bad escape, a control
   * character, double encoding), or its readings under letter case and `;` parameters fall under different rules.
   */
  path_ambiguous: { status: 400, title: "The request path is ambiguous" },
  /**
   * The request carries a header that makes origins act on another method, path or host than the request line
   * (`X-HTTP-Method-Override`, `X-Original-URL`, `X-Forwarded-Host`, `Forwarded`, ...; see
   * `worker/retargeting-headers.ts`): Signet matches rules on and attests the request line only.
   */
  target_override: { status: 400, title: "The request carries a header that would change its target at the origin" },
  /** `Signature-Agent` cannot be parsed. */
  malformed_signature_agent: { status: 400, title: "The Signature-Agent field cannot be parsed" },
  /** The route needs a signature and the request carries none. */
  signature_required: { status: 401, title: "This resource requires a signed request" },
  /** No signature verified; `signature_error` gives the RFC 9421 code for the first one. */
  signature_invalid: { status: 401, title: "The request signature is not valid" },
  /** The signature is expired, older than `freshness.maxAge`, or past its last acceptable second. */
  signature_expired: { status: 401, title: "The request signature has expired" },
  /** The signature's `created` lies further in the future than the allowed clock skew. */
  signature_from_future: { status: 401, title: "The request signature was created in the future" },
  /** The signer's keys could not be had, so the signature could not be judged (`discovery_error` says why). */
  agent_unverified: { status: 401, title: "The signing agent's keys could not be verified" },
  /** The signature was already used (same keyid and nonce, or the same key and signature base) while still valid. */
  signature_replayed: { status: 401, title: "The request signature was already used" },
  /**
   * A signature verified, but none covers what the route needs of the signature used for identity (the rule's
   * `cover`, or on unsafe methods `@method`, `@path` or `@target-uri`, and `content-digest` with a body).
   */
  insufficient_coverage: { status: 401, title: "The signature does not cover what this request needs" },
  /** A bearer credential was presented without a verified signature by an identified agent that covers it. */
  bearer_without_proof: { status: 401, title: "A bearer credential needs a signature that covers it" },
  /** The agent verified, and the route allows only listed agents. */
  agent_not_allowed: { status: 403, title: "This agent is not allowed here" },
  /** The AAuth auth token verified but does not grant the scopes the route needs. */
  insufficient_scope: { status: 403, title: "The auth token does not grant the scope this resource needs" },
  /** The agent verified and is on a deny list. */
  agent_denied: { status: 403, title: "This agent is denied" },
  /**
   * An identity was verified and cannot be attached to the forwarded request as a `Verified-Agent` that reads
   * back as itself (text that is not well-formed Unicode, say): refused rather than forwarded anonymous. Never
   * sent on anonymous requests.
   */
  identity_unattachable: { status: 400, title: "The verified identity cannot be passed on to the origin" },
  /** The request body failed while Signet read it to bind it to the attestation (the client stopped sending). */
  body_unreadable: { status: 400, title: "The request body could not be read" },
  /** The replay store could not be reached, and the route fails closed. */
  replay_store_unavailable: { status: 503, title: "Replay protection is unavailable" },
  /** Signet's own configuration is unusable; it refuses everything rather than guess. */
  misconfigured: { status: 503, title: "The gateway is misconfigured" },
  /** The origin could not be reached. */
  origin_unreachable: { status: 502, title: "The origin could not be reached" },
  /** The site-owner console: no valid session, bearer secret or (where required) Cloudflare Access token. */
  console_unauthorized: { status: 401, title: "The console needs the console secret" },
  /** The console path is reserved, and the console is not enabled (no `SIGNET_CONSOLE_SECRET`). */
  console_disabled: { status: 404, title: "The console is not enabled" },
  /** No such console page or method. */
  console_not_found: { status: 404, title: "No such console page" },
  /** The check endpoint's path is reserved, and the policy does not enable it (`check.enabled`). */
  check_disabled: { status: 404, title: "The check endpoint is not enabled" },
  /** This client sent more checks this minute than `check.ratePerMinute` (or the isolate's client table is full). */
  check_rate_limited: { status: 429, title: "Too many checks; try again in a minute" },
  /** A check without a usable `Signet-Check-Target` (the origin-form path and query the request was signed for). */
  check_target_invalid: { status: 400, title: "The check needs the signed target in Signet-Check-Target" },
} as const satisfies Record<string, { status: number; title: string }>;

/** A stable reason code. */
export type RejectionReason = keyof typeof REJECTION_REASONS;

/** Every reason code, for iteration (tests, docs). */
export const REJECTION_REASON_CODES = Object.keys(REJECTION_REASONS) as RejectionReason[];

/**
 * The RFC 9457 problem type URI of a reason.
 *
 * @example
 * ```ts
 * problemType("signature_expired"); // "urn:signet:problem:signature_expired"
 * ```
 */
export function problemType(reason: RejectionReason): string {
  return `urn:signet:problem:${reason}`;
}
