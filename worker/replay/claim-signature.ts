/**
 * Asking the replay store whether a verified signature is being used for the first time.
 *
 * @module
 */
import type { ClaimContext, ReplayClaimStore, ReplayVerdict } from "./claim-store.ts";
import { type ReplayIdentity, replayKey } from "./replay-key.ts";

/** A verified signature, as the replay check sees it. */
export interface ReplayCandidate extends ReplayIdentity {
  /** The last second the signature can be accepted (see `lastAcceptableSecond`): the record outlives it. */
  readonly lastAcceptable: number;
}

/**
 * Claims a signature in the replay store: atomically records it and says whether it was new. A signature with
 * a nonce is keyed on (keyid, nonce), one without on (keyid, signature base) (see {@link replayKey}). The record
 * is kept until `lastAcceptable + 1`, strictly beyond the last second the signature can be accepted. Never
 * throws: a store that fails gives `unavailable` (each store bounds its own wait), and the caller decides (fail
 * closed by default).
 *
 * @param now Unix seconds: the same clock the signature was verified on
 * @param context what the store may use of the request (its `waitUntil`)
 *
 * @example
 * ```ts
 * const verdict = await claimSignature(store, candidate, now);
 * if (verdict === "replayed") return refuse("signature_replayed");
 * ```
 */
export async function claimSignature(
  store: ReplayClaimStore,
  candidate: ReplayCandidate,
  now: number,
  context?: ClaimContext,
): Promise<ReplayVerdict> {
  try {
    const { id, digest } = await replayKey(candidate);
    const [verdict] = await store.claim([{ id, digest, expiresAt: candidate.lastAcceptable + 1 }], now, context);
    return verdict === "first-use" || verdict === "replayed" ? verdict : "unavailable";
  } catch {
    return "unavailable";
  }
}
