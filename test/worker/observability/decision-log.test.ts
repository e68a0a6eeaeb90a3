/**
 * The decision log through the whole Worker: exactly one JSON line per request with every field the issue
 * lists, the right outcome, reason, status, agent, replay state and bearer binding for each kind of request
 * (unsigned, verified, invalid, unverified, replayed, monitor mode, AAuth with a person behind the agent), and
 * sampling of accepted requests that never drops a refusal.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { DECISION_OUTCOMES } from "../../../worker/observability/decision-log.ts";
import { mint, NOW, newKey, publishIssuer, RESOURCE, signed as signedAAuth } from "../aauth/helpers.ts";
import { identityOf, keySetUrl, send, signed } from "../gateway/gateway.ts";
import { captureLogs, decisionsIn, observedEnv, sendLogged } from "./helpers.ts";

const AGENT = "https://logged-agent.example";
const BANNED = "https://logged-banned.example";

/** Every field of a decision line, in order (the list, plus `event` and `action`). */
const FIELDS = [
  "event",
  "time",
  "id",
  "method",
  "path",
  "rule",
  "outcome",
  "action",
  "reason",
  "status",
  "profile",
  "label",
  "agent",
  "keyid",
  "level",
  "person_issuer",
  "person_subject",
  "agent_id",
  "parent_agent",
  "scope",
  "replay",
  "bearer",
  "mode",
  "duration_ms",
];

let agentKey: GeneratedKey;
let bannedKey: GeneratedKey;
let policy: Record<string, unknown>;
let env: ReturnType<typeof observedEnv>;

beforeAll(async () => {
  [agentKey, bannedKey] = await Promise.all([generateAgentKey(), generateAgentKey()]);
  policy = {
    aauth: { resource: RESOURCE },
    rules: [
      { path: "/docs/*", require: "signature", aauth: "person-token" },
      { path: "/agents/*", require: "verified-agent" },
    ],
    deny: [BANNED],
    pinned: { [AGENT]: [agentKey.publicJwk], [BANNED]: [bannedKey.publicJwk] },
    discovery: { unsafeAllowLoopback: true, timeoutMs: 500 },
  };
  env = observedEnv(policy);
});

