import { describe, expect, it } from "vitest";
import {
  type AgentReference,
  createKeyDirectoryCache,
  DIRECTORY_MEDIA_TYPE,
  type FetchFunction,
  type KeyDirectoryCacheOptions,
  type KeyLookup,
  unlimitedBudget,
} from "../../../worker/discovery/index.ts";
import { importSigningKey, type Jwk } from "../../../worker/rfc9421/index.ts";
import { agentFor, ManualClock, scenarioUrl, server, stats, statsEventually } from "./server.ts";

const { a, b } = server;

/** A cache on a manual clock, without the shared tier and without jitter, allowed to reach the local server. */
function makeCache(options: KeyDirectoryCacheOptions = {}) {
  const clock = new ManualClock();
  const keys = createKeyDirectoryCache({
    unsafeAllowLoopback: true,
    cache: null,
    now: clock.now,
    random: () => 0,
    ...options,
  });
  return { clock, keys };
}

async function count(path: string): Promise<number> {
  return (await stats(path)).count;
}

function expectKey(lookup: KeyLookup, thumbprint: string): void {
  expect(lookup.ok ? lookup.key.keyid : `${lookup.code}: ${lookup.message}`).toBe(thumbprint);
}

function expectCode(lookup: KeyLookup, code: string): void {
  expect(lookup.ok ? "ok" : lookup.code).toBe(code);
}

/** Checks that a looked-up key really is the server's key: it verifies what that key signed. */
async function verifiesWith(lookup: KeyLookup, privateJwk: Jwk): Promise<boolean> {
  if (!lookup.ok) return false;
  const data = new TextEncoder().encode(`"@authority": signet.example\n"@signature-params": ${crypto.randomUUID()}`);
  const signature = await (await importSigningKey(privateJwk)).sign(data);
  return lookup.key.verify(data, signature);
}

