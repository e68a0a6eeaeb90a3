/**
 * The HTTP section of `npm run bench`: throughput and workerd CPU per request, against the floor.
 *
 * Three Workers, each in its own Miniflare and so its own workerd process: the passthrough Worker, the floor
 * Worker (`floor-worker.ts`: one Ed25519 verify and one sign per request, nothing else) and Signet. Each is reached
 * two ways: over a direct workerd socket (`unsafeDirectSockets`, no Miniflare entry Worker in front, closest to
 * production) and, for continuity with earlier runs, through Miniflare's entry Worker.
 *
 * Rows, all in the same run: passthrough with unsigned requests; passthrough with the same signed requests Signet
 * verifies (same request size); the floor; Signet unsigned on a `none` route; Signet verifying (pinned key, replay
 * off); Signet verifying with the Durable Object replay check (every request a new signature). Three rounds (two
 * with `--quick`), interleaved: each round runs every row once, in an order rotated from round to round, so slow
 * spells of a shared machine spread over all rows. Each row reports requests per second (autocannon, in its own
 * process) and the CPU time (user + system) the serving workerd process spent per request during the measured
 * run, read from `/proc/<pid>/stat` by the load process right before and after it: workerd runs the Worker's
 * JavaScript on one thread, so CPU per request is the steadier measure on a shared machine.
 *
 * @example
 * ```ts
 * const result = await throughputSection.run(context);
 * process.stdout.write(throughputSection.report(result));
 * ```
 *
 * @module
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateAgentKey, loadAgentKey, webBotAuthProfile } from "../agent/index.ts";
import type { LoadConfig, LoadResult } from "./load.ts";
import {
  type BenchContext,
  ROOT,
  round,
  type Section,
  type StartedWorker,
  signMany,
  spread,
  startWorker,
  table,
} from "./support.ts";

const CONNECTIONS = 16;
const AGENT = "https://agent.bench.example";
/** Distinct signed requests sent before the replay rows, so all 64 replay shards exist (≈ 40 per shard). */
const REPLAY_PREWARM = 2560;

/** How a row reaches its Worker. */
type Via = "direct" | "entry";
const VIAS: readonly Via[] = ["direct", "entry"];

/** The rows, in their order in the report. */
const ROWS = [
  "passthroughUnsigned",
  "passthroughSigned",
  "floor",
  "signetUnsigned",
  "signetVerify",
  "signetReplay",
] as const;
type Row = (typeof ROWS)[number];

const LABELS: Record<Row, string> = {
  passthroughUnsigned: "passthrough → echo, unsigned requests",
  passthroughSigned: "passthrough → echo, the signed requests",
  floor: "floor: read headers, 1 verify + 1 sign → echo",
  signetUnsigned: "Signet, unsigned on a `none` route",
  signetVerify: "Signet, verified (pinned key, replay off)",
  signetReplay: "Signet, verified + replay check (Durable Object)",
};

/** One measured run of one row. */
interface Sample {
  readonly round: number;
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly cpuUsPerRequest: number | undefined;
  /** The same from the threads' scheduler counters (nanosecond resolution), as a cross-check. */
  readonly threadsCpuUsPerRequest: number | undefined;
  readonly latencyMs: LoadResult["latencyMs"];
  /** Non-2xx responses plus connection errors: any is a broken run. */
  readonly failures: number;
  readonly poolExhausted?: boolean | undefined;
}

/** Min, median and max over the rounds. */
type Spread = ReturnType<typeof spread>;

/**
 * The section's result (the JSON under `http`).
 *
 * @example
 * ```ts
 * const result: ThroughputResult = await throughputSection.run(context);
 * result.ratios.direct["signetVerify/floor"]?.cpu.median; // e.g. 0.49
 * ```
 */
export interface ThroughputResult {
  readonly settings: {
    readonly connections: number;
    readonly durationSeconds: number;
    readonly warmupSeconds: number;
    readonly rounds: number;
  };
  readonly labels: Record<Row, string>;
  /** Per way in, per row: every round's sample and the spread of each measure. */
  readonly rows: Record<
    Via,
    Record<Row, { samples: Sample[]; requestsPerSecond: Spread; cpuUsPerRequest: Spread; failures: number }>
  >;
  /** Ratios of one row to another, computed within each round (so both sides saw the same machine), then spread. */
  readonly ratios: Record<Via, Record<string, { throughput: Spread; cpu: Spread }>>;
  readonly replayPool: { readonly signed: number; readonly signSeconds: number };
  /** Runs repeated because no request completed in them. */
  readonly repeatedRuns: number;
}

