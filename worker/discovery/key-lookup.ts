/**
 * The one key-lookup layer both profiles fetch through: Web Bot Auth key directories and JWK Sets, AAuth issuer
 * metadata and the JWK Sets it names. It owns everything about getting a document: the egress guard, the bounded
 * fetch, a per-isolate LRU of vetted documents, the data centre's Cache API as a second tier, backoff after
 * failures, stale-on-error, the unknown-key refetch cooldown, and the per-request {@link RequestBudget}. The
 * profiles own only how a document is named and vetted (a {@link DocumentSpec}).
 *
 * Sharing across requests: only settled results (held documents, remembered failures). A fetch is awaited by the
 * request that started it, and coalesced only with lookups of that same request, so a request that ends early,
 * is refused or whose client goes away cannot leave another request waiting on I/O that will never finish.
 *
 * Messages never carry bytes fetched from a third party (status, media type, body text, document members): a
 * failure is reported by its code and Signet's own sentence about the document's caller-given name.
 *
 * @module
 */
import { checkEgress } from "./egress-guard.ts";
import {
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_KEY_SET_BYTES,
  type FetchFunction,
  type FetchKeySetOptions,
  fetchKeySet,
} from "./fetch-key-set.ts";
import {
  DEFAULT_MAX_TTL_SECONDS,
  DEFAULT_MIN_TTL_SECONDS,
  DEFAULT_TTL_SECONDS,
  type FreshnessOptions,
  keySetFreshness,
} from "./freshness.ts";
import type { DiscoveryErrorCode } from "./key-source.ts";
import type { RequestBudget } from "./request-budget.ts";
import { isCacheOption, openSharedTier, resolveSharedCache, type SharedTier } from "./shared-tier.ts";

/**
 * Default (and largest) time a failure is remembered before the next fetch, in seconds (PROTO-02: ≤ 5 min).
 *
 * @example
 * ```ts
 * createKeyLookup({ negativeTtlSeconds: DEFAULT_NEGATIVE_TTL_SECONDS });
 * ```
 */
export const DEFAULT_NEGATIVE_TTL_SECONDS = 300;
/**
 * Default delay before retrying after a first failure, in seconds; it doubles per failure up to the negative TTL.
 *
 * @example
 * ```ts
 * createKeyLookup({ failureBackoffSeconds: DEFAULT_FAILURE_BACKOFF_SECONDS });
 * ```
 */
export const DEFAULT_FAILURE_BACKOFF_SECONDS = 30;
/**
 * Default shortest time between two fetches of one document caused by an unknown key, in seconds.
 *
 * @example
 * ```ts
 * createKeyLookup({ refetchCooldownSeconds: DEFAULT_REFETCH_COOLDOWN_SECONDS });
 * ```
 */
export const DEFAULT_REFETCH_COOLDOWN_SECONDS = 30;
/**
 * Default largest number of documents held per isolate (all kinds together).
 *
 * @example
 * ```ts
 * createKeyLookup({ maxDocuments: DEFAULT_MAX_DOCUMENTS });
 * ```
 */
export const DEFAULT_MAX_DOCUMENTS = 2000;
/**
 * Default longest time a fetched document is used at all, even stale, in seconds (AA: at most 24 h).
 *
 * @example
 * ```ts
 * createKeyLookup({ maxAgeSeconds: DEFAULT_MAX_AGE_SECONDS });
 * ```
 */
export const DEFAULT_MAX_AGE_SECONDS = 86_400;

/**
 * Options of {@link createKeyLookup}. Every number is checked at construction (TypeError if bad).
 *
 * @example
 * ```ts
 * createKeyLookup({ unsafeAllowLoopback: true, cache: null, now: () => clockMs, random: () => 0 });
 * ```
 */
