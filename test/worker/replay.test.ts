/**
 * Replay protection with the real Durable Object replay store (SQLite), inside workerd, and bearer-only
 * blocking, through the whole Worker.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AgentKey, type GeneratedKey, generateAgentKey, loadAgentKey } from "../../agent/index.ts";
import { replayKey, shardName } from "../../worker/replay/replay-key.ts";
import type { ReplayStore } from "../../worker/replay/replay-store.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "./gateway/gateway.ts";

const AGENT = "https://replay-agent.example";
/**
 * For the concurrency tests, which assert counts, never time: 1,000 requests took 3.2 s on a quiet 2-core machine
 * and more than the 5 s default on a loaded one.
 */
const LOAD = { timeout: 120_000 };
const OTHER = "https://replay-other.example";

let agent: GeneratedKey;
let agentKey: AgentKey;
let other: GeneratedKey;
let gateway: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  [agent, other] = await Promise.all([generateAgentKey(), generateAgentKey()]);
  agentKey = await loadAgentKey(agent.privateJwk);
  gateway = gatewayEnv({
    rules: [
      { path: "/open/*", require: "none", replay: "enforce" },
      { path: "/nonce/*", require: "verified-agent", nonce: "required" },
      { path: "/fail-open/*", require: "verified-agent", replayStoreFailure: "open" },
      { path: "/api/*", require: "verified-agent", bearer: "require-proof", credentialHeaders: ["x-api-key"] },
      { path: "/*", require: "verified-agent" },
    ],
    pinned: { [AGENT]: [agent.publicJwk], [OTHER]: [other.publicJwk] },
  });
});

afterEach(() => {
  vi.useRealTimers();
});

const request = (path: string, extra: Parameters<typeof signed>[1] extends infer O ? Partial<O> : never = {}) =>
  signed(`https://shop.example${path}`, { key: agentKey, agent: AGENT, ...extra });

