/**
 * The Durable Object replay store, as the replay check sees it: claims are placed on shards of the
 * `REPLAY_STORE` namespace and batched, so claims that reach one shard together from one isolate go as one
 * Durable Object call (one SQLite transaction there).
 *
 * Batching: each shard has at most one call in flight from this isolate. A claim for an idle shard is sent at
 * the end of the current microtask turn, with every claim for that shard made in the same turn; claims made while
 * a call is in flight wait for it and go together as the next call. So an idle shard adds no wait, and a busy
 * one turns N claims into one call. The next call is sent by one of the requests whose claims it carries (never
 * by a request that may have finished), so no request waits on I/O that belongs to another.
 *
 * @module
 */
import type { ClaimContext, ReplayClaim, ReplayClaimStore, ReplayVerdict } from "./claim-store.ts";
import { shardName } from "./replay-key.ts";

/** One claim as the shard's `claimBatch` takes it: `[id, expiresAt, now]`. */
export type ShardClaim = readonly [id: string, expiresAt: number, now: number];

/** The part of a Durable Object namespace the store needs (the `REPLAY_STORE` binding satisfies it). */
export interface ReplayStoreNamespace {
  getByName(name: string): { claimBatch(claims: readonly ShardClaim[]): Promise<readonly boolean[]> };
}

/** Options of {@link createDurableObjectReplayStore}. */
export interface DurableObjectReplayStoreOptions {
  /** The number of shards (the policy's `replay.shards`). */
  readonly shards: number;
  /** While the shard count changes: the previous count, whose shards are claimed in too. */
  readonly previousShards?: number | undefined;
  /** A call not answered after this many milliseconds makes its claims `unavailable`. Default 2000. */
  readonly timeoutMs?: number | undefined;
  /** The most claims in one call (default 500); more wait for the next call. */
  readonly maxBatch?: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_MAX_BATCH = 500;
/** The leader's own promise resolves with this: "send the next call yourself". */
const LEAD = Symbol("lead");

interface Waiting {
  readonly claim: ShardClaim;
  readonly settle: (outcome: ReplayVerdict | typeof LEAD) => void;
}

interface Shard {
  readonly name: string;
  /** Claims not yet sent; when a call is being prepared, its leader is at the head. */
  readonly queue: Waiting[];
  /** The claims of the call in flight, and when it was sent (ms); `undefined` when the shard is idle. */
  inFlight: { readonly batch: readonly Waiting[]; readonly since: number; readonly generation: number } | undefined;
  /** Whether a leader holds the shard (preparing or awaiting a call). */
  busy: boolean;
  /** Bumped whenever a stuck call is given up, so its leader, should it ever resume, changes nothing. */
  generation: number;
}

/**
 * Creates the Durable Object replay store over a namespace: each claim goes to its shard (and, while the shard
 * count changes, to its shard under the previous count too; it is first-use only if both say so), batched as the
 * module notes describe. One timer per call bounds it. The request that sends a call hands it to its
 * `waitUntil` when the claim's context has one; should a call's sender stop anyway, the next claim that finds the
 * call older than the timeout gives it up (its claims `unavailable`) and takes the shard over.
 *
 * @throws {TypeError} when the namespace or an option is unusable
 *
 * @example
 * ```ts
 * const store = createDurableObjectReplayStore(env.REPLAY_STORE, { shards: 64 });
 * const [verdict] = await store.claim([{ id, digest, expiresAt }], now);
 * ```
 */
export function createDurableObjectReplayStore(
  namespace: ReplayStoreNamespace,
  options: DurableObjectReplayStoreOptions,
): ReplayClaimStore {
  if (typeof namespace?.getByName !== "function") {
    throw new TypeError("createDurableObjectReplayStore: namespace must be a Durable Object namespace");
  }
  const positive = (value: number | undefined, name: string) => {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new TypeError(`createDurableObjectReplayStore: ${name} must be a positive integer`);
    }
  };
  positive(options.shards, "shards");
  if (options.shards === undefined) throw new TypeError("createDurableObjectReplayStore: shards is required");
  positive(options.previousShards, "previousShards");
  positive(options.timeoutMs, "timeoutMs");
  positive(options.maxBatch, "maxBatch");
  const counts =
    options.previousShards === undefined || options.previousShards === options.shards
      ? [options.shards]
      : [options.shards, options.previousShards];
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const shards = new Map<string, Shard>();

  const shardFor = (name: string): Shard => {
    let shard = shards.get(name);
    if (shard === undefined) {
      shard = { name, queue: [], inFlight: undefined, busy: false, generation: 0 };
      shards.set(name, shard);
    }
    return shard;
  };

  /** Sends the next call of a shard, from the leader's own request; answers the leader's claim. */
  const lead = async (shard: Shard): Promise<ReplayVerdict> => {
    // Claims made in this microtask turn join the call.
    await undefined;
    const batch = shard.queue.splice(0, maxBatch);
    const generation = shard.generation;
    shard.inFlight = { batch, since: Date.now(), generation };
    let verdicts: readonly ReplayVerdict[];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const call = namespace.getByName(shard.name).claimBatch(batch.map((w) => w.claim));
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("replay store timeout")), timeoutMs);
      });
      const answers = await Promise.race([call, deadline]);
      verdicts = batch.map((_, i) =>
        answers[i] === true ? "first-use" : answers[i] === false ? "replayed" : "unavailable",
      );
    } catch {
      verdicts = batch.map(() => "unavailable");
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
    if (shard.generation !== generation) return "unavailable";
    for (let i = 1; i < batch.length; i += 1) batch[i]?.settle(verdicts[i] ?? "unavailable");
    handOff(shard);
    return verdicts[0] ?? "unavailable";
  };

  /** Passes the shard to the head of its queue (who sends the next call), or marks it idle. */
  const handOff = (shard: Shard): void => {
    shard.inFlight = undefined;
    const next = shard.queue[0];
    if (next === undefined) shard.busy = false;
    else next.settle(LEAD);
  };

  /** Gives up a call older than the timeout whose leader never came back (its request was cancelled). */
  const recoverStuck = (shard: Shard): void => {
    const stuck = shard.inFlight;
    if (stuck === undefined || Date.now() - stuck.since <= timeoutMs) return;
    shard.generation += 1;
    for (const waiting of stuck.batch) waiting.settle("unavailable");
    handOff(shard);
  };

  const claimOn = async (
    name: string,
    claim: ShardClaim,
    context: ClaimContext | undefined,
  ): Promise<ReplayVerdict> => {
    const shard = shardFor(name);
    if (shard.busy) recoverStuck(shard);
    const outcome = await new Promise<ReplayVerdict | typeof LEAD>((settle) => {
      shard.queue.push({ claim, settle });
      if (!shard.busy) {
        shard.busy = true;
        settle(LEAD);
      }
    });
    if (outcome !== LEAD) return outcome;
    const led = lead(shard);
    // The call carries other requests' claims: it must finish and be handed on even if this request is cancelled.
    context?.waitUntil?.(led);
    return led;
  };

  return {
    async claim(claims, now, context) {
      return Promise.all(
        claims.map(async (claim: ReplayClaim) => {
          const verdicts = await Promise.all(
            counts.map((n) => claimOn(shardName(claim.digest, n), [claim.id, claim.expiresAt, now], context)),
          );
          if (verdicts.includes("unavailable")) return "unavailable";
          return verdicts.every((v) => v === "first-use") ? "first-use" : "replayed";
        }),
      );
    },
  };
}
