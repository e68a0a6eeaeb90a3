/**
 * The metrics: counts through the whole Worker match the traffic sent (concurrent requests included), the
 * store merges concurrent batches without losing one, and every table stays within its bounds (24 hours of
 * minute buckets, 30 days of hour buckets, capped keys per dimension, the refusal ring, tracked agents).
 */
import { env as workerEnv } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { decisionEntry } from "../../../worker/observability/decision-log.ts";
import {
  MAX_KEYS_PER_DIMENSION,
  type MetricsBatch,
  MetricsCollector,
  OTHER_KEY,
  type RefusalRecord,
} from "../../../worker/observability/metrics-batch.ts";
import {
  HOUR_RETENTION,
  MAX_TRACKED,
  MINUTE_RETENTION,
  REFUSAL_RING,
  type SignetMetrics,
} from "../../../worker/observability/metrics-store.ts";
import { identityOf, send, signed } from "../gateway/gateway.ts";
import { observedEnv, summaryOf } from "./helpers.ts";

const AGENT = "https://counted-agent.example";

let agentKey: GeneratedKey;
let env: ReturnType<typeof observedEnv>;

beforeAll(async () => {
  agentKey = await generateAgentKey();
  env = observedEnv({
    rules: [{ path: "/agents/*", require: "verified-agent" }],
    pinned: { [AGENT]: [agentKey.publicJwk] },
  });
});

