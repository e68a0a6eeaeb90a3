/**
 * The key directory cache: Signet's {@link KeySource}. Two tiers, per isolate memory (parsed sets with imported
 * keys) and the data centre's Cache API (raw responses), in front of one bounded fetch per key set URL at a time.
 * It follows PROTO-02's "Deployment Guidance": honour HTTP caching within a clamp, coalesce concurrent fetches,
 * negative-cache failures for at most five minutes, and never let a failed refresh evict keys already held.
 *
 * @module
 */
import { type Jwk, privateMembersOf } from "../rfc9421/index.ts";
import {
  applyDirectoryBinding,
  DEFAULT_DIRECTORY_CLOCK_SKEW_SECONDS,
  verifyDirectorySignatures,
} from "./directory-signature.ts";
import { checkEgress } from "./egress-guard.ts";
import {
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_KEY_SET_BYTES,
  type FetchFunction,
  fetchKeySet,
} from "./fetch-key-set.ts";
import { DEFAULT_MAX_TTL_SECONDS, DEFAULT_MIN_TTL_SECONDS, DEFAULT_TTL_SECONDS, keySetFreshness } from "./freshness.ts";
import type { AgentReference, DiscoveryErrorCode, KeyLookup, KeySource } from "./key-source.ts";
import { DEFAULT_MAX_KEYS, findInKeySet, type KeySet, type KeySetClock, parseKeySet } from "./parse-key-set.ts";
import { isCacheOption, openSharedTier, resolveSharedCache } from "./shared-tier.ts";

/** Default (and largest) time a failure is remembered before the next fetch, in seconds (PROTO-02: ≤ 5 min). */
export const DEFAULT_NEGATIVE_TTL_SECONDS = 300;
/** Default delay before retrying after a first failure, in seconds; it doubles per failure up to the negative TTL. */
export const DEFAULT_FAILURE_BACKOFF_SECONDS = 30;
/** Default shortest time between two refetches of one key set caused by unknown `keyid`s, in seconds. */
export const DEFAULT_UNKNOWN_KEY_COOLDOWN_SECONDS = 30;
/** Default largest number of key sets held per isolate. */
export const DEFAULT_MAX_KEY_SETS = 1000;

/**
 * Options of {@link createKeyDirectoryCache}. Every number is checked at construction (TypeError if bad).
 *
 * @example
 * ```ts
 * // Tests: a local directory server, a hand-driven clock, no shared tier.
 * createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: null, now: () => clockMs, timeoutMs: 500 });
 * ```
 */
