/**
 * The one hook on the request path: once the answer is known, build the decision log entry from what the
 * pipeline `c.set` and the final response, write the log line (sampled for accepted requests), and count it
 * in this isolate's metrics. Nothing here waits on storage.
 *
 * @module
 */
import type { KeySetHealth } from "../discovery/key-directory-cache.ts";
import type { Policy } from "../policy/policy.ts";
import type { RequestVerification } from "../verification/verify-request.ts";
import { type DecisionFacts, decisionEntry, shouldLog, writeDecisionLog } from "./decision-log.ts";
import { type AnalyticsDataset, type MetricsNamespace, recordDecision } from "./metrics.ts";
import type { DirectoryRecord } from "./metrics-batch.ts";

/**
 * Where an observation goes.
 *
 * @example
 * ```ts
 * const targets: ObserveTargets = { policy, keys, metrics: env.SIGNET_METRICS, waitUntil: (p) => ctx.waitUntil(p) };
 * ```
 */
export interface ObserveTargets {
  readonly policy?: Policy | undefined;
  readonly keys?: KeyHealthSource | undefined;
  readonly metrics?: MetricsNamespace | undefined;
  readonly analytics?: AnalyticsDataset | undefined;
  readonly waitUntil?: ((promise: Promise<unknown>) => void) | undefined;
}

const MAX_DIRECTORIES_PER_REQUEST = 8;

/**
 * A key cache that can say what it holds (`KeyDirectoryCache.health`); without it, health shows verdicts only.
 *
 * @example
 * ```ts
 * const keys: KeyHealthSource = configuration.keys;
 * ```
 */
export interface KeyHealthSource {
  readonly health?: ((keySetUrl: string) => KeySetHealth | undefined) | undefined;
}

/**
 * What the request path saw of the key sets its signatures named: status from the verdicts, key count and
 * freshness from the key cache.
 *
 * @example
 * ```ts
 * const directories = directoryRecords(c.get("signetVerification"), configuration.keys, Date.now());
 * ```
 */
export function directoryRecords(
  verification: RequestVerification | undefined,
  keys: KeyHealthSource | undefined,
  now: number,
): DirectoryRecord[] {
  const records: DirectoryRecord[] = [];
  for (const label of verification?.labels ?? []) {
    if (records.length >= MAX_DIRECTORIES_PER_REQUEST) break;
    if (label.agent === undefined || label.profile === "aauth") continue;
    if (records.some((r) => r.url === label.agent)) continue;
    const health = keys?.health?.(label.agent);
    const status = label.codeSource === "discovery" && label.code ? label.code : (health?.failure ?? "ok");
    records.push({
      url: label.agent,
      lastSeen: now,
      status,
      pinned: label.pinned ?? health?.pinned ?? false,
      keyCount: health?.keyCount ?? null,
      fetchedAt: health?.fetchedAt ?? null,
      freshUntil: health?.freshUntil ?? null,
    });
  }
  return records;
}

/**
 * Logs and counts one request.
 *
 * @example
 * ```ts
 * observeDecision({ request, start, end: Date.now(), response, mode, rule, verification, agent, rejection, monitor },
 *   { policy, keys, metrics: env.SIGNET_METRICS, waitUntil: (p) => ctx.waitUntil(p) });
 * ```
 */
export function observeDecision(facts: DecisionFacts, targets: ObserveTargets): void {
  try {
    const entry = decisionEntry(facts);
    if (shouldLog(entry, targets.policy?.log.sampleAccepted ?? 1)) writeDecisionLog(entry);
    const directories = directoryRecords(facts.verification, targets.keys, facts.end);
    recordDecision(entry, directories, targets.metrics, targets.waitUntil, targets.analytics);
  } catch (err) {
    // Observability never changes an answer.
    console.error(`signet: decision log failed: ${(err as Error).message}`);
  }
}
