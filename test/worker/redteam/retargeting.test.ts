/**
 * Red team, issue 11 class (b)/(c): a request whose origin acts on another method, path or host than the one
 * Signet matched its rule on and attested. Every attack goes through the whole Worker to the real local origin
 * (`test/worker/origin-server.ts`), which counts what reached it.
 *
 * Before the fix, each header below rode along on an unsigned `GET /public/page` (a `none` route) and reached the
 * origin, where Express/Symfony/Laravel/IIS-style routing would run `DELETE` or `/admin/delete-all`. Now Signet
 * refuses each one with 400 `target_override`, before verification, and the origin sees nothing.
 */
import fc from "fast-check";
import { Hono } from "hono";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { type SignetOriginEnv, signetOrigin, verifySignetRequest } from "../../../origin/index.ts";
import { HOST_OVERRIDE_HEADERS, METHOD_OR_PATH_OVERRIDE_HEADERS } from "../../../worker/retargeting-headers.ts";
import {
  attestationKey,
  echoOf,
  expectProblem,
  gatewayEnv,
  identityOf,
  requestFromEcho,
  send,
  signed,
  verifiedAgentOf,
} from "../gateway/gateway.ts";

const origin = inject("localOriginUrl");
const AGENT = "https://redteam-retarget-agent.example";
const POLICY = {
  rules: [
    { path: "/admin/*", require: "verified-agent" },
    { path: "/public/*", require: "none" },
  ],
};

/** Each header with the value an attacker would send to reach `/admin/delete-all` or act as `DELETE`. */
const ATTACKS: ReadonlyArray<readonly [string, string]> = [
  ["X-HTTP-Method-Override", "DELETE"],
  ["X-HTTP-Method", "DELETE"],
  ["X-Method-Override", "DELETE"],
  ["X-Original-Method", "DELETE"],
  ["X-Original-URL", "/admin/delete-all"],
  ["X-Original-URI", "/admin/delete-all"],
  ["X-Rewrite-URL", "/admin/delete-all"],
  ["X-Forwarded-Uri", "/admin/delete-all"],
  ["X-Forwarded-Path", "/admin/delete-all"],
  ["X-Forwarded-Prefix", "/admin"],
  ["X-Envoy-Original-Path", "/admin/delete-all"],
  ["Forwarded", "host=admin.internal;proto=https"],
  ["X-Forwarded-Host", "admin.internal"],
  ["X-Forwarded-Server", "admin.internal"],
  ["X-Forwarded-Port", "8443"],
  ["X-Forwarded-Scheme", "http"],
  ["X-Host", "admin.internal"],
  ["X-Original-Host", "admin.internal"],
];

let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;
let monitorEnv: ReturnType<typeof gatewayEnv>;
/** The same policy in front of the built-in echo origin, whose echo carries the absolute URL it received. */
let echoEnv: ReturnType<typeof gatewayEnv>;
let publicJwk: Awaited<ReturnType<typeof attestationKey>>["publicJwk"];

beforeAll(async () => {
  key = await generateAgentKey();
  const attestation = await attestationKey();
  publicJwk = attestation.publicJwk;
  const policy = { ...POLICY, pinned: { [AGENT]: [key.publicJwk] } };
  env = gatewayEnv(policy, { origin, attestationKey: attestation.secret });
  monitorEnv = gatewayEnv({ ...policy, mode: "monitor" }, { origin, attestationKey: attestation.secret });
  echoEnv = gatewayEnv(policy, { attestationKey: attestation.secret });
});

/** How often the local origin received exactly this path and query. */
async function originCount(pathAndQuery: string): Promise<number> {
  const response = await fetch(`${origin}/__count?path=${encodeURIComponent(pathAndQuery)}`);
  return ((await response.json()) as { count: number }).count;
}

