/**
 * Strict Structured Field Dictionary parsing on top of `structured-headers`.
 *
 * `structured-headers` implements RFC 9651 and, as RFC 8941 allows, lets a later duplicate dictionary key or
 * parameter overwrite an earlier one, parses Dates and Display Strings, and turns `1.0` into the integer `1`.
 * RFC 9421 needs more: labels and parameters must be unique and `created`/`expires` must be Integers. The library
 * still does all the parsing; this module re-walks the (already valid) text only to see what parsing threw away.
 *
 * @module
 */
import {
  type BareItem,
  type Dictionary,
  DisplayString,
  type InnerList,
  type Item,
  isInnerList,
  ParseError,
  parseDictionary,
} from "structured-headers";
import { SignatureError, type SignatureErrorCode } from "./errors.ts";

/**
 * The most members Signet parses in one signature-related Dictionary field (`Signature-Input`, `Signature`,
 * `Signature-Key`, `Signature-Agent`, `Accept-Signature`, `Content-Digest`). A field with more is refused as a
 * whole (`too_many_members`) after one cheap count of the raw text, before any member is parsed: no request can
 * make Signet parse more, and no member is ever skipped (a request is never accepted beside a member nobody
 * parsed). It is also the ceiling of the policy's `budget.maxLabels`, so every label a policy may judge fits.
 *
 * @example
 * ```ts
 * if (countDictionaryMembers(value) > MAX_DICTIONARY_MEMBERS) refuse();
 * ```
 */
export const MAX_DICTIONARY_MEMBERS = 64;

/**
 * An upper bound on the members of a Structured Field Dictionary, from its raw text alone: one more than the
 * commas outside Strings (and Display Strings). Exact for every valid Dictionary without duplicate keys (no
 * other bare item, parameter or Inner List may contain a comma), never below the member count of text that
 * parses, and linear in the length of the text with no allocation: cheap enough to run before the parse it
 * guards. The empty field counts 0.
 *
 * @example
 * ```ts
 * countDictionaryMembers('a=1, b="x, y";p, c=(1 2)'); // 3
 * ```
 */
export function countDictionaryMembers(value: string): number {
  let commas = 0;
  let inString = false;
  let blank = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x2c) commas++;
    if (blank && c !== 0x20 && c !== 0x09) blank = false;
  }
  return blank ? 0 : commas + 1;
}

/** The raw text of one parameter: its key and the literal value token (`true` for a bare key). */
export interface RawParameter {
  readonly key: string;
  readonly raw: string;
}

/** What the raw walk saw of one dictionary member. */
export interface RawMember {
  readonly key: string;
  /** Parameters of the member itself (after the inner list or item), in wire order. */
  readonly params: readonly RawParameter[];
  /** Parameters of each inner-list item, in wire order; empty for an item member. */
  readonly innerParams: readonly (readonly RawParameter[])[];
}

/** A parsed dictionary together with the raw view of each member and what is wrong with single members. */
export interface StrictDictionary {
  readonly members: Dictionary;
  readonly raw: ReadonlyMap<string, RawMember>;
  /** Members that parsed but break RFC 9421's stricter rules (duplicate parameters, RFC 9651 types). */
  readonly invalid: ReadonlyMap<string, SignatureError>;
}

/**
 * Parses a Structured Field Dictionary and finds what RFC 9421 forbids but RFC 8941/9651 parsing hides:
 * duplicate keys (refused for the whole field, since the members can no longer be told apart), and duplicate
 * parameters, Dates and Display Strings (reported per member in `invalid`, so one bad member does not spoil
 * the others).
 *
 * @param value the field value, several field lines already joined with `", "`
 * @param malformed the error code for a value that is not a dictionary at all
 * @param field the field name, for messages
 * @throws {SignatureError} `too_many_members` above {@link MAX_DICTIONARY_MEMBERS} (counted before parsing),
 *   `malformed` or `duplicate_label`
 *
 * @example
 * ```ts
 * const { members, invalid } = parseStrictDictionary('sig1=("@method");created=1', "malformed_signature_input", "Signature-Input");
 * ```
 */
export function parseStrictDictionary(value: string, malformed: SignatureErrorCode, field: string): StrictDictionary {
  assertMemberCount(value, field);
  let members: Dictionary;
  try {
    members = parseDictionary(value);
  } catch (cause) {
    if (usesRfc9651Syntax(value)) {
      throw new SignatureError(
        "unsupported_structured_type",
        `${field} uses an RFC 9651 Date or Display String, which RFC 9421 (RFC 8941) does not allow`,
        { cause },
      );
    }
    const detail = cause instanceof ParseError ? cause.message : String(cause);
    throw new SignatureError(malformed, `${field} is not a valid Structured Field Dictionary: ${detail}`, { cause });
  }
  const raw = new Map<string, RawMember>();
  const invalid = new Map<string, SignatureError>();
  for (const member of scanDictionary(value)) {
    if (raw.has(member.key)) {
      throw new SignatureError("duplicate_label", `${field} has the key "${member.key}" more than once`, {
        label: member.key,
      });
    }
    raw.set(member.key, member);
    try {
      assertUniqueParameters(member.params, field, member.key);
      for (const params of member.innerParams) assertUniqueParameters(params, field, member.key);
    } catch (err) {
      invalid.set(member.key, err as SignatureError);
    }
  }
  for (const [key, member] of members) {
    if (invalid.has(key)) continue;
    try {
      assertRfc8941Member(member, field, key);
    } catch (err) {
      invalid.set(key, err as SignatureError);
    }
  }
  return { members, raw, invalid };
}

