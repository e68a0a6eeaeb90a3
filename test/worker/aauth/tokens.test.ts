import { describe, expect, it } from "vitest";
import { type AAuthVerification, type VerifyAAuthOptions, verifyAAuthLabels } from "../../../worker/aauth/index.ts";
import {
  agentClaims,
  count,
  mint,
  NOW,
  newKey,
  publishIssuer,
  RESOURCE,
  register,
  signed,
  type TestKey,
  testOptions,
} from "./helpers.ts";

function only(result: AAuthVerification) {
  expect(result.fieldError).toBeUndefined();
  expect(result.labels).toHaveLength(1);
  return result.labels[0] as NonNullable<AAuthVerification["labels"][number]>;
}

async function judge(jwt: string, key: TestKey, extra: VerifyAAuthOptions = {}) {
  return only(
    await verifyAAuthLabels(await signed({ key, signatureKey: `sig=jwt;jwt="${jwt}"` }), testOptions(extra).options),
  );
}

function personClaims(iss: string, agent: TestKey, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss,
    dwk: "aauth-person.json",
    aud: RESOURCE,
    sub: "8f14e45f",
    jti: "pt-1",
    cnf: { jwk: agent.publicJwk },
    iat: NOW - 10,
    exp: NOW + 1800,
    ...extra,
  };
}