export interface KeyLookupOptions {
  /** The fetch to use. Default: the global `fetch`. */
  readonly fetch?: FetchFunction | undefined;
  /** The clock, in milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** A number in [0, 1) for backoff jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** The shared tier. Default `caches.default` when the runtime has it; `null` turns it off. */
  readonly cache?: Cache | null | undefined;
  /** Allow loopback URLs (tests and local demos only). Default `false`. */
  readonly unsafeAllowLoopback?: boolean | undefined;
  /** Wall-clock limit of one fetch, milliseconds (the request's deadline may cut it shorter). Default 3000. */
  readonly timeoutMs?: number | undefined;
  /** Largest document, bytes. Default 65536. */
  readonly maxBytes?: number | undefined;
  /** Documents held in isolate memory, all kinds together; least recently used dropped first. Default 2000. */
  readonly maxDocuments?: number | undefined;
  /** Longest time a failure blocks fetching, seconds; at most 300. Default 300. */
  readonly negativeTtlSeconds?: number | undefined;
  /** Block after a first failure, seconds; doubles per consecutive failure. Default 30. */
  readonly failureBackoffSeconds?: number | undefined;
  /** Shortest time between a fetch of a document and a refetch for an unknown key, seconds. Default 30. */
  readonly refetchCooldownSeconds?: number | undefined;
  /** Longest time a fetched document is used, even stale, seconds. Default 86400. */
  readonly maxAgeSeconds?: number | undefined;
  /** Freshness clamp (seconds) for documents without a spec of their own. */
  readonly minTtlSeconds?: number | undefined;
  readonly maxTtlSeconds?: number | undefined;
  readonly defaultTtlSeconds?: number | undefined;
}

/**
 * A raw document, fresh from the network or from the shared tier.
 *
 * @example
 * ```ts
 * const raw: RawDocument = { bytes, text: new TextDecoder().decode(bytes), headers: new Headers() };
 * ```
 */
export interface RawDocument {
  readonly bytes: Uint8Array;
  readonly text: string;
  readonly headers: Headers;
}

/**
 * The outcome of vetting a raw document. A refusal's `message` is Signet's own text: it must not quote the
 * document (the layer does not pass it on to clients anyway; it is kept for tests and logs).
 *
 * @example
 * ```ts
 * const vetted: Vetted<string> = raw.text === "" ? { ok: false, code: "directory_invalid" } : { ok: true, data: raw.text };
 * ```
 */
export type Vetted<T> =
  | { readonly ok: true; readonly data: T }
  | { readonly ok: false; readonly code: DiscoveryErrorCode; readonly message?: string | undefined };

/**
 * How one kind of document is fetched and vetted. Specs are compared by identity: make each once.
 *
 * @example
 * ```ts
 * const spec: DocumentSpec<JwkSet> = { namespace: "aauth-jwks", fetch: { kind: "jwks" }, vet: async (raw) => parse(raw.text) };
 * ```
 */
export interface DocumentSpec<T> {
  /** The shared tier namespace and the LRU key prefix. */
  readonly namespace: string;
  /** How the document is fetched (media types). */
  readonly fetch: Pick<FetchKeySetOptions, "kind" | "mediaTypes" | "lenientDirectoryMediaType" | "userAgent">;
  /** Freshness clamp of this kind. Default: the layer's. */
  readonly freshness?: FreshnessOptions | undefined;
  /** Parses and checks a raw document from `url` fetched (or read back) at `at` milliseconds. */
  vet(raw: RawDocument, at: number, url: string): Promise<Vetted<T>>;
  /**
   * A floor this kind needs between any fetch and an unknown-key refetch, also the least cooldown between two
   * unknown-key refetches (e.g. AAuth: a JWKS at most once a minute), seconds.
   */
  readonly minRefetchSeconds?: number | undefined;
  /** Shortens freshness for this document (e.g. by binding signature expiry). */
  limitFreshness?(data: T, fetchedAt: number, freshUntil: number): number;
}

/**
 * A lookup answer: the vetted document, or why there is none (with a message safe to show a client).
 *
 * @example
 * ```ts
 * const loaded: Loaded<KeySet> = await lookup.load(spec, url, "the key set", budget);
 * if (!loaded.ok) console.log(loaded.code, loaded.message);
 * ```
 */
export type Loaded<T> =
  | { readonly ok: true; readonly data: T; readonly fetchedAt: number }
  | { readonly ok: false; readonly code: DiscoveryErrorCode; readonly message: string };

/**
 * Why a document is being loaded: `use` (fetched when missing or stale) or `unknown-key` (a key the held copy
 * lacks: refetched at most once per cooldown, never in a request whose own fetch already missed, within budget).
 *
 * @example
 * ```ts
 * await lookup.load(spec, url, name, budget, "unknown-key");
 * ```
 */
export type LoadReason = "use" | "unknown-key";

/**
 * What the layer reports about one document, for tests and operators.
 *
 * @example
 * ```ts
 * lookup.state(spec, url); // { held: true, fresh: true, coolingDown: false, blockedUntil: undefined }
 * ```
 */
