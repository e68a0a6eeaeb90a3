/**
 * Hostile-request rows of the benchmark (issue 12): the CPU time and wall time Signet spends answering
 *
 * (a) 40 AAuth `jwks` labels whose JWK Set URLs hang (never answer),
 * (b) 400 `hwk` labels with junk signatures (400 distinct keys): more members than Signet parses in one field
 *     (`MAX_DICTIONARY_MEMBERS`, 64), so refused whole (400 `too_many_members`) after one count of the raw text,
 * (b') 64 `hwk` labels, the most Signet parses: the worst request that is judged,
 * (c) 10,000 Web Bot Auth labels with junk signatures naming a known agent: more header bytes than workerd
 *     accepts, so it answers 431 before Signet runs (no Signet CPU at all),
 * (c') the largest count of such labels workerd lets through to Signet (found by bisection in the same run),
 * (c'') 64 such labels, the most Signet parses,
 *
 * each against one ordinary verified Web Bot Auth request in the same run, through the whole Worker in
 * Miniflare. CPU time is the workerd processes' own (user + system, from `/proc/<pid>/stat`, 10 ms ticks, so each
 * case is repeated and averaged); wall time is timed from Node per request. Targets: each hostile request at most
 * 10 times the ordinary request's CPU, and answered within one discovery timeout plus 100 ms.
 *
 * Runs on its own (`node bench/hostile.ts [--quick]`) and as the `hostile` section of `npm run bench`
 * ({@link hostileSection}).
 *
 * @module
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateAgentKey, loadAgentKey, signRequest } from "../agent/index.ts";
import { MAX_DICTIONARY_MEMBERS } from "../worker/rfc9421/index.ts";
import {
  type BenchContext,
  bundle,
  loopbackAgentProfile,
  machine,
  median,
  type Section,
  serveDirectory,
  startWorker,
  table,
} from "./support.ts";

/** The most members Signet parses in one signature field (`MAX_DICTIONARY_MEMBERS`). */
const MAX_MEMBERS = MAX_DICTIONARY_MEMBERS;

/** The discovery timeout (and so the key-work deadline) of the benchmarked policy, milliseconds. */
export const HOSTILE_TIMEOUT_MS = 1000;

/**
 * One row: a request kind, how often it was sent, and what answering it cost.
 *
 * @example
 * ```ts
 * const row: HostileRow = { name: "ordinary", requests: 200, status: 200, cpuMs: 0.9, wallMs: 2.1, cpuRatio: 1 };
 * ```
 */
export interface HostileRow {
  readonly name: string;
  readonly requests: number;
  /** The status of the last answer. */
  readonly status: number;
  /** workerd CPU time per request, milliseconds. */
  readonly cpuMs: number;
  /** Median wall time per request, milliseconds. */
  readonly wallMs: number;
  /** `cpuMs` over the ordinary request's. */
  readonly cpuRatio: number;
}

/**
 * The result of {@link hostileBench}.
 *
 * @example
 * ```ts
 * const { rows, timeoutMs } = await hostileBench({ quick: true });
 * ```
 */
export interface HostileResult {
  readonly timeoutMs: number;
  readonly rows: readonly HostileRow[];
  /** The most Web Bot Auth junk labels (and their header bytes) workerd passes on to Signet rather than a 431. */
  readonly largestReachingSignet: { readonly labels: number; readonly headerBytes: number };
  readonly machine: Record<string, string | number>;
}

/**
 * Runs the hostile-request rows once: builds the Worker, starts a directory and a hanging server, and measures.
 *
 * @example
 * ```ts
 * import { hostileBench } from "./hostile.ts";
 * const result = await hostileBench();
 * console.log(result.rows);
 * ```
 */
