/**
 * Asking the replay store whether a verified signature is being used for the first time.
 *
 * @module
 */
import { type ReplayIdentity, replayKey, shardName } from "./replay-key.ts";

/** The part of a Durable Object namespace the check needs (the `REPLAY_STORE` binding satisfies it). */
export interface ReplayStoreNamespace {
  getByName(name: string): { claim(id: string, expiresAt: number, now: number): Promise<boolean> };
}

/** A verified signature, as the replay check sees it. */
export interface ReplayCandidate extends ReplayIdentity {
  /** The last second the signature can be accepted (see `lastAcceptableSecond`): the record outlives it. */
  readonly lastAcceptable: number;
}

/** How to judge replays. */
export interface ReplayOptions {
  /** The number of shards. */
  readonly shards: number;
  /** While the shard count changes: the previous count, whose shards are claimed in too (see the README). */
  readonly previousShards?: number | undefined;
  /** Unix seconds: the same clock the signature was verified on. */
  readonly now: number;
  /** Give up on the store after this many milliseconds (the store is then `unavailable`). Default 2000. */
  readonly timeoutMs?: number | undefined;
}

/** `first-use`: accept; `replayed`: refuse; `unavailable`: the store could not answer. */
export type ReplayVerdict = "first-use" | "replayed" | "unavailable";

/**
 * Claims a signature in the replay store: atomically records it and says whether it was new. A signature with
 * a nonce is keyed on (keyid, nonce), one without on (keyid, signature base) (see {@link replayKey}). The record
 * is kept until `lastAcceptable + 1`, strictly beyond the last second the signature can be accepted. Never
 * throws: a store that fails or does not answer in time gives `unavailable`, and the caller decides (fail closed
 * by default).
 *
 * @example
 * ```ts
 * const verdict = await claimSignature(env.REPLAY_STORE, candidate, { shards: 64, now });
 * if (verdict === "replayed") return refuse("signature_replayed");
 * ```
 */
export async function claimSignature(
  store: ReplayStoreNamespace,
  candidate: ReplayCandidate,
  options: ReplayOptions,
): Promise<ReplayVerdict> {
  const { id, digest } = await replayKey(candidate);
  const until = candidate.lastAcceptable + 1;
  const counts = options.previousShards === undefined ? [options.shards] : [options.shards, options.previousShards];
  const timeoutMs = options.timeoutMs ?? 2000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const answers = await Promise.race([
      Promise.all(counts.map((n) => store.getByName(shardName(digest, n)).claim(id, until, options.now))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("replay store timeout")), timeoutMs);
      }),
    ]);
    return answers.every((claimed) => claimed === true) ? "first-use" : "replayed";
  } catch {
    return "unavailable";
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
