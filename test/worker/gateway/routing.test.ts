/**
 * Canonical routing through the whole Worker, with the real local origin (`test/worker/origin-server.ts`)
 * reporting the path it received:
 *
 * - every spelling of `test/vectors/canonical-paths.json` is refused with 400 `path_ambiguous`, or forwarded with
 *   exactly its canonical path, under the rule that path matches (unsigned: refused where the rule protects;
 *   signed: forwarded with the agent's identity, the agent's signature checked on the path as received);
 * - the issue 11 scenario: a Hono app with an `/agents/*` handler behind Signet never runs it for an anonymous
 *   request, whatever the spelling;
 * - monitor mode, `paths.escapedSlashes: "decode"`, and the attestation covering the canonical path;
 * - deny and allow entries that name an origin cover every key set URL on that origin (issue 11 item 10).
 */
import fc from "fast-check";
import { Hono } from "hono";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { verifySignetRequest } from "../../../origin/index.ts";
import type { EchoedRequest } from "../../../worker/demo-origin.ts";
import { parsePolicy } from "../../../worker/policy/parse-policy.ts";
import { routeRequest } from "../../../worker/policy/route.ts";
import table from "../../vectors/canonical-paths.json";
import {
  attestationKey,
  echoOf,
  expectProblem,
  forwardedAgent,
  gatewayEnv,
  identityOf,
  requestFromEcho,
  send,
  signed,
} from "./gateway.ts";

const origin = inject("localOriginUrl");
const AGENT = "https://routing-agent.example";

let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;
/** Forwarding to the local origin needs a real attestation key. */
let toOrigin: { origin: string; attestationKey: string };

beforeAll(async () => {
  key = await generateAgentKey();
  toOrigin = { origin, attestationKey: (await attestationKey()).secret };
  env = gatewayEnv({ ...table.policy, pinned: { [AGENT]: [key.publicJwk] } }, toOrigin);
});

/** The request line the local origin received: path and query exactly as sent. */
async function received(response: Response): Promise<{ path: string; echo: EchoedRequest }> {
  const echo = await echoOf(response);
  return { path: echo.url.replace(/\?.*$/, ""), echo };
}

/** The identity header the origin received, if any. */
function identityHeaders(echo: EchoedRequest): Record<string, string> {
  const agent = echo.headers["verified-agent"];
  return agent === undefined ? {} : { "verified-agent": agent };
}

/** The table's policy as Signet loads it. */
const policy = parsePolicy(JSON.stringify(table.policy));

const PROTECTED = new Set(table.policy.rules.filter((r) => r.require !== "none").map((r) => r.path));

describe("the spelling table through the Worker", () => {
  it.each(table.cases)("$raw ($note)", async (c) => {
    const url = `https://signet.example${c.raw}?case=${encodeURIComponent(c.raw)}`;
    if ("reject" in c) {
      const body = await expectProblem(await send(new Request(url), env), "path_ambiguous");
      // The refusal never echoes the path.
      expect(body.instance).toBeUndefined();
      // Signed makes no difference: no rule can be chosen for the path.
      const request = await signed(url, { key: key.privateJwk, agent: AGENT });
      await expectProblem(await send(request, env), "path_ambiguous");
      return;
    }
    const anonymous = await send(new Request(url), env);
    if (PROTECTED.has(c.rule as string)) {
      await expectProblem(anonymous, "signature_required", { instance: c.forwarded });
    } else {
      const { path, echo } = await received(anonymous);
      expect(path).toBe(c.forwarded);
      expect(echo.headers["verified-agent"]).toBeUndefined();
    }
    // Signed over the path as received, forwarded with the canonical path and the agent's identity.
    const request = await signed(url, { key: key.privateJwk, agent: AGENT });
    const { path, echo } = await received(await send(request, env));
    expect(path).toBe(c.forwarded);
    expect(echo.url).toBe(`${c.forwarded}?case=${encodeURIComponent(c.raw)}`);
    expect(echo.headers["verified-agent"]).toContain(identityOf(AGENT));
  });
});

