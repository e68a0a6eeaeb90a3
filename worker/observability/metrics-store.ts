/**
 * The metrics store: one SQLite-backed Durable Object that merges the batches isolates send and answers the
 * console. Bounded on every axis: minute buckets for 24 hours, hour buckets for 30 days, at most
 * {@link MAX_KEYS_PER_DIMENSION} keys per dimension and bucket, the last {@link REFUSAL_RING} refusals, and
 * {@link MAX_TRACKED} agents and key sets.
 *
 * @module
 */
import { DurableObject } from "cloudflare:workers";
import { DECISION_OUTCOMES, type DecisionOutcome } from "./decision-log.ts";
import {
  type AgentRecord,
  type DirectoryRecord,
  MAX_KEYS_PER_DIMENSION,
  type MetricDimension,
  type MetricsBatch,
  OTHER_KEY,
  type RefusalRecord,
} from "./metrics-batch.ts";
import { type MetricsRange, type MetricsSummary, RANGES, type TrafficPoint } from "./metrics-summary.ts";

/** Minute buckets kept: 24 hours. */
export const MINUTE_RETENTION = 24 * 60;
/** Hour buckets kept: 30 days. */
export const HOUR_RETENTION = 30 * 24;
/** Refused requests kept. */
export const REFUSAL_RING = 100;
/** Agents and key sets kept (the most recently seen). */
export const MAX_TRACKED = 200;

const TOP = 10;

/**
 * The metrics Durable Object (binding `SIGNET_METRICS`, one instance named `metrics`).
 *
 * @example
 * ```ts
 * const store = env.SIGNET_METRICS.getByName("metrics");
 * await store.record(batch, Date.now());
 * const summary = await store.summary("1h", Date.now());
 * ```
 */
