/**
 * Plumbing for `bench/run.ts`: bundling with Wrangler, Miniflare (the copy bundled with Wrangler) driven from
 * Node, the V8 inspector of a workerd isolate, loopback key directory servers, signing helpers and reporting.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Miniflare as MiniflareClass, MiniflareOptions } from "miniflare";
import { type AgentKey, signRequest } from "../agent/index.ts";
import type { SigningProfile } from "../agent/signing-profile.ts";
import { buildDirectory } from "../directory/index.ts";
import type { Jwk } from "../worker/rfc9421/index.ts";
import { workerdPids } from "./proc.ts";

const run = promisify(execFile);
/** The project root (the directory holding `package.json`). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const projectRequire = createRequire(join(ROOT, "package.json"));
/** Resolves packages the way Wrangler does, so Miniflare and workerd are the ones `wrangler dev` would use. */
const wranglerRequire = createRequire(projectRequire.resolve("wrangler/package.json"));
const miniflareRequire = createRequire(wranglerRequire.resolve("miniflare/package.json"));

/** The compatibility date and flags of `wrangler.toml`. */
export const COMPATIBILITY_DATE = "2026-08-01";
export const COMPATIBILITY_FLAGS = ["nodejs_compat"];

interface MiniflareModule {
  Miniflare: typeof MiniflareClass;
  convertV4MiniflareOptions(options: Record<string, unknown>): MiniflareOptions;
}

/** Wrangler's Miniflare (5.x), which wants v4-shaped options wrapped in `convertV4MiniflareOptions`. */
export const miniflare = wranglerRequire("miniflare") as MiniflareModule;

/** Versions of the toolchain that ran the benchmark. */
export function versions(): Record<string, string> {
  // Some packages do not export `package.json`: walk up from their entry point instead.
  const version = (req: NodeJS.Require, name: string) => {
    let dir = dirname(req.resolve(name));
    while (dir !== dirname(dir)) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
          name?: string;
          version: string;
        };
        if (manifest.name === name) return manifest.version;
      } catch {
        // no package.json at this level
      }
      dir = dirname(dir);
    }
    return "unknown";
  };
  return {
    node: process.versions.node,
    v8: process.versions.v8,
    wrangler: version(projectRequire, "wrangler"),
    miniflare: version(wranglerRequire, "miniflare"),
    workerd: version(miniflareRequire, "workerd"),
    autocannon: version(projectRequire, "autocannon"),
    "http-message-sig": version(projectRequire, "http-message-sig"),
  };
}

/** The machine: CPU model, cores, memory, OS. */
export function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

/**
 * Bundles a Worker with `wrangler deploy --dry-run` (what a deploy would upload) and returns the output directory
 * and module. A temporary config names the entry point; the Signet Worker itself uses `wrangler.toml`.
 */
