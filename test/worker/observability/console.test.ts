/**
 * The console's protection and page through the whole Worker: off without a secret, refused without the
 * secret or with a wrong one (bearer, form, forged or expired cookies), a login that sets an HttpOnly; Secure;
 * SameSite=Strict session cookie scoped to the console, never forwarded to the origin (whatever the path's
 * spelling), a strict Content-Security-Policy, every third-party value escaped, the timing-safe comparison,
 * and Cloudflare Access tokens checked against the team's keys.
 */
import fc from "fast-check";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import {
  accessAllows,
  SESSION_COOKIE,
  secretMatches,
  sessionValid,
  sessionValue,
  timingSafeEqual,
} from "../../../worker/observability/console-auth.ts";
import { escapeHtml, renderConsolePage } from "../../../worker/observability/console-page.ts";
import {
  consoleSettings,
  DEV_CONSOLE_SECRET,
  handleConsole,
  underConsole,
} from "../../../worker/observability/console-route.ts";
import type { MetricsSummary } from "../../../worker/observability/metrics-summary.ts";
import { send, signed } from "../gateway/gateway.ts";
import { CONSOLE, CONSOLE_SECRET, observedEnv, summaryOf } from "./helpers.ts";

const AGENT = "https://console-agent.example";

let agentKey: GeneratedKey;
let env: ReturnType<typeof observedEnv>;
let off: ReturnType<typeof observedEnv>;

beforeAll(async () => {
  agentKey = await generateAgentKey();
  const policy = {
    rules: [{ path: "/agents/*", require: "verified-agent" }],
    pinned: { [AGENT]: [agentKey.publicJwk] },
  };
  off = observedEnv(policy);
  env = observedEnv(policy, { SIGNET_CONSOLE_SECRET: CONSOLE_SECRET });
});

const at = (path: string, init?: RequestInit) => new Request(`https://signet.example${CONSOLE}${path}`, init);

async function login(secret: string): Promise<Response> {
  return send(
    at("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ secret }).toString(),
    }),
    env,
  );
}

async function problemOf(response: Response): Promise<{ reason: string; status: number }> {
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return (await response.json()) as { reason: string; status: number };
}

describe("off unless configured, and never forwarded", () => {
  it("without SIGNET_CONSOLE_SECRET every console path answers 404 console_disabled, not the origin", async () => {
    for (const path of ["", "/", "/api/summary", "/login"]) {
      const response = await send(at(path, path === "/login" ? { method: "POST" } : {}), off);
      expect(response.status).toBe(404);
      expect(await problemOf(response)).toMatchObject({ reason: "console_disabled" });
    }
  });

  it("other spellings of the console path are answered by Signet too, never the echo origin", async () => {
    const spellings = [
      "//.signet/console",
      "/.Signet/Console/api/summary",
      "/%2esignet/console",
      "/.signet//console/x",
    ];
    for (const path of spellings) {
      const response = await send(new Request(`https://signet.example${path}`), env);
      expect(response.status, path).not.toBe(200);
      expect(response.headers.get("content-type"), path).not.toBe("application/json; charset=utf-8");
      const body = await response.text();
      expect(body, path).not.toContain('"headers"');
    }
  });

  it("a path that merely starts with the same letters is forwarded as usual", async () => {
    expect(underConsole("/.signet/consoles", CONSOLE)).toBe(false);
    expect(underConsole("/.signet/console", CONSOLE)).toBe(true);
    expect((await send(new Request("https://signet.example/.signet/consoles"), env)).status).toBe(200);
  });

  it("console requests are not decision-logged or counted as agent traffic", async () => {
    const before = await summaryOf(env);
    await send(at("/"), env);
    await send(at("/api/summary"), env);
    const after = await summaryOf(env);
    expect(after.outcomes).toEqual(before.outcomes);
  });

  it("an unsafe configuration turns the console off (fail closed)", async () => {
    expect(consoleSettings({ SIGNET_CONSOLE_SECRET: "short" }).error).toMatch(/16 characters/);
    expect(
      consoleSettings({ SIGNET_CONSOLE_SECRET: CONSOLE_SECRET, SIGNET_CONSOLE_PATH: "no-slash" }).error,
    ).toBeDefined();
    expect(
      consoleSettings({ SIGNET_CONSOLE_SECRET: CONSOLE_SECRET, SIGNET_CONSOLE_ACCESS_TEAM: "t.example" }).error,
    ).toBeDefined();
    // The published dev secret works only in front of the demo origin.
    expect(
      consoleSettings({ SIGNET_CONSOLE_SECRET: DEV_CONSOLE_SECRET, ORIGIN_URL: "demo:echo" }).error,
    ).toBeUndefined();
    expect(consoleSettings({ SIGNET_CONSOLE_SECRET: DEV_CONSOLE_SECRET, ORIGIN_URL: "" }).error).toMatch(/dev secret/);
    const deployed = { ...env, ORIGIN_URL: "https://origin.example", SIGNET_CONSOLE_SECRET: DEV_CONSOLE_SECRET };
    const devSecret = await send(
      at("/api/summary", { headers: { authorization: `Bearer ${DEV_CONSOLE_SECRET}` } }),
      deployed,
    );
    expect(devSecret.status).toBe(503);
    const short = { ...env, SIGNET_CONSOLE_SECRET: "short" };
    const response = await send(at("/api/summary", { headers: { authorization: "Bearer short" } }), short);
    expect(response.status).toBe(503);
  });

  it("a configured path moves the console", async () => {
    const moved = { ...env, SIGNET_CONSOLE_PATH: "/ops/signet" };
    const response = await send(
      new Request("https://signet.example/ops/signet/api/summary", {
        headers: { authorization: `Bearer ${CONSOLE_SECRET}` },
      }),
      moved,
    );
    expect(response.status).toBe(200);
    // The default path is then an ordinary path.
    expect((await send(at("/api/summary"), moved)).status).toBe(200);
  });
});