describe("retargeting headers through the whole Worker", () => {
  it("the lists name every header of the attack table, and the table every header of the lists", () => {
    expect(ATTACKS.map(([name]) => name.toLowerCase()).sort()).toEqual(
      [...METHOD_OR_PATH_OVERRIDE_HEADERS, ...HOST_OVERRIDE_HEADERS].sort(),
    );
  });

  it.each(ATTACKS)("unsigned GET /public/page with %s is refused and never reaches the origin", async (name, value) => {
    const pathAndQuery = `/public/page?attack=${crypto.randomUUID()}`;
    const response = await send(
      new Request(`https://signet.example${pathAndQuery}`, { headers: { [name]: value } }),
      env,
    );
    const problem = await expectProblem(response, "target_override", { instance: "/public/page" });
    // The detail names Signet's spelling of the header, never the value the client sent.
    expect(problem.detail).toContain(name.toLowerCase());
    expect(JSON.stringify(problem)).not.toContain(value);
    expect(await originCount(pathAndQuery)).toBe(0);
  });

  it.each(ATTACKS)("a verified agent's signed request with %s is refused too", async (name, value) => {
    const request = await signed("https://signet.example/admin/report", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { [name]: value },
      cover: [`"${name.toLowerCase()}"`],
    });
    await expectProblem(await send(request, env), "target_override");
  });

  it("the same requests without the header are forwarded (the control)", async () => {
    const pathAndQuery = `/public/page?control=${crypto.randomUUID()}`;
    await echoOf(await send(new Request(`https://signet.example${pathAndQuery}`), env));
    expect(await originCount(pathAndQuery)).toBe(1);
    const request = await signed("https://signet.example/admin/report", { key: key.privateJwk, agent: AGENT });
    expect(verifiedAgentOf(await echoOf(await send(request, env)))).toMatchObject({ agent: identityOf(AGENT) });
  });

  it("property: any spelling of a listed name, with any value and beside any other headers, is refused", async () => {
    const names = [...METHOD_OR_PATH_OVERRIDE_HEADERS, ...HOST_OVERRIDE_HEADERS];
    const spelling = fc
      .tuple(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }))
      .map(([name, upper]) => [...name].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join(""));
    const value = fc.stringMatching(/^[!-~]([ -~]{0,40}[!-~])?$/);
    const benign = fc.dictionary(fc.constantFrom("accept", "x-request-id", "user-agent", "x-forwarded-for"), value);
    await fc.assert(
      fc.asyncProperty(spelling, value, benign, async (name, v, others) => {
        const headers = new Headers(others);
        headers.append(name, v);
        const response = await send(new Request("https://signet.example/public/page", { headers }), env);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { reason: string }).reason).toBe("target_override");
      }),
      { numRuns: 60 },
    );
  });

  it("property: headers outside the lists (X-Forwarded-For and -Proto, set by Cloudflare, included) pass", async () => {
    const name = fc.constantFrom("x-forwarded-for", "x-forwarded-proto", "x-real-ip", "accept", "x-methodology");
    await fc.assert(
      fc.asyncProperty(name, fc.stringMatching(/^[a-z0-9.]{1,20}$/), async (n, v) => {
        const response = await send(new Request("https://signet.example/public/page", { headers: { [n]: v } }), env);
        expect(response.status).toBe(200);
        await response.body?.cancel();
      }),
      { numRuns: 30 },
    );
  });

  it("monitor mode forwards it anonymous, with the refusal enforce mode would send in Signet-Monitor", async () => {
    const request = await signed("https://signet.example/admin/report", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { "X-Original-URL": "/admin/delete-all" },
    });
    const echo = await echoOf(await send(request, monitorEnv));
    expect(echo.headers["signet-monitor"]).toBe("reason=target_override, status=400");
    expect(echo.headers["verified-agent"]).toBeUndefined();
  });
});

describe("retargeting headers added after Signet, at the origin helpers", () => {
  it.each(METHOD_OR_PATH_OVERRIDE_HEADERS.map((name) => [name] as const))(
    "an attested request replayed with %s added is refused as target_invalid",
    async (name) => {
      // Before: the attestation of GET /public/page verified with the override added (it covers neither), and a
      // framework that honours the header would run DELETE or /admin/delete-all as attested.
      const echo = await echoOf(
        await send(new Request(`https://signet.example/public/page?n=${crypto.randomUUID()}`), echoEnv),
      );
      const forwarded = requestFromEcho({ ...echo, headers: { ...echo.headers, [name]: "/admin/delete-all" } });
      const options = { keys: publicJwk };
      expect(await verifySignetRequest(forwarded, options)).toMatchObject({ ok: false, reason: "target_invalid" });
      // The untouched request verifies (the control), once.
      expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({ ok: true, agent: null });
    },
  );

  it("the Hono helper never runs the handler for an attested request with X-HTTP-Method-Override added", async () => {
    let ran = 0;
    const app = new Hono<SignetOriginEnv>().use("*", signetOrigin({ keys: publicJwk })).all("*", (c) => {
      ran += 1;
      return c.text("ran");
    });
    const echo = await echoOf(
      await send(new Request(`https://signet.example/public/page?h=${crypto.randomUUID()}`), echoEnv),
    );
    const forwarded = requestFromEcho({ ...echo, headers: { ...echo.headers, "x-http-method-override": "DELETE" } });
    const response = await app.fetch(forwarded);
    expect(response.status).toBe(401);
    expect(ran).toBe(0);
  });

  it("host overrides an origin's own proxy adds are left alone; the helper hands the attested URL on", async () => {
    const echo = await echoOf(
      await send(new Request(`https://signet.example/public/p?n=${crypto.randomUUID()}`), echoEnv),
    );
    const forwarded = requestFromEcho({ ...echo, headers: { ...echo.headers, "x-forwarded-host": "proxy.internal" } });
    const result = await verifySignetRequest(forwarded, { keys: publicJwk });
    expect(result).toMatchObject({ ok: true, url: echo.url });
  });
});