/** The ratios the report shows: `[name, numerator, denominator]`, as throughput of one over the other. */
const RATIOS: readonly (readonly [string, Row, Row])[] = [
  ["signetVerify/floor", "signetVerify", "floor"],
  ["signetUnsigned/passthroughUnsigned", "signetUnsigned", "passthroughUnsigned"],
  ["signetReplay/signetVerify", "signetReplay", "signetVerify"],
  ["floor/passthroughSigned", "floor", "passthroughSigned"],
  ["signetVerify/passthroughSigned", "signetVerify", "passthroughSigned"],
  ["signetReplay/passthroughSigned", "signetReplay", "passthroughSigned"],
];

/** A GET over a fresh connection (no keep-alive). */
function get(url: string, headers: readonly [string, string][]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: Object.fromEntries(headers), agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end();
  });
}

/** One request must be forwarded to the echo origin, and for Signet rows carry the expected `Verified-Agent`. */
async function check(url: string, headers: readonly [string, string][], replay?: "off" | "checked"): Promise<void> {
  const { status, body } = await get(url, headers);
  if (status !== 200) throw new Error(`${url}: ${status} ${body.slice(0, 500)}`);
  if (replay === undefined) return;
  const agent = (JSON.parse(body) as { headers: Record<string, string> }).headers["verified-agent"];
  if (!agent?.includes(`replay=${replay}`)) {
    throw new Error(`${url}: expected a verified agent with replay=${replay}, got ${agent}`);
  }
}

