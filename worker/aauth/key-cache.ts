/**
 * The AAuth metadata and JWKS cache: `{id}/.well-known/{dwk}` documents and the JWK Sets their `jwks_uri` names,
 * fetched through the same egress guard and bounded fetch as Web Bot Auth key directories (no redirects, one
 * deadline, a byte cap), with coalescing, a bounded LRU per kind, negative caching of at most 5 minutes with
 * exponential backoff, a 60 s floor between two fetches of one JWK Set (an unknown `kid` refetches once, then
 * `unknown_key`), stale keys served while a refresh fails, and nothing kept longer than 24 h
 * (AA "JWKS Discovery and Caching", SK-09 §7.2). Two tiers, like the key directory cache: parsed documents in
 * isolate memory, then the raw responses in the data centre's Cache API (shared by isolates, re-vetted on read).
 *
 * @module
 */
import { checkEgress } from "../discovery/egress-guard.ts";
import {
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_KEY_SET_BYTES,
  type FetchFunction,
  fetchKeySet,
} from "../discovery/fetch-key-set.ts";
import { keySetFreshness } from "../discovery/freshness.ts";
import { isCacheOption, openSharedTier, resolveSharedCache, type SharedTier } from "../discovery/shared-tier.ts";
import { privateMembersOf } from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";
import { type ImportedJwk, importAAuthJwk } from "./jwk.ts";

/** Default longest time anything fetched is kept, in seconds (AA: discard cached JWKS after 24 h). */
export const AAUTH_MAX_CACHE_SECONDS = 86_400;
/** Default shortest time between two fetches of one document, in seconds (AA: a JWKS at most once a minute). */
export const AAUTH_REFETCH_FLOOR_SECONDS = 60;
/** Default and largest time a failure blocks fetching, in seconds. */
export const AAUTH_NEGATIVE_TTL_SECONDS = 300;
/** Default number of documents of each kind held per isolate. */
export const AAUTH_MAX_ENTRIES = 1000;
/** Largest number of keys accepted in one JWK Set. */
export const AAUTH_MAX_JWKS_KEYS = 32;

/** How one kind of document is fetched: its media types and its shared tier namespace. */
interface DocumentKind {
  readonly accept: string;
  readonly accepted: readonly string[];
  readonly namespace: string;
}

const METADATA_KIND: DocumentKind = {
  accept: "application/json",
  accepted: ["application/json"],
  namespace: "aauth-metadata",
};
const JWKS_KIND: DocumentKind = {
  accept: "application/jwk-set+json, application/json;q=0.9",
  accepted: ["application/jwk-set+json", "application/json"],
  namespace: "aauth-jwks",
};

/**
 * Options of {@link createAAuthKeyCache}.
 *
 * @example
 * ```ts
 * // Tests: a local issuer server, a hand-driven clock, no shared tier.
 * createAAuthKeyCache({ unsafeAllowLoopback: true, cache: null, now: () => clockMs, random: () => 0 });
 * ```
 */
export interface AAuthKeyCacheOptions {
  /** The fetch to use. Default: the global `fetch`. */
  readonly fetch?: FetchFunction | undefined;
  /** The clock in milliseconds. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** A number in [0, 1) for backoff jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /**
   * The shared tier: a Cache API cache keyed by the document URL. Default `caches.default` when the runtime has it;
   * `null` turns the tier off. (On `*.workers.dev` `caches.default` silently stores nothing.)
   */
  readonly cache?: Cache | null | undefined;
  /** Allow loopback URLs (tests and local demos only). Default `false`. */
  readonly unsafeAllowLoopback?: boolean | undefined;
  /** Wall-clock limit of one fetch, milliseconds. Default 3000. */
  readonly timeoutMs?: number | undefined;
  /** Largest document, bytes. Default 65536. */
  readonly maxBytes?: number | undefined;
  /** Documents of each kind (metadata, JWKS) held; least recently used dropped first. Default 1000. */
  readonly maxEntries?: number | undefined;
  /** Longest time a failure blocks fetching, seconds; at most 300. Default 300. */
  readonly negativeTtlSeconds?: number | undefined;
  /** First backoff after a failure, seconds; doubles per failure up to `negativeTtlSeconds`. Default 30. */
  readonly failureBackoffSeconds?: number | undefined;
  /** Shortest time between two fetches of one document, seconds. Default 60. */
  readonly refetchFloorSeconds?: number | undefined;
  /** Longest time a fetched document is used, even stale, seconds. Default 86400. */
  readonly maxAgeSeconds?: number | undefined;
}