export class SignetMetrics extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Cloudflare.Env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS counts (res TEXT NOT NULL, bucket INTEGER NOT NULL, dim TEXT NOT NULL, key TEXT NOT NULL," +
        " n INTEGER NOT NULL, PRIMARY KEY (res, bucket, dim, key)) WITHOUT ROWID;" +
        "CREATE TABLE IF NOT EXISTS agents (agent TEXT PRIMARY KEY, profile TEXT, level TEXT, on_behalf TEXT," +
        " n INTEGER NOT NULL, last_seen INTEGER NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS refusals (seq INTEGER PRIMARY KEY AUTOINCREMENT, data TEXT NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS directories (url TEXT PRIMARY KEY, data TEXT NOT NULL, last_seen INTEGER NOT NULL)",
    );
  }

  /**
   * Merges one batch and drops what is past retention. Runs without awaiting, so concurrent batches never
   * interleave.
   *
   * @param now ms since the epoch
   */
  async record(batch: MetricsBatch, now: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    for (const [minute, dimension, key, count] of batch.counters) {
      if (!Number.isInteger(minute) || !Number.isInteger(count) || count <= 0) continue;
      this.add("m", minute, dimension, key, count);
      this.add("h", Math.floor(minute / 60), dimension, key, count);
    }
    for (const a of batch.agents) {
      sql.exec(
        "INSERT INTO agents (agent, profile, level, on_behalf, n, last_seen) VALUES (?, ?, ?, ?, ?, ?)" +
          " ON CONFLICT (agent) DO UPDATE SET profile = excluded.profile, level = excluded.level," +
          " on_behalf = coalesce(excluded.on_behalf, on_behalf), n = n + excluded.n," +
          " last_seen = max(last_seen, excluded.last_seen)",
        a.agent,
        a.profile,
        a.level,
        a.onBehalfOf,
        a.count,
        a.lastSeen,
      );
    }
    for (const r of batch.refusals) sql.exec("INSERT INTO refusals (data) VALUES (?)", JSON.stringify(r));
    for (const d of batch.directories) {
      sql.exec(
        "INSERT INTO directories (url, data, last_seen) VALUES (?, ?, ?)" +
          " ON CONFLICT (url) DO UPDATE SET data = excluded.data, last_seen = excluded.last_seen",
        d.url,
        JSON.stringify(d),
        d.lastSeen,
      );
    }
    this.prune(now);
  }

  /**
   * The console's view over a range.
   *
   * @param now ms since the epoch
   */
  async summary(range: MetricsRange, now: number): Promise<MetricsSummary> {
    const sql = this.ctx.storage.sql;
    const { resolution, buckets, width } = RANGES[range] ?? RANGES["1h"];
    const last = Math.floor(now / width);
    const first = last - buckets + 1;
    const traffic: TrafficPoint[] = [];
    const byBucket = new Map<number, Record<DecisionOutcome, number>>();
    for (let b = first; b <= last; b++) {
      const counts = emptyOutcomes();
      byBucket.set(b, counts);
      traffic.push({ time: b * width, counts });
    }
    const rows = sql.exec<{ bucket: number; key: string; n: number }>(
      "SELECT bucket, key, n FROM counts WHERE res = ? AND dim = 'outcome' AND bucket >= ? AND bucket <= ?",
      resolution,
      first,
      last,
    );
    const outcomes = emptyOutcomes();
    for (const { bucket, key, n } of rows) {
      const counts = byBucket.get(bucket);
      if (counts && isOutcome(key)) {
        counts[key] += n;
        outcomes[key] += n;
      }
    }
    const top = (dimension: MetricDimension) =>
      sql
        .exec<{ key: string; n: number }>(
          "SELECT key, sum(n) AS n FROM counts WHERE res = ? AND dim = ? AND bucket >= ? AND bucket <= ?" +
            " GROUP BY key ORDER BY n DESC, key LIMIT ?",
          resolution,
          dimension,
          first,
          last,
          TOP,
        )
        .toArray();
    const reasons = top("reason").map(({ key, n }) => ({ reason: key, count: n }));
    const rules = top("rule").map(({ key, n }) => ({ rule: key, count: n }));
    const agents = top("agent").map(({ key, n }): AgentRecord => {
      const meta = sql
        .exec<{ profile: string | null; level: string | null; on_behalf: string | null; last_seen: number }>(
          "SELECT profile, level, on_behalf, last_seen FROM agents WHERE agent = ?",
          key,
        )
        .toArray()[0];
      return {
        agent: key,
        profile: meta?.profile ?? null,
        level: meta?.level ?? null,
        onBehalfOf: meta?.on_behalf ?? null,
        count: n,
        lastSeen: meta?.last_seen ?? 0,
      };
    });
    const replaysBlocked = reasonCount(sql, resolution, first, last, "signature_replayed");
    const directories = sql
      .exec<{ data: string }>("SELECT data FROM directories ORDER BY last_seen DESC LIMIT 50")
      .toArray()
      .map(({ data }) => JSON.parse(data) as DirectoryRecord);
    const refusals = sql
      .exec<{ data: string }>("SELECT data FROM refusals ORDER BY seq DESC LIMIT 25")
      .toArray()
      .map(({ data }) => JSON.parse(data) as RefusalRecord);
    return {
      range: range in RANGES ? range : "1h",
      generatedAt: now,
      traffic,
      outcomes,
      reasons,
      rules,
      agents,
      replaysBlocked,
      directories,
      refusals,
    };
  }

  /** Row counts per table (tests check the bounds with it). */
  async sizes(): Promise<Record<string, number>> {
    const sql = this.ctx.storage.sql;
    const count = (query: string) => sql.exec<{ n: number }>(query).one().n;
    return {
      minuteBuckets: count("SELECT count(DISTINCT bucket) AS n FROM counts WHERE res = 'm'"),
      hourBuckets: count("SELECT count(DISTINCT bucket) AS n FROM counts WHERE res = 'h'"),
      maxKeysPerSlot: count(
        "SELECT coalesce(max(k), 0) AS n FROM (SELECT count(*) AS k FROM counts GROUP BY res, bucket, dim)",
      ),
      refusals: count("SELECT count(*) AS n FROM refusals"),
      agents: count("SELECT count(*) AS n FROM agents"),
      directories: count("SELECT count(*) AS n FROM directories"),
    };
  }

  private add(res: "m" | "h", bucket: number, dimension: MetricDimension, value: string, n: number): void {
    const sql = this.ctx.storage.sql;
    let key = value;
    if (dimension !== "outcome") {
      const exists = sql
        .exec("SELECT 1 FROM counts WHERE res = ? AND bucket = ? AND dim = ? AND key = ?", res, bucket, dimension, key)
        .toArray().length;
      if (exists === 0) {
        const keys = sql
          .exec<{ n: number }>(
            "SELECT count(*) AS n FROM counts WHERE res = ? AND bucket = ? AND dim = ? AND key != ?",
            res,
            bucket,
            dimension,
            OTHER_KEY,
          )
          .one().n;
        if (keys >= MAX_KEYS_PER_DIMENSION - 1) key = OTHER_KEY;
      }
    }
    sql.exec(
      "INSERT INTO counts (res, bucket, dim, key, n) VALUES (?, ?, ?, ?, ?)" +
        " ON CONFLICT (res, bucket, dim, key) DO UPDATE SET n = n + excluded.n",
      res,
      bucket,
      dimension,
      key,
      n,
    );
  }

  private prune(now: number): void {
    const sql = this.ctx.storage.sql;
    const minute = Math.floor(now / 60_000);
    const hour = Math.floor(now / 3_600_000);
    sql.exec("DELETE FROM counts WHERE res = 'm' AND bucket <= ?", minute - MINUTE_RETENTION);
    sql.exec("DELETE FROM counts WHERE res = 'h' AND bucket <= ?", hour - HOUR_RETENTION);
    sql.exec("DELETE FROM refusals WHERE seq <= (SELECT max(seq) FROM refusals) - ?", REFUSAL_RING);
    sql.exec(
      "DELETE FROM agents WHERE agent NOT IN (SELECT agent FROM agents ORDER BY last_seen DESC LIMIT ?)",
      MAX_TRACKED,
    );
    sql.exec(
      "DELETE FROM directories WHERE url NOT IN (SELECT url FROM directories ORDER BY last_seen DESC LIMIT ?)",
      MAX_TRACKED,
    );
  }
}

function emptyOutcomes(): Record<DecisionOutcome, number> {
  return { verified: 0, invalid: 0, unverified: 0, unsigned: 0 };
}

function isOutcome(key: string): key is DecisionOutcome {
  return (DECISION_OUTCOMES as readonly string[]).includes(key);
}

function reasonCount(sql: SqlStorage, res: string, first: number, last: number, reason: string): number {
  return sql
    .exec<{ n: number }>(
      "SELECT coalesce(sum(n), 0) AS n FROM counts WHERE res = ? AND dim = 'reason' AND key = ? AND bucket >= ? AND bucket <= ?",
      res,
      reason,
      first,
      last,
    )
    .one().n;
}
