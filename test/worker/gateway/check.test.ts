/**
 * The check endpoint through the whole Worker (workerd, the real replay Durable Object): an agent's signed
 * request, sent to /.signet/check with the target it signed for in Signet-Check-Target, gets Signet's verdict as
 * JSON; it never reaches the origin and never spends the signature; it is off by default, rate-limited per
 * client, and never echoes what the client sent.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { sendLogged } from "../observability/helpers.ts";
import { echoOf, expectProblem, gatewayEnv, send, signed } from "./gateway.ts";

const AGENT = "https://check-agent.example";
const HOST = "https://signet.example";
let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  key = await generateAgentKey();
  env = gatewayEnv({
    rules: [{ path: "/agents/*", require: "verified-agent" }],
    pinned: { [AGENT]: [key.publicJwk] },
    check: { enabled: true, ratePerMinute: 1000 },
  });
});

let ip = 0;
/** The signed request re-sent to the check endpoint, from its own client IP unless told otherwise. */
function asCheck(request: Request, target: string | null, client = `198.51.100.${++ip % 250}`): Request {
  const headers = new Headers(request.headers);
  if (target !== null) headers.set("signet-check-target", target);
  headers.set("cf-connecting-ip", client);
  return new Request(`${HOST}/.signet/check`, { method: request.method, headers, body: request.body });
}

async function verdictOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json");
  return (await response.json()) as Record<string, unknown>;
}

describe("the check endpoint", () => {
  it("is off by default: 404 check_disabled, and the request is not forwarded", async () => {
    const off = gatewayEnv({
      rules: [{ path: "/agents/*", require: "verified-agent" }],
      pinned: { [AGENT]: [key.publicJwk] },
    });
    const request = await signed(`${HOST}/agents/a`, { key: key.privateJwk, agent: AGENT });
    await expectProblem(await send(asCheck(request, "/agents/a"), off), "check_disabled");
  });

  it("a refused check is logged as a refusal with its reason, not as a forward", async () => {
    const { response, entry } = await sendLogged(asCheck(new Request(`${HOST}/agents/a`), null), env);
    expect(response.status).toBe(400);
    expect(entry).toMatchObject({ action: "reject", reason: "check_target_invalid", status: 400 });
  });

  it("judges a good request as the edge would, without forwarding it or spending its signature", async () => {
    const request = await signed(`${HOST}/agents/a?x=1`, { key: key.privateJwk, agent: AGENT });
    const verdict = await verdictOf(await send(asCheck(request.clone(), "/agents/a?x=1"), env));
    expect(verdict).toMatchObject({
      check: true,
      forwarded: false,
      target: "/agents/a?x=1",
      rule: "/agents/*",
      action: "forward",
      status: 200,
      agent: `${AGENT}/.well-known/http-message-signatures-directory`,
      keyid: key.thumbprint,
    });
    expect(String(verdict.replay)).toMatch(/^not checked/);
    expect(verdict).not.toHaveProperty("headers"); // not the echo origin's answer
    // Not spent: the very same signed request goes through for real once, and only once.
    const echo = await echoOf(await send(request.clone(), env));
    expect(echo.headers["verified-agent"]).toContain(AGENT);
    await expectProblem(await send(request, env), "signature_replayed");
  });

  it("judges the request as sent to the target: a target other than the signed one does not verify", async () => {
    const request = await signed(`${HOST}/agents/a`, { key: key.privateJwk, agent: AGENT });
    const verdict = await verdictOf(await send(asCheck(request, "/agents/b"), env));
    expect(verdict).toMatchObject({ action: "refuse", status: 401, reason: "signature_invalid", target: "/agents/b" });
    expect(typeof verdict.fix).toBe("string");
    expect(verdict.labels).toEqual([expect.objectContaining({ label: "sig1", outcome: "invalid", agent: null })]);
  });

  it("answers an unsigned request with the refusal and what to fix", async () => {
    const verdict = await verdictOf(await send(asCheck(new Request(`${HOST}/agents/a`), "/agents/a"), env));
    expect(verdict).toMatchObject({
      action: "refuse",
      status: 401,
      reason: "signature_required",
      fix: "sign the request (signet sign)",
    });
  });

  it("an unknown keyid is reported as an unknown key (agent_unverified, key_not_found), not a bad signature", async () => {
    const stranger = await generateAgentKey();
    const request = await signed(`${HOST}/agents/a`, { key: stranger.privateJwk, agent: AGENT });
    const verdict = await verdictOf(await send(asCheck(request, "/agents/a"), env));
    expect(verdict).toMatchObject({ action: "refuse", reason: "agent_unverified" });
    expect(verdict.labels).toEqual([expect.objectContaining({ reason: "key_not_found" })]);
  });

  it.each([
    ["no target", null],
    ["an absolute URL", "https://elsewhere.example/agents/a"],
    ["a scheme-relative URL", "//elsewhere.example/agents/a"],
    ["a relative path", "agents/a"],
    ["a fragment", "/agents/a#x"],
    ["a space", "/agents/a b"],
    ["the check path itself", "/.signet/check"],
  ])("refuses %s as Signet-Check-Target: 400 check_target_invalid", async (_name, target) => {
    const request = await signed(`${HOST}/agents/a`, { key: key.privateJwk, agent: AGENT });
    await expectProblem(await send(asCheck(request, target), env), "check_target_invalid");
  });

  it("never echoes what the client sent, whatever the target header and signature fields hold", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 6, maxLength: 40 }), fc.boolean(), async (text, asTarget) => {
        const marker = `ZQ${text.replace(/[^A-Za-z0-9]/g, "")}QZ`;
        const headers = new Headers({ "cf-connecting-ip": "192.0.2.77" });
        headers.set("signet-check-target", asTarget ? `/agents/${marker}` : `https://x.example/${marker}`);
        headers.set("signature-input", `sig1=("@method");keyid="${marker}";created=1`);
        headers.set("signature", `sig1=:${btoa(marker)}:`);
        headers.set("signature-agent", `sig1="https://${marker.toLowerCase()}.example"`);
        const response = await send(new Request(`${HOST}/.signet/check`, { headers }), env);
        const text2 = await response.text();
        expect(response.status === 200 || response.status === 400).toBe(true);
        const body = asTarget ? text2.replace(`"target":"/agents/${marker}"`, "") : text2;
        expect(body).not.toContain(marker);
        expect(body.toLowerCase()).not.toContain(marker.toLowerCase());
      }),
      { numRuns: 40 },
    );
  });

  it("is rate-limited per client IP (429 check_rate_limited with Retry-After); other clients are unaffected", async () => {
    const limited = gatewayEnv({
      rules: [{ path: "/agents/*", require: "verified-agent" }],
      check: { enabled: true, ratePerMinute: 3, maxClients: 2 },
    });
    const probe = (client: string) => send(asCheck(new Request(`${HOST}/agents/a`), "/agents/a", client), limited);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await probe("203.0.113.1")).status);
    // The minute may turn during the loop: then the count starts again, so at most 3 in a row succeed per minute.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    const refused = await probe("203.0.113.1");
    if (refused.status === 429) {
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      await expectProblem(refused, "check_rate_limited");
    } else await refused.body?.cancel();
    expect((await probe("203.0.113.2")).status).toBe(200);
  });
});
