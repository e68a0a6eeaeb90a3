/**
 * Batched replay claims (issue 13 item 3), with the real Durable Object replay store inside workerd: claims that
 * reach one shard together go as one call and one SQLite transaction, and each claim is still answered first-use
 * or replayed exactly once, through the whole Worker and for random mixes of claims on the store itself.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentKey, generateAgentKey, loadAgentKey } from "../../agent/index.ts";
import type { Env } from "../../worker/env.ts";
import type { ReplayClaim } from "../../worker/replay/claim-store.ts";
import {
  createDurableObjectReplayStore,
  type ReplayStoreNamespace,
  type ShardClaim,
} from "../../worker/replay/durable-object-store.ts";
import { replayKey } from "../../worker/replay/replay-key.ts";
import { expectProblem, gatewayEnv, send, signed } from "./gateway/gateway.ts";

const AGENT = "https://batching-agent.example";
/** These tests assert counts, never time: 2,000 requests in one isolate take seconds quiet, minutes loaded. */
const LOAD = { timeout: 600_000 };

/** The real `REPLAY_STORE`, counting the calls made to it and the claims they carried. */
function countingStore(real: ReplayStoreNamespace) {
  const counts = { calls: 0, claims: 0, largest: 0 };
  const namespace: ReplayStoreNamespace = {
    getByName(name) {
      const shard = real.getByName(name);
      return {
        claimBatch(claims: readonly ShardClaim[]) {
          counts.calls += 1;
          counts.claims += claims.length;
          counts.largest = Math.max(counts.largest, claims.length);
          return shard.claimBatch(claims);
        },
      };
    },
  };
  return { namespace, counts };
}

let agentKey: AgentKey;
let publicJwk: Awaited<ReturnType<typeof generateAgentKey>>["publicJwk"];

beforeAll(async () => {
  const agent = await generateAgentKey();
  publicJwk = agent.publicJwk;
  agentKey = await loadAgentKey(agent.privateJwk);
});

const environment = (store: ReplayStoreNamespace, replay: object = {}): Env => ({
  ...gatewayEnv({
    rules: [{ path: "/*", require: "verified-agent" }],
    pinned: { [AGENT]: [publicJwk] },
    // A generous deadline: 2,000 verifications share one isolate's CPU with the answers they wait for.
    replay: { timeoutMs: 30_000, ...replay },
  }),
  REPLAY_STORE: store,
});

describe("batched replay claims through the whole Worker", () => {
  it(
    "1,000 concurrent copies mixed with 1,000 distinct requests: one copy and every distinct request pass",
    LOAD,
    async () => {
      const { namespace, counts } = countingStore(env.REPLAY_STORE);
      const target = environment(namespace);
      const copy = await signed("https://shop.example/items/copied", { key: agentKey, agent: AGENT });
      const distinct = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          signed(`https://shop.example/items/d-${i}`, { key: agentKey, agent: AGENT }),
        ),
      );
      // Interleaved: copy, distinct, copy, distinct, …, all in flight at once.
      const sent = distinct.flatMap((request) => [
        { kind: "copy" as const, response: send(copy.clone(), target) },
        { kind: "distinct" as const, response: send(request, target) },
      ]);
      const answered = await Promise.all(sent.map(async (s) => ({ kind: s.kind, response: await s.response })));
      const copies = answered.filter((a) => a.kind === "copy").map((a) => a.response);
      const others = answered.filter((a) => a.kind === "distinct").map((a) => a.response);

      expect(copies.filter((r) => r.status === 200)).toHaveLength(1);
      const refused = copies.filter((r) => r.status !== 200);
      expect(refused).toHaveLength(999);
      for (const response of refused) await expectProblem(response, "signature_replayed");
      expect(others.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
      expect(others).toHaveLength(1000);
      await Promise.all(answered.filter((a) => !a.response.bodyUsed).map((a) => a.response.body?.cancel()));

      // Every claim reached the store exactly once (64 shards: across shards), in fewer calls than claims.
      expect(counts.claims).toBe(2000);
      expect(counts.calls).toBeLessThan(counts.claims);
      expect(counts.largest).toBeGreaterThan(1);
    },
  );

  it("while the shard count changes, each copy is claimed under both counts and still passes once", LOAD, async () => {
    const { namespace, counts } = countingStore(env.REPLAY_STORE);
    const target = environment(namespace, { shards: 16, previousShards: 4 });
    const copy = await signed("https://shop.example/items/resharding", { key: agentKey, agent: AGENT });
    const responses = await Promise.all(Array.from({ length: 200 }, () => send(copy.clone(), target)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 401)).toHaveLength(199);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    expect(counts.claims).toBe(400);
    expect(counts.calls).toBeLessThan(400);
  });

  it("a store answering the wrong shape fails closed: replay_store_unavailable, never a pass", async () => {
    for (const answer of [[], ["yes"], null, [1]]) {
      const odd: ReplayStoreNamespace = {
        getByName: () => ({ claimBatch: () => Promise.resolve(answer as unknown as boolean[]) }),
      };
      const request = await signed("https://shop.example/items/odd", { key: agentKey, agent: AGENT });
      await expectProblem(await send(request, environment(odd, { timeoutMs: 5000 })), "replay_store_unavailable");
    }
  });
});

