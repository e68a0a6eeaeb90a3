/**
 * The policy's JSON Schema and the Worker's parser agree: on a table of valid and invalid policies, and on every
 * boundary and off-by-one value of every field the schema describes (walked from the schema itself). The schema is
 * never stricter than the parser (an editor never flags a policy Signet accepts); it is looser only where
 * `POLICY_PARSER_ONLY_CHECKS` says so.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../worker/policy/parse-policy.ts";
import { type JsonSchema, POLICY_PARSER_ONLY_CHECKS, POLICY_SCHEMA } from "../../worker/policy/policy-schema.ts";
import { schemaError } from "../support/json-schema.ts";

function parserAccepts(policy: unknown): boolean {
  try {
    parsePolicy(JSON.stringify(policy));
    return true;
  } catch {
    return false;
  }
}

function schemaAccepts(policy: unknown): boolean {
  return schemaError(POLICY_SCHEMA, policy) === undefined;
}

const ED25519 = { kty: "OKP", crv: "Ed25519", x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" };

const VALID: [string, unknown][] = [
  ["the empty policy", {}],
  [
    "the site-owner example",
    {
      mode: "enforce",
      rules: [
        { path: "/api/public/*", require: "none" },
        {
          path: "/api/*",
          methods: ["POST", "PUT", "DELETE"],
          require: "verified-agent",
          allow: ["https://agent.example"],
        },
        { path: "/api/*", require: "signature" },
      ],
      deny: ["https://bad-bot.example"],
      freshness: { maxValidity: 86400, clockSkew: 60, maxAge: 3600 },
      algorithms: ["ed25519", "rsa-pss-sha512"],
      discovery: { timeoutMs: 3000, maxBytes: 65536, maxKeys: 32, requireDirectorySignature: false },
      pinned: { "https://partner.example": [ED25519] },
    },
  ],
  [
    "the AAuth example",
    {
      aauth: { resource: "https://api.example.com", schemes: ["jwt", "hwk"], signatureWindow: 60 },
      rules: [
        { path: "/public/*", require: "signature" },
        { path: "/agents/*", require: "verified-agent", aauth: "agent-token" },
        { path: "/me/*", require: "signature", aauth: "person-token" },
        { path: "/docs/*", require: "signature", aauth: "auth-token", scope: ["data.read"] },
      ],
    },
  ],
  ["a $schema member for editors", { $schema: "./policy.schema.json" }],
  [
    "cover with alternatives",
    { rules: [{ path: "*", require: "signature", cover: ["@method", ["@path", "@target-uri"]] }] },
  ],
  ["aauth and jkt agent names", { allow: ["aauth:bot@agents.example", "urn:jkt:sha-256:abc_-1"] }],
  [
    "bearer proof on credential headers",
    { rules: [{ path: "/x", require: "none", bearer: "require-proof", credentialHeaders: ["x-api-key"] }] },
  ],
  ["replay shard change", { replay: { shards: 128, previousShards: 64, timeoutMs: 50 } }],
  ["monitor mode and sampling", { mode: "monitor", log: { sampleAccepted: 0.1 }, paths: { escapedSlashes: "decode" } }],
  ["scope descriptions", { aauth: { scopeDescriptions: { "data.read": "Read data" }, name: "Shop" } }],
];

const INVALID: [string, unknown][] = [
  ["not an object", []],
  ["an unknown top-level field", { rule: [] }],
  ["a bad mode", { mode: "audit" }],
  ["a rule without require", { rules: [{ path: "/a" }] }],
  ["a rule without path", { rules: [{ require: "none" }] }],
  ["a bad requirement", { rules: [{ path: "/a", require: "agent" }] }],
  ["a star not last", { rules: [{ path: "/a/*/b", require: "none" }] }],
  ["a relative rule path", { rules: [{ path: "a", require: "none" }] }],
  ["a lower-case method", { rules: [{ path: "/a", require: "none", methods: ["get"] }] }],
  ["an unknown rule field", { rules: [{ path: "/a", require: "none", requires: "x" }] }],
  ["hmac-sha256", { algorithms: ["hmac-sha256"] }],
  ["no algorithm", { algorithms: [] }],
  ["an unknown algorithm", { algorithms: ["ed448"] }],
  ["a fractional clock skew", { freshness: { clockSkew: 1.5 } }],
  ["a negative clock skew", { freshness: { clockSkew: -1 } }],
  ["a string timeout", { discovery: { timeoutMs: "3000" } }],
  ["a private pinned key", { pinned: { "https://partner.example": [{ ...ED25519, d: "x" }] } }],
  ["a pinned key without kty", { pinned: { "https://partner.example": [{ x: "y" }] } }],
  ["no pinned key", { pinned: { "https://partner.example": [] } }],
  ["a pinned name that is no URL", { pinned: { "partner.example": [ED25519] } }],
  ["an empty cover alternative", { rules: [{ path: "*", require: "signature", cover: [[]] }] }],
  ["an upper-case cover name", { rules: [{ path: "*", require: "signature", cover: ["Content-Digest"] }] }],
  ["an upper-case credential header", { rules: [{ path: "*", require: "none", credentialHeaders: ["X-Api-Key"] }] }],
  ["an agent that is no URL", { deny: ["bad-bot"] }],
  ["an AAuth resource with a path", { aauth: { resource: "https://api.example.com/x" } }],
  ["an unknown AAuth scheme", { aauth: { schemes: ["x509"] } }],
  ["EdDSA", { aauth: { algorithms: ["EdDSA"] } }],
  ["a sample above 1", { log: { sampleAccepted: 2 } }],
  ["a non-string $schema", { $schema: 1 }],
  ["allowTestKeys as a string", { allowTestKeys: "true" }],
  ["a null field (read as absent before the schema existed)", { mode: null }],
  ["a null block field", { discovery: { timeoutMs: null } }],
];