export async function hostileBench(options: { quick?: boolean; script?: string } = {}): Promise<HostileResult> {
  const quick = options.quick === true;
  const tmp = mkdtempSync(join(os.tmpdir(), "signet-hostile-"));
  const agent = await generateAgentKey("ed25519");
  const key = await loadAgentKey(agent.privateJwk);
  const directory = await serveDirectory(agent.publicJwk);
  const hang = await hangingServer();
  try {
    const script = options.script ?? (await bundle("signet", undefined, join(tmp, "signet", "dist")));
    const policy = {
      rules: [
        { path: "/agents/*", require: "verified-agent", replay: "off" },
        { path: "/any/*", require: "signature", replay: "off" },
      ],
      discovery: { unsafeAllowLoopback: true, timeoutMs: HOSTILE_TIMEOUT_MS },
      aauth: { resource: "https://resource.example" },
    };
    const worker = await startWorker({
      name: "signet",
      script,
      bindings: { ORIGIN_URL: "demo:echo", SIGNET_POLICY: JSON.stringify(policy) },
      durableObjects: { REPLAY_STORE: { className: "ReplayStore", useSQLite: true } },
    });
    try {
      const base = worker.url;
      const profile = loopbackAgentProfile(directory.origin);
      const ordinary = async () => {
        const signed = await signRequest(new Request(new URL("/agents/item", base)), { key, profile });
        return new Request(signed.url, { headers: signed.headers });
      };
      // Warm up: the agent's directory is fetched once and held.
      for (let i = 0; i < 20; i++) await send(await ordinary());
      const rows: HostileRow[] = [];
      const measured = await measure("ordinary verified request", quick ? 50 : 200, ordinary, 1);
      const cpu = measured.cpuMs;
      rows.push({ ...measured, cpuRatio: 1 });
      rows.push(
        await measure(
          "(a) 40 AAuth jwks labels at hanging URLs",
          quick ? 2 : 5,
          async () => aauthJunk(base, 40, (i) => `s${i}=jwks;url="${hang.url}/${crypto.randomUUID()}/${i}";kid="k"`),
          cpu,
        ),
      );
      const hwkMembers = await Promise.all(Array.from({ length: 400 }, () => hwkMember()));
      rows.push(
        await measure(
          "(b) 400 hwk labels, junk signatures",
          quick ? 5 : 20,
          async () => aauthJunk(base, 400, (i) => `s${i}=hwk;${hwkMembers[i]}`),
          cpu,
        ),
      );
      rows.push(
        await measure(
          `(b') ${MAX_MEMBERS} hwk labels (the most parsed), junk signatures`,
          quick ? 5 : 20,
          async () => aauthJunk(base, MAX_MEMBERS, (i) => `s${i}=hwk;${hwkMembers[i]}`),
          cpu,
        ),
      );
      rows.push(
        await measure(
          "(c) 10,000 Web Bot Auth labels, junk signatures",
          quick ? 2 : 5,
          async () => webBotAuthJunk(base, 10_000, directory.origin),
          cpu,
        ),
      );
      // 10,000 labels are more header bytes than workerd accepts (431 before Signet runs): find the largest count
      // that gets through to Signet, and measure it.
      const largest = await largestReaching(base, directory.origin);
      rows.push(
        await measure(
          `(c') ${largest.labels.toLocaleString("en")} Web Bot Auth labels (the most workerd passes on), junk signatures`,
          quick ? 3 : 10,
          async () => webBotAuthJunk(base, largest.labels, directory.origin),
          cpu,
        ),
      );
      rows.push(
        await measure(
          `(c'') ${MAX_MEMBERS} Web Bot Auth labels (the most parsed), junk signatures`,
          quick ? 5 : 20,
          async () => webBotAuthJunk(base, MAX_MEMBERS, directory.origin),
          cpu,
        ),
      );
      return { timeoutMs: HOSTILE_TIMEOUT_MS, rows, largestReachingSignet: largest, machine: machine() };
    } finally {
      await worker.mf.dispose();
    }
  } finally {
    await directory.close();
    await hang.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Bisects for the most Web Bot Auth junk labels workerd passes on to Signet (any answer but 431). */
async function largestReaching(base: URL, agent: string): Promise<{ labels: number; headerBytes: number }> {
  let low = 1; // reaches Signet
  let high = 10_000; // answered 431 by workerd
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    const response = await send(webBotAuthJunk(base, middle, agent));
    if (response.status === 431) high = middle;
    else low = middle;
  }
  const request = webBotAuthJunk(base, low, agent);
  let headerBytes = 0;
  for (const [name, value] of request.headers) headerBytes += name.length + value.length + 4;
  return { labels: low, headerBytes };
}

/** Sends `n` requests made by `make` one after another; CPU from workerd's own counters, wall from here. */
async function measure(
  name: string,
  n: number,
  make: () => Promise<Request>,
  ordinaryCpuMs: number,
): Promise<HostileRow> {
  const requests = await Promise.all(Array.from({ length: n }, () => make()));
  const walls: number[] = [];
  let status = 0;
  const before = workerdCpuMs();
  for (const request of requests) {
    const started = performance.now();
    const response = await send(request);
    walls.push(performance.now() - started);
    status = response.status;
  }
  const cpuMs = (workerdCpuMs() - before) / n;
  return {
    name,
    requests: n,
    status,
    cpuMs: round(cpuMs),
    wallMs: round(median(walls)),
    cpuRatio: round(cpuMs / ordinaryCpuMs),
  };
}

async function send(request: Request): Promise<Response> {
  const response = await fetch(request);
  await response.arrayBuffer();
  return response;
}

/** A request with `n` AAuth labels (junk signatures over the required components), member `member(i)` each. */
function aauthJunk(base: URL, n: number, member: (i: number) => string): Request {
  const created = Math.floor(Date.now() / 1000);
  const junk = Buffer.alloc(64, 7).toString("base64");
  const input: string[] = [];
  const signature: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    input.push(`s${i}=("@method" "@authority" "@path" "signature-key");created=${created}`);
    signature.push(`s${i}=:${junk}:`);
    keys.push(member(i));
  }
  return new Request(new URL("/any/x", base), {
    headers: { "signature-input": input.join(", "), signature: signature.join(", "), "signature-key": keys.join(", ") },
  });
}

