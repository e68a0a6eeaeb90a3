/**
 * Hostile-input fuzzing (fast-check) of every request field Signet parses, and of key directory documents. It
 * runs in Node and in workerd (the `core-node` and `core-workerd` projects), with WebCrypto and web APIs only.
 *
 * Each field is a {@link FieldTarget}: realistic seed values, a structure-aware generator, and the one parse step
 * Signet runs on it. Every target is fuzzed three ways (grammar values, grammar or seed values with random edits,
 * and arbitrary text), and the property is the same for all: the parser returns, or throws the one refusal type
 * its callers handle (SignatureError with a known code; MalformedSignatureAgentError for `Signature-Agent`). A
 * TypeError, RangeError or stack overflow fails the property with the shrunk input.
 *
 * On top of the per-field parsers: `verifyRequest` (the whole Web Bot Auth pipeline minus discovery) on random
 * combinations of real, mutated and random fields never throws, and `parseKeySet` never throws on random JSON,
 * mutated directory text, or key sets of mutated JWKs (it returns a typed failure or a vetted set).
 *
 * Case counts (fast-check runs), checked by the last test of this file:
 *
 * - this file: {@link CASES_PER_RUNTIME} = 6 targets x 18,000 + 5,000 verifyRequest + 10,000 parseKeySet =
 *   123,000 per runtime, so 246,000 across `core-node` and `core-workerd`;
 * - `properties.test.ts` (existing): 12,300 per runtime (800 + 400 + 300 + 100 + 1,500 + 500 + 700 +
 *   4 x 2,000 + 1,000), so 24,600;
 * - `test/worker/hostile/worker-fuzz.test.ts`: 3,000 whole-Worker cases in workerd;
 *
 * 273,600 generated cases in total (not counting the 200 of `test/worker/attestation.test.ts`).
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { generateAgentKey, loadAgentKey, signRequest, webBotAuthProfile } from "../../agent/index.ts";
import { parseSignatureKey, SK_ERROR_CODES, selectSignatureKey } from "../../worker/aauth/index.ts";
import type { KeySource } from "../../worker/discovery/key-source.ts";
import { parseKeySet } from "../../worker/discovery/parse-key-set.ts";
import { parsePolicy } from "../../worker/policy/parse-policy.ts";
import {
  type ComponentIdentifier,
  encodeBase64,
  importVerificationKey,
  type Jwk,
  PRIVATE_JWK_MEMBERS,
  parseAcceptSignature,
  parseComponent,
  parseSignatureInput,
  parseSignatures,
  requestFromFetch,
  SIGNATURE_ERROR_CODES,
  SignatureError,
  type VerificationKey,
} from "../../worker/rfc9421/index.ts";
import { MalformedSignatureAgentError, resolveSignatureAgent } from "../../worker/verification/signature-agent.ts";
import { verifyRequest } from "../../worker/verification/verify-request.ts";
import {
  acceptSignatureArb,
  applyEdits,
  arbitraryTextArb,
  componentArb,
  editArb,
  mutatedArb,
  NOW,
  signatureAgentArb,
  signatureArb,
  signatureInputArb,
  signatureKeyArb,
} from "./field-arbitraries.ts";

// ---------------------------------------------------------------------------------------------------------------
// Run counts. Parser cases cost microseconds; verifyRequest and parseKeySet cases do WebCrypto work.

const RUNS = {
  grammar: 8000,
  mutated: 8000,
  arbitrary: 2000,
  verifyRequest: 5000,
  keySetJson: 4000,
  keySetText: 4000,
  keySetJwks: 2000,
} as const;

const TEST_TIMEOUT = 90_000;

// ---------------------------------------------------------------------------------------------------------------
// The targets.

/** A field Signet parses, as the fuzzer sees it. */
interface FieldTarget {
  /** The field name. */
  readonly field: string;
  /** Realistic values (what signers send), mutated by the fuzzer. */
  readonly seeds: readonly string[];
  /** A structure-aware generator of plausible values, valid and not. */
  readonly grammar: fc.Arbitrary<string>;
  /**
   * The parse step Signet runs on the field value, with whatever context varies between requests drawn from
   * `context` (a message kind, the covered components).
   */
  readonly parse: (value: string, context: number) => unknown;
  /** Whether a thrown value is the refusal the callers of `parse` turn into a 4xx. */
  readonly isRefusal: (error: unknown) => boolean;
}

