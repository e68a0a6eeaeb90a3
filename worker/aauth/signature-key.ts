/**
 * The `Signature-Key` request field (draft-hardt-httpbis-signature-key-09 §3): a Structured Field Dictionary keyed
 * by signature label, each member an Item whose bare value is a Token naming the key scheme and whose parameters
 * carry the scheme's data. Parsed strictly (a duplicate label or parameter is refused), never thrown from.
 *
 * @module
 */
import { type BareItem, isInnerList, Token } from "structured-headers";
import { isSignatureError, parseStrictDictionary, type StrictDictionary } from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";

/**
 * Every scheme SK-09 defines. Signet resolves `hwk`, `jkt-jwt`, `jwks_uri`, `jwks` and `jwt`; `self-jwt`, `x509` and
 * `cached` are answered with `unsupported_scheme`.
 *
 * @example
 * ```ts
 * SIGNATURE_KEY_SCHEMES.includes("jwt"); // true
 * ```
 */
export const SIGNATURE_KEY_SCHEMES = [
  "hwk",
  "jkt-jwt",
  "jwks_uri",
  "jwks",
  "jwt",
  "self-jwt",
  "x509",
  "cached",
] as const;

/**
 * The schemes Signet can resolve a key for.
 *
 * @example
 * ```ts
 * const accepted: readonly ImplementedScheme[] = ["jwt", "hwk"];
 * ```
 */
export const IMPLEMENTED_SCHEMES = ["jwt", "hwk", "jkt-jwt", "jwks_uri", "jwks"] as const;

/**
 * One of {@link IMPLEMENTED_SCHEMES}.
 *
 * @example
 * ```ts
 * const scheme: ImplementedScheme = "jwks_uri";
 * ```
 */
export type ImplementedScheme = (typeof IMPLEMENTED_SCHEMES)[number];

/**
 * A parameter value as Structured Fields type it: String, Token (as its text, flagged), Integer/Decimal, Boolean,
 * Byte Sequence.
 *
 * @example
 * ```ts
 * const value: SignatureKeyParam = { type: "string", value: "Ed25519" };
 * ```
 */
export type SignatureKeyParam =
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "token"; readonly value: string }
  | { readonly type: "number"; readonly value: number }
  | { readonly type: "boolean"; readonly value: boolean }
  | { readonly type: "bytes"; readonly value: Uint8Array }
  | { readonly type: "other" };

/**
 * The `Signature-Key` member of one label.
 *
 * @example
 * ```ts
 * const member: SignatureKeyMember = { label: "sig", scheme: "hwk", params: new Map() };
 * ```
 */
export interface SignatureKeyMember {
  readonly label: string;
  /** The scheme Token's text, e.g. `jwt`. */
  readonly scheme: string;
  readonly params: ReadonlyMap<string, SignatureKeyParam>;
}

/**
 * A parsed `Signature-Key` field: the labels it names, and per label its member or why that member is unusable
 * (an Inner List, a non-Token value, a duplicate parameter). One bad member does not spoil the others.
 *
 * @example
 * ```ts
 * const parsed: SignatureKeyField = { labels: new Set(["sig"]), members: new Map(), invalid: new Map() };
 * ```
 */
export interface SignatureKeyField {
  readonly labels: ReadonlySet<string>;
  readonly members: ReadonlyMap<string, SignatureKeyMember>;
  readonly invalid: ReadonlyMap<string, AAuthFailure>;
}

/**
 * Parses a `Signature-Key` field value (several field lines already joined with `", "`). A value that is not a
 * Dictionary, or names a label twice, is refused whole with `invalid_signature` (SK-09 §5.4: a malformed field).
 *
 * @example
 * ```ts
 * const parsed = parseSignatureKey('sig=hwk;kty="OKP";crv="Ed25519";x="JrQ…";alg="Ed25519"');
 * if (parsed.ok) parsed.field.members.get("sig")?.scheme; // "hwk"
 * ```
 */
