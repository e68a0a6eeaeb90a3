/**
 * Faults with real local servers (the directory server of `test/worker/directory-server.ts`, the counting origin
 * of `test/worker/origin-server.ts`) and a replay store that fails on schedule:
 *
 * 1. A directory that hangs, trickles, sends 1 GB, resets, redirects (to a private address, or to a valid
 *    directory), or fails: its agent gets `agent_unverified`, a hanging one from the timeout path ("could not be
 *    fetched in time") with the directory seeing Signet abort the connection, while requests from a pinned agent
 *    and from an agent whose keys are cached, sent at the same moment, are all served, and served first. The
 *    directory is fetched once; nothing refused reaches the origin.
 * 2. A directory that flips keys between fetches: one refetch for any number of concurrent new-key requests.
 * 3. An origin that is down (502, fast) or slow (Signet waits: it has no origin timeout of its own).
 * 4. A replay store that fails every Nth claim, before or after recording it: failures are 503 and never
 *    forwarded; retried until accepted, every request reaches the origin exactly once; a claim recorded but
 *    not acknowledged is never forwarded at all (fail closed, never twice).
 *
 * Every 200 is checked at the origin: its unique path arrived exactly once. Every refusal: never. Outcomes, counts
 * and arrival order only: no test asserts a duration (a busy machine must not fail them; they have generous
 * timeouts instead).
 */
import { env as workerEnv } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentKey, type GeneratedKey, generateAgentKey, loadAgentKey } from "../../../agent/index.ts";
import type { Env } from "../../../worker/env.ts";
import type { RejectionReason } from "../../../worker/reasons.ts";
import { statsEventually } from "../discovery/server.ts";
import { directory, expectProblem, fetchCount, gatewayEnv, keySetUrl, send, signed } from "../gateway/gateway.ts";
import { flakyReplayStore, localOrigin, localOriginEnv, originCount } from "./hostile.ts";

const PINNED = "https://faults-pinned.internal";
const TIMEOUT_MS = 1000;
const ROUTE = { path: "/agents/*", require: "verified-agent" };

let pinnedKey: GeneratedKey;
let pinned: AgentKey;
let a: AgentKey;
let b: AgentKey;
let env: Env;

beforeAll(async () => {
  pinnedKey = await generateAgentKey();
  [pinned, a, b] = await Promise.all([
    loadAgentKey(pinnedKey.privateJwk),
    loadAgentKey(directory.a.privateJwk),
    loadAgentKey(directory.b.privateJwk),
  ]);
  env = await localOriginEnv({
    rules: [ROUTE],
    discovery: { unsafeAllowLoopback: true, timeoutMs: TIMEOUT_MS },
    // The fetch timeout, not the request deadline, is what these faults must run into: 41 requests at once on a
    // busy shared machine can spend seconds before their fetch starts, and a deadline spent by then would end the
    // lookup before the directory is asked (deadline_exceeded), which is not the fault under test.
    budget: { deadlineMs: 20 * TIMEOUT_MS },
    pinned: { [PINNED]: [pinnedKey.publicJwk] },
  });
});

/** A unique path under the verified-agent route. */
const uniquePath = (tag: string) => `/agents/${tag}-${crypto.randomUUID()}`;

interface Outcome {
  readonly path: string;
  readonly status: number;
  readonly body: string;
  /** The order in which the responses arrived (0 first). */
  readonly order: number;
}

/** Sends signed requests at once and records status, body and arrival order of each. */
async function sendAll(
  requests: ReadonlyArray<{ path: string; key: AgentKey; agent: string }>,
  target: Env = env,
): Promise<Outcome[]> {
  const signedRequests = await Promise.all(
    requests.map((r) => signed(`https://signet.example${r.path}`, { key: r.key, agent: r.agent })),
  );
  let arrived = 0;
  return Promise.all(
    signedRequests.map(async (request, i) => {
      const response = await send(request, target);
      const body = await response.text();
      return {
        path: (requests[i] as { path: string }).path,
        status: response.status,
        body,
        order: arrived++,
      };
    }),
  );
}

/** Each 200 reached the origin exactly once; each refusal never. */
async function expectOriginSaw(outcomes: readonly Outcome[]): Promise<void> {
  const counts = await Promise.all(outcomes.map((o) => originCount(o.path)));
  expect(outcomes.map((o, i) => [o.path, o.status, counts[i]])).toEqual(
    outcomes.map((o) => [o.path, o.status, o.status === 200 ? 1 : 0]),
  );
}

