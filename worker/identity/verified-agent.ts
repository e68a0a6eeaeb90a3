/**
 * `Verified-Agent`: the Structured Field Dictionary Signet attaches to a forwarded request to describe the
 * signer it verified. Client-sent copies are always removed first.
 *
 * Text members are RFC 9651 Strings when every character is printable ASCII (U+0020 to U+007E) and RFC 9651
 * Display Strings (`%"caf%c3%a9"`: UTF-8, percent-encoded) otherwise, so any identity text (non-ASCII, control
 * characters, quotes) can be attached; {@link parseVerifiedAgent} decodes both forms back to the same text.
 * Text that is not well-formed Unicode (a lone surrogate) has no UTF-8 form: {@link serializeVerifiedAgent}
 * refuses it rather than attach a different identity.
 *
 * @module
 */
import { type BareItem, type Dictionary, DisplayString, parseDictionary, Token } from "structured-headers";

/** The identity header Signet sets. */
export const VERIFIED_AGENT_HEADER = "Verified-Agent";

/** What Signet verified about the signer of a request. */
export interface VerifiedAgent {
  /** The agent's identity: the resolved key directory (or JWK Set) URL. */
  readonly agent: string;
  /** The `keyid` of the verified signature (for Web Bot Auth, the key's thumbprint). */
  readonly keyid: string;
  /** The signing profile: `web-bot-auth` (or `aauth`). */
  readonly profile: string;
  /** The RFC 9421 algorithm. */
  readonly alg: string;
  /** The signature label. */
  readonly label: string;
  readonly created?: number | undefined;
  readonly expires?: number | undefined;
  /** Extra members later profiles and checks add (replay state, bearer binding, AAuth levels). */
  readonly extra?: Readonly<Record<string, string | number | boolean>> | undefined;
}

const TOKEN_MEMBERS = new Set(["profile", "alg"]);
const FIXED_MEMBERS = new Set(["agent", "keyid", "profile", "alg", "label", "created", "expires"]);
const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~:/0-9A-Za-z]*$/;
const EXTRA_TOKEN = /^[a-z][a-z0-9_-]*$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const KEY = /^[a-z*][a-z0-9_\-.*]*$/;
/** The largest magnitude of an RFC 9651 Integer. */
const MAX_INTEGER = 999_999_999_999_999;
const UTF8 = new TextEncoder();

/**
 * Serialises a {@link VerifiedAgent} as the `Verified-Agent` field value, in one pass and without parsing it
 * back. Text members that are printable ASCII become Strings, others Display Strings; `profile`, `alg` and
 * lowercase `extra` text become Tokens where the Token grammar allows. Everything that has no faithful form is
 * refused before a byte is written, so the value always reads back, with {@link parseVerifiedAgent}, as the same
 * identity (a property test in `test/worker/verified-agent.test.ts` holds the two functions to that).
 *
 * @throws {TypeError} when the identity has no faithful `Verified-Agent` form: text that is not well-formed
 *   Unicode, an `extra` key that is not a Structured Field key or collides with a fixed member, a number that is
 *   not an Integer of the Structured Field range (or is -0), an empty required member
 *
 * @example
 * ```ts
 * serializeVerifiedAgent({ agent: "https://agent.example/.well-known/http-message-signatures-directory",
 *   keyid: "poqk...", profile: "web-bot-auth", alg: "ed25519", label: "sig1", created: 1, expires: 2 });
 * // 'agent="https://agent.example/...", keyid="poqk...", profile=web-bot-auth, alg=ed25519, label="sig1", created=1, expires=2'
 * ```
 */
export function serializeVerifiedAgent(identity: VerifiedAgent): string {
  let out = `agent=${text("agent", identity.agent)}, keyid=${text("keyid", identity.keyid)}`;
  out += `, profile=${tokenOrText("profile", identity.profile, TOKEN)}, alg=${tokenOrText("alg", identity.alg, TOKEN)}`;
  out += `, label=${text("label", identity.label)}`;
  if (identity.created !== undefined) out += `, created=${integer("created", identity.created)}`;
  if (identity.expires !== undefined) out += `, expires=${integer("expires", identity.expires)}`;
  for (const [key, value] of Object.entries(identity.extra ?? {})) {
    if (FIXED_MEMBERS.has(key)) throw new TypeError(`Verified-Agent: extra member "${key}" collides with a fixed one`);
    if (!KEY.test(key)) throw new TypeError(`Verified-Agent: "${key}" is not a Structured Field key`);
    if (typeof value === "boolean") out += value ? `, ${key}` : `, ${key}=?0`;
    else if (typeof value === "number") out += `, ${key}=${integer(key, value)}`;
    else if (typeof value === "string") out += `, ${key}=${tokenOrText(key, value, EXTRA_TOKEN, true)}`;
    else throw new TypeError(`Verified-Agent: extra member "${key}" is not a string, number or boolean`);
  }
  return out;
}

