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
import { DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_MAX_KEY_SET_BYTES, type FetchFunction } from "./fetch-key-set.ts";
import { DEFAULT_MAX_TTL_SECONDS, DEFAULT_MIN_TTL_SECONDS, DEFAULT_TTL_SECONDS } from "./freshness.ts";
import {
  createKeyLookup,
  DEFAULT_FAILURE_BACKOFF_SECONDS,
  DEFAULT_NEGATIVE_TTL_SECONDS,
  DEFAULT_REFETCH_COOLDOWN_SECONDS,
  type DocumentSpec,
  discoveryMessage,
  type KeyLookupLayer,
  type RawDocument,
  type Vetted,
} from "./key-lookup.ts";
import type { AgentReference, DiscoveryErrorCode, KeyLookup, KeySource } from "./key-source.ts";
import { DEFAULT_MAX_KEYS, findInKeySet, type KeySet, type KeySetClock, parseKeySet } from "./parse-key-set.ts";
import { type RequestBudget, unlimitedBudget } from "./request-budget.ts";
import { isCacheOption } from "./shared-tier.ts";

export { DEFAULT_FAILURE_BACKOFF_SECONDS, DEFAULT_NEGATIVE_TTL_SECONDS } from "./key-lookup.ts";
/** Default shortest time between two refetches of one key set caused by unknown `keyid`s, in seconds. */
export const DEFAULT_UNKNOWN_KEY_COOLDOWN_SECONDS = DEFAULT_REFETCH_COOLDOWN_SECONDS;
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
  /**
   * The key-lookup layer to fetch through, shared with AAuth (then its own fetch, clock, tier and failure options
   * apply, and this cache's are ignored). Default: a layer of its own built from these options.
   */
  readonly lookup?: KeyLookupLayer | undefined;
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

/** The shared tier namespaces (and LRU prefixes) of Web Bot Auth key sets, by kind. */
const NAMESPACES: Readonly<Record<AgentReference["kind"], string>> = {
  directory: "web-bot-auth",
  jwks: "web-bot-auth-jwks",
};

/**
 * Creates Signet's Web Bot Auth key source: finds a verification key by (key set URL, `keyid`), never by `keyid`
 * alone. Fetching, tiers, backoff, stale-on-error, the unknown-key cooldown and the per-request budget belong to
 * the shared key-lookup layer ({@link createKeyLookup}; pass `lookup` to share one with AAuth); this module owns
 * only what is Web Bot Auth's: how a key set is named (pinned or by URL) and vetted (PROTO-02 directories, JWK
 * Sets, directory response signatures).
 *
 * - **Freshness.** `s-maxage`, `max-age` or `Expires` (minus `Age`), clamped to [60 s, 24 h]; with
 *   `requireDirectorySignature`, a set also goes stale when a binding signature expires (not before the floor).
 * - **Unknown `keyid`.** Refetches the set at most once per `unknownKeyCooldownSeconds` (30 s) per set, never in
 *   the request whose own fetch already missed, then answers `key_not_found` (or the refresh failure's code when
 *   that refetch failed).
 * - **Pinned sets** are never fetched and never refreshed.
 * - **Messages** never quote what a directory sent.
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
 *   createRequestBudget(policy.budget),
 * );
 * if (lookup.ok) await lookup.key.verify(base, signature);
 * else console.log(lookup.code, lookup.message); // e.g. "directory_unreachable"
 * ```
 */
