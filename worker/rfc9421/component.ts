/**
 * Component identifiers (RFC 9421 §2): a name (a field name or a derived `@` name) with parameters.
 *
 * @module
 */
import { type BareItem, type Item, parseItem, serializeItem, Token } from "structured-headers";
import { SignatureError } from "./errors.ts";

/** The derived components of RFC 9421 §2.2 (`@signature-params` is not one a signer may cover). */
export const DERIVED_COMPONENTS = [
  "@method",
  "@target-uri",
  "@authority",
  "@scheme",
  "@request-target",
  "@path",
  "@query",
  "@query-param",
  "@status",
] as const;

/** One of {@link DERIVED_COMPONENTS}. */
export type DerivedComponentName = (typeof DERIVED_COMPONENTS)[number];

/** A validated component identifier. Parameter order is kept as written (it is part of the signed text). */
export interface ComponentIdentifier {
  /** Lowercase field name, or a derived component name starting with `@`. */
  readonly name: string;
  readonly params: ReadonlyMap<string, BareItem>;
}

/** The parameters RFC 9421 §2.1 and §2.2 define for component identifiers. */
const FLAG_PARAMETERS = new Set(["sf", "bs", "req", "tr"]);
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Where a component is judged: the kind of message that carries the signature. */
export type MessageKind = "request" | "response";

/**
 * Validates one inner-list item of `Signature-Input` (or `Accept-Signature`) as a component identifier.
 *
 * @param item the parsed Structured Field item
 * @param kind when known, the kind of the signed message: `;req` and `@status` are refused on requests, and
 *   request-only derived components without `;req` on responses
 * @throws {SignatureError} `invalid_component`, `unknown_component`, `unknown_component_parameter`,
 *   `incompatible_component_parameters` or `component_not_applicable`
 *
 * @example
 * ```ts
 * const id = componentFromItem(['@query-param', new Map([['name', 'Pet']])], "request");
 * ```
 */
export function componentFromItem(item: Item, kind?: MessageKind): ComponentIdentifier {
  const [name, params] = item;
  if (typeof name !== "string") {
    const shown = name instanceof Token ? `the Token ${name.toString()}` : `a ${typeof name}`;
    throw new SignatureError("invalid_component", `a component identifier must be a String, got ${shown}`);
  }
  if (name === "" || name !== name.toLowerCase()) {
    throw new SignatureError("invalid_component", `component name "${name}" must be non-empty and lowercase`);
  }
  if (name === "@signature-params") {
    throw new SignatureError("invalid_component", `"@signature-params" cannot be a covered component`);
  }
  const derived = name.startsWith("@");
  if (derived && !(DERIVED_COMPONENTS as readonly string[]).includes(name)) {
    throw new SignatureError("unknown_component", `"${name}" is not a derived component of RFC 9421`);
  }
  if (!derived && !FIELD_NAME.test(name)) {
    throw new SignatureError("invalid_component", `"${name}" is not a valid HTTP field name`);
  }
  for (const [key, value] of params) {
    if (FLAG_PARAMETERS.has(key)) {
      if (value !== true) {
        throw new SignatureError("invalid_component", `parameter ;${key} of "${name}" must be a bare flag`);
      }
    } else if (key === "key" || key === "name") {
      if (typeof value !== "string") {
        throw new SignatureError("invalid_component", `parameter ;${key} of "${name}" must be a String`);
      }
    } else {
      throw new SignatureError("unknown_component_parameter", `"${name}" has the unknown parameter ;${key}`);
    }
  }
  if (derived) {
    for (const key of params.keys()) {
      if (key === "req" || (key === "name" && name === "@query-param")) continue;
      throw new SignatureError(
        "incompatible_component_parameters",
        `parameter ;${key} does not apply to the derived component "${name}"`,
      );
    }
    if (name === "@query-param" && !params.has("name")) {
      throw new SignatureError("invalid_component", `"@query-param" needs a ;name parameter`);
    }
  } else {
    if (params.has("name")) {
      throw new SignatureError("incompatible_component_parameters", `;name applies only to "@query-param"`);
    }
    if (params.has("bs") && (params.has("sf") || params.has("key"))) {
      throw new SignatureError("incompatible_component_parameters", `"${name}" combines ;bs with ;sf or ;key`);
    }
  }
  if (kind !== undefined) assertApplicable({ name, params }, kind);
  return { name, params };
}

