/**
 * The verify-path section of `npm run bench`: inside workerd, through the bench Worker (`bench-worker.ts`),
 * Signet's full Web Bot Auth check (`verifyRequest`) against a bare WebCrypto verify of the same signature base,
 * and against `http-message-sig`'s `verifySignature` on the same request.
 *
 * workerd's clocks stand still during CPU work, so nothing is timed inside the Worker. Each `/run` request repeats
 * one case `n` times; the runner times it from Node (wall) and reads the CPU time of the workerd threads around it
 * (`/proc/<pid>/task/<tid>/schedstat`, nanoseconds: one request is too short for clock ticks), and subtracts a
 * no-op request doing the same loop. Cases rotate within each round; each ratio is also
 * computed within each round, so both sides of it saw the same machine.
 *
 * @example
 * ```ts
 * const result = await verifyPathSection.run(context);
 * process.stdout.write(verifyPathSection.report(result));
 * ```
 *
 * @module
 */
import { generateAgentKey, signRequest, webBotAuthProfile } from "../agent/index.ts";
import type { BenchSetup } from "./bench-worker.ts";
import { threadsCpuUs } from "./proc.ts";
import { type BenchContext, round, type Section, spread, startWorker, table } from "./support.ts";

const AGENT = "https://agent.bench.example";
const N = 200;
const WARMUP_ROUNDS = 3;
const CASES = ["webcrypto", "signet", "signet-discovered", "peer"] as const;
type Case = (typeof CASES)[number];

/**
 * The section's result (the JSON under `verify`).
 *
 * @example
 * ```ts
 * const result: VerifyPathResult = await verifyPathSection.run(context);
 * result.ratios.byCpu.signetCostOverBare; // e.g. 2.97
 * ```
 */
export interface VerifyPathResult {
  readonly settings: { readonly iterationsPerRequest: number; readonly rounds: number; readonly warmupRounds: number };
  readonly signatureBaseBytes: number;
  readonly requestOverheadMs: number;
  /** Per case: wall µs per operation (median and spread over the rounds) and workerd CPU µs per operation. */
  readonly cases: Record<
    Case,
    { usPerOp: number; opsPerSecond: number; spreadUs: [number, number]; cpuUsPerOp?: number }
  >;
  /** Within-round ratios of wall cost, spread over the rounds. */
  readonly ratios: {
    readonly signetCostOverBare: ReturnType<typeof spread>;
    readonly signetDiscoveredCostOverBare: ReturnType<typeof spread>;
    readonly peerCostOverSignet: ReturnType<typeof spread>;
    /** The same ratios from workerd CPU time summed over all rounds. */
    readonly byCpu: { signetCostOverBare?: number; peerCostOverSignet?: number };
  };
}

/**
 * The verify-path section.
 *
 * @example
 * ```ts
 * const result = await verifyPathSection.run(context);
 * process.stdout.write(verifyPathSection.report(result));
 * ```
 */