/**
 * A metadata document whose `issuer` was checked.
 *
 * @example
 * ```ts
 * const found: MetadataDocument = { ok: true, url, document: { issuer, jwks_uri }, jwksUri: "https://…" };
 * ```
 */
export interface MetadataDocument {
  readonly ok: true;
  readonly url: string;
  readonly document: Readonly<Record<string, unknown>>;
  /** The document's `jwks_uri`. */
  readonly jwksUri: string;
}

/**
 * The AAuth key cache.
 *
 * @example
 * ```ts
 * const cache: AAuthKeyCache = createAAuthKeyCache();
 * const meta = await cache.metadata("https://ap.example", "aauth-agent.json");
 * if (meta.ok) await cache.findKey(meta.jwksUri, "ap-key-1", ["Ed25519"]);
 * ```
 */
export interface AAuthKeyCache {
  /**
   * The metadata document `{id}/.well-known/{dwk}`: `issuer` REQUIRED (`issuer_missing`) and byte-equal to `id`
   * (`issuer_mismatch`); `jwks_uri` REQUIRED (`invalid_key`).
   */
  metadata(id: string, dwk: string): Promise<MetadataDocument | AAuthFailure>;
  /**
   * The key with `kid` at a JWK Set URL, imported under the AAuth rules. Members with other `kid`s are never
   * judged. Not listed → one refetch (60 s floor) → `unknown_key`.
   */
  findKey(jwksUrl: string, kid: string, algorithms: readonly string[]): Promise<ImportedJwk | AAuthFailure>;
  /** Documents held now (metadata plus JWKS). */
  readonly size: number;
}

interface Failure {
  readonly failure: AAuthFailure;
  readonly until: number;
  readonly count: number;
}

interface Slot<T> {
  value?: { readonly data: T; readonly fetchedAt: number; readonly freshUntil: number } | undefined;
  failure?: Failure | undefined;
  lastFetch?: number | undefined;
  inflight?: Promise<void> | undefined;
}

interface JwkSet {
  readonly keys: readonly unknown[];
  readonly imported: Map<string, Promise<ImportedJwk | AAuthFailure>>;
}

type Parsed<T> = { readonly ok: true; readonly data: T } | AAuthFailure;

/**
 * Creates the cache. Never throws for anything a server or client does; a bad option is a TypeError.
 *
 * A document missing or stale in isolate memory is looked up in the shared tier before the network (within the
 * same refetch floor and negative cache). A shared copy is used only when it is fresh by this cache's clock,
 * newer than the one held and younger than `maxAgeSeconds`, and only after the same JSON and document checks as
 * a fetched one. Only successfully checked documents are stored there, never one sent with `no-store` or
 * `private`, and never a failure.
 *
 * @example
 * ```ts
 * const keys = createAAuthKeyCache({ timeoutMs: 2000 });
 * ```
 */
