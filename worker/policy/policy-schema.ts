/**
 * The policy as a JSON Schema (draft 2020-12), built from the same definitions the parser uses: the requirement
 * list, the algorithm lists and {@link DEFAULT_POLICY}. It serves editors (completion and checks while a site
 * owner writes `policy.json`) and is the source of `docs/policy.md`. The parser stays the judge: the schema
 * cannot say everything it checks (see {@link POLICY_PARSER_ONLY_CHECKS}); a test holds the two to agreement
 * on a table of policies.
 *
 * @module
 */
import { JOSE_ALGORITHMS, PRIVATE_JWK_MEMBERS, SIGNATURE_ALGORITHMS } from "../rfc9421/index.ts";
import { DEFAULT_POLICY, REQUIREMENTS } from "./policy.ts";

/** The subset of JSON Schema the policy schema uses. */
export interface JsonSchema {
  readonly $schema?: string;
  readonly $id?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  readonly enum?: readonly string[];
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly pattern?: string;
  readonly minItems?: number;
  readonly items?: JsonSchema;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: boolean | JsonSchema;
  readonly propertyNames?: JsonSchema;
  readonly required?: readonly string[];
  readonly anyOf?: readonly JsonSchema[];
  readonly not?: JsonSchema;
  readonly examples?: readonly unknown[];
}

const d = DEFAULT_POLICY;

function int(min: number, max: number, description: string, fallback?: number): JsonSchema {
  return {
    type: "integer",
    minimum: min,
    maximum: max,
    description,
    ...(fallback === undefined ? {} : { default: fallback }),
  };
}

function oneOf(values: readonly string[], description: string, fallback?: string): JsonSchema {
  return { type: "string", enum: values, description, ...(fallback === undefined ? {} : { default: fallback }) };
}

function bool(description: string, fallback: boolean): JsonSchema {
  return { type: "boolean", description, default: fallback };
}

function text(description: string): JsonSchema {
  return { type: "string", minLength: 1, description };
}

function list(items: JsonSchema, description: string, minItems?: number): JsonSchema {
  return { type: "array", items, description, ...(minItems === undefined ? {} : { minItems }) };
}

function block(description: string, properties: Record<string, JsonSchema>): JsonSchema {
  return { type: "object", description, properties, additionalProperties: false };
}

/** An agent name: an http(s) URL, an `aauth:` agent id or a `urn:jkt:` key pseudonym. */
const AGENT: JsonSchema = {
  type: "string",
  pattern: "^(https?://[^\\s]+|aauth:[A-Za-z0-9._+-]+@[a-z0-9.-]+|urn:jkt:sha-(256|512):[A-Za-z0-9_-]+)$",
  description:
    "An agent URL as it appears in Signature-Agent (an origin stands for every key set on it), an aauth: agent id, or a urn:jkt:sha-256: key pseudonym.",
};

/** A public JWK: `kty` and no private member. */
const PUBLIC_JWK: JsonSchema = {
  type: "object",
  description: "A public JWK (no private members).",
  required: ["kty"],
  properties: { kty: { type: "string", description: "Key type (OKP, EC, RSA)." } },
  not: { anyOf: PRIVATE_JWK_MEMBERS.map((name) => ({ required: [name] })) },
};

/** A component name as the parser accepts it in `cover`. */
const COMPONENT: JsonSchema = {
  type: "string",
  pattern: "^@?[!#$%&'*+\\-.^_`|~0-9a-z]+$",
  description: "A lower-case component name: a header field or a derived @component.",
};

const RULE: JsonSchema = {
  type: "object",
  description: "One route rule. The first rule whose path (and methods, when given) match decides.",
  required: ["path", "require"],
  additionalProperties: false,
  properties: {
    path: {
      type: "string",
      pattern: "^(\\*|/[^*]*\\*?)$",
      description:
        '"/exact", "/prefix/*" or "*", matched on the canonical path; "/exact" also covers "/exact/", "/prefix/*" also covers "/prefix".',
      examples: ["/api/*", "/login", "*"],
    },
    methods: list(
      { type: "string", pattern: "^[A-Z]+$", description: "An upper-case method." },
      "Methods the rule applies to (all when absent); GET also covers HEAD.",
    ),
    require: oneOf(
      REQUIREMENTS,
      "none: anything passes (a valid signature still attaches the identity); signature: any verified signer; verified-agent: a signature attributed to an agent identity.",
    ),
    allow: list(
      AGENT,
      "Agents allowed on this route, in addition to the top-level allow; when any list is set, only those pass.",
    ),
    deny: list(AGENT, "Agents refused on this route, in addition to the top-level deny."),
    replay: oneOf(
      ["enforce", "off"],
      "enforce: a signature is accepted once, ever; off: no replay check (Verified-Agent says replay=off).",
      "enforce",
    ),
    nonce: oneOf(["required", "optional"], "required: only signatures with a nonce count.", "optional"),
    replayStoreFailure: oneOf(
      ["closed", "open"],
      "When the replay store cannot answer: closed (503 replay_store_unavailable) or open (forward, Verified-Agent says replay=unchecked).",
      "closed",
    ),
    bearer: oneOf(
      ["require-proof", "allow"],
      "require-proof: a request presenting Authorization (or a credentialHeaders header) needs a verified signature by an identified agent that covers it.",
      "allow",
    ),
    credentialHeaders: list(
      { type: "string", pattern: "^[!#$%&'*+\\-.^_`|~0-9a-z]+$", description: "A lower-case header name." },
      "Further headers that carry credentials (API keys), for bearer.",
    ),
    aauth: oneOf(
      ["agent-token", "person-token", "auth-token"],
      "The least AAuth credential the route needs; unmet, a 401 with AAuth-Requirement.",
    ),
    scope: list(
      text("A scope."),
      'For aauth "auth-token": scopes the auth token must grant (403 insufficient_scope otherwise).',
    ),
    cover: list(
      { anyOf: [COMPONENT, list(COMPONENT, "Alternatives: one of them suffices.", 1)] },
      'Components the deciding signature must cover, each a name or a list of alternatives; "content-digest" applies only to requests with a body. Absent: @method, @path or @target-uri, and content-digest with a body, on unsafe methods; [] turns that off.',
    ),
  },
};