describe("key lookups", () => {
  it("finds both keys of a valid directory with one fetch, and they verify", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("valid");
    const agent = agentFor(url);
    const first = await keys.findKey(agent, a.thumbprint);
    expectKey(first, a.thumbprint);
    expect(first.ok && first.agent).toBe(agent);
    expect(first.ok && first.pinned).toBe(false);
    expect(await verifiesWith(first, a.privateJwk)).toBe(true);
    expect(await verifiesWith(first, b.privateJwk)).toBe(false);
    const second = await keys.findKey(agent, b.thumbprint);
    expect(await verifiesWith(second, b.privateJwk)).toBe(true);
    expect(await count(path)).toBe(1);
    expect(keys.size).toBe(1);
  });

  it("refuses a URL the egress guard refuses, without fetching", async () => {
    const { keys } = makeCache({ unsafeAllowLoopback: false });
    const { url, path } = scenarioUrl("valid");
    const lookup = await keys.findKey(agentFor(url), a.thumbprint);
    expectCode(lookup, "egress_refused");
    expect(await count(path)).toBe(0);
    expectCode(await keys.findKey(agentFor("https://10.0.0.1/keys"), a.thumbprint), "egress_refused");
  });

  it("answers key_not_found for a keyid the set does not list, never refetching right after the fetch that missed", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("valid");
    const lookup = await keys.findKey(agentFor(url), "unknown-keyid");
    expectCode(lookup, "key_not_found");
    expect(!lookup.ok && lookup.message).toContain('no key with keyid "unknown-keyid"');
    expect(await count(path)).toBe(1);
    // A later request may refetch once for it (the key may have been added since).
    expectCode(await keys.findKey(agentFor(url), "unknown-keyid"), "key_not_found");
    expect(await count(path)).toBe(2);
    expectCode(await keys.findKey(agentFor(url), "unknown-keyid"), "key_not_found");
    expect(await count(path)).toBe(2);
  });

  it("never answers from another URL's keys", async () => {
    const { keys } = makeCache();
    const valid = scenarioUrl("valid");
    const empty = scenarioUrl("empty");
    expectKey(await keys.findKey(agentFor(valid.url), a.thumbprint), a.thumbprint);
    expectCode(await keys.findKey(agentFor(empty.url), a.thumbprint), "key_not_found");
  });

  const failures: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
    ["status", { code: "404" }, "directory_rejected"],
    ["status", { code: "500" }, "directory_rejected"],
    ["redirect", {}, "directory_rejected"],
    ["wrong-type", { type: "text/html" }, "directory_rejected"],
    ["malformed", {}, "directory_rejected"],
    ["huge", {}, "directory_rejected"],
    ["not-jwks", {}, "directory_invalid"],
    ["private", {}, "directory_invalid"],
    ["too-many", {}, "directory_invalid"],
    ["reset", {}, "directory_unreachable"],
    ["slow-headers", { delay: "5000" }, "directory_unreachable"],
    ["trickle", {}, "directory_unreachable"],
  ];
  it.each(failures)(
    "reports %s %o as %s, a hanging server cut off by the timeout",
    async (scenario, query, code) => {
      const { keys } = makeCache({ timeoutMs: 300 });
      const { url, path } = scenarioUrl(scenario, query);
      const result = await keys.findKey(agentFor(url), a.thumbprint);
      expectCode(result, code);
      expect(!result.ok && result.message).toContain(url.split("?")[0]);
      // Bounded means: the servers that never finish were given up on by the 300 ms deadline, not waited out.
      if (scenario === "slow-headers" || scenario === "trickle") {
        expect(!result.ok && result.message).toContain("could not be fetched in time");
        expect((await statsEventually(path, (s) => s.aborted > 0)).aborted).toBe(1);
      }
      expect(await count(path)).toBe(1);
    },
    30_000,
  );

  it("ignores a key whose kid is not its thumbprint at the well-known location, not in a JWK Set", async () => {
    const { keys } = makeCache({ lenientDirectoryMediaType: true });
    const { url } = scenarioUrl("kid-mismatch");
    const refused = await keys.findKey(agentFor(url), a.thumbprint);
    expectCode(refused, "directory_invalid");
    // What the directory said about the key is not repeated to clients.
    expect(!refused.ok && refused.message).not.toContain("thumbprint");
    expectKey(await keys.findKey(agentFor(url), b.thumbprint), b.thumbprint);
    expectKey(await keys.findKey(agentFor(url, "jwks"), a.thumbprint), a.thumbprint);
    expectKey(await keys.findKey(agentFor(url, "jwks"), "not-the-thumbprint"), a.thumbprint);
  });

  it("finds JWK Set keys by kid as well as by thumbprint, and only for the jwks kind", async () => {
    const { keys } = makeCache();
    const { url } = scenarioUrl("jwks");
    expectKey(await keys.findKey(agentFor(url, "jwks"), "agent-key-1"), a.thumbprint);
    expectKey(await keys.findKey(agentFor(url, "jwks"), b.thumbprint), b.thumbprint);
    // The same URL taken as a well-known directory: served as application/jwk-set+json, so refused.
    expectCode(await keys.findKey(agentFor(url, "directory"), a.thumbprint), "directory_rejected");
  });

  it("does not resolve a kid shared by two keys", async () => {
    const { keys } = makeCache();
    const { url } = scenarioUrl("duplicate-kids");
    expectCode(await keys.findKey(agentFor(url, "jwks"), "shared-kid"), "key_not_found");
    expectKey(await keys.findKey(agentFor(url, "jwks"), a.thumbprint), a.thumbprint);
    expectKey(await keys.findKey(agentFor(url, "jwks"), b.thumbprint), b.thumbprint);
  });

  it("skips a weak key and keeps the others", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("weak");
    const weak = await keys.findKey(agentFor(url), server.weakThumbprint);
    expectCode(weak, "directory_invalid");
    expect(!weak.ok && weak.message).toContain("is not a valid key set");
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expect(await count(path)).toBe(1); // a refused key is known: no refetch
  });

  it("refuses the RFC 9421 test key unless allowTestKeys", async () => {
    const { url } = scenarioUrl("test-keys");
    const strict = makeCache().keys;
    expectCode(await strict.findKey(agentFor(url), server.testKeyThumbprint), "test_key_refused");
    expectKey(await strict.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    const loose = makeCache({ allowTestKeys: true }).keys;
    expectKey(await loose.findKey(agentFor(url), server.testKeyThumbprint), server.testKeyThumbprint);
  });
});

