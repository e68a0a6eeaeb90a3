/**
 * The load generator of the HTTP benchmark, run by `bench/run.ts` as a separate Node process so that the client's
 * CPU is not the runner's: `node bench/load.ts <config.json>`. It runs autocannon against one URL, first a short
 * warm-up, then the measured run, and prints one JSON result on stdout.
 *
 * With `cpuPid`, it also reads the CPU time of that (workerd) process from `/proc` right before and right after
 * the measured run, so the warm-up and the process start-up are not counted.
 *
 * With `poolFile`, every request (warm-up included) takes the next pre-signed header set from the pool, so no two
 * requests carry the same signature; a pool that runs out shows up as `poolExhausted` (and as 401 replays).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { processCpuUs, threadsCpuUs } from "./proc.ts";

/** What the runner asks for. */
export interface LoadConfig {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** Headers sent with every request. */
  readonly headers?: Record<string, string> | undefined;
  /** A JSON file holding an array of header-line arrays, one per request. */
  readonly poolFile?: string | undefined;
  /** The workerd process serving the URL, whose CPU time the measured run is charged. */
  readonly cpuPid?: number | undefined;
}

/** What the runner gets back. */
export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** CPU time of `cpuPid` during the measured run, in microseconds (`undefined` without `/proc`). */
  readonly cpuUs?: number | undefined;
  /** `cpuUs` per completed request. */
  readonly cpuUsPerRequest?: number | undefined;
  /** The same from the threads' nanosecond scheduler counters (`threadsCpuUs`), as a cross-check. */
  readonly threadsCpuUsPerRequest?: number | undefined;
  readonly poolUsed?: number | undefined;
  readonly poolExhausted?: boolean | undefined;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, "utf8")) as LoadConfig;
const pool = config.poolFile ? (JSON.parse(readFileSync(config.poolFile, "utf8")) as [string, string][][]) : undefined;
let next = 0;
let exhausted = false;

function options(duration: number): autocannon.Options {
  const base: autocannon.Options = {
    url: config.url,
    connections: config.connections,
    duration,
    headers: config.headers,
  };
  if (pool === undefined) return base;
  return {
    ...base,
    requests: [
      {
        method: "GET",
        setupRequest: (request) => {
          if (next >= pool.length) exhausted = true;
          const lines = pool[next++ % pool.length] as [string, string][];
          request.headers = { ...request.headers, ...Object.fromEntries(lines) };
          return request;
        },
      },
    ],
  };
}

if (config.warmupSeconds > 0) await autocannon(options(config.warmupSeconds));
const cpuBefore = processCpuUs(config.cpuPid);
const threadsBefore = threadsCpuUs(config.cpuPid);
const result = await autocannon(options(config.durationSeconds));
const cpuAfter = processCpuUs(config.cpuPid);
const threadsAfter = threadsCpuUs(config.cpuPid);
const cpuUs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
const threadsUs = threadsBefore === undefined || threadsAfter === undefined ? undefined : threadsAfter - threadsBefore;
const output: LoadResult = {
  requestsPerSecond: result.requests.average,
  total: result.requests.total,
  latencyMs: {
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    mean: result.latency.average,
  },
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  cpuUs,
  cpuUsPerRequest: cpuUs === undefined || result.requests.total === 0 ? undefined : cpuUs / result.requests.total,
  threadsCpuUsPerRequest:
    threadsUs === undefined || result.requests.total === 0 ? undefined : threadsUs / result.requests.total,
  poolUsed: pool === undefined ? undefined : next,
  poolExhausted: pool === undefined ? undefined : exhausted,
};
process.stdout.write(`${JSON.stringify(output)}\n`);
