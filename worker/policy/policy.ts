/**
 * Signet's policy: what each route requires, which agents are allowed, freshness limits, key discovery limits
 * and pinned keys. It comes from the `SIGNET_POLICY` variable as JSON (see `parse-policy.ts`).
 *
 * @module
 */
import type { Jwk, SignatureAlgorithm } from "../rfc9421/index.ts";

/** What a route requires of a request. */
export const REQUIREMENTS = ["none", "signature", "verified-agent"] as const;

/**
 * - `none`: anything passes; a valid signature still attaches the agent's identity (humans do not sign).
 * - `signature`: a verified signature is required; a pseudonymous signer (AAuth `hwk`) is enough.
 * - `verified-agent`: a verified signature attributed to an agent identity is required.
 */
export type Requirement = (typeof REQUIREMENTS)[number];

/** One route rule. The first rule whose path (and method, if given) matches decides. */
export interface Rule {
  /** `/exact`, `/prefix/*` or `*`. */
  readonly path: string;
  /** Upper-case methods the rule applies to; all when absent. */
  readonly methods?: readonly string[] | undefined;
  readonly require: Requirement;
  /**
   * Agents allowed on this route (in addition to the policy's `allow`); when any list is set, only those pass.
   * Entries are agent URLs, stored resolved to identities (an origin becomes its directory URL).
   */
  readonly allow?: readonly string[] | undefined;
  /** Agents refused on this route (in addition to the policy's `deny`). */
  readonly deny?: readonly string[] | undefined;
  /**
   * `enforce`: a signature is accepted once, ever (until it expires); `off`: no replay check. Default `enforce`
   * on every route, `none` routes included: a signature used for identity anywhere is spent.
   */
  readonly replay?: "enforce" | "off" | undefined;
  /** `required`: only signatures with a `nonce` count. Default `optional`. */
  readonly nonce?: "required" | "optional" | undefined;
  /** When the replay store cannot answer: `closed` (503, the default) or `open` (forward, marked unchecked). */
  readonly replayStoreFailure?: "closed" | "open" | undefined;
  /**
   * `require-proof`: a request presenting a bearer credential (`Authorization`, or a header in
   * `credentialHeaders`) needs a verified signature covering it. `allow` (default): no such requirement.
   */
  readonly bearer?: "require-proof" | "allow" | undefined;
  /** Lower-case names of further headers that carry credentials (API keys), for `bearer`. */
  readonly credentialHeaders?: readonly string[] | undefined;
  /**
   * The least AAuth credential the route needs: `agent-token` (an agent token, or a person or auth token),
   * `person-token` (a person or auth token), `auth-token` (an auth token; Signet verifies it when present and
   * otherwise leaves the `auth-token` challenge, which needs a resource token signed by the origin, to the origin).
   * Unmet, Signet answers 401 with `AAuth-Requirement`.
   */
  readonly aauth?: "agent-token" | "person-token" | "auth-token" | undefined;
  /** For `aauth: "auth-token"`: scopes the auth token must grant (403 when it does not). */
  readonly scope?: readonly string[] | undefined;

  // Coverage (issue 11): what the signature used for identity must cover.
  /**
   * Components the signature used for identity must cover, each a list of alternatives (one suffices), stored
   * serialised (`"@method"`). A `content-digest` entry applies only to requests with a body. When absent: on
   * unsafe methods (every method but GET, HEAD, OPTIONS and TRACE) {@link UNSAFE_METHOD_COVERAGE}, on safe ones
   * `content-digest` when there is a body and otherwise nothing; `[]` turns the requirement off.
   */
  readonly cover?: readonly (readonly string[])[] | undefined;
}

/**
 * The usual methods that change state. Not the whole set: every method outside {@link SAFE_METHODS} (WebDAV's
 * `MOVE`, a CDN's `PURGE`, any extension method) is unsafe too; see {@link isUnsafeMethod}.
 */
export const UNSAFE_METHODS: readonly string[] = Object.freeze(["POST", "PUT", "PATCH", "DELETE"]);

/** The safe methods of RFC 9110 §9.2.1: the only ones that get no coverage requirement by default. */
export const SAFE_METHODS: readonly string[] = Object.freeze(["GET", "HEAD", "OPTIONS", "TRACE"]);

/**
 * Whether a method (any case) may change state: every method but the safe ones of RFC 9110 §9.2.1. A
 * signature used for identity on it must bind the request by default ({@link UNSAFE_METHOD_COVERAGE}).
 *
 * @example
 * ```ts
 * isUnsafeMethod("PURGE"); // true
 * isUnsafeMethod("get"); // false
 * ```
 */
