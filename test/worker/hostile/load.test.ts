/**
 * Bounded load, in-process: 1,000 concurrent distinct signed requests all pass, and 1,000 concurrent copies of
 * one signed request pass exactly once, both at the same moment and both while the agent's key directory is
 * being refreshed (the refresh answers slowly, so every request waits on the one refresh in flight).
 *
 * Two ways into the refresh: the clock moved past the directory's max-age (the held set is stale), and a new key
 * that the held set does not list yet (a forced refetch, `rotate-add`). Requests are signed before the burst and
 * sent through `app.fetch` to the in-process echo origin, whose echo proves which request was forwarded.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AgentKey, loadAgentKey } from "../../../agent/index.ts";
import type { EchoedRequest } from "../../../worker/demo-origin.ts";
import { stats } from "../discovery/server.ts";
import { directory, expectProblem, fetchCount, gatewayEnv, keySetUrl, send, signed } from "../gateway/gateway.ts";

const N = 1000;
/** How long the directory takes to answer each fetch, refreshes included. */
const DIRECTORY_DELAY_MS = 600;
const TIMEOUT = 240_000;

let a: AgentKey;
let b: AgentKey;
const env = gatewayEnv({
  rules: [{ path: "/agents/*", require: "verified-agent" }],
  discovery: { unsafeAllowLoopback: true },
  // 2,000 requests at once in one isolate queue on the Cache API tier before their fetch: this suite is about
  // replay and sharing under load, not the per-request deadline (budget.test.ts covers that).
  budget: { deadlineMs: 20_000 },
});

beforeAll(async () => {
  [a, b] = await Promise.all([loadAgentKey(directory.a.privateJwk), loadAgentKey(directory.b.privateJwk)]);
});

afterEach(() => {
  vi.useRealTimers();
});

interface Burst {
  readonly distinct: ReadonlyArray<{ path: string; response: Response }>;
  readonly copies: readonly Response[];
  readonly copyPath: string;
}

/** Signs `N` distinct requests (with `distinctKey`) and one request copied `N` times (with `copyKey`), then sends all at once. */
async function burst(agent: string, distinctKey: AgentKey, copyKey: AgentKey): Promise<Burst> {
  const tag = crypto.randomUUID();
  const paths = Array.from({ length: N }, (_, i) => `/agents/load-${tag}/${i}`);
  const distinct = await Promise.all(
    paths.map((p) => signed(`https://signet.example${p}`, { key: distinctKey, agent })),
  );
  const copyPath = `/agents/load-${tag}/copied`;
  const original = await signed(`https://signet.example${copyPath}`, { key: copyKey, agent });
  const copies = Array.from({ length: N }, () => original.clone());
  const [distinctResponses, copyResponses] = await Promise.all([
    Promise.all(distinct.map((r) => send(r, env))),
    Promise.all(copies.map((r) => send(r, env))),
  ]);
  return {
    distinct: distinctResponses.map((response, i) => ({ path: paths[i] as string, response })),
    copies: copyResponses,
    copyPath,
  };
}

/**
 * All distinct requests forwarded (each its own), exactly one copy forwarded, the rest refused as replays. With
 * `retryable`, distinct requests refused as `agent_unverified`/`key_not_found` (they arrived while another
 * request's refetch was under way, and requests never wait on each other) are allowed; the count is returned.
 */
async function expectBurstOutcome(result: Burst, retryable = false): Promise<number> {
  const distinct = await Promise.all(
    result.distinct.map(async ({ path, response }) => ({ path, status: response.status, text: await response.text() })),
  );
  const refusedDistinct = distinct.filter((d) => d.status !== 200);
  if (retryable) {
    for (const d of refusedDistinct) {
      expect(JSON.parse(d.text)).toMatchObject({ reason: "agent_unverified", discovery_error: "key_not_found" });
    }
  } else {
    expect(refusedDistinct.map((d) => `${d.status} ${d.text.slice(0, 200)}`)).toEqual([]);
  }
  for (const d of distinct.filter((x) => x.status === 200)) {
    expect(new URL((JSON.parse(d.text) as EchoedRequest).url).pathname).toBe(d.path);
  }

  const accepted = result.copies.filter((r) => r.status === 200);
  expect(accepted).toHaveLength(1);
  expect(new URL(((await (accepted[0] as Response).json()) as EchoedRequest).url).pathname).toBe(result.copyPath);
  const refused = result.copies.filter((r) => r.status !== 200);
  expect(refused).toHaveLength(N - 1);
  for (const response of refused) await expectProblem(response, "signature_replayed");
  return refusedDistinct.length;
}

describe(`${N} distinct and ${N} copied requests while a directory refresh is in flight`, () => {
  it(
    "the held set went stale (clock moved past max-age): all wait on one slow refresh",
    async () => {
      const set = keySetUrl("valid", { delay: String(DIRECTORY_DELAY_MS) });
      const warm = await signed("https://signet.example/agents/warm", { key: a, agent: set.url });
      expect((await send(warm, env)).status).toBe(200);
      expect(await fetchCount(set.path)).toBe(1);

      // Two hours on, past the directory's max-age=3600: the next lookup refreshes, and the refresh takes 600 ms.
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + 2 * 3600 * 1000);
      const result = await burst(set.url, b, a);

      await expectBurstOutcome(result);
      expect(await fetchCount(set.path)).toBe(2);
      // One request refreshed and waited for the slow answer to its end (the directory saw no client leave); the
      // others were served the stale set meanwhile, waiting on nobody else's fetch.
      expect((await stats(set.path)).aborted).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "a new key not yet in the held set (rotate-add): one forced refetch, while the copies use the held key",
    async () => {
      const set = keySetUrl("rotate-add", { delay: String(DIRECTORY_DELAY_MS) }); // first a, then a and b
      const warm = await signed("https://signet.example/agents/warm", { key: a, agent: set.url });
      expect((await send(warm, env)).status).toBe(200);

      const result = await burst(set.url, b, a);

      const refused = await expectBurstOutcome(result, true);
      expect(await fetchCount(set.path)).toBe(2);
      expect((await stats(set.path)).aborted).toBe(0);
      // Those refused while the refetch was under way verify on retry, with no further fetch.
      const retries = await Promise.all(
        Array.from({ length: refused }, (_, i) =>
          signed(`https://signet.example/agents/retry-${crypto.randomUUID()}/${i}`, { key: b, agent: set.url }),
        ),
      );
      for (const response of await Promise.all(retries.map((r) => send(r, env)))) expect(response.status).toBe(200);
      expect(await fetchCount(set.path)).toBe(2);
    },
    TIMEOUT,
  );
});
