/**
 * The attestation end to end: what the origin receives from the Worker (rebuilt from the echo origin's view:
 * URL, method, headers) verifies with `verifySignetRequest` and the `signetOrigin` Hono middleware under the
 * public half of `SIGNET_ATTESTATION_KEY`, and stops verifying when the identity is tampered with, when it is too
 * old, when it is replayed, or under another Signet key.
 */
import { Hono } from "hono";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import {
  type ReplayCache,
  type SignetOriginEnv,
  type SignetVerifyOptions,
  signetOrigin,
  verifySignetRequest,
} from "../../../origin/index.ts";
import { importSigningKey, jwkThumbprint, signMessage } from "../../../worker/rfc9421/index.ts";
import {
  attestationKey,
  echoOf,
  gatewayEnv,
  identityOf,
  requestFromEcho,
  send,
  signed,
  verifiedAgentOf,
} from "./gateway.ts";

const AGENT = "https://attested-agent.example";

let agentKey: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;
let options: SignetVerifyOptions;
let signetKeyid: string;

beforeAll(async () => {
  agentKey = await generateAgentKey();
  const { secret, publicJwk } = await attestationKey();
  env = gatewayEnv(
    { rules: [{ path: "/agents/*", require: "verified-agent" }], pinned: { [AGENT]: [agentKey.publicJwk] } },
    { attestationKey: secret },
  );
  options = { keys: publicJwk };
  signetKeyid = await jwkThumbprint(publicJwk);
});

afterEach(() => {
  vi.useRealTimers();
});

/** The request the origin received for a verified agent, rebuilt from the echo. */
async function verifiedAtOrigin(path = "/agents/report?year=2026") {
  const request = await signed(`https://signet.example${path}`, { key: agentKey.privateJwk, agent: AGENT });
  const echo = await echoOf(await send(request, env));
  return { echo, forwarded: requestFromEcho(echo) };
}

/** The request the origin received for an anonymous client, rebuilt from the echo. */
async function anonymousAtOrigin(path = "/public/page?x=1") {
  const echo = await echoOf(await send(new Request(`https://signet.example${path}`, { method: "POST" }), env));
  return { echo, forwarded: requestFromEcho(echo) };
}

/** The echo with one header replaced. */
function tampered(echo: Awaited<ReturnType<typeof verifiedAtOrigin>>["echo"], name: string, value: string) {
  return requestFromEcho({ ...echo, headers: { ...echo.headers, [name]: value } });
}

/** An origin app behind `signetOrigin` that says whom Signet verified. */
function originApp(allowAnonymous = true) {
  return new Hono<SignetOriginEnv>()
    .use("*", signetOrigin({ ...options, allowAnonymous }))
    .all("*", (c) => c.json({ agent: c.get("signetAgent")?.agent ?? null }));
}

