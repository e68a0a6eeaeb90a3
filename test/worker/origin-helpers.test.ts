/**
 * The pieces behind issue 11 classes 6, 8 and 9, as tables and properties: `Verified-Agent` round-trips any
 * identity text, `checkTarget` accepts only one unambiguous target, the default replay cache is bounded and fails
 * closed, and the Worker refuses an RFC 9421 test key as Signet's attestation key (misconfigured, logged).
 */
import fc from "fast-check";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryReplayCache, signetOrigin, verifySignetRequest } from "../../origin/index.ts";
import { checkTarget } from "../../origin/lib/request-target.ts";
import {
  parseVerifiedAgent,
  serializeVerifiedAgent,
  type VerifiedAgent,
} from "../../worker/identity/verified-agent.ts";
import rfcKeyFile from "../vectors/rfc9421-keys.json";
import { expectProblem, gatewayEnv, send } from "./gateway/gateway.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const BASE: VerifiedAgent = {
  agent: "https://agent.example/.well-known/http-message-signatures-directory",
  keyid: "k",
  profile: "aauth",
  alg: "Ed25519",
  label: "sig",
};

describe("Verified-Agent: every identity text round-trips", () => {
  const text = fc.string({ unit: "binary", minLength: 1, maxLength: 40 });
  const key = fc
    .stringMatching(/^[a-z][a-z0-9_-]{0,12}$/)
    .filter((k) => !(k in BASE) && k !== "created" && k !== "expires");
  const value = fc.oneof(text, fc.boolean(), fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }));

  it("serialise → parse gives back the same identity, for any well-formed text in any member", () => {
    fc.assert(
      fc.property(text, text, text, fc.dictionary(key, value, { maxKeys: 5 }), (agent, keyid, label, extra) => {
        const identity: VerifiedAgent = { ...BASE, agent, keyid, label, extra };
        const value = serializeVerifiedAgent(identity);
        expect(value).toMatch(/^[\x20-\x7e]*$/);
        const parsed = parseVerifiedAgent(value);
        expect(parsed).toEqual({
          ...identity,
          created: undefined,
          expires: undefined,
          extra: Object.keys(extra).length > 0 ? extra : undefined,
        });
      }),
      { numRuns: 500 },
    );
  });

  it("control characters, quotes, percent signs and bytes below 0x10 are two-digit escapes", () => {
    const value = serializeVerifiedAgent({ ...BASE, extra: { person_subject: 'a\u0001"%\u00e9' } });
    expect(value).toContain('person_subject=%"a%01%22%25%c3%a9"');
    expect(parseVerifiedAgent(value)?.extra?.person_subject).toBe('a\u0001"%\u00e9');
  });

  it.each([
    ["a lone surrogate", { ...BASE, agent: "a\ud800b" }],
    ["an extra key that is not a Structured Field key", { ...BASE, extra: { "Bad Key": 1 } }],
    ["an extra key that shadows a fixed member", { ...BASE, extra: { agent: "https://other.example" } }],
    ["a number out of range", { ...BASE, extra: { n: 1e20 } }],
    ["an empty agent", { ...BASE, agent: "" }],
  ])("refuses %s with a TypeError", (_what, identity) => {
    expect(() => serializeVerifiedAgent(identity as VerifiedAgent)).toThrow(TypeError);
  });
});

