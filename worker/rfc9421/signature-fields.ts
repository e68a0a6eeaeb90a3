/**
 * `Signature-Input` and `Signature` (RFC 9421 §4.1, §4.2) parsed strictly, one result per label.
 *
 * @module
 */
import { type BareItem, type InnerList, isInnerList, serializeInnerList } from "structured-headers";
import {
  type ComponentIdentifier,
  componentFromItem,
  componentKey,
  type MessageKind,
  serializeComponent,
} from "./component.ts";
import { SignatureError } from "./errors.ts";
import { parseStrictDictionary, type RawMember } from "./structured-field.ts";

/** The signature parameters of RFC 9421 §2.3, with any others the signer added kept in `extra`. */
export interface SignatureParameters {
  readonly created?: number | undefined;
  readonly expires?: number | undefined;
  readonly nonce?: string | undefined;
  readonly alg?: string | undefined;
  readonly keyid?: string | undefined;
  readonly tag?: string | undefined;
}

/** One label's entry of `Signature-Input`, validated. */
export interface SignatureInput {
  readonly label: string;
  readonly components: readonly ComponentIdentifier[];
  readonly params: SignatureParameters;
  /** Every parameter, registered or not, in the signer's order. */
  readonly allParams: ReadonlyMap<string, BareItem>;
  /** The `@signature-params` value: the member re-serialised, parameter order kept. */
  readonly signatureParams: string;
}

/** A label with both its `Signature-Input` entry and its signature bytes. */
export interface ParsedSignature extends SignatureInput {
  readonly signature: Uint8Array;
}

/** Either a parsed signature or the reason that label cannot be used. */
export type SignatureEntry = ParsedSignature | SignatureError;

const INTEGER_PARAMETERS = ["created", "expires"] as const;
const STRING_PARAMETERS = ["nonce", "alg", "keyid", "tag"] as const;

/**
 * Parses `Signature-Input` on its own: one entry per label, each either valid or the reason it is not.
 *
 * @param value the field value (several lines joined with `", "`)
 * @param kind the kind of the signed message, to refuse `;req` on requests and the like
 * @throws {SignatureError} `malformed_signature_input` or `duplicate_label` for the field as a whole
 *
 * @example
 * ```ts
 * const entries = parseSignatureInput('sig1=("@method" "@authority");created=1618884473;keyid="k"', "request");
 * ```
 */
export function parseSignatureInput(value: string, kind?: MessageKind): Map<string, SignatureInput | SignatureError> {
  const { members, raw, invalid } = parseStrictDictionary(value, "malformed_signature_input", "Signature-Input");
  const out = new Map<string, SignatureInput | SignatureError>();
  for (const [label, member] of members) {
    const problem = invalid.get(label);
    if (problem) {
      out.set(label, problem);
      continue;
    }
    try {
      out.set(label, signatureInputMember(label, member, raw.get(label) as RawMember, kind));
    } catch (err) {
      if (!(err instanceof SignatureError)) throw err;
      out.set(label, err.withLabel(label));
    }
  }
  return out;
}

function signatureInputMember(
  label: string,
  member: ReturnType<typeof parseStrictDictionary>["members"] extends Map<string, infer V> ? V : never,
  raw: RawMember,
  kind: MessageKind | undefined,
): SignatureInput {
  if (!isInnerList(member)) {
    throw new SignatureError("malformed_signature_input", `Signature-Input "${label}" must be an Inner List`);
  }
  const [items, params] = member as InnerList;
  const components: ComponentIdentifier[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const id = componentFromItem(item, kind);
    const key = componentKey(id);
    if (seen.has(key)) {
      throw new SignatureError(
        "duplicate_component",
        `Signature-Input "${label}" covers ${serializeComponent(id)} twice`,
      );
    }
    seen.add(key);
    components.push(id);
  }
  const checked: Record<string, number | string> = {};
  for (const name of INTEGER_PARAMETERS) {
    if (!params.has(name)) continue;
    const v = params.get(name);
    const token = raw.params.find((p) => p.key === name)?.raw ?? "";
    if (typeof v !== "number" || !Number.isInteger(v) || token.includes(".") || v < 0) {
      throw new SignatureError(
        "invalid_signature_parameter",
        `Signature-Input "${label}": ;${name} must be a non-negative Integer, got ${token}`,
      );
    }
    checked[name] = v;
  }
  for (const name of STRING_PARAMETERS) {
    if (!params.has(name)) continue;
    const v = params.get(name);
    if (typeof v !== "string") {
      throw new SignatureError("invalid_signature_parameter", `Signature-Input "${label}": ;${name} must be a String`);
    }
    checked[name] = v;
  }
  return {
    label,
    components,
    params: checked as SignatureParameters,
    allParams: params,
    signatureParams: serializeInnerList(member as InnerList),
  };
}