describe("verifySignetRequest at the origin", () => {
  it("accepts a verified agent's request and reads the same identity Signet attached", async () => {
    const { echo, forwarded } = await verifiedAtOrigin();
    const result = await verifySignetRequest(forwarded, options);
    expect(result).toMatchObject({ ok: true, keyid: signetKeyid, label: "signet", monitor: null });
    expect(result.ok && result.agent).toEqual(verifiedAgentOf(echo));
    expect(result.ok && result.agent).toMatchObject({ agent: identityOf(AGENT), keyid: agentKey.thumbprint });
    // The attestation sits beside the agent's own signature, which the origin may check as well.
    expect(echo.headers["signature-input"]).toMatch(/^sig1=.*, signet=\(.*"verified-agent"\)/);
  });

  it("accepts an anonymous request (attested too, so traffic around Signet can be refused)", async () => {
    const { forwarded } = await anonymousAtOrigin();
    expect(await verifySignetRequest(forwarded, options)).toMatchObject({ ok: true, agent: null, monitor: null });
  });

  it("refuses a tampered Verified-Agent (attestation_invalid)", async () => {
    const { echo } = await verifiedAtOrigin();
    const forged = echo.headers["verified-agent"]?.replace(identityOf(AGENT), identityOf("https://other.example"));
    expect(forged).not.toBe(echo.headers["verified-agent"]);
    const result = await verifySignetRequest(tampered(echo, "verified-agent", forged as string), options);
    expect(result).toMatchObject({ ok: false, reason: "attestation_invalid", signatureError: "invalid_signature" });
  });

  it("refuses a Verified-Agent added to an anonymous request (not covered: attestation_invalid)", async () => {
    const { echo: anonymous } = await anonymousAtOrigin();
    const { echo: verified } = await verifiedAtOrigin();
    const smuggled = tampered(anonymous, "verified-agent", verified.headers["verified-agent"] as string);
    expect(await verifySignetRequest(smuggled, options)).toMatchObject({ ok: false, reason: "attestation_invalid" });
  });

  it("refuses another path or method than Signet attested", async () => {
    const { echo } = await verifiedAtOrigin("/agents/report");
    const moved = requestFromEcho({ ...echo, url: echo.url.replace("/agents/report", "/agents/admin") });
    expect(await verifySignetRequest(moved, options)).toMatchObject({ ok: false, reason: "attestation_invalid" });
    const method = requestFromEcho({ ...echo, method: "DELETE" });
    expect(await verifySignetRequest(method, options)).toMatchObject({ ok: false, reason: "attestation_invalid" });
  });

  it("refuses an attestation that has expired (attestation_expired)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    const { forwarded } = await verifiedAtOrigin();
    expect(await verifySignetRequest(forwarded.clone(), options)).toMatchObject({ ok: true });
    vi.setSystemTime(Date.now() + 120_000); // validity 30 s, clock skew 5 s
    expect(await verifySignetRequest(forwarded, options)).toMatchObject({
      ok: false,
      reason: "attestation_expired",
      signatureError: "signature_expired",
    });
  });

  it("refuses a replayed attestation when the origin keeps a replay cache", async () => {
    const seen = new Set<string>();
    const replayCache: ReplayCache = { claim: (nonce) => !seen.has(nonce) && Boolean(seen.add(nonce)) };
    const guarded = { ...options, replayCache };
    const { echo } = await verifiedAtOrigin();
    expect(await verifySignetRequest(requestFromEcho(echo), guarded)).toMatchObject({ ok: true });
    expect(await verifySignetRequest(requestFromEcho(echo), guarded)).toMatchObject({
      ok: false,
      reason: "attestation_replayed",
    });
  });

  it("refuses a request attested with another Signet key, and one that Signet never saw", async () => {
    const other = await attestationKey();
    const { forwarded } = await verifiedAtOrigin();
    expect(await verifySignetRequest(forwarded, { keys: other.publicJwk })).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
    });
    const direct = await signed("https://signet.example/agents/report", { key: agentKey.privateJwk, agent: AGENT });
    expect(await verifySignetRequest(direct, options)).toMatchObject({ ok: false, reason: "attestation_missing" });
  });
});

describe("signetOrigin middleware at the origin", () => {
  it("passes a verified agent's request on with signetAgent set", async () => {
    const { forwarded } = await verifiedAtOrigin();
    const response = await originApp().fetch(forwarded);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ agent: identityOf(AGENT) });
  });

  it("passes an anonymous request unless allowAnonymous is false (agent_required)", async () => {
    const { echo } = await anonymousAtOrigin();
    expect(await (await originApp().fetch(requestFromEcho(echo))).json()).toEqual({ agent: null });
    const refused = await originApp(false).fetch(requestFromEcho(echo));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: "agent_required" });
  });

  it("refuses a tampered Verified-Agent with a 401 problem (attestation_invalid)", async () => {
    const { echo } = await verifiedAtOrigin();
    const forged = (echo.headers["verified-agent"] as string).replace(/keyid="[^"]+"/, 'keyid="forged"');
    const response = await originApp().fetch(tampered(echo, "verified-agent", forged));
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await response.json()).toMatchObject({
      type: "urn:signet:problem:attestation_invalid",
      reason: "attestation_invalid",
    });
  });

  it("refuses an expired attestation with a 401 problem (attestation_expired)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    const { forwarded } = await verifiedAtOrigin();
    vi.setSystemTime(Date.now() + 120_000);
    const response = await originApp().fetch(forwarded);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ reason: "attestation_expired" });
  });
});

