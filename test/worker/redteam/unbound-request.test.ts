/**
 * Red team, issue 11 class (c): a verified agent's identity forwarded on a request whose method or body its
 * signature never bound. Through the whole Worker, real Durable Object replay store, pinned agent keys.
 *
 * - **Extension methods.** The unsafe-method coverage default named POST, PUT, PATCH and DELETE only: a signature
 *   over just `@authority` and its `Signature-Agent` member (what real captures cover) was accepted as the
 *   agent's identity on `PURGE`, `MOVE`, `LOCK`, ... with a body it never saw. Now every method but the safe ones
 *   of RFC 9110 (GET, HEAD, OPTIONS, TRACE) is unsafe, and a body needs `content-digest` on any method.
 * - **A body under `Content-Length: 0`.** Body presence was read from `Content-Length`, so a signed bodiless
 *   POST with a body attached under `Content-Length: 0` was forwarded as the agent with a body it never signed
 *   (the attestation then bound the unsigned body). Now the body bytes decide.
 */
import fc from "fast-check";
import { serializeDictionary } from "structured-headers";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey, type SigningProfile, signRequest } from "../../../agent/index.ts";
import { isUnsafeMethod, SAFE_METHODS } from "../../../worker/policy/policy.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "../gateway/gateway.ts";

const AGENT = "https://redteam-unbound-agent.example";
let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;
/** A distinct `created` per signature, so that equal signature bases never meet in the replay store. */
let created = Math.floor(Date.now() / 1000) - 100;

beforeAll(async () => {
  key = await generateAgentKey();
  env = gatewayEnv({ rules: [{ path: "/agents/*", require: "verified-agent" }], pinned: { [AGENT]: [key.publicJwk] } });
});

/** A Web Bot Auth signature over only `@authority` and its `Signature-Agent` member, as real captures are. */
async function minimal(url: string): Promise<Request> {
  const profile: SigningProfile = {
    name: "minimal",
    plan: (context) => ({
      headers: [["Signature-Agent", serializeDictionary(new Map([[context.label, [AGENT, new Map()]]]))]],
      components: ['"@authority"', `"signature-agent";key="${context.label}"`],
      params: { created: context.now, expires: context.now + 300, keyid: context.thumbprint, tag: "web-bot-auth" },
    }),
  };
  created += 1;
  const at = created;
  return signRequest(new Request(url), { key: key.privateJwk, profile, now: () => at });
}

/** Methods workerd lets a Request carry (it refuses unknown ones), beyond the four the old default named. */
const EXTENSION_METHODS = ["PURGE", "MOVE", "COPY", "LOCK", "UNLOCK", "MKCOL", "PROPPATCH", "REPORT", "SEARCH"];

describe("a signature that binds neither method nor body", () => {
  it.each(EXTENSION_METHODS)("%s with a body is refused as insufficient_coverage", async (method) => {
    const fresh = await minimal(`https://shop.example/agents/delete-everything`);
    const attack = new Request(fresh.url, { method, headers: fresh.headers, body: '{"all":true}' });
    const problem = await expectProblem(await send(attack, env), "insufficient_coverage");
    expect(problem.detail).toContain('"@method"');
  });

  it.each(EXTENSION_METHODS)("%s without a body is refused too: it still needs @method and @path", async (method) => {
    const fresh = await minimal(`https://shop.example/agents/x`);
    await expectProblem(
      await send(new Request(fresh.url, { method, headers: fresh.headers }), env),
      "insufficient_coverage",
    );
  });

  it("OPTIONS with a body the signature does not bind is refused; without one it passes (a safe method)", async () => {
    const withBody = await minimal("https://shop.example/agents/x");
    const attack = new Request(withBody.url, { method: "OPTIONS", headers: withBody.headers, body: "payload" });
    const problem = await expectProblem(await send(attack, env), "insufficient_coverage");
    expect(problem.detail).toContain('"content-digest"');
    const plain = await minimal("https://shop.example/agents/x");
    const ok = new Request(plain.url, { method: "OPTIONS", headers: plain.headers });
    expect(verifiedAgentOf(await echoOf(await send(ok, env)))).toMatchObject({ agent: identityOf(AGENT) });
  });

  it("the fixed signer (it covers @method, @path and content-digest) is accepted on an extension method", async () => {
    const request = await signed("https://shop.example/agents/cache", {
      key: key.privateJwk,
      agent: AGENT,
      method: "PURGE",
      body: "all",
    });
    expect(verifiedAgentOf(await echoOf(await send(request, env)))).toMatchObject({ agent: identityOf(AGENT) });
  });

  it("property: a method is exempt from the default exactly when it is one of RFC 9110's safe methods", () => {
    const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
    fc.assert(
      fc.property(fc.oneof(token, fc.constantFrom(...SAFE_METHODS, "get", "Head", "POST", "patch")), (method) => {
        expect(isUnsafeMethod(method)).toBe(!SAFE_METHODS.includes(method.toUpperCase()));
      }),
    );
  });
});

describe("a body under Content-Length: 0", () => {
  /** A signed bodiless POST (no content-digest covered) with `body` attached and the given Content-Length. */
  async function smuggled(body: string, contentLength: string): Promise<Request> {
    const request = await signed("https://shop.example/agents/transfer", {
      key: key.privateJwk,
      agent: AGENT,
      method: "POST",
      created: ++created,
    });
    const headers = new Headers(request.headers);
    headers.set("content-length", contentLength);
    return new Request(request.url, { method: "POST", headers, body });
  }

  it("a body the signature never bound is refused, whatever the declared length says", async () => {
    for (const declared of ["0", " 0", "0 "]) {
      const problem = await expectProblem(await send(await smuggled("evil", declared), env), "insufficient_coverage");
      expect(problem.detail).toContain('"content-digest"');
    }
  });

  it("property: every non-empty body under Content-Length: 0 is refused", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 64 }), async (body) => {
        const response = await send(await smuggled(body, "0"), env);
        expect(response.status).toBe(401);
        expect(((await response.json()) as { reason: string }).reason).toBe("insufficient_coverage");
      }),
      { numRuns: 25 },
    );
  });

  it("an empty body under Content-Length: 0 is still forwarded as the agent (the control)", async () => {
    const echo = await echoOf(await send(await smuggled("", "0"), env));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT) });
    expect(echo.body).toBe("");
  });
});