describe("replay protection (Durable Object store)", () => {
  it("accepts the first use and refuses the second", async () => {
    const signedRequest = await request("/items/1");
    const first = await echoOf(await send(signedRequest.clone(), gateway));
    expect(verifiedAgentOf(first)?.extra).toMatchObject({ replay: "checked" });
    await expectProblem(await send(signedRequest, gateway), "signature_replayed", { agent: identityOf(AGENT) });
  });

  it("accepts exactly one of 200 concurrent copies of one signed request", LOAD, async () => {
    const signedRequest = await request("/items/concurrent");
    const responses = await Promise.all(Array.from({ length: 200 }, () => send(signedRequest.clone(), gateway)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(199);
    await Promise.all(responses.map((r) => r.body?.cancel()));
  });

  it("accepts 1,000 distinct signed requests", LOAD, async () => {
    const requests = await Promise.all(Array.from({ length: 1000 }, (_, i) => request(`/items/distinct-${i}`)));
    const statuses: number[] = [];
    for (let i = 0; i < requests.length; i += 100) {
      const batch = await Promise.all(requests.slice(i, i + 100).map((r) => send(r, gateway)));
      for (const response of batch) {
        statuses.push(response.status);
        await response.body?.cancel();
      }
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(statuses).toHaveLength(1000);
  });

  it("accepts the same nonce under two different keys", async () => {
    const nonce = `shared-${crypto.randomUUID()}`;
    const fromAgent = await request("/items/shared", { nonce });
    const fromOther = await signed("https://shop.example/items/shared", { key: other.privateJwk, agent: OTHER, nonce });
    expect((await send(fromAgent, gateway)).status).toBe(200);
    expect((await send(fromOther, gateway)).status).toBe(200);
  });

  it("keys signatures without a nonce on what they sign, and refuses them on a route that requires a nonce", async () => {
    const noNonce = await request("/items/no-nonce", { nonce: null });
    expect((await send(noNonce.clone(), gateway)).status).toBe(200);
    await expectProblem(await send(noNonce, gateway), "signature_replayed");
    const body = await expectProblem(
      await send(await request("/nonce/x", { nonce: null }), gateway),
      "signature_invalid",
      {
        signature_error: "missing_required_parameter",
      },
    );
    expect(body.detail).toContain("nonce");
    expect((await send(await request("/nonce/y"), gateway)).status).toBe(200);
  });

  it("enforces on a none route when the rule says so, and skips the check when it says off", async () => {
    const onOpen = await request("/open/x");
    expect((await send(onOpen.clone(), gateway)).status).toBe(200);
    await expectProblem(await send(onOpen, gateway), "signature_replayed");
    const offEnv = gatewayEnv({
      rules: [{ path: "/*", require: "verified-agent", replay: "off" }],
      pinned: { [AGENT]: [agent.publicJwk] },
    });
    const twice = await request("/off");
    expect(verifiedAgentOf(await echoOf(await send(twice.clone(), offEnv)))?.extra).toMatchObject({ replay: "off" });
    expect((await send(twice, offEnv)).status).toBe(200);
  });

  it("keeps a record until expires plus skew, then frees it, and the alarm deletes expired rows", async () => {
    const created = Math.floor(Date.now() / 1000);
    const signedRequest = await request("/items/expiring", { created, validity: 30 });
    const { id, digest } = await replayKey({
      keyid: agent.thumbprint,
      nonce: /nonce="([^"]+)"/.exec(signedRequest.headers.get("signature-input") ?? "")?.[1],
      base: "",
    });
    expect((await send(signedRequest.clone(), gateway)).status).toBe(200);
    const stub = env.REPLAY_STORE.getByName(shardName(digest, 64));
    const row = await runInDurableObject(stub, (_instance: ReplayStore, state) =>
      state.storage.sql.exec<{ exp: number }>("SELECT exp FROM seen WHERE id = ?", id).toArray(),
    );
    // Live through expires + skew (the last second it verifies), free from the second after.
    expect(row).toEqual([{ exp: created + 30 + 60 + 1 }]);
    expect(await stub.claim(id, created + 500, created + 90)).toBe(false);
    expect(await stub.claim(id, created + 500, created + 91)).toBe(true);
    expect(await stub.claim(id, created + 500, created + 92)).toBe(false);

    await runInDurableObject(stub, (_instance: ReplayStore, state) => {
      state.storage.sql.exec("INSERT INTO seen (id, exp) VALUES ('old-1', 1), ('old-2', 2)");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, (_instance: ReplayStore, state) =>
      state.storage.sql.exec<{ id: string }>("SELECT id FROM seen ORDER BY id").toArray(),
    );
    expect(left.map((r) => r.id)).toContain(id);
    expect(left.map((r) => r.id)).not.toContain("old-1");
    expect(left.map((r) => r.id)).not.toContain("old-2");
    const alarm = await runInDurableObject(stub, (_instance: ReplayStore, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    // The alarm runs a minute past the earliest expiry, so a clock a little ahead never deletes a live record.
    expect(alarm as number).toBeLessThanOrEqual((created + 500 + 60) * 1000);
  });

  it("fails closed with 503 when the store cannot answer, and a fail-open rule forwards marked unchecked", async () => {
    const broken = {
      ...gateway,
      REPLAY_STORE: { getByName: () => ({ claimBatch: () => Promise.reject(new Error("down")) }) },
    };
    await expectProblem(await send(await request("/items/store-down"), broken), "replay_store_unavailable");
    const echo = await echoOf(await send(await request("/fail-open/x"), broken));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT), extra: { replay: "unchecked" } });
  });

  it("treats a store that does not answer in time as unavailable", async () => {
    const hanging = {
      ...gatewayEnv({
        rules: [{ path: "/*", require: "verified-agent" }],
        pinned: { [AGENT]: [agent.publicJwk] },
        replay: { timeoutMs: 100 },
      }),
      REPLAY_STORE: { getByName: () => ({ claimBatch: () => new Promise<boolean[]>(() => undefined) }) },
    };
    await expectProblem(await send(await request("/items/hang"), hanging), "replay_store_unavailable");
  });
});

describe("bearer-only blocking", () => {
  it("refuses a bearer token with no signature, asking for one that covers Authorization", async () => {
    const bare = new Request("https://shop.example/api/orders", { headers: { authorization: "Bearer t0k3n" } });
    const response = await send(bare, gateway);
    expect(response.headers.get("accept-signature")).toContain('"authorization"');
    const body = await expectProblem(response, "bearer_without_proof");
    expect(body.detail).toContain("authorization");
  });

  it("does not count a signature that leaves Authorization uncovered as proof", async () => {
    const uncovered = await request("/api/orders", {
      headers: { authorization: "Bearer t0k3n" },
      coverAuthorization: false,
    });
    await expectProblem(await send(uncovered, gateway), "bearer_without_proof");
  });

  it("accepts a token bound by a covering signature, and says so in Verified-Agent", async () => {
    const bound = await request("/api/orders", { headers: { authorization: "Bearer t0k3n" } });
    const echo = await echoOf(await send(bound, gateway));
    expect(verifiedAgentOf(echo)).toMatchObject({
      agent: identityOf(AGENT),
      extra: { bearer: "bound", replay: "checked" },
    });
    expect(echo.headers.authorization).toBe("Bearer t0k3n");
  });

  it("treats a listed API-key header as a credential too", async () => {
    const uncovered = await request("/api/keys", { headers: { "x-api-key": "k-1" } });
    await expectProblem(await send(uncovered, gateway), "bearer_without_proof");
    const covered = await request("/api/keys", { headers: { "x-api-key": "k-1" }, cover: ['"x-api-key"'] });
    expect((await send(covered, gateway)).status).toBe(200);
  });

  it("leaves routes without bearer: require-proof alone, but never marks an uncovered token as bound", async () => {
    const uncovered = await request("/elsewhere", {
      headers: { authorization: "Bearer t0k3n" },
      coverAuthorization: false,
    });
    const echo = await echoOf(await send(uncovered, gateway));
    expect(verifiedAgentOf(echo)?.extra?.bearer).toBeUndefined();
  });
});
