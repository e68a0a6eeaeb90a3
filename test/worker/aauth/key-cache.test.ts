import { describe, expect, it } from "vitest";
import { createAAuthKeyCache } from "../../../worker/aauth/index.ts";
import { unlimitedBudget } from "../../../worker/discovery/index.ts";
import { count, ManualClock, newKey, publishIssuer, register, server } from "./helpers.ts";

/** A cache on a manual clock, without the shared tier and without jitter, allowed to reach the local server. */
function makeCache(extra: Parameters<typeof createAAuthKeyCache>[0] = {}) {
  const clock = new ManualClock();
  const cache = createAAuthKeyCache({
    unsafeAllowLoopback: true,
    cache: null,
    now: clock.now,
    random: () => 0,
    timeoutMs: 2000,
    ...extra,
  });
  return { clock, cache };
}

describe("AAuth metadata and JWKS cache", () => {
  it("coalesces one request's concurrent lookups into one fetch per document", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const { cache } = makeCache();
    const budget = unlimitedBudget();
    const metas = await Promise.all(
      Array.from({ length: 5 }, () => cache.metadata(ap.iss, "aauth-agent.json", budget)),
    );
    expect(metas.every((m) => m.ok)).toBe(true);
    const url = `${ap.iss}/jwks.json`;
    const keys = await Promise.all(Array.from({ length: 5 }, () => cache.findKey(url, "k1", ["Ed25519"], budget)));
    expect(keys.every((k) => k.ok && k.thumbprint === ap.key.thumbprint)).toBe(true);
    expect(await count(ap.metadataPath)).toBe(1);
    expect(await count(ap.jwksPath)).toBe(1);
  });

  it("negative-caches failures with backoff, never longer than 5 minutes", async () => {
    const path = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(path, [{ status: 500 }]);
    const { cache, clock } = makeCache({ refetchFloorSeconds: 0 });
    const url = `${server.url}${path}`;
    const ask = () => cache.findKey(url, "k1", ["Ed25519"]);
    expect(await ask()).toMatchObject({ ok: false, outcome: "unverified", discoveryCode: "directory_rejected" });
    expect(await ask()).toMatchObject({ ok: false });
    expect(await count(path)).toBe(1);
    clock.advance(31); // first backoff 30 s
    await ask();
    expect(await count(path)).toBe(2);
    clock.advance(31); // second backoff 60 s: still blocked
    await ask();
    expect(await count(path)).toBe(2);
    for (let i = 0; i < 10; i++) {
      clock.advance(301); // never blocked longer than 300 s
      await ask();
    }
    expect(await count(path)).toBe(12);
  });

  it("serves a held JWKS while a refresh fails, and discards it after 24 h", async () => {
    const key = await newKey("Ed25519", "k1");
    const path = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(path, [
      { body: { keys: [key.publicJwk] }, headers: { "cache-control": "max-age=60" } },
      { status: 503 },
    ]);
    const { cache, clock } = makeCache();
    const url = `${server.url}${path}`;
    expect((await cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);
    clock.advance(120);
    expect((await cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(path)).toBe(2);
    clock.advance(86_400);
    expect(await cache.findKey(url, "k1", ["Ed25519"])).toMatchObject({ ok: false, code: "invalid_key" });
  });

  it("holds at most maxEntries documents of each kind", async () => {
    const { cache } = makeCache({ maxEntries: 2 });
    for (let i = 0; i < 4; i++) {
      const ap = await publishIssuer("aauth-agent.json");
      await cache.metadata(ap.iss, "aauth-agent.json");
    }
    expect(cache.size).toBe(2);
  });

  it("refuses redirects, the wrong media type and bodies over the cap; refuses odd dwk names without fetching", async () => {
    const base = `/i/${crypto.randomUUID()}`;
    await register(`${base}/.well-known/a.json`, [{ status: 302, headers: { location: "http://10.0.0.1/" } }]);
    await register(`${base}/.well-known/b.json`, [{ headers: { "content-type": "text/html" }, body: "{}" }]);
    await register(`${base}/.well-known/c.json`, [{ body: { issuer: "x", pad: "y".repeat(70_000) } }]);
    const { cache } = makeCache();
    const iss = `${server.url}${base}`;
    for (const dwk of ["a.json", "b.json", "c.json"]) {
      expect(await cache.metadata(iss, dwk)).toMatchObject({
        ok: false,
        code: "invalid_key",
        discoveryCode: "directory_rejected",
      });
    }
    expect(await cache.metadata(iss, "../x")).toMatchObject({ ok: false, code: "invalid_key" });
    expect(await cache.metadata("https://10.0.0.1", "aauth-agent.json")).toMatchObject({
      discoveryCode: "egress_refused",
    });
  });
});

describe("the shared Cache API tier", () => {
  const newShared = () => caches.open(`aauth-test-${crypto.randomUUID()}`);

  /** Looks up an issuer's metadata and then key `k1`, as verification does. */
  async function lookUp(cache: ReturnType<typeof createAAuthKeyCache>, ap: Awaited<ReturnType<typeof publishIssuer>>) {
    const meta = await cache.metadata(ap.iss, "aauth-agent.json");
    if (!meta.ok) return meta;
    return cache.findKey(meta.jwksUri, "k1", ["Ed25519"]);
  }

  it("lets a second isolate use the first one's metadata and JWKS without fetching", async () => {
    const shared = await newShared();
    const ap = await publishIssuer("aauth-agent.json");
    const one = makeCache({ cache: shared });
    const two = makeCache({ cache: shared });
    expect(await lookUp(one.cache, ap)).toMatchObject({ ok: true, thumbprint: ap.key.thumbprint });
    expect(await lookUp(two.cache, ap)).toMatchObject({ ok: true, thumbprint: ap.key.thumbprint });
    expect(await count(ap.metadataPath)).toBe(1);
    expect(await count(ap.jwksPath)).toBe(1);
    const stored = await shared.match(new Request(`${ap.iss}/jwks.json`));
    expect(stored?.headers.get("signet-namespace")).toBe("aauth-jwks");
    expect(stored?.headers.get("cache-control")).toMatch(/^max-age=(3599|3600)$/);
    await stored?.body?.cancel();
  });

  it("uses caches.default when no cache is given", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const options = { unsafeAllowLoopback: true, random: () => 0, timeoutMs: 2000 };
    expect((await lookUp(createAAuthKeyCache(options), ap)).ok).toBe(true);
    expect((await lookUp(createAAuthKeyCache(options), ap)).ok).toBe(true);
    expect(await count(ap.metadataPath)).toBe(1);
    expect(await count(ap.jwksPath)).toBe(1);
    const stored = await caches.default.match(new Request(`${ap.iss}/.well-known/aauth-agent.json`));
    expect(stored?.headers.get("signet-fetched-at")).toMatch(/^\d+$/);
    await stored?.body?.cancel();
  });

  it("judges a shared copy's freshness by the reader's clock, from the time it was fetched", async () => {
    const shared = await newShared();
    const cc = { "cache-control": "max-age=600" };
    const key = await newKey("Ed25519", "k1");
    const path = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(path, [{ body: { keys: [key.publicJwk] }, headers: cc }]);
    const url = `${server.url}${path}`;
    const one = makeCache({ cache: shared });
    expect((await one.cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);

    // Read at +300 s: fresh, no fetch; but it stays the copy fetched at 0, so it goes stale at +600 s.
    const two = makeCache({ cache: shared });
    two.clock.advance(300);
    expect((await two.cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(path)).toBe(1);
    two.clock.advance(301);
    expect((await two.cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(path)).toBe(2);

    // A reader whose clock is past the copy's freshness fetches for itself.
    const other = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(other, [{ body: { keys: [key.publicJwk] }, headers: cc }]);
    await one.cache.findKey(`${server.url}${other}`, "k1", ["Ed25519"]);
    const late = makeCache({ cache: shared });
    late.clock.advance(601);
    expect((await late.cache.findKey(`${server.url}${other}`, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(other)).toBe(2);
  });

  it("does not use a shared copy older than the reader's maximum age", async () => {
    const shared = await newShared();
    const ap = await publishIssuer("aauth-agent.json");
    const one = makeCache({ cache: shared });
    const two = makeCache({ cache: shared, maxAgeSeconds: 100 });
    two.clock.advance(200);
    expect((await lookUp(one.cache, ap)).ok).toBe(true);
    expect((await lookUp(two.cache, ap)).ok).toBe(true);
    expect(await count(ap.metadataPath)).toBe(2);
    expect(await count(ap.jwksPath)).toBe(2);
  });

  it("keeps no-store and private responses out of the shared tier", async () => {
    for (const cc of ["no-store", "private, max-age=600"]) {
      const shared = await newShared();
      const key = await newKey("Ed25519", "k1");
      const ap = await publishIssuer("aauth-agent.json", {
        jwks: [{ body: { keys: [key.publicJwk] }, headers: { "cache-control": cc } }],
      });
      const one = makeCache({ cache: shared });
      const two = makeCache({ cache: shared });
      await lookUp(one.cache, ap);
      expect(await lookUp(two.cache, ap)).toMatchObject({ ok: true, thumbprint: key.thumbprint });
      expect(await count(ap.metadataPath)).toBe(1);
      expect(await count(ap.jwksPath)).toBe(2);
      expect(await shared.match(new Request(`${ap.iss}/jwks.json`))).toBeUndefined();
    }
  });

  it("never stores a failure", async () => {
    const shared = await newShared();
    const path = `/i/${crypto.randomUUID()}/jwks.json`;
    const key = await newKey("Ed25519", "k1");
    await register(path, [{ status: 500 }, { body: { keys: [key.publicJwk] } }]);
    const url = `${server.url}${path}`;
    const one = makeCache({ cache: shared });
    const two = makeCache({ cache: shared });
    expect(await one.cache.findKey(url, "k1", ["Ed25519"])).toMatchObject({ ok: false, code: "invalid_key" });
    expect(await shared.match(new Request(url))).toBeUndefined();
    expect((await two.cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(path)).toBe(2);
    // A document that fails the JWK Set checks is not stored either.
    const bad = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(bad, [{ body: { keys: "none" } }]);
    await one.cache.findKey(`${server.url}${bad}`, "k1", ["Ed25519"]);
    expect(await shared.match(new Request(`${server.url}${bad}`))).toBeUndefined();
  });

  it("re-checks a shared copy and ignores one stored by another cache", async () => {
    const shared = await newShared();
    const key = await newKey("Ed25519", "k1");
    const path = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(path, [{ body: { keys: [key.publicJwk] } }]);
    const url = `${server.url}${path}`;
    const { clock, cache } = makeCache({ cache: shared });
    const stamp = (namespace: string) => ({
      "content-type": "application/json",
      "signet-fetched-at": String(clock.ms),
      "signet-fresh-until": String(clock.ms + 600_000),
      "signet-namespace": namespace,
    });
    // A copy from the Web Bot Auth cache, and one that is not a JWK Set: both are misses, so the network answers.
    await shared.put(new Request(url), new Response(JSON.stringify({ keys: [] }), { headers: stamp("web-bot-auth") }));
    expect((await cache.findKey(url, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(path)).toBe(1);
    const second = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(second, [{ body: { keys: [key.publicJwk] } }]);
    await shared.put(
      new Request(`${server.url}${second}`),
      new Response(JSON.stringify({ keys: "none" }), { headers: stamp("aauth-jwks") }),
    );
    expect((await cache.findKey(`${server.url}${second}`, "k1", ["Ed25519"])).ok).toBe(true);
    expect(await count(second)).toBe(1);
  });

  it("applies the egress guard before reading the shared tier", async () => {
    const shared = await newShared();
    const ap = await publishIssuer("aauth-agent.json");
    expect((await lookUp(makeCache({ cache: shared }).cache, ap)).ok).toBe(true);
    const strict = createAAuthKeyCache({ cache: shared, random: () => 0 });
    expect(await strict.metadata(ap.iss, "aauth-agent.json")).toMatchObject({
      ok: false,
      discoveryCode: "egress_refused",
    });
    expect(await strict.findKey(`${ap.iss}/jwks.json`, "k1", ["Ed25519"])).toMatchObject({
      ok: false,
      discoveryCode: "egress_refused",
    });
    expect(await count(ap.metadataPath)).toBe(1);
  });

  it("rejects a cache option that is not a Cache", () => {
    expect(() => createAAuthKeyCache({ cache: {} as never })).toThrow(TypeError);
  });
});