const isSignatureError = (error: unknown) =>
  error instanceof SignatureError && (SIGNATURE_ERROR_CODES as readonly string[]).includes(error.code);

const KINDS = [undefined, "request", "response"] as const;
const kindOf = (context: number) => KINDS[context % KINDS.length];

const REAL_INPUT =
  'sig1=("@method" "@authority" "@path" "signature-agent";key="sig1" "content-digest");created=1700000000;' +
  'expires=1700000300;keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U";nonce="ZO3/XMEZjrvSnLtAP9M7jK0WGQf3J+pbmQRUpKDhF9/jsNCWqUh2sq+TH4WTX3/GpNoSZUa8eNWMKqxWp2/c2g==";tag="web-bot-auth"';
const REAL_SIGNATURE =
  "sig1=:uz2SAv+VIemw+Oo890bhYh6Xf5qZdLUgv6/PbiQfCFXcX/vt1A8Pf7OcgL2yUDUYXFtffNpkEr5W6dldqFrkDg==:";

/** The `Signature-Agent` covered components a signature can carry (the resolver's second input). */
const AGENT_COMPONENT_SETS: ReadonlyArray<readonly string[]> = [
  ['"signature-agent";key="sig1"'],
  ['"signature-agent"'],
  ['"signature-agent";key="sig2"'],
  ['"signature-agent";key="sig1"', '"signature-agent";key="sig2"'],
  ['"signature-agent";key="a"', '"signature-agent";key="b*"'],
  ['"signature-agent"', '"signature-agent";key="sig1"'],
  ['"signature-agent";key="*"'],
  [],
];
const AGENT_COMPONENTS: ReadonlyArray<readonly ComponentIdentifier[]> = AGENT_COMPONENT_SETS.map((set) =>
  set.map((text) => parseComponent(text)),
);
const AGENT_LABELS = ["sig1", "sig2", "a", "b*"];

/** A typed Signature-Key failure, thrown by the test so that refusals are counted like the other fields'. */
class SignatureKeyRefusal extends Error {}

