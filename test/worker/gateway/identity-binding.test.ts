/**
 * Issue 11, classes 6, 7 and 8 through the whole Worker (workerd, the real replay Durable Object, the AAuth
 * issuer server) and straight at the Fetch and Hono origin helpers:
 *
 * - an identity is never dropped: any text round-trips Worker → `Verified-Agent` → origin helper, and an identity
 *   that cannot be attached refuses the request (`identity_unattachable`) instead of forwarding it anonymous;
 * - the attestation binds the body, `Content-Type` and `Authorization`: swapping any of them fails at the origin;
 *   a body beyond the digest limit is marked unbound, and the helpers say so;
 * - the helpers verify the request the application acts on: hostile `Host` values, URL/Host mismatches and
 *   replays are refused; `allowAnonymous: false` refuses self-made pseudonyms unless asked for.
 */
import fc from "fast-check";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import {
  type SignetOriginEnv,
  type SignetOriginOptions,
  type SignetVerifyOptions,
  signetOrigin,
  verifySignetRequest,
} from "../../../origin/index.ts";
import type { EchoedRequest } from "../../../worker/demo-origin.ts";
import { DEFAULT_MAX_DIGEST_BYTES } from "../../../worker/identity/attestation.ts";
import { parseVerifiedAgent } from "../../../worker/identity/verified-agent.ts";
import type { HttpRequestMessage } from "../../../worker/rfc9421/index.ts";
import {
  hwkOf,
  mint,
  NOW,
  newKey,
  publishIssuer,
  RESOURCE,
  signed as signedAAuth,
  type TestKey,
} from "../aauth/helpers.ts";
import { attestationKey, echoOf, expectProblem, gatewayEnv, requestFromEcho, send, signed } from "./gateway.ts";

const AGENT = "https://binding-agent.example";

let agentKey: GeneratedKey;
let aauthAgent: TestKey;
let ps: Awaited<ReturnType<typeof publishIssuer>>;
let env: ReturnType<typeof gatewayEnv>;
let publicJwk: Awaited<ReturnType<typeof attestationKey>>["publicJwk"];

beforeAll(async () => {
  [agentKey, aauthAgent] = await Promise.all([generateAgentKey(), newKey()]);
  ps = await publishIssuer("aauth-person.json");
  const key = await attestationKey();
  publicJwk = key.publicJwk;
  env = gatewayEnv(
    {
      aauth: { resource: RESOURCE },
      rules: [
        { path: "/agents/*", require: "verified-agent" },
        { path: "/docs/*", require: "signature", aauth: "auth-token", scope: ["data.read"] },
        { path: "/any/*", require: "signature" },
      ],
      pinned: { [AGENT]: [agentKey.publicJwk] },
      discovery: { unsafeAllowLoopback: true },
    },
    { attestationKey: key.secret },
  );
});

/** Fresh origin options (and so a fresh default replay cache). */
const originOptions = (): SignetVerifyOptions => ({ keys: publicJwk });

/** A request on /docs/* carrying an auth token whose person `sub` is `subject`. */
async function personRequest(subject: string, path = "/docs/report"): Promise<Request> {
  const token = await mint(
    ps.key,
    { typ: "aa-auth+jwt", kid: "k1" },
    {
      iss: ps.iss,
      dwk: "aauth-person.json",
      aud: RESOURCE,
      sub: subject,
      jti: crypto.randomUUID(),
      cnf: { jwk: aauthAgent.publicJwk },
      iat: NOW - 5,
      exp: NOW + 600,
      scope: "data.read",
    },
  );
  const message: HttpRequestMessage = await signedAAuth({
    key: aauthAgent,
    signatureKey: `sig=jwt;jwt="${token}"`,
    url: `${RESOURCE}${path}?n=${crypto.randomUUID()}`,
  });
  return new Request(message.targetUri, { method: message.method, headers: message.headers as Headers });
}

/** A Web Bot Auth agent's POST through the Worker, as the origin received it. */
async function attestedPost(body: string, headers: Record<string, string>): Promise<EchoedRequest> {
  const request = await signed("https://signet.example/agents/orders", {
    key: agentKey.privateJwk,
    agent: AGENT,
    method: "POST",
    body,
    headers,
  });
  return echoOf(await send(request, env));
}