/** A Token when `pattern` allows one, else {@link text}. */
function tokenOrText(key: string, value: string, pattern: RegExp, empty = false): string {
  if (typeof value === "string" && pattern.test(value)) return value;
  return text(key, value, empty);
}

/**
 * A String (printable ASCII) or a Display String (RFC 9651 §4.1.11: each byte outside printable ASCII, and `%`
 * and `"`, as `%` and two lowercase hex digits). Written here because structured-headers 2.1.0 writes one digit
 * for bytes below 0x10, which its own parser then refuses.
 */
function text(key: string, value: string, empty = false): string {
  if (typeof value !== "string") throw new TypeError(`Verified-Agent: ${key} must be text`);
  if (!empty && value === "") throw new TypeError(`Verified-Agent: ${key} must not be empty`);
  if (PRINTABLE_ASCII.test(value)) return `"${value.replace(/[\\"]/g, "\\$&")}"`;
  if (!value.isWellFormed()) throw new TypeError(`Verified-Agent: ${key} is not well-formed Unicode`);
  let out = '%"';
  for (const byte of UTF8.encode(value)) {
    out +=
      byte === 0x25 || byte === 0x22 || byte < 0x20 || byte > 0x7e
        ? `%${byte.toString(16).padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return `${out}"`;
}

/** An RFC 9651 Integer; -0 is refused, since it reads back as 0. */
function integer(key: string, value: number): string {
  if (!Number.isSafeInteger(value) || Math.abs(value) > MAX_INTEGER || Object.is(value, -0)) {
    throw new TypeError(`Verified-Agent: ${key} must be an Integer of at most 15 digits`);
  }
  return String(value);
}

/**
 * Parses a `Verified-Agent` value (for origins; the header is only trustworthy once its attestation verified).
 * Strings, Display Strings (decoded from their percent-encoded UTF-8) and, for `profile`, `alg` and `extra`
 * members, Tokens all give plain JavaScript strings.
 *
 * @returns the identity, or `undefined` when the value is not a well-formed `Verified-Agent` dictionary
 *
 * @example
 * ```ts
 * const identity = parseVerifiedAgent(request.headers.get("verified-agent") ?? "");
 * ```
 */
export function parseVerifiedAgent(value: string): VerifiedAgent | undefined {
  let members: Dictionary;
  try {
    members = parseDictionary(value);
  } catch {
    return undefined;
  }
  const read = (key: string): BareItem | undefined => {
    const member = members.get(key);
    return member === undefined || Array.isArray(member[0]) ? undefined : (member[0] as BareItem);
  };
  const text = (key: string) => {
    const v = read(key);
    if (typeof v === "string") return v;
    if (v instanceof DisplayString) return v.toString();
    return v instanceof Token && TOKEN_MEMBERS.has(key) ? v.toString() : undefined;
  };
  const agent = text("agent");
  const keyid = text("keyid");
  const profile = text("profile");
  const alg = text("alg");
  const label = text("label");
  if (!agent || !keyid || !profile || !alg || !label) return undefined;
  const created = read("created");
  const expires = read("expires");
  const extra: Record<string, string | number | boolean> = {};
  for (const key of members.keys()) {
    if (FIXED_MEMBERS.has(key)) continue;
    const v = read(key);
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") extra[key] = v;
    else if (v instanceof Token || v instanceof DisplayString) extra[key] = v.toString();
  }
  return {
    agent,
    keyid,
    profile,
    alg,
    label,
    created: typeof created === "number" ? created : undefined,
    expires: typeof expires === "number" ? expires : undefined,
    extra: Object.keys(extra).length > 0 ? extra : undefined,
  };
}
