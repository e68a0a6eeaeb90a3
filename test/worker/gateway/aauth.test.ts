/**
 * AAuth through the whole Worker: Signature-Key schemes, agent/person/auth tokens from issuers served by the
 * local AAuth server, the protocol's challenge and error headers, replay protection, and a request that carries
 * both a Web Bot Auth and an AAuth signature.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { generateAgentKey, loadAgentKey } from "../../../agent/index.ts";
import { parseVerifiedAgent } from "../../../worker/identity/verified-agent.ts";
import type { HttpRequestMessage } from "../../../worker/rfc9421/index.ts";
import {
  agentClaims,
  hwkOf,
  mint,
  NOW,
  newKey,
  publishIssuer,
  REQUIRED,
  RESOURCE,
  signed as signedAAuth,
  type TestKey,
} from "../aauth/helpers.ts";
import { echoOf, expectProblem, gatewayEnv, send, signed as signedWba } from "./gateway.ts";

const env = gatewayEnv({
  rules: [
    { path: "/any/*", require: "signature" },
    { path: "/agents/*", require: "verified-agent" },
    { path: "/agent-token/*", require: "signature", aauth: "agent-token" },
    { path: "/person/*", require: "signature", aauth: "person-token" },
    { path: "/docs/*", require: "signature", aauth: "auth-token", scope: ["data.read"] },
  ],
  aauth: { resource: RESOURCE, name: "Example Data Service" },
  discovery: { unsafeAllowLoopback: true },
});

/** A Fetch request for a signed AAuth message. */
function requestOf(message: HttpRequestMessage): Request {
  return new Request(message.targetUri, { method: message.method, headers: message.headers as Headers });
}

async function hwkRequest(path: string, key: TestKey, extra: Partial<Parameters<typeof signedAAuth>[0]> = {}) {
  return requestOf(await signedAAuth({ key, signatureKey: hwkOf(key), url: `${RESOURCE}${path}`, ...extra }));
}

async function tokenRequest(path: string, agent: TestKey, jwt: string) {
  return requestOf(await signedAAuth({ key: agent, signatureKey: `sig=jwt;jwt="${jwt}"`, url: `${RESOURCE}${path}` }));
}

let agent: TestKey;
let agentToken: string;
let ap: Awaited<ReturnType<typeof publishIssuer>>;
let ps: Awaited<ReturnType<typeof publishIssuer>>;

beforeAll(async () => {
  agent = await newKey();
  ap = await publishIssuer("aauth-agent.json");
  ps = await publishIssuer("aauth-person.json");
  agentToken = await mint(ap.key, { typ: "aa-agent+jwt", kid: "k1" }, agentClaims(ap.iss, agent, { ps: ps.iss }));
});

const authClaims = (extra: Record<string, unknown> = {}) => ({
  iss: ps.iss,
  dwk: "aauth-person.json",
  aud: RESOURCE,
  sub: "person-42",
  ps: ps.iss,
  jti: crypto.randomUUID(),
  cnf: { jwk: agent.publicJwk },
  iat: NOW - 10,
  exp: NOW + 1800,
  ...extra,
});