export interface DocumentState<T = unknown> {
  readonly held: boolean;
  /** The held document, when there is one. */
  readonly data?: T | undefined;
  /** When the held copy was fetched, and until when it is fresh (milliseconds). */
  readonly fetchedAt?: number | undefined;
  readonly freshUntil?: number | undefined;
  readonly fresh: boolean;
  /** An unknown-key refetch would wait for the cooldown. */
  readonly coolingDown: boolean;
  /** Fetching is blocked by a remembered failure until then (milliseconds). */
  readonly blockedUntil?: number | undefined;
  /** The code of the last fetch, when it failed and no later one succeeded. */
  readonly failure?: DiscoveryErrorCode | undefined;
}

/**
 * The key-lookup layer.
 *
 * @example
 * ```ts
 * const lookup = createKeyLookup();
 * const loaded = await lookup.load(JWKS_SPEC, url, "the JWK Set at https://agent.example/keys", budget);
 * ```
 */
export interface KeyLookupLayer {
  /**
   * The vetted document at `url`, from isolate memory, the shared tier or the network (within `budget`).
   * `name` is how messages refer to it (never a third party's bytes). Never throws.
   */
  load<T>(
    spec: DocumentSpec<T>,
    url: string,
    name: string,
    budget: RequestBudget,
    reason?: LoadReason,
  ): Promise<Loaded<T>>;
  /** The state of one document. */
  state<T>(spec: DocumentSpec<T>, url: string): DocumentState<T>;
  /** Documents held in isolate memory now. */
  readonly size: number;
}

interface Held<T> {
  readonly data: T;
  readonly fetchedAt: number;
  readonly freshUntil: number;
}

interface Failure {
  readonly code: DiscoveryErrorCode;
  readonly until: number;
  readonly count: number;
}

interface Entry {
  held?: Held<unknown> | undefined;
  failure?: Failure | undefined;
  /** When the last fetch of this document started (any request, any reason). */
  lastFetch?: number | undefined;
  /** When the last unknown-key refetch started. */
  lastForced?: number | undefined;
  /** When a refresh still unsettled started (any request): a stale copy is served meanwhile, without waiting. */
  refreshing?: { readonly at: number } | undefined;
  /** Sequence of fetches started, and of the one whose result is installed: an older answer never wins. */
  started: number;
  installed: number;
}

/**
 * Creates the key-lookup layer (one per isolate, shared by both profiles).
 *
 * - **Tiers.** An LRU of vetted documents (at most `maxDocuments`), then the shared Cache API tier (raw
 *   responses re-vetted on read; `no-store`/`private` never stored; failures never stored).
 * - **Failures.** A failed fetch or vet blocks that document for 30 s, doubling per consecutive failure, never more
 *   than `negativeTtlSeconds`, with up to 20 % jitter downwards; `Retry-After` may lengthen it within the cap. A
 *   failure never evicts a held copy: it is served stale (up to `maxAgeSeconds`) until a fetch succeeds.
 * - **Stale while revalidating.** A stale copy is served without fetching while another request's refresh of it
 *   is under way (for at most one timeout); nobody waits on another request's fetch.
 * - **Unknown keys.** A refetch at most once per `refetchCooldownSeconds` per document, and never in a request
 *   whose own fetch of it already missed.
 * - **Budget.** Every fetch claims one from the request's budget and is cut off at its deadline; lookups that
 *   find the budget spent answer `fetch_limit` or `deadline_exceeded` (nothing remembered against the document).
 *
 * @throws {TypeError} for an invalid option
 *
 * @example
 * ```ts
 * const lookup = createKeyLookup({ timeoutMs: 2000 });
 * ```
 */