/**
 * Parses both fields and pairs them by label (RFC 9421 §3.2 step 1). The two fields must carry the same set of
 * labels (RFC 9421 §4): a label present in only one of them, in either direction, refuses both fields as a whole
 * with `label_mismatch`, so a stray member can never ride along beside a good signature. Other per-label problems
 * (a malformed member, a bad parameter) come back as that label's error and leave the other labels unaffected.
 *
 * @param fields the combined values of `Signature-Input` and `Signature`
 * @param kind the kind of the signed message
 * @throws {SignatureError} `no_signature` when neither field is present, `missing_signature_input` when only
 *   `Signature` is, `label_mismatch` when the label sets differ, and the whole-field errors of
 *   {@link parseSignatureInput} and `malformed_signature`
 *
 * @example
 * ```ts
 * const entries = parseSignatures({ signatureInput, signature }, "request");
 * for (const entry of entries) if (!(entry instanceof SignatureError)) console.log(entry.label);
 * ```
 */
export function parseSignatures(
  fields: { readonly signatureInput: string | undefined; readonly signature: string | undefined },
  kind?: MessageKind,
): SignatureEntry[] {
  if (fields.signatureInput === undefined) {
    if (fields.signature === undefined) throw new SignatureError("no_signature", "the message is not signed");
    throw new SignatureError(
      "missing_signature_input",
      "the message has a Signature field but no Signature-Input: it is not an RFC 9421 signature",
    );
  }
  const inputs = parseSignatureInput(fields.signatureInput, kind);
  const signatures = fields.signature === undefined ? new Map() : parseSignatureValues(fields.signature);
  const inputOnly = [...inputs.keys()].filter((label) => !signatures.has(label));
  const signatureOnly = [...signatures.keys()].filter((label) => !inputs.has(label));
  if (inputOnly.length > 0 || signatureOnly.length > 0) {
    // Counts only: the labels are the sender's bytes, and this message can reach a client.
    const parts: string[] = [];
    if (inputOnly.length > 0) parts.push(`${inputOnly.length} label(s) in Signature-Input but not in Signature`);
    if (signatureOnly.length > 0)
      parts.push(`${signatureOnly.length} label(s) in Signature but not in Signature-Input`);
    throw new SignatureError(
      "label_mismatch",
      `the two signature fields must carry the same labels: ${parts.join("; ")}`,
    );
  }
  const entries: SignatureEntry[] = [];
  for (const [label, input] of inputs) {
    const signature = signatures.get(label) as Uint8Array | SignatureError;
    if (input instanceof SignatureError) entries.push(input);
    else if (signature instanceof SignatureError) entries.push(signature);
    else entries.push({ ...input, signature });
  }
  return entries;
}

function parseSignatureValues(value: string): Map<string, Uint8Array | SignatureError> {
  const { members, invalid } = parseStrictDictionary(value, "malformed_signature", "Signature");
  const out = new Map<string, Uint8Array | SignatureError>();
  for (const [label, member] of members) {
    const problem = invalid.get(label);
    if (problem) out.set(label, problem);
    else if (isInnerList(member) || !(member[0] instanceof ArrayBuffer)) {
      out.set(
        label,
        new SignatureError("malformed_signature", `Signature "${label}" must be a Byte Sequence`, { label }),
      );
    } else if (member[1].size > 0) {
      out.set(
        label,
        new SignatureError("malformed_signature", `Signature "${label}" must not carry parameters`, { label }),
      );
    } else out.set(label, new Uint8Array(member[0]));
  }
  return out;
}