export interface KeyDirectoryCacheOptions {
  /** The fetch to use. Default: the global `fetch`. */
  readonly fetch?: FetchFunction | undefined;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** A number in [0, 1) for retry jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /**
   * The shared tier: a Cache API cache keyed by the key set URL. Default `caches.default` when the runtime has it;
   * `null` turns the tier off. (On `*.workers.dev` `caches.default` silently stores nothing.)
   */
  readonly cache?: Cache | null | undefined;
  /**
   * Key sets configured out of band, by key set URL. They are never fetched; their keys are vetted like fetched
   * ones (test keys, weak keys) and looked up by thumbprint, and also by `kid` for `jwks` agents.
   */
  readonly pinned?: ReadonlyMap<string, readonly Jwk[]> | undefined;
  /** Accept the published RFC 9421 test keys. Tests only. Default `false` (`test_key_refused`). */
  readonly allowTestKeys?: boolean | undefined;
  /**
   * Use only keys with a valid directory response signature (`"@authority";req` + `content-digest`, tag
   * `http-message-signatures-directory`). Default `false`.
   */
  readonly requireDirectorySignature?: boolean | undefined;
  /** Allowed clock difference for directory response signatures, in seconds. Default 60. */
  readonly clockSkewSeconds?: number | undefined;
  /** Allow loopback key set URLs (http or https, any port). Tests and local demos only. Default `false`. */
  readonly unsafeAllowLoopback?: boolean | undefined;
  /** Accept `application/json` and `application/jwk-set+json` at the well-known location too. Default `false`. */
  readonly lenientDirectoryMediaType?: boolean | undefined;
  /** Wall-clock limit of one fetch (headers and body), in milliseconds. Default 3000. */
  readonly timeoutMs?: number | undefined;
  /** Largest key set body, in bytes. Default 65536. */
  readonly maxBytes?: number | undefined;
  /** Largest number of keys in one set. Default 32. */
  readonly maxKeys?: number | undefined;
  /** Shortest freshness lifetime, in seconds. Default 60. */
  readonly minTtlSeconds?: number | undefined;
  /** Longest freshness lifetime, in seconds. Default 86400 (24 h). */
  readonly maxTtlSeconds?: number | undefined;
  /** Lifetime when the response has no caching fields, in seconds (then clamped). Default 60. */
  readonly defaultTtlSeconds?: number | undefined;
  /** Longest time a failure blocks fetching, in seconds; at most 300. Default 300. */
  readonly negativeTtlSeconds?: number | undefined;
  /** Block after a first failure, in seconds; doubles per consecutive failure up to `negativeTtlSeconds`. Default 30. */
  readonly failureBackoffSeconds?: number | undefined;
  /** Shortest time between unknown-`keyid` refetches of one key set, in seconds. Default 30. */
  readonly unknownKeyCooldownSeconds?: number | undefined;
  /** Largest number of key sets held in isolate memory (least recently used are dropped). Default 1000. */
  readonly maxKeySets?: number | undefined;
  /** The `User-Agent` of key set fetches. Default `"signet-key-discovery"`. */
  readonly userAgent?: string | undefined;
}

/**
 * The {@link KeySource} returned by {@link createKeyDirectoryCache}.
 *
 * @example
 * ```ts
 * const keys: KeyDirectoryCache = createKeyDirectoryCache();
 * console.log(keys.size); // key sets held by this isolate
 * ```
 */
export interface KeyDirectoryCache extends KeySource {
  /** How many fetched key sets this isolate holds now (pinned sets not counted). At most `maxKeySets`. */
  readonly size: number;
  /**
   * What this isolate knows of one key set, for the console's directory health (read only, no fetch);
   * `undefined` when it holds nothing for that URL.
   */
  health(keySetUrl: string): KeySetHealth | undefined;
}

/**
 * A key set's state in this isolate (see {@link KeyDirectoryCache.health}).
 *
 * @example
 * ```ts
 * cache.health("https://agent.example/.well-known/http-message-signatures-directory"); // { pinned: false, keyCount: 2, ... }
 * ```
 */
export interface KeySetHealth {
  /** Pinned in the policy (never fetched). */
  readonly pinned: boolean;
  /** Usable keys held (pinned: configured). */
  readonly keyCount?: number | undefined;
  /** When the held set was fetched, ms since the epoch. */
  readonly fetchedAt?: number | undefined;
  /** Until when the held set is fresh, ms since the epoch. */
  readonly freshUntil?: number | undefined;
  /** The last failure's discovery code, while it stands. */
  readonly failure?: DiscoveryErrorCode | undefined;
}

/** A set held in memory, with when it was fetched and until when it is fresh (milliseconds). */
interface Held {
  readonly keySet: KeySet;
  readonly fetchedAt: number;
  readonly freshUntil: number;
}

interface Failure {
  readonly code: DiscoveryErrorCode;
  readonly message: string;
  /** No fetch before this time (milliseconds). */
  readonly until: number;
  /** Consecutive failures. */
  readonly count: number;
}

interface Entry {
  readonly url: string;
  readonly kind: AgentReference["kind"];
  held?: Held | undefined;
  failure?: Failure | undefined;
  lastForcedRefresh?: number | undefined;
  inflight?: Promise<void> | undefined;
}

