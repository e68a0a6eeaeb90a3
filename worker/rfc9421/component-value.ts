/**
 * The value of each covered component in a message (RFC 9421 §2.1 fields, §2.2 derived components).
 *
 * @module
 */
import {
  type Dictionary,
  type InnerList,
  type Item,
  isInnerList,
  type List,
  parseDictionary,
  parseItem,
  parseList,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
} from "structured-headers";
import { encodeBase64 } from "./base64.ts";
import { type ComponentIdentifier, serializeComponent } from "./component.ts";
import { SignatureError } from "./errors.ts";
import { type FieldLines, fieldLineValue, fieldValues, type HttpMessage, type HttpRequestMessage } from "./message.ts";
import { encodedQueryPairs } from "./query-param.ts";
import { parseTargetUri } from "./target-uri.ts";

/** The Structured Field type of a field, needed to re-serialise it for `;sf` (RFC 9421 §2.1.1). */
export type StructuredFieldType = "dictionary" | "list" | "item";

/** Structured fields whose type the core knows without being told (RFC 9421, RFC 9530, RFC 9209, RFC 9211). */
export const KNOWN_STRUCTURED_FIELDS: Readonly<Record<string, StructuredFieldType>> = Object.freeze({
  "signature-input": "dictionary",
  signature: "dictionary",
  "accept-signature": "dictionary",
  "content-digest": "dictionary",
  "repr-digest": "dictionary",
  "want-content-digest": "dictionary",
  "want-repr-digest": "dictionary",
  "signature-key": "dictionary",
  "cache-status": "list",
  "proxy-status": "list",
  priority: "dictionary",
});

/** Context for component values: which structured types to assume for `;sf`. */
export interface ComponentContext {
  /** Structured field types beyond {@link KNOWN_STRUCTURED_FIELDS}, by lowercase field name. */
  readonly structuredFields?: Readonly<Record<string, StructuredFieldType>> | undefined;
}

/**
 * The component's value in the message, exactly as it goes into the signature base after `": "`.
 *
 * @throws {SignatureError} `missing_field`, `missing_trailer`, `missing_dictionary_member`,
 *   `invalid_structured_field`, `missing_query_param`, `repeated_query_param`, `request_target_unavailable`,
 *   `component_not_applicable`, `invalid_target_uri` or `non_ascii_base` — never an empty value for a failure
 *
 * @example
 * ```ts
 * componentValue(message, parseComponent('"@authority"')); // "example.com"
 * ```
 */
export function componentValue(message: HttpMessage, id: ComponentIdentifier, context: ComponentContext = {}): string {
  const target = id.params.has("req") ? relatedRequest(message, id) : message;
  const value = id.name.startsWith("@")
    ? derivedValue(target, id)
    : fieldValue(target, id, context.structuredFields ?? {});
  if (!/^[\x20-\x7e\t]*$/.test(value)) {
    throw new SignatureError(
      "non_ascii_base",
      `the value of ${serializeComponent(id)} has bytes outside printable ASCII; sign it with ;bs`,
    );
  }
  return value;
}

function relatedRequest(message: HttpMessage, id: ComponentIdentifier): HttpRequestMessage {
  if (message.kind === "request") {
    throw new SignatureError(
      "component_not_applicable",
      `;req cannot be used on a request (${serializeComponent(id)})`,
    );
  }
  if (!message.request) {
    throw new SignatureError(
      "component_not_applicable",
      `${serializeComponent(id)} needs the request this response answers, and it was not given`,
    );
  }
  return message.request;
}

