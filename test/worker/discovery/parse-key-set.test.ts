import { describe, expect, it } from "vitest";
import { generateAgentKey } from "../../../agent/index.ts";
import { findInKeySet, parseKeySet, RFC9421_TEST_KEY_THUMBPRINTS } from "../../../worker/discovery/index.ts";
import { importSigningKey, type Jwk, jwkThumbprint, PRIVATE_JWK_MEMBERS } from "../../../worker/rfc9421/index.ts";
import weakVectors from "../../vectors/ed25519-weak-keys.json";
import rfcKeyFile from "../../vectors/rfc9421-keys.json";

const a = await generateAgentKey("ed25519");
const b = await generateAgentKey("ed25519");
const p256 = await generateAgentKey("ecdsa-p256-sha256");
const pss = await generateAgentKey("rsa-pss-sha512");

async function parsed(keys: unknown[], options: Parameters<typeof parseKeySet>[1] = {}) {
  const result = await parseKeySet(JSON.stringify({ keys }), options);
  if (!result.ok) throw new Error(`expected a key set, got ${result.code}: ${result.message}`);
  return result.keySet;
}

describe("parseKeySet: the whole set", () => {
  it("indexes the keys of a directory by thumbprint and imports them", async () => {
    const set = await parsed([a.publicJwk, p256.publicJwk, pss.publicJwk]);
    expect(set.kind).toBe("directory");
    expect(set.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint, p256.thumbprint, pss.thumbprint]);
    expect(set.keys.map((k) => k.algorithm)).toEqual(["ed25519", "ecdsa-p256-sha256", "rsa-pss-sha512"]);
    expect(set.refused).toEqual([]);
    const match = findInKeySet(set, a.thumbprint);
    expect(match.found && match.key.key.keyid).toBe(a.thumbprint);
    expect(findInKeySet(set, "nope")).toEqual({ found: false, refused: undefined });
  });

  it("verifies with the imported key", async () => {
    const set = await parsed([a.publicJwk]);
    const data = new TextEncoder().encode("signature base");
    const signature = await (await importSigningKey(a.privateJwk)).sign(data);
    const match = findInKeySet(set, a.thumbprint);
    expect(match.found && (await match.key.key.verify(data, signature))).toBe(true);
    expect(match.found && (await match.key.key.verify(new TextEncoder().encode("other"), signature))).toBe(false);
  });

  it("accepts an empty set", async () => {
    expect((await parsed([])).keys).toEqual([]);
  });

  it("refuses text that is not JSON with directory_rejected", async () => {
    for (const text of ['{"keys":[', "", "<html>", "{'keys':[]}"]) {
      expect(await parseKeySet(text)).toMatchObject({ ok: false, code: "directory_rejected" });
    }
  });

  it("refuses JSON that is not a JWK Set with directory_invalid", async () => {
    for (const text of ["null", "[]", '"keys"', "{}", '{"keys":{}}', '{"keys":"x"}', '{"key":[]}', "42"]) {
      expect(await parseKeySet(text)).toMatchObject({ ok: false, code: "directory_invalid" });
    }
  });

  it.each(PRIVATE_JWK_MEMBERS)("refuses the whole set when any key carries the private member %s", async (member) => {
    const result = await parseKeySet({ keys: [a.publicJwk, { ...b.publicJwk, [member]: "AAAA" }] });
    expect(result).toMatchObject({ ok: false, code: "directory_invalid" });
    expect(!result.ok && result.message).toContain(`"${member}"`);
  });

  it("refuses more keys than the cap (default 32), whole", async () => {
    const many = await Promise.all(Array.from({ length: 33 }, () => generateAgentKey("ed25519")));
    expect(await parseKeySet({ keys: many.slice(0, 32).map((k) => k.publicJwk) })).toMatchObject({ ok: true });
    const result = await parseKeySet({ keys: many.map((k) => k.publicJwk) });
    expect(result).toMatchObject({ ok: false, code: "directory_invalid" });
    expect(!result.ok && result.message).toContain("33 keys; at most 32");
    expect(await parseKeySet({ keys: [a.publicJwk, b.publicJwk] }, { maxKeys: 1 })).toMatchObject({
      ok: false,
      code: "directory_invalid",
    });
    await expect(parseKeySet({ keys: [] }, { maxKeys: 0 })).rejects.toThrow(TypeError);
  });

  it("ignores unknown members; keeps nbf and exp (seconds, or milliseconds from 10^11 on) for lookups", async () => {
    const set = await parsed([
      { ...a.publicJwk, nbf: 1_712_793_600_000, exp: 4_102_444_800, purpose: "rag", x5u: "https://evil.example" },
      { ...b.publicJwk, exp: "never" },
    ]);
    expect(set.keys.map((k) => [k.thumbprint, k.nbf, k.exp])).toEqual([[a.thumbprint, 1_712_793_600, 4_102_444_800]]);
    expect(set.refused).toMatchObject([{ index: 1, code: "directory_invalid", thumbprint: b.thumbprint }]);
    expect(set.refused[0]?.message).toMatch(/its exp is not a number/);
    const top = await parseKeySet({ keys: [a.publicJwk], signature_agent: "<https://chatgpt.com>", purpose: "ai" });
    expect(top.ok).toBe(true);
  });
});