describe("coalescing (within one request's budget; requests never share a fetch in flight)", () => {
  it("makes one fetch for 50 concurrent lookups of one request", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("valid", { delay: "200" });
    const budget = unlimitedBudget();
    const lookups = await Promise.all(
      Array.from({ length: 50 }, (_, i) => keys.findKey(agentFor(url), i % 2 ? a.thumbprint : b.thumbprint, budget)),
    );
    expect(lookups.every((l) => l.ok)).toBe(true);
    expect(await count(path)).toBe(1);
  });

  it("makes one refetch for 50 concurrent lookups of an unknown keyid", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("valid", { delay: "100" });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    const budget = unlimitedBudget();
    const lookups = await Promise.all(
      Array.from({ length: 50 }, (_, i) => keys.findKey(agentFor(url), `unknown-${i}`, budget)),
    );
    expect(lookups.every((l) => !l.ok && l.code === "key_not_found")).toBe(true);
    expect(await count(path)).toBe(2);
  });

  it("makes one fetch for 50 concurrent lookups of a failing set", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("status", { code: "503", delay: "100" });
    const budget = unlimitedBudget();
    const lookups = await Promise.all(
      Array.from({ length: 50 }, () => keys.findKey(agentFor(url), a.thumbprint, budget)),
    );
    expect(lookups.every((l) => !l.ok && l.code === "directory_rejected")).toBe(true);
    expect(await count(path)).toBe(1);
  });

  it("gives a new key found by one lookup's refetch to lookups that waited for it", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("rotate-add", { delay: "100" });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    const budget = unlimitedBudget();
    const lookups = await Promise.all(
      Array.from({ length: 20 }, () => keys.findKey(agentFor(url), b.thumbprint, budget)),
    );
    expect(lookups.every((l) => l.ok)).toBe(true);
    expect(await count(path)).toBe(2);
  });
});

describe("freshness", () => {
  async function refetchAfter(cc: string, seconds: number): Promise<[number, number]> {
    const { keys, clock } = makeCache();
    const { url, path } = scenarioUrl("valid", { cc });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    clock.advance(seconds - 1);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    const before = await count(path);
    clock.advance(1);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    return [before, await count(path)];
  }

  it("honours max-age", async () => {
    expect(await refetchAfter("max-age=600", 600)).toEqual([1, 2]);
  });

  it("clamps max-age to at least 60 s", async () => {
    expect(await refetchAfter("max-age=5", 60)).toEqual([1, 2]);
    expect(await refetchAfter("max-age=0", 60)).toEqual([1, 2]);
  });

  it("clamps max-age to at most 24 h", async () => {
    expect(await refetchAfter("max-age=31536000", 86_400)).toEqual([1, 2]);
  });

  it("uses s-maxage, and 60 s for no-store, no-cache or no Cache-Control", async () => {
    expect(await refetchAfter("s-maxage=900, max-age=60", 900)).toEqual([1, 2]);
    expect(await refetchAfter("no-store", 60)).toEqual([1, 2]);
    expect(await refetchAfter("no-cache", 60)).toEqual([1, 2]);
    expect(await refetchAfter("none", 60)).toEqual([1, 2]);
  });

  it("honours configured bounds", async () => {
    const { keys, clock } = makeCache({ minTtlSeconds: 10, maxTtlSeconds: 20 });
    const { url, path } = scenarioUrl("valid", { cc: "max-age=3600" });
    await keys.findKey(agentFor(url), a.thumbprint);
    clock.advance(20);
    await keys.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2);
  });

  it("picks up rotated keys once the set is stale, and drops the removed key", async () => {
    const { keys, clock } = makeCache();
    const { url, path } = scenarioUrl("rotate", { cc: "max-age=120" });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    clock.advance(120);
    expectKey(await keys.findKey(agentFor(url), b.thumbprint), b.thumbprint);
    expect(await count(path)).toBe(2);
    // The directory resolved without `a`: that is evidence, and `a` no longer verifies.
    expectCode(await keys.findKey(agentFor(url), a.thumbprint), "key_not_found");
  });

  it("picks up a new key before the TTL through the unknown-keyid refetch", async () => {
    const { keys } = makeCache();
    const { url, path } = scenarioUrl("rotate-add", { cc: "max-age=86400" });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expectKey(await keys.findKey(agentFor(url), b.thumbprint), b.thumbprint);
    expect(await count(path)).toBe(2);
  });
});