/**
 * Refuses a Dictionary field with more than {@link MAX_DICTIONARY_MEMBERS} members, counted on the raw text
 * before anything is parsed. The message gives counts only (never the sender's bytes).
 *
 * @throws {SignatureError} `too_many_members`
 *
 * @example
 * ```ts
 * assertMemberCount(request.headers.get("signature-agent") ?? "", "Signature-Agent");
 * ```
 */
export function assertMemberCount(value: string, field: string): void {
  const count = countDictionaryMembers(value);
  if (count > MAX_DICTIONARY_MEMBERS) {
    throw new SignatureError(
      "too_many_members",
      `${field} has ${count} members; Signet parses at most ${MAX_DICTIONARY_MEMBERS} and refuses the field as a whole`,
    );
  }
}

/**
 * Like {@link parseStrictDictionary}, but any invalid member fails the whole field. For fields read as one
 * unit (Content-Digest, Accept-Signature).
 *
 * @example
 * ```ts
 * const members = parseWholeDictionary(value, "malformed_content_digest", "Content-Digest");
 * ```
 */
export function parseWholeDictionary(value: string, malformed: SignatureErrorCode, field: string): StrictDictionary {
  const parsed = parseStrictDictionary(value, malformed, field);
  const first = parsed.invalid.values().next();
  if (!first.done) throw first.value;
  return parsed;
}

/**
 * Whether text the parser refused has a bare item that starts like an RFC 9651 Date (`@`) or Display String
 * (`%"`) outside strings and byte sequences. `structured-headers` 2.1 fails to parse a Date followed by `;`,
 * so such input reaches here rather than the typed check.
 */
function usesRfc9651Syntax(value: string): boolean {
  const withoutLiterals = value.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/:[A-Za-z0-9+/=]*:/g, "::");
  return /(?:^|[=( ])(?:@-?\d|%")/.test(withoutLiterals);
}

function assertUniqueParameters(params: readonly RawParameter[], field: string, key: string): void {
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.key)) {
      throw new SignatureError("duplicate_parameter", `${field} member "${key}" repeats the parameter "${p.key}"`, {
        label: key,
      });
    }
    seen.add(p.key);
  }
}

function assertRfc8941Member(member: Item | InnerList, field: string, key: string): void {
  if (isInnerList(member)) {
    for (const item of member[0]) assertRfc8941Item(item, field, key);
    assertRfc8941Params(member[1], field, key);
  } else {
    assertRfc8941Item(member, field, key);
  }
}

function assertRfc8941Item(item: Item, field: string, key: string): void {
  assertRfc8941Bare(item[0], field, key);
  assertRfc8941Params(item[1], field, key);
}

function assertRfc8941Params(params: Map<string, BareItem>, field: string, key: string): void {
  for (const value of params.values()) assertRfc8941Bare(value, field, key);
}

function assertRfc8941Bare(value: BareItem, field: string, key: string): void {
  if (value instanceof Date || value instanceof DisplayString) {
    throw new SignatureError(
      "unsupported_structured_type",
      `${field} member "${key}" uses an RFC 9651 ${value instanceof Date ? "Date" : "Display String"}, which RFC 9421 (RFC 8941) does not allow`,
      { label: key },
    );
  }
}

/**
 * Walks text that `parseDictionary` already accepted and records keys and parameters with their raw value
 * tokens. It trusts the grammar (the library checked it) and only has to find boundaries.
 */
function scanDictionary(input: string): RawMember[] {
  const out: RawMember[] = [];
  let pos = 0;
  const skip = (chars: string) => {
    while (pos < input.length && chars.includes(input.charAt(pos))) pos++;
  };
  const readKey = () => {
    const start = pos;
    while (pos < input.length && /[a-z0-9_\-.*]/.test(input.charAt(pos))) pos++;
    return input.slice(start, pos);
  };
  const readBare = () => {
    const start = pos;
    const c = input.charAt(pos);
    if (c === '"' || (c === "%" && input.charAt(pos + 1) === '"')) {
      pos += c === "%" ? 2 : 1;
      while (pos < input.length && input.charAt(pos) !== '"') pos += input.charAt(pos) === "\\" ? 2 : 1;
      pos++;
    } else if (c === ":") {
      pos = input.indexOf(":", pos + 1) + 1;
    } else if (c === "?") {
      pos += 2;
    } else {
      if (c === "@") pos++;
      while (pos < input.length && /[A-Za-z0-9_\-.*:/%!#$&'+^`|~]/.test(input.charAt(pos))) pos++;
    }
    return input.slice(start, pos);
  };
  const readParams = () => {
    const params: RawParameter[] = [];
    while (input.charAt(pos) === ";") {
      pos++;
      skip(" ");
      const key = readKey();
      let raw = "true";
      if (input.charAt(pos) === "=") {
        pos++;
        raw = readBare();
      }
      params.push({ key, raw });
    }
    return params;
  };
  skip(" ");
  while (pos < input.length) {
    const key = readKey();
    const innerParams: RawParameter[][] = [];
    if (input.charAt(pos) === "=") {
      pos++;
      if (input.charAt(pos) === "(") {
        pos++;
        for (;;) {
          skip(" ");
          if (input.charAt(pos) === ")") {
            pos++;
            break;
          }
          readBare();
          innerParams.push(readParams());
        }
      } else {
        readBare();
      }
    }
    out.push({ key, params: readParams(), innerParams });
    skip(" \t");
    if (input.charAt(pos) === ",") pos++;
    skip(" \t");
  }
  return out;
}
