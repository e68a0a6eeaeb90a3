/**
 * Prints the one-line test summary that CI reads, `N passed, N failed`, from a Vitest JSON report.
 *
 * Usage: `node scripts/test-summary.ts <report.json> [vitest-exit-code]` (Node ≥ 22.18 runs it as is).
 *
 * - A missing or unreadable report (Vitest crashed before writing it) prints `0 passed, 1 failed`.
 * - A file that failed to load counts as one failed test, since none of its tests ran.
 * - A non-zero Vitest exit code with no failed test (e.g. an unhandled error) counts as one failed test,
 *   so the line never looks green when the run was not.
 *
 * The exit code is 0 only if at least one test ran and none failed.
 *
 * @module
 */

import { readFileSync } from "node:fs";

/** The parts of Vitest's JSON report (Jest-compatible shape) that the summary needs. */
interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  testResults: Array<{ status: string; assertionResults: Array<{ status: string }> }>;
}

/** Test counts for the summary line. */
export interface Summary {
  passed: number;
  failed: number;
}

/**
 * Counts passed and failed tests in a Vitest JSON report.
 *
 * @param reportText - The contents of the file written by `--reporter=json --outputFile.json=…`, or
 *   `undefined` if there is no such file.
 * @param vitestExitCode - Vitest's exit code, if known.
 * @returns The counts to print.
 *
 * @example
 * ```ts
 * summarize('{"numPassedTests":3,"numFailedTests":1,"testResults":[]}', 1); // { passed: 3, failed: 1 }
 * summarize(undefined); // { passed: 0, failed: 1 }
 * ```
 */
export function summarize(reportText: string | undefined, vitestExitCode = 0): Summary {
  let report: JsonReport;
  try {
    if (reportText === undefined) throw new Error("no report");
    report = JSON.parse(reportText) as JsonReport;
  } catch {
    return { passed: 0, failed: 1 };
  }
  const passed = report.numPassedTests;
  let failed = report.numFailedTests;
  for (const file of report.testResults) {
    const anyTestFailed = file.assertionResults.some((test) => test.status === "failed");
    if (file.status === "failed" && !anyTestFailed) failed += 1;
  }
  if (vitestExitCode !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

/**
 * Formats counts as the CI summary line.
 *
 * @param summary - The counts.
 * @returns For example `"14 passed, 0 failed"`.
 *
 * @example
 * ```ts
 * formatSummary({ passed: 14, failed: 0 }); // "14 passed, 0 failed"
 * ```
 */
export function formatSummary(summary: Summary): string {
  return `${summary.passed} passed, ${summary.failed} failed`;
}

if (import.meta.main) {
  const [reportPath, exitCodeArg] = process.argv.slice(2);
  let reportText: string | undefined;
  try {
    reportText = reportPath === undefined ? undefined : readFileSync(reportPath, "utf8");
  } catch {
    reportText = undefined;
  }
  const summary = summarize(reportText, Number(exitCodeArg ?? 0));
  console.log(formatSummary(summary));
  process.exitCode = summary.failed === 0 && summary.passed > 0 ? 0 : 1;
}
