/**
 * Keys past their `exp` through the whole Worker: a signature by a listed key whose `exp` has passed is not
 * attributed to the agent (issue 11, item 9: the key-set parser ignored `exp`).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { expectProblem, gatewayEnv, send, signed } from "./gateway.ts";

const AGENT = "https://expiring-agent.internal";
const NOW = Math.floor(Date.now() / 1000);

let key: GeneratedKey;

beforeAll(async () => {
  key = await generateAgentKey();
});

const envWith = (listed: object) =>
  gatewayEnv({ rules: [{ path: "/agents/*", require: "verified-agent" }], pinned: { [AGENT]: [listed] } });

describe("a key past its exp", () => {
  it("is not attributed: agent_unverified with discovery_error key_not_found; before its exp it is", async () => {
    const request = () => signed("https://signet.example/agents/x", { key: key.privateJwk, agent: AGENT });
    const live = await send(await request(), envWith({ ...key.publicJwk, exp: NOW + 3600 }));
    expect(live.status).toBe(200);
    await live.body?.cancel();
    const expired = await send(await request(), envWith({ ...key.publicJwk, exp: NOW - 3600 }));
    await expectProblem(expired, "agent_unverified", { discovery_error: "key_not_found" });
    const early = await send(await request(), envWith({ ...key.publicJwk, nbf: NOW + 3600 }));
    await expectProblem(early, "agent_unverified", { discovery_error: "key_not_found" });
  });
});