/** An origin app behind `signetOrigin` that says what it verified. */
function originApp(extra: Partial<SignetOriginOptions> = {}) {
  return new Hono<SignetOriginEnv>()
    .use("*", signetOrigin({ keys: publicJwk, ...extra }))
    .all("*", (c) =>
      c.json({ agent: c.get("signetAgent"), bodyBound: c.get("signetBodyBound"), path: new URL(c.req.url).pathname }),
    );
}

describe("class 6: an identity is never dropped", () => {
  it("a non-ASCII person sub reaches the origin as a Display String and decodes to the same text", async () => {
    const subject = 'Zoë "Q" 山田 \u0007\t%"';
    const echo = await echoOf(await send(await personRequest(subject), env));
    expect(echo.headers["verified-agent"]).toContain('person_subject=%"Zo%c3%ab %22Q%22');
    const result = await verifySignetRequest(requestFromEcho(echo), originOptions());
    expect(result).toMatchObject({ ok: true, agent: { profile: "aauth", extra: { person_subject: subject } } });
    const response = await originApp().fetch(requestFromEcho(echo));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ agent: { extra: { person_subject: subject, level: "authorized" } } });
  });

  it("any well-formed text as the person sub round-trips Worker → Verified-Agent → verifySignetRequest", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", minLength: 1, maxLength: 24 }), async (subject) => {
        const echo = await echoOf(await send(await personRequest(subject), env));
        const result = await verifySignetRequest(requestFromEcho(echo), originOptions());
        expect(result.ok && result.agent?.extra?.person_subject).toBe(subject);
        expect(parseVerifiedAgent(echo.headers["verified-agent"] ?? "")?.extra?.person_subject).toBe(subject);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it("an identity with no faithful header form (a lone surrogate) is refused, never forwarded anonymous", async () => {
    const response = await send(await personRequest("person-\ud800-x"), env);
    const problem = await expectProblem(response, "identity_unattachable");
    expect(JSON.stringify(problem)).not.toContain("person-");
  });
});

