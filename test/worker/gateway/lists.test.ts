/**
 * Allow and deny lists through the whole Worker, with pinned agents: a route's allow list refuses every other
 * verified agent (403 agent_not_allowed); a denied agent is refused everywhere, even on a route that requires
 * nothing (403 agent_denied); listed agents pass with their identity.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { echoOf, expectProblem, forwardedAgent, gatewayEnv, identityOf, send, signed } from "./gateway.ts";

const PARTNER = "https://partner.example";
const STRANGER = "https://stranger.example";
const BANNED = "https://banned.example";
const LOCAL_BAN = "https://banned-from-partners.example";

const keys: Record<string, GeneratedKey> = {};
let env: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  for (const agent of [PARTNER, STRANGER, BANNED, LOCAL_BAN]) keys[agent] = await generateAgentKey();
  env = gatewayEnv({
    rules: [
      // The banned agents are on the allow list too: deny wins.
      { path: "/partners/*", require: "verified-agent", allow: [PARTNER, BANNED, LOCAL_BAN], deny: [LOCAL_BAN] },
      { path: "/agents/*", require: "verified-agent" },
    ],
    deny: [BANNED],
    pinned: Object.fromEntries(Object.entries(keys).map(([agent, key]) => [agent, [key.publicJwk]])),
  });
});

function as(agent: string, path: string): Promise<Request> {
  return signed(`https://signet.example${path}`, { key: (keys[agent] as GeneratedKey).privateJwk, agent });
}

describe("a route's allow list", () => {
  it("passes a listed agent with its identity", async () => {
    expect(await forwardedAgent(await as(PARTNER, "/partners/orders"), env)).toMatchObject({
      agent: identityOf(PARTNER),
      keyid: (keys[PARTNER] as GeneratedKey).thumbprint,
    });
  });

  it("refuses an unlisted verified agent with 403 agent_not_allowed, naming it", async () => {
    const body = await expectProblem(await send(await as(STRANGER, "/partners/orders"), env), "agent_not_allowed", {
      agent: identityOf(STRANGER),
      label: "sig1",
      instance: "/partners/orders",
    });
    expect(body.signature_error).toBeUndefined();
  });

  it("does not apply to other routes: the unlisted agent passes elsewhere", async () => {
    expect(await forwardedAgent(await as(STRANGER, "/agents/orders"), env)).toMatchObject({
      agent: identityOf(STRANGER),
    });
    expect(await forwardedAgent(await as(STRANGER, "/about"), env)).toMatchObject({ agent: identityOf(STRANGER) });
  });

  it("lets an unsigned request on a route that requires nothing pass as anonymous", async () => {
    const echo = await echoOf(await send(new Request("https://signet.example/about"), env));
    expect(echo.headers["verified-agent"]).toBeUndefined();
  });
});

describe("deny lists", () => {
  it.each([
    ["a route that requires nothing", "/about"],
    ["a verified-agent route", "/agents/orders"],
    ["a route whose allow list names it", "/partners/orders"],
  ])("the policy's deny list refuses the agent on %s (403 agent_denied)", async (_what, path) => {
    await expectProblem(await send(await as(BANNED, path), env), "agent_denied", { agent: identityOf(BANNED) });
  });

  it("a route's deny list refuses the agent there only", async () => {
    await expectProblem(await send(await as(LOCAL_BAN, "/partners/orders"), env), "agent_denied", {
      agent: identityOf(LOCAL_BAN),
    });
    expect(await forwardedAgent(await as(LOCAL_BAN, "/agents/orders"), env)).toMatchObject({
      agent: identityOf(LOCAL_BAN),
    });
  });
});

describe("the policy-wide allow list", () => {
  it("on a verified-agent route refuses agents it does not list; on a none route they pass without identity", async () => {
    const strict = gatewayEnv({
      rules: [{ path: "/agents/*", require: "verified-agent" }],
      allow: [PARTNER],
      pinned: Object.fromEntries(Object.entries(keys).map(([agent, key]) => [agent, [key.publicJwk]])),
    });
    await expectProblem(await send(await as(STRANGER, "/agents/x"), strict), "agent_not_allowed");
    expect(await forwardedAgent(await as(PARTNER, "/agents/x"), strict)).toMatchObject({
      agent: identityOf(PARTNER),
    });
    const echo = await echoOf(await send(await as(STRANGER, "/about"), strict));
    expect(echo.headers["verified-agent"]).toBeUndefined();
  });
});
