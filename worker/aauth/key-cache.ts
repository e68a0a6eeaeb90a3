/**
 * The AAuth metadata and JWKS front-end of the shared key-lookup layer: `{id}/.well-known/{dwk}` documents and the
 * JWK Sets their `jwks_uri` names. Fetching, the egress guard, tiers, backoff, stale-on-error, the per-request
 * budget and coalescing are the layer's (`worker/discovery/key-lookup.ts`, shared with Web Bot Auth); this module
 * owns only what is AAuth's: how the documents are named and vetted (issuer checks, `jwks_uri`, JWK Sets of at
 * most 32 public keys, selection by `kid`), a 60 s floor between unknown-`kid` refetches of one JWK Set, and
 * nothing kept longer than 24 h (AA "JWKS Discovery and Caching", SK-09 §7.2). A fetch failure is `invalid_key`
 * with the layer's `discoveryCode`; messages never quote what an issuer sent.
 *
 * @module
 */
import type { FetchFunction } from "../discovery/fetch-key-set.ts";
import {
  createKeyLookup,
  DEFAULT_MAX_AGE_SECONDS,
  DEFAULT_NEGATIVE_TTL_SECONDS,
  type DocumentSpec,
  type KeyLookupLayer,
  type Loaded,
  type Vetted,
} from "../discovery/key-lookup.ts";
import { type RequestBudget, unlimitedBudget } from "../discovery/request-budget.ts";
import { isCacheOption } from "../discovery/shared-tier.ts";
import { privateMembersOf } from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";
import { type ImportedJwk, importAAuthJwk } from "./jwk.ts";

/** Default longest time anything fetched is kept, in seconds (AA: discard cached JWKS after 24 h). */
export const AAUTH_MAX_CACHE_SECONDS = DEFAULT_MAX_AGE_SECONDS;
/** Default shortest time between two fetches of one document, in seconds (AA: a JWKS at most once a minute). */
export const AAUTH_REFETCH_FLOOR_SECONDS = 60;
/** Default and largest time a failure blocks fetching, in seconds. */
export const AAUTH_NEGATIVE_TTL_SECONDS = DEFAULT_NEGATIVE_TTL_SECONDS;
/** Default number of documents of each kind held per isolate. */
export const AAUTH_MAX_ENTRIES = 1000;
/** Largest number of keys accepted in one JWK Set. */
export const AAUTH_MAX_JWKS_KEYS = 32;

const METADATA_MEDIA = { accept: "application/json", accepted: ["application/json"] } as const;
const JWKS_MEDIA = {
  accept: "application/jwk-set+json, application/json;q=0.9",
  accepted: ["application/jwk-set+json", "application/json"],
} as const;

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
  /** Documents held (metadata and JWKS together); least recently used dropped first. Default 2000. */
  readonly maxEntries?: number | undefined;
  /** Longest time a failure blocks fetching, seconds; at most 300. Default 300. */
  readonly negativeTtlSeconds?: number | undefined;
  /** First backoff after a failure, seconds; doubles per failure up to `negativeTtlSeconds`. Default 30. */
  readonly failureBackoffSeconds?: number | undefined;
  /** Shortest time between a fetch of one JWK Set and an unknown-`kid` refetch, seconds. Default 60. */
  readonly refetchFloorSeconds?: number | undefined;
  /** Longest time a fetched document is used, even stale, seconds. Default 86400. */
  readonly maxAgeSeconds?: number | undefined;
  /**
   * The key-lookup layer to fetch through, shared with Web Bot Auth (then the fetch, clock, tier and failure
   * options above are the layer's, and only `refetchFloorSeconds` applies here). Default: a layer of its own.
   */
  readonly lookup?: KeyLookupLayer | undefined;
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
 * The AAuth key cache. Every lookup takes the request's budget (fetch cap, deadline, coalescing scope); without
 * one a call gets a scope of its own.
 *
 * @example
 * ```ts
 * const cache: AAuthKeyCache = createAAuthKeyCache();
 * const budget = createRequestBudget(policy.budget);
 * const meta = await cache.metadata("https://ap.example", "aauth-agent.json", budget);
 * if (meta.ok) await cache.findKey(meta.jwksUri, "ap-key-1", ["Ed25519"], budget);
 * ```
 */
export interface AAuthKeyCache {
  /**
   * The metadata document `{id}/.well-known/{dwk}`: `issuer` REQUIRED (`issuer_missing`) and byte-equal to `id`
   * (`issuer_mismatch`); `jwks_uri` REQUIRED (`invalid_key`).
   */
  metadata(id: string, dwk: string, budget?: RequestBudget): Promise<MetadataDocument | AAuthFailure>;
  /**
   * The key with `kid` at a JWK Set URL, imported under the AAuth rules. Members with other `kid`s are never
   * judged. Not listed → one refetch (at most once a minute per set, never right after a fetch) → `unknown_key`.
   *
   * @param name how messages refer to the set; give one when the URL came from a fetched document (it is then a
   *   third party's bytes). Default `the JWK Set at <url>`.
   */
  findKey(
    jwksUrl: string,
    kid: string,
    algorithms: readonly string[],
    budget?: RequestBudget,
    name?: string,
  ): Promise<ImportedJwk | AAuthFailure>;
  /** Documents held now (metadata plus JWKS; with a shared layer, every document it holds). */
  readonly size: number;
}

interface JwkSet {
  readonly keys: readonly unknown[];
  readonly imported: Map<string, Promise<ImportedJwk | AAuthFailure>>;
}

type Parsed<T> = { readonly ok: true; readonly data: T } | AAuthFailure;

