/**
 * Validating `SIGNET_POLICY`: every error names the field that is wrong.
 *
 * @module
 */
import {
  isJoseAlgorithm,
  isSignatureAlgorithm,
  type Jwk,
  MAX_DICTIONARY_MEMBERS,
  privateMembersOf,
  type SignatureAlgorithm,
} from "../rfc9421/index.ts";
import { agentIdentityOf } from "../verification/signature-agent.ts";
import { canonicalPath, PATH_REJECTION_DETAILS } from "./canonical-path.ts";
import {
  type BudgetPolicy,
  DEFAULT_POLICY,
  type DiscoveryPolicy,
  type FreshnessPolicy,
  type PathsPolicy,
  type PinnedAgent,
  type Policy,
  REQUIREMENTS,
  type Requirement,
  type Rule,
} from "./policy.ts";

/** A policy that cannot be used; `field` is the JSON path of the offending value. */
export class PolicyError extends Error {
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`SIGNET_POLICY.${field}: ${problem}`);
    this.name = "PolicyError";
    this.field = field;
  }
}

type Json = Record<string, unknown>;

/**
 * Parses and validates a policy. An empty or absent value gives {@link DEFAULT_POLICY}.
 *
 * @throws {PolicyError} naming the first bad field, e.g. `SIGNET_POLICY.rules[1].require: must be one of ...`
 *
 * @example
 * ```ts
 * const policy = parsePolicy('{"rules":[{"path":"/api/*","require":"verified-agent"}]}');
 * ```
 */
export function parsePolicy(text: string | undefined): Policy {
  if (text === undefined || text.trim() === "") return DEFAULT_POLICY;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyError("(root)", `not JSON: ${(err as Error).message}`);
  }
  noNull(raw, "(root)");
  const root = object(raw, "(root)");
  known(root, "(root)", [
    "$schema",
    "mode",
    "rules",
    "allow",
    "deny",
    "freshness",
    "algorithms",
    "discovery",
    "budget",
    "pinned",
    "allowTestKeys",
    "replay",
    "aauth",
    "paths",
    "log",
    "check",
  ]);
  // For editors (see policy-schema.ts): a policy file may name its JSON Schema; Signet ignores it.
  if (root.$schema !== undefined) string(root.$schema, "$schema");
  const mode = oneOf(root.mode ?? DEFAULT_POLICY.mode, "mode", ["enforce", "monitor"] as const);
  const rules = array(root.rules ?? [], "rules").map((r, i) => rule(r, `rules[${i}]`));
  const algorithms = array(root.algorithms ?? DEFAULT_POLICY.algorithms, "algorithms").map((a, i) => {
    const field = `algorithms[${i}]`;
    if (!isSignatureAlgorithm(a)) throw new PolicyError(field, `"${String(a)}" is not an RFC 9421 algorithm`);
    if (a === "hmac-sha256") throw new PolicyError(field, "hmac-sha256 is never accepted: agents must not share keys");
    return a as SignatureAlgorithm;
  });
  if (algorithms.length === 0) throw new PolicyError("algorithms", "must name at least one algorithm");
  const fresh = freshness(root.freshness ?? {});
  const aauthPolicy = aauth(root.aauth ?? {});
  consistentLifetimes(fresh, aauthPolicy);
  const discoveryPolicy = discovery(root.discovery ?? {});
  return {
    mode,
    rules,
    allow: agents(root.allow ?? [], "allow"),
    deny: agents(root.deny ?? [], "deny"),
    freshness: fresh,
    algorithms,
    discovery: discoveryPolicy,
    budget: budget(root.budget ?? {}, discoveryPolicy.timeoutMs),
    pinned: pinned(root.pinned ?? {}),
    allowTestKeys: bool(root.allowTestKeys ?? false, "allowTestKeys"),
    replay: replay(root.replay ?? {}),
    aauth: aauthPolicy,
    paths: paths(root.paths ?? {}),
    log: log(root.log ?? {}),
    check: check(root.check ?? {}),
  };
}

