/**
 * Monitor mode through the whole Worker: requests that enforce mode refuses are forwarded, with `Signet-Monitor`
 * saying what enforce mode would have answered (`reason` and `status`), covered by the attestation, and with no
 * `Verified-Agent`.
 */
import { parseDictionary, Token } from "structured-headers";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { verifySignetRequest } from "../../../origin/index.ts";
import type { Jwk } from "../../../worker/rfc9421/index.ts";
import {
  attestationKey,
  echoOf,
  expectProblem,
  gatewayEnv,
  keySetUrl,
  requestFromEcho,
  send,
  signed,
  verifiedAgentOf,
} from "./gateway.ts";

const AGENT = "https://monitored-agent.example";
const OUTSIDER = "https://outsider-agent.example";

let agentKey: GeneratedKey;
let outsiderKey: GeneratedKey;
let enforce: ReturnType<typeof gatewayEnv>;
let monitor: ReturnType<typeof gatewayEnv>;
let signetPublicJwk: Jwk;

beforeAll(async () => {
  [agentKey, outsiderKey] = await Promise.all([generateAgentKey(), generateAgentKey()]);
  const { secret, publicJwk } = await attestationKey();
  signetPublicJwk = publicJwk;
  const policy = {
    rules: [
      { path: "/agents/*", require: "verified-agent" },
      { path: "/partners/*", require: "verified-agent", allow: [AGENT] },
    ],
    deny: ["https://denied-agent.example"],
    pinned: { [AGENT]: [agentKey.publicJwk], [OUTSIDER]: [outsiderKey.publicJwk] },
    discovery: { unsafeAllowLoopback: true },
  };
  enforce = gatewayEnv(policy, { attestationKey: secret });
  monitor = gatewayEnv({ ...policy, mode: "monitor" }, { attestationKey: secret });
});

/** The `Signet-Monitor` members as plain values. */
function monitorMembers(value: string | undefined): Record<string, unknown> {
  expect(value).toBeDefined();
  const members: Record<string, unknown> = {};
  for (const [name, [item]] of parseDictionary(value as string)) {
    members[name] = item instanceof Token ? item.toString() : item;
  }
  return members;
}

/** Requests enforce mode refuses, built fresh for each send. */
const REFUSED: ReadonlyArray<readonly [reason: string, status: number, make: () => Promise<Request>]> = [
  ["signature_required", 401, async () => new Request("https://signet.example/agents/data")],
  [
    "signature_invalid",
    401,
    async () =>
      new Request(
        "https://signet.example/agents/elsewhere",
        await signed("https://signet.example/agents/data", { key: agentKey.privateJwk, agent: AGENT }),
      ),
  ],
  [
    "signature_expired",
    401,
    async () =>
      signed("https://signet.example/agents/data", {
        key: agentKey.privateJwk,
        agent: AGENT,
        created: Math.floor(Date.now() / 1000) - 3600,
        validity: 60,
      }),
  ],
  [
    "agent_unverified",
    401,
    async () =>
      signed("https://signet.example/agents/data", { key: agentKey.privateJwk, agent: keySetUrl("nope").url }),
  ],
  [
    "agent_not_allowed",
    403,
    async () => signed("https://signet.example/partners/data", { key: outsiderKey.privateJwk, agent: OUTSIDER }),
  ],
];

describe("what enforce mode refuses, monitor mode forwards with Signet-Monitor", () => {
  it.each(REFUSED)("%s (%i)", async (reason, status, make) => {
    await expectProblem(await send(await make(), enforce), reason as never);

    const response = await send(await make(), monitor);
    expect(response.headers.get("content-type")).toContain("application/json"); // the origin's answer
    const echo = await echoOf(response);
    expect(monitorMembers(echo.headers["signet-monitor"])).toEqual({ reason, status });
    expect(echo.headers["verified-agent"]).toBeUndefined();

    const attested = await verifySignetRequest(requestFromEcho(echo), { keys: signetPublicJwk });
    expect(attested).toMatchObject({ ok: true, agent: null, monitor: echo.headers["signet-monitor"] });
    expect(echo.headers["signature-input"]).toMatch(/signet=\([^)]*"signet-monitor"\)/);
  });

  it("a rewritten Signet-Monitor breaks the attestation", async () => {
    const echo = await echoOf(await send(new Request("https://signet.example/agents/data"), monitor));
    const edited = requestFromEcho({
      ...echo,
      headers: { ...echo.headers, "signet-monitor": "reason=agent_denied, status=403" },
    });
    expect(await verifySignetRequest(edited, { keys: signetPublicJwk })).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
    });
    const dropped = { ...echo.headers };
    delete dropped["signet-monitor"];
    expect(
      await verifySignetRequest(requestFromEcho({ ...echo, headers: dropped }), { keys: signetPublicJwk }),
    ).toMatchObject({ ok: false, reason: "attestation_invalid" });
  });
});

describe("what enforce mode accepts, monitor mode forwards unchanged", () => {
  it("a verified agent: Verified-Agent, no Signet-Monitor", async () => {
    const request = await signed("https://signet.example/partners/data", { key: agentKey.privateJwk, agent: AGENT });
    const echo = await echoOf(await send(request, monitor));
    expect(verifiedAgentOf(echo)?.keyid).toBe(agentKey.thumbprint);
    expect(echo.headers["signet-monitor"]).toBeUndefined();
    expect(await verifySignetRequest(requestFromEcho(echo), { keys: signetPublicJwk })).toMatchObject({
      ok: true,
      monitor: null,
    });
  });

  it("an anonymous request on a route that requires nothing: neither header", async () => {
    const echo = await echoOf(await send(new Request("https://signet.example/about"), monitor));
    expect(echo.headers["signet-monitor"]).toBeUndefined();
    expect(echo.headers["verified-agent"]).toBeUndefined();
  });
});