export async function bundle(name: string, entry: string | undefined, outdir: string): Promise<string> {
  const args = ["wrangler", "deploy", "--dry-run", "--outdir", outdir];
  if (entry === undefined) args.push("--env=");
  else {
    const config = join(outdir, "..", `${name}.wrangler.json`);
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(
      config,
      JSON.stringify({
        name,
        main: join(ROOT, entry),
        compatibility_date: COMPATIBILITY_DATE,
        compatibility_flags: COMPATIBILITY_FLAGS,
        send_metrics: false,
        // Bundle every benchmark Worker the way the Signet Worker is bundled.
        keep_names: keepNames(),
      }),
    );
    args.push("--config", config);
  }
  await run("npx", args, { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  // The bundle is named after the entry point (`index.js` for `worker/index.ts`).
  const script = readdirSync(outdir).find((file) => file.endsWith(".js"));
  if (script === undefined) throw new Error(`wrangler wrote no bundle to ${outdir}`);
  return join(outdir, script);
}

/**
 * `keep_names` as `wrangler.toml` sets it (Wrangler's default, `true`, when it is not set): esbuild's `keepNames`
 * wraps every function to keep its `name`, which costs CPU in closure-heavy code.
 *
 * @example
 * ```ts
 * const config = { name: "signet-bench", main: "bench/bench-worker.ts", keep_names: keepNames() };
 * ```
 */
export function keepNames(): boolean {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const setting = /^keep_names\s*=\s*(true|false)\s*(#.*)?$/m.exec(toml)?.[1];
  return setting !== "false";
}

/**
 * A Worker running in its own Miniflare (its own workerd process).
 *
 * @example
 * ```ts
 * const worker: StartedWorker = await startWorker({ name: "floor", script, directSocket: true });
 * await fetch(new URL("/verify/item", worker.directUrl));
 * await worker.mf.dispose();
 * ```
 */
export interface StartedWorker {
  readonly mf: MiniflareClass;
  /** Through Miniflare's entry Worker (what `wrangler dev` serves). */
  readonly url: URL;
  /** Straight to the Worker over a workerd socket (`unsafeDirectSockets`), or `url` if none was asked for. */
  readonly directUrl: URL;
  /** The workerd process running it (Linux), for CPU accounting. */
  readonly pid: number | undefined;
}

/** Starts a Worker in its own Miniflare on random loopback ports. */
export async function startWorker(options: {
  name: string;
  script: string;
  bindings?: Record<string, string>;
  durableObjects?: Record<string, { className: string; useSQLite: boolean }>;
  inspectorPort?: number;
  /** Also serve the Worker on a direct socket, without Miniflare's entry Worker in front. */
  directSocket?: boolean;
}): Promise<StartedWorker> {
  const before = new Set(workerdPids());
  const mf = new miniflare.Miniflare(
    miniflare.convertV4MiniflareOptions({
      name: options.name,
      modules: true,
      scriptPath: options.script,
      modulesRoot: join(options.script, ".."),
      compatibilityDate: COMPATIBILITY_DATE,
      compatibilityFlags: COMPATIBILITY_FLAGS,
      bindings: options.bindings ?? {},
      durableObjects: options.durableObjects ?? {},
      host: "127.0.0.1",
      port: 0,
      ...(options.inspectorPort === undefined ? {} : { inspectorPort: options.inspectorPort }),
      ...(options.directSocket === true ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
      // The Worker still writes its decision log line per request (that cost is part of what is measured); the
      // bench only does not print those lines, which would be one per request of every row.
      handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
        if (message.includes("signet.decision")) return;
        (level === "error" || level === "warn" ? console.error : console.log)(message);
      },
    }),
  );
  const url = new URL((await mf.ready).toString());
  const directUrl =
    options.directSocket === true ? new URL((await mf.unsafeGetDirectURL(options.name)).toString()) : url;
  const started = workerdPids().filter((pid) => !before.has(pid));
  return { mf, url, directUrl, pid: started.length === 1 ? started[0] : undefined };
}

/** A Chrome DevTools Protocol session with one workerd isolate (Miniflare's `inspectorPort`). */
export class Inspector {
  #ws: WebSocket;
  #next = 0;
  #pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: unknown };
      if (message.id !== undefined) this.#pending.get(message.id)?.(message);
    });
  }

  static async connect(port: number, worker: string): Promise<Inspector> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/core:user:${worker}`);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", reject, { once: true });
    });
    return new Inspector(ws);
  }

  call<T>(method: string, params: object = {}): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, (message) => {
        this.#pending.delete(id);
        if (message.error !== undefined) reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else resolve(message.result as T);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/** A key directory served on loopback for one agent, counting the fetches it answers. */
export interface DirectoryServer {
  /** `http://127.0.0.1:<port>`: the agent URL in `Signature-Agent`. */
  readonly origin: string;
  readonly fetches: () => number;
  close(): Promise<void>;
}

