/**
 * `npm run bench`: Signet's benchmark suite (never part of `npm test`). One run measures, side by side:
 *
 * 1. the verify path inside workerd: Signet's `verifyRequest` vs a bare WebCrypto verify vs `http-message-sig`;
 * 2. HTTP throughput through Miniflare: a passthrough Worker, Signet unsigned, Signet verifying, Signet verifying
 *    with the Durable Object replay check (autocannon in a second process);
 * 3. the cold start of trust: concurrent first requests from a new agent, and the first request's added latency;
 * 4. isolate heap after 10,000 distinct agents' directories went through the (bounded) key directory cache.
 *
 * Timing: workerd's clocks stand still during CPU work (they only move on I/O), so nothing is timed inside the
 * Worker. Case 1 times whole requests from Node (`performance.now()` around each request, `n` iterations per
 * request, minus a no-op request doing the same loop); case 2 is autocannon's own client-side timing; case 3
 * times each request from Node.
 *
 * Options: `--quick` (short runs, for trying the suite out), `--duration <s>` (HTTP run length, default 8).
 * Results go to `bench/results/<date>.json` and a table to stdout.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import os from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { generateAgentKey, loadAgentKey, signRequest, webBotAuthProfile } from "../agent/index.ts";
import type { BenchSetup } from "./bench-worker.ts";
import type { LoadConfig, LoadResult } from "./load.ts";
import {
  bundle,
  Inspector,
  loopbackAgentProfile,
  machine,
  median,
  percentile,
  ROOT,
  serveDirectory,
  signMany,
  startWorker,
  table,
  versions,
  workerdRss,
} from "./support.ts";

const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, duration: { type: "string" } },
});
const QUICK = args.quick === true;
const HTTP_SECONDS = Number(args.duration ?? (QUICK ? 2 : 8));
const HTTP_WARMUP_SECONDS = QUICK ? 0.5 : 1;
const CONNECTIONS = 16;
const VERIFY_N = 200;
const VERIFY_ROUNDS = QUICK ? 5 : 25;
const VERIFY_WARMUP_ROUNDS = 3;
const COLD_CONCURRENCY = 50;
/** Distinct signed requests sent before the replay run, so all 64 replay shards exist (≈ 40 per shard). */
const REPLAY_PREWARM = 2560;
const MEMORY_AGENTS = QUICK ? 2000 : 10_000;
const INSPECTOR_PORT = 9229 + Math.floor(Math.random() * 500);

const AGENT = "https://agent.bench.example";
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

const startedAt = new Date();
const tmp = mkdtempSync(join(os.tmpdir(), "signet-bench-"));
const results: Record<string, unknown> = {
  date: startedAt.toISOString(),
  machine: machine(),
  /** 1/5/15-minute load averages when the run started: other work on the machine skews every number. */
  loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  versions: versions(),
  settings: {
    quick: QUICK,
    verify: { iterationsPerRequest: VERIFY_N, rounds: VERIFY_ROUNDS, warmupRounds: VERIFY_WARMUP_ROUNDS },
    http: { connections: CONNECTIONS, durationSeconds: HTTP_SECONDS, warmupSeconds: HTTP_WARMUP_SECONDS },
    coldStart: { concurrency: COLD_CONCURRENCY },
    memory: { agents: MEMORY_AGENTS },
  },
};
const stopWatch = performance.now();

