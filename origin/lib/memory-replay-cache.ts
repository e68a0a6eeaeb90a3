/**
 * The replay cache every origin helper uses unless given a shared one: in memory, bounded, each nonce kept for
 * the attestation's lifetime.
 *
 * @module
 */

/**
 * Where attestation nonces are remembered, so that each attestation is accepted once. The origin helpers keep
 * one in memory by default ({@link createMemoryReplayCache}); pass a shared one (a database or a cache with an
 * atomic "set if absent") when the origin runs as several processes, since an in-memory cache protects one
 * process only.
 *
 * @example
 * ```ts
 * // Redis: SET key value NX EXAT expiresAt answers "OK" only for the first caller.
 * const replayCache: ReplayCache = {
 *   async claim(nonce, expiresAt) {
 *     return (await redis.set(`signet:${nonce}`, "1", { NX: true, EXAT: Math.ceil(expiresAt) })) === "OK";
 *   },
 * };
 * ```
 */
export interface ReplayCache {
  /**
   * Records a nonce atomically. Returns `true` when it is new, `false` when it was already recorded (a replay);
   * anything but `true` counts as a replay. The nonce must be kept until `expiresAt` (Unix seconds): from then
   * on the verifier refuses the attestation as expired or too old anyway.
   */
  claim(nonce: string, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * The default number of live nonces an in-memory replay cache holds (about 1,800 attested requests a second
 * at Signet's default 30 s validity and 5 s skew).
 *
 * @example
 * ```ts
 * const replayCache = createMemoryReplayCache(DEFAULT_REPLAY_CACHE_SIZE * 4); // a busier origin
 * ```
 */
export const DEFAULT_REPLAY_CACHE_SIZE = 65_536;

/**
 * Creates the in-memory replay cache. It holds at most `size` nonces that have not yet expired; when it is full
 * of live nonces it answers `false` (refusing the request, fail closed) rather than forget one early.
 *
 * @param size the most live nonces held; default {@link DEFAULT_REPLAY_CACHE_SIZE}
 * @param now the clock in Unix seconds; default the system clock
 * @throws {TypeError} for a size that is not a positive whole number
 *
 * @example
 * ```ts
 * const replayCache = createMemoryReplayCache(10_000);
 * await replayCache.claim("nonce-1", Date.now() / 1000 + 35); // true
 * await replayCache.claim("nonce-1", Date.now() / 1000 + 35); // false: a replay
 * ```
 */
export function createMemoryReplayCache(
  size: number = DEFAULT_REPLAY_CACHE_SIZE,
  now: () => number = () => Date.now() / 1000,
): ReplayCache & { readonly size: () => number } {
  if (!Number.isSafeInteger(size) || size < 1) throw new TypeError("replay cache size must be a whole number >= 1");
  // Insertion order is roughly expiry order, so expired nonces are dropped from the front.
  const nonces = new Map<string, number>();
  const dropExpired = (at: number, everywhere: boolean) => {
    for (const [nonce, until] of nonces) {
      if (until < at) nonces.delete(nonce);
      else if (!everywhere) break;
    }
  };
  return {
    size: () => nonces.size,
    claim(nonce, expiresAt) {
      const at = now();
      dropExpired(at, false);
      const until = nonces.get(nonce);
      if (until !== undefined && until >= at) return false;
      if (nonces.size >= size) dropExpired(at, true);
      if (nonces.size >= size) return false;
      nonces.delete(nonce);
      nonces.set(nonce, expiresAt);
      return true;
    },
  };
}