/**
 * The JSON Schema of `SIGNET_POLICY`.
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * await writeFile("docs/policy.schema.json", `${JSON.stringify(POLICY_SCHEMA, null, 2)}\n`);
 * ```
 */
export const POLICY_SCHEMA: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "urn:signet-edge:policy",
  title: "Signet policy (SIGNET_POLICY)",
  description:
    "What each route requires of agent signatures, which agents pass, and the limits Signet keeps. Every field is optional. Check a file with `signet policy check FILE`.",
  type: "object",
  additionalProperties: false,
  properties: {
    $schema: text("The schema this file follows (for editors; ignored by Signet)."),
    mode: oneOf(
      ["enforce", "monitor"],
      "enforce refuses; monitor forwards everything and tells the origin what it would have refused (Signet-Monitor).",
      d.mode,
    ),
    rules: list(RULE, "Route rules; the first match wins; no match means none."),
    allow: list(AGENT, "Agents allowed on every route that has allow lists; when any list is set, only those pass."),
    deny: list(AGENT, "Agents refused on every route."),
    freshness: block("Limits on how old and how long-lived signatures may be.", {
      maxValidity: int(1, 10_000_000_000, "Largest expires - created, in seconds.", d.freshness.maxValidity),
      clockSkew: int(0, 3600, "Allowed clock difference, in seconds.", d.freshness.clockSkew),
      maxAge: int(1, 7 * 86_400, "Largest age of created, in seconds (unbounded but for expires when absent)."),
    }),
    algorithms: list(
      oneOf(
        SIGNATURE_ALGORITHMS.filter((a) => a !== "hmac-sha256"),
        "An RFC 9421 algorithm (hmac-sha256 is never accepted: agents must not share keys).",
      ),
      "Algorithms accepted for Web Bot Auth signatures.",
      1,
    ),
    discovery: block("Key directory fetches and their cache.", {
      timeoutMs: int(100, 30_000, "Milliseconds a directory fetch may take.", d.discovery.timeoutMs),
      maxBytes: int(1024, 1_048_576, "Largest directory body, in bytes.", d.discovery.maxBytes),
      maxKeys: int(1, 256, "Most keys read from one directory.", d.discovery.maxKeys),
      minTtlSeconds: int(0, 86_400, "Shortest time a fetched key set is held.", d.discovery.minTtlSeconds),
      maxTtlSeconds: int(
        0,
        7 * 86_400,
        "Longest time a fetched key set is held (at least minTtlSeconds).",
        d.discovery.maxTtlSeconds,
      ),
      negativeTtlSeconds: int(0, 300, "How long a failed fetch is remembered.", d.discovery.negativeTtlSeconds),
      refetchCooldownSeconds: int(
        0,
        3600,
        "An unknown keyid refetches a key set at most once per this many seconds.",
        d.discovery.refetchCooldownSeconds,
      ),
      requireDirectorySignature: bool(
        "Use only keys whose directory response signature verifies.",
        d.discovery.requireDirectorySignature,
      ),
      unsafeAllowLoopback: bool(
        "Allow directories on http(s)://127.0.0.1, localhost and [::1], any port. Local tests and demos only.",
        d.discovery.unsafeAllowLoopback,
      ),
      maxAgentsPerRequest: int(
        1,
        32,
        "Most distinct Web Bot Auth agents one request may name (further ones: agent_limit).",
        d.discovery.maxAgentsPerRequest,
      ),
    }),
    budget: block("What one request may make Signet spend on keys, both profiles together.", {
      maxLabels: int(1, 64, "Signature labels judged per request (further ones: label_limit).", d.budget.maxLabels),
      maxFetches: int(
        0,
        32,
        "Key set and metadata fetches one request may start (further ones: fetch_limit).",
        d.budget.maxFetches,
      ),
      deadlineMs: int(
        100,
        30_000,
        "Milliseconds by which a request's key work has ended (deadline_exceeded). Default: discovery.timeoutMs.",
      ),
    }),
    pinned: {
      type: "object",
      description: "Keys you trust for an agent URL; pinned agents are never fetched.",
      propertyNames: { type: "string", pattern: "^https?://", description: "An http(s) agent URL." },
      additionalProperties: list(PUBLIC_JWK, "The agent's public keys.", 1),
    },
    allowTestKeys: bool("Accept the published RFC 9421 test keys (demos only).", d.allowTestKeys),
    replay: block("The replay store (Durable Objects).", {
      shards: int(1, 4096, "Replay store shards.", d.replay.shards),
      previousShards: int(1, 4096, "During a change of shards: the previous count (must differ from shards)."),
      timeoutMs: int(
        50,
        30_000,
        "Milliseconds to wait for the store before it counts as unavailable.",
        d.replay.timeoutMs,
      ),
    }),
    aauth: block("The AAuth profile.", {
      resource: {
        type: "string",
        pattern: "^https://[a-z0-9.-]+$",
        description: "The site's resource identifier: https origin, lower case, no port, path or slash.",
      },
      schemes: list(
        oneOf(["jwt", "hwk", "jkt-jwt", "jwks_uri", "jwks"], "A Signature-Key scheme."),
        "Accepted Signature-Key schemes (default all five).",
      ),
      algorithms: list(
        oneOf(JOSE_ALGORITHMS, "A JOSE algorithm."),
        `Accepted JOSE algorithms (default ${d.aauth.algorithms.join(", ")}).`,
      ),
      signatureWindow: int(
        1,
        3600,
        "Seconds a signature's created stays acceptable (at most freshness.maxAge).",
        d.aauth.signatureWindow,
      ),
      bodyIntegrity: bool(
        "Require content-digest and content-type to be covered on requests with a body.",
        d.aauth.bodyIntegrity,
      ),
      additionalComponents: list(text("A component."), "Components every AAuth signature must also cover."),
      trustedKeySets: list(
        text("A key set."),
        "jwks_uri ids and jwks URLs whose keys identify an agent rather than a pseudonym.",
      ),
      name: text("Published in aauth-resource.json."),
      scopeDescriptions: {
        type: "object",
        description: "Scope descriptions published in aauth-resource.json.",
        additionalProperties: text("What the scope grants."),
      },
    }),
    paths: block("How request paths are read for routing.", {
      escapedSlashes: oneOf(
        ["reject", "decode"],
        "An escaped slash or backslash (%2F, %5C) or a literal backslash: reject (400 path_ambiguous) or decode (read as /).",
        d.paths.escapedSlashes,
      ),
    }),
    log: block("The decision log.", {
      sampleAccepted: {
        type: "number",
        minimum: 0,
        maximum: 1,
        default: d.log.sampleAccepted,
        description: "Share of accepted requests logged (refusals are always logged).",
      },
    }),
    check: block(
      "The check endpoint (off by default): a signed request sent to path with Signet-Check-Target gets Signet's verdict as JSON.",
      {
        enabled: {
          type: "boolean",
          default: d.check.enabled,
          description: "Answer checks; while off, the path answers 404 check_disabled.",
        },
        path: {
          type: "string",
          pattern: "^/[A-Za-z0-9._~!$&'()*+,;=:@/-]{1,200}$",
          default: d.check.path,
          description: "Where checks are sent (reserved even while off).",
        },
        ratePerMinute: int(1, 10_000, "Checks per client IP per minute, per isolate.", d.check.ratePerMinute),
        maxClients: int(
          1,
          100_000,
          "Client IPs tracked per isolate per minute; a new client past this gets 429 until the minute turns.",
          d.check.maxClients,
        ),
      },
    ),
  },
};

/**
 * What the parser checks and the schema cannot say: a policy can pass the schema and still be refused for these.
 *
 * @example
 * ```ts
 * for (const check of POLICY_PARSER_ONLY_CHECKS) console.log(`- ${check}`);
 * ```
 */
export const POLICY_PARSER_ONLY_CHECKS: readonly string[] = Object.freeze([
  "a rule path must have a canonical form (no %2F, %5C, control characters or double encoding)",
  "an agent URL in allow, deny or pinned must be an http(s) URL Signet can resolve to a key set",
  "discovery.maxTtlSeconds must be at least discovery.minTtlSeconds",
  "replay.previousShards must differ from replay.shards",
  "aauth.signatureWindow must be at most freshness.maxAge when maxAge is set",
  "no value anywhere may be null, a pinned key's own members included (leave a field out for its default)",
  "check.path must not contain //",
]);