describe("the Durable Object store's batching, on the real store", () => {
  const claimOf = async (name: string, expiresAt: number): Promise<ReplayClaim> => {
    const { id, digest } = await replayKey({ keyid: "batching", nonce: name, base: "" });
    return { id, digest, expiresAt };
  };

  it(
    "random mixes of claims, concurrent and repeated, across shards: exactly one first use per record",
    LOAD,
    async () => {
      const now = Math.floor(Date.now() / 1000);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 120 }),
          fc.integer({ min: 1, max: 8 }),
          fc.boolean(),
          fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 8 }),
          async (picks, shards, resharding, groups) => {
            const run = crypto.randomUUID();
            const { namespace, counts } = countingStore(env.REPLAY_STORE);
            const store = createDurableObjectReplayStore(namespace, {
              shards,
              previousShards: resharding ? shards + 1 : undefined,
              timeoutMs: 60_000,
            });
            const claims = await Promise.all(picks.map((p) => claimOf(`${run}-${p}`, now + 600)));
            // Claims go in groups of varying size (a group is one `claim` call, as a multi-label request would).
            const sizes = groups.map((g) => g + 1);
            const calls: Array<Promise<readonly string[]>> = [];
            for (let i = 0, g = 0; i < claims.length; g += 1) {
              const size = sizes[g % sizes.length] as number;
              calls.push(store.claim(claims.slice(i, i + size), now));
              i += size;
            }
            const verdicts = (await Promise.all(calls)).flat();
            expect(verdicts).toHaveLength(claims.length);
            for (const verdict of verdicts) expect(["first-use", "replayed"]).toContain(verdict);
            // Each distinct record: exactly one first use, however many times and in whatever groups it was claimed.
            const distinct = new Set(picks);
            expect(verdicts.filter((v) => v === "first-use")).toHaveLength(distinct.size);
            expect(new Set(picks.filter((_, i) => verdicts[i] === "first-use")).size).toBe(distinct.size);
            expect(counts.claims).toBe(claims.length * (resharding ? 2 : 1));
            expect(counts.calls).toBeLessThanOrEqual(counts.claims);
          },
        ),
        { numRuns: 25 },
      );
    },
  );

  it("one call carries a batch: duplicates in it are replays, malformed claims are refused, each in order", async () => {
    const now = Math.floor(Date.now() / 1000);
    const [a, b] = await Promise.all([claimOf(crypto.randomUUID(), now + 60), claimOf(crypto.randomUUID(), now + 60)]);
    const stub = env.REPLAY_STORE.getByName("replay-batch-direct");
    const answers = await stub.claimBatch([
      [a.id, a.expiresAt, now],
      [a.id, a.expiresAt, now],
      ["bad", Number.NaN, now] as unknown as ShardClaim,
      [b.id, b.expiresAt, now],
      [a.id, a.expiresAt, now + 60],
    ]);
    // The last claim comes when a's record has expired (now + 60 is its exp), so it takes the record over.
    expect(answers).toEqual([true, false, false, true, true]);
    expect(await stub.size()).toBe(2);
  });

  it("a call that never answers makes its claims unavailable, and the shard serves the next claims", async () => {
    let hang = true;
    const namespace: ReplayStoreNamespace = {
      getByName(name) {
        const real = env.REPLAY_STORE.getByName(name);
        return {
          claimBatch: (claims: readonly ShardClaim[]) =>
            hang ? new Promise<readonly boolean[]>(() => undefined) : real.claimBatch(claims),
        };
      },
    };
    const store = createDurableObjectReplayStore(namespace, { shards: 1, timeoutMs: 50 });
    const now = Math.floor(Date.now() / 1000);
    const first = await Promise.all([claimOf(crypto.randomUUID(), now + 60), claimOf(crypto.randomUUID(), now + 60)]);
    expect(await Promise.all(first.map((c) => store.claim([c], now)))).toEqual([["unavailable"], ["unavailable"]]);
    hang = false;
    const next = await claimOf(crypto.randomUUID(), now + 60);
    expect(await store.claim([next, next], now)).toEqual(["first-use", "replayed"]);
  });

  it("each call is handed to its sender's waitUntil, so it is answered and handed on even if that request stops", async () => {
    const { namespace, counts } = countingStore(env.REPLAY_STORE);
    const store = createDurableObjectReplayStore(namespace, { shards: 2, timeoutMs: 30_000 });
    const now = Math.floor(Date.now() / 1000);
    const handed: Array<Promise<unknown>> = [];
    const context = { waitUntil: (promise: Promise<unknown>) => void handed.push(promise) };
    const claims = await Promise.all(Array.from({ length: 40 }, () => claimOf(crypto.randomUUID(), now + 60)));
    const verdicts = (await Promise.all(claims.map((c) => store.claim([c], now, context)))).flat();
    expect(verdicts.filter((v) => v === "first-use")).toHaveLength(40);
    expect(handed).toHaveLength(counts.calls);
    expect(await Promise.all(handed)).toHaveLength(counts.calls);
  });

  it("refuses unusable options when it is built", () => {
    const namespace = env.REPLAY_STORE as unknown as ReplayStoreNamespace;
    const bad: Array<[unknown, object]> = [
      [undefined, { shards: 4 }],
      [{}, { shards: 4 }],
      [namespace, {}],
      [namespace, { shards: 0 }],
      [namespace, { shards: 1.5 }],
      [namespace, { shards: 4, previousShards: -1 }],
      [namespace, { shards: 4, timeoutMs: 0 }],
      [namespace, { shards: 4, maxBatch: Number.POSITIVE_INFINITY }],
    ];
    for (const [ns, options] of bad) {
      expect(() => createDurableObjectReplayStore(ns as ReplayStoreNamespace, options as { shards: number })).toThrow(
        TypeError,
      );
    }
  });
});
