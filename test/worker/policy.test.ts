import { describe, expect, it } from "vitest";
import { judgeAgent, matchRule } from "../../worker/policy/match-rule.ts";
import { PolicyError, parsePolicy } from "../../worker/policy/parse-policy.ts";
import { DEFAULT_POLICY } from "../../worker/policy/policy.ts";

const DIRECTORY = "/.well-known/http-message-signatures-directory";

describe("SIGNET_POLICY validation", () => {
  it("gives the defaults for an empty or absent policy", () => {
    expect(parsePolicy(undefined)).toBe(DEFAULT_POLICY);
    expect(parsePolicy("  ")).toBe(DEFAULT_POLICY);
    expect(DEFAULT_POLICY).toMatchObject({ mode: "enforce", rules: [], allowTestKeys: false });
    expect(DEFAULT_POLICY.algorithms).not.toContain("hmac-sha256");
    expect(DEFAULT_POLICY.discovery.unsafeAllowLoopback).toBe(false);
  });

  it("reads a full policy and resolves agent URLs to identities", () => {
    const policy = parsePolicy(
      JSON.stringify({
        mode: "monitor",
        rules: [{ path: "/api/*", methods: ["POST"], require: "verified-agent", allow: ["https://agent.example"] }],
        deny: ["https://bad.example/keys.json"],
        freshness: { maxValidity: 600, clockSkew: 10, maxAge: 300 },
        algorithms: ["ed25519"],
        discovery: { timeoutMs: 1000, requireDirectorySignature: true },
        pinned: { "https://agent.example": [{ kty: "OKP", crv: "Ed25519", x: "abc" }] },
      }),
    );
    expect(policy.mode).toBe("monitor");
    // An origin stands for its directory (Web Bot Auth) and for itself (an AAuth Agent Provider).
    expect(policy.rules[0]?.allow).toEqual([`https://agent.example${DIRECTORY}`, "https://agent.example"]);
    expect(policy.deny).toEqual(["https://bad.example/keys.json"]);
    expect(policy.freshness).toEqual({ maxValidity: 600, clockSkew: 10, maxAge: 300 });
    expect(policy.discovery).toMatchObject({ timeoutMs: 1000, requireDirectorySignature: true, maxBytes: 65_536 });
    // The key-work deadline follows the discovery timeout unless set.
    expect(policy.budget).toEqual({ maxLabels: 8, maxFetches: 8, deadlineMs: 1000 });
    expect(policy.pinned).toEqual([
      { agent: "https://agent.example", keys: [{ kty: "OKP", crv: "Ed25519", x: "abc" }] },
    ]);
  });

  it.each([
    ["{", "(root)", /not JSON/],
    ["[]", "(root)", /must be an object/],
    ['{"mode":"block"}', "mode", /enforce, monitor/],
    ['{"rules":[{"path":"/a","require":"maybe"}]}', "rules[0].require", /none, signature, verified-agent/],
    ['{"rules":[{"path":"a*b","require":"none"}]}', "rules[0].path", /\/prefix/],
    ['{"rules":[{"path":"/a","require":"none","methods":["get"]}]}', "rules[0].methods[0]", /upper-case/],
    ['{"rules":[{"path":"/a","require":"none","when":1}]}', "rules[0].when", /unknown field/],
    ['{"allow":["not a url"]}', "allow[0]", /agent URL/],
    ['{"algorithms":["hmac-sha256"]}', "algorithms[0]", /never accepted/],
    ['{"algorithms":["rsa-sha1"]}', "algorithms[0]", /not an RFC 9421 algorithm/],
    ['{"algorithms":[]}', "algorithms", /at least one/],
    ['{"freshness":{"clockSkew":-1}}', "freshness.clockSkew", /whole number/],
    ['{"discovery":{"negativeTtlSeconds":600}}', "discovery.negativeTtlSeconds", /0 to 300/],
    ['{"discovery":{"unsafeAllowLoopback":"yes"}}', "discovery.unsafeAllowLoopback", /true or false/],
    ['{"budget":{"maxLabels":0}}', "budget.maxLabels", /1 to 64/],
    ['{"budget":{"maxFetches":33}}', "budget.maxFetches", /0 to 32/],
    ['{"budget":{"deadlineMs":50}}', "budget.deadlineMs", /100 to 30000/],
    ['{"budget":{"deadlineMs":1.5}}', "budget.deadlineMs", /whole number/],
    ['{"budget":{"labels":4}}', "budget.labels", /unknown field/],
    [
      '{"pinned":{"https://a.example":[{"kty":"OKP","crv":"Ed25519","x":"a","d":"b"}]}}',
      'pinned["https://a.example"][0].d',
      /public keys/,
    ],
    ['{"pinned":{"ftp://a.example":[{"kty":"OKP"}]}}', 'pinned["ftp://a.example"]', /agent URL/],
    ['{"colour":"blue"}', "colour", /unknown field/],
  ])("refuses %s naming %s", (text, field, message) => {
    let error: unknown;
    try {
      parsePolicy(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).field).toBe(field);
    expect((error as PolicyError).message).toMatch(message);
    expect((error as PolicyError).message.startsWith(`SIGNET_POLICY.${field}: `)).toBe(true);
  });
});