describe("unknown keyid cooldown", () => {
  it("refetches at most once per 30 s per key set", async () => {
    const { keys, clock } = makeCache();
    const { url, path } = scenarioUrl("valid");
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expectCode(await keys.findKey(agentFor(url), "x1"), "key_not_found");
    expect(await count(path)).toBe(2);
    expectCode(await keys.findKey(agentFor(url), "x2"), "key_not_found");
    clock.advance(29);
    expectCode(await keys.findKey(agentFor(url), "x3"), "key_not_found");
    expect(await count(path)).toBe(2);
    clock.advance(1);
    expectCode(await keys.findKey(agentFor(url), "x4"), "key_not_found");
    expect(await count(path)).toBe(3);
    // Known keys never refetch.
    for (let i = 0; i < 10; i++) expectKey(await keys.findKey(agentFor(url), b.thumbprint), b.thumbprint);
    expect(await count(path)).toBe(3);
  });

  it("keeps the cooldown per key set", async () => {
    const { keys } = makeCache({ unknownKeyCooldownSeconds: 5 });
    const one = scenarioUrl("valid");
    const two = scenarioUrl("valid");
    expectCode(await keys.findKey(agentFor(one.url), "x"), "key_not_found");
    expectCode(await keys.findKey(agentFor(two.url), "x"), "key_not_found");
    expect([await count(one.path), await count(two.path)]).toEqual([1, 1]);
    expectCode(await keys.findKey(agentFor(one.url), "x"), "key_not_found");
    expect([await count(one.path), await count(two.path)]).toEqual([2, 1]);
    expectCode(await keys.findKey(agentFor(two.url), "x"), "key_not_found");
    expect([await count(one.path), await count(two.path)]).toEqual([2, 2]);
  });
});