export function createKeyDirectoryCache(options: KeyDirectoryCacheOptions = {}): KeyDirectoryCache {
  const config = readOptions(options);
  const now = options.now ?? (() => Date.now());
  const pinnedSets = new Map<string, { jwks: readonly Jwk[]; parsed?: Promise<KeySet | string> }>();
  for (const [url, jwks] of options.pinned ?? []) pinnedSets.set(normalise(url) ?? url, { jwks });
  const lookup =
    options.lookup ??
    createKeyLookup({
      fetch: options.fetch,
      now,
      random: options.random,
      cache: options.cache,
      unsafeAllowLoopback: options.unsafeAllowLoopback,
      timeoutMs: config.timeoutMs,
      maxBytes: config.maxBytes,
      maxDocuments: config.maxKeySets,
      negativeTtlSeconds: config.negativeTtlSeconds,
      failureBackoffSeconds: config.failureBackoffSeconds,
      refetchCooldownSeconds: config.unknownKeyCooldownSeconds,
      minTtlSeconds: config.minTtlSeconds,
      maxTtlSeconds: config.maxTtlSeconds,
      defaultTtlSeconds: config.defaultTtlSeconds,
    });
  const specs = {
    directory: specFor("directory"),
    jwks: specFor("jwks"),
  } as const;

  function specFor(kind: AgentReference["kind"]): DocumentSpec<KeySet> {
    return {
      namespace: NAMESPACES[kind],
      fetch: {
        kind,
        lenientDirectoryMediaType: options.lenientDirectoryMediaType,
        userAgent: options.userAgent,
      },
      freshness: config,
      vet: (raw, at, url) => vet(kind, raw, at, url),
      limitFreshness: limitByBinding,
    };
  }

  async function findKey(agent: AgentReference, keyid: string, budget?: RequestBudget): Promise<KeyLookup> {
    checkArguments(agent, keyid);
    const pinned = pinnedSets.get(normalise(agent.keySetUrl) ?? agent.keySetUrl);
    if (pinned !== undefined) return findPinned(pinned, agent, keyid);
    const scope = budget ?? unlimitedBudget();
    const spec = specs[agent.kind];
    const name = `the key set at ${clip(agent.keySetUrl)}`;
    const loaded = await lookup.load(spec, agent.keySetUrl, name, scope);
    if (!loaded.ok) return loaded;
    let answer = answerFrom(loaded.data, name, agent, keyid);
    if (answer === "unknown") {
      const again = await lookup.load(spec, agent.keySetUrl, name, scope, "unknown-key");
      if (again.ok) answer = answerFrom(again.data, name, agent, keyid);
      if (answer === "unknown") {
        const failure = lookup.state(spec, agent.keySetUrl).failure;
        if (failure !== undefined) {
          return failed(
            failure,
            `${name} has no key with keyid "${clip(keyid)}", and refreshing it failed: ${discoveryMessage(failure, "it")}`,
          );
        }
        if (!again.ok && again.code !== "key_not_found") return again;
      }
    }
    if (answer !== "unknown") return answer;
    return failed("key_not_found", `${name} has no key with keyid "${clip(keyid)}"`);
  }

  /** The time keys' `nbf` and `exp` are judged by. */
  function clock(): KeySetClock {
    return { now: Math.floor(now() / 1000), clockSkewSeconds: config.clockSkewSeconds };
  }

  /** The answer from a held set, or "unknown" when the keyid is not listed at all. */
  function answerFrom(keySet: KeySet, name: string, agent: AgentReference, keyid: string): KeyLookup | "unknown" {
    const match = findInKeySet(keySet, keyid, undefined, clock());
    if (match.found) {
      const binding = match.key.binding;
      if (config.requireDirectorySignature && binding !== undefined) {
        const nowSeconds = Math.floor(now() / 1000);
        if (binding.expires < nowSeconds - config.clockSkewSeconds) {
          return failed(
            "directory_signature_invalid",
            `the binding signature of key "${clip(keyid)}" in ${name} expired, and no fresher directory could be fetched`,
          );
        }
      }
      return { ok: true, key: match.key.key, agent, pinned: false };
    }
    if (match.refused !== undefined) return failed(match.refused.code, discoveryMessage(match.refused.code, name));
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

  /** Parses the raw set and applies the binding policy. Messages stay Signet's own. */
  async function vet(kind: AgentReference["kind"], raw: RawDocument, at: number, url: string): Promise<Vetted<KeySet>> {
    const parsed = await parseKeySet(raw.text, {
      kind,
      maxKeys: config.maxKeys,
      allowTestKeys: options.allowTestKeys,
    });
    if (!parsed.ok) return { ok: false, code: parsed.code };
    if (!config.requireDirectorySignature) return { ok: true, data: parsed.keySet };
    const check = await verifyDirectorySignatures({
      url,
      headers: raw.headers,
      body: raw.bytes,
      keySet: parsed.keySet,
      now: Math.floor(at / 1000),
      clockSkew: config.clockSkewSeconds,
    });
    const keySet = applyDirectoryBinding(parsed.keySet, check, { require: true });
    if (keySet.keys.length === 0 && parsed.keySet.keys.length > 0) {
      return { ok: false, code: "directory_signature_invalid" };
    }
    return { ok: true, data: keySet };
  }

  /** With required bindings, the set is stale once its first binding signature expires (never before the floor). */
  function limitByBinding(keySet: KeySet, fetchedAt: number, freshUntil: number): number {
    if (!config.requireDirectorySignature) return freshUntil;
    let earliest = Number.POSITIVE_INFINITY;
    for (const key of keySet.keys) if (key.binding) earliest = Math.min(earliest, key.binding.expires * 1000);
    return Math.min(freshUntil, Math.max(fetchedAt + config.minTtlSeconds * 1000, earliest));
  }

  function health(keySetUrl: string): KeySetHealth | undefined {
    const url = normalise(keySetUrl) ?? keySetUrl;
    const pinned = pinnedSets.get(url);
    if (pinned !== undefined) return { pinned: true, keyCount: pinned.jwks.length };
    for (const spec of [specs.directory, specs.jwks]) {
      const state = lookup.state(spec, url);
      if (!state.held && state.failure === undefined) continue;
      return {
        pinned: false,
        keyCount: state.data?.keys.length,
        fetchedAt: state.fetchedAt,
        freshUntil: state.freshUntil,
        failure: state.failure,
      };
    }
    return undefined;
  }

  return {
    findKey,
    health,
    get size() {
      return lookup.size;
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

function _clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function clip(text: string): string {
  return text.length <= 300 ? text : `${text.slice(0, 300)}…`;
}