try {
  log("bundling the Workers with wrangler deploy --dry-run");
  const signetScript = await bundle("signet", undefined, join(tmp, "signet", "dist"));
  const benchScript = await bundle("signet-bench", "bench/bench-worker.ts", join(tmp, "bench", "dist"));
  const passScript = await bundle("signet-passthrough", "bench/passthrough-worker.ts", join(tmp, "pass", "dist"));

  const agent = await generateAgentKey("ed25519");
  const agentKey = await loadAgentKey(agent.privateJwk);
  const profile = webBotAuthProfile({ agent: AGENT, expiresIn: 3600 });

  results.verify = await verifyPath(benchScript);
  results.memory = await memory(benchScript);

  const policy = {
    rules: [
      { path: "/open/*", require: "none" },
      { path: "/verify/*", require: "verified-agent", replay: "off" },
      { path: "/replay/*", require: "verified-agent" },
      { path: "/cold/*", require: "verified-agent", replay: "off" },
    ],
    pinned: { [AGENT]: [agent.publicJwk] },
    discovery: { unsafeAllowLoopback: true },
  };
  const signet = await startWorker({
    name: "signet",
    script: signetScript,
    bindings: { ORIGIN_URL: "demo:echo", SIGNET_POLICY: JSON.stringify(policy) },
    durableObjects: { REPLAY_STORE: { className: "ReplayStore", useSQLite: true } },
  });
  try {
    results.coldStart = await coldStart(signet.url);
    results.http = await throughput(signet.url, passScript, agentKey, profile);
  } finally {
    await signet.mf.dispose();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
results.runSeconds = round((performance.now() - stopWatch) / 1000);
results.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));