export function parseSignatureKey(
  value: string,
): { readonly ok: true; readonly field: SignatureKeyField } | AAuthFailure {
  let dictionary: StrictDictionary;
  try {
    dictionary = parseStrictDictionary(value, "malformed_signature_input", "Signature-Key");
  } catch (error) {
    if (!isSignatureError(error)) throw error;
    return fail("invalid_signature", error.message.replace("Signature-Input", "Signature-Key"));
  }
  const members = new Map<string, SignatureKeyMember>();
  const invalid = new Map<string, AAuthFailure>();
  for (const [label, member] of dictionary.members) {
    const problem = dictionary.invalid.get(label);
    if (problem !== undefined) {
      invalid.set(label, fail("invalid_signature", problem.message));
      continue;
    }
    if (isInnerList(member)) {
      invalid.set(
        label,
        fail("invalid_signature", `the Signature-Key member "${label}" is an Inner List, not a scheme`),
      );
      continue;
    }
    const [scheme, rawParams] = member;
    if (!(scheme instanceof Token)) {
      invalid.set(label, fail("invalid_signature", `the Signature-Key member "${label}" does not name a scheme Token`));
      continue;
    }
    const params = new Map<string, SignatureKeyParam>();
    for (const [name, raw] of rawParams) params.set(name, paramOf(raw));
    members.set(label, { label, scheme: scheme.toString(), params });
  }
  return { ok: true, field: { labels: new Set(dictionary.members.keys()), members, invalid } };
}

/**
 * The member for the label being verified. A missing member fails that signature (`invalid_signature`, SK-09
 * §3.1); a scheme the verifier does not accept, including `x509`, `cached` and `self-jwt`, is
 * `unsupported_scheme`. Members of other labels are never looked at, so their unknown schemes do no harm.
 *
 * @example
 * ```ts
 * const member = selectSignatureKey(parsed.field, "sig", ["jwt"]);
 * if (!member.ok) console.log(member.code); // e.g. "unsupported_scheme"
 * ```
 */
export function selectSignatureKey(
  field: SignatureKeyField,
  label: string,
  accepted: readonly string[] = IMPLEMENTED_SCHEMES,
): { readonly ok: true; readonly member: SignatureKeyMember & { readonly scheme: ImplementedScheme } } | AAuthFailure {
  const invalid = field.invalid.get(label);
  if (invalid !== undefined) return invalid;
  const member = field.members.get(label);
  if (member === undefined) return fail("invalid_signature", `Signature-Key has no member for the label "${label}"`);
  const scheme = member.scheme;
  if (!(IMPLEMENTED_SCHEMES as readonly string[]).includes(scheme) || !accepted.includes(scheme)) {
    return fail("unsupported_scheme", `the Signature-Key scheme "${clip(scheme)}" is not accepted here`);
  }
  return { ok: true, member: { ...member, scheme: scheme as ImplementedScheme } };
}

/**
 * A String parameter's value, or `undefined` when it is absent or of another type.
 *
 * @example
 * ```ts
 * stringParam(member, "alg"); // "Ed25519"
 * ```
 */
export function stringParam(member: SignatureKeyMember, name: string): string | undefined {
  const param = member.params.get(name);
  return param?.type === "string" ? param.value : undefined;
}

function paramOf(raw: BareItem): SignatureKeyParam {
  if (typeof raw === "string") return { type: "string", value: raw };
  if (typeof raw === "number") return { type: "number", value: raw };
  if (typeof raw === "boolean") return { type: "boolean", value: raw };
  if (raw instanceof Token) return { type: "token", value: raw.toString() };
  if (raw instanceof ArrayBuffer) return { type: "bytes", value: new Uint8Array(raw) };
  if (ArrayBuffer.isView(raw))
    return { type: "bytes", value: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
  return { type: "other" };
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 64)}…`;
}