describe("agent tokens", () => {
  it("verify and name the Agent Provider, the agent, ps and parent_agent", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const agent = await newKey();
    const claims = agentClaims(ap.iss, agent, {
      ps: "https://ps.example",
      parent_agent: "aauth:Planner@agent.example",
      sub: "aauth:Planner+search@agent.example",
    });
    const verdict = await judge(await mint(ap.key, { typ: "aa-agent+jwt", kid: "k1" }, claims), agent);
    expect(verdict.message).toBeUndefined();
    expect(verdict.outcome).toBe("verified");
    expect(verdict.identity).toMatchObject({
      level: "agent",
      scheme: "jwt",
      tokenType: "agent",
      agentProvider: ap.iss,
      agentId: "aauth:Planner+search@agent.example",
      parentAgent: "aauth:Planner@agent.example",
      ps: "https://ps.example",
      jti: claims.jti,
      exp: claims.exp,
      thumbprint: agent.thumbprint,
    });
  });

  it("verify with an ES256 issuer key", async () => {
    const ap = await publishIssuer("aauth-agent.json", { alg: "ES256" });
    const agent = await newKey("ES256");
    const verdict = await judge(
      await mint(ap.key, { typ: "aa-agent+jwt", kid: "k1" }, agentClaims(ap.iss, agent)),
      agent,
    );
    expect(verdict.outcome).toBe("verified");
    expect(verdict.algorithm).toBe("ES256");
  });

  it("are refused for each failure", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const agent = await newKey();
    const stranger = await newKey();
    const header = { typ: "aa-agent+jwt", kid: "k1" };
    const cases: Array<[string, string, Record<string, unknown>, Record<string, unknown>?]> = [
      ["expired", "expired_jwt", { exp: NOW - 1 }],
      ["expired exactly now (no skew)", "expired_jwt", { exp: NOW }],
      ["no exp", "invalid_jwt", { exp: undefined }],
      ["iat far ahead", "clock_skew", { iat: NOW + 600, exp: NOW + 3600 }],
      ["lives longer than 24 h", "invalid_jwt", { exp: NOW + 90_000 }],
      ["wrong dwk", "invalid_jwt", { dwk: "aauth-person.json" }],
      ["bad sub", "invalid_jwt", { sub: "agent@agent.example" }],
      ["bad parent_agent", "invalid_jwt", { parent_agent: "planner" }],
      ["ps with a trailing slash", "invalid_jwt", { ps: "https://ps.example/" }],
      ["iss with a trailing slash", "invalid_jwt", { iss: "https://agent.example/" }],
      ["iss with upper case", "invalid_jwt", { iss: "https://Agent.example" }],
      ["no cnf", "invalid_jwt", { cnf: undefined }],
      ["cnf incomplete", "invalid_key", { cnf: { jwk: { kty: "OKP", crv: "Ed25519", alg: "Ed25519" } } }],
      ["cnf without alg", "unsupported_algorithm", { cnf: { jwk: { ...agent.publicJwk, alg: undefined } } }],
      ["cnf EdDSA", "unsupported_algorithm", { cnf: { jwk: { ...agent.publicJwk, alg: "EdDSA" } } }],
      ["cnf is another key", "invalid_signature", { cnf: { jwk: stranger.publicJwk } }],
      ["wrong typ", "invalid_jwt", {}, { typ: "JWT" }],
      ["unknown kid", "unknown_key", {}, { kid: "k9" }],
      ["no kid", "invalid_jwt", {}, { kid: undefined }],
    ];
    for (const [name, code, claims, headerOverride] of cases) {
      const jwt = await mint(ap.key, { ...header, ...headerOverride }, agentClaims(ap.iss, agent, claims));
      const verdict = await judge(jwt, agent);
      expect([name, verdict.code]).toEqual([name, code]);
    }
    const forged = await mint(stranger, header, agentClaims(ap.iss, agent));
    expect((await judge(forged, agent)).code).toBe("invalid_jwt");
  });

  it("need the JWT alg to equal the issuer key's alg", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const agent = await newKey();
    const es = await newKey("ES256");
    await register(ap.jwksPath, [{ body: { keys: [{ ...es.publicJwk, kid: "k1", alg: "Ed25519" }] } }]);
    const verdict = await judge(await mint(es, { typ: "aa-agent+jwt", kid: "k1" }, agentClaims(ap.iss, agent)), agent);
    expect(verdict.code).toBe("invalid_key");
    const ap2 = await publishIssuer("aauth-agent.json");
    const mismatch = await mint(
      { ...ap2.key, alg: "Ed25519" },
      { typ: "aa-agent+jwt", kid: "k1", alg: "EdDSA" },
      agentClaims(ap2.iss, agent),
    );
    expect((await judge(mismatch, agent)).code).toBe("invalid_jwt");
  });

  it("check the metadata issuer: missing, mismatched by a trailing slash", async () => {
    const agent = await newKey();
    const missing = await publishIssuer("aauth-agent.json", { metadata: { issuer: undefined } });
    expect(
      (await judge(await mint(missing.key, { typ: "aa-agent+jwt", kid: "k1" }, agentClaims(missing.iss, agent)), agent))
        .code,
    ).toBe("issuer_missing");
    const slash = await publishIssuer("aauth-agent.json");
    await register(slash.metadataPath, [{ body: { issuer: `${slash.iss}/`, jwks_uri: `${slash.iss}/jwks.json` } }]);
    expect(
      (await judge(await mint(slash.key, { typ: "aa-agent+jwt", kid: "k1" }, agentClaims(slash.iss, agent)), agent))
        .code,
    ).toBe("issuer_mismatch");
  });

  it("an unknown kid refetches the JWKS once (after the 60 s floor), then answers unknown_key", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const agent = await newKey();
    const { options, clock } = testOptions();
    const good = await signed({
      key: agent,
      signatureKey: `sig=jwt;jwt="${await mint(ap.key, { typ: "aa-agent+jwt", kid: "k1" }, agentClaims(ap.iss, agent))}"`,
    });
    expect(only(await verifyAAuthLabels(good, options)).outcome).toBe("verified");
    expect(await count(ap.jwksPath)).toBe(1);
    const rotated = await newKey("Ed25519", "k2");
    const jwt = await mint({ ...rotated }, { typ: "aa-agent+jwt", kid: "k2" }, agentClaims(ap.iss, agent));
    const message = await signed({ key: agent, signatureKey: `sig=jwt;jwt="${jwt}"` });
    // Within the floor: no refetch.
    expect(only(await verifyAAuthLabels(message, options)).code).toBe("unknown_key");
    expect(await count(ap.jwksPath)).toBe(1);
    // After the floor: one refetch; the key is still not there.
    clock.advance(61);
    const late = { ...options, now: () => NOW };
    expect(only(await verifyAAuthLabels(message, late)).code).toBe("unknown_key");
    expect(await count(ap.jwksPath)).toBe(2);
    expect(only(await verifyAAuthLabels(message, late)).code).toBe("unknown_key");
    expect(await count(ap.jwksPath)).toBe(2);
    // The issuer publishes it: the next refetch (after the floor) finds it.
    await register(ap.jwksPath, [{ body: { keys: [ap.key.publicJwk, rotated.publicJwk] } }]);
    clock.advance(61);
    expect(only(await verifyAAuthLabels(message, late)).outcome).toBe("verified");
    expect(await count(ap.jwksPath)).toBe(3);
  });
});