/** A raw key set response, fresh from the network or from the shared tier. */
interface RawKeySet {
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly headers: Headers;
}

/** The shared tier namespace of Web Bot Auth key sets. */
const SHARED_NAMESPACE = "web-bot-auth";

/**
 * Creates Signet's key source: finds a verification key by (key set URL, `keyid`), never by `keyid` alone.
 *
 * - **Tiers.** A per-isolate LRU map of parsed sets with imported keys (at most `maxKeySets`), then the shared
 *   Cache API tier holding the raw response under the key set URL with a synthetic `Cache-Control: max-age` equal
 *   to the remaining clamped lifetime (and Signet's own fetch time, so the injected clock decides freshness).
 * - **Freshness.** `s-maxage`, `max-age` or `Expires` (minus `Age`), clamped to [60 s, 24 h]; `no-store`,
 *   `no-cache` and a missing `Cache-Control` mean 60 s (`no-store` responses skip the shared tier). With
 *   `requireDirectorySignature`, a set also goes stale when a binding signature expires (not before the 60 s floor).
 * - **Coalescing.** Concurrent lookups of one set share one in-flight refresh.
 * - **Failures.** A failed fetch, parse or binding check blocks fetching that set for 30 s, doubling per
 *   consecutive failure, never more than `negativeTtlSeconds` (≤ 300 s), longer only if `Retry-After` asks (and
 *   still capped), with up to 20 % jitter downwards. A failure never evicts a held set: its keys keep being served
 *   (stale) until a fetch succeeds. A successful fetch replaces the set, so a removed key stops verifying.
 * - **Unknown `keyid`.** Refetches the set at most once per `unknownKeyCooldownSeconds` (30 s) per set, then
 *   answers `key_not_found` (or the refresh failure's code when that refetch failed).
 * - **Pinned sets** are never fetched and never refreshed.
 *
 * `findKey` never throws except for a malformed argument (TypeError); every other failure is a
 * {@link KeyLookup} with a {@link DiscoveryErrorCode}.
 *
 * @throws {TypeError} for an invalid option (the message names it), including a pinned key with private members
 *
 * @example
 * ```ts
 * const keys = createKeyDirectoryCache({ requireDirectorySignature: true });
 * const lookup = await keys.findKey(
 *   { keySetUrl: "https://agent.example/.well-known/http-message-signatures-directory", kind: "directory",
 *     declared: "https://agent.example" },
 *   "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
 * );
 * if (lookup.ok) await lookup.key.verify(base, signature);
 * else console.log(lookup.code, lookup.message); // e.g. "directory_unreachable"
 * ```
 */