export function createAAuthKeyCache(options: AAuthKeyCacheOptions = {}): AAuthKeyCache {
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? Math.random;
  const seconds = (name: keyof AAuthKeyCacheOptions, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
      throw new TypeError(`createAAuthKeyCache: option ${name} must be a number in [0, ${max}]`);
    }
    return value;
  };
  const negativeTtl = seconds("negativeTtlSeconds", AAUTH_NEGATIVE_TTL_SECONDS, AAUTH_NEGATIVE_TTL_SECONDS);
  const backoff = seconds("failureBackoffSeconds", 30);
  const floor = seconds("refetchFloorSeconds", AAUTH_REFETCH_FLOOR_SECONDS);
  const maxAge = seconds("maxAgeSeconds", AAUTH_MAX_CACHE_SECONDS);
  const maxEntries = Math.max(1, Math.floor(seconds("maxEntries", AAUTH_MAX_ENTRIES)));
  if (!isCacheOption(options.cache)) {
    throw new TypeError("createAAuthKeyCache: option cache must be a Cache, null or undefined");
  }
  const sharedCache = resolveSharedCache(options.cache);
  const sharedTiers = new Map<DocumentKind, SharedTier | null>(
    [METADATA_KIND, JWKS_KIND].map((kind) => [kind, openSharedTier(sharedCache, kind.namespace)]),
  );
  const fetchOptions = {
    fetch: options.fetch,
    timeoutMs: options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_KEY_SET_BYTES,
    unsafeAllowLoopback: options.unsafeAllowLoopback,
    userAgent: "signet-aauth-discovery",
  };
  const metadataSlots = new Map<string, Slot<Readonly<Record<string, unknown>>>>();
  const jwksSlots = new Map<string, Slot<JwkSet>>();

  function touch<T>(map: Map<string, Slot<T>>, url: string): Slot<T> {
    let slot = map.get(url);
    if (slot !== undefined) map.delete(url);
    else slot = {};
    map.set(url, slot);
    while (map.size > maxEntries) map.delete(map.keys().next().value as string);
    return slot;
  }

  /** The slot's data, fetched when missing or stale (or when `force`), within the floor and the negative cache. */
  async function load<T>(
    slot: Slot<T>,
    url: string,
    kind: DocumentKind,
    parse: (json: unknown) => Parsed<T>,
    force: boolean,
  ): Promise<{ readonly ok: true; readonly data: T } | AAuthFailure> {
    const t = now();
    const held = slot.value !== undefined && t - slot.value.fetchedAt < maxAge * 1000 ? slot.value : undefined;
    const stale = held === undefined || t >= held.freshUntil;
    const mayFetch =
      (slot.lastFetch === undefined || t - slot.lastFetch >= floor * 1000) &&
      (slot.failure === undefined || t >= slot.failure.until);
    if ((stale || force) && (mayFetch || slot.inflight !== undefined)) {
      slot.inflight ??= refresh(slot, url, kind, parse).finally(() => {
        slot.inflight = undefined;
      });
      await slot.inflight;
    }
    const current = slot.value !== undefined && now() - slot.value.fetchedAt < maxAge * 1000 ? slot.value : undefined;
    if (current === undefined) slot.value = undefined;
    if (current !== undefined) return { ok: true, data: current.data };
    return slot.failure?.failure ?? fail("invalid_key", `${url} could not be fetched`, { outcome: "unverified" });
  }

  async function refresh<T>(
    slot: Slot<T>,
    url: string,
    kind: DocumentKind,
    parse: (json: unknown) => Parsed<T>,
  ): Promise<void> {
    // The floor counts from this attempt, whether the shared tier or the network answers it.
    slot.lastFetch = now();
    const shared = sharedTiers.get(kind) ?? null;
    // Only a URL this cache may fetch may be answered from the shared tier (fetchKeySet reports the refusal).
    const egress = checkEgress(url, { unsafeAllowLoopback: options.unsafeAllowLoopback });
    if (shared !== null && egress.allowed && (await readShared(shared, slot, url, parse))) return;
    const fetched = await fetchKeySet(url, { ...fetchOptions, mediaTypes: kind });
    if (!fetched.ok) {
      const outcome = fetched.code === "egress_refused" ? "invalid" : "unverified";
      record(
        slot,
        fail("invalid_key", fetched.message, { outcome, discoveryCode: fetched.code }),
        fetched.retryAfterSeconds,
      );
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(fetched.text);
    } catch {
      record(slot, fail("invalid_key", `${url} did not send JSON`, { discoveryCode: "directory_invalid" }));
      return;
    }
    const parsed = parse(json);
    if (!parsed.ok) {
      record(slot, parsed);
      return;
    }
    const at = now();
    const freshness = keySetFreshness(fetched.caching, at);
    const freshUntil = at + Math.min(freshness.ttlSeconds, maxAge) * 1000;
    slot.value = { data: parsed.data, fetchedAt: at, freshUntil };
    slot.failure = undefined;
    if (freshness.shareable) await shared?.write(url, fetched, { fetchedAt: at, freshUntil, now: now() });
  }

  /** Installs the shared tier's copy when it is usable here and passes the same checks as a fetched one. */
  async function readShared<T>(
    shared: SharedTier,
    slot: Slot<T>,
    url: string,
    parse: (json: unknown) => Parsed<T>,
  ): Promise<boolean> {
    const t = now();
    const copy = await shared.read(url, { now: t, maxBytes: fetchOptions.maxBytes, newerThan: slot.value?.fetchedAt });
    if (copy === undefined || t - copy.fetchedAt >= maxAge * 1000) return false;
    let json: unknown;
    try {
      json = JSON.parse(copy.text);
    } catch {
      return false;
    }
    const parsed = parse(json);
    if (!parsed.ok) return false;
    const freshUntil = Math.min(copy.freshUntil, copy.fetchedAt + maxAge * 1000);
    slot.value = { data: parsed.data, fetchedAt: copy.fetchedAt, freshUntil };
    slot.failure = undefined;
    return true;
  }

  function record<T>(slot: Slot<T>, failure: AAuthFailure, retryAfter?: number): void {
    const count = (slot.failure?.count ?? 0) + 1;
    let delay = Math.min(negativeTtl, backoff * 2 ** Math.min(count - 1, 20)) * (1 - 0.2 * clampUnit(random()));
    if (retryAfter !== undefined) delay = Math.max(delay, Math.min(negativeTtl, retryAfter));
    slot.failure = { failure, until: now() + delay * 1000, count };
  }

  async function metadata(id: string, dwk: string): Promise<MetadataDocument | AAuthFailure> {
    if (!/^[A-Za-z0-9._-]+$/.test(dwk) || dwk === "." || dwk === "..") {
      return fail("invalid_key", "the dwk is not a well-known document name");
    }
    const url = `${id}/.well-known/${dwk}`;
    const slot = touch(metadataSlots, url);
    const loaded = await load(slot, url, METADATA_KIND, parseMetadata, false);
    if (!loaded.ok) return loaded;
    const document = loaded.data;
    if (!("issuer" in document) || document.issuer === undefined) {
      return fail("issuer_missing", `the metadata at ${url} has no "issuer"`);
    }
    if (document.issuer !== id) {
      return fail(
        "issuer_mismatch",
        `the metadata at ${url} names the issuer ${clip(String(document.issuer))}, not ${id}`,
      );
    }
    if (typeof document.jwks_uri !== "string" || document.jwks_uri === "") {
      return fail("invalid_key", `the metadata at ${url} has no "jwks_uri"`);
    }
    return { ok: true, url, document, jwksUri: document.jwks_uri };
  }

  async function findKey(
    jwksUrl: string,
    kid: string,
    algorithms: readonly string[],
  ): Promise<ImportedJwk | AAuthFailure> {
    const slot = touch(jwksSlots, jwksUrl);
    let loaded = await load(slot, jwksUrl, JWKS_KIND, parseJwkSet, false);
    if (!loaded.ok) return loaded;
    let member = selectKid(loaded.data, kid);
    if (member === undefined) {
      loaded = await load(slot, jwksUrl, JWKS_KIND, parseJwkSet, true);
      if (!loaded.ok) return loaded;
      member = selectKid(loaded.data, kid);
    }
    if (member === undefined) return fail("unknown_key", `the JWK Set at ${jwksUrl} has no key "${clip(kid)}"`);
    if (member === "duplicate")
      return fail("invalid_key", `the JWK Set at ${jwksUrl} lists the kid "${clip(kid)}" twice`);
    const cacheKey = `${kid}\n${algorithms.join(" ")}`;
    let imported = loaded.data.imported.get(cacheKey);
    if (imported === undefined) {
      imported = importAAuthJwk(member, algorithms);
      loaded.data.imported.set(cacheKey, imported);
    }
    return imported;
  }

  return {
    metadata,
    findKey,
    get size() {
      return metadataSlots.size + jwksSlots.size;
    },
  };
}