describe("a Hono origin with an /agents/* handler behind Signet (issue 11 item 3)", () => {
  /** The origin application: its `/agents/*` handler records whether a Verified-Agent came with the request. */
  const calls: Array<{ path: string; agent: string | undefined }> = [];
  const originApp = new Hono();
  originApp.all("/agents/*", (c) => {
    calls.push({ path: c.req.path, agent: c.req.header("verified-agent") });
    return c.text("agents handler");
  });
  originApp.all("*", (c) => c.text("elsewhere"));

  const ATTACKS = [
    "/agents/x",
    "/%61gents/x",
    "//agents/x",
    "/agents;x/y",
    "/AGENTS/x",
    "/Agents/x",
    "/agents%2Fx",
    "/agents%2fx",
    "/agents/./x",
    "/x/../agents/x",
    "/public/..;/agents/x",
    "/public/%2e%2e/agents/x",
    "/%2561gents/x",
    "/agents",
    "/agents/",
    "///agents//x",
    "/%41GENTS/x",
    "/agents%3Bx/y",
    "/agents\\x",
    "/%5Cagents/x",
    "/agents./x",
    "/agents%20/x",
    "/%C0%AEagents/x",
  ];

  it.each(ATTACKS)("anonymous %s never reaches the handler", async (raw) => {
    const response = await send(new Request(`https://signet.example${raw}`), env);
    if (response.status !== 200) {
      expect([400, 401]).toContain(response.status);
      return;
    }
    // Whatever Signet forwarded, the origin application routes it as it would a request straight from the client.
    const { echo } = await received(response);
    const before = calls.length;
    await originApp.fetch(new Request(`http://origin.test${echo.url}`, { headers: identityHeaders(echo) }));
    const reached = calls.slice(before);
    expect(reached.filter((call) => call.agent === undefined)).toEqual([]);
  });

  it("a signed agent reaches the handler, with its identity, on the canonical path", async () => {
    const request = await signed("https://signet.example//%61gents/./x", { key: key.privateJwk, agent: AGENT });
    const { echo } = await received(await send(request, env));
    const before = calls.length;
    await originApp.fetch(new Request(`http://origin.test${echo.url}`, { headers: identityHeaders(echo) }));
    expect(calls.slice(before)).toEqual([{ path: "/agents/x", agent: expect.stringContaining(identityOf(AGENT)) }]);
  });
});

describe("property: an anonymous request reaches the origin only on a path whose rule requires nothing", () => {
  const pieces = fc.constantFrom(
    "/",
    "//",
    ".",
    "..",
    "%2e",
    "%2F",
    "%5C",
    "\\",
    ";",
    ";x",
    "%3B",
    "%25",
    "%61",
    "%41",
    "a",
    "A",
    "admin",
    "ADMIN",
    "agents",
    "Agents",
    "public",
    "Reports",
    "reports",
    "x",
    "%00",
    "%20",
    "é",
    "|",
    "%7e",
  );
  const spelling = fc.array(pieces, { maxLength: 10 }).map((parts) => `/${parts.join("")}`);

  it("holds for random spellings through the whole Worker", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(spelling, async (raw) => {
        const response = await send(new Request(`https://signet.example${raw}`), env);
        if (response.status !== 200) {
          await response.body?.cancel();
          expect([400, 401]).toContain(response.status);
          return;
        }
        const { path, echo } = await received(response);
        expect(echo.headers["verified-agent"]).toBeUndefined();
        const route = routeRequest(policy, "GET", path);
        expect(route).toMatchObject({ path, rule: { require: "none" } });
      }),
      { numRuns: 150 },
    );
  });
});

describe("method spelling", () => {
  it("an unsigned `patch` on a route whose PATCH rule protects it is refused as a PATCH", async () => {
    const patchEnv = gatewayEnv(
      { rules: [{ path: "/agents/*", methods: ["PATCH"], require: "verified-agent" }] },
      toOrigin,
    );
    // workerd upper-cases every method (route.ts also refuses a lower-case method that changes the rule, for
    // runtimes that do not).
    for (const method of ["patch", "Patch", "PATCH"]) {
      const request = new Request("https://signet.example/agents/x", { method });
      await expectProblem(await send(request, patchEnv), "signature_required");
    }
  });
});

describe("HEAD under a GET rule", () => {
  it("an unsigned HEAD on a route whose GET rule protects it is refused (origins answer HEAD with the GET handler)", async () => {
    const getEnv = gatewayEnv(
      {
        rules: [{ path: "/agents/*", methods: ["GET"], require: "verified-agent" }],
        pinned: { [AGENT]: [key.publicJwk] },
      },
      toOrigin,
    );
    // A HEAD answer carries no body: the status and the challenge say it.
    const anonymous = await send(new Request("https://signet.example/agents/x", { method: "HEAD" }), getEnv);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toBe("application/problem+json");
    expect(anonymous.headers.get("accept-signature")).not.toBeNull();
    const request = await signed("https://signet.example/agents/x", {
      key: key.privateJwk,
      agent: AGENT,
      method: "HEAD",
    });
    expect((await send(request, getEnv)).status).toBe(200);
  });
});