export function createKeyDirectoryCache(options: KeyDirectoryCacheOptions = {}): KeyDirectoryCache {
  const config = readOptions(options);
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? Math.random;
  const entries = new Map<string, Entry>();
  const pinnedSets = new Map<string, { jwks: readonly Jwk[]; parsed?: Promise<KeySet | string> }>();
  for (const [url, jwks] of options.pinned ?? []) pinnedSets.set(normalise(url) ?? url, { jwks });
  const sharedTier = openSharedTier(resolveSharedCache(options.cache), SHARED_NAMESPACE);

  const fetchOptions = {
    fetch: options.fetch,
    timeoutMs: config.timeoutMs,
    maxBytes: config.maxBytes,
    lenientDirectoryMediaType: options.lenientDirectoryMediaType,
    unsafeAllowLoopback: options.unsafeAllowLoopback,
    userAgent: options.userAgent,
  };

  async function findKey(agent: AgentReference, keyid: string): Promise<KeyLookup> {
    checkArguments(agent, keyid);
    const pinned = pinnedSets.get(normalise(agent.keySetUrl) ?? agent.keySetUrl);
    if (pinned !== undefined) return findPinned(pinned, agent, keyid);
    const egress = checkEgress(agent.keySetUrl, { unsafeAllowLoopback: options.unsafeAllowLoopback });
    if (!egress.allowed) return failed("egress_refused", egress.reason);

    const entry = touch(egress.url.href, agent.kind);
    if (entry.held === undefined || now() >= entry.held.freshUntil) await refresh(entry);
    let answer = answerFrom(entry, agent, keyid);
    if (answer === "unknown") {
      const last = entry.lastForcedRefresh;
      if (last === undefined || now() - last >= config.unknownKeyCooldownSeconds * 1000) {
        entry.lastForcedRefresh = now();
        await refresh(entry);
        answer = answerFrom(entry, agent, keyid);
      } else if (entry.inflight !== undefined) {
        // Another lookup's refetch is under way: its result is the freshest answer there will be.
        await entry.inflight;
        answer = answerFrom(entry, agent, keyid);
      }
    }
    if (answer !== "unknown") return answer;
    if (entry.failure !== undefined) {
      return failed(
        entry.failure.code,
        `keyid "${clip(keyid)}" is not in the key set held for ${entry.url}, and refreshing it failed: ${entry.failure.message}`,
      );
    }
    return failed("key_not_found", `the key set at ${entry.url} has no key with keyid "${clip(keyid)}"`);
  }

  /** The time keys' `nbf` and `exp` are judged by. */
  function clock(): KeySetClock {
    return { now: Math.floor(now() / 1000), clockSkewSeconds: config.clockSkewSeconds };
  }

  /** The answer from the held set, or "unknown" when the keyid is not listed at all. */
  function answerFrom(entry: Entry, agent: AgentReference, keyid: string): KeyLookup | "unknown" {
    const held = entry.held;
    if (held === undefined) {
      const failure = entry.failure;
      return failure === undefined
        ? failed("directory_unreachable", `the key set at ${entry.url} could not be fetched`)
        : failed(failure.code, failure.message);
    }
    const match = findInKeySet(held.keySet, keyid, undefined, clock());
    if (match.found) {
      const binding = match.key.binding;
      if (config.requireDirectorySignature && binding !== undefined) {
        const nowSeconds = Math.floor(now() / 1000);
        if (binding.expires < nowSeconds - config.clockSkewSeconds) {
          return failed(
            "directory_signature_invalid",
            `the binding signature of key ${match.key.thumbprint} at ${entry.url} expired at ${binding.expires}, and no fresher directory could be fetched`,
          );
        }
      }
      return { ok: true, key: match.key.key, agent, pinned: false };
    }
    if (match.refused !== undefined) return failed(match.refused.code, `${entry.url}: ${match.refused.message}`);
    return "unknown";
  }

  async function findPinned(
    pinned: { jwks: readonly Jwk[]; parsed?: Promise<KeySet | string> },
    agent: AgentReference,
    keyid: string,
  ): Promise<KeyLookup> {
    pinned.parsed ??= parseKeySet(
      { keys: pinned.jwks },
      { kind: "jwks", maxKeys: Math.max(1, pinned.jwks.length), allowTestKeys: options.allowTestKeys },
    )
      .then((r) => (r.ok ? r.keySet : r.message))
      .catch((error: unknown) => String(error));
    const keySet = await pinned.parsed;
    if (typeof keySet === "string") {
      return failed("directory_invalid", `the pinned key set for ${agent.keySetUrl}: ${keySet}`);
    }
    const match = findInKeySet(keySet, keyid, agent.kind === "jwks", clock());
    if (match.found) return { ok: true, key: match.key.key, agent, pinned: true };
    if (match.refused !== undefined) {
      return failed(match.refused.code, `pinned ${agent.keySetUrl}: ${match.refused.message}`);
    }
    return failed("key_not_found", `the pinned key set for ${agent.keySetUrl} has no key with keyid "${clip(keyid)}"`);
  }

  /** The entry for (kind, url), marked most recently used; the least recently used are dropped past the cap. */
  function touch(url: string, kind: AgentReference["kind"]): Entry {
    const id = `${kind} ${url}`;
    let entry = entries.get(id);
    if (entry !== undefined) entries.delete(id);
    else entry = { url, kind };
    entries.set(id, entry);
    while (entries.size > config.maxKeySets) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
    }
    return entry;
  }

  /** One refresh at a time per entry; none while a failure blocks fetching. */
  function refresh(entry: Entry): Promise<void> {
    if (entry.inflight !== undefined) return entry.inflight;
    if (entry.failure !== undefined && now() < entry.failure.until) return Promise.resolve();
    const work = doRefresh(entry).finally(() => {
      entry.inflight = undefined;
    });
    entry.inflight = work;
    return work;
  }

  async function doRefresh(entry: Entry): Promise<void> {
    try {
      const shared = await readShared(entry);
      if (shared !== undefined) return;
      const fetched = await fetchKeySet(entry.url, { ...fetchOptions, kind: entry.kind });
      if (!fetched.ok) return recordFailure(entry, fetched.code, fetched.message, fetched.retryAfterSeconds);
      const fetchedAt = now();
      const vetted = await vet(entry, fetched, fetchedAt);
      if (!vetted.ok) return recordFailure(entry, vetted.code, vetted.message);
      const freshness = keySetFreshness(fetched.caching, fetchedAt, config);
      const freshUntil = limitByBinding(vetted.keySet, fetchedAt, fetchedAt + freshness.ttlSeconds * 1000);
      install(entry, { keySet: vetted.keySet, fetchedAt, freshUntil });
      if (freshness.shareable) await sharedTier?.write(entry.url, fetched, { fetchedAt, freshUntil, now: now() });
    } catch (error) {
      // Only a bug or an exotic runtime failure gets here; fail closed for this set, never throw to the caller.
      recordFailure(entry, "directory_invalid", `the key set at ${entry.url} could not be processed: ${String(error)}`);
    }
  }

  /** Parses the raw set and applies the binding policy. */
  async function vet(
    entry: Entry,
    raw: RawKeySet,
    at: number,
  ): Promise<{ ok: true; keySet: KeySet } | { ok: false; code: DiscoveryErrorCode; message: string }> {
    const parsed = await parseKeySet(raw.text, {
      kind: entry.kind,
      maxKeys: config.maxKeys,
      allowTestKeys: options.allowTestKeys,
    });
    if (!parsed.ok) return { ok: false, code: parsed.code, message: `${entry.url}: ${parsed.message}` };
    if (!config.requireDirectorySignature) return parsed;
    const check = await verifyDirectorySignatures({
      url: entry.url,
      headers: raw.headers,
      body: raw.bytes,
      keySet: parsed.keySet,
      now: Math.floor(at / 1000),
      clockSkew: config.clockSkewSeconds,
    });
    const keySet = applyDirectoryBinding(parsed.keySet, check, { require: true });
    if (keySet.keys.length === 0 && parsed.keySet.keys.length > 0) {
      const reasons = check.failures.map((f) => `${f.label || "-"}: ${f.message}`).join("; ");
      return {
        ok: false,
        code: "directory_signature_invalid",
        message: `${entry.url}: no key of the set has a valid directory response signature${reasons ? ` (${reasons})` : ""}`,
      };
    }
    return { ok: true, keySet };
  }

  /** With required bindings, the set is stale once its first binding signature expires (never before the floor). */
  function limitByBinding(keySet: KeySet, fetchedAt: number, freshUntil: number): number {
    if (!config.requireDirectorySignature) return freshUntil;
    let earliest = Number.POSITIVE_INFINITY;
    for (const key of keySet.keys) if (key.binding) earliest = Math.min(earliest, key.binding.expires * 1000);
    return Math.min(freshUntil, Math.max(fetchedAt + config.minTtlSeconds * 1000, earliest));
  }

  function install(entry: Entry, held: Held): void {
    entry.held = held;
    entry.failure = undefined;
  }

  function recordFailure(entry: Entry, code: DiscoveryErrorCode, message: string, retryAfterSeconds?: number): void {
    const count = (entry.failure?.count ?? 0) + 1;
    const backoff = config.failureBackoffSeconds * 2 ** Math.min(count - 1, 20);
    let delay = Math.min(config.negativeTtlSeconds, backoff) * (1 - 0.2 * clampUnit(random()));
    if (retryAfterSeconds !== undefined) {
      delay = Math.max(delay, Math.min(config.negativeTtlSeconds, retryAfterSeconds));
    }
    entry.failure = { code, message, until: now() + delay * 1000, count };
  }

  /** Installs a fresh copy from the shared tier when it is newer than what this isolate holds. */
  async function readShared(entry: Entry): Promise<true | undefined> {
    if (sharedTier === null) return undefined;
    try {
      const current = now();
      const copy = await sharedTier.read(entry.url, {
        now: current,
        maxBytes: config.maxBytes,
        newerThan: entry.held?.fetchedAt,
      });
      if (copy === undefined) return undefined;
      const vetted = await vet(entry, copy, current);
      if (!vetted.ok) return undefined;
      install(entry, {
        keySet: vetted.keySet,
        fetchedAt: copy.fetchedAt,
        freshUntil: limitByBinding(vetted.keySet, current, copy.freshUntil),
      });
      return true;
    } catch {
      return undefined;
    }
  }

  function health(keySetUrl: string): KeySetHealth | undefined {
    const url = normalise(keySetUrl) ?? keySetUrl;
    const pinned = pinnedSets.get(url);
    if (pinned !== undefined) return { pinned: true, keyCount: pinned.jwks.length };
    const entry = entries.get(`directory ${url}`) ?? entries.get(`jwks ${url}`);
    if (entry === undefined) return undefined;
    return {
      pinned: false,
      keyCount: entry.held?.keySet.keys.length,
      fetchedAt: entry.held?.fetchedAt,
      freshUntil: entry.held?.freshUntil,
      failure: entry.failure?.code,
    };
  }

  return {
    findKey,
    health,
    get size() {
      return entries.size;
    },
  };
}

