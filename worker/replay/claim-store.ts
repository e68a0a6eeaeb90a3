/**
 * The replay store interface: where the replay check claims signatures. Two implementations ship: the Durable
 * Object store (`durable-object-store.ts`, global) and the in-memory store (`process-local-store.ts`, one process
 * only).
 *
 * @module
 */

/** One replay record to claim. */
export interface ReplayClaim {
  /** The replay key (see `replayKey`): base64url of a SHA-256 digest. */
  readonly id: string;
  /** The raw digest behind `id` (a sharded store places the record by it). */
  readonly digest: Uint8Array;
  /** Unix seconds: the record is live while the verifier's clock is below it, and may go from then on. */
  readonly expiresAt: number;
}

/** `first-use`: accept; `replayed`: refuse; `unavailable`: the store could not answer for this claim. */
export type ReplayVerdict = "first-use" | "replayed" | "unavailable";

/** What a claim may use of the request it is made for. */
export interface ClaimContext {
  /**
   * The request's `waitUntil` (Workers' `ExecutionContext.waitUntil`): a store that sends one call for several
   * requests' claims keeps the sending request alive with it until the call is answered and handed on, even if
   * that request's client goes away.
   */
  readonly waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
}

/**
 * A replay store. `claim` atomically records each claim that has no live record and answers, in order, one
 * verdict per claim: among any number of claims of one `id` while its record lives, exactly one is `first-use`.
 * It may reject (the caller then treats every claim as `unavailable`).
 *
 * @example
 * ```ts
 * const [verdict] = await store.claim([{ id, digest, expiresAt: lastAcceptable + 1 }], now);
 * if (verdict === "replayed") return refuse("signature_replayed");
 * ```
 */
export interface ReplayClaimStore {
  /**
   * Claims each record, judging liveness at `now` (Unix seconds, the verifier's clock).
   *
   * @param context what the store may use of the request (optional)
   * @returns one verdict per claim, in the order given
   */
  claim(claims: readonly ReplayClaim[], now: number, context?: ClaimContext): Promise<readonly ReplayVerdict[]>;
}

/**
 * Whether a value is a {@link ReplayClaimStore} (it has a `claim` function).
 *
 * @example
 * ```ts
 * if (!isReplayClaimStore(options.replayStore)) throw new TypeError("replayStore must be a ReplayClaimStore");
 * ```
 */
export function isReplayClaimStore(value: unknown): value is ReplayClaimStore {
  return typeof (value as { claim?: unknown } | null | undefined)?.claim === "function";
}