describe("class 7: the attestation binds the body, Content-Type and Authorization", () => {
  const BODY = '{"order":"one book"}';
  const HEADERS = { "content-type": "application/json", authorization: "Bearer token-of-the-agent" };

  it("a forwarded POST verifies at the Fetch and Hono helpers with its body bound", async () => {
    const echo = await attestedPost(BODY, HEADERS);
    expect(echo.headers["signature-input"]).toMatch(
      /signet=\("@method" "@authority" "@path" "@query" "content-type" "authorization" "content-digest" "verified-agent"\)/,
    );
    const result = await verifySignetRequest(requestFromEcho(echo), originOptions());
    expect(result).toMatchObject({ ok: true, method: "POST", url: "https://signet.example/agents/orders" });
    expect(new TextDecoder().decode(result.ok ? (result.body ?? undefined) : undefined)).toBe(BODY);
    const response = await originApp().fetch(requestFromEcho(echo));
    expect(await response.json()).toMatchObject({ bodyBound: true, agent: { keyid: agentKey.thumbprint } });
  });

  const swaps: Array<[string, (echo: EchoedRequest) => EchoedRequest, string]> = [
    ["the body", (e) => ({ ...e, body: '{"order":"every book"}' }), "content_digest_mismatch"],
    ["the body, emptied", (e) => ({ ...e, body: "" }), "content_digest_mismatch"],
    [
      "the Content-Type",
      (e) => ({ ...e, headers: { ...e.headers, "content-type": "text/plain" } }),
      "invalid_signature",
    ],
    [
      "the Authorization",
      (e) => ({ ...e, headers: { ...e.headers, authorization: "Bearer someone-else" } }),
      "invalid_signature",
    ],
    [
      "the Content-Digest and body together",
      (e) => ({
        ...e,
        body: "x",
        headers: { ...e.headers, "content-digest": "sha-256=:LXFWhIWZ7Lx0T/CMKVJuE8Qr+P0RDNfmjyoSJ2XFt/I=:" },
      }),
      "invalid_signature",
    ],
  ];

  it.each(swaps)("swapping %s fails at verifySignetRequest and signetOrigin", async (_what, swap, code) => {
    const echo = await attestedPost(BODY, HEADERS);
    const swapped = swap(echo);
    expect(await verifySignetRequest(requestFromEcho(swapped), originOptions())).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
      signatureError: code,
    });
    const response = await originApp().fetch(requestFromEcho(swapped));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ reason: "attestation_invalid" });
  });

  it("a non-ASCII Authorization is covered as a byte sequence: forwarded, verified, and not swappable", async () => {
    const request = new Request("https://signet.example/public/notes", {
      method: "POST",
      body: "hi",
      headers: { authorization: "Basic naïve✓", "content-type": "text/plain; charset=ü" },
    });
    const response = await send(request, env);
    expect(response.status).toBe(200);
    const echo = (await response.json()) as EchoedRequest;
    expect(echo.headers["signature-input"]).toContain('"content-type";bs "authorization";bs "content-digest"');
    expect(await verifySignetRequest(requestFromEcho(echo), originOptions())).toMatchObject({ ok: true });
    const swapped = requestFromEcho({ ...echo, headers: { ...echo.headers, authorization: "Basic naïve✗" } });
    expect(await verifySignetRequest(swapped, originOptions())).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
      signatureError: "invalid_signature",
    });
  });

  it("adding an Authorization or a Content-Type the attestation did not cover fails", async () => {
    const echo = await attestedPost(BODY, {});
    expect(echo.headers["content-type"]).toBe("text/plain;charset=UTF-8");
    const { "content-type": _ct, ...bare } = echo.headers;
    for (const headers of [
      { ...echo.headers, authorization: "Bearer injected" },
      { ...bare, "content-type": "application/json" },
    ]) {
      expect(await verifySignetRequest(requestFromEcho({ ...echo, headers }), originOptions())).toMatchObject({
        ok: false,
        reason: "attestation_invalid",
      });
    }
  });

  it("an empty body is bound too: a body added after Signet fails", async () => {
    const echo = await echoOf(await send(new Request("https://signet.example/public/form", { method: "POST" }), env));
    expect(echo.body).toBe("");
    expect(await verifySignetRequest(requestFromEcho(echo), originOptions())).toMatchObject({ ok: true });
    const smuggled = requestFromEcho({ ...echo, body: "smuggled=1" });
    expect(await verifySignetRequest(smuggled, originOptions())).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
    });
    const sameHeaders = new Request(echo.url, { method: "POST", headers: echo.headers, body: new Uint8Array([1]) });
    expect(await verifySignetRequest(sameHeaders, originOptions())).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
      signatureError: "content_digest_mismatch",
    });
  });

  it("a body beyond the digest limit is forwarded whole, marked Signet-Body: unbound, and the helpers say so", async () => {
    const big = "b".repeat(DEFAULT_MAX_DIGEST_BYTES + 1);
    const echo = await attestedPost(big, { "content-type": "text/plain" });
    expect(echo.body.length).toBe(big.length);
    expect(echo.headers["signet-body"]).toBe("unbound");
    const result = await verifySignetRequest(requestFromEcho(echo), originOptions());
    expect(result).toMatchObject({ ok: true, body: null });
    expect(await (await originApp().fetch(requestFromEcho(echo))).json()).toMatchObject({ bodyBound: false });
    // Removing the marker makes the origin look for a content-digest the attestation does not cover.
    const { "signet-body": _marker, ...unmarked } = echo.headers;
    expect(await verifySignetRequest(requestFromEcho({ ...echo, headers: unmarked }), originOptions())).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
      signatureError: "missing_required_component",
    });
  }, 60_000);

  it("a client-sent Signet-Body is stripped: a small body is still bound", async () => {
    const echo = await attestedPost(BODY, { "signet-body": "unbound" });
    expect(echo.headers["signet-body"]).toBeUndefined();
    expect(await verifySignetRequest(requestFromEcho(echo), originOptions())).toMatchObject({ ok: true });
  });

  it("a bound body larger than the origin's maxBodyBytes is refused with body_too_large", async () => {
    const echo = await attestedPost(BODY, HEADERS);
    expect(
      await verifySignetRequest(requestFromEcho(echo), { keys: publicJwk, maxBodyBytes: BODY.length - 1 }),
    ).toMatchObject({ ok: false, reason: "body_too_large" });
  });
});