describe("failures", () => {
  it("negative-caches a failure with backoff, never longer than 5 minutes", async () => {
    const { keys, clock } = makeCache();
    const { url, path } = scenarioUrl("status", { code: "500" });
    const lookup = () => keys.findKey(agentFor(url), a.thumbprint);
    expectCode(await lookup(), "directory_rejected");
    expectCode(await lookup(), "directory_rejected");
    clock.advance(29);
    expectCode(await lookup(), "directory_rejected");
    expect(await count(path)).toBe(1);
    clock.advance(1); // the first backoff: 30 s
    expectCode(await lookup(), "directory_rejected");
    expect(await count(path)).toBe(2);
    clock.advance(59); // the second: 60 s
    await lookup();
    expect(await count(path)).toBe(2);
    clock.advance(1);
    await lookup();
    expect(await count(path)).toBe(3);
    // 120, 240, then capped at 300 s for good: every 300 s there is exactly one new attempt.
    for (let attempt = 4; attempt <= 10; attempt++) {
      clock.advance(300);
      expectCode(await lookup(), "directory_rejected");
      await lookup();
      expect(await count(path)).toBe(attempt);
    }
  });

  it("takes a lower negative TTL", async () => {
    const { keys, clock } = makeCache({ negativeTtlSeconds: 10 });
    const { url, path } = scenarioUrl("status", { code: "404" });
    for (let i = 1; i <= 4; i++) {
      await keys.findKey(agentFor(url), a.thumbprint);
      expect(await count(path)).toBe(i);
      clock.advance(10);
    }
  });

  it("honours Retry-After up to the negative TTL", async () => {
    const { keys, clock } = makeCache();
    const { url, path } = scenarioUrl("status", { code: "503", "retry-after": "120" });
    await keys.findKey(agentFor(url), a.thumbprint);
    clock.advance(119);
    await keys.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(1);
    clock.advance(1);
    await keys.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2);

    const capped = makeCache();
    const long = scenarioUrl("status", { code: "503", "retry-after": "86400" });
    await capped.keys.findKey(agentFor(long.url), a.thumbprint);
    capped.clock.advance(300);
    await capped.keys.findKey(agentFor(long.url), a.thumbprint);
    expect(await count(long.path)).toBe(2);
  });

  it("jitters the backoff downwards by at most 20 %", async () => {
    const { keys, clock } = makeCache({ random: () => 0.5 });
    const { url, path } = scenarioUrl("status", { code: "500" });
    await keys.findKey(agentFor(url), a.thumbprint);
    clock.advance(26);
    await keys.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(1);
    clock.advance(1); // 30 s × (1 − 0.2 × 0.5)
    await keys.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2);
  });

  it("keeps serving held keys while refreshes fail, then takes the next good set", async () => {
    const { keys, clock } = makeCache();
    const { url, path } = scenarioUrl("flaky", { cc: "max-age=60", fail: "2,3,4" });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    clock.advance(60);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint); // refresh 2 fails: stale keys
    expectKey(await keys.findKey(agentFor(url), b.thumbprint), b.thumbprint);
    expect(await count(path)).toBe(2);
    // An unknown keyid while refreshing fails reports the failure, not key_not_found.
    const unknown = await keys.findKey(agentFor(url), "new-key");
    expectCode(unknown, "directory_rejected");
    expect(!unknown.ok && unknown.message).toContain("refreshing it failed");
    expect(await count(path)).toBe(2);
    clock.advance(30);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint); // refresh 3 fails
    clock.advance(60);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint); // refresh 4 fails
    expect(await count(path)).toBe(4);
    clock.advance(120);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint); // refresh 5 succeeds
    expect(await count(path)).toBe(5);
    clock.advance(30);
    expectCode(await keys.findKey(agentFor(url), "new-key"), "key_not_found");
    expect(await count(path)).toBe(6);
  });

  it("keeps held keys when the refreshed set is invalid", async () => {
    const directory = JSON.stringify({ keys: [a.publicJwk] });
    let calls = 0;
    const fetch: FetchFunction = async () => {
      calls += 1;
      const body = calls === 1 ? directory : JSON.stringify({ keys: [{ ...a.publicJwk, d: "leaked" }] });
      return new Response(body, { headers: { "content-type": DIRECTORY_MEDIA_TYPE, "cache-control": "max-age=60" } });
    };
    const { keys, clock } = makeCache({ fetch, unsafeAllowLoopback: false });
    const agent = agentFor("https://agent.example/.well-known/http-message-signatures-directory");
    expectKey(await keys.findKey(agent, a.thumbprint), a.thumbprint);
    clock.advance(60);
    expectKey(await keys.findKey(agent, a.thumbprint), a.thumbprint);
    expect(calls).toBe(2);
    expectCode(await keys.findKey(agent, "other"), "directory_invalid");
  });

  it("turns a fetch that throws synchronously into directory_unreachable", async () => {
    const fetch: FetchFunction = () => {
      throw new Error("synchronous failure");
    };
    const { keys } = makeCache({ fetch });
    const lookup = await keys.findKey(agentFor("https://agent.example/keys", "jwks"), a.thumbprint);
    expectCode(lookup, "directory_unreachable");
    expect(!lookup.ok && lookup.message).not.toContain("synchronous failure");
  });
});