describe("path options and modes", () => {
  it("paths.escapedSlashes decode: an escaped slash is read, matched and forwarded as /", async () => {
    const decoding = gatewayEnv(
      { ...table.policy, paths: { escapedSlashes: "decode" }, pinned: { [AGENT]: [key.publicJwk] } },
      toOrigin,
    );
    await expectProblem(await send(new Request("https://signet.example/agents%2Fx"), decoding), "signature_required", {
      instance: "/agents/x",
    });
    await expectProblem(
      await send(new Request("https://signet.example/public%2F..%2Fadmin"), decoding),
      "signature_required",
      { instance: "/admin" },
    );
    const request = await signed("https://signet.example/agents%2Fx", { key: key.privateJwk, agent: AGENT });
    expect((await received(await send(request, decoding))).path).toBe("/agents/x");
  });

  it("monitor mode forwards an ambiguous path as received, anonymous, and says it would have refused it", async () => {
    const monitor = gatewayEnv({ ...table.policy, mode: "monitor", pinned: { [AGENT]: [key.publicJwk] } }, toOrigin);
    const request = await signed("https://signet.example/AGENTS/x", { key: key.privateJwk, agent: AGENT });
    const { path, echo } = await received(await send(request, monitor));
    expect(path).toBe("/AGENTS/x");
    expect(echo.headers["verified-agent"]).toBeUndefined();
    expect(echo.headers["signet-monitor"]).toBe("reason=path_ambiguous, status=400");
    // A routable path in monitor mode is forwarded canonical, as in enforce mode.
    const fine = await received(await send(new Request("https://signet.example//%61gents/x"), monitor));
    expect(fine.path).toBe("/agents/x");
    expect(fine.echo.headers["signet-monitor"]).toBe("reason=signature_required, status=401");
  });

  it("the attestation covers the canonical path the origin received, not the spelling sent", async () => {
    const { secret, publicJwk } = await attestationKey();
    const attested = gatewayEnv({ ...table.policy, pinned: { [AGENT]: [key.publicJwk] } }, { attestationKey: secret });
    const request = await signed("https://signet.example//%61gents/./x?q=1", { key: key.privateJwk, agent: AGENT });
    const echo = await echoOf(await send(request, attested));
    expect(echo.url).toBe("https://signet.example/agents/x?q=1");
    const options = { keys: publicJwk };
    expect(await verifySignetRequest(requestFromEcho(echo), options)).toMatchObject({ ok: true });
    // The same headers on the spelling the client sent do not verify: the origin is bound to the canonical path.
    const spelled = new Request("https://signet.example/%61gents/x?q=1", { headers: echo.headers });
    expect(await verifySignetRequest(spelled, options)).toMatchObject({ ok: false });
  });
});

describe("deny and allow entries that name an origin cover every key set on it (issue 11 item 10)", () => {
  const BOT = "https://routing-bot.example";
  let botKey: GeneratedKey;
  let partnerKey: GeneratedKey;
  let listEnv: ReturnType<typeof gatewayEnv>;

  beforeAll(async () => {
    [botKey, partnerKey] = await Promise.all([generateAgentKey(), generateAgentKey()]);
    listEnv = gatewayEnv({
      rules: [
        { path: "/agents/*", require: "verified-agent" },
        { path: "/partners/*", require: "verified-agent", allow: ["https://routing-partner.example"] },
      ],
      deny: [BOT],
      pinned: {
        // The same operator's keys under its directory and under two other key set URLs on its origin.
        [BOT]: [botKey.publicJwk],
        [`${BOT}/keys.json`]: [botKey.publicJwk],
        [`${BOT}/other/jwks`]: [botKey.publicJwk],
        // Another origin whose name merely starts like it.
        "https://routing-bot.example.evil.test/keys.json": [botKey.publicJwk],
        "https://routing-partner.example/team/keys.json": [partnerKey.publicJwk],
        "https://routing-partner.example.evil.test/keys.json": [partnerKey.publicJwk],
      },
    });
  });

  it.each([BOT, `${BOT}/keys.json`, `${BOT}/other/jwks`])("a deny of the origin refuses %s", async (agent) => {
    for (const path of ["/agents/x", "/about"]) {
      const request = await signed(`https://signet.example${path}`, { key: botKey.privateJwk, agent });
      await expectProblem(await send(request, listEnv), "agent_denied");
    }
  });

  it("a deny of the origin does not reach another origin", async () => {
    const agent = "https://routing-bot.example.evil.test/keys.json";
    const request = await signed("https://signet.example/agents/x", { key: botKey.privateJwk, agent });
    expect(await forwardedAgent(request, listEnv)).toMatchObject({ agent });
  });

  it("an allow of the origin admits a key set URL on it, and no other origin", async () => {
    const member = "https://routing-partner.example/team/keys.json";
    const request = await signed("https://signet.example/partners/x", { key: partnerKey.privateJwk, agent: member });
    expect(await forwardedAgent(request, listEnv)).toMatchObject({ agent: member });
    const lookalike = "https://routing-partner.example.evil.test/keys.json";
    const other = await signed("https://signet.example/partners/x", { key: partnerKey.privateJwk, agent: lookalike });
    await expectProblem(await send(other, listEnv), "agent_not_allowed");
  });
});