describe("class 8: the Fetch and Hono helpers verify the request the application acts on", () => {
  /** An attested anonymous GET /public/page?x=1, as the origin received it. */
  async function publicPage(): Promise<EchoedRequest> {
    return echoOf(await send(new Request("https://signet.example/public/page?x=1"), env));
  }

  it("replays are refused by default (in-memory replay cache per options object)", async () => {
    const echo = await publicPage();
    const options = originOptions();
    expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({ ok: true });
    expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({
      ok: false,
      reason: "attestation_replayed",
    });
    const app = originApp();
    expect((await app.fetch(requestFromEcho(echo))).status).toBe(200);
    expect(await (await app.fetch(requestFromEcho(echo))).json()).toMatchObject({ reason: "attestation_replayed" });
  });

  it.each([
    ["a path", "signet.example/public/page?x=1#"],
    ["a query", "signet.example?x=1"],
    ["a fragment", "signet.example#frag"],
    ["userinfo", "user@signet.example"],
    ["whitespace", "signet.example extra"],
    ["another host", "elsewhere.example"],
    ["another port", "signet.example:8443"],
  ])("a Host header with %s is refused (target_invalid)", async (_what, host) => {
    const echo = await publicPage();
    const hostile = requestFromEcho({ ...echo, headers: { ...echo.headers, host } });
    expect(hostile.headers.get("host")).toBe(host);
    expect(await verifySignetRequest(hostile, originOptions())).toMatchObject({ ok: false, reason: "target_invalid" });
    expect(await (await originApp().fetch(hostile)).json()).toMatchObject({ reason: "target_invalid" });
  });

  it("the issue's attack: the headers of an attested GET /public/page?x=1 do not open /admin/delete-all", async () => {
    const echo = await publicPage();
    // A runtime that pastes Host in front of the target gets this URL; the fragment would hide the real path.
    const pasted = new Request("https://signet.example/public/page?x=1#/admin/delete-all", { headers: echo.headers });
    expect(await verifySignetRequest(pasted, originOptions())).toMatchObject({ ok: false, reason: "target_invalid" });
    const moved = requestFromEcho({ ...echo, url: "https://signet.example/admin/delete-all" });
    expect(await verifySignetRequest(moved, originOptions())).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
    });
  });

  it("an agent at the right host, with the Host header agreeing, still passes", async () => {
    const echo = await publicPage();
    const agreeing = requestFromEcho({ ...echo, headers: { ...echo.headers, host: "SIGNET.example:443" } });
    expect(await verifySignetRequest(agreeing, originOptions())).toMatchObject({ ok: true, agent: null });
  });
});

describe("allowAnonymous: false means a verified agent at the level asked for", () => {
  it("refuses an hwk pseudonym by default, passes it with agentLevel pseudonymous, and passes a real agent", async () => {
    const message = await signedAAuth({
      key: aauthAgent,
      signatureKey: hwkOf(aauthAgent),
      url: `${RESOURCE}/any/pseudonym`,
    });
    const echo = await echoOf(await send(new Request(message.targetUri, { headers: message.headers as Headers }), env));
    const strict = await originApp({ allowAnonymous: false }).fetch(requestFromEcho(echo));
    expect(strict.status).toBe(401);
    expect(await strict.json()).toMatchObject({ reason: "agent_required" });
    const lenient = await originApp({ allowAnonymous: false, agentLevel: "pseudonymous" }).fetch(requestFromEcho(echo));
    expect(await lenient.json()).toMatchObject({ agent: { extra: { level: "pseudonymous", scheme: "hwk" } } });

    const person = await echoOf(await send(await personRequest("person-7"), env));
    const personOnly = originApp({ allowAnonymous: false, agentLevel: "person" });
    expect((await personOnly.fetch(requestFromEcho(person))).status).toBe(200);
    const wba = await echoOf(
      await send(await signed("https://signet.example/agents/x", { key: agentKey.privateJwk, agent: AGENT }), env),
    );
    expect((await originApp({ allowAnonymous: false }).fetch(requestFromEcho(wba))).status).toBe(200);
    expect(await (await personOnly.fetch(requestFromEcho(wba))).json()).toMatchObject({ reason: "agent_required" });
  });

  it("refuses an unknown agentLevel at construction", () => {
    expect(() => signetOrigin({ keys: publicJwk, agentLevel: "root" as never })).toThrow(TypeError);
  });
});