function problemOf(outcome: Outcome): { reason: RejectionReason; discovery_error?: string; detail: string } {
  return JSON.parse(outcome.body);
}

describe("a misbehaving directory: cut off in time, other agents served meanwhile, nothing forwarded", () => {
  const scenarios: ReadonlyArray<
    readonly [what: string, scenario: string, params: Record<string, string>, code: string, slow: boolean]
  > = [
    ["hangs before the headers", "slow-headers", { delay: "30000" }, "directory_unreachable", true],
    ["trickles its body", "trickle", {}, "directory_unreachable", true],
    ["sends 1 GB (chunked)", "huge", {}, "directory_rejected", false],
    ["declares 1 GB", "huge", { declared: "1" }, "directory_rejected", false],
    ["resets the connection", "reset", {}, "directory_unreachable", false],
    ["resets in the middle of the body", "reset-mid-body", {}, "directory_unreachable", false],
    ["redirects to a private address", "redirect", {}, "directory_rejected", false],
    ["answers 500", "status", { code: "500" }, "directory_rejected", false],
  ];

  it.each(scenarios)(
    "a directory that %s",
    async (_what, scenario, params, code, slow) => {
      // An agent whose keys are already cached, and a pinned one.
      const cached = keySetUrl("valid");
      const warm = await sendAll([{ path: uniquePath("warm"), key: a, agent: cached.url }]);
      expect(warm.map((o) => o.status)).toEqual([200]);

      const bad = keySetUrl(scenario, params);
      const outcomes = await sendAll([
        { path: uniquePath("bad"), key: a, agent: bad.url },
        ...Array.from({ length: 20 }, () => ({ path: uniquePath("pinned"), key: pinned, agent: PINNED })),
        ...Array.from({ length: 20 }, (_, i) => ({
          path: uniquePath("cached"),
          key: i % 2 ? a : b,
          agent: cached.url,
        })),
      ]);
      const [victim, ...others] = outcomes as [Outcome, ...Outcome[]];

      expect(victim.status, victim.body).toBe(401);
      expect(problemOf(victim)).toMatchObject({ reason: "agent_unverified", discovery_error: code });
      if (slow) {
        // Cut off by the timeout path (not by the server ending the response), and the server saw it go.
        expect(problemOf(victim).detail).toContain("could not be fetched in time");
        expect((await statsEventually(bad.path, (s) => s.aborted > 0, 20_000)).aborted).toBe(1);
        // Everyone else was answered before the misbehaving directory was given up on.
        expect(victim.order).toBe(others.length);
      }
      expect(others.map((o) => o.status)).toEqual(others.map(() => 200));
      await expectOriginSaw([...warm, ...outcomes]);
      expect(await fetchCount(bad.path)).toBe(1);
      expect(await fetchCount(cached.path)).toBe(1);
    },
    60_000,
  );

  it("a redirect to a valid directory on a loopback address is not followed either", async () => {
    const target = keySetUrl("valid");
    const bad = keySetUrl("redirect", { status: "307", to: target.url });
    const [outcome] = await sendAll([{ path: uniquePath("redirect"), key: a, agent: bad.url }]);
    expect(problemOf(outcome as Outcome)).toMatchObject({
      reason: "agent_unverified",
      discovery_error: "directory_rejected",
    });
    expect(await fetchCount(bad.path)).toBe(1);
    expect(await fetchCount(target.path)).toBe(0);
    await expectOriginSaw([outcome as Outcome]);
  });
});