describe("pinned key sets", () => {
  it("are never fetched", async () => {
    const { url, path } = scenarioUrl("valid");
    const { keys, clock } = makeCache({ pinned: new Map([[url, [a.publicJwk]]]) });
    const lookup = await keys.findKey(agentFor(url), a.thumbprint);
    expectKey(lookup, a.thumbprint);
    expect(lookup.ok && lookup.pinned).toBe(true);
    expect(await verifiesWith(lookup, a.privateJwk)).toBe(true);
    expectCode(await keys.findKey(agentFor(url), b.thumbprint), "key_not_found");
    clock.advance(10 * 86_400);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expectCode(await keys.findKey(agentFor(url), "unknown"), "key_not_found");
    expect(await count(path)).toBe(0);
    expect(keys.size).toBe(0);
  });

  it("work for URLs the egress guard would refuse, matched after URL normalisation", async () => {
    const { keys } = makeCache({
      unsafeAllowLoopback: false,
      pinned: new Map([["HTTPS://Agent.Example:443/keys", [a.publicJwk]]]),
    });
    expectKey(await keys.findKey(agentFor("https://agent.example/keys"), a.thumbprint), a.thumbprint);
    const internal = makeCache({ pinned: new Map([["http://10.0.0.1/keys", [b.publicJwk]]]) }).keys;
    expectKey(await internal.findKey(agentFor("http://10.0.0.1/keys"), b.thumbprint), b.thumbprint);
  });

  it("match a kid only for jwks agents", async () => {
    const url = "https://agent.example/jwks.json";
    const { keys } = makeCache({ pinned: new Map([[url, [{ ...a.publicJwk, kid: "k1" }]]]) });
    expectKey(await keys.findKey(agentFor(url, "jwks"), "k1"), a.thumbprint);
    expectCode(await keys.findKey(agentFor(url, "directory"), "k1"), "key_not_found");
    expectKey(await keys.findKey(agentFor(url, "directory"), a.thumbprint), a.thumbprint);
  });

  it("vet their keys like fetched ones", async () => {
    const url = "https://agent.example/jwks.json";
    const testKey: Jwk = { kty: "OKP", crv: "Ed25519", x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" };
    const weak: Jwk = { kty: "OKP", crv: "Ed25519", x: "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    const strict = makeCache({ pinned: new Map([[url, [testKey, weak]]]) }).keys;
    expectCode(await strict.findKey(agentFor(url), server.testKeyThumbprint), "test_key_refused");
    expectCode(await strict.findKey(agentFor(url), server.weakThumbprint), "directory_invalid");
    const loose = makeCache({ allowTestKeys: true, pinned: new Map([[url, [testKey]]]) }).keys;
    expectKey(await loose.findKey(agentFor(url), server.testKeyThumbprint), server.testKeyThumbprint);
  });

  it("refuse private keys and malformed configuration at construction", () => {
    const url = "https://agent.example/jwks.json";
    expect(() => createKeyDirectoryCache({ pinned: new Map([[url, [{ ...a.publicJwk, d: "x" }]]]) })).toThrow(
      /pinned.*private key \(member "d"\)/,
    );
    expect(() => createKeyDirectoryCache({ pinned: new Map([["not a url", []]]) })).toThrow(/pinned/);
    expect(() => createKeyDirectoryCache({ pinned: { [url]: [] } as never })).toThrow(/option pinned must be a Map/);
    expect(() => createKeyDirectoryCache({ pinned: new Map([[url, "x" as never]]) })).toThrow(/array of JWKs/);
  });
});

describe("the shared Cache API tier", () => {
  /** Two caches as two isolates: separate memory, one shared Cache. */
  async function isolates(shared: Cache | undefined, options: KeyDirectoryCacheOptions = {}) {
    const base = { unsafeAllowLoopback: true, random: () => 0, ...options };
    const first = createKeyDirectoryCache(shared === undefined ? base : { ...base, cache: shared });
    const second = createKeyDirectoryCache(shared === undefined ? base : { ...base, cache: shared });
    return [first, second] as const;
  }

  it("lets a second isolate use the first one's fetch (explicit Cache)", async () => {
    const [one, two] = await isolates(await caches.open(`discovery-${crypto.randomUUID()}`));
    const { url, path } = scenarioUrl("valid");
    expectKey(await one.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    const lookup = await two.findKey(agentFor(url), b.thumbprint);
    expect(await verifiesWith(lookup, b.privateJwk)).toBe(true);
    expect(await count(path)).toBe(1);
  });

  it("uses caches.default when no cache is given", async () => {
    const [one, two] = await isolates(undefined);
    const { url, path } = scenarioUrl("valid");
    expectKey(await one.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expectKey(await two.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expect(await count(path)).toBe(1);
    const stored = await caches.default.match(new Request(url));
    expect(stored?.headers.get("cache-control")).toMatch(/^max-age=(3599|3600)$/);
    expect(stored?.headers.get("signet-fetched-at")).toMatch(/^\d+$/);
    await stored?.body?.cancel();
  });

  it("stores the clamped lifetime as a synthetic Cache-Control", async () => {
    const shared = await caches.open(`discovery-${crypto.randomUUID()}`);
    const [one] = await isolates(shared);
    const { url } = scenarioUrl("valid", { cc: "max-age=5" });
    await one.findKey(agentFor(url), a.thumbprint);
    const stored = await shared.match(new Request(url));
    expect(stored?.headers.get("cache-control")).toMatch(/^max-age=(59|60)$/);
    expect(await stored?.text()).toContain(a.thumbprint);
  });

  it("keeps no-store responses out of the shared tier", async () => {
    const [one, two] = await isolates(await caches.open(`discovery-${crypto.randomUUID()}`));
    const { url, path } = scenarioUrl("valid", { cc: "no-store" });
    await one.findKey(agentFor(url), a.thumbprint);
    await two.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2);
  });

  it("ignores a shared copy that is stale by the reader's clock", async () => {
    const shared = await caches.open(`discovery-${crypto.randomUUID()}`);
    const later = new ManualClock();
    later.advance(601);
    const one = createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: shared });
    const two = createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: shared, now: later.now });
    const { url, path } = scenarioUrl("valid", { cc: "max-age=600" });
    await one.findKey(agentFor(url), a.thumbprint);
    await two.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2);
  });

  it("re-checks directory signatures on a shared copy", async () => {
    const shared = await caches.open(`discovery-${crypto.randomUUID()}`);
    const [one, two] = [
      createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: shared }),
      createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: shared, requireDirectorySignature: true }),
    ];
    const signed = scenarioUrl("valid");
    await one.findKey(agentFor(signed.url), a.thumbprint);
    expectKey(await two.findKey(agentFor(signed.url), a.thumbprint), a.thumbprint);
    expect(await count(signed.path)).toBe(1);
    // An unsigned copy in the shared tier does not satisfy the stricter isolate, which fetches for itself.
    const unsigned = scenarioUrl("unsigned");
    await one.findKey(agentFor(unsigned.url), a.thumbprint);
    expectCode(await two.findKey(agentFor(unsigned.url), a.thumbprint), "directory_signature_invalid");
    expect(await count(unsigned.path)).toBe(2);
  });

  it("is skipped with cache: null", async () => {
    const one = createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: null });
    const two = createKeyDirectoryCache({ unsafeAllowLoopback: true, cache: null });
    const { url, path } = scenarioUrl("valid");
    await one.findKey(agentFor(url), a.thumbprint);
    await two.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2);
  });
});

