/**
 * The contract between the verification pipeline and key discovery: given a resolved agent reference and a
 * `keyid`, find the verification key, or say precisely why there is none.
 *
 * @module
 */
import type { VerificationKey } from "../rfc9421/index.ts";
import type { RequestBudget } from "./request-budget.ts";

/** Where an agent's keys live, resolved from its `Signature-Agent` member (or from pinned configuration). */
export interface AgentReference {
  /**
   * The URL the keys are fetched from, which is also the agent's identity: the directory's well-known URL for an
   * origin member, or the JWK Set URL itself. Query and fragment are never part of it.
   */
  readonly keySetUrl: string;
  /** `directory` (at `/.well-known/http-message-signatures-directory`: `kid` must equal the thumbprint) or `jwks`. */
  readonly kind: "directory" | "jwks";
  /** The member value as the signer sent it, for messages. */
  readonly declared: string;
}

/** Why discovery could not produce a key. Each is an `unverified` outcome: the signature cannot be judged. */
export const DISCOVERY_ERROR_CODES = [
  /** The key set URL is not one Signet may fetch (not https, userinfo, IP literal, localhost, custom port). */
  "egress_refused",
  /** The fetch failed: timeout, connection refused or reset, DNS, TLS. */
  "directory_unreachable",
  /** The response was not a usable key set: not 200, a redirect, wrong media type, too large, not JSON. */
  "directory_rejected",
  /** The key set parsed but broke the rules: private members, too many keys, a kid that is not the thumbprint. */
  "directory_invalid",
  /** The directory's own response signatures were required and missing or invalid. */
  "directory_signature_invalid",
  /** The key set holds no usable key with that keyid (after at most one refetch per cooldown). */
  "key_not_found",
  /** The key is one of the published RFC 9421 test keys and policy does not allow them. */
  "test_key_refused",
  /** The request names more agents than `discovery.maxAgentsPerRequest`; keys were looked up for the first ones. */
  "agent_limit",
  /** The request carries more signatures than `budget.maxLabels`; this one was not judged. */
  "label_limit",
  /** The request already started `budget.maxFetches` key set and metadata fetches; this key needed another. */
  "fetch_limit",
  /** The request's key work passed `budget.deadlineMs` before this key could be fetched. */
  "deadline_exceeded",
] as const;

/** One of {@link DISCOVERY_ERROR_CODES}. */
export type DiscoveryErrorCode = (typeof DISCOVERY_ERROR_CODES)[number];

/** The answer of a {@link KeySource}. */
export type KeyLookup =
  | { readonly ok: true; readonly key: VerificationKey; readonly agent: AgentReference; readonly pinned: boolean }
  | { readonly ok: false; readonly code: DiscoveryErrorCode; readonly message: string };

/** Finds verification keys by (key set URL, keyid), never by keyid alone. */
export interface KeySource {
  /**
   * @param budget the request's budget (fetch cap, deadline, coalescing scope); without it the call gets a
   *   scope of its own and no limits beyond the source's.
   */
  findKey(agent: AgentReference, keyid: string, budget?: RequestBudget): Promise<KeyLookup>;
}