describe("one request naming many misbehaving directories", () => {
  /**
   * Each label names its own hanging directory. The key lookups of a request start together, so the answer
   * comes after one discovery timeout, not one per label; and at most discovery.maxAgentsPerRequest distinct
   * agents are looked up at all.
   */
  it("is answered after one timeout, not one per label: every lookup started at once, and each was cut off", async () => {
    const sets = Array.from({ length: 3 }, () => keySetUrl("slow-headers", { delay: "30000" }));
    const created = Math.floor(Date.now() / 1000);
    const params = `;created=${created};expires=${created + 60};keyid="${directory.a.thumbprint}";tag="web-bot-auth"`;
    const request = new Request(`https://signet.example${uniquePath("fanout")}`, {
      headers: {
        "signature-input": sets.map((_, i) => `s${i}=("@authority" "signature-agent";key="s${i}")${params}`).join(", "),
        signature: sets.map((_, i) => `s${i}=:${btoa("x".repeat(64))}:`).join(", "),
        "signature-agent": sets.map((set, i) => `s${i}="${set.url}"`).join(", "),
      },
    });
    // A deadline of one and a half fetch timeouts: one after another, the second directory would be cut off by
    // the deadline and the third never asked.
    const fanout = await localOriginEnv({
      rules: [ROUTE],
      discovery: { unsafeAllowLoopback: true, timeoutMs: TIMEOUT_MS },
      budget: { deadlineMs: 1.5 * TIMEOUT_MS },
    });
    const response = await send(request, fanout);
    // Answered although no directory ever answers: each fetch was cut off.
    await expectProblem(response, "agent_unverified", { discovery_error: "directory_unreachable" });
    // All three were asked, and all three saw Signet give up on them: the lookups ran at once.
    for (const set of sets) {
      expect(await fetchCount(set.path)).toBe(1);
      expect((await statsEventually(set.path, (s) => s.aborted > 0, 20_000)).aborted).toBe(1);
    }
  }, 60_000);

  it("looks up at most discovery.maxAgentsPerRequest agents; further signatures are agent_limit", async () => {
    const sets = Array.from({ length: 6 }, () => keySetUrl("status", { code: "404" }));
    const created = Math.floor(Date.now() / 1000);
    const params = `;created=${created};expires=${created + 60};keyid="${directory.a.thumbprint}";tag="web-bot-auth"`;
    const request = new Request(`https://signet.example${uniquePath("limit")}`, {
      headers: {
        "signature-input": sets.map((_, i) => `s${i}=("@authority" "signature-agent";key="s${i}")${params}`).join(", "),
        signature: sets.map((_, i) => `s${i}=:${btoa("x".repeat(64))}:`).join(", "),
        "signature-agent": sets.map((set, i) => `s${i}="${set.url}"`).join(", "),
      },
    });
    const limited = gatewayEnv({
      rules: [{ path: "/*", require: "verified-agent" }],
      discovery: { unsafeAllowLoopback: true, maxAgentsPerRequest: 4 },
    });
    const response = await send(request, limited);
    expect(response.status).toBe(401);
    await response.body?.cancel();
    const counts = await Promise.all(sets.map((set) => fetchCount(set.path)));
    expect(counts).toEqual([1, 1, 1, 1, 0, 0]);
  });
});

describe("a directory that flips its keys between fetches", () => {
  it("30 concurrent requests signed with the new key cause one refetch; the retired key then fails", async () => {
    const set = keySetUrl("rotate"); // the first answer lists a; every later one lists b only
    const first = await sendAll([{ path: uniquePath("before"), key: a, agent: set.url }]);
    expect(first.map((o) => o.status)).toEqual([200]);

    // One request refetches; requests never wait on another's fetch, so those that arrive while it is under way
    // are refused as retryable (agent_unverified, key_not_found) and their retries verify, with no more fetches.
    const rotated = await sendAll(
      Array.from({ length: 30 }, () => ({ path: uniquePath("new"), key: b, agent: set.url })),
    );
    expect(rotated.some((o) => o.status === 200)).toBe(true);
    for (const o of rotated.filter((r) => r.status !== 200)) {
      expect(problemOf(o)).toMatchObject({ reason: "agent_unverified", discovery_error: "key_not_found" });
    }
    expect(await fetchCount(set.path)).toBe(2);
    const retries = await sendAll(
      rotated.filter((o) => o.status !== 200).map(() => ({ path: uniquePath("retry"), key: b, agent: set.url })),
    );
    expect(retries.map((o) => o.status)).toEqual(retries.map(() => 200));
    expect(await fetchCount(set.path)).toBe(2);

    const retired = await sendAll(
      Array.from({ length: 5 }, () => ({ path: uniquePath("old"), key: a, agent: set.url })),
    );
    for (const o of retired) expect(problemOf(o)).toMatchObject({ discovery_error: "key_not_found" });
    expect(await fetchCount(set.path)).toBe(2);
    await expectOriginSaw([...first, ...rotated, ...retries, ...retired]);
  });
});

