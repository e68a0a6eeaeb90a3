import { describe, expect, it } from "vitest";
import { createAAuthKeyCache } from "../../../worker/aauth/index.ts";
import { count, ManualClock, newKey, publishIssuer, register, server } from "./helpers.ts";

function makeCache(extra: Parameters<typeof createAAuthKeyCache>[0] = {}) {
  const clock = new ManualClock();
  const cache = createAAuthKeyCache({
    unsafeAllowLoopback: true,
    now: clock.now,
    random: () => 0,
    timeoutMs: 2000,
    ...extra,
  });
  return { clock, cache };
}

describe("AAuth metadata and JWKS cache", () => {
  it("coalesces concurrent lookups into one fetch per document", async () => {
    const ap = await publishIssuer("aauth-agent.json");
    const { cache } = makeCache();
    const metas = await Promise.all(Array.from({ length: 5 }, () => cache.metadata(ap.iss, "aauth-agent.json")));
    expect(metas.every((m) => m.ok)).toBe(true);
    const url = `${ap.iss}/jwks.json`;
    const keys = await Promise.all(Array.from({ length: 5 }, () => cache.findKey(url, "k1", ["Ed25519"])));
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