function parseMetadata(json: unknown): Parsed<Readonly<Record<string, unknown>>> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return fail("invalid_key", "the metadata document is not a JSON object", { discoveryCode: "directory_invalid" });
  }
  return { ok: true, data: json as Record<string, unknown> };
}

function parseJwkSet(json: unknown): Parsed<JwkSet> {
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (typeof json !== "object" || json === null || !Array.isArray(keys)) {
    return fail("invalid_key", "the document is not a JWK Set", { discoveryCode: "directory_invalid" });
  }
  if (keys.length > AAUTH_MAX_JWKS_KEYS) {
    return fail("invalid_key", `the JWK Set lists more than ${AAUTH_MAX_JWKS_KEYS} keys`, {
      discoveryCode: "directory_invalid",
    });
  }
  for (const key of keys) {
    if (typeof key === "object" && key !== null && privateMembersOf(key as Record<string, unknown>).length > 0) {
      return fail("invalid_key", "the JWK Set publishes private key material", { discoveryCode: "directory_invalid" });
    }
  }
  return { ok: true, data: { keys, imported: new Map() } };
}

function selectKid(set: JwkSet, kid: string): unknown | "duplicate" | undefined {
  const matches = set.keys.filter((k) => typeof k === "object" && k !== null && (k as { kid?: unknown }).kid === kid);
  if (matches.length > 1) return "duplicate";
  return matches[0];
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 100)}…`;
}
