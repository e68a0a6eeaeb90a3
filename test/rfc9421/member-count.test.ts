/**
 * The member cap of signature-related Dictionary fields (`MAX_DICTIONARY_MEMBERS`): the cheap count on raw text
 * that runs before any parse, and the refusal above the cap. The count must never fall below the number of
 * members a parse would find (or the cap could be slipped past), and must be exact on valid fields (or honest
 * fields at the cap would be refused). Proved as properties over generated Dictionaries, with strings that hold
 * commas, quotes and backslashes, Inner Lists, Byte Sequences and parameters, split over several field lines.
 */
import fc from "fast-check";
import {
  type BareItem,
  type InnerList,
  type Item,
  parseDictionary,
  serializeDictionary,
  Token,
} from "structured-headers";
import { describe, expect, it } from "vitest";
import {
  countDictionaryMembers,
  MAX_DICTIONARY_MEMBERS,
  parseAcceptSignature,
  parseSignatures,
  parseStrictDictionary,
  SignatureError,
  verifyContentDigest,
} from "../../worker/rfc9421/index.ts";

const keyArb = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,6}$/);
/** Strings rich in what a naive count would trip on: commas, quotes, backslashes, parentheses. */
const trickyStringArb = fc.string({
  unit: fc.constantFrom(",", '"', "\\", "(", ")", ";", "=", " ", "a", ":", "%"),
  maxLength: 12,
});
const bareArb: fc.Arbitrary<BareItem> = fc.oneof(
  fc.integer({ min: -999, max: 999 }),
  trickyStringArb,
  fc.stringMatching(/^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]{0,6}$/).map((s) => new Token(s)),
  fc.boolean(),
  fc.uint8Array({ maxLength: 12 }).map((b) => b.buffer as ArrayBuffer),
);
const paramsArb = fc
  .uniqueArray(fc.tuple(keyArb, bareArb), { selector: (p) => p[0], maxLength: 3 })
  .map((p) => new Map(p));
const itemArb: fc.Arbitrary<Item> = fc.tuple(bareArb, paramsArb);
const innerListArb: fc.Arbitrary<InnerList> = fc.tuple(fc.array(itemArb, { maxLength: 3 }), paramsArb);
const dictionaryArb = (maxLength: number) =>
  fc
    .uniqueArray(fc.tuple(keyArb, fc.oneof(itemArb, innerListArb)), { selector: (m) => m[0], maxLength })
    .map((members) => new Map<string, Item | InnerList>(members));

/** The serialised Dictionary as field lines joined the way `combinedField` joins them. */
function asFieldLines(dictionary: Map<string, Item | InnerList>, split: number): string {
  const members = [...dictionary].map(([key, value]) => serializeDictionary(new Map([[key, value]])));
  if (members.length < 2) return members.join(", ");
  const at = (split % (members.length - 1)) + 1;
  return [members.slice(0, at).join(", "), members.slice(at).join(",")].join(", ");
}

describe("countDictionaryMembers", () => {
  it.each([
    ["", 0],
    ["   ", 0],
    ["a=1", 1],
    ['a="x, y, z", b=2', 2],
    ['a="say \\"hi, there\\"", b', 2],
    ["a=(1 2 3);p=4, b=:AAAA:, c=?0", 3],
    ['a=%"x,y", b=1', 2],
    ["a=1,b=2,c=3", 3],
  ])("counts %j as %d", (value, count) => {
    expect(countDictionaryMembers(value)).toBe(count);
  });

  it("is exact on every valid Dictionary, however it is split into field lines", () => {
    fc.assert(
      fc.property(dictionaryArb(90), fc.nat(), (dictionary, split) => {
        const value = asFieldLines(dictionary, split);
        expect(parseDictionary(value).size).toBe(dictionary.size);
        expect(countDictionaryMembers(value)).toBe(dictionary.size);
      }),
      { numRuns: 300 },
    );
  });

  it("is never below the members a parse finds, for any text that parses (duplicates and junk included)", () => {
    const textArb = fc.string({
      unit: fc.constantFrom(",", '"', "\\", "(", ")", ";", "=", " ", "a", "b", "1", ":", "?", "%", "*"),
      maxLength: 40,
    });
    fc.assert(
      fc.property(textArb, (value) => {
        let size: number;
        try {
          size = parseDictionary(value).size;
        } catch {
          return;
        }
        expect(countDictionaryMembers(value)).toBeGreaterThanOrEqual(size);
      }),
      { numRuns: 2000 },
    );
  });
});

describe(`at most ${MAX_DICTIONARY_MEMBERS} members, refused as a whole above`, () => {
  const fields = (n: number) => ({
    signatureInput: Array.from({ length: n }, (_, i) => `s${i}=("@method");created=1`).join(", "),
    signature: Array.from({ length: n }, (_, i) => `s${i}=:AAAA:`).join(", "),
  });

  it("every strict Dictionary parse: members ≤ the cap parse, one more is too_many_members", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 * MAX_DICTIONARY_MEMBERS }), (n) => {
        const { signatureInput } = fields(n);
        const parse = () => parseStrictDictionary(signatureInput, "malformed_signature_input", "Signature-Input");
        if (n <= MAX_DICTIONARY_MEMBERS) expect(parse().members.size).toBe(n);
        else expect(parse).toThrow(expect.objectContaining({ code: "too_many_members" }));
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ["Signature-Input", (n: number) => parseSignatures({ ...fields(n), signature: fields(1).signature }, "request")],
    [
      "Signature",
      (n: number) => parseSignatures({ ...fields(n), signatureInput: fields(1).signatureInput }, "request"),
    ],
    [
      "Accept-Signature",
      (n: number) => parseAcceptSignature(Array.from({ length: n }, (_, i) => `s${i}=("@method")`).join(", ")),
    ],
    [
      "Content-Digest",
      (n: number) =>
        verifyContentDigest(Array.from({ length: n }, (_, i) => `x${i}=:AAAA:`).join(", "), new Uint8Array()),
    ],
  ])(
    "%s with one member too many is refused whole, before its label sets or members are looked at",
    async (_, parse) => {
      const error = await (async () => parse(MAX_DICTIONARY_MEMBERS + 1))().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(SignatureError);
      expect((error as SignatureError).code).toBe("too_many_members");
      // Counts only in the message: no sender bytes.
      expect((error as SignatureError).message).not.toContain("s64");
    },
  );

  it("a valid first signature does not carry a field over the cap (nothing is judged, nothing is skipped)", () => {
    const { signatureInput, signature } = fields(MAX_DICTIONARY_MEMBERS + 1);
    expect(() => parseSignatures({ signatureInput, signature }, "request")).toThrow(
      expect.objectContaining({ code: "too_many_members" }),
    );
    expect(parseSignatures(fields(MAX_DICTIONARY_MEMBERS), "request")).toHaveLength(MAX_DICTIONARY_MEMBERS);
  });
});