const resultsDir = join(ROOT, "bench", "results");
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}${QUICK ? "-quick" : ""}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${report(results)}\n\nResults: ${file}\n`);

// ---------------------------------------------------------------------------------------------------------------

/** Section 1: the verify path inside workerd, through the bench Worker. */
async function verifyPath(script: string) {
  log("1/4 verify path inside workerd");
  const { mf, url } = await startWorker({ name: "bench", script });
  try {
    const agent = await generateAgentKey("ed25519");
    const signed = await signRequest(
      new Request("https://shop.example/products/42?color=blue", {
        headers: { "user-agent": "BenchBot/1.0 (+https://agent.bench.example)", accept: "text/html" },
      }),
      { key: agent.privateJwk, profile: webBotAuthProfile({ agent: AGENT, expiresIn: 3600 }) },
    );
    const setup: BenchSetup = {
      policy: JSON.stringify({ pinned: { [AGENT]: [agent.publicJwk] } }),
      publicJwk: agent.publicJwk,
      keyid: agent.thumbprint,
      request: { url: signed.url, method: signed.method, headers: [...signed.headers] },
    };
    const answer = (await (
      await fetch(new URL("/setup", url), { method: "POST", body: JSON.stringify(setup) })
    ).json()) as {
      ok: boolean;
      checks: Record<string, boolean>;
      base: string;
    };
    if (!answer.ok) throw new Error(`bench worker setup failed: ${JSON.stringify(answer)}`);

    const cases = ["webcrypto", "signet", "signet-discovered", "peer"] as const;
    const times: Record<string, number[]> = { noop: [] };
    for (const name of cases) times[name] = [];
    const timed = async (name: string) => {
      const start = performance.now();
      const response = await fetch(new URL(`/run?case=${name}&n=${VERIFY_N}`, url));
      const body = (await response.json()) as { failures: number };
      const elapsed = performance.now() - start;
      if (!response.ok || body.failures !== 0) throw new Error(`case ${name} failed: ${JSON.stringify(body)}`);
      return elapsed;
    };
    for (let r = 0; r < VERIFY_WARMUP_ROUNDS + VERIFY_ROUNDS; r++) {
      // Rotate the order each round, so no case always runs right after another.
      const order = ["noop", ...cases.slice(r % cases.length), ...cases.slice(0, r % cases.length)];
      for (const name of order) {
        const elapsed = await timed(name);
        if (r >= VERIFY_WARMUP_ROUNDS) times[name]?.push(elapsed);
      }
    }
    const overhead = median(times.noop ?? []);
    const perOp: Record<string, { usPerOp: number; opsPerSecond: number; spreadUs: [number, number] }> = {};
    for (const name of cases) {
      const samples = (times[name] ?? []).map((ms) => ((ms - overhead) * 1000) / VERIFY_N).sort((a, b) => a - b);
      const us = median(samples);
      perOp[name] = {
        usPerOp: round(us),
        opsPerSecond: Math.round(1e6 / us),
        spreadUs: [round(samples[0] ?? Number.NaN), round(samples[samples.length - 1] ?? Number.NaN)],
      };
    }
    const cost = (name: string) => perOp[name]?.usPerOp ?? Number.NaN;
    return {
      signatureBaseBytes: new TextEncoder().encode(answer.base).byteLength,
      requestOverheadMs: round(overhead, 2),
      cases: perOp,
      ratios: {
        signetCostOverBare: round(cost("signet") / cost("webcrypto"), 2),
        signetDiscoveredCostOverBare: round(cost("signet-discovered") / cost("webcrypto"), 2),
        peerCostOverSignet: round(cost("peer") / cost("signet"), 2),
      },
    };
  } finally {
    await mf.dispose();
  }
}

/** Section 4: isolate heap after many distinct agents went through the key directory cache. */
async function memory(script: string) {
  log(`4/4 memory: ${MEMORY_AGENTS} distinct agents through the key directory cache`);
  const { mf, url } = await startWorker({ name: "bench", script, inspectorPort: INSPECTOR_PORT });
  const inspector = await Inspector.connect(INSPECTOR_PORT, "bench");
  try {
    const post = async (path: string) => {
      const response = await fetch(new URL(path, url), { method: "POST" });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as { agents?: number; size: number; failures?: number };
    };
    // workerd runs this inspector command only when the isolate is next entered: poke it with requests until the
    // collection is done (a single request can finish before the command arrives).
    const collectGarbage = async () => {
      let done = false;
      const gc = inspector.call("HeapProfiler.collectGarbage").then(() => {
        done = true;
      });
      for (let i = 0; !done; i++) {
        if (i === 200) throw new Error("the inspector did not run HeapProfiler.collectGarbage");
        await (await fetch(new URL("/ping", url))).text();
        await Promise.race([gc, new Promise((resolve) => setTimeout(resolve, 20))]);
      }
    };
    const heap = async () => {
      await collectGarbage();
      await collectGarbage();
      const usage = await inspector.call<{ usedSize: number; totalSize: number; embedderHeapUsedSize?: number }>(
        "Runtime.getHeapUsage",
      );
      return { usedBytes: usage.usedSize, totalBytes: usage.totalSize, rssBytes: workerdRss() };
    };
    await post("/memory/reset");
    // One lookup first, so code paths and lazily built tables are in place before the baseline.
    await post("/memory/fill?count=10");
    await post("/memory/reset");
    const points: {
      agentsSeen: number;
      heldKeySets: number;
      usedBytes: number;
      totalBytes: number;
      rssBytes?: number;
    }[] = [];
    const baseline = await heap();
    points.push({ agentsSeen: 0, heldKeySets: 0, ...baseline });
    const start = performance.now();
    let seen = 0;
    let failures = 0;
    for (const target of [500, 1000, 2000, 5000, 10_000].filter((t) => t <= MEMORY_AGENTS)) {
      let last = { size: 0 };
      while (seen < target) {
        const count = Math.min(500, target - seen);
        const answer = await post(`/memory/fill?count=${count}`);
        failures += answer.failures ?? 0;
        seen += count;
        last = answer;
      }
      points.push({ agentsSeen: seen, heldKeySets: last.size, ...(await heap()) });
    }
    const fillSeconds = (performance.now() - start) / 1000;
    const last = points[points.length - 1];
    const full = points.find((p) => p.agentsSeen === 1000) ?? last;
    return {
      method:
        "V8 heap of the bench Worker's isolate, read over Miniflare's inspector (CDP Runtime.getHeapUsage after two " +
        "HeapProfiler.collectGarbage); workerd's performance.memory is absent and process.memoryUsage() returns zeros. " +
        "A key directory cache built as the Worker builds it (keyCacheFor: default bound of 1,000 key sets, Cache API " +
        "tier off) looks up one fresh Ed25519 agent after another; a stub fetch serves each agent's one-key directory.",
      points,
      failures,
      agentsPerSecond: Math.round(seen / fillSeconds),
      heapGrowthBytes: last === undefined ? undefined : last.usedBytes - baseline.usedBytes,
      perHeldKeySetBytes:
        full === undefined || full.heldKeySets === 0
          ? undefined
          : Math.round((full.usedBytes - baseline.usedBytes) / full.heldKeySets),
    };
  } finally {
    inspector.close();
    await mf.dispose();
  }
}

/** A GET over a fresh connection (no keep-alive), timed from Node. */
function timedGet(url: string, headers: [string, string][]): Promise<{ ms: number; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const request = httpRequest(url, { headers: Object.fromEntries(headers), agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          ms: performance.now() - start,
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    request.on("error", reject);
    request.end();
  });
}

/** Section 3: the first requests of an agent nobody has seen. */
async function coldStart(signetUrl: URL) {
  log(`3/4 cold start: ${COLD_CONCURRENCY} concurrent first requests from a new agent`);
  const target = new URL("/cold/item", signetUrl).href;
  // Warm the isolate: configuration, attester, code paths (an unsigned request and a discovered agent).
  const warmAgent = await generateAgentKey("ed25519");
  const warmServer = await serveDirectory(warmAgent.privateJwk);
  const warmKey = await loadAgentKey(warmAgent.privateJwk);
  for (const headers of await signMany(target, warmKey, loopbackAgentProfile(warmServer.origin), 5)) {
    const { status, body } = await timedGet(target, headers);
    if (status !== 200) throw new Error(`cold-start warm-up: ${status} ${body}`);
  }
  await warmServer.close();

  const summary = (samples: readonly number[]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    return { p50Ms: round(percentile(sorted, 50), 2), maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 2) };
  };

  // A burst of concurrent first requests, then a burst of the same size once the key set is held.
  const burstAgent = await generateAgentKey("ed25519");
  const burstServer = await serveDirectory(burstAgent.privateJwk);
  const burstKey = await loadAgentKey(burstAgent.privateJwk);
  const profile = loopbackAgentProfile(burstServer.origin);
  const coldHeaders = await signMany(target, burstKey, profile, COLD_CONCURRENCY);
  const warmHeaders = await signMany(target, burstKey, profile, COLD_CONCURRENCY);
  const cold = await Promise.all(coldHeaders.map((h) => timedGet(target, h)));
  const fetchesAfterCold = burstServer.fetches();
  const warm = await Promise.all(warmHeaders.map((h) => timedGet(target, h)));
  const fetchesAfterWarm = burstServer.fetches();
  await burstServer.close();

  // One first request on its own, then warm requests one at a time.
  const soloAgent = await generateAgentKey("ed25519");
  const soloServer = await serveDirectory(soloAgent.privateJwk);
  const soloKey = await loadAgentKey(soloAgent.privateJwk);
  const soloHeaders = await signMany(target, soloKey, loopbackAgentProfile(soloServer.origin), 21);
  const sequential: number[] = [];
  let failures = 0;
  for (const headers of soloHeaders) {
    const { ms, status } = await timedGet(target, headers);
    if (status !== 200) failures++;
    sequential.push(ms);
  }
  const soloFetches = soloServer.fetches();
  await soloServer.close();
  const first = sequential[0] ?? Number.NaN;
  const warmSequential = median(sequential.slice(1));

  const ok = (list: readonly { status: number }[]) => list.filter((r) => r.status === 200).length;
  return {
    concurrent: {
      requests: COLD_CONCURRENCY,
      directoryFetches: fetchesAfterCold,
      directoryFetchesAfterWarmBurst: fetchesAfterWarm,
      accepted: ok(cold),
      cold: summary(cold.map((r) => r.ms)),
      warm: { ...summary(warm.map((r) => r.ms)), accepted: ok(warm) },
    },
    sequential: {
      firstMs: round(first, 2),
      warmMedianMs: round(warmSequential, 2),
      addedMs: round(first - warmSequential, 2),
      directoryFetches: soloFetches,
      failures,
    },
  };
}

/** Runs the load generator in its own process. */
async function load(config: LoadConfig): Promise<LoadResult> {
  const file = join(tmp, `load-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const loadScript = join(ROOT, "bench", "load.ts");
  const { stdout } = await promisify(execFile)(process.execPath, [loadScript, file], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as LoadResult;
}

