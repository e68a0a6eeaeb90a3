/**
 * The one key-lookup layer on an injected clock and a stub fetch: a table of events (what is asked, by which
 * request, at what time) and what each costs (fetches) and answers (code). Plus the properties that make it safe
 * to share across requests: a request never waits on another's fetch, and an older answer never replaces a newer.
 */
import { describe, expect, it } from "vitest";
import {
  createKeyLookup,
  createRequestBudget,
  type DocumentSpec,
  type FetchFunction,
  type RequestBudget,
} from "../../../worker/discovery/index.ts";

const URL_A = "https://agent.example/keys.json";

/** A spec whose documents are the body text itself. */
const TEXT: DocumentSpec<string> = {
  namespace: "test-text",
  fetch: { kind: "jwks" },
  vet: async (raw) =>
    raw.text.startsWith("bad") ? { ok: false, code: "directory_invalid" } : { ok: true, data: raw.text },
};

function harness(answers: (n: number) => Response | Promise<Response>) {
  let clock = 1_000_000;
  let fetches = 0;
  const fetch: FetchFunction = async () => answers(++fetches);
  const lookup = createKeyLookup({ fetch, now: () => clock, random: () => 0, cache: null });
  return {
    lookup,
    fetches: () => fetches,
    advance: (seconds: number) => {
      clock += seconds * 1000;
    },
    budget: (limits: Partial<{ maxLabels: number; maxFetches: number; deadlineMs: number }> = {}) =>
      createRequestBudget({ maxLabels: 8, maxFetches: 8, deadlineMs: 3000, ...limits }, () => clock),
  };
}

const json = (body: string, status = 200) =>
  new Response(body, { status, headers: { "content-type": "application/jwk-set+json" } });

type Step =
  | { readonly ask: "use" | "unknown-key"; readonly request: number; readonly fetches: number; readonly code: string }
  | { readonly advance: number };

const TABLE: ReadonlyArray<readonly [string, (n: number) => Response, readonly Step[]]> = [
  [
    "a held document is fetched once, then served",
    () => json("v1"),
    [
      { ask: "use", request: 1, fetches: 1, code: "ok" },
      { ask: "use", request: 2, fetches: 1, code: "ok" },
    ],
  ],
  [
    "an unknown key never refetches in the request whose own fetch missed; once per cooldown otherwise",
    () => json("v1"),
    [
      { ask: "use", request: 1, fetches: 1, code: "ok" },
      { ask: "unknown-key", request: 1, fetches: 1, code: "ok" },
      { ask: "unknown-key", request: 2, fetches: 2, code: "ok" },
      { ask: "unknown-key", request: 3, fetches: 2, code: "ok" },
      { advance: 29 },
      { ask: "unknown-key", request: 4, fetches: 2, code: "ok" },
      { advance: 2 },
      { ask: "unknown-key", request: 5, fetches: 3, code: "ok" },
    ],
  ],
  [
    "a failure is remembered with backoff and never evicts nothing into a success",
    (n) => (n === 1 ? json("x", 500) : json("v2")),
    [
      { ask: "use", request: 1, fetches: 1, code: "directory_rejected" },
      { ask: "use", request: 2, fetches: 1, code: "directory_rejected" },
      { advance: 31 },
      { ask: "use", request: 3, fetches: 2, code: "ok" },
    ],
  ],
  [
    "a document that fails vetting is directory_invalid",
    () => json("bad document"),
    [{ ask: "use", request: 1, fetches: 1, code: "directory_invalid" }],
  ],
  [
    "a stale copy keeps serving while its refresh fails",
    (n) => (n === 1 ? json("v1") : json("x", 503)),
    [
      { ask: "use", request: 1, fetches: 1, code: "ok" },
      { advance: 61 },
      { ask: "use", request: 2, fetches: 2, code: "ok" },
      { ask: "use", request: 3, fetches: 2, code: "ok" },
    ],
  ],
];