describe("bounded memory", () => {
  it("drops the least recently used key set past maxKeySets", async () => {
    const { keys } = makeCache({ maxKeySets: 3 });
    const urls = Array.from({ length: 4 }, () => scenarioUrl("valid"));
    const [u0, u1, u2, u3] = urls as [(typeof urls)[0], (typeof urls)[0], (typeof urls)[0], (typeof urls)[0]];
    await keys.findKey(agentFor(u0.url), a.thumbprint);
    await keys.findKey(agentFor(u1.url), a.thumbprint);
    await keys.findKey(agentFor(u2.url), a.thumbprint);
    await keys.findKey(agentFor(u0.url), a.thumbprint); // u0 becomes the most recent; u1 the least
    await keys.findKey(agentFor(u3.url), a.thumbprint); // evicts u1
    expect(keys.size).toBe(3);
    await keys.findKey(agentFor(u0.url), a.thumbprint);
    await keys.findKey(agentFor(u2.url), a.thumbprint);
    await keys.findKey(agentFor(u3.url), a.thumbprint);
    expect([await count(u0.path), await count(u2.path), await count(u3.path)]).toEqual([1, 1, 1]);
    await keys.findKey(agentFor(u1.url), a.thumbprint);
    expect(await count(u1.path)).toBe(2);
    expect(keys.size).toBe(3);
  });

  it("holds at most 1,000 key sets by default, however many agents come", async () => {
    const body = JSON.stringify({ keys: [a.publicJwk] });
    let calls = 0;
    const fetch: FetchFunction = async () => {
      calls += 1;
      return new Response(body, { headers: { "content-type": DIRECTORY_MEDIA_TYPE } });
    };
    const { keys } = makeCache({ fetch, unsafeAllowLoopback: false });
    const agent = (i: number): AgentReference =>
      agentFor(`https://agent-${i}.example/.well-known/http-message-signatures-directory`);
    for (let i = 0; i < 1500; i++) expectKey(await keys.findKey(agent(i), a.thumbprint), a.thumbprint);
    expect(keys.size).toBe(1000);
    expect(calls).toBe(1500);
    await keys.findKey(agent(1499), a.thumbprint);
    expect(calls).toBe(1500);
    await keys.findKey(agent(0), a.thumbprint);
    expect(calls).toBe(1501);
    expect(keys.size).toBe(1000);
  });
});