/** Runs the load generator (`load.ts`) in its own process. */
async function load(tmp: string, config: LoadConfig): Promise<LoadResult> {
  const file = join(tmp, `load-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "bench", "load.ts"), file], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as LoadResult;
}

/**
 * The HTTP section.
 *
 * @example
 * ```ts
 * const result = await throughputSection.run(context);
 * process.stdout.write(throughputSection.report(result));
 * ```
 */
export const throughputSection: Section<ThroughputResult> = {
  key: "http",
  title: "HTTP throughput and workerd CPU per request",
  async run(context: BenchContext): Promise<ThroughputResult> {
    const { quick, tmp, scripts, log } = context;
    const durationSeconds = quick ? 1 : 3;
    const warmupSeconds = quick ? 0.3 : 0.5;
    const rounds = quick ? 2 : 3;
    const base = { connections: CONNECTIONS, durationSeconds, warmupSeconds };

    const agent = await generateAgentKey("ed25519");
    const agentKey = await loadAgentKey(agent.privateJwk);
    const profile = webBotAuthProfile({ agent: AGENT, expiresIn: 3600 });
    const policy = {
      rules: [
        { path: "/open/*", require: "none" },
        { path: "/verify/*", require: "verified-agent", replay: "off" },
        { path: "/replay/*", require: "verified-agent" },
      ],
      pinned: { [AGENT]: [agent.publicJwk] },
    };

    const started: StartedWorker[] = [];
    try {
      const start = async (options: Parameters<typeof startWorker>[0]) => {
        const worker = await startWorker({ ...options, directSocket: true });
        started.push(worker);
        if (worker.pid === undefined) log(`   no workerd pid found for ${options.name}: CPU per request not measured`);
        return worker;
      };
      const pass = await start({ name: "passthrough", script: scripts.passthrough });
      const floor = await start({
        name: "floor",
        script: scripts.floor,
        bindings: { FLOOR_AGENT_JWK: JSON.stringify(agent.publicJwk) },
      });
      const signet = await start({
        name: "signet",
        script: scripts.signet,
        bindings: { ORIGIN_URL: "demo:echo", SIGNET_POLICY: JSON.stringify(policy) },
        durableObjects: { REPLAY_STORE: { className: "ReplayStore", useSQLite: true } },
      });
      const workers: Record<Row, StartedWorker> = {
        passthroughUnsigned: pass,
        passthroughSigned: pass,
        floor,
        signetUnsigned: signet,
        signetVerify: signet,
        signetReplay: signet,
      };
      const paths: Record<Row, string> = {
        passthroughUnsigned: "/open/item",
        passthroughSigned: "/verify/item",
        floor: "/verify/item",
        signetUnsigned: "/open/item",
        signetVerify: "/verify/item",
        signetReplay: "/replay/item",
      };
      const urlOf = (row: Row, via: Via) =>
        new URL(paths[row], via === "direct" ? workers[row].directUrl : workers[row].url).href;

      // One signed request per fixed row and way in (the signature covers @authority, which differs per socket).
      const headersOf = new Map<string, [string, string][]>();
      for (const via of VIAS) {
        for (const row of ["passthroughSigned", "floor", "signetVerify"] as const) {
          const [headers] = await signMany(urlOf(row, via), agentKey, profile, 1);
          headersOf.set(`${row}/${via}`, headers ?? []);
        }
        await check(urlOf("passthroughUnsigned", via), []);
        await check(urlOf("passthroughSigned", via), headersOf.get(`passthroughSigned/${via}`) ?? []);
        await check(urlOf("floor", via), headersOf.get(`floor/${via}`) ?? []);
        await check(urlOf("signetUnsigned", via), []);
        await check(urlOf("signetVerify", via), headersOf.get(`signetVerify/${via}`) ?? [], "off");
      }

      // Replay rows need a new signature per request. Size the pools from a short calibration run of Signet
      // verifying (which also warms its isolate), and bring every replay shard up before measuring.
      log("   calibrating the replay pool, pre-warming the replay shards");
      const calibration = await load(tmp, {
        url: urlOf("signetVerify", "direct"),
        headers: Object.fromEntries(headersOf.get("signetVerify/direct") ?? []),
        connections: CONNECTIONS,
        durationSeconds: 1,
        warmupSeconds: 0,
      });
      const perRun = Math.ceil(calibration.requestsPerSecond * (durationSeconds + warmupSeconds) * 1.5) + 500;
      const prewarm = await signMany(urlOf("signetReplay", "direct"), agentKey, profile, REPLAY_PREWARM);
      for (let i = 0; i < prewarm.length; i += CONNECTIONS) {
        const answers = await Promise.all(
          prewarm.slice(i, i + CONNECTIONS).map((h) => get(urlOf("signetReplay", "direct"), h)),
        );
        const refused = answers.find((a) => a.status !== 200);
        if (refused !== undefined) throw new Error(`replay pre-warm: ${refused.status} ${refused.body.slice(0, 500)}`);
      }
      await check(
        urlOf("signetReplay", "entry"),
        (await signMany(urlOf("signetReplay", "entry"), agentKey, profile, 1))[0] ?? [],
        "checked",
      );
      let signed = 0;
      let signMs = 0;
      let repeated = 0;
      const poolFor = async (via: Via) => {
        const startedAt = performance.now();
        const pool = await signMany(urlOf("signetReplay", via), agentKey, profile, perRun);
        signMs += performance.now() - startedAt;
        signed += pool.length;
        const file = join(tmp, `pool-${Math.random().toString(36).slice(2)}.json`);
        writeFileSync(file, JSON.stringify(pool));
        return file;
      };

      const samples = Object.fromEntries(
        VIAS.map((via) => [via, Object.fromEntries(ROWS.map((row) => [row, [] as Sample[]]))]),
      ) as Record<Via, Record<Row, Sample[]>>;
      for (let r = 0; r < rounds; r++) {
        for (const via of VIAS) {
          const shift = (r + (via === "entry" ? 1 : 0)) % ROWS.length;
          const order = [...ROWS.slice(shift), ...ROWS.slice(0, shift)];
          for (const row of order) {
            const config: LoadConfig = {
              ...base,
              url: urlOf(row, via),
              cpuPid: workers[row].pid,
              ...(row === "signetReplay"
                ? { poolFile: await poolFor(via) }
                : { headers: Object.fromEntries(headersOf.get(`${row}/${via}`) ?? []) }),
            };
            log(`   round ${r + 1}/${rounds}, ${via}: ${LABELS[row]}`);
            let result = await load(tmp, config);
            // A run in which no request completed (the load process or workerd starved on a busy machine) says
            // nothing about the row: run it once more, with a fresh pool, and record that it was repeated.
            if (result.total === 0) {
              repeated++;
              log("   no request completed: running the row again");
              result = await load(tmp, row === "signetReplay" ? { ...config, poolFile: await poolFor(via) } : config);
            }
            samples[via][row].push({
              round: r + 1,
              requestsPerSecond: round(result.requestsPerSecond),
              total: result.total,
              cpuUsPerRequest: result.cpuUsPerRequest === undefined ? undefined : round(result.cpuUsPerRequest),
              threadsCpuUsPerRequest:
                result.threadsCpuUsPerRequest === undefined ? undefined : round(result.threadsCpuUsPerRequest),
              latencyMs: result.latencyMs,
              failures: result.non2xx + result.errors + result.timeouts,
              ...(row === "signetReplay" ? { poolExhausted: result.poolExhausted } : {}),
            });
          }
        }
      }

      const rows = {} as ThroughputResult["rows"];
      const ratios = {} as ThroughputResult["ratios"];
      for (const via of VIAS) {
        rows[via] = {} as ThroughputResult["rows"][Via];
        for (const row of ROWS) {
          const list = samples[via][row];
          rows[via][row] = {
            samples: list,
            requestsPerSecond: spread(list.map((s) => s.requestsPerSecond)),
            cpuUsPerRequest: spread(list.map((s) => s.cpuUsPerRequest ?? Number.NaN)),
            failures: list.reduce((sum, s) => sum + s.failures, 0),
          };
        }
        ratios[via] = {};
        for (const [name, top, bottom] of RATIOS) {
          const throughput: number[] = [];
          const cpu: number[] = [];
          for (let r = 0; r < rounds; r++) {
            const a = samples[via][top][r];
            const b = samples[via][bottom][r];
            if (a === undefined || b === undefined) continue;
            throughput.push(round(a.requestsPerSecond / b.requestsPerSecond, 3));
            // Throughput one core would reach, CPU-bound: the inverse ratio of CPU per request.
            if (a.cpuUsPerRequest !== undefined && b.cpuUsPerRequest !== undefined) {
              cpu.push(round(b.cpuUsPerRequest / a.cpuUsPerRequest, 3));
            }
          }
          ratios[via][name] = { throughput: spread(throughput), cpu: spread(cpu) };
        }
      }
      return {
        settings: { ...base, rounds },
        labels: LABELS,
        rows,
        ratios,
        replayPool: { signed, signSeconds: round(signMs / 1000) },
        repeatedRuns: repeated,
      };
    } finally {
      for (const worker of started) await worker.mf.dispose();
    }
  },
  report(result: ThroughputResult): string {
    const { settings } = result;
    const fmt = (s: Spread, digits = 0) =>
      Number.isNaN(s.median)
        ? "n/a"
        : `${round(s.median, digits).toLocaleString("en-US")} (${round(s.min, digits).toLocaleString("en-US")}–${round(s.max, digits).toLocaleString("en-US")})`;
    const pct = (s: Spread) =>
      Number.isNaN(s.median) ? "n/a" : `${round(s.median * 100)}% (${round(s.min * 100)}–${round(s.max * 100)})`;
    const busy = (samples: readonly Sample[]) => {
      const s = spread(samples.map((x) => (x.requestsPerSecond * (x.cpuUsPerRequest ?? Number.NaN)) / 1e6));
      return Number.isNaN(s.median) ? "n/a" : `${round(s.median * 100)}%`;
    };
    const out: string[] = [
      `HTTP through Miniflare: autocannon in its own process, ${settings.connections} connections, ` +
        `${settings.durationSeconds} s after ${settings.warmupSeconds} s warm-up, ${settings.rounds} interleaved rounds; ` +
        "median (min–max) over the rounds. CPU: user + system time of the serving workerd process per request; " +
        "workerd busy: req/s × CPU per request (near 100%: CPU-bound; well below: waiting, or starved by other work)" +
        (result.repeatedRuns > 0 ? `; ${result.repeatedRuns} run(s) repeated because no request completed.` : "."),
    ];
    for (const via of VIAS) {
      out.push(
        "",
        via === "direct"
          ? "Direct sockets (no Miniflare entry Worker in front; closest to production):"
          : "Through Miniflare's entry Worker (as in earlier runs; it adds its own CPU to every request):",
        "",
        table(
          ["row", "req/s", "CPU µs/req", "workerd busy", "p50 ms", "p99 ms", "failed"],
          ROWS.map((row) => {
            const r = result.rows[via][row];
            const p50 = spread(r.samples.map((s) => s.latencyMs.p50));
            const p99 = spread(r.samples.map((s) => s.latencyMs.p99));
            return [
              result.labels[row],
              fmt(r.requestsPerSecond),
              fmt(r.cpuUsPerRequest),
              // CPU-bound rows keep workerd's JavaScript thread near 100% busy; far below, the row waits on something.
              busy(r.samples),
              p50.median,
              p99.median,
              r.failures,
            ];
          }),
        ),
        "",
        table(
          ["ratio (within each round)", "throughput", "by CPU per request"],
          RATIOS.map(([name]) => {
            const ratio = result.ratios[via][name];
            return [name, ratio ? pct(ratio.throughput) : "n/a", ratio ? pct(ratio.cpu) : "n/a"];
          }),
        ),
      );
    }
    return out.join("\n");
  },
};
