/**
 * How long a fetched key set stays fresh: the HTTP caching fields of its response (RFC 9111), clamped to a
 * window that keeps key rotation timely and directory servers unhammered.
 *
 * @module
 */
import type { CachingHeaders } from "./fetch-key-set.ts";

/** Default shortest freshness lifetime, in seconds. */
export const DEFAULT_MIN_TTL_SECONDS = 60;
/** Default longest freshness lifetime, in seconds (a removed key keeps verifying at most this long). */
export const DEFAULT_MAX_TTL_SECONDS = 86_400;
/** Default lifetime when the response says nothing about caching, in seconds. */
export const DEFAULT_TTL_SECONDS = 60;

/**
 * Options of {@link keySetFreshness}.
 *
 * @example
 * ```ts
 * keySetFreshness(caching, Date.now(), { minTtlSeconds: 300, maxTtlSeconds: 3600 });
 * ```
 */
export interface FreshnessOptions {
  /** Shortest lifetime in seconds. Default {@link DEFAULT_MIN_TTL_SECONDS}. */
  readonly minTtlSeconds?: number | undefined;
  /** Longest lifetime in seconds. Default {@link DEFAULT_MAX_TTL_SECONDS}. */
  readonly maxTtlSeconds?: number | undefined;
  /** Lifetime without caching information, in seconds (then clamped). Default {@link DEFAULT_TTL_SECONDS}. */
  readonly defaultTtlSeconds?: number | undefined;
}

/** The freshness decision for one response. */
export interface Freshness {
  /** The lifetime to use from now, in whole seconds, within [min, max]. */
  readonly ttlSeconds: number;
  /** Which field decided it. */
  readonly source: "s-maxage" | "max-age" | "expires" | "no-cache" | "no-store" | "default";
  /** Whether the response may go to a shared cache tier (`caches.default`): not with `no-store` or `private`. */
  readonly shareable: boolean;
}

/**
 * The freshness lifetime of a key set response. In order: `no-store` and `no-cache` mean the minimum (Signet
 * cannot fetch per request, so it revalidates as soon as the floor allows; `no-store` also keeps the response out
 * of the shared tier); then `s-maxage` (Signet's cache is shared by many requests), then `max-age`, then
 * `Expires` minus `Date` (or minus now); lacking all of them, `defaultTtlSeconds`. An `Age` field is subtracted
 * (the response may have waited in a CDN). The result is clamped to [`minTtlSeconds`, `maxTtlSeconds`].
 *
 * @param nowMs the current time in milliseconds (used when `Date` is absent or invalid)
 *
 * @example
 * ```ts
 * keySetFreshness({ cacheControl: "max-age=3600" }, Date.now()); // { ttlSeconds: 3600, source: "max-age", shareable: true }
 * keySetFreshness({ cacheControl: "max-age=5" }, Date.now()); // ttlSeconds 60 (the floor)
 * keySetFreshness({ cacheControl: "max-age=31536000" }, Date.now()); // ttlSeconds 86400 (the ceiling)
 * ```
 */
export function keySetFreshness(caching: CachingHeaders, nowMs: number, options: FreshnessOptions = {}): Freshness {
  const min = options.minTtlSeconds ?? DEFAULT_MIN_TTL_SECONDS;
  const max = options.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
  const fallback = options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
  const clamp = (seconds: number) => Math.min(max, Math.max(min, Math.floor(seconds)));
  const directives = parseCacheControl(caching.cacheControl ?? "");
  const shareable = !directives.has("no-store") && !directives.has("private");
  if (directives.has("no-store")) return { ttlSeconds: min, source: "no-store", shareable };
  if (directives.has("no-cache")) return { ttlSeconds: min, source: "no-cache", shareable };
  const age = deltaSeconds(caching.age) ?? 0;
  for (const name of ["s-maxage", "max-age"] as const) {
    const value = deltaSeconds(directives.get(name));
    if (value !== undefined) return { ttlSeconds: clamp(value - age), source: name, shareable };
  }
  if (caching.expires !== undefined) {
    const expires = Date.parse(caching.expires);
    const date = caching.date === undefined ? Number.NaN : Date.parse(caching.date);
    // An invalid Expires (such as "0") means already expired (RFC 9111 §5.3).
    const lifetime = Number.isNaN(expires) ? 0 : (expires - (Number.isNaN(date) ? nowMs : date)) / 1000;
    return { ttlSeconds: clamp(lifetime - age), source: "expires", shareable };
  }
  return { ttlSeconds: clamp(fallback), source: "default", shareable };
}

/** Cache-Control directives by lower-cased name; the first occurrence of a name wins. */
function parseCacheControl(value: string): Map<string, string | undefined> {
  const directives = new Map<string, string | undefined>();
  for (const part of value.split(",")) {
    const [rawName, ...rest] = part.split("=");
    const name = (rawName as string).trim().toLowerCase();
    if (name === "" || directives.has(name)) continue;
    const raw = rest.length === 0 ? undefined : rest.join("=").trim();
    directives.set(name, raw?.replace(/^"(.*)"$/, "$1"));
  }
  return directives;
}

function deltaSeconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}