// The check endpoint (issue 15).
function check(value: unknown): Policy["check"] {
  const o = object(value, "check");
  known(o, "check", ["enabled", "path", "ratePerMinute", "maxClients"]);
  const d = DEFAULT_POLICY.check;
  const path = o.path ?? d.path;
  if (typeof path !== "string" || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]{1,200}$/.test(path) || path.includes("//")) {
    throw new PolicyError("check.path", "must be an absolute path of plain characters, such as /.signet/check");
  }
  return {
    enabled: bool(o.enabled ?? d.enabled, "check.enabled"),
    path,
    ratePerMinute: seconds(o.ratePerMinute ?? d.ratePerMinute, "check.ratePerMinute", 1, 10_000),
    maxClients: seconds(o.maxClients ?? d.maxClients, "check.maxClients", 1, 100_000),
  };
}

// Lifetimes (issue 11).
/**
 * An AAuth signature is accepted for `aauth.signatureWindow` seconds after `created`; a window longer than
 * `freshness.maxAge` would contradict the policy's largest age, so it is refused rather than silently cut.
 */
function consistentLifetimes(fresh: FreshnessPolicy, aauthPolicy: Policy["aauth"]): void {
  if (fresh.maxAge !== undefined && aauthPolicy.signatureWindow > fresh.maxAge) {
    throw new PolicyError(
      "aauth.signatureWindow",
      `${aauthPolicy.signatureWindow} s is longer than freshness.maxAge (${fresh.maxAge} s); make it at most that`,
    );
  }
}

// --- Routing: the paths block and rule paths in canonical form (see canonical-path.ts, route.ts). ---

function paths(value: unknown): PathsPolicy {
  const o = object(value, "paths");
  known(o, "paths", ["escapedSlashes"]);
  return {
    escapedSlashes: oneOf(o.escapedSlashes ?? DEFAULT_POLICY.paths.escapedSlashes, "paths.escapedSlashes", [
      "reject",
      "decode",
    ] as const),
  };
}

/**
 * A rule path in the form requests are matched in: `*`, or its canonical form (an exact path without trailing
 * slash, a prefix ending in `*`). A rule path that has no canonical form, or whose `*` is not last, is refused.
 */
function rulePath(value: unknown, field: string): string {
  const path = string(value, field);
  if (path === "*") return path;
  if (!/^\/[^*]*(\*)?$/.test(path)) throw new PolicyError(field, `"${path}" must be "*", "/exact" or "/prefix/*"`);
  const prefix = path.endsWith("*");
  const body = prefix ? path.slice(0, -1) : path;
  // Read as escaped slashes always are by default: a rule path never contains %2F, %5C or \.
  const canonical = canonicalPath(body);
  if ("reject" in canonical) {
    throw new PolicyError(field, `"${path}" has no canonical form: ${PATH_REJECTION_DETAILS[canonical.reject]}`);
  }
  if (prefix) return `${canonical.path}*`;
  return canonical.path.length > 1 && canonical.path.endsWith("/") ? canonical.path.slice(0, -1) : canonical.path;
}

function log(value: unknown): Policy["log"] {
  const o = object(value, "log");
  known(o, "log", ["sampleAccepted"]);
  const sample = o.sampleAccepted ?? DEFAULT_POLICY.log.sampleAccepted;
  if (typeof sample !== "number" || !(sample >= 0 && sample <= 1)) {
    throw new PolicyError("log.sampleAccepted", "must be a number from 0 to 1");
  }
  return { sampleAccepted: sample };
}

const SERVER_IDENTIFIER = /^https:\/\/[a-z0-9.-]+$/;