export function createKeyLookup(options: KeyLookupOptions = {}): KeyLookupLayer {
  const config = readOptions(options);
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? Math.random;
  const sharedCache = resolveSharedCache(options.cache);
  const tiers = new Map<string, SharedTier | null>();
  const entries = new Map<string, Entry>();

  function tierOf(namespace: string): SharedTier | null {
    let tier = tiers.get(namespace);
    if (tier === undefined) {
      tier = openSharedTier(sharedCache, namespace);
      tiers.set(namespace, tier);
    }
    return tier;
  }

  function touch(id: string): Entry {
    let entry = entries.get(id);
    if (entry !== undefined) entries.delete(id);
    else entry = { started: 0, installed: 0 };
    entries.set(id, entry);
    while (entries.size > config.maxDocuments) entries.delete(entries.keys().next().value as string);
    return entry;
  }

  function usable(entry: Entry, t: number): Held<unknown> | undefined {
    const held = entry.held;
    if (held === undefined) return undefined;
    if (t - held.fetchedAt >= config.maxAgeSeconds * 1000) {
      entry.held = undefined;
      return undefined;
    }
    return held;
  }

  async function load<T>(
    spec: DocumentSpec<T>,
    url: string,
    name: string,
    budget: RequestBudget,
    reason: LoadReason = "use",
  ): Promise<Loaded<T>> {
    try {
      const egress = checkEgress(url, { unsafeAllowLoopback: config.unsafeAllowLoopback });
      if (!egress.allowed) return refused("egress_refused", name);
      const href = egress.url.href;
      const id = `${spec.namespace} ${href}`;
      const entry = touch(id);
      const t = now();
      const held = usable(entry, t);
      const blocked = entry.failure !== undefined && t < entry.failure.until;
      const work = `${id}\n${reason}`;
      let budgetRefusal: DiscoveryErrorCode | undefined;
      if (budget.ran(work)) {
        // This request already fetches (or fetched) it for the same reason: join that, never start another.
        budgetRefusal = await budget.once(work, () => Promise.resolve(undefined));
      } else if (!blocked && wanted(reason, spec, entry, held, t, budget, id)) {
        if (reason === "unknown-key") entry.lastForced = t;
        // One fetch per document per request; other requests never wait on it.
        budgetRefusal = await budget.once(work, () => refresh(spec, entry, href, budget));
      }
      const current = usable(entry, now());
      if (current !== undefined) return { ok: true, data: current.data as T, fetchedAt: current.fetchedAt };
      if (budgetRefusal !== undefined) return refused(budgetRefusal, name);
      if (entry.failure !== undefined) return refused(entry.failure.code, name);
      return refused("directory_unreachable", name);
    } catch {
      // Only a bug or an exotic runtime failure gets here: fail closed, never throw to the caller.
      return refused("directory_invalid", name);
    }
  }

  /**
   * Whether to fetch: for `use`, when nothing usable is held or it is stale; for `unknown-key`, at most once per
   * cooldown per document, and never in a request whose own fetch of it already missed.
   */
  function wanted<T>(
    reason: LoadReason,
    spec: DocumentSpec<T>,
    entry: Entry,
    held: Held<unknown> | undefined,
    t: number,
    budget: RequestBudget,
    id: string,
  ): boolean {
    if (reason === "use") {
      if (held === undefined) return true;
      if (t < held.freshUntil) return false;
      // Stale while another request revalidates: serve the held copy, never wait on that fetch. A fetch that
      // never settles (its request ended) stops counting after one timeout.
      const other = entry.refreshing;
      return other === undefined || t - other.at >= config.timeoutMs;
    }
    const cooldown = Math.max(config.refetchCooldownSeconds, spec.minRefetchSeconds ?? 0) * 1000;
    const floor = (spec.minRefetchSeconds ?? 0) * 1000;
    return (
      (entry.lastForced === undefined || t - entry.lastForced >= cooldown) &&
      (entry.lastFetch === undefined || t - entry.lastFetch >= floor) &&
      !budget.ran(`${id}\nuse`)
    );
  }

  /** One refresh: the shared tier, else the network within the budget. Returns a budget refusal, if any. */
  async function refresh<T>(
    spec: DocumentSpec<T>,
    entry: Entry,
    href: string,
    budget: RequestBudget,
  ): Promise<DiscoveryErrorCode | undefined> {
    // Marked before the first await, so that concurrent requests serve a stale copy rather than refresh too.
    const mark = { at: now() };
    entry.refreshing = mark;
    try {
      return await refreshNow(spec, entry, href, budget);
    } finally {
      if (entry.refreshing === mark) entry.refreshing = undefined;
    }
  }

  async function refreshNow<T>(
    spec: DocumentSpec<T>,
    entry: Entry,
    href: string,
    budget: RequestBudget,
  ): Promise<DiscoveryErrorCode | undefined> {
    const tier = tierOf(spec.namespace);
    // The shared tier is an optimisation: a read that outlasts the request's deadline counts as a miss.
    if (tier !== null && (await within(readShared(spec, tier, entry, href), budget.remainingMs(), false))) {
      return undefined;
    }
    const claim = budget.claimFetch(config.timeoutMs);
    if (!claim.ok) return claim.code;
    const seq = ++entry.started;
    entry.lastFetch = now();
    const fetched = await fetchKeySet(href, {
      ...spec.fetch,
      fetch: options.fetch,
      timeoutMs: claim.timeoutMs,
      maxBytes: config.maxBytes,
      unsafeAllowLoopback: config.unsafeAllowLoopback,
    });
    if (!fetched.ok) {
      recordFailure(entry, seq, fetched.code, fetched.retryAfterSeconds);
      return undefined;
    }
    const at = now();
    const vetted = await safeVet(spec, fetched, at, href);
    if (!vetted.ok) {
      recordFailure(entry, seq, vetted.code);
      return undefined;
    }
    const freshness = keySetFreshness(fetched.caching, at, spec.freshness ?? config);
    const until = Math.min(at + freshness.ttlSeconds * 1000, at + config.maxAgeSeconds * 1000);
    const freshUntil = spec.limitFreshness?.(vetted.data, at, until) ?? until;
    if (seq < entry.installed) return undefined; // a newer fetch already answered
    entry.installed = seq;
    entry.held = { data: vetted.data, fetchedAt: at, freshUntil };
    entry.failure = undefined;
    if (freshness.shareable && tier !== null)
      await tier.write(href, fetched, { fetchedAt: at, freshUntil, now: now() });
    return undefined;
  }

  async function readShared<T>(spec: DocumentSpec<T>, tier: SharedTier, entry: Entry, href: string): Promise<boolean> {
    try {
      const t = now();
      const copy = await tier.read(href, { now: t, maxBytes: config.maxBytes, newerThan: entry.held?.fetchedAt });
      if (copy === undefined || t - copy.fetchedAt >= config.maxAgeSeconds * 1000) return false;
      const vetted = await safeVet(spec, copy, t, href);
      if (!vetted.ok) return false;
      const until = Math.min(copy.freshUntil, copy.fetchedAt + config.maxAgeSeconds * 1000);
      entry.held = {
        data: vetted.data,
        fetchedAt: copy.fetchedAt,
        freshUntil: spec.limitFreshness?.(vetted.data, t, until) ?? until,
      };
      entry.failure = undefined;
      return true;
    } catch {
      return false;
    }
  }

  async function safeVet<T>(spec: DocumentSpec<T>, raw: RawDocument, at: number, href: string): Promise<Vetted<T>> {
    try {
      return await spec.vet(raw, at, href);
    } catch {
      return { ok: false, code: "directory_invalid" };
    }
  }

  function recordFailure(entry: Entry, seq: number, code: DiscoveryErrorCode, retryAfterSeconds?: number): void {
    if (seq < entry.installed) return; // a newer fetch succeeded meanwhile
    const count = (entry.failure?.count ?? 0) + 1;
    const backoff = config.failureBackoffSeconds * 2 ** Math.min(count - 1, 20);
    let delay = Math.min(config.negativeTtlSeconds, backoff) * (1 - 0.2 * clampUnit(random()));
    if (retryAfterSeconds !== undefined) {
      delay = Math.max(delay, Math.min(config.negativeTtlSeconds, retryAfterSeconds));
    }
    entry.failure = { code, until: now() + delay * 1000, count };
  }

  function state<T>(spec: DocumentSpec<T>, url: string): DocumentState<T> {
    const egress = checkEgress(url, { unsafeAllowLoopback: config.unsafeAllowLoopback });
    const entry = egress.allowed ? entries.get(`${spec.namespace} ${egress.url.href}`) : undefined;
    const t = now();
    const held = entry?.held;
    return {
      held: held !== undefined,
      data: held?.data as T | undefined,
      fetchedAt: held?.fetchedAt,
      freshUntil: held?.freshUntil,
      fresh: held !== undefined && t < held.freshUntil,
      coolingDown:
        entry?.lastForced !== undefined &&
        t - entry.lastForced < Math.max(config.refetchCooldownSeconds, spec.minRefetchSeconds ?? 0) * 1000,
      blockedUntil: entry?.failure !== undefined && t < entry.failure.until ? entry.failure.until : undefined,
      failure: entry?.failure?.code,
    };
  }

  return {
    load,
    state,
    get size() {
      return entries.size;
    },
  };
}

