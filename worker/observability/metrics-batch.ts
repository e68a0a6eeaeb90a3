/**
 * Per-isolate batching of Signet's metrics: each request adds to counters in memory (no storage write on the
 * request's path); a batch goes to the metrics Durable Object in one call, after the response, through
 * `waitUntil`. Every part of a batch is bounded, so a flood of distinct agents or paths cannot grow it.
 *
 * @module
 */
import type { DecisionLogEntry, DecisionOutcome } from "./decision-log.ts";

/** The dimensions counters are kept by. */
export type MetricDimension = "outcome" | "reason" | "agent" | "rule";

/** The key that stands for every value past a dimension's cap. */
export const OTHER_KEY = "(other)";

/** Distinct keys kept per dimension and minute (per batch, and again in the store). */
export const MAX_KEYS_PER_DIMENSION = 50;
/** Refused requests a batch keeps (the newest). */
export const MAX_REFUSALS_PER_BATCH = 50;
/** Agents and key sets a batch keeps facts about. */
export const MAX_AGENTS_PER_BATCH = 100;

/** A refused request, as the console shows it: only values Signet produced or validated. */
export interface RefusalRecord {
  /** ms since the epoch. */
  readonly time: number;
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly reason: string;
  readonly status: number;
  readonly mode: "enforce" | "monitor";
  readonly outcome: DecisionOutcome;
  readonly agent: string | null;
  readonly label: string | null;
  readonly rule: string | null;
}

/** What the console says about a verified agent. */
export interface AgentRecord {
  readonly agent: string;
  readonly profile: string | null;
  readonly level: string | null;
  /** On whose behalf: the person (issuer and subject) or the parent agent, when a token said so. */
  readonly onBehalfOf: string | null;
  readonly count: number;
  /** ms since the epoch. */
  readonly lastSeen: number;
}

/** A key set's health as seen by the request path. */
export interface DirectoryRecord {
  readonly url: string;
  /** ms since the epoch. */
  readonly lastSeen: number;
  /** `ok`, or the discovery or signature code of the last failure. */
  readonly status: string;
  readonly pinned: boolean;
  readonly keyCount: number | null;
  readonly fetchedAt: number | null;
  readonly freshUntil: number | null;
}

/**
 * One batch, as sent to the store (structured-clone friendly).
 *
 * @example
 * ```ts
 * await env.SIGNET_METRICS.getByName("metrics").record(batch, Date.now());
 * ```
 */
export interface MetricsBatch {
  /** `[minute (Unix minutes), dimension, key, count]`. */
  readonly counters: readonly (readonly [number, MetricDimension, string, number])[];
  readonly agents: readonly AgentRecord[];
  readonly refusals: readonly RefusalRecord[];
  readonly directories: readonly DirectoryRecord[];
}

/**
 * The counters of one isolate since its last flush.
 *
 * @example
 * ```ts
 * const collector = new MetricsCollector();
 * collector.add(entry, []);
 * const batch = collector.take(); // undefined when nothing was added
 * ```
 */
export class MetricsCollector {
  private counters = new Map<string, [number, MetricDimension, string, number]>();
  private keysPerSlot = new Map<string, number>();
  private agents = new Map<string, AgentRecord>();
  private refusals: RefusalRecord[] = [];
  private directories = new Map<string, DirectoryRecord>();
  private added = 0;

  /** Requests added since the last {@link take}. */
  get size(): number {
    return this.added;
  }

  /** Counts one decision, and what the request path saw of the key sets it used. */
  add(entry: DecisionLogEntry, directories: readonly DirectoryRecord[] = []): void {
    const time = Date.parse(entry.time);
    const minute = Math.floor(time / 60_000);
    this.added++;
    this.count(minute, "outcome", entry.outcome);
    if (entry.reason !== null) this.count(minute, "reason", entry.reason);
    if (entry.rule !== null) this.count(minute, "rule", entry.rule);
    const verifiedAgent = entry.outcome === "verified" && entry.agent !== null;
    if (verifiedAgent) this.count(minute, "agent", entry.agent as string);
    if (verifiedAgent && (this.agents.has(entry.agent as string) || this.agents.size < MAX_AGENTS_PER_BATCH)) {
      const before = this.agents.get(entry.agent as string);
      const onBehalfOf =
        entry.person_issuer !== null
          ? `${entry.person_subject ?? "?"} @ ${entry.person_issuer}`
          : (entry.parent_agent ?? null);
      this.agents.set(entry.agent as string, {
        agent: entry.agent as string,
        profile: entry.profile,
        level: entry.level,
        onBehalfOf: onBehalfOf ?? before?.onBehalfOf ?? null,
        count: (before?.count ?? 0) + 1,
        lastSeen: Math.max(time, before?.lastSeen ?? 0),
      });
    }
    if (entry.reason !== null) {
      this.refusals.push({
        time,
        id: entry.id,
        method: entry.method,
        path: entry.path,
        reason: entry.reason,
        status: entry.status,
        mode: entry.mode,
        outcome: entry.outcome,
        agent: entry.agent,
        label: entry.label,
        rule: entry.rule,
      });
      if (this.refusals.length > MAX_REFUSALS_PER_BATCH) this.refusals.shift();
    }
    for (const directory of directories) {
      if (this.directories.has(directory.url) || this.directories.size < MAX_AGENTS_PER_BATCH) {
        this.directories.set(directory.url, directory);
      }
    }
  }

  /** Hands over everything counted so far and starts again; `undefined` when nothing was added. */
  take(): MetricsBatch | undefined {
    if (this.added === 0) return undefined;
    const batch: MetricsBatch = {
      counters: [...this.counters.values()],
      agents: [...this.agents.values()],
      refusals: this.refusals,
      directories: [...this.directories.values()],
    };
    this.counters = new Map();
    this.keysPerSlot = new Map();
    this.agents = new Map();
    this.refusals = [];
    this.directories = new Map();
    this.added = 0;
    return batch;
  }

  private count(minute: number, dimension: MetricDimension, value: string): void {
    let key = value;
    const slot = `${minute} ${dimension}`;
    if (!this.counters.has(`${slot} ${key}`) && dimension !== "outcome") {
      const keys = this.keysPerSlot.get(slot) ?? 0;
      if (keys >= MAX_KEYS_PER_DIMENSION - 1) key = OTHER_KEY;
      else this.keysPerSlot.set(slot, keys + 1);
    }
    const id = `${slot} ${key}`;
    const counter = this.counters.get(id);
    if (counter) counter[3]++;
    else this.counters.set(id, [minute, dimension, key, 1]);
  }
}
