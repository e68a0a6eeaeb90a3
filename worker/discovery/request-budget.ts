/**
 * The budget of one request's key work, for both profiles: how many signature labels are judged, how many key
 * set and metadata fetches may start (Web Bot Auth directories, AAuth issuer metadata, JWK Sets, agent metadata
 * alike), and one deadline by which all of it ends. It is also the request's coalescing scope: two lookups of
 * one document in the same request share one fetch, and nothing in flight is ever shared with another request
 * (on Workers, I/O started in one request cannot be awaited from another, and dies when that request ends).
 *
 * @module
 */

/**
 * Default most signature labels judged per request (beyond it: `label_limit`).
 *
 * @example
 * ```ts
 * createRequestBudget({ maxLabels: DEFAULT_MAX_LABELS_PER_REQUEST, maxFetches: 8, deadlineMs: 3000 });
 * ```
 */
export const DEFAULT_MAX_LABELS_PER_REQUEST = 8;
/**
 * Default most key set and metadata fetches one request may start (four AAuth `jwt` agents: 2 each).
 *
 * @example
 * ```ts
 * createRequestBudget({ maxLabels: 8, maxFetches: DEFAULT_MAX_FETCHES_PER_REQUEST, deadlineMs: 3000 });
 * ```
 */
export const DEFAULT_MAX_FETCHES_PER_REQUEST = 8;
/**
 * Default deadline for all of one request's key work, in milliseconds (one discovery timeout).
 *
 * @example
 * ```ts
 * createRequestBudget({ maxLabels: 8, maxFetches: 8, deadlineMs: DEFAULT_KEY_WORK_DEADLINE_MS });
 * ```
 */
export const DEFAULT_KEY_WORK_DEADLINE_MS = 3000;

/**
 * The limits of a {@link RequestBudget} (the policy's `budget` block).
 *
 * @example
 * ```ts
 * const limits: BudgetLimits = { maxLabels: 8, maxFetches: 8, deadlineMs: 3000 };
 * ```
 */
export interface BudgetLimits {
  /** Signature labels judged; later labels are not judged (`label_limit`). */
  readonly maxLabels: number;
  /** Fetches started; later lookups that need the network answer `fetch_limit`. */
  readonly maxFetches: number;
  /** Milliseconds from the start of verification by which every fetch has ended (`deadline_exceeded`). */
  readonly deadlineMs: number;
}

/**
 * Why the budget refused a fetch.
 *
 * @example
 * ```ts
 * const claim = budget.claimFetch(3000);
 * if (!claim.ok) console.log(claim.code satisfies BudgetRefusal);
 * ```
 */
export type BudgetRefusal = "fetch_limit" | "deadline_exceeded";

/**
 * One request's budget. Create one per request with {@link createRequestBudget} and hand it to every lookup.
 *
 * @example
 * ```ts
 * const budget = createRequestBudget({ maxLabels: 8, maxFetches: 8, deadlineMs: 3000 });
 * const claim = budget.claimFetch(3000);
 * if (claim.ok) await fetchKeySet(url, { timeoutMs: claim.timeoutMs });
 * ```
 */
export interface RequestBudget {
  readonly limits: BudgetLimits;
  /** Fetches started so far under this budget. */
  readonly fetchesStarted: number;
  /** Milliseconds left before the deadline (0 once passed). */
  remainingMs(): number;
  /**
   * Claims one fetch: its timeout is the smaller of `timeoutMs` and what is left of the deadline. Refused once
   * `maxFetches` were claimed or the deadline passed.
   */
  claimFetch(
    timeoutMs: number,
  ): { readonly ok: true; readonly timeoutMs: number } | { readonly ok: false; readonly code: BudgetRefusal };
  /** Runs `start` once per `key` in this request; later callers with the same key get the same promise. */
  once<T>(key: string, start: () => Promise<T>): Promise<T>;
  /** Whether `once` already ran for `key` in this request. */
  ran(key: string): boolean;
}

/**
 * Creates the budget of one request.
 *
 * @param limits the policy's `budget` block
 * @param now the clock in milliseconds (default `Date.now`)
 *
 * @example
 * ```ts
 * const budget = createRequestBudget(policy.budget);
 * await verifyRequest(message, { policy, keys, aauthKeys, budget });
 * ```
 */
export function createRequestBudget(limits: BudgetLimits, now: () => number = Date.now): RequestBudget {
  const deadline = now() + limits.deadlineMs;
  const inflight = new Map<string, Promise<unknown>>();
  let started = 0;
  return {
    limits,
    get fetchesStarted() {
      return started;
    },
    remainingMs() {
      return Math.max(0, deadline - now());
    },
    claimFetch(timeoutMs) {
      if (started >= limits.maxFetches) return { ok: false, code: "fetch_limit" };
      const left = deadline - now();
      if (left < 1) return { ok: false, code: "deadline_exceeded" };
      started++;
      return { ok: true, timeoutMs: Math.max(1, Math.min(timeoutMs, left)) };
    },
    once<T>(key: string, start: () => Promise<T>): Promise<T> {
      let work = inflight.get(key) as Promise<T> | undefined;
      if (work === undefined) {
        work = start();
        inflight.set(key, work);
      }
      return work;
    },
    ran(key) {
      return inflight.has(key);
    },
  };
}

/**
 * A budget with no limits but a fresh coalescing scope, for callers outside a request (tools, unit tests).
 *
 * @example
 * ```ts
 * await keys.findKey(agent, keyid, unlimitedBudget());
 * ```
 */
export function unlimitedBudget(): RequestBudget {
  return createRequestBudget({
    maxLabels: Number.MAX_SAFE_INTEGER,
    maxFetches: Number.MAX_SAFE_INTEGER,
    deadlineMs: 24 * 3600 * 1000,
  });
}
