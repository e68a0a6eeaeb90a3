/**
 * Where the Worker's metrics go: this isolate's {@link MetricsCollector}, flushed to the `SIGNET_METRICS` Durable
 * Object after responses (`waitUntil`), at most once per {@link FLUSH_INTERVAL_MS} or when a batch is full, and
 * on demand before the console reads. When Workers Analytics Engine is bound (`SIGNET_ANALYTICS`), each decision
 * is also written there as a data point (a non-blocking call the runtime batches itself).
 *
 * @module
 */
import type { DecisionLogEntry } from "./decision-log.ts";
import { type DirectoryRecord, type MetricsBatch, MetricsCollector } from "./metrics-batch.ts";
import type { MetricsRange, MetricsSummary } from "./metrics-summary.ts";

/** How long a batch waits for more requests before it is sent. */
export const FLUSH_INTERVAL_MS = 5_000;
/** A batch this large is sent at once. */
export const FLUSH_SIZE = 500;

/**
 * The part of the `SIGNET_METRICS` namespace Signet uses.
 *
 * @example
 * ```ts
 * const store: MetricsNamespace = env.SIGNET_METRICS;
 * ```
 */
export interface MetricsNamespace {
  getByName(name: string): MetricsStub;
}

/** The metrics Durable Object, as the Worker calls it. */
export interface MetricsStub {
  record(batch: MetricsBatch, now: number): Promise<void>;
  summary(range: MetricsRange, now: number): Promise<MetricsSummary>;
}

/** The part of a Workers Analytics Engine dataset binding Signet uses. */
export interface AnalyticsDataset {
  writeDataPoint(point: { blobs?: string[]; doubles?: number[]; indexes?: string[] }): void;
}

/** The one metrics object name: every isolate merges into it. */
export const METRICS_OBJECT = "metrics";

const collector = new MetricsCollector();
/** When the pending timed flush was scheduled (ms), or 0 when none is. */
let scheduledAt = 0;

/**
 * Counts one decision in this isolate and makes sure a flush is scheduled. Nothing here waits on storage.
 *
 * @param waitUntil the request's `waitUntil`, when it has an execution context
 *
 * @example
 * ```ts
 * recordDecision(entry, directories, env.SIGNET_METRICS, (p) => c.executionCtx.waitUntil(p));
 * ```
 */
export function recordDecision(
  entry: DecisionLogEntry,
  directories: readonly DirectoryRecord[],
  store: MetricsNamespace | undefined,
  waitUntil: ((promise: Promise<unknown>) => void) | undefined,
  analytics?: AnalyticsDataset | undefined,
): void {
  if (analytics !== undefined) writeAnalytics(analytics, entry);
  if (store === undefined) return;
  collector.add(entry, directories);
  if (waitUntil === undefined) return;
  if (collector.size >= FLUSH_SIZE) {
    waitUntil(flushMetrics(store));
  } else if (scheduledAt === 0 || Date.now() - scheduledAt > 4 * FLUSH_INTERVAL_MS) {
    // (A timed flush whose request context went away is given up on after a while, and replaced.)
    scheduledAt = Date.now();
    waitUntil(
      new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS)).then(() => {
        scheduledAt = 0;
        return flushMetrics(store);
      }),
    );
  }
}

/**
 * Sends what this isolate has counted to the store, in one call. Each send stands alone (no promise is shared
 * between requests, which workerd may never settle once the request that made it has answered); the store
 * merges concurrent sends one at a time. A failed send is dropped: metrics must never hold requests up or grow
 * without bound.
 *
 * @example
 * ```ts
 * await flushMetrics(env.SIGNET_METRICS); // before reading the summary
 * ```
 */
export async function flushMetrics(store: MetricsNamespace): Promise<void> {
  const batch = collector.take();
  if (batch === undefined) return;
  try {
    await store.getByName(METRICS_OBJECT).record(batch, Date.now());
  } catch (err) {
    console.error(`signet: metrics flush failed: ${(err as Error).message}`);
  }
}

/**
 * The summary the console shows, after flushing this isolate's counts.
 *
 * @example
 * ```ts
 * const summary = await readSummary(env.SIGNET_METRICS, "24h");
 * ```
 */
export async function readSummary(store: MetricsNamespace, range: MetricsRange): Promise<MetricsSummary> {
  await flushMetrics(store);
  return store.getByName(METRICS_OBJECT).summary(range, Date.now());
}

/** One Analytics Engine data point: outcome, reason, agent, rule, mode as blobs; status and duration as doubles. */
function writeAnalytics(dataset: AnalyticsDataset, entry: DecisionLogEntry): void {
  try {
    dataset.writeDataPoint({
      indexes: [entry.outcome],
      blobs: [entry.outcome, entry.reason ?? "", entry.agent ?? "", entry.rule ?? "", entry.mode, entry.profile ?? ""],
      doubles: [entry.status, entry.duration_ms],
    });
  } catch {
    // Analytics are best effort.
  }
}