describe("AAuth at the edge", () => {
  it("an hwk signature is a pseudonym: accepted where any signature will do, labelled so", async () => {
    const echo = await echoOf(await send(await hwkRequest("/any/x", agent), env));
    const identity = parseVerifiedAgent(echo.headers["verified-agent"] ?? "");
    expect(identity).toMatchObject({
      agent: `urn:jkt:sha-256:${agent.thumbprint}`,
      keyid: agent.thumbprint,
      profile: "aauth",
      alg: "Ed25519",
      extra: { level: "pseudonymous", scheme: "hwk", jkt: agent.thumbprint, replay: "checked" },
    });
  });

  it("a pseudonym is refused where an identified agent is required: 403, no Signature-Error", async () => {
    const response = await send(await hwkRequest("/agents/x", agent), env);
    expect(response.headers.get("signature-error")).toBeNull();
    await expectProblem(response, "agent_not_allowed");
  });

  it("an agent token names the agent, its provider and its Person Server", async () => {
    const echo = await echoOf(await send(await tokenRequest("/agents/y", agent, agentToken), env));
    expect(parseVerifiedAgent(echo.headers["verified-agent"] ?? "")).toMatchObject({
      agent: "aauth:assistant@agent.example",
      profile: "aauth",
      extra: {
        level: "agent",
        scheme: "jwt",
        agent_id: "aauth:assistant@agent.example",
        agent_provider: ap.iss,
        ps: ps.iss,
      },
    });
  });

  it("a route that needs an agent token answers AAuth-Requirement to unsigned and pseudonymous requests", async () => {
    for (const request of [new Request(`${RESOURCE}/agent-token/a`), await hwkRequest("/agent-token/b", agent)]) {
      const response = await send(request, env);
      expect(response.headers.get("aauth-requirement")).toBe("requirement=agent-token");
      expect(response.headers.get("accept-signature-scheme")).toBe("jwt");
      expect(response.status).toBe(401);
      await response.body?.cancel();
    }
    expect((await send(await tokenRequest("/agent-token/c", agent, agentToken), env)).status).toBe(200);
  });

  it("a person-token route refuses an agent token with requirement=person-token", async () => {
    const response = await send(await tokenRequest("/person/a", agent, agentToken), env);
    expect(response.status).toBe(401);
    expect(response.headers.get("aauth-requirement")).toBe("requirement=person-token");
    await response.body?.cancel();
  });

  it("an auth token without the route's scope is 403 insufficient_scope; with it, the person is authorized", async () => {
    const narrow = await mint(ps.key, { typ: "aa-auth+jwt", kid: "k1" }, authClaims({ scope: "data.write" }));
    const refused = await send(await tokenRequest("/docs/a", agent, narrow), env);
    expect(refused.headers.get("signature-error")).toBeNull();
    await expectProblem(refused, "insufficient_scope");
    const wide = await mint(ps.key, { typ: "aa-auth+jwt", kid: "k1" }, authClaims({ scope: "data.read data.write" }));
    const echo = await echoOf(await send(await tokenRequest("/docs/b", agent, wide), env));
    expect(parseVerifiedAgent(echo.headers["verified-agent"] ?? "")?.extra).toMatchObject({
      level: "authorized",
      person_issuer: ps.iss,
      person_subject: "person-42",
      scope: "data.read data.write",
    });
  });

  it("missing components: 401, Signature-Error invalid_input with required_input, the sig-error problem type", async () => {
    const request = await hwkRequest("/any/z", agent, { components: ['"@method"', '"@authority"', '"signature-key"'] });
    const response = await send(request, env);
    expect(response.status).toBe(401);
    expect(response.headers.get("signature-error")).toBe('error=invalid_input, required_input=("@path")');
    const body = (await response.json()) as { type: string; reason: string };
    expect(body).toMatchObject({ type: "urn:ietf:params:sig-error:invalid_input", reason: "signature_invalid" });
  });

  it("a token whose kid the issuer does not list is an unknown key: 401 agent_unverified, error=unknown_key", async () => {
    const jwt = await mint(ap.key, { typ: "aa-agent+jwt", kid: "k9" }, agentClaims(ap.iss, agent));
    const response = await send(await tokenRequest("/agents/unknown-kid", agent, jwt), env);
    expect(response.status).toBe(401);
    expect(response.headers.get("signature-error")).toBe("error=unknown_key");
    const body = (await response.json()) as { reason: string; signature_error?: string };
    // An unknown key is not a bad signature: the agent could not be verified.
    expect(body.reason).toBe("agent_unverified");
    expect(body.reason).not.toBe("signature_invalid");
  });

  it("an unsupported scheme: 401 unsupported_scheme with Accept-Signature-Scheme", async () => {
    const request = await hwkRequest("/any/s", agent);
    const headers = new Headers(request.headers);
    headers.set("signature-key", `sig=x509;x5u="https://a.example/c.pem";x5t=:AAAA:`);
    const response = await send(new Request(request.url, { headers }), env);
    expect(response.status).toBe(401);
    expect(response.headers.get("signature-error")).toBe("error=unsupported_scheme");
    expect(response.headers.get("accept-signature-scheme")).toBe("jwt, hwk, jkt-jwt, jwks_uri, jwks");
    await response.body?.cancel();
  });

  it("refuses a repeated AAuth request (replay store, keyed on the signature bytes)", async () => {
    const request = await hwkRequest("/any/replay", agent);
    expect((await send(request.clone(), env)).status).toBe(200);
    await expectProblem(await send(request, env), "signature_replayed");
  });

  it("judges a Web Bot Auth and an AAuth signature on one request each on its own", async () => {
    const wbaKey = await generateAgentKey();
    const wba = await signedWba(`${RESOURCE}/any/both`, {
      key: await loadAgentKey(wbaKey.privateJwk),
      agent: "https://unpinned.internal",
    });
    const message = await signedAAuth({
      key: agent,
      signatureKey: hwkOf(agent, "aauth"),
      label: "aauth",
      url: `${RESOURCE}/any/both`,
      headers: Object.fromEntries(wba.headers),
      components: REQUIRED,
    });
    // The Web Bot Auth label cannot be verified (its agent is not admitted); the AAuth label verifies.
    const echo = await echoOf(await send(requestOf(message), env));
    expect(parseVerifiedAgent(echo.headers["verified-agent"] ?? "")).toMatchObject({
      label: "aauth",
      profile: "aauth",
    });
  });

  it("publishes /.well-known/aauth-resource.json from the policy", async () => {
    const response = await send(new Request(`${RESOURCE}/.well-known/aauth-resource.json`), env);
    expect(response.status).toBe(200);
    // The default 60 s window is the protocol's own default, so the document leaves it out.
    expect(await response.json()).toEqual({
      issuer: RESOURCE,
      name: "Example Data Service",
      accept_signature_algs: ["Ed25519", "ES256", "ES384", "PS256", "PS512"],
    });
  });
});
