/**
 * Issue 11, the replay and decision classes, each reproduced through the whole Worker (workerd, the real replay
 * Durable Object, the local AAuth issuer server) and shown closed:
 *
 * 1. ECDSA (r, n−s) twins of a nonce-less signature (Web Bot Auth P-256 and P-384, AAuth ES256) are the same
 *    signature to the replay store; random valid re-encodings of one signature map to one record.
 * 2. A signature is accepted at most once across every second of its life, for random policies and both profiles;
 *    a replay at exactly `expires + clockSkew` is refused; an AAuth window longer than `maxAge` is refused at load.
 * 4. One label decides: a replayed person-token label cannot lift a fresh Web Bot Auth label.
 * 5. A signature used on a `none` route is spent; unsafe methods need `@method`, `@path` and `content-digest`.
 * 10. `bearer=bound` only when the signature that names the agent covers `Authorization`.
 */
import fc from "fast-check";
import { serializeDictionary } from "structured-headers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AgentKey, loadAgentKey, type SigningProfile, signRequest } from "../../../agent/index.ts";
import { parseVerifiedAgent } from "../../../worker/identity/verified-agent.ts";
import { PolicyError, parsePolicy } from "../../../worker/policy/parse-policy.ts";
import type { Jwk } from "../../../worker/rfc9421/index.ts";
import { hwkOf, mint, newKey, publishIssuer, RESOURCE, signed as signedAAuth, type TestKey } from "../aauth/helpers.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "./gateway.ts";

const AGENT = "https://replay-classes.internal";
const ATTACKER = "https://replay-attacker.internal";