function aauth(value: unknown): Policy["aauth"] {
  const o = object(value, "aauth");
  const d = DEFAULT_POLICY.aauth;
  known(o, "aauth", [
    "resource",
    "schemes",
    "algorithms",
    "signatureWindow",
    "bodyIntegrity",
    "additionalComponents",
    "trustedKeySets",
    "name",
    "scopeDescriptions",
  ]);
  let resource: string | undefined;
  if (o.resource !== undefined) {
    resource = string(o.resource, "aauth.resource");
    if (!SERVER_IDENTIFIER.test(resource)) {
      throw new PolicyError("aauth.resource", "must be an https origin in lower case, without port, path or slash");
    }
  }
  const schemes = array(o.schemes ?? d.schemes, "aauth.schemes").map((v, i) =>
    oneOf(v, `aauth.schemes[${i}]`, ["jwt", "hwk", "jkt-jwt", "jwks_uri", "jwks"] as const),
  );
  const algorithms = array(o.algorithms ?? d.algorithms, "aauth.algorithms").map((v, i) => {
    const alg = string(v, `aauth.algorithms[${i}]`);
    if (!isJoseAlgorithm(alg))
      throw new PolicyError(`aauth.algorithms[${i}]`, `"${alg}" is not an accepted JOSE algorithm`);
    return alg;
  });
  const scopeDescriptions =
    o.scopeDescriptions === undefined ? undefined : object(o.scopeDescriptions, "aauth.scopeDescriptions");
  for (const [scope, text] of Object.entries(scopeDescriptions ?? {})) string(text, `aauth.scopeDescriptions.${scope}`);
  return {
    resource,
    schemes,
    algorithms,
    signatureWindow: seconds(o.signatureWindow ?? d.signatureWindow, "aauth.signatureWindow", 1, 3600),
    bodyIntegrity: bool(o.bodyIntegrity ?? d.bodyIntegrity, "aauth.bodyIntegrity"),
    additionalComponents: array(o.additionalComponents ?? [], "aauth.additionalComponents").map((v, i) =>
      string(v, `aauth.additionalComponents[${i}]`),
    ),
    trustedKeySets: array(o.trustedKeySets ?? [], "aauth.trustedKeySets").map((v, i) =>
      string(v, `aauth.trustedKeySets[${i}]`),
    ),
    name: o.name === undefined ? undefined : string(o.name, "aauth.name"),
    scopeDescriptions: scopeDescriptions as Record<string, string> | undefined,
  };
}

function replay(value: unknown): Policy["replay"] {
  const o = object(value, "replay");
  known(o, "replay", ["shards", "previousShards", "timeoutMs"]);
  const shards = seconds(o.shards ?? DEFAULT_POLICY.replay.shards, "replay.shards", 1, 4096);
  const previousShards =
    o.previousShards === undefined ? undefined : seconds(o.previousShards, "replay.previousShards", 1, 4096);
  if (previousShards === shards) throw new PolicyError("replay.previousShards", "must differ from replay.shards");
  return {
    shards,
    previousShards,
    timeoutMs: seconds(o.timeoutMs ?? DEFAULT_POLICY.replay.timeoutMs, "replay.timeoutMs", 50, 30_000),
  };
}

function rule(value: unknown, field: string): Rule {
  const r = object(value, field);
  known(r, field, [
    "path",
    "methods",
    "require",
    "allow",
    "deny",
    "replay",
    "nonce",
    "replayStoreFailure",
    "bearer",
    "credentialHeaders",
    "aauth",
    "scope",
    "cover",
  ]);
  const path = rulePath(r.path, `${field}.path`);
  const methods =
    r.methods === undefined
      ? undefined
      : array(r.methods, `${field}.methods`).map((m, i) => {
          const method = string(m, `${field}.methods[${i}]`);
          if (!/^[A-Z]+$/.test(method)) throw new PolicyError(`${field}.methods[${i}]`, "must be an upper-case method");
          return method;
        });
  return {
    path,
    methods,
    require: oneOf(r.require, `${field}.require`, REQUIREMENTS) as Requirement,
    allow: r.allow === undefined ? undefined : agents(r.allow, `${field}.allow`),
    deny: r.deny === undefined ? undefined : agents(r.deny, `${field}.deny`),
    replay: r.replay === undefined ? undefined : oneOf(r.replay, `${field}.replay`, ["enforce", "off"] as const),
    nonce: r.nonce === undefined ? undefined : oneOf(r.nonce, `${field}.nonce`, ["required", "optional"] as const),
    replayStoreFailure:
      r.replayStoreFailure === undefined
        ? undefined
        : oneOf(r.replayStoreFailure, `${field}.replayStoreFailure`, ["closed", "open"] as const),
    bearer:
      r.bearer === undefined ? undefined : oneOf(r.bearer, `${field}.bearer`, ["require-proof", "allow"] as const),
    aauth:
      r.aauth === undefined
        ? undefined
        : oneOf(r.aauth, `${field}.aauth`, ["agent-token", "person-token", "auth-token"] as const),
    scope:
      r.scope === undefined
        ? undefined
        : array(r.scope, `${field}.scope`).map((v, i) => string(v, `${field}.scope[${i}]`)),
    credentialHeaders:
      r.credentialHeaders === undefined
        ? undefined
        : array(r.credentialHeaders, `${field}.credentialHeaders`).map((h, i) => {
            const name = string(h, `${field}.credentialHeaders[${i}]`);
            if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) {
              throw new PolicyError(`${field}.credentialHeaders[${i}]`, "must be a lower-case header name");
            }
            return name;
          }),
    cover: r.cover === undefined ? undefined : cover(r.cover, `${field}.cover`),
  };
}