/** Policies the schema accepts and only the parser refuses: one per entry of POLICY_PARSER_ONLY_CHECKS. */
const PARSER_ONLY: [string, unknown][] = [
  ["a rule path with an escaped slash", { rules: [{ path: "/a%2Fb", require: "none" }] }],
  ["an agent URL with userinfo", { allow: ["https://user@agent.example"] }],
  ["maxTtlSeconds under minTtlSeconds", { discovery: { minTtlSeconds: 100, maxTtlSeconds: 50 } }],
  ["previousShards equal to shards", { replay: { shards: 64, previousShards: 64 } }],
  ["a null member of a pinned key", { pinned: { "https://partner.example": [{ ...ED25519, alg: null }] } }],
  ["an AAuth window longer than maxAge", { freshness: { maxAge: 30 }, aauth: { signatureWindow: 60 } }],
  ["a check path with a doubled slash", { check: { path: "/.signet//check" } }],
];

describe("the policy schema and the parser agree", () => {
  it.each(VALID)("both accept %s", (_what, policy) => {
    expect(schemaError(POLICY_SCHEMA, policy)).toBeUndefined();
    expect(parserAccepts(policy)).toBe(true);
  });

  it.each(INVALID)("both refuse %s", (_what, policy) => {
    expect(schemaAccepts(policy)).toBe(false);
    expect(parserAccepts(policy)).toBe(false);
  });

  it.each(PARSER_ONLY)("only the parser refuses %s (a documented parser-only check)", (_what, policy) => {
    expect(schemaAccepts(policy)).toBe(true);
    expect(parserAccepts(policy)).toBe(false);
  });

  it("lists one parser-only check per table row", () => {
    expect(PARSER_ONLY).toHaveLength(POLICY_PARSER_ONLY_CHECKS.length);
  });

  /** Every field the schema names, with a way to place a value of it in an otherwise valid policy. */
  function fields(): { name: string; schema: JsonSchema; place: (value: unknown) => unknown }[] {
    const root = POLICY_SCHEMA.properties ?? {};
    const out: { name: string; schema: JsonSchema; place: (value: unknown) => unknown }[] = [];
    for (const [name, schema] of Object.entries(root)) {
      if (schema.type === "object" && schema.properties) {
        for (const [inner, innerSchema] of Object.entries(schema.properties)) {
          // Context that keeps the cross-field checks out of the way (they have their own table above).
          const extra: Record<string, unknown> =
            name === "freshness" && inner === "maxAge" ? { aauth: { signatureWindow: 1 } } : {};
          const block = name === "discovery" && inner === "maxTtlSeconds" ? { minTtlSeconds: 0 } : {};
          const shards = name === "replay" && inner === "previousShards" ? { shards: 3000 } : {};
          out.push({
            name: `${name}.${inner}`,
            schema: innerSchema,
            place: (value) => ({ ...extra, [name]: { ...block, ...shards, [inner]: value } }),
          });
        }
      } else if (name === "rules") {
        for (const [inner, innerSchema] of Object.entries(schema.items?.properties ?? {})) {
          out.push({
            name: `rules[].${inner}`,
            schema: innerSchema,
            place: (value) => ({ rules: [{ path: "/a", require: "none", [inner]: value }] }),
          });
        }
      } else {
        out.push({ name, schema, place: (value) => ({ [name]: value }) });
      }
    }
    return out;
  }

  /** Values at and around a field's edges, whatever its type. */
  function probes(schema: JsonSchema): unknown[] {
    const common: unknown[] = [null, true, "x", "", 0, 1.5, -1, [], {}, ["x"]];
    const enums = schema.enum ?? schema.items?.enum ?? [];
    const values: unknown[] = [...common, ...enums, ...enums.map((v) => [v]), ...enums.map((v) => v.toUpperCase())];
    for (const s of [schema, schema.items]) {
      if (s?.minimum !== undefined && s.maximum !== undefined) {
        const edges = [s.minimum - 1, s.minimum, s.minimum + 0.5, s.maximum, s.maximum + 1];
        values.push(...edges, ...edges.map((v) => [v]));
      }
    }
    return values;
  }

  it("on every boundary and off-by-one value of every field", () => {
    let cases = 0;
    for (const field of fields()) {
      for (const value of probes(field.schema)) {
        const policy = field.place(value);
        expect([field.name, value, schemaAccepts(policy)]).toEqual([field.name, value, parserAccepts(policy)]);
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(500);
  });

  it("on random whole numbers in every numeric field", () => {
    const numeric = fields().filter((f) => f.schema.type === "integer" || f.schema.type === "number");
    expect(numeric.length).toBeGreaterThanOrEqual(19);
    fc.assert(
      fc.property(fc.constantFrom(...numeric), fc.integer({ min: -100, max: 20_000_000_000 }), (field, n) => {
        const policy = field.place(n);
        expect(schemaAccepts(policy)).toBe(parserAccepts(policy));
      }),
      { numRuns: 2000 },
    );
  });

  it("the schema is never stricter than the parser on random rules", () => {
    const component = fc.stringMatching(/^@?[a-z][a-z-]{0,8}$/);
    const rule = fc.record(
      {
        path: fc.constantFrom("*", "/a", "/a/*", "/api/v1/x", "/"),
        require: fc.constantFrom("none", "signature", "verified-agent"),
        methods: fc.array(fc.constantFrom("GET", "POST", "get", "PUT"), { maxLength: 3 }),
        replay: fc.constantFrom("enforce", "off", "on"),
        nonce: fc.constantFrom("required", "optional"),
        bearer: fc.constantFrom("require-proof", "allow", "deny"),
        cover: fc.array(fc.oneof(component, fc.array(component, { maxLength: 2 })), { maxLength: 3 }),
        allow: fc.array(fc.constantFrom("https://a.example", "aauth:x@a.example", "nope"), { maxLength: 2 }),
      },
      { requiredKeys: ["path", "require"] },
    );
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 4 }), (rules) => {
        const policy = { rules };
        expect(schemaAccepts(policy)).toBe(parserAccepts(policy));
      }),
      { numRuns: 1000 },
    );
  });
});