describe("rules and lists", () => {
  const policy = parsePolicy(
    JSON.stringify({
      rules: [
        { path: "/admin/*", require: "verified-agent", allow: ["https://trusted.example"] },
        { path: "/api/*", methods: ["POST", "PUT"], require: "signature" },
        { path: "/api/health", require: "none" },
        { path: "/api/*", require: "verified-agent" },
      ],
      deny: ["https://evil.example"],
    }),
  );

  it("takes the first rule that matches path and method, and none when no rule matches", () => {
    expect(matchRule(policy, "GET", "/admin/users").path).toBe("/admin/*");
    expect(matchRule(policy, "POST", "/api/health").require).toBe("signature");
    expect(matchRule(policy, "GET", "/api/health").require).toBe("none");
    expect(matchRule(policy, "GET", "/api/items").require).toBe("verified-agent");
    expect(matchRule(policy, "GET", "/").require).toBe("none");
  });

  it("judges agents: deny wins, allow lists restrict", () => {
    const admin = matchRule(policy, "GET", "/admin/x");
    const api = matchRule(policy, "GET", "/api/x");
    expect(judgeAgent(policy, admin, `https://trusted.example${DIRECTORY}`)).toBe("allowed");
    expect(judgeAgent(policy, admin, `https://other.example${DIRECTORY}`)).toBe("not-allowed");
    expect(judgeAgent(policy, api, `https://other.example${DIRECTORY}`)).toBe("allowed");
    expect(judgeAgent(policy, api, `https://evil.example${DIRECTORY}`)).toBe("denied");
  });

  it("an entry naming an origin covers every key set URL on it, and nothing on another origin", () => {
    const api = matchRule(policy, "GET", "/api/x");
    const admin = matchRule(policy, "GET", "/admin/x");
    expect(judgeAgent(policy, api, "https://evil.example/keys.json")).toBe("denied");
    expect(judgeAgent(policy, api, "https://evil.example/a/b/jwks?x=1")).toBe("denied");
    expect(judgeAgent(policy, admin, "https://trusted.example/team/keys.json")).toBe("allowed");
    for (const other of [
      "https://evil.example.other.test/keys.json",
      "https://evil.example:8443/keys.json",
      "http://evil.example/keys.json",
      "aauth:bot@evil.example",
      "urn:jkt:sha-256:abc",
    ]) {
      expect(judgeAgent(policy, api, other)).toBe("allowed");
    }
    // An entry naming one key set URL covers that URL only.
    const narrow = parsePolicy(JSON.stringify({ deny: ["https://bot.example/a.json"] }));
    expect(judgeAgent(narrow, matchRule(narrow, "GET", "/"), "https://bot.example/a.json")).toBe("denied");
    expect(judgeAgent(narrow, matchRule(narrow, "GET", "/"), "https://bot.example/b.json")).toBe("allowed");
  });
});

describe("replay and bearer settings", () => {
  it("reads per-rule replay, nonce, failure and bearer settings and the store layout", () => {
    const policy = parsePolicy(
      JSON.stringify({
        rules: [
          {
            path: "/api/*",
            require: "signature",
            replay: "enforce",
            nonce: "required",
            replayStoreFailure: "open",
            bearer: "require-proof",
            credentialHeaders: ["x-api-key"],
          },
        ],
        replay: { shards: 128, previousShards: 64, timeoutMs: 500 },
      }),
    );
    expect(policy.rules[0]).toMatchObject({
      replay: "enforce",
      nonce: "required",
      replayStoreFailure: "open",
      bearer: "require-proof",
      credentialHeaders: ["x-api-key"],
    });
    expect(policy.replay).toEqual({ shards: 128, previousShards: 64, timeoutMs: 500 });
    expect(DEFAULT_POLICY.replay).toEqual({ shards: 64, timeoutMs: 2000 });
  });

  it.each([
    ['{"rules":[{"path":"/a","require":"none","replay":"maybe"}]}', "rules[0].replay"],
    ['{"rules":[{"path":"/a","require":"none","nonce":"always"}]}', "rules[0].nonce"],
    ['{"rules":[{"path":"/a","require":"none","bearer":"deny"}]}', "rules[0].bearer"],
    ['{"rules":[{"path":"/a","require":"none","credentialHeaders":["X-Api-Key"]}]}', "rules[0].credentialHeaders[0]"],
    ['{"replay":{"shards":0}}', "replay.shards"],
    ['{"replay":{"shards":64,"previousShards":64}}', "replay.previousShards"],
  ])("refuses %s naming %s", (text, field) => {
    expect(() => parsePolicy(text)).toThrow(expect.objectContaining({ field }));
  });
});

describe("AAuth settings", () => {
  it("reads the aauth section and per-rule token requirements", () => {
    const policy = parsePolicy(
      JSON.stringify({
        rules: [{ path: "/docs/*", require: "signature", aauth: "auth-token", scope: ["data.read"] }],
        aauth: {
          resource: "https://resource.example",
          schemes: ["jwt"],
          algorithms: ["Ed25519"],
          signatureWindow: 30,
          bodyIntegrity: true,
          additionalComponents: ["@query"],
          trustedKeySets: ["https://partner.example"],
          name: "Docs",
          scopeDescriptions: { "data.read": "Read your documents" },
        },
      }),
    );
    expect(policy.rules[0]).toMatchObject({ aauth: "auth-token", scope: ["data.read"] });
    expect(policy.aauth).toMatchObject({ resource: "https://resource.example", schemes: ["jwt"], signatureWindow: 30 });
    expect(DEFAULT_POLICY.aauth.schemes).toEqual(["jwt", "hwk", "jkt-jwt", "jwks_uri", "jwks"]);
  });

  it.each([
    ['{"aauth":{"resource":"https://Resource.example/"}}', "aauth.resource"],
    ['{"aauth":{"algorithms":["EdDSA"]}}', "aauth.algorithms[0]"],
    ['{"aauth":{"schemes":["x509"]}}', "aauth.schemes[0]"],
    ['{"rules":[{"path":"/a","require":"none","aauth":"id-token"}]}', "rules[0].aauth"],
  ])("refuses %s naming %s", (text, field) => {
    expect(() => parsePolicy(text)).toThrow(expect.objectContaining({ field }));
  });
});