// Coverage (issue 11).
const COMPONENT_NAME = /^@?[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** A rule's `cover`: each entry a component name or a list of alternatives, stored serialised. */
function cover(value: unknown, field: string): string[][] {
  return array(value, field).map((entry, i) => {
    const alternatives = typeof entry === "string" ? [entry] : array(entry, `${field}[${i}]`);
    if (alternatives.length === 0) throw new PolicyError(`${field}[${i}]`, "must name at least one component");
    return alternatives.map((name, j) => {
      const where = typeof entry === "string" ? `${field}[${i}]` : `${field}[${i}][${j}]`;
      const text = string(name, where);
      if (!COMPONENT_NAME.test(text)) {
        throw new PolicyError(where, "must be a lower-case component name (a header field or a derived @component)");
      }
      return `"${text}"`;
    });
  });
}

function freshness(value: unknown): FreshnessPolicy {
  const f = object(value, "freshness");
  known(f, "freshness", ["maxValidity", "clockSkew", "maxAge"]);
  const d = DEFAULT_POLICY.freshness;
  return {
    maxValidity: seconds(f.maxValidity ?? d.maxValidity, "freshness.maxValidity", 1, 10_000_000_000),
    clockSkew: seconds(f.clockSkew ?? d.clockSkew, "freshness.clockSkew", 0, 3600),
    maxAge: f.maxAge === undefined ? undefined : seconds(f.maxAge, "freshness.maxAge", 1, 7 * 86_400),
  };
}

function discovery(value: unknown): DiscoveryPolicy {
  const o = object(value, "discovery");
  const d = DEFAULT_POLICY.discovery;
  known(o, "discovery", Object.keys(d));
  const negativeTtl = seconds(o.negativeTtlSeconds ?? d.negativeTtlSeconds, "discovery.negativeTtlSeconds", 0, 300);
  const minTtl = seconds(o.minTtlSeconds ?? d.minTtlSeconds, "discovery.minTtlSeconds", 0, 86_400);
  const maxTtl = seconds(o.maxTtlSeconds ?? d.maxTtlSeconds, "discovery.maxTtlSeconds", minTtl, 7 * 86_400);
  return {
    timeoutMs: seconds(o.timeoutMs ?? d.timeoutMs, "discovery.timeoutMs", 100, 30_000),
    maxBytes: seconds(o.maxBytes ?? d.maxBytes, "discovery.maxBytes", 1024, 1_048_576),
    maxKeys: seconds(o.maxKeys ?? d.maxKeys, "discovery.maxKeys", 1, 256),
    minTtlSeconds: minTtl,
    maxTtlSeconds: maxTtl,
    negativeTtlSeconds: negativeTtl,
    refetchCooldownSeconds: seconds(
      o.refetchCooldownSeconds ?? d.refetchCooldownSeconds,
      "discovery.refetchCooldownSeconds",
      0,
      3600,
    ),
    requireDirectorySignature: bool(
      o.requireDirectorySignature ?? d.requireDirectorySignature,
      "discovery.requireDirectorySignature",
    ),
    unsafeAllowLoopback: bool(o.unsafeAllowLoopback ?? d.unsafeAllowLoopback, "discovery.unsafeAllowLoopback"),
    maxAgentsPerRequest: seconds(
      o.maxAgentsPerRequest ?? d.maxAgentsPerRequest,
      "discovery.maxAgentsPerRequest",
      1,
      32,
    ),
  };
}

/** The `budget` block; the deadline defaults to one discovery timeout. */
function budget(value: unknown, timeoutMs: number): BudgetPolicy {
  const o = object(value, "budget");
  const d = DEFAULT_POLICY.budget;
  known(o, "budget", Object.keys(d));
  // `seconds` checks any whole number in a range.
  return {
    // No more labels can be judged than a Signature-Input may carry (MAX_DICTIONARY_MEMBERS).
    maxLabels: seconds(o.maxLabels ?? d.maxLabels, "budget.maxLabels", 1, MAX_DICTIONARY_MEMBERS),
    maxFetches: seconds(o.maxFetches ?? d.maxFetches, "budget.maxFetches", 0, 32),
    deadlineMs: seconds(o.deadlineMs ?? timeoutMs, "budget.deadlineMs", 100, 30_000),
  };
}

function pinned(value: unknown): PinnedAgent[] {
  const o = object(value, "pinned");
  return Object.entries(o).map(([agent, keys]) => {
    const field = `pinned["${agent}"]`;
    if (agentIdentityOf(agent) === undefined) throw new PolicyError(field, "the key must be an http(s) agent URL");
    const list = array(keys, field).map((k, i) => {
      const jwk = object(k, `${field}[${i}]`);
      if (typeof jwk.kty !== "string") throw new PolicyError(`${field}[${i}]`, 'a JWK needs "kty"');
      const secret = privateMembersOf(jwk)[0];
      if (secret !== undefined) throw new PolicyError(`${field}[${i}].${secret}`, "pinned keys must be public keys");
      return jwk as Jwk;
    });
    if (list.length === 0) throw new PolicyError(field, "must list at least one key");
    return { agent, keys: list };
  });
}

/**
 * Agent names, stored as the identities they stand for: an http(s) URL as the key set it resolves to (see
 * `agentIdentityOf`), and a bare origin also as itself (an AAuth Agent Provider); `aauth:` agent ids and
 * `urn:jkt:` key pseudonyms as they are.
 */
function agents(value: unknown, field: string): string[] {
  return array(value, field).flatMap((a, i) => {
    const text = string(a, `${field}[${i}]`);
    if (/^aauth:[A-Za-z0-9._+-]+@[a-z0-9.-]+$/.test(text) || /^urn:jkt:sha-(256|512):[A-Za-z0-9_-]+$/.test(text)) {
      return [text];
    }
    const identity = agentIdentityOf(text);
    if (identity === undefined) {
      throw new PolicyError(`${field}[${i}]`, `"${text}" is not an agent URL, an aauth: agent id or a urn:jkt: key`);
    }
    const url = new URL(text);
    const bareOrigin = (url.pathname === "/" || url.pathname === "") && url.search === "" && url.hash === "";
    return bareOrigin ? [identity, url.origin] : [identity];
  });
}

/**
 * `null` is refused wherever it appears, rather than read as "absent" by some fields and refused by others: leave a
 * field out for its default (the JSON Schema in `policy-schema.ts` says the same).
 */
function noNull(value: unknown, field: string): void {
  if (value === null) throw new PolicyError(field, "must not be null (leave the field out for its default)");
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) noNull(item, `${field}[${i}]`);
  } else if (typeof value === "object") {
    for (const [name, member] of Object.entries(value)) noNull(member, field === "(root)" ? name : `${field}.${name}`);
  }
}

function object(value: unknown, field: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PolicyError(field, "must be an object");
  }
  return value as Json;
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new PolicyError(field, "must be an array");
  return value;
}

function string(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") throw new PolicyError(field, "must be a non-empty string");
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") throw new PolicyError(field, "must be true or false");
  return value;
}

function seconds(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new PolicyError(field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, options: readonly T[]): T {
  if (typeof value !== "string" || !(options as readonly string[]).includes(value)) {
    throw new PolicyError(field, `must be one of ${options.join(", ")}`);
  }
  return value as T;
}

function known(o: Json, field: string, names: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!names.includes(key)) {
      throw new PolicyError(field === "(root)" ? key : `${field}.${key}`, `unknown field (known: ${names.join(", ")})`);
    }
  }
}
