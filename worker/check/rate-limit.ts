/**
 * A per-isolate, per-client fixed-window counter with a bounded table, for endpoints that must not be a free
 * oracle (the check endpoint). Each minute starts a fresh table; a client new this minute when the table is full
 * is refused rather than evicting anyone (an eviction would reset a busy client's count).
 *
 * @module
 */

/** What {@link createRateLimiter} is told. */
export interface RateLimitOptions {
  /** Requests a client may make per window. */
  readonly limit: number;
  /** Clients tracked per window; a new client past this is refused until the window turns. */
  readonly maxClients: number;
  /** Window length in milliseconds. Default 60 000. */
  readonly windowMs?: number | undefined;
}

/** A limiter's answer: allowed, or refused with the seconds until the window turns. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfter: number };

/** A limiter: `take(client, nowMs)` counts one request. `size` is the number of clients tracked this window. */
export interface RateLimiter {
  take(client: string, nowMs: number): RateDecision;
  readonly size: number;
}

/**
 * Makes a rate limiter.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter({ limit: 60, maxClients: 4096 });
 * if (!limiter.take(ip, Date.now()).allowed) return new Response(null, { status: 429 });
 * ```
 */
export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const windowMs = options.windowMs ?? 60_000;
  let window = Number.NaN;
  let counts = new Map<string, number>();
  return {
    take(client, nowMs) {
      const current = Math.floor(nowMs / windowMs);
      if (current !== window) {
        window = current;
        counts = new Map();
      }
      const retryAfter = Math.max(1, Math.ceil(((current + 1) * windowMs - nowMs) / 1000));
      const count = counts.get(client);
      if (count === undefined) {
        if (counts.size >= options.maxClients) return { allowed: false, retryAfter };
        counts.set(client, 1);
        return { allowed: true };
      }
      if (count >= options.limit) return { allowed: false, retryAfter };
      counts.set(client, count + 1);
      return { allowed: true };
    },
    get size() {
      return counts.size;
    },
  };
}
