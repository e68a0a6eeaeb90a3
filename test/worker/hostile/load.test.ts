/**
 * Bounded load, in-process: 1,000 concurrent distinct signed requests all pass, and 1,000 concurrent copies of
 * one signed request pass exactly once, both at the same moment and both while the agent's key directory is
 * being refreshed (the refresh answers slowly, so every request waits on the one refresh in flight).
 *
 * Two ways into the refresh: the clock moved past the directory's max-age (the held set is stale), and a new key
 * that the held set does not list yet (a forced refetch, `rotate-add`). Requests are signed before the burst and
 * sent through `app.fetch` to the in-process echo origin, whose echo proves which request was forwarded.
 *
 * The tests assert outcomes and counts, never time: that every request waited on the one refresh is proven by
 * which keys verified and how often the directory was fetched, not by how long the burst took. A loaded machine
 * only makes them slower, so they give themselves minutes.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AgentKey, loadAgentKey } from "../../../agent/index.ts";
import type { EchoedRequest } from "../../../worker/demo-origin.ts";
import { directory, expectProblem, fetchCount, gatewayEnv, keySetUrl, send, signed } from "../gateway/gateway.ts";

const N = 1000;
/** How long the directory takes to answer each fetch, refreshes included: the refresh is in flight for a while. */
const DIRECTORY_DELAY_MS = 600;
/** Requests signed with the key the refreshed directory no longer lists, sent with the burst. */
const RETIRED = 100;
/** Generous: 2,000 signatures and 2,000 requests on a 2-core machine shared with other test runs. */
const TIMEOUT = 240_000;

let a: AgentKey;
let b: AgentKey;
const env = gatewayEnv({
  rules: [{ path: "/agents/*", require: "verified-agent" }],
  discovery: { unsafeAllowLoopback: true },
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
  /** The answers to `alongside`, in order. */
  readonly alongside: readonly Response[];
}

/**
 * Signs `N` distinct requests (with `distinctKey`) and one request copied `N` times (with `copyKey`), then sends
 * all of them, and the `alongside` requests, at once.
 */
async function burst(
  agent: string,
  distinctKey: AgentKey,
  copyKey: AgentKey,
  alongside: readonly Request[] = [],
): Promise<Burst> {
  const tag = crypto.randomUUID();
  const paths = Array.from({ length: N }, (_, i) => `/agents/load-${tag}/${i}`);
  const distinct = await Promise.all(
    paths.map((p) => signed(`https://signet.example${p}`, { key: distinctKey, agent })),
  );
  const copyPath = `/agents/load-${tag}/copied`;
  const original = await signed(`https://signet.example${copyPath}`, { key: copyKey, agent });
  const copies = Array.from({ length: N }, () => original.clone());
  const [distinctResponses, copyResponses, alongsideResponses] = await Promise.all([
    Promise.all(distinct.map((r) => send(r, env))),
    Promise.all(copies.map((r) => send(r, env))),
    Promise.all(alongside.map((r) => send(r, env))),
  ]);
  return {
    distinct: distinctResponses.map((response, i) => ({ path: paths[i] as string, response })),
    copies: copyResponses,
    copyPath,
    alongside: alongsideResponses,
  };
}

/** All distinct requests forwarded (each its own), exactly one copy forwarded, the rest refused as replays. */
async function expectBurstOutcome(result: Burst): Promise<void> {
  const distinct = await Promise.all(
    result.distinct.map(async ({ path, response }) => ({ path, status: response.status, text: await response.text() })),
  );
  expect(distinct.filter((d) => d.status !== 200).map((d) => `${d.status} ${d.text.slice(0, 200)}`)).toEqual([]);
  for (const d of distinct) expect(new URL((JSON.parse(d.text) as EchoedRequest).url).pathname).toBe(d.path);

  const accepted = result.copies.filter((r) => r.status === 200);
  expect(accepted).toHaveLength(1);
  expect(new URL(((await (accepted[0] as Response).json()) as EchoedRequest).url).pathname).toBe(result.copyPath);
  const refused = result.copies.filter((r) => r.status !== 200);
  expect(refused).toHaveLength(N - 1);
  for (const response of refused) await expectProblem(response, "signature_replayed");
}

describe(`${N} distinct and ${N} copied requests while a directory refresh is in flight`, () => {
  it(
    "the held set went stale (clock moved past max-age): all wait on one slow refresh, none is served the stale set",
    async () => {
      // The directory lists a, then (from its second fetch on) only b: a request that passes with a was served
      // the stale set, one that passes with b waited for the refresh.
      const set = keySetUrl("rotate", { delay: String(DIRECTORY_DELAY_MS) });
      const warm = await signed("https://signet.example/agents/warm", { key: a, agent: set.url });
      expect((await send(warm, env)).status).toBe(200);
      expect(await fetchCount(set.path)).toBe(1);

      // Two hours on, past the directory's max-age=3600: the next lookup refreshes, and the refresh is slow.
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + 2 * 3600 * 1000);
      const retired = await Promise.all(
        Array.from({ length: RETIRED }, (_, i) =>
          signed(`https://signet.example/agents/retired/${i}`, { key: a, agent: set.url }),
        ),
      );
      const result = await burst(set.url, b, b, retired);
      const retiredResponses = result.alongside;

      // Every b request passed: all distinct, exactly one copy.
      await expectBurstOutcome(result);
      // No request was served the stale set while it was being refreshed: every a request is refused, because
      // each waited for the refresh (which no longer lists a) instead of being answered from the stale set.
      expect(retiredResponses.map((r) => r.status)).toEqual(Array.from({ length: RETIRED }, () => 401));
      for (const response of retiredResponses) await expectProblem(response, "agent_unverified");
      // Three fetches in all: the first, the one refresh of the stale set that all 2,100 requests waited on, and
      // the one forced refetch the retired key may cause per cooldown (the other a requests wait on it too).
      expect(await fetchCount(set.path)).toBe(3);
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

      // Every distinct request is signed with b, which only the refetched set lists: all of them passing with one
      // fetch more proves they all waited on the one refetch in flight.
      await expectBurstOutcome(result);
      expect(await fetchCount(set.path)).toBe(2);
    },
    TIMEOUT,
  );
});
