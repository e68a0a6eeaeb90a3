/**
 * `npm run bench`: Signet's benchmark suite (never part of `npm test`). One run measures, in order, the sections
 * listed in `SECTIONS` below, then checks issue 13's targets against what it measured:
 *
 * 1. `verify` (`verify-path.ts`): inside workerd, Signet's full check vs a bare WebCrypto verify vs `http-message-sig`;
 * 2. `http` (`throughput.ts`): throughput and workerd CPU per request through Miniflare, over direct sockets and
 *    through the entry Worker: passthrough (unsigned and signed requests), the floor Worker, Signet unsigned,
 *    Signet verifying, Signet verifying with the replay check; three interleaved rounds;
 * 3. `coldStart` (`cold-start.ts`): concurrent first requests from a new agent, and the first request's latency;
 * 4. `memory` (`memory.ts`): isolate heap as 10,000 distinct agents' directories pass the bounded key cache;
 * 5. `hostile` (`hostile.ts`): CPU and wall time of issue 12's hostile requests (hanging key URLs, hundreds of
 *    labels, more header bytes than workerd takes), each beside an ordinary verified request of the same run.
 *
 * Options: `--quick` (short runs, for trying the suite out), `--only <key>[,<key>…]` (run only those sections).
 * Results go to `bench/results/<date>.json` and tables to stdout. The machine's load average at the start and
 * end is recorded: other work on the machine skews every number (CPU per request least).
 *
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { coldStartSection } from "./cold-start.ts";
import { hostileSection } from "./hostile.ts";
import { memorySection } from "./memory.ts";
import { type BenchContext, bundle, keepNames, machine, ROOT, round, type Section, versions } from "./support.ts";
import { checkTargets, targetsReport } from "./targets.ts";
import { type ThroughputResult, throughputSection } from "./throughput.ts";
import { type VerifyPathResult, verifyPathSection } from "./verify-path.ts";

/**
 * The sections, in the order they run and are reported. Each is independent: it starts its own Workers and
 * disposes of them. Add a section by adding it here.
 */
const SECTIONS: readonly Section<unknown>[] = [
  verifyPathSection,
  throughputSection,
  coldStartSection,
  memorySection,
  hostileSection,
];

const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, only: { type: "string" } },
});
const QUICK = args.quick === true;
const only = args.only?.split(",").map((key) => key.trim());
const unknown = only?.filter((key) => !SECTIONS.some((s) => s.key === key)) ?? [];
if (unknown.length > 0) {
  throw new Error(`unknown section(s) ${unknown.join(", ")}; known: ${SECTIONS.map((s) => s.key).join(", ")}`);
}
const selected = SECTIONS.filter((s) => only === undefined || only.includes(s.key));

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const startedAt = new Date();
const tmp = mkdtempSync(join(os.tmpdir(), "signet-bench-"));
const results: Record<string, unknown> = {
  date: startedAt.toISOString(),
  machine: machine(),
  /** 1/5/15-minute load averages when the run started. */
  loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  versions: versions(),
  settings: { quick: QUICK, sections: selected.map((s) => s.key), keepNames: keepNames() },
};
const stopWatch = performance.now();
const reports: string[] = [];

try {
  log(`bundling the Workers with wrangler deploy --dry-run (keep_names ${keepNames()})`);
  const context: BenchContext = {
    quick: QUICK,
    tmp,
    log,
    scripts: {
      signet: await bundle("signet", undefined, join(tmp, "signet", "dist")),
      bench: await bundle("signet-bench", "bench/bench-worker.ts", join(tmp, "bench", "dist")),
      passthrough: await bundle("signet-passthrough", "bench/passthrough-worker.ts", join(tmp, "pass", "dist")),
      floor: await bundle("signet-floor", "bench/floor-worker.ts", join(tmp, "floor", "dist")),
    },
  };
  for (const [i, section] of selected.entries()) {
    log(`${i + 1}/${selected.length} ${section.title}`);
    const started = performance.now();
    const result = await section.run(context);
    results[section.key] = result;
    reports.push(
      `${i + 1}. ${section.title} (${round((performance.now() - started) / 1000)} s)\n\n${section.report(result)}`,
    );
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
results.targets = checkTargets({
  verify: results.verify as VerifyPathResult | undefined,
  http: results.http as ThroughputResult | undefined,
});
results.runSeconds = round((performance.now() - stopWatch) / 1000);
results.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));

const resultsDir = join(ROOT, "bench", "results");
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}${QUICK ? "-quick" : ""}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

const m = results.machine as Record<string, string | number>;
const v = results.versions as Record<string, string>;
const header =
  `Signet benchmarks, ${startedAt.toISOString().slice(0, 19).replace("T", " ")} UTC: ${m.cpu}, ${m.cores} cores, ` +
  `${m.memoryGiB} GiB; Node ${v.node}, workerd ${v.workerd}, wrangler ${v.wrangler}, miniflare ${v.miniflare}; ` +
  `keep_names ${keepNames()}; load average ${(results.loadAverageAtStart as number[]).join(" ")} at start, ` +
  `${(results.loadAverageAtEnd as number[]).join(" ")} at end; ${results.runSeconds} s`;
const targets = `Targets of issue 13 (ratios within this run)\n\n${targetsReport(results.targets as ReturnType<typeof checkTargets>)}`;
process.stdout.write(`${[header, ...reports, targets].join("\n\n")}\n\nResults: ${file}\n`);
