/**
 * `Verified-Agent` is serialised once, in one pass, and never parsed back on the request path; these tests hold
 * the serialiser to the guarantee the parse-back used to give: whatever it returns reads back, with the origin's
 * parser, as exactly the identity it was given, and whatever has no faithful form is refused with a TypeError.
 */
import fc from "fast-check";
import { parseDictionary } from "structured-headers";
import { describe, expect, it } from "vitest";
import {
  parseVerifiedAgent,
  serializeVerifiedAgent,
  type VerifiedAgent,
} from "../../worker/identity/verified-agent.ts";

const BASE: VerifiedAgent = {
  agent: "https://agent.example/.well-known/http-message-signatures-directory",
  keyid: "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
  profile: "web-bot-auth",
  alg: "ed25519",
  label: "sig1",
  created: 1_735_689_600,
  expires: 1_735_689_660,
};

/** Any text, lone surrogates included (the one kind of JavaScript string with no UTF-8 form). */
const anyText = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", "a", "web-bot-auth", "ed25519", 'q"uote\\', "caf\u00e9", "\ud800", "x\udfffy", "100%", "\u0000"),
);
const anyKey = fc.oneof(
  fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,8}$/),
  fc.constantFrom("agent", "label", "created", "Upper", "1digit", "", "a b"),
);
const anyNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(-0, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 999_999_999_999_999, 1_000_000_000_000_000),
);
const anyIdentity: fc.Arbitrary<VerifiedAgent> = fc.record(
  {
    agent: anyText,
    keyid: anyText,
    profile: anyText,
    alg: anyText,
    label: anyText,
    created: anyNumber,
    expires: anyNumber,
    extra: fc.dictionary(anyKey, fc.oneof(anyText, fc.boolean(), anyNumber), { maxKeys: 4 }),
  },
  { requiredKeys: ["agent", "keyid", "profile", "alg", "label"] },
);

/** The identity as the origin's parser gives it back: absent members and an empty `extra` as `undefined`. */
function normalised(identity: VerifiedAgent): VerifiedAgent {
  const extra = identity.extra ?? {};
  return {
    ...identity,
    created: identity.created,
    expires: identity.expires,
    extra: Object.keys(extra).length > 0 ? extra : undefined,
  };
}

describe("serializeVerifiedAgent", () => {
  it("round-trips: every value it returns parses back as the same identity, member for member", () => {
    let written = 0;
    fc.assert(
      fc.property(anyIdentity, (identity) => {
        let value: string;
        try {
          value = serializeVerifiedAgent(identity);
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
          return;
        }
        written++;
        // A valid Structured Field Dictionary (structured-headers' own parser), and the same identity.
        expect(() => parseDictionary(value)).not.toThrow();
        expect(parseVerifiedAgent(value)).toEqual(normalised(identity));
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the written branch often, not only the refusals.
    expect(written).toBeGreaterThan(100);
  });

  it("writes every identity with well-formed, non-empty text and in-range integers (it refuses nothing faithful)", () => {
    const wellFormed = anyText.filter((t) => t !== "" && t.isWellFormed());
    fc.assert(
      fc.property(
        fc.record({
          agent: wellFormed,
          keyid: wellFormed,
          profile: wellFormed,
          alg: wellFormed,
          label: wellFormed,
          created: fc.integer({ min: 0 }),
          extra: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), fc.oneof(wellFormed, fc.boolean()), {
            maxKeys: 4,
          }),
        }),
        (identity) => {
          const clean = {
            ...identity,
            extra: Object.fromEntries(Object.entries(identity.extra).filter(([k]) => !fixed.has(k))),
          };
          expect(parseVerifiedAgent(serializeVerifiedAgent(clean))).toEqual(normalised(clean));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it.each([
    ["a lone surrogate in agent", { ...BASE, agent: "https://a.example/\ud800" }],
    ["an empty label", { ...BASE, label: "" }],
    ["an empty profile", { ...BASE, profile: "" }],
    ["-0 as created", { ...BASE, created: -0 }],
    ["a fraction as expires", { ...BASE, expires: 1.5 }],
    ["an integer beyond 15 digits", { ...BASE, created: 1_000_000_000_000_000 }],
    ["an extra key that collides", { ...BASE, extra: { agent: "x" } }],
    ["an extra key that is no Structured Field key", { ...BASE, extra: { Replay: "checked" } }],
    ["an extra value that is neither text, number nor boolean", { ...BASE, extra: { replay: null } }],
  ] as Array<[string, VerifiedAgent]>)("refuses %s with a TypeError", (_name, identity) => {
    expect(() => serializeVerifiedAgent(identity)).toThrow(TypeError);
  });

  it("writes Strings, Tokens, Display Strings, Integers and Booleans as RFC 9651 does", () => {
    expect(
      serializeVerifiedAgent({
        ...BASE,
        agent: 'https://a.example/caf\u00e9 "100%"',
        extra: { replay: "checked", bearer: "not a token", flag: true, off: false, count: 3 },
      }),
    ).toBe(
      'agent=%"https://a.example/caf%c3%a9 %22100%25%22", keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U", ' +
        'profile=web-bot-auth, alg=ed25519, label="sig1", created=1735689600, expires=1735689660, replay=checked, ' +
        'bearer="not a token", flag, off=?0, count=3',
    );
  });
});

const fixed = new Set(["agent", "keyid", "profile", "alg", "label", "created", "expires"]);