/** Signet's own sentence for each discovery failure of a named document: no third-party bytes. */
const SENTENCES: Readonly<Record<DiscoveryErrorCode, string>> = {
  egress_refused: "is not at an address Signet may fetch from",
  directory_unreachable: "could not be fetched in time",
  directory_rejected: "was not served as a usable key set (status, media type or size)",
  directory_invalid: "is not a valid key set or document",
  directory_signature_invalid: "has no valid directory response signature",
  key_not_found: "has no such key",
  test_key_refused: "names a published test key",
  agent_limit: "was not looked up: the request names too many agents",
  label_limit: "was not looked up: the request carries too many signatures",
  fetch_limit: "was not fetched: the request used up its fetches",
  deadline_exceeded: "was not fetched: the request's key work ran out of time",
};

/**
 * The client-safe message for a discovery failure of a document Signet calls `name`.
 *
 * @example
 * ```ts
 * discoveryMessage("directory_rejected", "the key set at https://agent.example/…");
 * // "the key set at https://agent.example/… was not served as a usable key set (status, media type or size)"
 * ```
 */
export function discoveryMessage(code: DiscoveryErrorCode, name: string): string {
  return `${name} ${SENTENCES[code]}`;
}

function refused(code: DiscoveryErrorCode, name: string): { ok: false; code: DiscoveryErrorCode; message: string } {
  return { ok: false, code, message: discoveryMessage(code, name) };
}

