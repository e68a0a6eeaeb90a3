/**
 * The replay store: a SQLite-backed Durable Object that records each accepted signature until it expires.
 * Checking and recording are one SQL statement on a single-threaded object, so among any number of concurrent
 * copies of one signed request exactly one is accepted, wherever they arrive. Claims come in batches
 * (`claimBatch`, one call and one transaction per batch; see `durable-object-store.ts`).
 *
 * @module
 */
import { DurableObject } from "cloudflare:workers";

/**
 * Seconds the alarm waits past a record's `exp` before deleting it. Claims judge `exp` on the verifier's clock;
 * the alarm runs on the Durable Object's, which may run a little ahead, so it never deletes a record a claim
 * could still need.
 */
const ALARM_GRACE_SECONDS = 60;

/**
 * One shard of the replay store. Rows are `(id, exp)`: `id` is the replay key (a SHA-256 digest), `exp` the
 * first Unix second at which the signature can no longer be accepted, so the row may go. An alarm deletes rows a
 * minute past their `exp` and re-arms itself for the earliest left.
 *
 * @example
 * ```ts
 * const claimed = await env.REPLAY_STORE.getByName("replay-64-7").claim(id, expiresAt, now);
 * ```
 */
export class ReplayStore extends DurableObject {
  /** The earliest alarm already set, in ms, so most claims need no alarm call. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Cloudflare.Env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID;" +
        "CREATE INDEX IF NOT EXISTS seen_by_exp ON seen (exp)",
    );
  }

  /**
   * Records `id` unless a live record exists: `true` for the first use, `false` for a replay. A record whose
   * `exp` has passed is taken over (the signature it recorded has expired, so the new use is not its replay).
   *
   * @param id the replay key
   * @param expiresAt Unix seconds: the record is live while the verifier's clock is below it
   * @param now Unix seconds, the verifier's clock
   */
  async claim(id: string, expiresAt: number, now: number): Promise<boolean> {
    const [claimed] = await this.claimBatch([[id, expiresAt, now]]);
    return claimed === true;
  }

  /**
   * Claims many records in one SQLite transaction, in order: one answer per claim, as {@link claim} would give
   * it. Two claims of one `id` in a batch: the first may be a first use, the second is its replay. A claim that is
   * not a `[string, integer, integer]` triple is answered `false` (never recorded).
   *
   * @param claims `[id, expiresAt, now]` triples
   */
  async claimBatch(claims: readonly (readonly [string, number, number])[]): Promise<boolean[]> {
    const { sql } = this.ctx.storage;
    const answers = this.ctx.storage.transactionSync(() =>
      claims.map((claim) => {
        const [id, expiresAt, now] = Array.isArray(claim) ? claim : [];
        if (typeof id !== "string" || !Number.isSafeInteger(expiresAt) || !Number.isSafeInteger(now)) return false;
        const written =
          sql.exec(
            "INSERT INTO seen (id, exp) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET exp = excluded.exp WHERE seen.exp <= ?3",
            id,
            expiresAt,
            now,
          ).rowsWritten > 0;
        return written;
      }),
    );
    // One alarm for the batch: armed for the earliest expiry it must cover (the alarm re-arms for what is left).
    const earliest = claims.reduce<number | undefined>(
      (min, claim, i) => (answers[i] === true && (min === undefined || claim[1] < min) ? claim[1] : min),
      undefined,
    );
    if (earliest !== undefined) await this.armAlarm((earliest + ALARM_GRACE_SECONDS) * 1000);
    return answers;
  }

  /** How many records are held (for operators and tests). */
  async size(): Promise<number> {
    return Number(this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM seen").one().n);
  }

  /** Deletes expired records and re-arms for the earliest expiry left. */
  override async alarm(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    this.ctx.storage.sql.exec("DELETE FROM seen WHERE exp <= ?1", now - ALARM_GRACE_SECONDS);
    const next = this.ctx.storage.sql.exec("SELECT MIN(exp) AS exp FROM seen").one().exp;
    this.alarmAt = null;
    if (typeof next === "number") await this.armAlarm((next + ALARM_GRACE_SECONDS) * 1000);
  }

  private async armAlarm(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}