/**
 * Creates the cache. Never throws for anything a server or client does; a bad option is a TypeError.
 *
 * @example
 * ```ts
 * const keys = createAAuthKeyCache({ timeoutMs: 2000 });
 * ```
 */
export function createAAuthKeyCache(options: AAuthKeyCacheOptions = {}): AAuthKeyCache {
  const seconds = (name: keyof AAuthKeyCacheOptions, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > max) {
      throw new TypeError(`createAAuthKeyCache: option ${name} must be a number in [0, ${max}]`);
    }
    return value;
  };
  const floor = seconds("refetchFloorSeconds", AAUTH_REFETCH_FLOOR_SECONDS);
  if (!isCacheOption(options.cache)) {
    throw new TypeError("createAAuthKeyCache: option cache must be a Cache, null or undefined");
  }
  const lookup =
    options.lookup ??
    createKeyLookup({
      fetch: options.fetch,
      now: options.now,
      random: options.random,
      cache: options.cache,
      unsafeAllowLoopback: options.unsafeAllowLoopback,
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
      maxDocuments: Math.max(1, Math.floor(seconds("maxEntries", AAUTH_MAX_ENTRIES * 2))),
      negativeTtlSeconds: seconds("negativeTtlSeconds", AAUTH_NEGATIVE_TTL_SECONDS, AAUTH_NEGATIVE_TTL_SECONDS),
      failureBackoffSeconds: seconds("failureBackoffSeconds", 30),
      refetchCooldownSeconds: floor,
      maxAgeSeconds: seconds("maxAgeSeconds", AAUTH_MAX_CACHE_SECONDS),
    });
  const metadataSpec: DocumentSpec<Readonly<Record<string, unknown>>> = {
    namespace: "aauth-metadata",
    fetch: { mediaTypes: METADATA_MEDIA, userAgent: "signet-aauth-discovery" },
    vet: async (raw) => vetJson(raw.text, parseMetadata),
  };
  const jwksSpec: DocumentSpec<JwkSet> = {
    namespace: "aauth-jwks",
    fetch: { mediaTypes: JWKS_MEDIA, userAgent: "signet-aauth-discovery" },
    minRefetchSeconds: floor,
    vet: async (raw) => vetJson(raw.text, parseJwkSet),
  };

  async function metadata(id: string, dwk: string, budget?: RequestBudget): Promise<MetadataDocument | AAuthFailure> {
    if (!/^[A-Za-z0-9._-]+$/.test(dwk) || dwk === "." || dwk === "..") {
      return fail("invalid_key", "the dwk is not a well-known document name");
    }
    const url = `${id}/.well-known/${dwk}`;
    const name = `the metadata at ${clip(url)}`;
    const loaded = await lookup.load(metadataSpec, url, name, budget ?? unlimitedBudget());
    if (!loaded.ok) return failureOf(loaded);
    const document = loaded.data;
    if (!("issuer" in document) || document.issuer === undefined) {
      return fail("issuer_missing", `${name} has no "issuer"`);
    }
    if (document.issuer !== id) return fail("issuer_mismatch", `${name} names another issuer than ${clip(id)}`);
    if (typeof document.jwks_uri !== "string" || document.jwks_uri === "") {
      return fail("invalid_key", `${name} has no "jwks_uri"`);
    }
    return { ok: true, url, document, jwksUri: document.jwks_uri };
  }

  async function findKey(
    jwksUrl: string,
    kid: string,
    algorithms: readonly string[],
    budget?: RequestBudget,
    name = `the JWK Set at ${clip(jwksUrl)}`,
  ): Promise<ImportedJwk | AAuthFailure> {
    const scope = budget ?? unlimitedBudget();
    let loaded = await lookup.load(jwksSpec, jwksUrl, name, scope);
    if (!loaded.ok) return failureOf(loaded);
    let member = selectKid(loaded.data, kid);
    if (member === undefined) {
      loaded = await lookup.load(jwksSpec, jwksUrl, name, scope, "unknown-key");
      if (!loaded.ok) return failureOf(loaded);
      member = selectKid(loaded.data, kid);
    }
    // An unknown key leaves the agent unverified (as a Web Bot Auth keyid missing from its directory does): 401
    // agent_unverified with error=unknown_key, not a bad signature.
    if (member === undefined)
      return fail("unknown_key", `${name} has no key "${clip(kid)}"`, { outcome: "unverified" });
    if (member === "duplicate") return fail("invalid_key", `${name} lists the kid "${clip(kid)}" twice`);
    const cacheKey = `${kid}\n${algorithms.join(" ")}`;
    let imported = loaded.data.imported.get(cacheKey);
    if (imported === undefined) {
      imported = importAAuthJwk(member, algorithms).then((result) =>
        result.ok ? result : fail(result.code, `the key "${clip(kid)}" in ${name} is not usable here`),
      );
      loaded.data.imported.set(cacheKey, imported);
    }
    return imported;
  }

  return {
    metadata,
    findKey,
    get size() {
      return lookup.size;
    },
  };
}

/** A layer failure as AAuth reports it: `invalid_key`, with the discovery code; an egress refusal is `invalid`. */
function failureOf(loaded: Extract<Loaded<unknown>, { ok: false }>): AAuthFailure {
  return fail("invalid_key", loaded.message, {
    outcome: loaded.code === "egress_refused" ? "invalid" : "unverified",
    discoveryCode: loaded.code,
  });
}

function vetJson<T>(text: string, parse: (json: unknown) => Parsed<T>): Vetted<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: "directory_invalid" };
  }
  const parsed = parse(json);
  if (!parsed.ok) return { ok: false, code: "directory_invalid" };
  return parsed;
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

function _clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 100)}…`;
}