interface Config {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxKeys: number;
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly defaultTtlSeconds: number;
  readonly negativeTtlSeconds: number;
  readonly failureBackoffSeconds: number;
  readonly unknownKeyCooldownSeconds: number;
  readonly maxKeySets: number;
  readonly clockSkewSeconds: number;
  readonly requireDirectorySignature: boolean;
}

function readOptions(options: KeyDirectoryCacheOptions): Config {
  const number = (
    name: keyof KeyDirectoryCacheOptions,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ) => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw new TypeError(
        `createKeyDirectoryCache: option ${name} must be a number in [${min}, ${max}], got ${String(value)}`,
      );
    }
    return value;
  };
  const integer = (name: keyof KeyDirectoryCacheOptions, fallback: number, min: number) => {
    const value = number(name, fallback, min);
    if (!Number.isSafeInteger(value)) throw new TypeError(`createKeyDirectoryCache: option ${name} must be an integer`);
    return value;
  };
  for (const name of ["fetch", "now", "random"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`createKeyDirectoryCache: option ${name} must be a function`);
    }
  }
  for (const name of [
    "allowTestKeys",
    "requireDirectorySignature",
    "unsafeAllowLoopback",
    "lenientDirectoryMediaType",
  ] as const) {
    if (options[name] !== undefined && typeof options[name] !== "boolean") {
      throw new TypeError(`createKeyDirectoryCache: option ${name} must be a boolean`);
    }
  }
  if (options.userAgent !== undefined && typeof options.userAgent !== "string") {
    throw new TypeError("createKeyDirectoryCache: option userAgent must be a string");
  }
  if (!isCacheOption(options.cache)) {
    throw new TypeError("createKeyDirectoryCache: option cache must be a Cache, null or undefined");
  }
  checkPinned(options.pinned);
  const config: Config = {
    timeoutMs: number("timeoutMs", DEFAULT_FETCH_TIMEOUT_MS, 1, 60_000),
    maxBytes: integer("maxBytes", DEFAULT_MAX_KEY_SET_BYTES, 1),
    maxKeys: integer("maxKeys", DEFAULT_MAX_KEYS, 1),
    minTtlSeconds: number("minTtlSeconds", DEFAULT_MIN_TTL_SECONDS, 0),
    maxTtlSeconds: number("maxTtlSeconds", DEFAULT_MAX_TTL_SECONDS, 0),
    defaultTtlSeconds: number("defaultTtlSeconds", DEFAULT_TTL_SECONDS, 0),
    negativeTtlSeconds: number("negativeTtlSeconds", DEFAULT_NEGATIVE_TTL_SECONDS, 0, DEFAULT_NEGATIVE_TTL_SECONDS),
    failureBackoffSeconds: number("failureBackoffSeconds", DEFAULT_FAILURE_BACKOFF_SECONDS, 0),
    unknownKeyCooldownSeconds: number("unknownKeyCooldownSeconds", DEFAULT_UNKNOWN_KEY_COOLDOWN_SECONDS, 0),
    maxKeySets: integer("maxKeySets", DEFAULT_MAX_KEY_SETS, 1),
    clockSkewSeconds: number("clockSkewSeconds", DEFAULT_DIRECTORY_CLOCK_SKEW_SECONDS, 0),
    requireDirectorySignature: options.requireDirectorySignature === true,
  };
  if (config.minTtlSeconds > config.maxTtlSeconds) {
    throw new TypeError("createKeyDirectoryCache: option minTtlSeconds must not exceed maxTtlSeconds");
  }
  return config;
}