interface Config extends Required<Pick<FreshnessOptions, "minTtlSeconds" | "maxTtlSeconds" | "defaultTtlSeconds">> {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxDocuments: number;
  readonly negativeTtlSeconds: number;
  readonly failureBackoffSeconds: number;
  readonly refetchCooldownSeconds: number;
  readonly maxAgeSeconds: number;
  readonly unsafeAllowLoopback: boolean;
}

function readOptions(options: KeyLookupOptions): Config {
  const number = (name: keyof KeyLookupOptions, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw new TypeError(`createKeyLookup: option ${name} must be a number in [${min}, ${max}], got ${String(value)}`);
    }
    return value;
  };
  for (const name of ["fetch", "now", "random"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`createKeyLookup: option ${name} must be a function`);
    }
  }
  if (options.unsafeAllowLoopback !== undefined && typeof options.unsafeAllowLoopback !== "boolean") {
    throw new TypeError("createKeyLookup: option unsafeAllowLoopback must be a boolean");
  }
  if (!isCacheOption(options.cache)) {
    throw new TypeError("createKeyLookup: option cache must be a Cache, null or undefined");
  }
  const config: Config = {
    timeoutMs: number("timeoutMs", DEFAULT_FETCH_TIMEOUT_MS, 1, 60_000),
    maxBytes: Math.floor(number("maxBytes", DEFAULT_MAX_KEY_SET_BYTES, 1)),
    maxDocuments: Math.floor(number("maxDocuments", DEFAULT_MAX_DOCUMENTS, 1)),
    negativeTtlSeconds: number("negativeTtlSeconds", DEFAULT_NEGATIVE_TTL_SECONDS, 0, DEFAULT_NEGATIVE_TTL_SECONDS),
    failureBackoffSeconds: number("failureBackoffSeconds", DEFAULT_FAILURE_BACKOFF_SECONDS, 0),
    refetchCooldownSeconds: number("refetchCooldownSeconds", DEFAULT_REFETCH_COOLDOWN_SECONDS, 0),
    maxAgeSeconds: number("maxAgeSeconds", DEFAULT_MAX_AGE_SECONDS, 0),
    minTtlSeconds: number("minTtlSeconds", DEFAULT_MIN_TTL_SECONDS, 0),
    maxTtlSeconds: number("maxTtlSeconds", DEFAULT_MAX_TTL_SECONDS, 0),
    defaultTtlSeconds: number("defaultTtlSeconds", DEFAULT_TTL_SECONDS, 0),
    unsafeAllowLoopback: options.unsafeAllowLoopback === true,
  };
  if (config.minTtlSeconds > config.maxTtlSeconds) {
    throw new TypeError("createKeyLookup: option minTtlSeconds must not exceed maxTtlSeconds");
  }
  return config;
}

/** `work`'s result, or `fallback` once `ms` have passed (the timer is cleared either way). */
async function within<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