/** Section 2: HTTP throughput through Miniflare, loaded by autocannon from a second process. */
async function throughput(
  signetUrl: URL,
  passScript: string,
  agentKey: Awaited<ReturnType<typeof loadAgentKey>>,
  profile: ReturnType<typeof webBotAuthProfile>,
) {
  log(`2/4 HTTP throughput (${HTTP_SECONDS} s each, ${CONNECTIONS} connections)`);
  const base = { connections: CONNECTIONS, durationSeconds: HTTP_SECONDS, warmupSeconds: HTTP_WARMUP_SECONDS };
  const check = async (url: string, headers: [string, string][], replay: string | undefined) => {
    const { status, body } = await timedGet(url, headers);
    if (status !== 200) throw new Error(`${url}: ${status} ${body}`);
    const echoed = JSON.parse(body) as { headers: Record<string, string> };
    const agent = echoed.headers["verified-agent"];
    if (replay !== undefined && !agent?.includes(`replay=${replay}`)) {
      throw new Error(`${url}: expected a verified agent with replay=${replay}, got ${agent}`);
    }
  };

  const rows: Record<string, LoadResult & { label: string }> = {};

  const pass = await startWorker({ name: "passthrough", script: passScript });
  try {
    const url = new URL("/open/item", pass.url).href;
    await check(url, [], undefined);
    log("   passthrough Worker");
    rows.passthrough = { label: "passthrough Worker → echo (unsigned)", ...(await load({ url, ...base })) };
  } finally {
    await pass.mf.dispose();
  }

  const openUrl = new URL("/open/item", signetUrl).href;
  await check(openUrl, [], undefined);
  log("   Signet, unsigned");
  rows.signetUnsigned = { label: "Signet, unsigned on a `none` route", ...(await load({ url: openUrl, ...base })) };

  const verifyUrl = new URL("/verify/item", signetUrl).href;
  const [verifyHeaders] = await signMany(verifyUrl, agentKey, profile, 1);
  await check(verifyUrl, verifyHeaders ?? [], "off");
  log("   Signet, verifying (replay off)");
  rows.signetVerify = {
    label: "Signet, signed + verified (pinned, replay off)",
    ...(await load({ url: verifyUrl, headers: Object.fromEntries(verifyHeaders ?? []), ...base })),
  };

  // Every request of the replay run must be a new signature: pre-sign more than the verify run managed.
  const replayUrl = new URL("/replay/item", signetUrl).href;
  const poolSize =
    Math.ceil(rows.signetVerify.requestsPerSecond * (HTTP_SECONDS + HTTP_WARMUP_SECONDS) * 1.3) + 1000 + REPLAY_PREWARM;
  log(`   pre-signing ${poolSize} distinct requests`);
  const signStart = performance.now();
  const pool = await signMany(replayUrl, agentKey, profile, poolSize + 1);
  const signSeconds = (performance.now() - signStart) / 1000;
  await check(replayUrl, pool.pop() ?? [], "checked");
  // Bring all replay shards (Durable Objects, each creating its SQLite table on first use) up before measuring:
  // 40 signatures per shard on average, 16 at a time. These signatures are not reused.
  const prewarm = pool.splice(0, REPLAY_PREWARM);
  for (let i = 0; i < prewarm.length; i += CONNECTIONS) {
    const answers = await Promise.all(prewarm.slice(i, i + CONNECTIONS).map((h) => timedGet(replayUrl, h)));
    const refused = answers.find((a) => a.status !== 200);
    if (refused !== undefined) throw new Error(`replay pre-warm: ${refused.status} ${refused.body}`);
  }
  const poolFile = join(tmp, "pool.json");
  writeFileSync(poolFile, JSON.stringify(pool));
  log("   Signet, verifying + replay check");
  rows.signetReplay = {
    label: "Signet, signed + verified + replay check (DO)",
    ...(await load({ url: replayUrl, poolFile, ...base })),
  };

  const passRps = rows.passthrough.requestsPerSecond;
  const unsignedRps = rows.signetUnsigned.requestsPerSecond;
  const ratios: Record<string, { ofPassthrough: number; ofSignetUnsigned: number }> = {};
  for (const [name, row] of Object.entries(rows)) {
    ratios[name] = {
      ofPassthrough: round(row.requestsPerSecond / passRps, 3),
      ofSignetUnsigned: round(row.requestsPerSecond / unsignedRps, 3),
    };
  }
  return {
    rows,
    ratios,
    replayPool: { size: pool.length, prewarmRequests: prewarm.length, signSeconds: round(signSeconds, 1) },
  };
}