describe("checkTarget: one validated target", () => {
  it.each([
    ["origin.example", "/a?b=1", "https://origin.example/a?b=1"],
    ["Origin.Example:443", "/a", "https://origin.example/a"],
    ["origin.example:8443", "/", "https://origin.example:8443/"],
    ["127.0.0.1:8080", "/x?", "https://127.0.0.1:8080/x?"],
    ["[::1]:8443", "/x", "https://[::1]:8443/x"],
    ["origin.example", "/caf%C3%A9/%7Euser?q=a%20b&x", "https://origin.example/caf%C3%A9/%7Euser?q=a%20b&x"],
    ["origin.example", "https://origin.example/abs?x=1", "https://origin.example/abs?x=1"],
    ["origin.example", "https://ORIGIN.example:443/abs", "https://origin.example/abs"],
  ])("accepts Host %s with target %s", (host, target, url) => {
    expect(checkTarget("https", host, target)).toMatchObject({ url });
  });

  it.each([
    [undefined, "/a"],
    ["", "/a"],
    ["origin.example/public/page?x=1#", "/admin/delete-all"],
    ["origin.example?x=1", "/a"],
    ["origin.example#f", "/a"],
    ["user@origin.example", "/a"],
    ["user:pw@origin.example", "/a"],
    ["origin.example extra", "/a"],
    [" origin.example", "/a"],
    ["origin.example\t", "/a"],
    ["origin.example:", "/a"],
    ["origin.example:99999x", "/a"],
    ["origin.example\\evil", "/a"],
    ["origin.example", "/a#frag"],
    ["origin.example", "/a b"],
    ["origin.example", "/a\\b"],
    ["origin.example", "/public/../admin"],
    ["origin.example", "/./admin"],
    ["origin.example", "*"],
    ["origin.example", "admin"],
    ["origin.example", "https://elsewhere.example/a"],
    ["origin.example", "https://origin.example:8443/a"],
    ["origin.example", "http://origin.example/a"],
    ["origin.example", "https://user@origin.example/a"],
    ["origin.example", "https://origin.example/a#f"],
  ])("refuses Host %j with target %j", (host, target) => {
    expect(typeof checkTarget("https", host, target)).toBe("string");
  });

  it("never throws and never accepts a Host that is not host[:port]", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 30 }), fc.string({ maxLength: 30 }), (host, target) => {
        const checked = checkTarget("https", host, target);
        if (typeof checked !== "string") {
          expect(host).toMatch(/^[A-Za-z0-9.[\]:-]+$/);
          expect(new URL(checked.url).hash).toBe("");
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the default in-memory replay cache", () => {
  it("accepts a nonce once while it lives, and again after it expired", () => {
    let now = 1000;
    const cache = createMemoryReplayCache(10, () => now);
    expect(cache.claim("a", 1035)).toBe(true);
    expect(cache.claim("a", 1035)).toBe(false);
    now = 1036;
    expect(cache.claim("a", 1071)).toBe(true);
  });

  it("is bounded: full of live nonces it refuses (fail closed), and frees room as they expire", () => {
    let now = 1000;
    const cache = createMemoryReplayCache(3, () => now);
    for (const nonce of ["a", "b", "c"]) expect(cache.claim(nonce, 1000 + 35)).toBe(true);
    expect(cache.claim("d", 1035)).toBe(false);
    expect(cache.size()).toBe(3);
    now = 1040;
    expect(cache.claim("d", 1075)).toBe(true);
    expect(cache.size()).toBe(1);
  });

  it("refuses a size that is not a positive whole number", () => {
    expect(() => createMemoryReplayCache(0)).toThrow(TypeError);
    expect(() => createMemoryReplayCache(1.5)).toThrow(TypeError);
  });
});

describe("the Worker refuses an RFC 9421 test key as SIGNET_ATTESTATION_KEY", () => {
  it.each(
    Object.entries(rfcKeyFile.keys as Record<string, { jwk: { kty: string } }>).filter(
      ([, { jwk }]) => jwk.kty === "OKP" || jwk.kty === "EC",
    ),
  )("%s: every request is refused as misconfigured, and the reason is logged", async (_name, { jwk }) => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const env = gatewayEnv({}, { attestationKey: JSON.stringify(jwk), origin: "https://origin.invalid" });
    const response = await send(new Request("https://signet.example/public"), env);
    const problem = await expectProblem(response, "misconfigured");
    expect(problem.detail).not.toContain("test key");
    expect(logged.mock.calls.flat().join(" ")).toContain("published RFC 9421 test key");
  });
});

describe("the Fetch and Hono helpers refuse an RFC 9421 test key as Signet's key", () => {
  const testKeys = Object.entries(rfcKeyFile.keys as Record<string, { jwk: Record<string, string> }>).filter(
    ([, { jwk }]) => jwk.kty === "OKP" || jwk.kty === "EC",
  );

  it.each(testKeys)("%s: verifySignetRequest and signetOrigin throw a TypeError naming it", async (_name, { jwk }) => {
    const { d: _d, kid: _kid, ...publicJwk } = jwk;
    const request = new Request("https://origin.example/x");
    await expect(verifySignetRequest(request, { keys: publicJwk })).rejects.toThrow(/published RFC 9421 test key/);
    const app = new Hono().use("*", signetOrigin({ keys: publicJwk }));
    app.onError((err) => new Response(err.message, { status: 500 }));
    const response = await app.fetch(request);
    expect(response.status).toBe(500);
    expect(await response.text()).toMatch(/published RFC 9421 test key/);
  });
});