describe("the secret", () => {
  it("no secret: the page is the login form (401), the JSON is console_unauthorized with a Bearer challenge", async () => {
    const page = await send(at(""), env);
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('<form method="post" action="/.signet/console/login">');
    expect(html).toContain('<label for="secret">');
    expect(html).not.toContain("Top verified agents");
    const api = await send(at("/api/summary"), env);
    expect(api.status).toBe(401);
    expect(api.headers.get("www-authenticate")).toBe('Bearer realm="signet-console"');
    expect(await problemOf(api)).toMatchObject({ reason: "console_unauthorized", status: 401 });
  });

  it("a wrong bearer secret, a prefix of it, a longer one, or another scheme is refused", async () => {
    for (const authorization of [
      "Bearer wrong-secret-wrong-secret",
      `Bearer ${CONSOLE_SECRET.slice(0, -1)}`,
      `Bearer ${CONSOLE_SECRET}x`,
      `Basic ${btoa(`x:${CONSOLE_SECRET}`)}`,
      "Bearer",
    ]) {
      const response = await send(at("/api/summary", { headers: { authorization } }), env);
      expect(response.status, authorization).toBe(401);
    }
  });

  it("the right bearer secret gets the JSON summary and the policy in force", async () => {
    const response = await send(at("/api/summary", { headers: { authorization: `Bearer ${CONSOLE_SECRET}` } }), env);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as { summary: MetricsSummary; policy: { mode: string; rules: unknown[] } };
    expect(body.policy).toMatchObject({ mode: "enforce", rules: [{ path: "/agents/*", require: "verified-agent" }] });
    expect(body.summary.traffic).toHaveLength(60);
  });

  it("a wrong form secret is refused with the form again, and sets no cookie", async () => {
    const response = await login("wrong-secret-wrong-secret");
    expect(response.status).toBe(401);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain("That secret is not right.");
  });

  it("a form body over 4 KiB is refused unread", async () => {
    const response = await login(`${CONSOLE_SECRET}${"x".repeat(5000)}`);
    expect(response.status).toBe(401);
  });

  it("the right form secret sets an HttpOnly; Secure; SameSite=Strict session cookie scoped to the console", async () => {
    const response = await login(CONSOLE_SECRET);
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(CONSOLE);
    const cookie = response.headers.get("set-cookie") ?? "";
    const attributes = cookie.split(";").map((a) => a.trim().toLowerCase());
    expect(attributes).toEqual(
      expect.arrayContaining(["httponly", "secure", "samesite=strict", `path=${CONSOLE}`, "max-age=28800"]),
    );
    expect(cookie).not.toContain(CONSOLE_SECRET);
    const value = cookie.split(";")[0] as string;
    const page = await send(at("", { headers: { cookie: value } }), env);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Top verified agents");
    const api = await send(at("/api/summary", { headers: { cookie: value } }), env);
    expect(api.status).toBe(200);
  });

  it("forged, tampered, expired and other-secret cookies are refused", async () => {
    const now = Date.now();
    const good = await sessionValue(CONSOLE_SECRET, now);
    const [expires, mac] = good.split(".") as [string, string];
    const forged = [
      "",
      "1",
      `${expires}.`,
      `${Number(expires) + 1000}.${mac}`,
      `${expires}.${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`,
      await sessionValue("another-secret-another-secret", now),
      await sessionValue(CONSOLE_SECRET, now - 9 * 3600 * 1000),
    ];
    for (const value of forged) {
      expect(await sessionValid(value, CONSOLE_SECRET, now), value).toBe(false);
      const response = await send(at("/api/summary", { headers: { cookie: `${SESSION_COOKIE}=${value}` } }), env);
      expect(response.status, value).toBe(401);
    }
    expect(await sessionValid(good, CONSOLE_SECRET, now)).toBe(true);
  });

  it("sign out clears the cookie", async () => {
    const response = await send(at("/logout", { method: "POST" }), env);
    expect(response.status).toBe(303);
    expect(response.headers.get("set-cookie")).toMatch(/^signet_console=; .*Max-Age=0/);
  });

  it("unknown console pages and methods are console_not_found", async () => {
    for (const [path, method] of [
      ["/nope", "GET"],
      ["/api/summary", "POST"],
      ["", "DELETE"],
    ] as const) {
      const response = await send(at(path, { method, headers: { authorization: `Bearer ${CONSOLE_SECRET}` } }), env);
      expect(response.status).toBe(404);
      expect(await problemOf(response)).toMatchObject({ reason: "console_not_found" });
    }
  });
});