// ---------------------------------------------------------------------------------------------------------------

/** The human-readable summary: one table per section, with targets. */
function report(r: Record<string, unknown>): string {
  type Verify = Awaited<ReturnType<typeof verifyPath>>;
  type Http = Awaited<ReturnType<typeof throughput>>;
  type Cold = Awaited<ReturnType<typeof coldStart>>;
  type Memory = Awaited<ReturnType<typeof memory>>;
  const verify = r.verify as Verify;
  const http = r.http as Http;
  const cold = r.coldStart as Cold;
  const mem = r.memory as Memory;
  const m = r.machine as Record<string, string | number>;
  const v = r.versions as Record<string, string>;
  const mark = (ok: boolean) => (ok ? "met" : "MISSED");
  const fmt = (n: number) => n.toLocaleString("en-US");
  const mib = (bytes: number | undefined) => (bytes === undefined ? "n/a" : `${round(bytes / 1024 ** 2, 2)} MiB`);
  const out: string[] = [];
  out.push(
    `Signet benchmarks, ${String(r.date).slice(0, 19).replace("T", " ")} UTC: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; ` +
      `Node ${v.node}, workerd ${v.workerd}, wrangler ${v.wrangler}, miniflare ${v.miniflare}; ` +
      `load average at start ${(r.loadAverageAtStart as number[]).join(" ")}`,
  );

  const c = verify.cases;
  const cost = (name: keyof typeof c) => c[name]?.usPerOp ?? Number.NaN;
  out.push(
    "",
    `1. Verify path inside workerd (Ed25519, dictionary Signature-Agent, 4 components, ${verify.signatureBaseBytes}-byte base; ` +
      `${VERIFY_N} per request, median of ${VERIFY_ROUNDS} requests)`,
    "",
    table(
      ["case", "µs/op", "ops/s", "vs bare WebCrypto"],
      [
        ["bare WebCrypto crypto.subtle.verify", cost("webcrypto"), fmt(c.webcrypto?.opsPerSecond ?? 0), "1.00×"],
        [
          "Signet verifyRequest (pinned key)",
          cost("signet"),
          fmt(c.signet?.opsPerSecond ?? 0),
          `${verify.ratios.signetCostOverBare}×`,
        ],
        [
          "Signet verifyRequest (discovered key, warm)",
          cost("signet-discovered"),
          fmt(c["signet-discovered"]?.opsPerSecond ?? 0),
          `${verify.ratios.signetDiscoveredCostOverBare}×`,
        ],
        [
          "http-message-sig@0.3.0 verifySignature",
          cost("peer"),
          fmt(c.peer?.opsPerSecond ?? 0),
          `${round(cost("peer") / cost("webcrypto"), 2)}×`,
        ],
      ],
    ),
    "",
    `Targets: Signet ≤ 1.3× bare cost: ${verify.ratios.signetCostOverBare}× (${mark(verify.ratios.signetCostOverBare <= 1.3)}); ` +
      `Signet ≥ 2× faster than the peer: ${verify.ratios.peerCostOverSignet}× (${mark(verify.ratios.peerCostOverSignet >= 2)})`,
  );

  const rows = http.rows;
  const order = ["passthrough", "signetUnsigned", "signetVerify", "signetReplay"] as const;
  out.push(
    "",
    `2. HTTP through Miniflare (autocannon, ${CONNECTIONS} connections, ${HTTP_SECONDS} s after ${HTTP_WARMUP_SECONDS} s warm-up, separate process)`,
    "",
    table(
      ["configuration", "req/s", "p50 ms", "p99 ms", "non-2xx", "of passthrough", "of Signet unsigned"],
      order.map((name) => {
        const row = rows[name];
        const ratio = http.ratios[name];
        return [
          row?.label ?? name,
          fmt(Math.round(row?.requestsPerSecond ?? 0)),
          row?.latencyMs.p50 ?? "",
          row?.latencyMs.p99 ?? "",
          (row?.non2xx ?? 0) + (row?.errors ?? 0),
          `${round((ratio?.ofPassthrough ?? 0) * 100)}%`,
          `${round((ratio?.ofSignetUnsigned ?? 0) * 100)}%`,
        ];
      }),
    ),
    "",
    `Targets (of passthrough): verification ≥ 75%: ${round((http.ratios.signetVerify?.ofPassthrough ?? 0) * 100)}% ` +
      `(${mark((http.ratios.signetVerify?.ofPassthrough ?? 0) >= 0.75)}); with replay check ≥ 60%: ` +
      `${round((http.ratios.signetReplay?.ofPassthrough ?? 0) * 100)}% (${mark((http.ratios.signetReplay?.ofPassthrough ?? 0) >= 0.6)})`,
  );

  out.push(
    "",
    "3. Cold start of trust (directory on a loopback Node server)",
    "",
    table(
      ["measure", "value"],
      [
        [
          `${cold.concurrent.requests} concurrent first requests: directory fetches`,
          `${cold.concurrent.directoryFetches} (after a warm burst too: ${cold.concurrent.directoryFetchesAfterWarmBurst})`,
        ],
        ["  accepted (200), cold / warm burst", `${cold.concurrent.accepted} / ${cold.concurrent.warm.accepted}`],
        ["  latency p50 / max, cold burst", `${cold.concurrent.cold.p50Ms} / ${cold.concurrent.cold.maxMs} ms`],
        ["  latency p50 / max, warm burst", `${cold.concurrent.warm.p50Ms} / ${cold.concurrent.warm.maxMs} ms`],
        [
          "first request alone vs warm (median of 20)",
          `${cold.sequential.firstMs} vs ${cold.sequential.warmMedianMs} ms`,
        ],
        ["added latency of the first request", `${cold.sequential.addedMs} ms`],
      ],
    ),
  );

  const last = mem.points[mem.points.length - 1];
  const base = mem.points[0];
  out.push(
    "",
    `4. Memory: isolate heap (V8 used, after GC) as distinct agents' directories pass the bounded cache`,
    "",
    table(
      ["agents seen", "key sets held", "V8 heap used", "workerd RSS"],
      mem.points.map((p) => [fmt(p.agentsSeen), fmt(p.heldKeySets), mib(p.usedBytes), mib(p.rssBytes)]),
    ),
    "",
    `Growth ${mib(base && last ? last.usedBytes - base.usedBytes : undefined)} after ${fmt(last?.agentsSeen ?? 0)} agents ` +
      `(≈ ${fmt(mem.perHeldKeySetBytes ?? 0)} bytes per held key set); ${fmt(mem.agentsPerSecond)} new agents/s ingested (key generation in the isolate included).`,
  );
  return out.join("\n");
}
