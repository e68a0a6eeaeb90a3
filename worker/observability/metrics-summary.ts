/**
 * What the console reads: the chart ranges and the summary the metrics store answers with (plain data, no
 * runtime dependency, so the page, the route and `signet stats` can share it).
 *
 * @module
 */
import type { DecisionOutcome } from "./decision-log.ts";
import type { AgentRecord, DirectoryRecord, RefusalRecord } from "./metrics-batch.ts";

/** The chart ranges the console offers. */
export const RANGES = {
  "1h": { resolution: "m", buckets: 60, width: 60_000 },
  "24h": { resolution: "h", buckets: 24, width: 3_600_000 },
  "30d": { resolution: "h", buckets: 30 * 24, width: 3_600_000 },
} as const;

/** A chart range. */
export type MetricsRange = keyof typeof RANGES;

/** One bucket of the traffic chart. */
export interface TrafficPoint {
  /** Bucket start, ms since the epoch. */
  readonly time: number;
  readonly counts: Readonly<Record<DecisionOutcome, number>>;
}

/**
 * What the console and `signet stats` read.
 *
 * @example
 * ```ts
 * const { outcomes, agents } = await env.SIGNET_METRICS.getByName("metrics").summary("24h", Date.now());
 * ```
 */
export interface MetricsSummary {
  readonly range: MetricsRange;
  /** ms since the epoch. */
  readonly generatedAt: number;
  readonly traffic: readonly TrafficPoint[];
  /** Totals over the range. */
  readonly outcomes: Readonly<Record<DecisionOutcome, number>>;
  readonly reasons: readonly { readonly reason: string; readonly count: number }[];
  readonly rules: readonly { readonly rule: string; readonly count: number }[];
  readonly agents: readonly AgentRecord[];
  readonly replaysBlocked: number;
  readonly directories: readonly DirectoryRecord[];
  readonly refusals: readonly RefusalRecord[];
}