export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.includes(method.toUpperCase());
}

/**
 * What a signature must cover on an unsafe method when its rule says nothing: `@method`, `@path` or
 * `@target-uri`, and `content-digest` when there is a body.
 */
export const UNSAFE_METHOD_COVERAGE: readonly (readonly string[])[] = Object.freeze([
  Object.freeze(['"@method"']),
  Object.freeze(['"@path"', '"@target-uri"']),
  Object.freeze(['"content-digest"']),
]);

/** The AAuth profile: HTTP Signature Keys schemes, JOSE algorithms, the resource identifier, the window. */
export interface AAuthPolicy {
  /**
   * The site's resource identifier (https, host only): the `aud` person and auth tokens must carry, and the
   * `issuer` of `/.well-known/aauth-resource.json`. Without it only agent tokens and key schemes are accepted.
   */
  readonly resource?: string | undefined;
  /** Accepted `Signature-Key` schemes. Default all five: jwt, hwk, jkt-jwt, jwks_uri, jwks. */
  readonly schemes: readonly ("jwt" | "hwk" | "jkt-jwt" | "jwks_uri" | "jwks")[];
  /** Accepted JOSE algorithms. Default Ed25519, ES256, ES384, PS256, PS512. */
  readonly algorithms: readonly string[];
  /** Seconds a signature's `created` stays acceptable. Default 60. */
  readonly signatureWindow: number;
  /** Require `content-digest` and `content-type` to be covered on requests with a body. Default false. */
  readonly bodyIntegrity: boolean;
  /** Components every AAuth signature must also cover (published as `additional_signature_components`). */
  readonly additionalComponents: readonly string[];
  /** `jwks_uri` ids and `jwks` URLs whose keys identify an agent rather than a pseudonym. */
  readonly trustedKeySets: readonly string[];
  /** Published in `aauth-resource.json`. */
  readonly name?: string | undefined;
  readonly scopeDescriptions?: Readonly<Record<string, string>> | undefined;
}

/** The replay store layout. */
export interface ReplayPolicy {
  /** Shards of the replay store (Durable Objects); fixed, see the README before changing it. Default 64. */
  readonly shards: number;
  /** During a change of `shards`: the previous count, claimed in as well until its records have expired. */
  readonly previousShards?: number | undefined;
  /** Milliseconds to wait for the store before it counts as unavailable. Default 2000. */
  readonly timeoutMs: number;
}

/** Limits on how old and how long-lived signatures may be. */
export interface FreshnessPolicy {
  /** Largest `expires - created`, in seconds. Default 86400 (the draft's RECOMMENDED 24 h). */
  readonly maxValidity: number;
  /** Allowed clock difference, in seconds. Default 60. */
  readonly clockSkew: number;
  /** Largest age of `created`, in seconds; unlimited (bounded by `expires`) when absent. */
  readonly maxAge?: number | undefined;
}

/** Limits of key directory fetches (see `worker/discovery`). */
export interface DiscoveryPolicy {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxKeys: number;
  readonly minTtlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly negativeTtlSeconds: number;
  readonly refetchCooldownSeconds: number;
  /** Use only keys whose directory response signature verifies. Default false. */
  readonly requireDirectorySignature: boolean;
  /** Allow fetching from http(s)://127.0.0.1, localhost and [::1] on any port. For tests and demos only. */
  readonly unsafeAllowLoopback: boolean;
  /**
   * The most distinct agents whose keys one request may make Signet look up (their lookups run at once, so a
   * request costs at most one fetch timeout). Further signatures are `unverified` with `agent_limit`. Default 4.
   */
  readonly maxAgentsPerRequest: number;
}

/**
 * What one request may make Signet spend on keys, for both profiles together (see
 * `worker/discovery/request-budget.ts`). The defaults make the worst request cost about what four agents' first
 * requests cost.
 */
export interface BudgetPolicy {
  /** Signature labels judged per request; later ones are `unverified` with `label_limit`. Default 8. */
  readonly maxLabels: number;
  /**
   * Key set and metadata fetches one request may start (Web Bot Auth directories, AAuth issuer metadata, JWK
   * Sets); a lookup needing one more is `unverified` with `fetch_limit`. Default 8 (four AAuth `jwt` agents).
   */
  readonly maxFetches: number;
  /**
   * Milliseconds by which all of a request's key work has ended (`deadline_exceeded`); fetches are cut off at
   * it. Default `discovery.timeoutMs` (3000), so a request costs at most one discovery timeout.
   */
  readonly deadlineMs: number;
}