describe("the attestation beside the client's own signatures", () => {
  it("takes the label signet2 when the client used signet, and the origin finds it", async () => {
    const request = await signed("https://signet.example/agents/x", {
      key: agentKey.privateJwk,
      agent: AGENT,
      label: "signet",
    });
    const echo = await echoOf(await send(request, env));
    expect(echo.headers["signature-input"]).toMatch(/^signet=\(.*tag="web-bot-auth", signet2=\(/);
    const result = await verifySignetRequest(requestFromEcho(echo), options);
    expect(result).toMatchObject({ ok: true, label: "signet2", agent: { label: "signet" } });
  });

  it("a client's own signet-attestation label neither passes at the origin nor hides Signet's", async () => {
    const request = await signed("https://signet.example/agents/x", { key: agentKey.privateJwk, agent: AGENT });
    const now = Math.floor(Date.now() / 1000);
    const fake = await signMessage(
      { kind: "request", method: "GET", targetUri: request.url, headers: request.headers },
      {
        key: await importSigningKey(agentKey.privateJwk),
        label: "fake",
        components: ["@method", "@authority", "@path", "@query"],
        params: {
          created: now,
          expires: now + 30,
          nonce: "client-made",
          keyid: signetKeyid,
          tag: "signet-attestation",
        },
      },
    );
    request.headers.set("signature-input", `${request.headers.get("signature-input")}, ${fake.signatureInput}`);
    request.headers.set("signature", `${request.headers.get("signature")}, ${fake.signature}`);
    const echo = await echoOf(await send(request, env));
    expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({ ok: true, label: "signet" });

    // Without Signet's own attestation, the client's label alone is refused.
    const direct = await signed("https://signet.example/agents/x", { key: agentKey.privateJwk, agent: AGENT });
    direct.headers.set("signature-input", `${direct.headers.get("signature-input")}, ${fake.signatureInput}`);
    direct.headers.set("signature", `${direct.headers.get("signature")}, ${fake.signature}`);
    expect(await verifySignetRequest(direct, options)).toMatchObject({ ok: false, reason: "attestation_invalid" });
  });

  // The attester no longer parses the client's fields: it takes the labels the verifier's one strict parse found.
  // Whatever that parse refuses as a whole must still never reach the origin beside Signet's attestation (a
  // label the attester did not see could collide with its own, or hide it), on a route that requires nothing.
  it.each([
    ["unparseable Signature-Input", { "signature-input": "sig1=(", signature: "sig1=:AAAA:" }],
    ["a duplicate label", { "signature-input": 'signet=("@method"), signet=("@path")', signature: "signet=:AAAA:" }],
    ["label sets that differ", { "signature-input": 'sig1=("@method")', signature: "signet=:AAAA:" }],
    ["Signature without Signature-Input", { signature: "signet=:AAAA:" }],
  ] as Array<[string, Record<string, string>]>)(
    "a request with %s on a none route is forwarded anonymous without them, attested as the only signature",
    async (_name, headers) => {
      const echo = await echoOf(await send(new Request("https://signet.example/public/page", { headers }), env));
      expect(echo.headers["signature-input"]).toMatch(/^signet=\(/);
      expect(echo.headers["signature-input"]).not.toMatch(/,/);
      expect(echo.headers.signature).toMatch(/^signet=:[^,]*$/);
      expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({ ok: true, agent: null });
    },
  );

  it("a member unusable on its own (an RFC 9651 Display String) keeps its label: Signet's attestation takes signet2", async () => {
    const headers = { "signature-input": 'signet=("@method");nonce=%"x"', signature: "signet=:AAAA:" };
    const echo = await echoOf(await send(new Request("https://signet.example/public/page", { headers }), env));
    expect(echo.headers["signature-input"]).toMatch(/^signet=\("@method"\);nonce=%"x", signet2=\(/);
    expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({
      ok: true,
      label: "signet2",
      agent: null,
    });
  });

  it("a readable client signature that uses signet2 too pushes Signet's label on to signet3", async () => {
    const request = await signed("https://signet.example/public/page", { key: agentKey.privateJwk, agent: AGENT });
    const input = request.headers.get("signature-input") as string;
    const signature = request.headers.get("signature") as string;
    request.headers.set("signature-input", `${input}, signet=("@method"), signet2=("@path")`);
    request.headers.set("signature", `${signature}, signet=:AAAA:, signet2=:AAAA:`);
    const echo = await echoOf(await send(request, env));
    expect(echo.headers["signature-input"]).toMatch(/signet2=\("@path"\), signet3=\(/);
    expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({ ok: true, label: "signet3" });
  });

  it("covers a percent-encoded path and query exactly as the origin receives them", async () => {
    // (An escaped slash would be refused: see test/worker/gateway/routing.test.ts.)
    const path = "/agents/caf%C3%A9/a%3Ab?q=a%20b&x=%E2%9C%93&flag";
    const { echo, forwarded } = await verifiedAtOrigin(path);
    expect(echo.url).toBe(`https://signet.example${path}`);
    expect(await verifySignetRequest(forwarded, options)).toMatchObject({
      ok: true,
      agent: { agent: identityOf(AGENT) },
    });
  });
});