describe("directory response signatures", () => {
  it("are not needed by default", async () => {
    const { keys } = makeCache();
    for (const scenario of ["unsigned", "wrong-authority", "expired-sig", "digest-mismatch"]) {
      const { url } = scenarioUrl(scenario);
      expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    }
  });

  it("when required, accept a properly signed directory", async () => {
    const { keys } = makeCache({ requireDirectorySignature: true });
    const { url } = scenarioUrl("valid");
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expectKey(await keys.findKey(agentFor(url), b.thumbprint), b.thumbprint);
  });

  it.each(["unsigned", "wrong-authority", "expired-sig", "future-sig", "digest-mismatch"])(
    "when required, refuse %s with directory_signature_invalid",
    async (scenario) => {
      const { keys } = makeCache({ requireDirectorySignature: true });
      const { url } = scenarioUrl(scenario);
      const lookup = await keys.findKey(agentFor(url), a.thumbprint);
      expectCode(lookup, "directory_signature_invalid");
    },
  );

  it("when required, use only the keys that signed", async () => {
    const { keys } = makeCache({ requireDirectorySignature: true });
    const { url } = scenarioUrl("partial");
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    const unbound = await keys.findKey(agentFor(url), b.thumbprint);
    expectCode(unbound, "directory_signature_invalid");
    expect(!unbound.ok && unbound.message).toContain("no valid directory response signature");
  });

  it("when required, refresh a set whose binding signature expired, and stop using it", async () => {
    const { keys, clock } = makeCache({ requireDirectorySignature: true, clockSkewSeconds: 0 });
    const { url, path } = scenarioUrl("valid", { sigttl: "300", cc: "max-age=3600" });
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    clock.advance(200);
    expectKey(await keys.findKey(agentFor(url), a.thumbprint), a.thumbprint);
    expect(await count(path)).toBe(1);
    clock.advance(110); // past the signatures' expiry, long before max-age
    const lookup = await keys.findKey(agentFor(url), a.thumbprint);
    expect(await count(path)).toBe(2); // refreshed early; the server still signs for 300 s from real time
    expectCode(lookup, "directory_signature_invalid");
    expect(!lookup.ok && lookup.message).toContain("expired");
  });
});

describe("options and arguments", () => {
  it.each([
    ["negativeTtlSeconds", { negativeTtlSeconds: 301 }],
    ["negativeTtlSeconds", { negativeTtlSeconds: -1 }],
    ["timeoutMs", { timeoutMs: 0 }],
    ["timeoutMs", { timeoutMs: Number.NaN }],
    ["maxBytes", { maxBytes: 1.5 }],
    ["maxKeys", { maxKeys: 0 }],
    ["maxKeySets", { maxKeySets: 0 }],
    ["minTtlSeconds", { minTtlSeconds: 100, maxTtlSeconds: 50 }],
    ["unknownKeyCooldownSeconds", { unknownKeyCooldownSeconds: "30" as never }],
    ["fetch", { fetch: "fetch" as never }],
    ["now", { now: 5 as never }],
    ["allowTestKeys", { allowTestKeys: "yes" as never }],
    ["cache", { cache: {} as never }],
    ["userAgent", { userAgent: 1 as never }],
  ])("refuses a bad %s with a TypeError naming it", (name, options) => {
    expect(() => createKeyDirectoryCache(options as KeyDirectoryCacheOptions)).toThrow(TypeError);
    expect(() => createKeyDirectoryCache(options as KeyDirectoryCacheOptions)).toThrow(name);
  });

  it("accepts the defaults", () => {
    expect(createKeyDirectoryCache().size).toBe(0);
  });

  it("refuses malformed arguments to findKey with a TypeError", async () => {
    const keys = createKeyDirectoryCache({ cache: null });
    await expect(keys.findKey(null as never, "k")).rejects.toThrow(TypeError);
    await expect(keys.findKey({ keySetUrl: 5, kind: "directory", declared: "" } as never, "k")).rejects.toThrow(
      TypeError,
    );
    await expect(
      keys.findKey({ keySetUrl: "https://a.example/", kind: "x", declared: "" } as never, "k"),
    ).rejects.toThrow(/kind/);
    await expect(keys.findKey(agentFor("https://a.example/"), 5 as never)).rejects.toThrow(/keyid/);
  });
});