function checkPinned(pinned: KeyDirectoryCacheOptions["pinned"]): void {
  if (pinned === undefined) return;
  if (!(pinned instanceof Map)) {
    throw new TypeError("createKeyDirectoryCache: option pinned must be a Map of URL to JWKs");
  }
  for (const [url, jwks] of pinned) {
    if (typeof url !== "string" || normalise(url) === undefined) {
      throw new TypeError(
        `createKeyDirectoryCache: option pinned has a key that is not an absolute URL: ${String(url)}`,
      );
    }
    if (!Array.isArray(jwks)) {
      throw new TypeError(`createKeyDirectoryCache: option pinned[${url}] must be an array of JWKs`);
    }
    for (const jwk of jwks) {
      if (typeof jwk !== "object" || jwk === null) {
        throw new TypeError(`createKeyDirectoryCache: option pinned[${url}] holds something that is not a JWK`);
      }
      const leaked = privateMembersOf(jwk)[0];
      if (leaked !== undefined) {
        throw new TypeError(`createKeyDirectoryCache: option pinned[${url}] holds a private key (member "${leaked}")`);
      }
    }
  }
}

function checkArguments(agent: AgentReference, keyid: string): void {
  if (typeof agent !== "object" || agent === null || typeof agent.keySetUrl !== "string") {
    throw new TypeError("findKey: agent must be an AgentReference with a keySetUrl string");
  }
  if (agent.kind !== "directory" && agent.kind !== "jwks") {
    throw new TypeError(`findKey: agent.kind must be "directory" or "jwks", got ${String(agent.kind)}`);
  }
  if (typeof keyid !== "string") throw new TypeError("findKey: keyid must be a string");
}

function normalise(url: string): string | undefined {
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

function failed(code: DiscoveryErrorCode, message: string): KeyLookup {
  return { ok: false, code, message };
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 100)}…`;
}