/** A request with `n` Web Bot Auth labels (junk signatures), all naming `agent`. */
function webBotAuthJunk(base: URL, n: number, agent: string): Request {
  const created = Math.floor(Date.now() / 1000);
  const junk = Buffer.alloc(64, 9).toString("base64");
  const input: string[] = [];
  const signature: string[] = [];
  for (let i = 0; i < n; i++) {
    input.push(
      `l${i}=("@authority" "signature-agent");created=${created};expires=${created + 60};keyid="k";tag="web-bot-auth"`,
    );
    signature.push(`l${i}=:${junk}:`);
  }
  return new Request(new URL("/agents/x", base), {
    headers: { "signature-input": input.join(", "), signature: signature.join(", "), "signature-agent": `"${agent}"` },
  });
}

/** The `hwk` parameters of a fresh Ed25519 key. */
async function hwkMember(): Promise<string> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as { x: string };
  return `kty="OKP";crv="Ed25519";x="${jwk.x}";alg="Ed25519"`;
}

/** A server that accepts every request and never answers (until closed). */
async function hangingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** CPU time (user + system) of this process's workerd children, milliseconds (Linux; 0 elsewhere). */
function workerdCpuMs(): number {
  let ticks = 0;
  try {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue;
      }
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) !== process.pid || !comm.startsWith("workerd")) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  } catch {
    return 0;
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * The hostile rows as text: the table, the targets, and the largest label count workerd passes on.
 *
 * @example
 * ```ts
 * console.log(hostileReport(await hostileBench({ quick: true })));
 * ```
 */
export function hostileReport(result: HostileResult): string {
  const cpuTarget = 10;
  const wallTarget = result.timeoutMs + 100;
  return [
    table(
      ["request", "n", "status", "CPU ms/request", "× ordinary CPU", "wall ms (median)", "targets met"],
      result.rows.map((r, i) => [
        r.name,
        r.requests,
        r.status,
        r.cpuMs,
        r.cpuRatio,
        r.wallMs,
        i === 0 ? "" : r.cpuRatio <= cpuTarget && r.wallMs <= wallTarget ? "yes" : "NO",
      ]),
    ),
    `targets: CPU ≤ ${cpuTarget} × the ordinary request's in this run; wall ≤ ${wallTarget} ms (discovery timeout ` +
      `${result.timeoutMs} ms + 100 ms). workerd answers 431 above ${result.largestReachingSignet.labels} ` +
      `Web Bot Auth labels (${result.largestReachingSignet.headerBytes} bytes of headers); Signet refuses more than ` +
      `${MAX_MEMBERS} members in a field with 400 too_many_members.`,
  ].join("\n\n");
}

/**
 * The `hostile` section of `npm run bench`: {@link hostileBench} on the runner's Signet bundle, printed with the
 * ordinary request of the same run beside it.
 *
 * @example
 * ```ts
 * const SECTIONS = [verifyPathSection, throughputSection, hostileSection];
 * ```
 */
export const hostileSection: Section<HostileResult> = {
  key: "hostile",
  title: "Hostile requests against an ordinary verified request (issue 12)",
  run: (context: BenchContext) => hostileBench({ quick: context.quick, script: context.scripts.signet }),
  report: hostileReport,
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
  const result = await hostileBench({ quick: values.quick === true });
  console.log(hostileReport(result));
  console.log(JSON.stringify(result.machine));
}
