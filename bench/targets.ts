/**
 * The targets of issue 13, checked against one run's results: each measure is a ratio taken within the run
 * (within each round where there are rounds), reported with its spread, and marked `met` or `MISSED` on its
 * median. Report, don't tune: a target missed stays in the table.
 *
 * @example
 * ```ts
 * const rows = checkTargets(results);
 * process.stdout.write(targetsReport(rows));
 * ```
 *
 * @module
 */

import { round, table } from "./support.ts";
import type { ThroughputResult } from "./throughput.ts";
import type { VerifyPathResult } from "./verify-path.ts";

/**
 * One target: the measure, the target, and what this run measured.
 *
 * @example
 * ```ts
 * const missed = checkTargets(results).filter((check: TargetCheck) => check.met === false);
 * ```
 */
export interface TargetCheck {
  readonly measure: string;
  /** Issue 13's "now" column, the figures of the run that filed it. */
  readonly before: string;
  readonly target: string;
  /** Median over the rounds, with min–max; `undefined` when the section did not run. */
  readonly measured: { readonly median: number; readonly min: number; readonly max: number } | undefined;
  /** The same ratio from workerd CPU time per request or operation, where measured. */
  readonly byCpu: number | undefined;
  readonly met: boolean | undefined;
  /** Whether the CPU-time view of the same ratio meets the target. */
  readonly metByCpu: boolean | undefined;
  readonly unit: "×" | "%";
}

/**
 * Checks the targets of issue 13 against the `verify` and `http` results of a run (either may be missing).
 *
 * @example
 * ```ts
 * const checks = checkTargets({ verify: results.verify, http: results.http });
 * const missed = checks.filter((check) => check.met === false);
 * ```
 */
export function checkTargets(results: {
  readonly verify?: VerifyPathResult | undefined;
  readonly http?: ThroughputResult | undefined;
}): TargetCheck[] {
  const { verify, http } = results;
  const direct = http?.ratios.direct;
  const check = (
    measure: string,
    before: string,
    target: string,
    unit: "×" | "%",
    measured: TargetCheck["measured"],
    byCpu: number | undefined,
    pass: (value: number) => boolean,
  ): TargetCheck => ({
    measure,
    before,
    target,
    unit,
    measured,
    byCpu,
    met: measured === undefined || Number.isNaN(measured.median) ? undefined : pass(measured.median),
    metByCpu: byCpu === undefined || Number.isNaN(byCpu) ? undefined : pass(byCpu),
  });
  return [
    check(
      "Full Web Bot Auth check vs bare WebCrypto verify, in workerd (cost)",
      "2.1–2.5×",
      "≤ 1.3×",
      "×",
      verify?.ratios.signetCostOverBare,
      verify?.ratios.byCpu.signetCostOverBare,
      (v) => v <= 1.3,
    ),
    check(
      "Speed vs http-message-sig verifySignature, same request",
      "0.92–0.97×",
      "≥ 1.5×",
      "×",
      verify?.ratios.peerCostOverSignet,
      verify?.ratios.byCpu.peerCostOverSignet,
      (v) => v >= 1.5,
    ),
    check(
      "Signet verify throughput vs the floor Worker (direct sockets)",
      "about 36%",
      "≥ 75%",
      "%",
      direct?.["signetVerify/floor"]?.throughput,
      direct?.["signetVerify/floor"]?.cpu.median,
      (v) => v >= 0.75,
    ),
    check(
      "Signet unsigned on a none route vs passthrough (direct)",
      "about 45%",
      "≥ 80%",
      "%",
      direct?.["signetUnsigned/passthroughUnsigned"]?.throughput,
      direct?.["signetUnsigned/passthroughUnsigned"]?.cpu.median,
      (v) => v >= 0.8,
    ),
    check(
      "Signet verify + replay vs Signet verify only (direct)",
      "about 42%",
      "≥ 70%",
      "%",
      direct?.["signetReplay/signetVerify"]?.throughput,
      direct?.["signetReplay/signetVerify"]?.cpu.median,
      (v) => v >= 0.7,
    ),
  ];
}

/**
 * The targets table: measure, before, target, this run (median and min–max), the CPU-time view, and met/MISSED.
 *
 * @example
 * ```ts
 * process.stdout.write(`${targetsReport(checkTargets(results))}\n`);
 * ```
 */
export function targetsReport(checks: readonly TargetCheck[]): string {
  const show = (value: number | undefined, unit: "×" | "%") =>
    value === undefined || Number.isNaN(value)
      ? "n/a"
      : unit === "%"
        ? `${round(value * 100)}%`
        : `${round(value, 2)}×`;
  return table(
    ["measure", "issue 13 (before)", "target", "this run: median (min–max)", "by CPU time", "status"],
    checks.map((c) => [
      c.measure,
      c.before,
      c.target,
      c.measured === undefined
        ? "not run"
        : `${show(c.measured.median, c.unit)} (${show(c.measured.min, c.unit)}–${show(c.measured.max, c.unit)})`,
      show(c.byCpu, c.unit),
      `${c.met === undefined ? "n/a" : c.met ? "met" : "MISSED"}` +
        (c.metByCpu === undefined ? "" : ` (by CPU: ${c.metByCpu ? "met" : "MISSED"})`),
    ]),
  );
}
