/**
 * Asking the replay store whether a verified signature is being used for the first time.
 *
 * @module
 */
import { replayKey, shardName } from "./replay-key.ts";

/** The part of a Durable Object namespace the check needs (the `REPLAY_STORE` binding satisfies it). */
export interface ReplayStoreNamespace {
  getByName(name: string): { claim(id: string, expiresAt: number, now: number): Promise<boolean> };
}

/** A verified signature, as the replay check sees it. */
export interface ReplayCandidate {
  readonly keyid: string | undefined;
  readonly nonce: string | undefined;
  readonly signature: Uint8Array;
  readonly created: number | undefined;
  readonly expires: number | undefined;
}

/** How to judge replays. */
export interface ReplayOptions {
  /** The number of shards. */
  readonly shards: number;
  /** While the shard count changes: the previous count, whose shards are claimed in too (see the README). */
  readonly previousShards?: number | undefined;
  /** Seconds a record outlives the signature's end, for clock skew. */
  readonly clockSkew: number;
  /** The policy's largest signature age: a record need not outlive `created + maxAge`. */
  readonly maxAge?: number | undefined;
  /** For signatures without `expires` (AAuth): how long after `created` they verify. */
  readonly window?: number | undefined;
  /** Unix seconds. */
  readonly now: number;
  /** Give up on the store after this many milliseconds (the store is then `unavailable`). Default 2000. */
  readonly timeoutMs?: number | undefined;
}

/** `first-use`: accept; `replayed`: refuse; `unavailable`: the store could not answer. */
export type ReplayVerdict = "first-use" | "replayed" | "unavailable";

/**
 * Claims a signature in the replay store: atomically records it and says whether it was new. A signature with
 * a nonce is keyed on (keyid, nonce), one without on its bytes. Never throws: a store that fails or does not
 * answer in time gives `unavailable`, and the caller decides (fail closed by default).
 *
 * @example
 * ```ts
 * const verdict = await claimSignature(env.REPLAY_STORE, candidate, { shards: 64, clockSkew: 60, now });
 * if (verdict === "replayed") return refuse("signature_replayed");
 * ```
 */
export async function claimSignature(
  store: ReplayStoreNamespace,
  candidate: ReplayCandidate,
  options: ReplayOptions,
): Promise<ReplayVerdict> {
  const { id, digest } = await replayKey(candidate);
  const until = lastValidSecond(candidate, options) + options.clockSkew;
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

/** The last second the signature can verify: its `expires`, bounded by `created + maxAge` (or + window). */
function lastValidSecond(candidate: ReplayCandidate, options: ReplayOptions): number {
  const bounds: number[] = [];
  if (candidate.expires !== undefined) bounds.push(candidate.expires);
  if (candidate.created !== undefined && options.maxAge !== undefined) bounds.push(candidate.created + options.maxAge);
  if (candidate.created !== undefined && options.window !== undefined) bounds.push(candidate.created + options.window);
  return bounds.length === 0 ? options.now : Math.min(...bounds);
}