export const verifyPathSection: Section<VerifyPathResult> = {
  key: "verify",
  title: "Verify path inside workerd",
  async run(context: BenchContext): Promise<VerifyPathResult> {
    const rounds = context.quick ? 5 : 25;
    const { mf, url, pid } = await startWorker({ name: "bench", script: context.scripts.bench });
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
      ).json()) as { ok: boolean; checks: Record<string, boolean>; base: string };
      if (!answer.ok) throw new Error(`bench worker setup failed: ${JSON.stringify(answer)}`);

      const names = ["noop", ...CASES] as const;
      const wall: Record<string, number[]> = {};
      const cpu: Record<string, number> = {};
      for (const name of names) {
        wall[name] = [];
        cpu[name] = 0;
      }
      const timed = async (name: string, measured: boolean) => {
        const cpuBefore = threadsCpuUs(pid);
        const start = performance.now();
        const response = await fetch(new URL(`/run?case=${name}&n=${N}`, url));
        const body = (await response.json()) as { failures: number };
        const elapsed = performance.now() - start;
        const cpuAfter = threadsCpuUs(pid);
        if (!response.ok || body.failures !== 0) throw new Error(`case ${name} failed: ${JSON.stringify(body)}`);
        if (measured) {
          wall[name]?.push(elapsed);
          if (cpuBefore !== undefined && cpuAfter !== undefined) cpu[name] = (cpu[name] ?? 0) + cpuAfter - cpuBefore;
        }
      };
      for (let r = 0; r < WARMUP_ROUNDS + rounds; r++) {
        // Rotate the order each round, so no case always runs right after another.
        const order = ["noop", ...CASES.slice(r % CASES.length), ...CASES.slice(0, r % CASES.length)];
        for (const name of order) await timed(name, r >= WARMUP_ROUNDS);
      }

      const noop = wall.noop ?? [];
      const overhead = spread(noop).median;
      // Per round: µs per operation, less the median no-op request (one round's no-op is too noisy to subtract).
      const perRound = (name: Case) => (wall[name] ?? []).map((ms) => ((ms - overhead) * 1000) / N);
      const cases = {} as VerifyPathResult["cases"];
      const cpuPerOp = (name: Case) =>
        pid === undefined ? undefined : round(((cpu[name] ?? 0) - (cpu.noop ?? 0)) / (N * rounds));
      for (const name of CASES) {
        const s = spread(perRound(name));
        const cpuUs = cpuPerOp(name);
        cases[name] = {
          usPerOp: round(s.median),
          opsPerSecond: Math.round(1e6 / s.median),
          spreadUs: [round(s.min), round(s.max)],
          ...(cpuUs === undefined ? {} : { cpuUsPerOp: cpuUs }),
        };
      }
      const ratio = (top: Case, bottom: Case) => {
        const a = perRound(top);
        const b = perRound(bottom);
        return spread(a.map((value, r) => round(value / (b[r] ?? Number.NaN), 2)));
      };
      const cpuRatio = (top: Case, bottom: Case) => {
        const a = cases[top].cpuUsPerOp;
        const b = cases[bottom].cpuUsPerOp;
        return a === undefined || b === undefined ? undefined : round(a / b, 2);
      };
      return {
        settings: { iterationsPerRequest: N, rounds, warmupRounds: WARMUP_ROUNDS },
        signatureBaseBytes: new TextEncoder().encode(answer.base).byteLength,
        requestOverheadMs: round(overhead, 2),
        cases,
        ratios: {
          signetCostOverBare: ratio("signet", "webcrypto"),
          signetDiscoveredCostOverBare: ratio("signet-discovered", "webcrypto"),
          peerCostOverSignet: ratio("peer", "signet"),
          byCpu: {
            ...(cpuRatio("signet", "webcrypto") === undefined
              ? {}
              : { signetCostOverBare: cpuRatio("signet", "webcrypto") }),
            ...(cpuRatio("peer", "signet") === undefined ? {} : { peerCostOverSignet: cpuRatio("peer", "signet") }),
          },
        },
      };
    } finally {
      await mf.dispose();
    }
  },
  report(result: VerifyPathResult): string {
    const c = result.cases;
    const fmt = (n: number) => n.toLocaleString("en-US");
    const row = (label: string, name: Case, vsBare: string) => [
      label,
      c[name].usPerOp,
      `${c[name].spreadUs[0]}–${c[name].spreadUs[1]}`,
      c[name].cpuUsPerOp ?? "n/a",
      fmt(c[name].opsPerSecond),
      vsBare,
    ];
    const r = result.ratios;
    return [
      `Ed25519, dictionary Signature-Agent, 4 components, ${result.signatureBaseBytes}-byte base; ` +
        `${result.settings.iterationsPerRequest} per request, ${result.settings.rounds} rounds (median, min–max); ` +
        "CPU: workerd threads' time (schedstat) over all rounds, less the no-op loop.",
      "",
      table(
        ["case", "µs/op", "min–max", "CPU µs/op", "ops/s", "cost vs bare WebCrypto"],
        [
          row("bare WebCrypto crypto.subtle.verify", "webcrypto", "1.00×"),
          row("Signet verifyRequest (pinned key)", "signet", `${r.signetCostOverBare.median}×`),
          row(
            "Signet verifyRequest (discovered key, warm)",
            "signet-discovered",
            `${r.signetDiscoveredCostOverBare.median}×`,
          ),
          row("http-message-sig@0.3.0 verifySignature", "peer", `${round(c.peer.usPerOp / c.webcrypto.usPerOp, 2)}×`),
        ],
      ),
    ].join("\n");
  },
};