const TARGETS: readonly FieldTarget[] = [
  {
    field: "Signature-Input",
    seeds: [REAL_INPUT, `${REAL_INPUT}, sig2=("@target-uri");created=${NOW};keyid="k"`, "a=();created=1"],
    grammar: signatureInputArb,
    parse: (value, context) => {
      const parsed = parseSignatureInput(value, kindOf(context));
      for (const entry of parsed.values()) {
        if (entry instanceof SignatureError) expect(isSignatureError(entry)).toBe(true);
        else expect(typeof entry.signatureParams).toBe("string");
      }
      // Signet always parses the two fields together; label sets that differ refuse both (label_mismatch), so an
      // odd context pairs the value with a Signature carrying exactly its labels, an even one with none.
      const signature = [...parsed.keys()].map((label) => `${label}=:AAAA:`).join(", ");
      return parseSignatures({ signatureInput: value, signature: context % 2 && signature ? signature : undefined });
    },
    isRefusal: isSignatureError,
  },
  {
    field: "Signature",
    seeds: [REAL_SIGNATURE, `${REAL_SIGNATURE}, sig2=:AAAA:`, "sig1=::"],
    grammar: signatureArb,
    parse: (value, context) => {
      const entries = parseSignatures({ signatureInput: REAL_INPUT, signature: value }, kindOf(context));
      for (const entry of entries) {
        if (!(entry instanceof SignatureError)) expect(entry.signature).toBeInstanceOf(Uint8Array);
      }
      return entries;
    },
    isRefusal: isSignatureError,
  },
  {
    field: "Signature-Agent",
    seeds: [
      'sig1="https://agent.example"',
      'sig1="https://agent.example/keys.json";type=jwks_uri',
      '"https://agent.example"',
      'sig1="https://a.example", sig2="https://b.example/k";type=directory',
    ],
    grammar: signatureAgentArb,
    parse: (value, context) => {
      const components = AGENT_COMPONENTS[context % AGENT_COMPONENTS.length] as readonly ComponentIdentifier[];
      const label = AGENT_LABELS[Math.floor(context / AGENT_COMPONENTS.length) % AGENT_LABELS.length] as string;
      const resolution = resolveSignatureAgent(value, components, label);
      if (resolution.ok) {
        // Whatever the member said, Signet fetches only an http(s) URL without query, fragment or credentials.
        const url = new URL(resolution.agent.keySetUrl);
        expect(["https:", "http:"]).toContain(url.protocol);
        expect(url.search + url.hash + url.username + url.password).toBe("");
        expect(["directory", "jwks"]).toContain(resolution.agent.kind);
      } else {
        expect(["invalid", "unverified"]).toContain(resolution.outcome);
      }
      return resolution;
    },
    isRefusal: (error) => error instanceof MalformedSignatureAgentError,
  },
  {
    field: "Accept-Signature",
    seeds: [
      'sig1=("@method" "@authority" "@path" "signature-agent";key="sig1");created;expires;tag="web-bot-auth"',
      'sig1=("@authority" "authorization");created;nonce',
    ],
    grammar: acceptSignatureArb,
    parse: (value) => {
      const requests = parseAcceptSignature(value);
      for (const request of requests) for (const c of request.components) parseComponent(c);
      return requests;
    },
    isRefusal: isSignatureError,
  },
  {
    field: "component identifier",
    seeds: ['"@query-param";name="a"', '"signature-agent";key="sig1"', '"content-digest";sf', '"x";bs;req'],
    grammar: componentArb,
    parse: (value, context) => parseComponent(value, kindOf(context)),
    isRefusal: isSignatureError,
  },
  {
    field: "Signature-Key",
    seeds: [
      'sig=hwk;kty="OKP";crv="Ed25519";x="JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";alg="Ed25519"',
      'sig=jwt;jwt="eyJhbGciOiJFZDI1NTE5In0.eyJpc3MiOiJodHRwczovL2EuZXhhbXBsZSJ9.c2ln"',
      'sig=jwks_uri;id="https://client.example";dwk="example-configuration";kid="key-1"',
      'sig=jwks;url="https://client.example/keys.jwks";kid="key-1", sig2=x509;x5u="https://c.example/c.pem";x5t=:AAAA:',
    ],
    grammar: signatureKeyArb,
    parse: (value, context) => {
      // Parsing and label selection never throw: every refusal is a typed SK-09 failure, turned into a
      // SignatureKeyRefusal here only so the counts below see it.
      const parsed = parseSignatureKey(value);
      if (!parsed.ok) throw new SignatureKeyRefusal(parsed.code);
      const label = ["sig", "sig1", "a", "sig2"][context % 4] as string;
      const selected = selectSignatureKey(parsed.field, label, ["jwt", "hwk", "jkt-jwt", "jwks_uri", "jwks"]);
      if (!selected.ok) throw new SignatureKeyRefusal(selected.code);
      return selected;
    },
    isRefusal: (error) => error instanceof SignatureKeyRefusal && SK_ERROR_CODES.includes(error.message as never),
  },
];

/** Whether the value parsed (`true`) or was refused (`false`). */
function expectOnlyRefusals(target: FieldTarget, value: string, context: number): boolean {
  try {
    target.parse(value, context);
    return true;
  } catch (error) {
    if (!target.isRefusal(error)) {
      throw new Error(`${target.field} parser threw a non-refusal for ${JSON.stringify(value)}: ${String(error)}`, {
        cause: error,
      });
    }
    return false;
  }
}