describe("parseKeySet: one key at a time", () => {
  it("skips what is not a key, keeping the rest", async () => {
    const set = await parsed([42, "key", null, [], { kty: "OKP" }, { kty: "unknown", x: "y" }, a.publicJwk]);
    expect(set.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint]);
    expect(set.refused.map((r) => [r.index, r.code])).toEqual([
      [0, "directory_invalid"],
      [1, "directory_invalid"],
      [2, "directory_invalid"],
      [3, "directory_invalid"],
      [4, "directory_invalid"],
      [5, "directory_invalid"],
    ]);
  });

  it("at the well-known location, ignores a key whose kid is not its thumbprint", async () => {
    const set = await parsed([{ ...a.publicJwk, kid: "NFcWBst6DXG-N35nHdzMrioWntdzNZghQSkjHNMMSjw" }, b.publicJwk]);
    expect(set.keys.map((k) => k.thumbprint)).toEqual([b.thumbprint]);
    const match = findInKeySet(set, a.thumbprint);
    expect(match.found).toBe(false);
    expect(!match.found && match.refused).toMatchObject({ code: "directory_invalid", thumbprint: a.thumbprint });
    expect(!match.found && match.refused?.message).toMatch(/kid .* is not its thumbprint/);
  });

  it("accepts keys without kid at the well-known location", async () => {
    const { kid: _kid, ...noKid } = a.publicJwk;
    expect((await parsed([noKid])).keys[0]?.thumbprint).toBe(a.thumbprint);
  });

  it("for a JWK Set, allows operator kids and finds keys by thumbprint first, then by kid", async () => {
    const set = await parsed(
      [
        { ...a.publicJwk, kid: "k1" },
        { ...b.publicJwk, kid: a.thumbprint },
      ],
      {
        kind: "jwks",
      },
    );
    expect(findInKeySet(set, "k1")).toMatchObject({ found: true, key: { thumbprint: a.thumbprint } });
    // b's kid is a's thumbprint: the thumbprint wins.
    expect(findInKeySet(set, a.thumbprint)).toMatchObject({ found: true, key: { thumbprint: a.thumbprint } });
    expect(findInKeySet(set, b.thumbprint)).toMatchObject({ found: true, key: { thumbprint: b.thumbprint } });
    // A caller can ask for thumbprints only.
    expect(findInKeySet(set, "k1", false).found).toBe(false);
  });

  it("for a JWK Set, leaves a kid shared by two keys out of the kid index", async () => {
    const set = await parsed(
      [
        { ...a.publicJwk, kid: "same" },
        { ...b.publicJwk, kid: "same" },
      ],
      { kind: "jwks" },
    );
    expect(set.keys).toHaveLength(2);
    expect(findInKeySet(set, "same").found).toBe(false);
    expect(findInKeySet(set, a.thumbprint).found).toBe(true);
  });

  it("refuses a non-string kid", async () => {
    const set = await parsed([{ ...a.publicJwk, kid: 7 }], { kind: "jwks" });
    expect(set.refused[0]).toMatchObject({ code: "directory_invalid", thumbprint: a.thumbprint });
  });

  it("collapses a key listed twice identically, whatever the member order", async () => {
    const reordered = Object.fromEntries(Object.entries(a.publicJwk).reverse());
    const set = await parsed([a.publicJwk, b.publicJwk, reordered]);
    expect(set.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint, b.thumbprint]);
    expect(set.refused).toEqual([]);
  });

  it("refuses every listing of a key listed twice with different members (ambiguous)", async () => {
    const { alg: _alg, ...withoutAlg } = pss.publicJwk;
    const set = await parsed([{ ...pss.publicJwk, alg: "PS512" }, { ...withoutAlg, alg: "RS256" }, a.publicJwk], {
      kind: "jwks",
    });
    expect(set.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint]);
    expect(set.refused.map((r) => [r.index, r.code, r.thumbprint])).toEqual([
      [0, "directory_invalid", pss.thumbprint],
      [1, "directory_invalid", pss.thumbprint],
    ]);
    expect(set.refused[0]?.message).toContain("ambiguous");
  });

  it("skips keys not meant for signatures or with malformed members, without throwing", async () => {
    const set = await parsed([
      { ...a.publicJwk, use: "enc" },
      { ...b.publicJwk, key_ops: 5 },
      { ...p256.publicJwk, alg: 42 },
      { kty: "OKP", crv: "Ed25519", x: "not base64url!" },
      { kty: "OKP", crv: "Ed448", x: "AAAA" },
    ]);
    expect(set.keys).toEqual([]);
    expect(set.refused).toHaveLength(5);
    expect(set.refused.every((r) => r.code === "directory_invalid")).toBe(true);
  });

  it.each(weakVectors.vectors)(
    "skips the weak Ed25519 key $name ($expected_code), keeping the others",
    async (vector) => {
      const weak: Jwk = { kty: "OKP", crv: "Ed25519", x: vector.x };
      const set = await parsed([weak, a.publicJwk]);
      expect(set.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint]);
      expect(set.refused[0]).toMatchObject({
        index: 0,
        code: "directory_invalid",
        thumbprint: await jwkThumbprint(weak),
      });
      expect(set.refused[0]?.message).toContain(vector.expected_code);
    },
  );

  it("skips an RSA key under 2048 bits", async () => {
    const small = (await crypto.subtle.generateKey(
      { name: "RSA-PSS", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    const jwk = (await crypto.subtle.exportKey("jwk", small.publicKey)) as Jwk;
    const set = await parsed([{ kty: "RSA", n: jwk.n, e: jwk.e, alg: "PS512" }]);
    expect(set.keys).toEqual([]);
    expect(set.refused[0]?.message).toContain("weak_key");
  });
});

describe("parseKeySet: the RFC 9421 test keys", () => {
  const rfcKeys = Object.entries(rfcKeyFile.keys as Record<string, { jwk: Jwk; algorithm: string }>);

  it("knows the thumbprint of every test key in test/vectors/rfc9421-keys.json", async () => {
    const thumbprints = await Promise.all(rfcKeys.map(([, { jwk }]) => jwkThumbprint(jwk)));
    expect(new Set(thumbprints)).toEqual(RFC9421_TEST_KEY_THUMBPRINTS);
    expect(RFC9421_TEST_KEY_THUMBPRINTS.has("poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U")).toBe(true);
    expect(RFC9421_TEST_KEY_THUMBPRINTS.has("oD0HwocPBSfpNy5W3bpJeyFGY_IQ_YpqxSjQ3Yd-CLA")).toBe(true);
  });

  it.each(rfcKeys.filter(([, k]) => k.jwk.kty !== "oct"))("refuses %s with test_key_refused", async (_name, key) => {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = key.jwk;
    const thumbprint = await jwkThumbprint(publicJwk);
    const set = await parsed([publicJwk, a.publicJwk], { kind: "jwks" });
    expect(set.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint]);
    const match = findInKeySet(set, thumbprint);
    expect(!match.found && match.refused?.code).toBe("test_key_refused");
  });

  it("accepts the Ed25519 test key with allowTestKeys", async () => {
    const testKey = (rfcKeyFile.keys as Record<string, { jwk: Jwk }>)["test-key-ed25519"];
    const { d: _d, ...publicJwk } = testKey?.jwk ?? {};
    const set = await parsed([publicJwk], { kind: "jwks", allowTestKeys: true });
    expect(findInKeySet(set, "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U").found).toBe(true);
  });
});