/**
 * Refuses components that cannot apply to the kind of message: `;req` on a request, `@status` on a request,
 * and request-derived components on a response without `;req` (RFC 9421 §2.2, §2.4).
 *
 * @example
 * ```ts
 * assertApplicable(parseComponent('"@status"'), "request"); // throws component_not_applicable
 * ```
 */
export function assertApplicable(id: ComponentIdentifier, kind: MessageKind): void {
  const req = id.params.has("req");
  if (kind === "request" && req) {
    throw new SignatureError(
      "component_not_applicable",
      `;req cannot be used on a request (${serializeComponent(id)})`,
    );
  }
  if (!id.name.startsWith("@")) return;
  const onRequest = kind === "request" || req;
  if (id.name === "@status" && onRequest) {
    throw new SignatureError("component_not_applicable", `"@status" applies only to responses`);
  }
  if (id.name !== "@status" && !onRequest) {
    throw new SignatureError("component_not_applicable", `"${id.name}" on a response needs ;req`);
  }
}

/**
 * The identifier as it appears in a signature base line and in `Signature-Input`, e.g. `"@query-param";name="Pet"`.
 *
 * @example
 * ```ts
 * serializeComponent({ name: "example-dict", params: new Map([["key", "a"]]) }); // '"example-dict";key="a"'
 * ```
 */
export function serializeComponent(id: ComponentIdentifier): string {
  return plainItem(id.name, id.params) ?? serializeItem([id.name, new Map(id.params)]);
}

const PLAIN_NAME = /^[@!#$%&'*+\-.^_`|~0-9a-z]+$/;
const PLAIN_KEY = /^[a-z*][a-z0-9_\-.*]*$/;
/** Printable ASCII without `"` and `\`: a String with nothing to escape. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The serialised item for the shapes component identifiers take (a name with nothing to escape; flags and
 * Strings with nothing to escape as parameters), written directly; `undefined` for anything else, which
 * structured-headers serialises (or refuses). Equal to structured-headers' output wherever it answers (a
 * property test holds it to that).
 */
function plainItem(name: string, params: Iterable<readonly [string, BareItem]>): string | undefined {
  if (!PLAIN_NAME.test(name)) return undefined;
  let out = `"${name}"`;
  for (const [key, value] of params) {
    if (!PLAIN_KEY.test(key)) return undefined;
    if (value === true) out += `;${key}`;
    else if (typeof value === "string" && PLAIN_STRING.test(value)) out += `;${key}="${value}"`;
    else return undefined;
  }
  return out;
}

/**
 * A key under which two identifiers are equal exactly when RFC 9421 says they are the same component:
 * the same name and the same parameters, in any order.
 *
 * @example
 * ```ts
 * componentKey(a) === componentKey(b); // '"example-dict";key="a";sf' equals '"example-dict";sf;key="a"'
 * ```
 */
export function componentKey(id: ComponentIdentifier): string {
  if (id.params.size < 2) return serializeComponent(id);
  const params = [...id.params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return plainItem(id.name, params) ?? serializeItem([id.name, new Map(params)]);
}

/**
 * Builds a component identifier from its text form, e.g. `"@authority"` or `"signature-agent";key="sig1"`;
 * a bare name without quotes is accepted as a convenience (`@authority`).
 *
 * @throws {SignatureError} `invalid_component` and the codes of {@link componentFromItem}
 *
 * @example
 * ```ts
 * const id = parseComponent('"content-digest"');
 * ```
 */
export function parseComponent(text: string, kind?: MessageKind): ComponentIdentifier {
  const quoted = text.startsWith('"') ? text : `"${text}"`;
  let item: Item;
  try {
    item = parseItem(quoted);
  } catch (cause) {
    throw new SignatureError("invalid_component", `not a component identifier: ${text}`, { cause });
  }
  return componentFromItem(item, kind);
}