describe("constant-time comparison", () => {
  it("timingSafeEqual is equality, for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const equal = a.length === b.length && a.every((x, i) => x === b[i]);
        expect(timingSafeEqual(a, b)).toBe(equal);
        expect(timingSafeEqual(a, a.slice())).toBe(true);
      }),
    );
  });

  it("timingSafeEqual looks at every byte whatever the first difference (no early exit)", () => {
    const reads: number[] = [];
    const watched = (bytes: number[]) =>
      new Proxy(new Uint8Array(bytes), {
        get(target, key) {
          if (typeof key === "string" && /^\d+$/.test(key)) reads.push(Number(key));
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    const base = Array.from({ length: 32 }, (_, i) => i);
    for (const differAt of [0, 15, 31]) {
      reads.length = 0;
      const other = base.slice();
      other[differAt] = 255;
      expect(timingSafeEqual(watched(base), watched(other))).toBe(false);
      // Both arrays, every index.
      expect(reads.length).toBe(64);
    }
  });

  it("secretMatches compares MACs of equal length, so any presented length is fine", async () => {
    expect(await secretMatches(CONSOLE_SECRET, CONSOLE_SECRET)).toBe(true);
    for (const presented of ["", "x", CONSOLE_SECRET.toUpperCase(), `${CONSOLE_SECRET}\u0000`, "é".repeat(1000)]) {
      expect(await secretMatches(presented, CONSOLE_SECRET)).toBe(false);
    }
    expect(await secretMatches(null, CONSOLE_SECRET)).toBe(false);
    expect(await secretMatches("", "")).toBe(false);
  });
});

describe("the page", () => {
  it("is served with a strict Content-Security-Policy and no-store, and refreshes itself", async () => {
    const response = await send(at("", { headers: { authorization: `Bearer ${CONSOLE_SECRET}` } }), env);
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/style-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const html = await response.text();
    expect(html).toMatch(/<meta http-equiv="refresh" content="\d+">/);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<html lang="en">');
    expect(html).toMatch(/<svg[^>]+role="img"[^>]+aria-labelledby=/);
  });

  it("shows a verified agent's traffic", async () => {
    const request = await signed("https://signet.example/agents/page", { key: agentKey.privateJwk, agent: AGENT });
    expect((await send(request, env)).status).toBe(200);
    const html = await (await send(at("", { headers: { authorization: `Bearer ${CONSOLE_SECRET}` } }), env)).text();
    expect(html).toContain(`${AGENT}/.well-known/http-message-signatures-directory`);
    expect(html).toContain("web-bot-auth");
  });

  it("escapes every value it shows (property: no tag or attribute survives from the data)", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const escaped = escapeHtml(text);
        expect(escaped).not.toMatch(/[<>"']/);
        expect(escaped.replace(/&(amp|lt|gt|quot|#39);/g, "")).not.toContain("&");
      }),
    );
    const hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>';
    const summary: MetricsSummary = {
      range: "1h",
      generatedAt: Date.now(),
      traffic: [],
      outcomes: { verified: 1, invalid: 0, unverified: 0, unsigned: 0 },
      reasons: [{ reason: hostile, count: 1 }],
      rules: [],
      agents: [{ agent: hostile, profile: hostile, level: hostile, onBehalfOf: hostile, count: 1, lastSeen: 1 }],
      replaysBlocked: 0,
      directories: [
        { url: hostile, lastSeen: 1, status: hostile, pinned: false, keyCount: 1, fetchedAt: 1, freshUntil: 1 },
      ],
      refusals: [
        {
          time: 1,
          id: hostile,
          method: hostile,
          path: hostile,
          reason: hostile,
          status: 401,
          mode: "enforce",
          outcome: "unsigned",
          agent: hostile,
          label: hostile,
          rule: hostile,
        },
      ],
    };
    const html = renderConsolePage(
      summary,
      {
        mode: "enforce",
        rules: [{ path: hostile, require: "none" }],
        allow: [hostile],
        deny: [],
        pinned: [],
        sampleAccepted: 1,
      },
      { base: CONSOLE, nonce: "n" },
    );
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;");
  });
});

describe("Cloudflare Access", () => {
  const team = "signet-test.cloudflareaccess.com";
  const audience = "aud-tag-123";
  let keys: ReturnType<typeof createLocalJWKSet>;
  let sign: (claims: Record<string, unknown>) => Promise<string>;

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256" };
    keys = createLocalJWKSet({ keys: [jwk] });
    sign = (claims, key = pair.privateKey) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(key);
  });

  it("accepts a token for the team and application, refuses others", async () => {
    const access = { team, audience, keys };
    const good = await sign({ iss: `https://${team}`, aud: audience, email: "owner@example.com" });
    expect(await accessAllows(good, access)).toBe(true);
    expect(await accessAllows(null, access)).toBe(false);
    expect(await accessAllows("not-a-jwt", access)).toBe(false);
    expect(await accessAllows(await sign({ iss: `https://${team}`, aud: "another-app" }), access)).toBe(false);
    expect(await accessAllows(await sign({ iss: "https://evil.cloudflareaccess.com", aud: audience }), access)).toBe(
      false,
    );
    const foreign = await generateKeyPair("RS256");
    const forged = await new SignJWT({ iss: `https://${team}`, aud: audience })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setExpirationTime("5m")
      .sign(foreign.privateKey);
    expect(await accessAllows(forged, access)).toBe(false);
  });

  it("with Access configured, the secret alone is not enough", async () => {
    const settings = {
      ...consoleSettings({ SIGNET_CONSOLE_SECRET: CONSOLE_SECRET }),
      access: { team, audience, keys },
    };
    const context = { settings, metrics: env.SIGNET_METRICS, policy: undefined, now: Date.now() };
    const withSecret = at("/api/summary", { headers: { authorization: `Bearer ${CONSOLE_SECRET}` } });
    const refused = await handleConsole(withSecret, context);
    expect(refused.status).toBe(401);
    expect(await problemOf(refused)).toMatchObject({ reason: "console_unauthorized" });
    const token = await sign({ iss: `https://${team}`, aud: audience });
    const both = at("/api/summary", {
      headers: { authorization: `Bearer ${CONSOLE_SECRET}`, "cf-access-jwt-assertion": token },
    });
    expect((await handleConsole(both, context)).status).toBe(200);
    const tokenOnly = at("/api/summary", { headers: { "cf-access-jwt-assertion": token } });
    expect((await handleConsole(tokenOnly, context)).status).toBe(401);
  });
});