/** Keys configured for an agent: that agent is never fetched. */
export interface PinnedAgent {
  /** The agent URL as it appears in `Signature-Agent` (an origin, or a JWK Set URL). */
  readonly agent: string;
  readonly keys: readonly Jwk[];
}

/**
 * How request paths are read for routing (see `canonical-path.ts` and `route.ts`).
 *
 * @example
 * ```ts
 * parsePolicy('{"paths":{"escapedSlashes":"decode"}}').paths; // { escapedSlashes: "decode" }
 * ```
 */
export interface PathsPolicy {
  /**
   * An escaped slash or backslash (`%2F`, `%5C`) or a literal `\` in the path: `reject` (400 `path_ambiguous`, the
   * default) or `decode` (read as `/`, and forwarded so).
   */
  readonly escapedSlashes: "reject" | "decode";
}

/** The whole, validated policy. */
export interface Policy {
  /** `enforce` refuses; `monitor` forwards everything and reports what it would have refused. */
  readonly mode: "enforce" | "monitor";
  readonly rules: readonly Rule[];
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly freshness: FreshnessPolicy;
  /** Algorithms accepted for agent signatures. HMAC is never accepted (Web Bot Auth forbids shared keys). */
  readonly algorithms: readonly SignatureAlgorithm[];
  readonly discovery: DiscoveryPolicy;
  readonly budget: BudgetPolicy;
  readonly pinned: readonly PinnedAgent[];
  /** Accept the published RFC 9421 test keys. Default false; only for tests and demos. */
  readonly allowTestKeys: boolean;
  readonly replay: ReplayPolicy;
  readonly aauth: AAuthPolicy;
  readonly paths: PathsPolicy;
  readonly log: LogPolicy;
  readonly check: CheckPolicy;
}

/**
 * The check endpoint (`worker/check/check-endpoint.ts`): an agent sends a signed request to `path` with the
 * path it signed for in `Signet-Check-Target`, and gets Signet's verdict on it as JSON, without the request
 * reaching the origin and without the signature being spent. Off by default; its path is reserved even while off.
 */
export interface CheckPolicy {
  /** Answer checks. Default false (the path answers 404 `check_disabled`). */
  readonly enabled: boolean;
  /** Where checks are sent. Default `/.signet/check`. */
  readonly path: string;
  /** Checks per client IP per minute, in each isolate. Default 60. */
  readonly ratePerMinute: number;
  /**
   * Client IPs tracked per isolate per minute; once full, new clients get 429 until the minute turns (never an
   * eviction that would reset someone's count). Default 4096.
   */
  readonly maxClients: number;
}

/** The decision log (see `worker/observability/decision-log.ts`). */
export interface LogPolicy {
  /**
   * The share of accepted requests that get a decision log line, from 0 to 1. Refusals (and monitor-mode
   * would-be refusals) are always logged; metrics count every request whatever this says. Default 1.
   */
  readonly sampleAccepted: number;
}

/** The defaults every omitted field takes. */
export const DEFAULT_POLICY: Policy = Object.freeze({
  mode: "enforce",
  rules: [],
  allow: [],
  deny: [],
  freshness: { maxValidity: 86_400, clockSkew: 60 },
  algorithms: ["ed25519", "ecdsa-p256-sha256", "ecdsa-p384-sha384", "rsa-pss-sha512", "rsa-v1_5-sha256"],
  discovery: {
    timeoutMs: 3000,
    maxBytes: 65_536,
    maxKeys: 32,
    minTtlSeconds: 60,
    maxTtlSeconds: 86_400,
    negativeTtlSeconds: 300,
    refetchCooldownSeconds: 30,
    requireDirectorySignature: false,
    unsafeAllowLoopback: false,
    maxAgentsPerRequest: 4,
  },
  budget: { maxLabels: 8, maxFetches: 8, deadlineMs: 3000 },
  pinned: [],
  allowTestKeys: false,
  replay: { shards: 64, timeoutMs: 2000 },
  log: { sampleAccepted: 1 },
  check: { enabled: false, path: "/.signet/check", ratePerMinute: 60, maxClients: 4096 },
  aauth: {
    schemes: ["jwt", "hwk", "jkt-jwt", "jwks_uri", "jwks"],
    algorithms: ["Ed25519", "ES256", "ES384", "PS256", "PS512"],
    signatureWindow: 60,
    bodyIntegrity: false,
    additionalComponents: [],
    trustedKeySets: [],
  },
  paths: { escapedSlashes: "reject" },
}) as Policy;
