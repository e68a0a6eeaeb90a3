/**
 * The shared tier of Signet's fetch caches: a Cache API cache (by default the data centre's `caches.default`)
 * holding the raw response of a fetched document under its URL, stamped with Signet's own fetch time and end of
 * freshness so that the reader's clock, not the Cache API's, decides whether a copy is still fresh. What is read
 * back is only bytes and headers: every caller vets it again as if it had just been fetched.
 *
 * Used by the Web Bot Auth key directory cache and the AAuth metadata and JWKS cache. Each stores under its own
 * namespace, so one never accepts a copy stored under the other's (different) media type and parsing rules.
 *
 * @module
 */

/** Header holding the reader-independent fetch time of a stored copy, in milliseconds since the epoch. */
export const SHARED_FETCHED_AT = "signet-fetched-at";
/** Header holding the end of freshness of a stored copy, in milliseconds since the epoch. */
export const SHARED_FRESH_UNTIL = "signet-fresh-until";
/** Header naming the cache that stored a copy. */
export const SHARED_NAMESPACE = "signet-namespace";

/** Response fields kept in the shared tier: what parsing and directory binding verification read. */
const STORED_FIELDS = [
  "content-type",
  "content-digest",
  "signature-input",
  "signature",
  "etag",
  "last-modified",
  "date",
];

/** A raw response to store: the exact body and the headers it came with. */
export interface SharedResponse {
  readonly bytes: Uint8Array;
  readonly headers: Headers;
}

/** A copy read back from the shared tier, not yet vetted. */
export interface SharedCopy extends SharedResponse {
  /** The body decoded as UTF-8. */
  readonly text: string;
  /** When the storing isolate fetched it, milliseconds. */
  readonly fetchedAt: number;
  /** Until when the storing isolate judged it fresh, milliseconds. */
  readonly freshUntil: number;
}

/**
 * One namespace of a shared Cache API tier.
 *
 * @example
 * ```ts
 * const tier = openSharedTier(resolveSharedCache(options.cache), "aauth-jwks");
 * const copy = await tier?.read(url, { now: Date.now(), maxBytes: 65_536 });
 * ```
 */
export interface SharedTier {
  /**
   * The stored copy of `url` when it is this namespace's, fresh at `now`, fetched after `newerThan` (when given)
   * and at most `maxBytes` long; otherwise `undefined`. Never throws (a broken tier reads as a miss).
   */
  read(
    url: string,
    when: { readonly now: number; readonly maxBytes: number; readonly newerThan?: number | undefined },
  ): Promise<SharedCopy | undefined>;
  /**
   * Stores a raw response with a synthetic `Cache-Control: max-age` equal to what remains of its freshness at
   * `now`. Only the fields parsing needs are kept. Never throws (the tier is an optimisation).
   */
  write(url: string, raw: SharedResponse, stamp: { fetchedAt: number; freshUntil: number; now: number }): Promise<void>;
}

/**
 * The cache a `cache` option names: itself, `null` for none, or for `undefined` the runtime's `caches.default`
 * when there is one (Workers), else `null` (Node).
 *
 * @example
 * ```ts
 * resolveSharedCache(undefined); // caches.default in workerd, null in Node
 * ```
 */
export function resolveSharedCache(cache: Cache | null | undefined): Cache | null {
  if (cache !== undefined) return cache;
  const storage = (globalThis as { caches?: { default?: Cache } }).caches;
  return storage?.default ?? null;
}

/**
 * Whether a `cache` option is acceptable: `undefined`, `null` or something with `match` and `put`.
 *
 * @example
 * ```ts
 * if (!isCacheOption(options.cache)) throw new TypeError("option cache must be a Cache, null or undefined");
 * ```
 */
export function isCacheOption(cache: unknown): cache is Cache | null | undefined {
  if (cache === undefined || cache === null) return true;
  const candidate = cache as { match?: unknown; put?: unknown };
  return typeof candidate === "object" && typeof candidate.match === "function" && typeof candidate.put === "function";
}

/**
 * A namespace of the shared tier on `cache`, or `null` when there is no cache.
 *
 * @example
 * ```ts
 * const tier = openSharedTier(await caches.open("test"), "web-bot-auth");
 * await tier?.write(url, fetched, { fetchedAt, freshUntil, now: Date.now() });
 * ```
 */
export function openSharedTier(cache: Cache | null, namespace: string): SharedTier | null {
  if (cache === null) return null;
  return {
    async read(url, when) {
      let response: Response | undefined;
      try {
        response = await cache.match(new Request(url));
        if (response === undefined) return undefined;
        const headers = response.headers;
        const fetchedAt = Number(headers.get(SHARED_FETCHED_AT) ?? Number.NaN);
        const freshUntil = Number(headers.get(SHARED_FRESH_UNTIL) ?? Number.NaN);
        const usable =
          headers.get(SHARED_NAMESPACE) === namespace &&
          Number.isFinite(fetchedAt) &&
          Number.isFinite(freshUntil) &&
          freshUntil > when.now &&
          (when.newerThan === undefined || fetchedAt > when.newerThan);
        if (!usable) {
          await response.body?.cancel();
          return undefined;
        }
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (bytes.byteLength > when.maxBytes) return undefined;
        const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
        return { bytes, text, headers, fetchedAt, freshUntil };
      } catch {
        return undefined;
      }
    },

    async write(url, raw, stamp) {
      const headers = new Headers();
      for (const name of STORED_FIELDS) {
        const value = raw.headers.get(name);
        if (value !== null) headers.set(name, value);
      }
      headers.set("cache-control", `max-age=${Math.max(1, Math.ceil((stamp.freshUntil - stamp.now) / 1000))}`);
      headers.set(SHARED_FETCHED_AT, String(stamp.fetchedAt));
      headers.set(SHARED_FRESH_UNTIL, String(stamp.freshUntil));
      headers.set(SHARED_NAMESPACE, namespace);
      try {
        await cache.put(new Request(url), new Response(raw.bytes, { headers }));
      } catch {
        // The shared tier is an optimisation; the isolate tier already holds the document.
      }
    },
  };
}
