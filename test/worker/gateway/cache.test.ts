/**
 * The key directory cache seen through the whole Worker: requests share what a fetch settled (keys, failures),
 * never a fetch in flight, and a refresh that fails later keeps the keys already held (stale keys beat no keys).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  directory,
  echoOf,
  expectProblem,
  fetchCount,
  gatewayEnv,
  keySetUrl,
  loadAgentKey,
  send,
  signed,
  verifiedAgentOf,
} from "./gateway.ts";

const { a, b } = directory;
const env = gatewayEnv({
  rules: [{ path: "/agents/*", require: "verified-agent" }],
  discovery: { unsafeAllowLoopback: true },
});

/** `n` requests signed by `key` for one agent, each with its own path and nonce, sent at once. */
async function burst(n: number, agent: string, privateJwk = a.privateJwk): Promise<Response[]> {
  const key = await loadAgentKey(privateJwk);
  const requests = await Promise.all(
    Array.from({ length: n }, (_, i) => signed(`https://signet.example/agents/item/${i}`, { key, agent })),
  );
  return Promise.all(requests.map((request) => send(request, env)));
}

afterEach(() => {
  vi.useRealTimers();
});

describe("requests share settled results, never a fetch in flight", () => {
  it("30 concurrent requests from a new agent each fetch at most once, and all verify; later ones fetch nothing", async () => {
    const set = keySetUrl("valid", { delay: "100" });
    const responses = await burst(30, set.url);
    const agents = await Promise.all(responses.map(async (r) => verifiedAgentOf(await echoOf(r))));
    expect(agents.map((v) => v?.agent)).toEqual(Array(30).fill(set.url));
    expect(new Set(agents.map((v) => v?.keyid))).toEqual(new Set([a.thumbprint]));
    const fetched = await fetchCount(set.path);
    expect(fetched).toBeGreaterThanOrEqual(1);
    expect(fetched).toBeLessThanOrEqual(30);
    await burst(10, set.url);
    expect(await fetchCount(set.path)).toBe(fetched);
  });

  it("30 concurrent requests for a failing directory each fetch at most once; the failure is then remembered", async () => {
    const set = keySetUrl("status", { code: "500", delay: "100" });
    for (const response of await burst(30, set.url)) {
      await expectProblem(response, "agent_unverified", { discovery_error: "directory_rejected" });
    }
    const fetched = await fetchCount(set.path);
    expect(fetched).toBeLessThanOrEqual(30);
    for (const response of await burst(10, set.url)) {
      await expectProblem(response, "agent_unverified", { discovery_error: "directory_rejected" });
    }
    expect(await fetchCount(set.path)).toBe(fetched);
  });

  it("a second agent key from the same directory is served from the cache", async () => {
    const set = keySetUrl("valid");
    await burst(1, set.url, a.privateJwk);
    await burst(5, set.url, a.privateJwk);
    const second = await burst(5, set.url, b.privateJwk);
    for (const response of second) expect(verifiedAgentOf(await echoOf(response))?.keyid).toBe(b.thumbprint);
    expect(await fetchCount(set.path)).toBe(1);
  });
});

describe("a later failure keeps the keys already held", () => {
  it("after the set goes stale and its refresh answers 500, the agent still verifies with the old keys", async () => {
    const set = keySetUrl("flaky", { fail: "2" }); // the second fetch of this path answers 500
    await burst(1, set.url);
    const first = await burst(10, set.url);
    for (const response of first) expect(verifiedAgentOf(await echoOf(response))?.agent).toBe(set.url);
    expect(await fetchCount(set.path)).toBe(1);

    // Two hours on, past the directory's max-age=3600: the held set is stale and must be refreshed.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2 * 3600 * 1000);
    await burst(1, set.url); // this request's refresh fails; it is served the old keys
    const second = await burst(10, set.url);
    for (const response of second) expect(verifiedAgentOf(await echoOf(response))?.keyid).toBe(a.thumbprint);
    expect(await fetchCount(set.path)).toBe(2); // the refresh was tried (once) and failed

    // Within the failure's backoff nothing is fetched, and the old keys keep serving.
    const third = await burst(3, set.url, b.privateJwk);
    for (const response of third) expect(verifiedAgentOf(await echoOf(response))?.keyid).toBe(b.thumbprint);
    expect(await fetchCount(set.path)).toBe(2);
  });
});
