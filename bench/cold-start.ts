/**
 * The cold-start section of `npm run bench`: the first requests of an agent nobody has seen, against Signet in
 * Miniflare, with the agent's key directory on a loopback Node server. A burst of concurrent first requests (how
 * many directory fetches, how long they wait), a burst once the key set is held, and one first request on its own
 * against warm ones. Each request is timed from Node over a fresh connection.
 *
 * @example
 * ```ts
 * const result = await coldStartSection.run(context);
 * process.stdout.write(coldStartSection.report(result));
 * ```
 *
 * @module
 */
import { request as httpRequest } from "node:http";
import { generateAgentKey, loadAgentKey } from "../agent/index.ts";
import {
  type BenchContext,
  loopbackAgentProfile,
  median,
  percentile,
  round,
  type Section,
  serveDirectory,
  signMany,
  startWorker,
  table,
} from "./support.ts";

const COLD_CONCURRENCY = 50;

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

async function coldStart(signetUrl: URL) {
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

/**
 * The section's result (the JSON under `coldStart`).
 *
 * @example
 * ```ts
 * const result: ColdStartResult = await coldStartSection.run(context);
 * result.concurrent.directoryFetches; // 1
 * ```
 */
export type ColdStartResult = Awaited<ReturnType<typeof coldStart>>;

/**
 * The cold-start section.
 *
 * @example
 * ```ts
 * process.stdout.write(coldStartSection.report(await coldStartSection.run(context)));
 * ```
 */
export const coldStartSection: Section<ColdStartResult> = {
  key: "coldStart",
  title: "Cold start of trust (directory on a loopback Node server)",
  async run(context: BenchContext): Promise<ColdStartResult> {
    context.log(`   ${COLD_CONCURRENCY} concurrent first requests from a new agent`);
    const policy = {
      rules: [{ path: "/cold/*", require: "verified-agent", replay: "off" }],
      discovery: { unsafeAllowLoopback: true },
    };
    const signet = await startWorker({
      name: "signet",
      script: context.scripts.signet,
      bindings: { ORIGIN_URL: "demo:echo", SIGNET_POLICY: JSON.stringify(policy) },
      durableObjects: { REPLAY_STORE: { className: "ReplayStore", useSQLite: true } },
    });
    try {
      return await coldStart(signet.url);
    } finally {
      await signet.mf.dispose();
    }
  },
  report(cold: ColdStartResult): string {
    return table(
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
    );
  },
};