describe("parseKeySet and findInKeySet: nbf and exp, judged at lookup time on an injected clock", () => {
  const NBF = 1_800_000_000;
  const EXP = NBF + 3600;

  it.each([
    // [what, now, skew, found]
    ["before nbf", NBF - 1, 0, false],
    ["at nbf", NBF, 0, true],
    ["one second before exp", EXP - 1, 0, true],
    ["at exp", EXP, 0, false],
    ["after exp", EXP + 86_400, 0, false],
    ["before nbf, within the skew", NBF - 30, 60, true],
    ["before nbf, beyond the skew", NBF - 61, 60, false],
    ["after exp, within the skew", EXP + 59, 60, true],
    ["at exp + skew", EXP + 60, 60, false],
  ] as const)("%s (now %i, skew %i): found %s", async (_what, now, skew, found) => {
    const set = await parsed([{ ...a.publicJwk, nbf: NBF, exp: EXP }, b.publicJwk]);
    const match = findInKeySet(set, a.thumbprint, false, { now, clockSkewSeconds: skew });
    expect(match.found).toBe(found);
    if (!match.found) expect(match.refused).toMatchObject({ code: "key_not_found", thumbprint: a.thumbprint });
    // A key without times is unaffected by the clock.
    expect(findInKeySet(set, b.thumbprint, false, { now, clockSkewSeconds: skew }).found).toBe(true);
  });

  it("reads milliseconds as milliseconds: exp 1000 × EXP expires at EXP", async () => {
    const set = await parsed([{ ...a.publicJwk, nbf: NBF * 1000, exp: EXP * 1000 }]);
    expect(findInKeySet(set, a.thumbprint, false, { now: EXP - 1 }).found).toBe(true);
    expect(findInKeySet(set, a.thumbprint, false, { now: EXP }).found).toBe(false);
  });

  it("without a clock, judges by the system clock: an exp in the past is never found", async () => {
    const set = await parsed([{ ...a.publicJwk, exp: 1 }], { kind: "jwks" });
    const match = findInKeySet(set, a.thumbprint);
    expect(match.found).toBe(false);
    expect(!match.found && match.refused?.message).toMatch(/expired at 1 \(its exp\)/);
  });

  it("refuses a key whose nbf or exp is not a finite number", async () => {
    const set = await parsed([
      { ...a.publicJwk, nbf: "2024-01-01" },
      { ...b.publicJwk, exp: null },
    ]);
    expect(set.keys).toEqual([]);
    expect(set.refused.map((r) => [r.index, r.code])).toEqual([
      [0, "directory_invalid"],
      [1, "directory_invalid"],
    ]);
  });
});
