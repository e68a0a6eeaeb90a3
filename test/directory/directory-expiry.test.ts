/**
 * The directory publisher drops a key at its `exp`, from that second on, and never signs or lets a cache keep a
 * directory past it; its per-authority cache is bounded (issue 11, item 9). All on an injected clock.
 */
import { describe, expect, it } from "vitest";
import { generateAgentKey } from "../../agent/index.ts";
import { buildDirectory, type DirectoryKey, directoryRoute } from "../../directory/index.ts";
import { type HttpResponseMessage, importVerificationKey, verifySignatures } from "../../worker/rfc9421/index.ts";

const T0 = 1_800_000_000;
const URL_ = "https://agent.example/.well-known/http-message-signatures-directory";
const current = await generateAgentKey();
const old = await generateAgentKey("ecdsa-p256-sha256");
const next = await generateAgentKey();

function header(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

/** A route on a manual clock whose key function counts its calls (one per build). */
function routeOn(keys: readonly DirectoryKey[], options: Partial<Parameters<typeof directoryRoute>[0]> = {}) {
  let at = T0;
  let builds = 0;
  const app = directoryRoute({
    keys: () => {
      builds++;
      return keys;
    },
    now: () => at,
    ...options,
  });
  return {
    get: (url = URL_) => app.request(url),
    set: (t: number) => {
      at = t;
    },
    builds: () => builds,
  };
}

/** The served directory: listed kids, signature keyids and `expires`, whether every signature verifies at `now`. */
async function served(response: Response, now: number) {
  expect(response.status).toBe(200);
  const body = await response.text();
  const headers = [...response.headers] as Array<[string, string]>;
  const listed = (JSON.parse(body) as { keys: Array<Record<string, unknown>> }).keys;
  const message: HttpResponseMessage = {
    kind: "response",
    status: 200,
    headers,
    body: new TextEncoder().encode(body),
    request: { kind: "request", method: "GET", targetUri: URL_, headers: [] },
  };
  const keys = await Promise.all(listed.map((jwk) => importVerificationKey(jwk)));
  const outcomes = await verifySignatures(message, {
    keys: ({ keyid }) => keys.find((k) => k.keyid === keyid),
    tag: "http-message-signatures-directory",
    now: () => now,
  });
  const input = response.headers.get("signature-input") ?? "";
  return {
    kids: listed.map((k) => k.kid),
    keyids: [...input.matchAll(/keyid="([^"]+)"/g)].map((m) => m[1]),
    expires: [...input.matchAll(/expires=(\d+)/g)].map((m) => Number(m[1])),
    maxAge: Number(/max-age=(\d+)/.exec(response.headers.get("cache-control") ?? "")?.[1]),
    verified: outcomes.map((o) => o.verified),
  };
}

describe("buildDirectory: nothing signed or cacheable past a listed key's exp", () => {
  it("cuts the signatures' expires and max-age to the earliest exp, and says until when it is valid", async () => {
    const built = await buildDirectory({
      keys: [{ jwk: current.privateJwk }, { jwk: old.privateJwk, exp: T0 + 600 }],
      authority: "agent.example",
      now: T0,
    });
    expect([...(header(built.headers, "signature-input") ?? "").matchAll(/expires=(\d+)/g)].map((m) => m[1])).toEqual([
      String(T0 + 600),
      String(T0 + 600),
    ]);
    expect(header(built.headers, "cache-control")).toBe("max-age=600");
    expect(built).toMatchObject({ validUntil: T0 + 600, nextChange: T0 + 600 });
  });

  it("a pre-published key's nbf is the next change; with no exp the signatures' expires bounds it", async () => {
    const built = await buildDirectory({
      keys: [{ jwk: current.privateJwk }, { jwk: next.privateJwk, nbf: T0 + 100 }],
      authority: "agent.example",
      now: T0,
    });
    expect(built).toMatchObject({ validUntil: T0 + 86_400, nextChange: T0 + 100 });
    expect(header(built.headers, "cache-control")).toBe("max-age=3600");
  });

  it.each([
    ["a fraction", 1.5],
    ["milliseconds", (T0 + 600) * 1000],
    ["negative", -1],
    ["a string", "1800000600"],
  ])("refuses an exp that is %s", async (_what, exp) => {
    await expect(
      buildDirectory({ keys: [{ jwk: current.privateJwk, exp: exp as number }], authority: "agent.example", now: T0 }),
    ).rejects.toThrow(/whole Unix seconds/);
  });
});

describe("directoryRoute on an injected clock", () => {
  it("drops a key at its exp, from that second on (not at the next scheduled rebuild)", async () => {
    const route = routeOn([{ jwk: current.privateJwk }, { jwk: old.privateJwk, exp: T0 + 600 }]);
    const first = await served(await route.get(), T0);
    expect(first.kids).toEqual([current.thumbprint, old.thumbprint]);
    expect(first.expires).toEqual([T0 + 600, T0 + 600]);
    expect(first.maxAge).toBe(600);
    expect(first.verified).toEqual([true, true]);

    route.set(T0 + 599);
    const last = await served(await route.get(), T0 + 599);
    expect(last.kids).toEqual([current.thumbprint, old.thumbprint]);
    expect(last.maxAge).toBe(1); // no cache may keep it past the exp
    expect(route.builds()).toBe(1);

    route.set(T0 + 600);
    const after = await served(await route.get(), T0 + 600);
    expect(after.kids).toEqual([current.thumbprint]);
    expect(after.keyids).toEqual([current.thumbprint]);
    expect(after.verified).toEqual([true]);
    expect(after.expires).toEqual([T0 + 600 + 86_400]);
    expect(route.builds()).toBe(2);
  });

  it("never serves a listed key past its exp, at any second across it", async () => {
    const exp = T0 + 37;
    const route = routeOn([{ jwk: current.privateJwk }, { jwk: old.privateJwk, exp }], { maxAge: 10 });
    for (let t = T0; t <= exp + 3; t++) {
      route.set(t);
      const { kids, expires, maxAge } = await served(await route.get(), t);
      expect(kids.includes(old.thumbprint)).toBe(t < exp);
      for (const e of expires) if (kids.includes(old.thumbprint)) expect(e).toBeLessThanOrEqual(exp);
      if (kids.includes(old.thumbprint)) expect(t + maxAge).toBeLessThanOrEqual(exp);
    }
  });

  it("starts signing with a pre-published key at its nbf", async () => {
    const route = routeOn([{ jwk: current.privateJwk }, { jwk: next.privateJwk, nbf: T0 + 100 }]);
    expect((await served(await route.get(), T0)).keyids).toEqual([current.thumbprint]);
    route.set(T0 + 100);
    expect((await served(await route.get(), T0 + 100)).keyids).toEqual([current.thumbprint, next.thumbprint]);
  });

  it("cuts the served max-age to what is left of the signatures", async () => {
    const route = routeOn([{ jwk: current.privateJwk }], { maxAge: 3600, signatureValidity: 4000 });
    expect((await served(await route.get(), T0)).maxAge).toBe(3600);
    route.set(T0 + 2999); // before the rebuild at three quarters of the validity
    const late = await served(await route.get(), T0 + 2999);
    expect(late.maxAge).toBe(4000 - 2999);
    expect(route.builds()).toBe(1);
  });

  it("keeps at most maxAuthorities built directories, least recently used dropped", async () => {
    const route = routeOn([{ jwk: current.privateJwk }], { maxAuthorities: 2 });
    const on = (host: string) => route.get(URL_.replace("agent.example", host));
    for (const host of ["a.example", "b.example", "a.example", "b.example"]) await (await on(host)).body?.cancel();
    expect(route.builds()).toBe(2);
    for (const host of ["c.example", "a.example"]) await (await on(host)).body?.cancel();
    expect(route.builds()).toBe(4); // c evicts a (least recently used), so a is built again
    for (let i = 0; i < 50; i++) await (await on(`h${i}.example`)).body?.cancel();
    expect(route.builds()).toBe(54);
  });

  it("serves only the listed authorities when given, without building for others", async () => {
    const route = routeOn([{ jwk: current.privateJwk }], { authorities: ["Agent.Example"] });
    expect((await route.get()).status).toBe(200);
    expect((await route.get(URL_.replace("agent.example", "evil.example"))).status).toBe(404);
    expect(route.builds()).toBe(1);
  });

  it("refuses options that cannot work", () => {
    expect(() => directoryRoute({ keys: [{ jwk: current.privateJwk }], maxAuthorities: 0 })).toThrow(/maxAuthorities/);
    expect(() => directoryRoute({ keys: [{ jwk: current.privateJwk }], authorities: [] })).toThrow(/authorities/);
  });
});