/** A store of its own, so one test's rows do not count in another's. */
function store(name: string): DurableObjectStub<SignetMetrics> {
  return (workerEnv.SIGNET_METRICS as DurableObjectNamespace<SignetMetrics>).getByName(name);
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

function batchAt(
  minute: number,
  counters: MetricsBatch["counters"] = [[minute, "outcome", "verified", 1]],
): MetricsBatch {
  return { counters, agents: [], refusals: [], directories: [] };
}

describe("counts through the whole Worker", () => {
  it("40 concurrent requests of four kinds are all counted, by outcome, reason, rule and agent", async () => {
    const before = await summaryOf(env);
    const requests: Promise<Response>[] = [];
    for (let i = 0; i < 10; i++) {
      requests.push(
        send(await signed(`https://signet.example/agents/${i}`, { key: agentKey.privateJwk, agent: AGENT }), env),
      );
      requests.push(send(new Request(`https://signet.example/agents/u${i}`), env));
      requests.push(send(new Request(`https://signet.example/open/${i}`), env));
      const bad = await signed(`https://signet.example/agents/b${i}`, { key: agentKey.privateJwk, agent: AGENT });
      const headers = new Headers(bad.headers);
      headers.set("signature", "sig1=:AAAA:");
      requests.push(send(new Request(bad.url, { headers }), env));
    }
    const statuses = (await Promise.all(requests)).map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    const after = await summaryOf(env);
    const delta = (o: keyof typeof after.outcomes) => after.outcomes[o] - before.outcomes[o];
    expect({ verified: delta("verified"), invalid: delta("invalid"), unsigned: delta("unsigned") }).toEqual({
      verified: 10,
      invalid: 10,
      unsigned: 20,
    });
    const reason = (s: typeof after, name: string) => s.reasons.find((r) => r.reason === name)?.count ?? 0;
    expect(reason(after, "signature_required") - reason(before, "signature_required")).toBe(10);
    expect(reason(after, "signature_invalid") - reason(before, "signature_invalid")).toBe(10);
    const agent = after.agents.find((a) => a.agent === identityOf(AGENT));
    expect(agent).toMatchObject({ profile: "web-bot-auth" });
    expect((agent?.count ?? 0) - (before.agents.find((a) => a.agent === identityOf(AGENT))?.count ?? 0)).toBe(10);
    expect(after.directories.find((d) => d.url === identityOf(AGENT))).toMatchObject({
      status: "ok",
      pinned: true,
      keyCount: 1,
    });
    expect(after.refusals.length).toBeGreaterThanOrEqual(20);
    // The chart's buckets hold the same totals.
    const charted = after.traffic.reduce((sum, p) => sum + p.counts.verified + p.counts.invalid + p.counts.unsigned, 0);
    expect(charted).toBe(after.outcomes.verified + after.outcomes.invalid + after.outcomes.unsigned);
  });

  it("replays blocked are counted", async () => {
    const before = (await summaryOf(env)).replaysBlocked;
    const request = await signed("https://signet.example/agents/replayed", { key: agentKey.privateJwk, agent: AGENT });
    const answers = await Promise.all([0, 1, 2, 3].map(() => send(request.clone(), env)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401, 401]);
    expect((await summaryOf(env)).replaysBlocked - before).toBe(3);
  });

  it("where Workers Analytics Engine is bound, each decision is one data point, and a failing dataset changes nothing", async () => {
    const points: { blobs?: string[]; doubles?: number[]; indexes?: string[] }[] = [];
    const analytics = {
      ...env,
      SIGNET_ANALYTICS: { writeDataPoint: (point: (typeof points)[number]) => void points.push(point) },
    };
    const request = await signed("https://signet.example/agents/ae", {
      key: agentKey.privateJwk,
      agent: AGENT,
      headers: { authorization: "Bearer ae-secret-token" },
    });
    expect((await send(request, analytics)).status).toBe(200);
    expect((await send(new Request("https://signet.example/agents/ae2"), analytics)).status).toBe(401);
    expect(points).toHaveLength(2);
    expect(points[0]).toEqual({
      indexes: ["verified"],
      blobs: ["verified", "", identityOf(AGENT), "* /agents/*", "enforce", "web-bot-auth"],
      doubles: [200, expect.any(Number)],
    });
    expect(points[1]?.blobs?.slice(0, 2)).toEqual(["unsigned", "signature_required"]);
    expect(JSON.stringify(points)).not.toContain("ae-secret-token");
    const failing = {
      ...env,
      SIGNET_ANALYTICS: {
        writeDataPoint: () => {
          throw new Error("quota");
        },
      },
    };
    expect((await send(new Request("https://signet.example/open"), failing)).status).toBe(200);
  });

  it("without the SIGNET_METRICS binding nothing is counted and requests still pass", async () => {
    const bare = { ...env, SIGNET_METRICS: undefined };
    expect((await send(new Request("https://signet.example/open"), bare)).status).toBe(200);
  });
});

describe("the store under concurrency", () => {
  it("50 concurrent batches of random sizes add up exactly", async () => {
    const s = store("concurrency");
    const now = Date.now();
    const minute = Math.floor(now / MINUTE);
    const sizes = fc.sample(fc.integer({ min: 1, max: 20 }), 50);
    await Promise.all(
      sizes.map((n, i) =>
        s.record(
          batchAt(minute, [
            [minute, "outcome", "verified", n],
            [minute, "agent", `https://a${i % 5}.example/keys`, n],
          ]),
          now,
        ),
      ),
    );
    const summary = await s.summary("1h", now);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(summary.outcomes.verified).toBe(total);
    expect(summary.agents.reduce((sum, a) => sum + a.count, 0)).toBe(total);
    expect((await s.summary("24h", now)).outcomes.verified).toBe(total);
  });
});

describe("retention and bounds", () => {
  it("minute buckets go after 24 hours, hour buckets after 30 days", async () => {
    const s = store("retention");
    const t0 = Math.floor(Date.now() / HOUR) * HOUR - 40 * 24 * HOUR;
    // Two days of traffic, one batch every 10 minutes.
    for (let t = t0; t < t0 + 48 * HOUR; t += 10 * MINUTE) await s.record(batchAt(Math.floor(t / MINUTE)), t);
    let sizes = await s.sizes();
    expect(sizes.minuteBuckets).toBeLessThanOrEqual(MINUTE_RETENTION);
    expect(sizes.minuteBuckets).toBe(24 * 6);
    expect(sizes.hourBuckets).toBe(48);
    // 31 days later: every hour bucket but the new one is past retention.
    const later = t0 + 48 * HOUR + 31 * 24 * HOUR;
    await s.record(batchAt(Math.floor(later / MINUTE)), later);
    sizes = await s.sizes();
    expect(sizes.minuteBuckets).toBe(1);
    expect(sizes.hourBuckets).toBe(1);
    expect(HOUR_RETENTION).toBe(720);
    const summary = await s.summary("30d", later);
    expect(summary.traffic).toHaveLength(720);
    expect(summary.outcomes.verified).toBe(1);
  });

  it("a flood of distinct agents, rules and reasons keeps at most the cap per bucket, and loses no count", async () => {
    const s = store("caps");
    const now = Date.now();
    const minute = Math.floor(now / MINUTE);
    const counters: [number, "agent", string, number][] = [];
    for (let i = 0; i < 3 * MAX_KEYS_PER_DIMENSION; i++)
      counters.push([minute, "agent", `https://flood${i}.example/keys`, 1]);
    // In several batches, as isolates would send them.
    for (let i = 0; i < counters.length; i += 20) await s.record(batchAt(minute, counters.slice(i, i + 20)), now);
    const sizes = await s.sizes();
    expect(sizes.maxKeysPerSlot).toBeLessThanOrEqual(MAX_KEYS_PER_DIMENSION);
    const summary = await s.summary("1h", now);
    expect(summary.agents.length).toBeLessThanOrEqual(10);
    const other = summary.agents.find((a) => a.agent === OTHER_KEY);
    expect(other?.count).toBe(3 * MAX_KEYS_PER_DIMENSION - (MAX_KEYS_PER_DIMENSION - 1));
  });

  it("the refusal ring keeps the last REFUSAL_RING refusals; agents and key sets are capped", async () => {
    const s = store("ring");
    const now = Date.now();
    const refusal = (i: number): RefusalRecord => ({
      time: now + i,
      id: `r${i}`,
      method: "GET",
      path: `/p${i}`,
      reason: "signature_required",
      status: 401,
      mode: "enforce",
      outcome: "unsigned",
      agent: null,
      label: null,
      rule: null,
    });
    for (let i = 0; i < 3 * REFUSAL_RING; i += 50) {
      await s.record(
        {
          counters: [],
          refusals: Array.from({ length: 50 }, (_, j) => refusal(i + j)),
          agents: Array.from({ length: 50 }, (_, j) => ({
            agent: `https://ring${i + j}.example/keys`,
            profile: "web-bot-auth",
            level: null,
            onBehalfOf: null,
            count: 1,
            lastSeen: now + i + j,
          })),
          directories: Array.from({ length: 50 }, (_, j) => ({
            url: `https://ring${i + j}.example/keys`,
            lastSeen: now + i + j,
            status: "ok",
            pinned: false,
            keyCount: 1,
            fetchedAt: now,
            freshUntil: now + HOUR,
          })),
        },
        now,
      );
    }
    const sizes = await s.sizes();
    expect(sizes.refusals).toBe(REFUSAL_RING);
    expect(sizes.agents).toBeLessThanOrEqual(MAX_TRACKED);
    expect(sizes.directories).toBeLessThanOrEqual(MAX_TRACKED);
    const summary = await s.summary("1h", now);
    expect(summary.refusals[0]?.id).toBe(`r${3 * REFUSAL_RING - 1}`);
  });

  it("the per-isolate collector caps keys per dimension too, and counts every request", () => {
    const collector = new MetricsCollector();
    const start = Date.now();
    const response = new Response(null, { status: 200 });
    for (let i = 0; i < 200; i++) {
      const entry = decisionEntry({
        request: new Request(`https://signet.example/r${i}`),
        start,
        end: start,
        response,
        mode: "enforce",
        rule: { path: `/r${i}`, require: "none" },
      });
      collector.add(entry);
    }
    expect(collector.size).toBe(200);
    const batch = collector.take();
    const rules = batch?.counters.filter(([, d]) => d === "rule") ?? [];
    expect(rules.length).toBeLessThanOrEqual(MAX_KEYS_PER_DIMENSION);
    expect(rules.reduce((sum, [, , , n]) => sum + n, 0)).toBe(200);
    expect(collector.take()).toBeUndefined();
  });
});
