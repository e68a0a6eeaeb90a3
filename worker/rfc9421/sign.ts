/**
 * Signing HTTP messages (RFC 9421 §3.1): deterministic `Signature-Input` and `Signature` members, added beside
 * any signatures the message already has.
 *
 * @module
 */
import { type BareItem, parseDictionary, serializeInnerList } from "structured-headers";
import { encodeBase64 } from "./base64.ts";
import { type ComponentIdentifier, componentFromItem, parseComponent } from "./component.ts";
import type { StructuredFieldType } from "./component-value.ts";
import { SignatureError } from "./errors.ts";
import type { SigningKey } from "./key.ts";
import { combinedField, type HttpMessage } from "./message.ts";
import { signatureBase } from "./signature-base.ts";

/** Signature parameters to write, in the order given (the order is part of the signed text). */
export type SignatureParameterInput = Readonly<Record<string, number | string | boolean | undefined>>;

/** What to sign and how. */
export interface SignOptions {
  readonly key: SigningKey;
  /** The covered components in order, as text (`"@authority"`, `"signature-agent";key="sig1"`) or parsed. */
  readonly components: ReadonlyArray<string | ComponentIdentifier>;
  /**
   * The signature parameters, serialised in the object's key order; `undefined` values are left out.
   * Default `{ created: now, keyid: key.keyid }`. An `alg` must name the key's algorithm.
   */
  readonly params?: SignatureParameterInput | undefined;
  /** The label; default the first of `sig1`, `sig2`, ... the message does not use yet. */
  readonly label?: string | undefined;
  /** The current time in Unix seconds, for the default `created`. */
  readonly now?: (() => number) | undefined;
  readonly structuredFields?: Readonly<Record<string, StructuredFieldType>> | undefined;
}

/** A new signature: the members to add to the two fields, and what was signed. */
export interface SignedMessage {
  readonly label: string;
  /** The `Signature-Input` member, e.g. `sig1=("@method");created=1618884473;keyid="k"`. */
  readonly signatureInput: string;
  /** The `Signature` member, e.g. `sig1=:...:`. */
  readonly signature: string;
  readonly signatureParams: string;
  readonly base: string;
  readonly signatureBytes: Uint8Array;
}

/**
 * Signs a message. The result's members are ready to append to `Signature-Input` and `Signature`; see
 * {@link addSignature}.
 *
 * @throws {SignatureError} `invalid_signing_input` for bad parameters or a label already in use,
 *   `algorithm_mismatch` for an `alg` that is not the key's, and any component failure of RFC 9421 §2.5
 *
 * @example
 * ```ts
 * const signed = await signMessage(message, {
 *   key: await importSigningKey(privateJwk),
 *   components: ["@method", "@authority", "@path"],
 *   params: { created: 1618884473, keyid: "test-key-ed25519" },
 * });
 * addSignature(headers, signed);
 * ```
 */
export async function signMessage(message: HttpMessage, options: SignOptions): Promise<SignedMessage> {
  const existing = existingLabels(message);
  const label = options.label ?? nextLabel(existing);
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(label)) {
    throw new SignatureError("invalid_signing_input", `"${label}" is not a valid signature label`);
  }
  if (existing.has(label)) {
    throw new SignatureError("invalid_signing_input", `the message already has a signature labelled "${label}"`);
  }
  const components = options.components.map((c) =>
    typeof c === "string"
      ? parseComponent(c, message.kind)
      : componentFromItem([c.name, new Map(c.params)], message.kind),
  );
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const paramsInput = options.params ?? { created: now(), keyid: options.key.keyid };
  const params = signatureParameters(paramsInput, options.key);
  const signatureParams = serializeInnerList([components.map((c) => [c.name, new Map(c.params)]), params]);
  const base = signatureBase(message, components, signatureParams, options);
  const signatureBytes = await options.key.sign(new TextEncoder().encode(base));
  return {
    label,
    signatureInput: `${label}=${signatureParams}`,
    signature: `${label}=:${encodeBase64(signatureBytes)}:`,
    signatureParams,
    base,
    signatureBytes,
  };
}

/**
 * Adds a signature to a `Headers` object, keeping the signatures already there.
 *
 * @example
 * ```ts
 * const headers = new Headers(request.headers);
 * addSignature(headers, await signMessage(requestFromFetch(request), options));
 * const signedRequest = new Request(request, { headers });
 * ```
 */
export function addSignature(headers: Headers, signed: SignedMessage): void {
  headers.append("Signature-Input", signed.signatureInput);
  headers.append("Signature", signed.signature);
}

function signatureParameters(input: SignatureParameterInput, key: SigningKey): Map<string, BareItem> {
  const params = new Map<string, BareItem>();
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (!/^[a-z*][a-z0-9_\-.*]*$/.test(name)) {
      throw new SignatureError("invalid_signing_input", `"${name}" is not a valid parameter name`);
    }
    if ((name === "created" || name === "expires") && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      throw new SignatureError("invalid_signing_input", `;${name} must be a non-negative integer`);
    }
    if (["alg", "keyid", "nonce", "tag"].includes(name) && typeof value !== "string") {
      throw new SignatureError("invalid_signing_input", `;${name} must be a string`);
    }
    if (typeof value === "string" && !/^[\x20-\x7e]*$/.test(value)) {
      throw new SignatureError("invalid_signing_input", `;${name} must be printable ASCII`);
    }
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new SignatureError("invalid_signing_input", `;${name} must be an integer`);
    }
    params.set(name, value);
  }
  const alg = params.get("alg");
  if (alg !== undefined && alg !== key.algorithm) {
    throw new SignatureError("algorithm_mismatch", `;alg="${String(alg)}" is not the key's algorithm ${key.algorithm}`);
  }
  const created = params.get("created");
  const expires = params.get("expires");
  if (typeof created === "number" && typeof expires === "number" && expires <= created) {
    throw new SignatureError("invalid_signing_input", ";expires must be later than ;created");
  }
  return params;
}

function existingLabels(message: HttpMessage): Set<string> {
  const value = combinedField(message.headers, "signature-input");
  if (value === undefined) return new Set();
  try {
    return new Set(parseDictionary(value).keys());
  } catch (cause) {
    throw new SignatureError("malformed_signature_input", "the message's Signature-Input cannot be parsed", { cause });
  }
}

function nextLabel(existing: ReadonlySet<string>): string {
  for (let n = 1; ; n++) if (!existing.has(`sig${n}`)) return `sig${n}`;
}