describe("an origin that is down or slow", () => {
  it("down: 502 origin_unreachable", async () => {
    const down = await localOriginEnv(
      { rules: [ROUTE], pinned: { [PINNED]: [pinnedKey.publicJwk] } },
      directory.closedUrl,
    );
    const request = await signed(`https://signet.example${uniquePath("down")}`, { key: pinned, agent: PINNED });
    await expectProblem(await send(request, down), "origin_unreachable");
  });

  it("slow: the slow request is forwarded once and answered late; requests sent with it are not held up", async () => {
    const slowPath = `${uniquePath("slow")}?origin-delay=1500`;
    const outcomes = await sendAll([
      { path: slowPath, key: pinned, agent: PINNED },
      ...Array.from({ length: 10 }, () => ({ path: uniquePath("fast"), key: pinned, agent: PINNED })),
    ]);
    const [slow, ...fast] = outcomes as [Outcome, ...Outcome[]];
    expect(outcomes.map((o) => o.status)).toEqual(outcomes.map(() => 200));
    // Signet waited for the slow origin (its answer is the origin's) while the others went past it.
    expect(slow.order).toBe(fast.length);
    expect(JSON.parse(slow.body)).toMatchObject({ server: "local-origin", url: slowPath });
    await expectOriginSaw(outcomes);
  });

  it("the local origin counts what it receives (so the counts above can fail)", async () => {
    const path = uniquePath("direct");
    expect(await originCount(path)).toBe(0);
    await (await fetch(`${localOrigin}${path}`)).arrayBuffer();
    expect(await originCount(path)).toBe(1);
  });
});

describe("a replay store that fails every Nth claim", () => {
  const pinnedOnly = () => ({ rules: [ROUTE], pinned: { [PINNED]: [pinnedKey.publicJwk] } });

  it("failing before the claim: 503s are never forwarded, and retries get every request through exactly once", async () => {
    const flaky = flakyReplayStore(workerEnv.REPLAY_STORE, 3, "before");
    const target: Env = {
      ...(await localOriginEnv(pinnedOnly())),
      REPLAY_STORE: flaky,
    };
    const requests = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const path = uniquePath("claim");
        return { path, request: await signed(`https://signet.example${path}`, { key: pinned, agent: PINNED }) };
      }),
    );
    let pending = requests;
    let unavailable = 0;
    for (let round = 0; round < 10 && pending.length > 0; round += 1) {
      const answers = await Promise.all(
        pending.map(async (r) => ({ ...r, response: await send(r.request.clone(), target) })),
      );
      const failed = answers.filter((x) => x.response.status !== 200);
      for (const x of failed) await expectProblem(x.response, "replay_store_unavailable");
      for (const x of answers) if (x.response.status === 200) await x.response.arrayBuffer();
      for (const x of failed) expect(await originCount(x.path)).toBe(0);
      unavailable += failed.length;
      pending = failed;
    }
    expect(pending).toEqual([]);
    expect(unavailable).toBe(flaky.failures);
    expect(unavailable).toBeGreaterThanOrEqual(10);
    for (const r of requests) expect(await originCount(r.path)).toBe(1);
  });

  it("failing after the claim is recorded: 503, then signature_replayed, and the origin never sees it", async () => {
    const flaky = flakyReplayStore(workerEnv.REPLAY_STORE, 2, "after");
    const target: Env = {
      ...(await localOriginEnv(pinnedOnly())),
      REPLAY_STORE: flaky,
    };
    const results: Array<{ path: string; first: number; retry: number }> = [];
    for (let i = 0; i < 10; i += 1) {
      const path = uniquePath("lost-ack");
      const request = await signed(`https://signet.example${path}`, { key: pinned, agent: PINNED });
      const first = await send(request.clone(), target);
      const firstStatus = first.status;
      if (firstStatus === 200) {
        await first.arrayBuffer();
        results.push({ path, first: 200, retry: 0 });
        continue;
      }
      await expectProblem(first, "replay_store_unavailable");
      const retry = await send(request, target);
      const retryStatus = retry.status;
      // The claim was recorded, so the retry is a replay (unless the retry's own claim call is a failing one).
      await expectProblem(retry, retryStatus === 503 ? "replay_store_unavailable" : "signature_replayed");
      results.push({ path, first: firstStatus, retry: retryStatus });
    }
    expect(flaky.failures).toBeGreaterThan(0);
    for (const r of results) expect(await originCount(r.path)).toBe(r.first === 200 ? 1 : 0);
    expect(results.filter((r) => r.first === 503).length).toBeGreaterThan(0);
  });
});