function derivedValue(message: HttpMessage, id: ComponentIdentifier): string {
  if (message.kind === "response") {
    if (id.name === "@status") return String(message.status).padStart(3, "0");
    throw new SignatureError("component_not_applicable", `"${id.name}" on a response needs ;req`);
  }
  if (id.name === "@status") {
    throw new SignatureError("component_not_applicable", `"@status" applies only to responses`);
  }
  if (id.name === "@method") return message.method;
  if (id.name === "@target-uri") return message.targetUri;
  if (id.name === "@request-target") {
    if (message.requestTarget === undefined) {
      throw new SignatureError(
        "request_target_unavailable",
        `"@request-target" needs the raw HTTP/1.1 request line, which this message does not carry`,
      );
    }
    return message.requestTarget;
  }
  const uri = parseTargetUri(message.targetUri);
  switch (id.name) {
    case "@authority":
      return uri.authority;
    case "@scheme":
      return uri.scheme;
    case "@path":
      return uri.path;
    case "@query":
      return `?${uri.query ?? ""}`;
    case "@query-param":
      return queryParam(uri.query ?? "", id.params.get("name") as string);
    default:
      throw new SignatureError("unknown_component", `"${id.name}" is not a derived component of RFC 9421`);
  }
}

function queryParam(query: string, name: string): string {
  const values = encodedQueryPairs(query).filter(([n]) => n === name);
  if (values.length === 0) {
    throw new SignatureError("missing_query_param", `the query has no parameter named "${name}"`);
  }
  if (values.length > 1) {
    throw new SignatureError(
      "repeated_query_param",
      `the query parameter "${name}" occurs ${values.length} times; RFC 9421 §2.2.8 forbids covering it`,
    );
  }
  return (values[0] as [string, string])[1];
}

function fieldValue(
  message: HttpMessage,
  id: ComponentIdentifier,
  types: Readonly<Record<string, StructuredFieldType>>,
): string {
  const fromTrailers = id.params.has("tr");
  let fields: FieldLines;
  if (fromTrailers) {
    if (!message.trailers) {
      throw new SignatureError(
        "missing_trailer",
        `${serializeComponent(id)} names a trailer, and the message has none`,
      );
    }
    fields = message.trailers;
  } else {
    fields = message.headers;
  }
  const raw = fieldValues(fields, id.name);
  if (raw === undefined) {
    throw new SignatureError(
      fromTrailers ? "missing_trailer" : "missing_field",
      `the covered ${fromTrailers ? "trailer" : "field"} "${id.name}" is not in the message`,
    );
  }
  const lines = raw.map(fieldLineValue);
  if (id.params.has("bs")) return lines.map((line) => `:${encodeBase64(fieldBytes(line))}:`).join(", ");
  const combined = lines.join(", ");
  const key = id.params.get("key");
  if (typeof key === "string") {
    const member = parseStructured(combined, "dictionary", id).get(key);
    if (member === undefined) {
      throw new SignatureError("missing_dictionary_member", `the field "${id.name}" has no member "${key}"`);
    }
    return isInnerList(member) ? serializeInnerList(member as InnerList) : serializeItem(member as Item);
  }
  if (id.params.has("sf")) {
    const type = types[id.name] ?? KNOWN_STRUCTURED_FIELDS[id.name];
    if (type === undefined) {
      throw new SignatureError(
        "invalid_structured_field",
        `"${id.name}";sf needs the field's structured type, and it is not known; configure structuredFields`,
      );
    }
    if (type === "dictionary") return serializeDictionary(parseStructured(combined, type, id));
    if (type === "list") return serializeList(parseStructured(combined, type, id));
    return serializeItem(parseStructured(combined, type, id));
  }
  return combined;
}

function parseStructured(value: string, type: "dictionary", id: ComponentIdentifier): Dictionary;
function parseStructured(value: string, type: "list", id: ComponentIdentifier): List;
function parseStructured(value: string, type: "item", id: ComponentIdentifier): Item;
function parseStructured(value: string, type: StructuredFieldType, id: ComponentIdentifier): Dictionary | List | Item {
  try {
    if (type === "dictionary") return parseDictionary(value);
    if (type === "list") return parseList(value);
    return parseItem(value);
  } catch (cause) {
    throw new SignatureError(
      "invalid_structured_field",
      `the field "${id.name}" is not a valid Structured Field ${type}`,
      { cause },
    );
  }
}

/** Field values are byte strings: code points up to 0xFF are bytes (as Fetch `Headers` holds them). */
function fieldBytes(value: string): Uint8Array {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0xff) return new TextEncoder().encode(value);
    bytes[i] = code;
  }
  return bytes;
}
