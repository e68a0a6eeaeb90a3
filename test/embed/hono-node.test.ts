/**
 * Embedding in Node (issue 15 item 2): the documented example `docs/examples/hono-node.ts`, run as written (its
 * `signet-edge/middleware` import resolves to `worker/embed.ts`), with only a policy and the process-local
 * replay store; every option of `signetMiddleware` checked at construction; the process-local store's guarantees.
 */
import fc from "fast-check";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentKey, loadAgentKey, signRequest, webBotAuthProfile } from "../../agent/index.ts";
import demoKey from "../../demo/agent-key.json" with { type: "json" };
import { app, DEMO_AGENT, policy } from "../../docs/examples/hono-node.ts";
import {
  createProcessLocalReplayStore,
  type SignetMiddlewareOptions,
  type SignetVariables,
  signetMiddleware,
} from "../../worker/embed.ts";
import { PolicyError, parsePolicy } from "../../worker/policy/parse-policy.ts";
import { REJECTION_REASONS } from "../../worker/reasons.ts";
import type { Jwk } from "../../worker/rfc9421/index.ts";

let key: AgentKey;

beforeAll(async () => {
  key = await loadAgentKey(demoKey as Jwk);
});

const sign = (url: string) => signRequest(new Request(url), { key, profile: webBotAuthProfile({ agent: DEMO_AGENT }) });

async function problem(response: Response, reason: keyof typeof REJECTION_REASONS) {
  expect(response.status).toBe(REJECTION_REASONS[reason].status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = (await response.json()) as { reason: string; detail: string };
  expect(body.reason).toBe(reason);
  return body;
}

describe("docs/examples/hono-node.ts, run in Node", () => {
  it("verifies a signed request with the pinned demo key built from the policy alone", async () => {
    const response = await app.fetch(await sign("https://site.example/api/hello"));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      hello: `${DEMO_AGENT}/.well-known/http-message-signatures-directory`,
    });
  });

  it("refuses the replay of a signed request (process-local store)", async () => {
    const request = await sign("https://site.example/api/hello");
    expect((await app.fetch(request.clone())).status).toBe(200);
    await problem(await app.fetch(request), "signature_replayed");
  });

  it("refuses an unsigned request on the protected route, and lets it through on the open one", async () => {
    await problem(await app.fetch(new Request("https://site.example/api/hello")), "signature_required");
    const open = await app.fetch(new Request("https://site.example/"));
    expect(open.status).toBe(200);
    expect(await open.text()).toBe("open to everyone");
  });

  it("without allowTestKeys the same pinned demo key is refused (the policy's switch is honoured)", async () => {
    const strict = new Hono<{ Variables: SignetVariables }>();
    strict.use(
      "*",
      signetMiddleware({
        policy: JSON.stringify({ ...policy, allowTestKeys: false }),
        replayStore: createProcessLocalReplayStore(),
      }),
    );
    strict.get("/api/hello", (c) => c.text("reached"));
    const response = await strict.fetch(await sign("https://site.example/api/hello"));
    expect(response.status).not.toBe(200);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });

  it("with no replay store, a route that enforces replay fails closed (503), never open", async () => {
    const bare = new Hono<{ Variables: SignetVariables }>();
    bare.use("*", signetMiddleware({ policy: JSON.stringify(policy) }));
    bare.get("/api/hello", (c) => c.text("reached"));
    await problem(await bare.fetch(await sign("https://site.example/api/hello")), "replay_store_unavailable");
  });
});

describe("signetMiddleware checks every option when it is built", () => {
  const text = JSON.stringify(policy);
  const bad: Array<[string, unknown, typeof TypeError | typeof PolicyError]> = [
    ["no options", undefined, TypeError],
    ["options not an object", "policy", TypeError],
    ["an unknown option (a typo)", { policy: text, replaystore: {} }, TypeError],
    ["no policy", {}, TypeError],
    ["policy a number", { policy: 7 }, TypeError],
    ["policy an unparsed object", { policy }, TypeError],
    ["policy JSON that is invalid", { policy: '{"rules":[{"path":"x"}]}' }, PolicyError],
    ["keys without findKey", { policy: text, keys: {} }, TypeError],
    ["aauthKeys not an object", { policy: text, aauthKeys: "yes" }, TypeError],
    ["replayStore neither a store nor a namespace", { policy: text, replayStore: { get: () => 1 } }, TypeError],
    ["replayStore a string", { policy: text, replayStore: "REPLAY_STORE" }, TypeError],
    ["now not a function", { policy: text, now: 1700000000 }, TypeError],
  ];
  it.each(bad)("%s", (_, options, error) => {
    expect(() => signetMiddleware(options as SignetMiddlewareOptions)).toThrow(error);
  });

  it("accepts a parsed policy, a replay store, a Durable Object namespace and a clock", () => {
    const parsed = parsePolicy(text);
    const namespace = { getByName: () => ({ claimBatch: async () => [true] }) };
    expect(() => signetMiddleware({ policy: parsed, replayStore: createProcessLocalReplayStore() })).not.toThrow();
    expect(() => signetMiddleware({ policy: parsed, replayStore: namespace, now: () => 1 })).not.toThrow();
  });
});

describe("the process-local replay store", () => {
  const claim = (id: string, expiresAt: number) => ({ id, digest: new Uint8Array(32), expiresAt });

  it("answers exactly one first use per live record, for random concurrent claims", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 200 }), async (ids) => {
        const store = createProcessLocalReplayStore();
        const verdicts = (await Promise.all(ids.map((id) => store.claim([claim(String(id), 200)], 100)))).flat();
        const first = ids.filter((_, i) => verdicts[i] === "first-use");
        expect(first.length).toBe(new Set(ids).size);
        expect(new Set(first).size).toBe(first.length);
        expect(verdicts.every((v) => v === "first-use" || v === "replayed")).toBe(true);
      }),
    );
  });

  it("keeps a record while the clock is below its expiry, and lets it be taken over from then on", async () => {
    const store = createProcessLocalReplayStore();
    expect(await store.claim([claim("a", 110)], 100)).toEqual(["first-use"]);
    expect(await store.claim([claim("a", 120)], 109)).toEqual(["replayed"]);
    expect(await store.claim([claim("a", 120)], 110)).toEqual(["first-use"]);
    expect(await store.claim([claim("a", 130), claim("a", 130)], 111)).toEqual(["replayed", "replayed"]);
  });

  it("when full of live records refuses new claims (unavailable) rather than evicting one; expired ones are swept", async () => {
    const store = createProcessLocalReplayStore({ maxRecords: 2 });
    expect(await store.claim([claim("a", 110), claim("b", 200)], 100)).toEqual(["first-use", "first-use"]);
    expect(await store.claim([claim("c", 200)], 100)).toEqual(["unavailable"]);
    expect(await store.claim([claim("a", 200)], 105)).toEqual(["replayed"]);
    expect(await store.claim([claim("c", 200)], 110)).toEqual(["first-use"]);
    expect(store.size).toBe(2);
  });

  it("refuses an unusable maxRecords", () => {
    for (const maxRecords of [0, -1, 1.5, Number.NaN]) {
      expect(() => createProcessLocalReplayStore({ maxRecords })).toThrow(TypeError);
    }
  });
});
