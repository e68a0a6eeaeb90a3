/**
 * Rotating Signet's attestation key (docs/origin-developers.md, "Rotating Signet's key"): requests go through the
 * whole Worker attesting with the old key and then with the new one, and the origin helpers (Fetch and Hono; the
 * Node helper compiles its keys with the same code) accept both while both are listed, and refuse the old key's
 * attestations once it is removed. The table covers every (listed keys, attesting key) pair of a rotation, for a
 * verified agent and an anonymous request with a body.
 */
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../agent/index.ts";
import {
  type SignetOriginEnv,
  type SignetVerifyOptions,
  signetOrigin,
  verifySignetRequest,
} from "../../origin/index.ts";
import { type Jwk, jwkThumbprint } from "../../worker/rfc9421/index.ts";
import { attestationKey, echoOf, gatewayEnv, requestFromEcho, send, signed } from "./gateway/gateway.ts";

const AGENT = "https://rotation-agent.example";

interface SignetKey {
  readonly env: ReturnType<typeof gatewayEnv>;
  readonly publicJwk: Jwk;
  readonly keyid: string;
}

let agentKey: GeneratedKey;
let oldKey: SignetKey;
let newKey: SignetKey;

async function signetKey(): Promise<SignetKey> {
  const { secret, publicJwk } = await attestationKey();
  const env = gatewayEnv(
    { rules: [{ path: "/agents/*", require: "verified-agent" }], pinned: { [AGENT]: [agentKey.publicJwk] } },
    { attestationKey: secret },
  );
  return { env, publicJwk, keyid: await jwkThumbprint(publicJwk) };
}

beforeAll(async () => {
  agentKey = await generateAgentKey();
  oldKey = await signetKey();
  newKey = await signetKey();
});

/** The request the origin receives when Signet attests with `key`. */
async function atOrigin(key: SignetKey, kind: "agent" | "anonymous"): Promise<Request> {
  const request =
    kind === "agent"
      ? await signed("https://signet.example/agents/report?y=1", { key: agentKey.privateJwk, agent: AGENT })
      : new Request("https://signet.example/public/form", { method: "POST", body: "a=1" });
  return requestFromEcho(await echoOf(await send(request, key.env)));
}

const STAGES = [
  ["before the rotation", ["old"], { old: true, new: false }],
  ["while both keys are listed", ["old", "new"], { old: true, new: true }],
  ["after the old key is removed", ["new"], { old: false, new: true }],
] as const;

describe("attestation key rotation through the whole Worker", () => {
  const keysOf = (names: readonly ("old" | "new")[]) =>
    names.map((name) => (name === "old" ? oldKey.publicJwk : newKey.publicJwk));

  describe.each(STAGES)("%s", (_stage, listed, accepts) => {
    it.each(["agent", "anonymous"] as const)("verifySignetRequest judges each key's %s attestation", async (kind) => {
      const options: SignetVerifyOptions = { keys: keysOf(listed) };
      for (const name of ["old", "new"] as const) {
        const key = name === "old" ? oldKey : newKey;
        const result = await verifySignetRequest(await atOrigin(key, kind), options);
        if (accepts[name]) {
          expect(result).toMatchObject({ ok: true, keyid: key.keyid });
          if (result.ok)
            expect(result.agent?.agent ?? null).toBe(
              kind === "agent" ? `${AGENT}/.well-known/http-message-signatures-directory` : null,
            );
        } else {
          expect(result).toMatchObject({ ok: false, reason: "attestation_invalid" });
        }
      }
    });

    it("signetOrigin (Hono) judges each key's attestation the same way", async () => {
      let handled = 0;
      const app = new Hono<SignetOriginEnv>();
      app.use("*", signetOrigin({ keys: keysOf(listed), allowAnonymous: false }));
      app.all("*", (c) => {
        handled++;
        return c.json({ agent: c.get("signetAgent")?.agent ?? null });
      });
      let expected = 0;
      for (const name of ["old", "new"] as const) {
        const response = await app.request(await atOrigin(name === "old" ? oldKey : newKey, "agent"));
        if (accepts[name]) {
          expected++;
          expect(response.status).toBe(200);
        } else {
          expect(response.status).toBe(401);
          expect(await response.json()).toMatchObject({ reason: "attestation_invalid" });
        }
      }
      expect(handled).toBe(expected);
    });
  });

  it("a single key given without a list is the same as a list of one", async () => {
    const request = await atOrigin(newKey, "agent");
    expect(await verifySignetRequest(request, { keys: newKey.publicJwk })).toMatchObject({
      ok: true,
      keyid: newKey.keyid,
    });
    const old = await atOrigin(oldKey, "agent");
    expect(await verifySignetRequest(old, { keys: newKey.publicJwk })).toMatchObject({
      ok: false,
      reason: "attestation_invalid",
    });
  });
});