describe("person and auth tokens", () => {
  it("a person token verifies at person level; an auth token at authorized level with scope", async () => {
    const ps = await publishIssuer("aauth-person.json");
    const agent = await newKey();
    const person = await judge(
      await mint(ps.key, { typ: "aa-person+jwt", kid: "k1" }, personClaims(ps.iss, agent, { tenant: "t1" })),
      agent,
    );
    expect(person.outcome).toBe("verified");
    expect(person.identity).toMatchObject({
      level: "person",
      personIssuer: ps.iss,
      personSubject: "8f14e45f",
      tenant: "t1",
    });
    expect(person.identity?.agentId).toBeUndefined();
    const auth = await judge(
      await mint(
        ps.key,
        { typ: "aa-auth+jwt", kid: "k1" },
        personClaims(ps.iss, agent, { scope: "data.read data.write", ps: ps.iss }),
      ),
      agent,
      { acceptTokens: ["auth"] },
    );
    expect(auth.outcome).toBe("verified");
    expect(auth.identity).toMatchObject({
      level: "authorized",
      tokenType: "auth",
      scope: "data.read data.write",
      personSubject: "8f14e45f",
    });
  });

  it("an auth token may come from an Access Server (aauth-access.json)", async () => {
    const as = await publishIssuer("aauth-access.json");
    const agent = await newKey();
    const jwt = await mint(
      as.key,
      { typ: "aa-auth+jwt", kid: "k1" },
      personClaims(as.iss, agent, { dwk: "aauth-access.json" }),
    );
    expect((await judge(jwt, agent)).outcome).toBe("verified");
  });

  it("are refused: person token where an auth token is required, wrong aud, too long, no sub, person with scope", async () => {
    const ps = await publishIssuer("aauth-person.json");
    const agent = await newKey();
    const personToken = await mint(ps.key, { typ: "aa-person+jwt", kid: "k1" }, personClaims(ps.iss, agent));
    expect((await judge(personToken, agent, { acceptTokens: ["auth"] })).code).toBe("invalid_jwt");
    const agentOnly = await judge(personToken, agent, { acceptTokens: ["agent"] });
    expect(agentOnly.code).toBe("invalid_jwt");
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ["wrong aud", "invalid_jwt", { aud: "https://other.example" }],
      ["aud with a slash", "invalid_jwt", { aud: `${RESOURCE}/` }],
      ["lives 2 h", "invalid_jwt", { exp: NOW + 7190 }],
      ["no iat", "invalid_jwt", { iat: undefined }],
      ["no sub", "invalid_jwt", { sub: undefined }],
      ["wrong dwk", "invalid_jwt", { dwk: "aauth-agent.json" }],
      ["expired", "expired_jwt", { exp: NOW - 5, iat: NOW - 100 }],
    ];
    for (const [name, code, claims] of cases) {
      const jwt = await mint(ps.key, { typ: "aa-auth+jwt", kid: "k1" }, personClaims(ps.iss, agent, claims));
      expect([name, (await judge(jwt, agent)).code]).toEqual([name, code]);
    }
    const scoped = await mint(ps.key, { typ: "aa-person+jwt", kid: "k1" }, personClaims(ps.iss, agent, { scope: "x" }));
    expect((await judge(scoped, agent)).code).toBe("invalid_jwt");
    const noResource = await judge(personToken, agent, { resource: undefined });
    expect(noResource.code).toBe("invalid_jwt");
  });
});
