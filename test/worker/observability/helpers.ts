/**
 * Helpers for the observability tests: a Worker environment with the metrics store (and, when asked, the
 * console), the console's JSON summary, and the decision log lines a block of code writes.
 *
 * @module
 */
import { env as workerEnv } from "cloudflare:workers";
import { vi } from "vitest";
import type { Env } from "../../../worker/env.ts";
import type { DecisionLogEntry } from "../../../worker/observability/decision-log.ts";
import type { MetricsSummary } from "../../../worker/observability/metrics-summary.ts";
import { gatewayEnv, send } from "../gateway/gateway.ts";

/** The console secret the tests configure. */
export const CONSOLE_SECRET = "test-console-secret-0123456789";

/** The console's base path. */
export const CONSOLE = "/.signet/console";

/** {@link gatewayEnv} plus the real metrics store of this test file and, optionally, the console settings. */
export function observedEnv(policy: object, extra: Partial<Env> = {}): Env {
  return { ...gatewayEnv(policy), SIGNET_METRICS: workerEnv.SIGNET_METRICS, ...extra };
}

/** The console's JSON summary (after the Worker flushes this isolate's counts). */
export async function summaryOf(env: Env, range = "1h"): Promise<MetricsSummary> {
  const response = await send(
    new Request(`https://signet.example${CONSOLE}/api/summary?range=${range}`, {
      headers: { authorization: `Bearer ${CONSOLE_SECRET}` },
    }),
    { ...env, SIGNET_CONSOLE_SECRET: CONSOLE_SECRET },
  );
  if (response.status !== 200) throw new Error(`summary: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { summary: MetricsSummary }).summary;
}

/** Every line written to the console (log, warn, error, info, debug) while `run` runs, and its result. */
export async function captureLogs<T>(run: () => Promise<T>): Promise<{ lines: string[]; result: T }> {
  const lines: string[] = [];
  const spies = (["log", "warn", "error", "info", "debug"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    }),
  );
  try {
    return { lines, result: await run() };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** The decision log entries among captured lines. */
export function decisionsIn(lines: readonly string[]): DecisionLogEntry[] {
  return lines
    .filter((line) => line.startsWith('{"event":"signet.decision"'))
    .map((line) => JSON.parse(line) as DecisionLogEntry);
}

/** Sends one request and returns its response and the decision log entry it produced. */
export async function sendLogged(request: Request, env: Env): Promise<{ response: Response; entry: DecisionLogEntry }> {
  const { lines, result } = await captureLogs(async () => {
    const response = await send(request, env);
    await response.arrayBuffer();
    return response;
  });
  const entries = decisionsIn(lines);
  if (entries.length !== 1) throw new Error(`expected one decision line, got ${entries.length}: ${lines.join("\n")}`);
  return { response: result, entry: entries[0] as DecisionLogEntry };
}