describe("one line per request, every field", () => {
  it("an unsigned request on an open route: outcome unsigned, forwarded, all fields present", async () => {
    const { entry } = await sendLogged(new Request("https://signet.example/open?token=secret-in-query"), env);
    expect(Object.keys(entry)).toEqual(FIELDS);
    expect(entry).toMatchObject({
      event: "signet.decision",
      method: "GET",
      path: "/open",
      rule: "* *",
      outcome: "unsigned",
      action: "forward",
      reason: null,
      status: 200,
      agent: null,
      replay: null,
      bearer: null,
      mode: "enforce",
    });
    expect(Date.parse(entry.time)).not.toBeNaN();
    expect(entry.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(entry.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it("uses a well-formed cf-ray as the id, and a generated id for a malformed one", async () => {
    const ray = await sendLogged(
      new Request("https://signet.example/open", { headers: { "cf-ray": "8f1e2d3c4b5a6978-AMS" } }),
      env,
    );
    expect(ray.entry.id).toBe("8f1e2d3c4b5a6978-AMS");
    const forged = await sendLogged(
      new Request("https://signet.example/open", { headers: { "cf-ray": "<script>" } }),
      env,
    );
    expect(forged.entry.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a verified agent: outcome verified, its identity, keyid, label, replay checked, bearer bound", async () => {
    const request = await signed("https://signet.example/agents/a", {
      key: agentKey.privateJwk,
      agent: AGENT,
      headers: { authorization: "Bearer tok-123" },
    });
    const { entry } = await sendLogged(request, env);
    expect(entry).toMatchObject({
      outcome: "verified",
      action: "forward",
      reason: null,
      status: 200,
      rule: "* /agents/*",
      profile: "web-bot-auth",
      label: "sig1",
      agent: identityOf(AGENT),
      keyid: agentKey.thumbprint,
      replay: "checked",
      bearer: "bound",
    });
  });

  it("a bearer credential the signature does not cover is logged unbound", async () => {
    const request = await signed("https://signet.example/agents/b", {
      key: agentKey.privateJwk,
      agent: AGENT,
      headers: { authorization: "Bearer tok-456" },
      coverAuthorization: false,
    });
    const { entry } = await sendLogged(request, env);
    expect(entry).toMatchObject({ outcome: "verified", bearer: "unbound" });
  });

  it("a replay: refused, outcome invalid, replay replayed, the agent named", async () => {
    const request = await signed("https://signet.example/agents/c", { key: agentKey.privateJwk, agent: AGENT });
    const first = await sendLogged(request.clone(), env);
    expect(first.entry.replay).toBe("checked");
    const { entry } = await sendLogged(request, env);
    expect(entry).toMatchObject({
      outcome: "invalid",
      action: "reject",
      reason: "signature_replayed",
      status: 401,
      replay: "replayed",
      agent: identityOf(AGENT),
    });
  });

  it("an invalid signature: outcome invalid, signature_invalid", async () => {
    const request = await signed("https://signet.example/agents/d", { key: agentKey.privateJwk, agent: AGENT });
    const headers = new Headers(request.headers);
    headers.set("signature", "sig1=:AAAA:");
    const { entry } = await sendLogged(new Request(request.url, { headers }), env);
    expect(entry).toMatchObject({ outcome: "invalid", action: "reject", reason: "signature_invalid", status: 401 });
  });

  it("keys that cannot be had: outcome unverified, agent_unverified", async () => {
    const { url } = keySetUrl("status", { status: "500" });
    const other = await generateAgentKey();
    const request = await signed("https://signet.example/agents/e", {
      key: other.privateJwk,
      agent: url,
      type: "jwks_uri",
    });
    const { entry } = await sendLogged(request, env);
    expect(entry).toMatchObject({ outcome: "unverified", action: "reject", reason: "agent_unverified", status: 401 });
  });

  it("a denied agent: outcome verified (the signature is good), reason agent_denied, 403", async () => {
    const request = await signed("https://signet.example/open", { key: bannedKey.privateJwk, agent: BANNED });
    const { entry } = await sendLogged(request, env);
    expect(entry).toMatchObject({ outcome: "verified", action: "reject", reason: "agent_denied", status: 403 });
  });

  it("an unsigned request on a protected route: unsigned, signature_required", async () => {
    const { entry } = await sendLogged(new Request("https://signet.example/agents/f"), env);
    expect(entry).toMatchObject({ outcome: "unsigned", action: "reject", reason: "signature_required", status: 401 });
  });

  it("malformed signature fields: invalid, malformed_signature_fields, 400", async () => {
    const request = new Request("https://signet.example/agents/g", {
      headers: { "signature-input": "sig1=(((", signature: "sig1=:AAAA:" },
    });
    const { entry } = await sendLogged(request, env);
    expect(entry).toMatchObject({ outcome: "invalid", reason: "malformed_signature_fields", status: 400 });
  });

  it("monitor mode: forwarded, mode monitor, reason what enforce mode would have refused", async () => {
    const monitorEnv = observedEnv({ ...policy, mode: "monitor" });
    const { entry, response } = await sendLogged(new Request("https://signet.example/agents/h"), monitorEnv);
    expect(response.status).toBe(200);
    expect(entry).toMatchObject({ mode: "monitor", action: "forward", reason: "signature_required", status: 200 });
  });

  it("AAuth with an auth token: level, person issuer and subject, scope", async () => {
    const agent = await newKey();
    const ps = await publishIssuer("aauth-person.json");
    const claims = {
      iss: ps.iss,
      dwk: "aauth-person.json",
      aud: RESOURCE,
      sub: "person-77",
      jti: crypto.randomUUID(),
      cnf: { jwk: agent.publicJwk },
      iat: NOW - 5,
      exp: NOW + 600,
      scope: "data.read",
    };
    const token = await mint(ps.key, { typ: "aa-auth+jwt", kid: "k1" }, claims);
    const message = await signedAAuth({
      key: agent,
      signatureKey: `sig=jwt;jwt="${token}"`,
      url: "https://signet.example/docs/1",
    });
    const { entry } = await sendLogged(new Request(message.targetUri, { headers: message.headers as Headers }), env);
    expect(entry).toMatchObject({ profile: "aauth", outcome: "verified", status: 200 });
    expect(entry.level).toBe("authorized");
    expect(entry.person_issuer).toBe(ps.iss);
    expect(entry.person_subject).toBe("person-77");
    expect(entry.scope).toBe("data.read");
    expect(entry.agent).not.toBeNull();
  });

  it("outcomes are always one of the four", () => {
    expect(DECISION_OUTCOMES).toEqual(["verified", "invalid", "unverified", "unsigned"]);
  });
});

describe("sampling", () => {
  it("log.sampleAccepted 0 drops every accepted line and keeps every refusal", async () => {
    const quiet = observedEnv({ ...policy, log: { sampleAccepted: 0 } });
    const { lines } = await captureLogs(async () => {
      for (let i = 0; i < 5; i++) await send(new Request("https://signet.example/open"), quiet);
      for (let i = 0; i < 3; i++) await send(new Request("https://signet.example/agents/x"), quiet);
    });
    const entries = decisionsIn(lines);
    expect(entries).toHaveLength(3);
    expect(entries.every((e) => e.reason === "signature_required")).toBe(true);
  });

  it("an invalid sampling rate is a policy error (every request refused as misconfigured, and logged)", async () => {
    const broken = observedEnv({ ...policy, log: { sampleAccepted: 2 } });
    const { entry, response } = await sendLogged(new Request("https://signet.example/open"), broken);
    expect(response.status).toBe(503);
    expect(entry).toMatchObject({ reason: "misconfigured", status: 503, action: "reject", rule: null });
  });
});