/** The order of each curve's base point (SEC 2). */
const ORDERS = {
  "P-256": BigInt("0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"),
  "P-384": BigInt("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973"),
} as const;

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** The (r, n−s) twin of a raw ECDSA signature r‖s: as valid as the original, for the same message and key. */
function ecdsaTwin(signature: Uint8Array, curve: keyof typeof ORDERS): Uint8Array {
  const half = signature.length / 2;
  const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const s = BigInt(`0x${hex(signature.slice(half))}`);
  const twin = (ORDERS[curve] - s).toString(16).padStart(half * 2, "0");
  const out = new Uint8Array(signature);
  for (let i = 0; i < half; i++) out[half + i] = Number.parseInt(twin.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A copy of a request with its headers changed. */
function withHeaders(request: Request, change: (headers: Headers) => void, init: RequestInit = {}): Request {
  const headers = new Headers(request.headers);
  change(headers);
  return new Request(request.url, { method: request.method, headers, ...init });
}

/** The request with the signature of its (single) label replaced by its ECDSA twin. */
function twinOf(request: Request, curve: keyof typeof ORDERS): Request {
  const [, label, bytes] = /^([a-z0-9*_.-]+)=:([^:]*):$/.exec(request.headers.get("signature") ?? "") ?? [];
  return withHeaders(request, (h) => h.set("signature", `${label}=:${b64(ecdsaTwin(unb64(bytes as string), curve))}:`));
}

async function p384Key(): Promise<{ privateJwk: Jwk; publicJwk: Jwk }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const strip = ({ key_ops: _o, ext: _e, ...jwk }: Record<string, unknown>) => jwk as Jwk;
  return {
    privateJwk: strip((await crypto.subtle.exportKey("jwk", pair.privateKey)) as unknown as Record<string, unknown>),
    publicJwk: strip((await crypto.subtle.exportKey("jwk", pair.publicKey)) as unknown as Record<string, unknown>),
  };
}

/** A Fetch request for a signed AAuth message. */
async function aauthRequest(input: Parameters<typeof signedAAuth>[0]): Promise<Request> {
  const message = await signedAAuth(input);
  return new Request(message.targetUri, {
    method: message.method,
    headers: message.headers as Headers,
    body: input.body,
  });
}

/** A Web Bot Auth request covering only `@authority` and its `Signature-Agent` member (as real captures do). */
async function minimalWba(url: string, key: AgentKey, agent: string, created: number): Promise<Request> {
  const profile: SigningProfile = {
    name: "minimal",
    plan: (context) => ({
      headers: [["Signature-Agent", serializeDictionary(new Map([[context.label, [agent, new Map()]]]))]],
      components: ['"@authority"', `"signature-agent";key="${context.label}"`],
      params: { created: context.now, expires: context.now + 300, keyid: context.thumbprint, tag: "web-bot-auth" },
    }),
  };
  return signRequest(new Request(url), { key, profile, now: () => created });
}

let p256: AgentKey;
let p384: AgentKey;
let attacker: AgentKey;
let ed: AgentKey;
let pinned: Record<string, Jwk[]>;

beforeAll(async () => {
  const { generateAgentKey } = await import("../../../agent/index.ts");
  const [g256, g384, gAttacker, gEd] = await Promise.all([
    generateAgentKey("ecdsa-p256-sha256"),
    p384Key(),
    generateAgentKey(),
    generateAgentKey(),
  ]);
  [p256, p384, attacker, ed] = await Promise.all([
    loadAgentKey(g256.privateJwk),
    loadAgentKey(g384.privateJwk),
    loadAgentKey(gAttacker.privateJwk),
    loadAgentKey(gEd.privateJwk),
  ]);
  pinned = {
    [`${AGENT}/p256`]: [g256.publicJwk],
    [`${AGENT}/p384`]: [g384.publicJwk],
    [ATTACKER]: [gAttacker.publicJwk],
    [AGENT]: [gEd.publicJwk],
  };
});

afterEach(() => {
  vi.useRealTimers();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * A `created` no other test here signs with: two nonce-less signatures by one key over one base in one second
 * are one signature (Ed25519 is deterministic), and rightly spent together.
 */
let tick = 0;
const uniqueCreated = () => nowSeconds() - ++tick;

describe("1. the replay key is what was signed, not the signature bytes", () => {
  it.each([
    ["P-256", "p256"],
    ["P-384", "p384"],
  ] as const)("a nonce-less Web Bot Auth %s signature's (r, n−s) twin is a replay", async (curve, name) => {
    const env = gatewayEnv({ rules: [{ path: "/*", require: "verified-agent" }], pinned });
    const key = name === "p256" ? p256 : p384;
    const original = await signed("https://shop.example/items/twin", {
      key,
      agent: `${AGENT}/${name}`,
      nonce: null,
    });
    const twin = twinOf(original, curve);
    expect(twin.headers.get("signature")).not.toBe(original.headers.get("signature"));
    expect(verifiedAgentOf(await echoOf(await send(original, env)))?.extra).toMatchObject({ replay: "checked" });
    await expectProblem(await send(twin, env), "signature_replayed");
  });

  it("an AAuth ES256 signature's twin is a replay (AAuth carries no nonce)", async () => {
    const env = gatewayEnv({ rules: [{ path: "/*", require: "signature" }], aauth: { resource: RESOURCE } });
    const key = await newKey("ES256");
    const original = await aauthRequest({
      key,
      signatureKey: hwkOf(key),
      url: `${RESOURCE}/any/twin`,
      params: { created: nowSeconds() },
    });
    const twin = twinOf(original, "P-256");
    expect((await send(original, env)).status).toBe(200);
    const response = await send(twin, env);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { reason: string }).reason).toBe("signature_replayed");
  });

  it("random valid re-encodings of one signature, twin included, are accepted once in all", async () => {
    const env = gatewayEnv({ rules: [{ path: "/*", require: "verified-agent" }], pinned });
    const reencode = fc.constantFrom<(r: Request) => Request>(
      (r) => withHeaders(r, (h) => h.set("signature-input", `  ${h.get("signature-input")}  `)),
      (r) => withHeaders(r, (h) => h.set("signature", ` ${h.get("signature")}`)),
      // A field split over two lines, with an unrelated member in between.
      (r) =>
        withHeaders(r, (h) => {
          const input = h.get("signature-input") as string;
          if (input.includes("other=")) return;
          h.delete("signature-input");
          h.append("signature-input", 'other=("@authority");created=1;keyid="x"');
          h.append("signature-input", input);
          h.append("signature", "other=:AAAA:");
        }),
      (r) => withHeaders(r, (h) => h.set("x-uncovered", crypto.randomUUID())),
      (r) => withHeaders(r, (h) => h.set("signature-agent", `${h.get("signature-agent")} `)),
    );
    const plan = fc.array(fc.record({ twin: fc.boolean(), steps: fc.array(reencode, { maxLength: 3 }) }), {
      minLength: 2,
      maxLength: 5,
    });
    await fc.assert(
      fc.asyncProperty(plan, async (plans) => {
        const original = await signed(`https://shop.example/items/${crypto.randomUUID()}`, {
          key: p256,
          agent: `${AGENT}/p256`,
          nonce: null,
        });
        // The twin first (it rewrites the one label's bytes), then the re-encodings.
        const variants = plans.map(({ twin, steps }) =>
          steps.reduce((r, f) => f(r), twin ? twinOf(original, "P-256") : original.clone()),
        );
        const statuses: number[] = [];
        for (const variant of [original, ...variants]) {
          const response = await send(variant, env);
          statuses.push(response.status);
          const text = await response.text();
          if (response.status !== 200) expect(JSON.parse(text).reason).toBe("signature_replayed");
        }
        expect(statuses.filter((s) => s === 200)).toHaveLength(1);
        expect(statuses[0]).toBe(200);
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});

describe("2. one lifetime: a signature is accepted at most once over its whole life", () => {
  it("a Web Bot Auth replay at exactly expires + clockSkew is refused (with and without a nonce)", async () => {
    const env = gatewayEnv({ rules: [{ path: "/*", require: "verified-agent" }], pinned });
    for (const nonce of [null, undefined]) {
      const created = nowSeconds();
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(created * 1000);
      const request = await signed(`https://shop.example/edge/${crypto.randomUUID()}`, {
        key: ed,
        agent: AGENT,
        created,
        validity: 30,
        nonce,
      });
      expect((await send(request.clone(), env)).status).toBe(200);
      vi.setSystemTime((created + 30 + 60) * 1000 + 999);
      await expectProblem(await send(request.clone(), env), "signature_replayed");
      vi.setSystemTime((created + 30 + 61) * 1000);
      await expectProblem(await send(request, env), "signature_expired");
      vi.useRealTimers();
    }
  });

  it("an AAuth window longer than freshness.maxAge is refused at load, naming the field", async () => {
    expect(() =>
      parsePolicy(JSON.stringify({ freshness: { maxAge: 10, clockSkew: 0 }, aauth: { signatureWindow: 60 } })),
    ).toThrow(PolicyError);
    try {
      parsePolicy(JSON.stringify({ freshness: { maxAge: 10 }, aauth: { signatureWindow: 60 } }));
    } catch (err) {
      expect((err as PolicyError).field).toBe("aauth.signatureWindow");
    }
    // Through the Worker: the AAuth signature that was accepted again and again is never accepted at all.
    const env = gatewayEnv({
      rules: [{ path: "/*", require: "signature" }],
      freshness: { maxAge: 10, clockSkew: 0 },
      aauth: { resource: RESOURCE, signatureWindow: 60 },
    });
    const key = await newKey();
    const created = nowSeconds();
    vi.useFakeTimers({ toFake: ["Date"] });
    const request = await aauthRequest({
      key,
      signatureKey: hwkOf(key),
      url: `${RESOURCE}/w`,
      params: { created },
    });
    for (const at of [created, created + 11, created + 30]) {
      vi.setSystemTime(at * 1000);
      await expectProblem(await send(request.clone(), env), "misconfigured");
    }
  });

  const policies = fc.record({
    clockSkew: fc.integer({ min: 0, max: 4 }),
    maxAge: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
    validity: fc.integer({ min: 1, max: 12 }),
    window: fc.integer({ min: 1, max: 12 }),
    nonce: fc.boolean(),
  });

  it("sweeping every second from created − skew − 1 to the last acceptable second + 2: one acceptance, both profiles", async () => {
    await fc.assert(
      fc.asyncProperty(policies, fc.constantFrom("web-bot-auth", "aauth"), async (p, profile) => {
        const window = p.maxAge === undefined ? p.window : Math.min(p.window, p.maxAge);
        const env = gatewayEnv({
          rules: [{ path: "/*", require: "signature" }],
          pinned,
          freshness: { clockSkew: p.clockSkew, ...(p.maxAge === undefined ? {} : { maxAge: p.maxAge }) },
          aauth: { resource: RESOURCE, signatureWindow: window },
        });
        const created = nowSeconds() + 5;
        const url = `${RESOURCE}/sweep/${crypto.randomUUID()}`;
        let request: Request;
        let first: number;
        let last: number;
        if (profile === "web-bot-auth") {
          request = await signed(url, {
            key: ed,
            agent: AGENT,
            created,
            validity: p.validity,
            nonce: p.nonce ? undefined : null,
          });
          first = created - p.clockSkew;
          last = Math.min(
            created + p.validity + p.clockSkew,
            p.maxAge === undefined ? Number.POSITIVE_INFINITY : created + p.maxAge + p.clockSkew,
          );
        } else {
          const key = await newKey();
          request = await aauthRequest({ key, signatureKey: hwkOf(key), url, params: { created } });
          first = created - window;
          last = created + window;
        }
        vi.useFakeTimers({ toFake: ["Date"] });
        const accepted: number[] = [];
        try {
          for (let at = Math.min(first, created - p.clockSkew) - 1; at <= last + 2; at++) {
            vi.setSystemTime(at * 1000 + 500);
            const response = await send(request.clone(), env);
            if (response.status === 200) accepted.push(at);
            await response.body?.cancel();
          }
        } finally {
          vi.useRealTimers();
        }
        // Exactly one acceptance, at the first second the signature verifies.
        expect(accepted).toEqual([first]);
      }),
      { numRuns: 24 },
    );
  }, 300_000);
});

describe("4. one label decides", () => {
  it("a replayed person-token label plus a fresh Web Bot Auth label is refused on a person-token rule", async () => {
    const env = gatewayEnv({
      rules: [{ path: "/person/*", require: "signature", aauth: "person-token" }],
      pinned,
      aauth: { resource: RESOURCE },
      discovery: { unsafeAllowLoopback: true },
    });
    const agentKey: TestKey = await newKey();
    const ps = await publishIssuer("aauth-person.json");
    const created = nowSeconds();
    const personToken = await mint(
      ps.key,
      { typ: "aa-person+jwt", kid: "k1" },
      {
        iss: ps.iss,
        dwk: "aauth-person.json",
        aud: RESOURCE,
        sub: "8f14e45f",
        jti: crypto.randomUUID(),
        cnf: { jwk: agentKey.publicJwk },
        iat: created - 10,
        exp: created + 1800,
      },
    );
    const url = `${RESOURCE}/person/records`;
    const captured = await aauthRequest({
      key: agentKey,
      signatureKey: `sig=jwt;jwt="${personToken}"`,
      url,
      params: { created },
    });
    const first = await echoOf(await send(captured.clone(), env));
    expect(parseVerifiedAgent(first.headers["verified-agent"] ?? "")?.extra).toMatchObject({
      level: "person",
      replay: "checked",
    });

    // The attacker adds a fresh label of their own to the captured request.
    const fresh = await signed(url, { key: attacker, agent: ATTACKER, label: "mine" });
    const mixed = withHeaders(captured, (h) => {
      h.set("signature-agent", fresh.headers.get("signature-agent") as string);
      h.set("signature-input", `${fresh.headers.get("signature-input")}, ${h.get("signature-input")}`);
      h.set("signature", `${fresh.headers.get("signature")}, ${h.get("signature")}`);
    });
    for (let i = 0; i < 2; i++) {
      const response = await send(mixed.clone(), env);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { reason: string }).reason).toBe("signature_replayed");
    }
    // Alone, the attacker's own label is no person token.
    const alone = await send(fresh, env);
    expect(alone.headers.get("aauth-requirement")).toBe("requirement=person-token");
    await alone.body?.cancel();
  });
});

describe("5. a signature accepted anywhere is spent", () => {
  const env = () =>
    gatewayEnv({
      rules: [
        { path: "/public/*", require: "none" },
        { path: "/agents/*", require: "verified-agent" },
      ],
      pinned,
    });

  it("a signature used on a none route cannot be used again, there or on a protected route", async () => {
    const gateway = env();
    const captured = await minimalWba("https://shop.example/public/page", ed, AGENT, uniqueCreated());
    const first = await echoOf(await send(captured.clone(), gateway));
    expect(verifiedAgentOf(first)).toMatchObject({ agent: identityOf(AGENT), extra: { replay: "checked" } });
    await expectProblem(await send(captured.clone(), gateway), "signature_replayed");
    // The same headers on a protected GET: the signature covers neither method nor path, and it is spent.
    const moved = new Request("https://shop.example/agents/list", { headers: captured.headers });
    await expectProblem(await send(moved, gateway), "signature_replayed");
    // And on POST /agents/delete-everything with a new body: refused before the store is even asked.
    const post = new Request("https://shop.example/agents/delete-everything", {
      method: "POST",
      headers: captured.headers,
      body: '{"confirm":true}',
    });
    const body = await expectProblem(await send(post, gateway), "insufficient_coverage");
    expect(body.detail).toContain('"@method"');
  });

  it("unsafe methods need @method, @path or @target-uri, and content-digest with a body, by default", async () => {
    const gateway = env();
    const fresh = await minimalWba("https://shop.example/agents/delete-everything", ed, AGENT, uniqueCreated());
    const post = new Request(fresh.url, { method: "POST", headers: fresh.headers, body: "{}" });
    await expectProblem(await send(post, gateway), "insufficient_coverage");
    // The gateway signer covers @method, @authority, @path and content-digest: accepted.
    const good = await signed("https://shop.example/agents/delete-everything", {
      key: ed,
      agent: AGENT,
      method: "POST",
      body: '{"confirm":true}',
    });
    await echoOf(await send(good, gateway));
    // A rule may ask for less (cover: []) or more (cover: ["x-tenant"]).
    const relaxed = gatewayEnv({ rules: [{ path: "/*", require: "verified-agent", cover: [] }], pinned });
    const again = await minimalWba("https://shop.example/agents/x", ed, AGENT, uniqueCreated());
    const relaxedPost = new Request(again.url, { method: "DELETE", headers: again.headers });
    await echoOf(await send(relaxedPost, relaxed));
    const strict = gatewayEnv({ rules: [{ path: "/*", require: "verified-agent", cover: ["x-tenant"] }], pinned });
    await expectProblem(
      await send(await signed("https://shop.example/t", { key: ed, agent: AGENT }), strict),
      "insufficient_coverage",
    );
  });

  it("a rule may still switch replay off explicitly on a none route", async () => {
    const gateway = gatewayEnv({ rules: [{ path: "/*", require: "none", replay: "off" }], pinned });
    const request = await minimalWba("https://shop.example/p", ed, AGENT, uniqueCreated());
    for (let i = 0; i < 2; i++) {
      const echo = await echoOf(await send(request.clone(), gateway));
      expect(verifiedAgentOf(echo)?.extra).toMatchObject({ replay: "off" });
    }
  });
});

describe("10. bearer=bound", () => {
  it("a throwaway hwk covering Authorization binds the token to nobody, and is no proof", async () => {
    const env = gatewayEnv({
      rules: [
        { path: "/proof/*", require: "signature", bearer: "require-proof" },
        { path: "/*", require: "signature" },
      ],
      pinned,
      aauth: { resource: RESOURCE },
    });
    const throwaway = await newKey();
    const stolen = (path: string) =>
      aauthRequest({
        key: throwaway,
        signatureKey: hwkOf(throwaway),
        url: `${RESOURCE}${path}`,
        headers: { authorization: "Bearer stolen-token" },
        components: ['"@method"', '"@authority"', '"@path"', '"authorization"', '"signature-key"'],
        params: { created: nowSeconds() },
      });
    // Where a pseudonym will do, it passes as one: the token is forwarded unbound.
    const echo = await echoOf(await send(await stolen("/orders"), env));
    const identity = parseVerifiedAgent(echo.headers["verified-agent"] ?? "");
    expect(identity?.extra?.level).toBe("pseudonymous");
    expect(identity?.extra?.bearer).toBeUndefined();
    // Where the token needs proof, a key anyone can mint is none.
    const response = await send(await stolen("/proof/orders"), env);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { reason: string }).reason).toBe("bearer_without_proof");
  });

  it("an agent's own covering signature still binds it", async () => {
    const env = gatewayEnv({ rules: [{ path: "/*", require: "verified-agent", bearer: "require-proof" }], pinned });
    const request = await signed("https://shop.example/orders", {
      key: ed,
      agent: AGENT,
      headers: { authorization: "Bearer t0k3n" },
    });
    expect(verifiedAgentOf(await echoOf(await send(request, env)))?.extra).toMatchObject({ bearer: "bound" });
  });
});