/** Serves a signed key directory (`directory/build-directory.ts`) for `jwk` at the well-known path. */
export async function serveDirectory(jwk: Jwk): Promise<DirectoryServer> {
  let count = 0;
  let built: Awaited<ReturnType<typeof buildDirectory>> | undefined;
  const server: Server = createServer((request, response) => {
    if (request.url !== "/.well-known/http-message-signatures-directory" || built === undefined) {
      response.writeHead(404).end();
      return;
    }
    count++;
    response.writeHead(200, Object.fromEntries(built.headers)).end(built.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  built = await buildDirectory({ keys: [{ jwk }], authority: `127.0.0.1:${port}` });
  return {
    origin: `http://127.0.0.1:${port}`,
    fetches: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The Web Bot Auth profile (`agent/web-bot-auth-profile.ts`) for an agent URL of any scheme: the shipped profile
 * refuses `http:` agents, and the cold-start benchmark serves its directory over plain http on loopback.
 */
export function loopbackAgentProfile(agent: string): SigningProfile {
  return {
    name: "web-bot-auth",
    plan(context) {
      return {
        headers: [["Signature-Agent", `${context.label}="${agent}"`]],
        components: ['"@method"', '"@authority"', '"@path"', `"signature-agent";key="${context.label}"`],
        params: {
          created: context.now,
          expires: context.now + 300,
          keyid: context.thumbprint,
          nonce: crypto.randomUUID(),
          tag: "web-bot-auth",
        },
      };
    },
  };
}

/** Signs `count` requests to `url` (distinct nonces), a few at a time, and returns their header lines. */
export async function signMany(
  url: string,
  key: AgentKey,
  profile: SigningProfile,
  count: number,
): Promise<[string, string][][]> {
  const out: [string, string][][] = [];
  const batch = 64;
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    const signed = await Promise.all(
      Array.from({ length: size }, () => signRequest(new Request(url), { key, profile })),
    );
    for (const request of signed) out.push([...request.headers]);
  }
  return out;
}

/** Percentile of a sorted list (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** A Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [head, ...rows].map((row) => row.map(String));
  const widths = head.map((_, i) => Math.max(3, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 3)).join(" | ")} |`;
  const [first, ...rest] = cells;
  return [line(first ?? []), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rest.map(line)].join("\n");
}

/** RSS of the workerd processes started by this process (from /proc; Linux only), in bytes. */
export function workerdRss(): number | undefined {
  try {
    let total = 0;
    let found = false;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (Number(fields[1]) !== process.pid || !comm.startsWith("workerd")) continue;
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
      if (kb !== undefined) {
        total += Number(kb) * 1024;
        found = true;
      }
    }
    return found ? total : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What every benchmark section gets from the runner.
 *
 * @example
 * ```ts
 * async function run(context: BenchContext) {
 *   const { mf, directUrl } = await startWorker({ name: "signet", script: context.scripts.signet, directSocket: true });
 *   context.log(`Signet on ${directUrl}`);
 *   await mf.dispose();
 * }
 * ```
 */
export interface BenchContext {
  /** `--quick`: short runs, for trying the suite out. */
  readonly quick: boolean;
  /** A scratch directory, removed after the run. */
  readonly tmp: string;
  /** The bundled Workers (`wrangler deploy --dry-run`), by name. */
  readonly scripts: {
    /** The Signet Worker, as `wrangler.toml` bundles it. */
    readonly signet: string;
    /** `bench/bench-worker.ts`: the in-workerd micro cases and the memory probe. */
    readonly bench: string;
    /** `bench/passthrough-worker.ts`. */
    readonly passthrough: string;
    /** `bench/floor-worker.ts`. */
    readonly floor: string;
  };
  /** Progress on stderr. */
  readonly log: (message: string) => void;
}

/**
 * One section of `npm run bench`: it measures, its result goes into the results JSON under `key`, and `report`
 * turns that result into the text printed on stdout.
 *
 * @example
 * ```ts
 * const ping: Section<{ ms: number }> = {
 *   key: "ping",
 *   title: "Ping",
 *   run: async () => ({ ms: 1 }),
 *   report: (result) => `ping ${result.ms} ms`,
 * };
 * ```
 */
export interface Section<R> {
  /** The key of its result in the results JSON, and its name for `--only`. */
  readonly key: string;
  readonly title: string;
  run(context: BenchContext): Promise<R>;
  report(result: R): string;
}

/**
 * Rounds a number to `digits` decimals.
 *
 * @example
 * ```ts
 * round(3.14159, 2); // 3.14
 * ```
 */
export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Minimum, median and maximum of a list, leaving out non-finite values (NaN for an empty list).
 *
 * @example
 * ```ts
 * spread([3, 1, 2]); // { min: 1, median: 2, max: 3 }
 * ```
 */
export function spread(values: readonly number[]): { min: number; median: number; max: number } {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const middle = sorted.length / 2;
  // The mean of the two middle values for an even count (two rounds in `--quick`), not the lower one.
  const median =
    sorted.length % 2 === 1
      ? (sorted[Math.floor(middle)] ?? Number.NaN)
      : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
  return { min: sorted[0] ?? Number.NaN, median, max: sorted[sorted.length - 1] ?? Number.NaN };
}
