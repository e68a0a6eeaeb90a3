/**
 * `serializeComponent` and `componentKey` write the common identifier shapes directly instead of through
 * structured-headers (they run several times per covered component per request); this holds the direct path to
 * structured-headers' output, byte for byte, and to its refusals.
 */
import fc from "fast-check";
import { type BareItem, serializeItem, Token } from "structured-headers";
import { describe, expect, it } from "vitest";
import { type ComponentIdentifier, componentKey, serializeComponent } from "../../worker/rfc9421/component.ts";

const name = fc.oneof(
  fc.constantFrom("@method", "@authority", "@target-uri", "@query-param", "signature-agent", "content-digest"),
  fc.constantFrom('x-a"b', "back\\slash", "UPPER", "caf\u00e9", "", "a b", "tab\t"),
  fc.string({ maxLength: 8 }),
);
const key = fc.oneof(
  fc.constantFrom("sf", "bs", "req", "tr", "key", "name"),
  fc.constantFrom("Key", "1a", "", "a b", "*x"),
  fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,5}$/),
);
const value: fc.Arbitrary<BareItem> = fc.oneof(
  fc.constant(true as BareItem),
  fc.constant(false as BareItem),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('q"uote', "back\\slash", "caf\u00e9", "sig1", ""),
  fc.integer(),
  fc.constant(new Token("tok")),
);
const identifier: fc.Arbitrary<ComponentIdentifier> = fc.record({
  name,
  params: fc.uniqueArray(fc.tuple(key, value), { maxLength: 3, selector: ([k]) => k }).map((p) => new Map(p)),
});

/** structured-headers' answer: the text, or that it refuses. */
function reference(id: ComponentIdentifier, sorted: boolean): string | "refused" {
  const params = [...id.params];
  if (sorted) params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  try {
    return serializeItem([id.name, new Map(params)]);
  } catch {
    return "refused";
  }
}

function ours(write: () => string): string | "refused" {
  try {
    return write();
  } catch {
    return "refused";
  }
}

describe("serializeComponent and componentKey", () => {
  it("give structured-headers' text for every identifier, and refuse what it refuses", () => {
    fc.assert(
      fc.property(identifier, (id) => {
        expect(ours(() => serializeComponent(id))).toBe(reference(id, false));
        expect(ours(() => componentKey(id))).toBe(reference(id, true));
      }),
      { numRuns: 5000 },
    );
  });

  it("key two identifiers alike exactly when they differ only in parameter order", () => {
    const a = {
      name: "example-dict",
      params: new Map<string, BareItem>([
        ["key", "a"],
        ["sf", true],
      ]),
    };
    const b = {
      name: "example-dict",
      params: new Map<string, BareItem>([
        ["sf", true],
        ["key", "a"],
      ]),
    };
    expect(componentKey(a)).toBe(componentKey(b));
    expect(serializeComponent(a)).toBe('"example-dict";key="a";sf');
    expect(serializeComponent(b)).toBe('"example-dict";sf;key="a"');
  });
});