describe.each(TARGETS)("fuzz: the $field parser refuses hostile values, never crashes", (target) => {
  const context = fc.nat({ max: 1000 });

  it(
    "structure-aware values",
    () => {
      const outcomes = { parsed: 0, refused: 0 };
      fc.assert(
        fc.property(target.grammar, context, (v, c) => {
          outcomes[expectOnlyRefusals(target, v, c) ? "parsed" : "refused"] += 1;
        }),
        { numRuns: RUNS.grammar },
      );
      // The grammar reaches both sides of the parser: a generator that only made garbage would prove little.
      expect(outcomes.parsed).toBeGreaterThan(RUNS.grammar / 100);
      expect(outcomes.refused).toBeGreaterThan(RUNS.grammar / 100);
    },
    TEST_TIMEOUT,
  );

  it(
    "seed and grammar values with random edits",
    () => {
      const base = fc.oneof(fc.constantFrom(...target.seeds), target.grammar);
      fc.assert(
        fc.property(mutatedArb(base), context, (v, c) => {
          expectOnlyRefusals(target, v, c);
        }),
        { numRuns: RUNS.mutated },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "arbitrary text",
    () => {
      fc.assert(
        fc.property(arbitraryTextArb, context, (v, c) => {
          expectOnlyRefusals(target, v, c);
        }),
        { numRuns: RUNS.arbitrary },
      );
    },
    TEST_TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// verifyRequest: the whole Web Bot Auth pipeline (everything but discovery) on real, mutated and random fields.

const AGENT = "https://fuzz-agent.example";

interface SignedFields {
  readonly url: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

let realRequests: SignedFields[] = [];
let verificationKey: VerificationKey;

beforeAll(async () => {
  const generated = await generateAgentKey();
  const key = await loadAgentKey(generated.privateJwk);
  verificationKey = await importVerificationKey(generated.publicJwk, { keyid: key.thumbprint });
  const made: SignedFields[] = [];
  for (const [i, agentForm] of (["dictionary", "string"] as const).entries()) {
    const request = await signRequest(
      new Request(`https://shop.example/items/${i}?q=1`, {
        method: "POST",
        headers: { authorization: "Bearer t", "content-type": "text/plain" },
        body: "hello",
      }),
      { key, profile: webBotAuthProfile({ agent: AGENT, agentForm }), now: () => NOW },
    );
    made.push({ url: request.url, headers: [...request.headers] });
  }
  realRequests = made;
}, TEST_TIMEOUT);

/** A key source that has a key for every lookup, so that random fields reach the cryptographic check. */
const anyKey: KeySource = {
  findKey: async (agent) => ({ ok: true, key: verificationKey, agent, pinned: true }),
};
const policy = parsePolicy(JSON.stringify({ freshness: { maxValidity: 86_400, clockSkew: 60 } }));

const SIGNATURE_FIELDS = ["signature-input", "signature", "signature-agent"] as const;

const fieldValueArb = (name: (typeof SIGNATURE_FIELDS)[number]) => {
  const grammar = {
    "signature-input": signatureInputArb,
    signature: signatureArb,
    "signature-agent": signatureAgentArb,
  }[name];
  return fc.oneof(
    { weight: 10, arbitrary: fc.constant(undefined) }, // keep the real value
    { weight: 1, arbitrary: fc.constant(null) }, // drop the field
    { weight: 1, arbitrary: grammar },
    { weight: 1, arbitrary: arbitraryTextArb },
    { weight: 2, arbitrary: fc.array(editArb, { minLength: 1, maxLength: 4 }) },
    // Well-formed but wrong signature bytes, to reach the cryptographic check.
    {
      weight: name === "signature" ? 2 : 0,
      arbitrary: fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => `sig1=:${encodeBase64(b)}:`),
    },
  );
};

describe("fuzz: verifyRequest never throws on hostile signature fields", () => {
  it(
    "real signed requests with fields replaced, edited, dropped or doubled",
    async () => {
      const seen = new Map<string, number>();
      const note = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
      await fc.assert(
        fc.asyncProperty(
          fc.nat(),
          fc.tuple(...SIGNATURE_FIELDS.map(fieldValueArb)),
          fc.nat({ max: 9 }).map((n) => n === 0),
          async (which, values, doubleLine) => {
            const real = realRequests[which % realRequests.length] as SignedFields;
            const lines: Array<[string, string]> = real.headers.filter(
              ([name]) => !(SIGNATURE_FIELDS as readonly string[]).includes(name),
            ) as Array<[string, string]>;
            for (const [i, name] of SIGNATURE_FIELDS.entries()) {
              const original = real.headers.find(([n]) => n === name)?.[1];
              const value = values[i];
              let text: string | undefined;
              if (value === null) text = undefined;
              else if (value === undefined) text = original;
              else if (Array.isArray(value)) text = applyEdits(original ?? "", value);
              else text = value as string;
              if (text === undefined) continue;
              lines.push([name, text]);
              if (doubleLine && name === "signature-input") lines.push([name, text]);
            }
            const verification = await verifyRequest(
              {
                kind: "request",
                method: "POST",
                targetUri: real.url,
                headers: lines,
                body: new TextEncoder().encode("hello"),
              },
              { policy, keys: anyKey, now: () => NOW + 10 },
            );
            note(
              verification.fieldError?.reason ??
                verification.labels[0]?.code ??
                verification.labels[0]?.outcome ??
                "none",
            );
            if (verification.fieldError) {
              expect(["malformed_signature_fields", "malformed_signature_agent"]).toContain(
                verification.fieldError.reason,
              );
              expect(verification.labels).toEqual([]);
            }
            for (const label of verification.labels) {
              expect(["verified", "invalid", "unverified"]).toContain(label.outcome);
              if (label.outcome !== "verified") expect(typeof label.code).toBe("string");
            }
          },
        ),
        { numRuns: RUNS.verifyRequest },
      );
      // The mix reaches every stage: unparseable fields, the agent resolver, the crypto check, and success.
      for (const stage of ["malformed_signature_fields", "invalid_signature", "verified", "none"]) {
        expect(seen.get(stage) ?? 0, `${stage} in ${JSON.stringify([...seen])}`).toBeGreaterThan(
          RUNS.verifyRequest / 500,
        );
      }
    },
    TEST_TIMEOUT,
  );

  it("control: the unmodified requests verify (so the property above reaches the cryptographic check)", async () => {
    for (const real of realRequests) {
      const request = new Request(real.url, {
        method: "POST",
        headers: real.headers as Array<[string, string]>,
        body: "hello",
      });
      const verification = await verifyRequest(requestFromFetch(request), {
        policy,
        keys: anyKey,
        now: () => NOW + 10,
      });
      expect(verification.labels.map((l) => l.outcome)).toEqual(["verified"]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// parseKeySet: key directory documents.

interface RealKeys {
  readonly jwks: readonly Jwk[];
}
let real: RealKeys = { jwks: [] };

beforeAll(async () => {
  const subtle = crypto.subtle;
  const ed = (await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const ec = (await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const rsa = (await subtle.generateKey(
    { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const jwks: Jwk[] = [];
  for (const pair of [ed, ec, rsa]) {
    const { key_ops: _ops, ext: _ext, ...jwk } = (await subtle.exportKey("jwk", pair.publicKey)) as Jwk;
    jwks.push(jwk as Jwk);
  }
  real = { jwks };
}, TEST_TIMEOUT);

const jsonValueArb = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 10 }),
  fc.constantFrom("OKP", "EC", "RSA", "oct", "Ed25519", "P-256", "AQAB", "ed25519", "sig", "verify"),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
);
const JWK_MEMBERS = ["kty", "crv", "x", "y", "n", "e", "kid", "alg", "use", "key_ops", "ext", "nbf", "exp", "k"];

/** A real public JWK with members changed, removed or added (private members among them, now and then). */
const mutatedJwkArb = fc
  .tuple(
    fc.nat(),
    fc.array(
      fc.tuple(
        fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom(...JWK_MEMBERS) },
          { weight: 1, arbitrary: fc.constantFrom(...PRIVATE_JWK_MEMBERS) },
          { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
        ),
        fc.oneof(jsonValueArb, fc.constant(undefined)),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([which, changes]) => {
    const base = real.jwks[which % real.jwks.length] as Jwk;
    const jwk: Record<string, unknown> = { ...base };
    for (const [name, value] of changes) {
      if (value === undefined) delete jwk[name];
      else jwk[name] = value;
    }
    return jwk;
  });

const keySetDocumentArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 6, arbitrary: mutatedJwkArb },
          { weight: 2, arbitrary: fc.nat().map((i) => real.jwks[i % real.jwks.length] as unknown) },
          { weight: 1, arbitrary: jsonValueArb },
        ),
        { maxLength: 6 },
      )
      .chain((keys) => fc.record({ keys: fc.constant(keys), extra: fc.option(jsonValueArb) })),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.record({ keys: fc.jsonValue({ maxDepth: 3 }) }) },
);

const parseOptionsArb = fc.record({
  kind: fc.constantFrom("directory" as const, "jwks" as const),
  maxKeys: fc.integer({ min: 1, max: 8 }),
  allowTestKeys: fc.boolean(),
});

type ParseOptions = typeof parseOptionsArb extends fc.Arbitrary<infer O> ? O : never;

/** Outcomes seen by the parseKeySet properties: refused sets, sets with usable keys, sets with refused keys. */
const keySetOutcomes = { refused: 0, usable: 0, refusedKeys: 0 };

async function expectVettedOrRefused(input: unknown, options: ParseOptions): Promise<void> {
  const result = await parseKeySet(input, options);
  if (!result.ok) {
    keySetOutcomes.refused += 1;
    expect(["directory_rejected", "directory_invalid"]).toContain(result.code);
    expect(typeof result.message).toBe("string");
    return;
  }
  if (result.keySet.keys.length > 0) keySetOutcomes.usable += 1;
  if (result.keySet.refused.length > 0) keySetOutcomes.refusedKeys += 1;
  const { keySet } = result;
  expect(keySet.keys.length).toBeLessThanOrEqual(options.maxKeys);
  for (const key of keySet.keys) {
    expect(typeof key.thumbprint).toBe("string");
    expect(keySet.byThumbprint.get(key.thumbprint)).toBe(key);
    if (options.kind === "directory" && key.kid !== undefined) expect(key.kid).toBe(key.thumbprint);
  }
  for (const refused of keySet.refused) {
    expect(["directory_invalid", "test_key_refused", "directory_signature_invalid"]).toContain(refused.code);
  }
}

describe("fuzz: parseKeySet vets or refuses any directory document, never throws", () => {
  it(
    "random JSON values and key sets of mutated JWKs (as parsed JSON)",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(keySetDocumentArb, fc.jsonValue({ maxDepth: 3 })), parseOptionsArb, (doc, options) =>
          expectVettedOrRefused(doc, options),
        ),
        { numRuns: RUNS.keySetJson },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "directory text with random edits (as fetched bytes)",
    async () => {
      const text = fc.oneof(
        keySetDocumentArb.map((d) => JSON.stringify(d)),
        fc.constant(JSON.stringify({ keys: real.jwks })),
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof(mutatedArb(text), arbitraryTextArb), parseOptionsArb, (doc, options) =>
          expectVettedOrRefused(doc, options),
        ),
        { numRuns: RUNS.keySetText },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "key sets of many near-duplicate JWKs (ambiguity, kid collisions, maxKeys)",
    async () => {
      const crowd = fc.array(
        fc.tuple(
          fc.nat({ max: 2 }),
          fc.option(fc.constantFrom("k1", "k2", 7, null, ""), { nil: undefined }),
          fc.boolean(),
        ),
        { minLength: 1, maxLength: 10 },
      );
      await fc.assert(
        fc.asyncProperty(crowd, parseOptionsArb, (entries, options) => {
          const keys = entries.map(([i, kid, alg]) => ({
            ...(real.jwks[i] as Jwk),
            ...(kid === undefined ? {} : { kid }),
            ...(alg ? { alg: "EdDSA" } : {}),
          }));
          return expectVettedOrRefused({ keys }, options);
        }),
        { numRuns: RUNS.keySetJwks },
      );
    },
    TEST_TIMEOUT,
  );

  it("deeply nested and huge documents are refused, not crashed on", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(await parseKeySet(deep)).toMatchObject({ ok: false });
    const deepKeys = `{"keys":[${"[".repeat(10_000)}${"]".repeat(10_000)}]}`;
    expect(await parseKeySet(deepKeys)).toMatchObject({ ok: true, keySet: { keys: [] } });
    const nestedJwk = { ...(real.jwks[0] as Jwk), x5c: JSON.parse(`${"[".repeat(5000)}${"]".repeat(5000)}`) };
    const twice = await parseKeySet({ keys: [nestedJwk, { ...nestedJwk }] }, { kind: "jwks" });
    expect(twice.ok).toBe(true);
  });

  it("the generators reach every outcome", () => {
    expect(keySetOutcomes.refused).toBeGreaterThan(100);
    expect(keySetOutcomes.usable).toBeGreaterThan(100);
    expect(keySetOutcomes.refusedKeys).toBeGreaterThan(100);
  });
});

/** Fast-check runs in this file, per runtime. */
const CASES_PER_RUNTIME =
  TARGETS.length * (RUNS.grammar + RUNS.mutated + RUNS.arbitrary) +
  RUNS.verifyRequest +
  RUNS.keySetJson +
  RUNS.keySetText +
  RUNS.keySetJwks;

it("the case count stated in the header is the one run", () => {
  expect(CASES_PER_RUNTIME * 2).toBe(246_000);
});
