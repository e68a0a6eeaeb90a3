/**
 * An in-memory replay store for one process: for a Hono app on Node or Bun that runs as a single process. It is
 * not global: two processes (or two Workers isolates) each keep their own records, so a copy sent to the other
 * one is accepted there. Anything served by more than one process needs the Durable Object store.
 *
 * @module
 */
import type { ReplayClaim, ReplayClaimStore, ReplayVerdict } from "./claim-store.ts";

/** Options of {@link createProcessLocalReplayStore}. */
export interface ProcessLocalReplayStoreOptions {
  /**
   * The most live records held (default 100,000). When it is full, expired records are swept; if none has
   * expired, new claims are `unavailable` (the replay check then fails closed): a live record is never evicted,
   * since evicting one would let its signature be replayed.
   */
  readonly maxRecords?: number | undefined;
}

/** A {@link ReplayClaimStore} held in this process's memory, with how many records it holds. */
export interface ProcessLocalReplayStore extends ReplayClaimStore {
  /** Records held, live or awaiting their sweep (for operators and tests). */
  readonly size: number;
}

const DEFAULT_MAX_RECORDS = 100_000;

/**
 * Creates an in-memory replay store for ONE process (not global: see the module notes). Claims are judged
 * synchronously, so copies of one signature arriving together in this process get exactly one `first-use`.
 *
 * @throws {TypeError} when `maxRecords` is not a positive integer
 *
 * @example
 * ```ts
 * const replayStore = createProcessLocalReplayStore();
 * app.use("*", signetMiddleware({ policy, replayStore }));
 * ```
 */
export function createProcessLocalReplayStore(options: ProcessLocalReplayStoreOptions = {}): ProcessLocalReplayStore {
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
    throw new TypeError("createProcessLocalReplayStore: maxRecords must be a positive integer");
  }
  /** id → the first second the record may go. */
  const records = new Map<string, number>();
  // A full store sweeps at most once per second, so a flood of claims while it is full costs no more than that.
  let sweptAt = Number.NEGATIVE_INFINITY;
  const sweep = (now: number) => {
    if (now <= sweptAt) return;
    sweptAt = now;
    for (const [id, exp] of records) if (exp <= now) records.delete(id);
  };
  const claimOne = (claim: ReplayClaim, now: number): ReplayVerdict => {
    const exp = records.get(claim.id);
    if (exp !== undefined && exp > now) return "replayed";
    if (exp === undefined && records.size >= maxRecords) {
      sweep(now);
      if (records.size >= maxRecords) return "unavailable";
    }
    records.set(claim.id, claim.expiresAt);
    return "first-use";
  };
  return {
    get size() {
      return records.size;
    },
    claim(claims, now) {
      return Promise.resolve(claims.map((claim) => claimOne(claim, now)));
    },
  };
}