describe("key lookups as a table (time, request, fetches, code)", () => {
  it.each(TABLE)("%s", async (_what, answers, steps) => {
    const h = harness(answers);
    const budgets = new Map<number, RequestBudget>();
    for (const step of steps) {
      if ("advance" in step) {
        h.advance(step.advance);
        continue;
      }
      let budget = budgets.get(step.request);
      if (budget === undefined) {
        budget = h.budget();
        budgets.set(step.request, budget);
      }
      const loaded = await h.lookup.load(TEXT, URL_A, "the set", budget, step.ask);
      expect({ fetches: h.fetches(), code: loaded.ok ? "ok" : loaded.code }).toEqual({
        fetches: step.fetches,
        code: step.code,
      });
    }
  });

  it("fetch_limit and deadline_exceeded refuse without fetching, and are not remembered against the document", async () => {
    const h = harness(() => json("v1"));
    expect(await h.lookup.load(TEXT, URL_A, "the set", h.budget({ maxFetches: 0 }))).toMatchObject({
      ok: false,
      code: "fetch_limit",
    });
    const late = h.budget({ deadlineMs: 100 });
    h.advance(1);
    expect(await h.lookup.load(TEXT, URL_A, "the set", late)).toMatchObject({ ok: false, code: "deadline_exceeded" });
    expect(h.fetches()).toBe(0);
    expect(await h.lookup.load(TEXT, URL_A, "the set", h.budget())).toMatchObject({ ok: true, data: "v1" });
    expect(h.fetches()).toBe(1);
  });

  it("egress_refused for a URL Signet may not fetch, with no fetch", async () => {
    const h = harness(() => json("v1"));
    expect(await h.lookup.load(TEXT, "http://10.0.0.1/keys", "the set", h.budget())).toMatchObject({
      code: "egress_refused",
    });
    expect(h.fetches()).toBe(0);
  });
});

describe("what requests share", () => {
  it("a request never waits on another request's fetch in flight", async () => {
    // The first request's fetch never settles (its request context ended); a later request fetches on its own.
    const h = harness((n) => (n === 1 ? new Promise<Response>(() => {}) : json("v1")));
    const stuck = h.lookup.load(TEXT, URL_A, "the set", h.budget());
    await new Promise((resolve) => setTimeout(resolve, 0));
    const second = await h.lookup.load(TEXT, URL_A, "the set", h.budget());
    expect(second).toMatchObject({ ok: true, data: "v1" });
    expect(h.fetches()).toBe(2);
    void stuck;
  });

  it("within one request, lookups of one document share one fetch", async () => {
    const h = harness(() => json("v1"));
    const budget = h.budget();
    const all = await Promise.all(Array.from({ length: 10 }, () => h.lookup.load(TEXT, URL_A, "the set", budget)));
    expect(all.every((l) => l.ok)).toBe(true);
    expect(h.fetches()).toBe(1);
    expect(budget.fetchesStarted).toBe(1);
  });

  it("an older answer never replaces a newer one", async () => {
    let releaseOld: (r: Response) => void = () => {};
    const h = harness((n) => (n === 1 ? new Promise<Response>((resolve) => (releaseOld = resolve)) : json("new")));
    const old = h.lookup.load(TEXT, URL_A, "the set", h.budget());
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await h.lookup.load(TEXT, URL_A, "the set", h.budget())).toMatchObject({ data: "new" });
    releaseOld(json("old"));
    expect(await old).toMatchObject({ data: "new" });
    expect(await h.lookup.load(TEXT, URL_A, "the set", h.budget())).toMatchObject({ data: "new" });
  });

  it("failure messages are Signet's own words about the caller's name, never the server's bytes", async () => {
    const h = harness(() => new Response("SECRET-BODY", { status: 418, headers: { "content-type": "text/secret" } }));
    const loaded = await h.lookup.load(TEXT, URL_A, "the set", h.budget());
    expect(loaded).toMatchObject({ ok: false, code: "directory_rejected" });
    expect(!loaded.ok && loaded.message).toBe(
      "the set was not served as a usable key set (status, media type or size)",
    );
  });
});
