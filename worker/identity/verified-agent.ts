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
import {
  type BareItem,
  type Dictionary,
  DisplayString,
  parseDictionary,
  serializeDictionary,
  Token,
} from "structured-headers";

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

/** A String when the text is printable ASCII, a Display String otherwise. */
function textItem(value: string): BareItem {
  return PRINTABLE_ASCII.test(value) ? value : new DisplayString(value);
}

/**
 * Serialises a {@link VerifiedAgent} as the `Verified-Agent` field value. Text members that are not printable
 * ASCII become Display Strings; the value is parsed back before it is returned, so what it gives always reads
 * back as the same identity.
 *
 * @throws {TypeError} when the identity has no faithful `Verified-Agent` form: text that is not well-formed
 *   Unicode, an `extra` key that is not a Structured Field key or collides with a fixed member, a number out of
 *   the Structured Field range, an empty required member
 *
 * @example
 * ```ts
 * serializeVerifiedAgent({ agent: "https://agent.example/.well-known/http-message-signatures-directory",
 *   keyid: "poqk...", profile: "web-bot-auth", alg: "ed25519", label: "sig1", created: 1, expires: 2 });
 * // 'agent="https://agent.example/...", keyid="poqk...", profile=web-bot-auth, alg=ed25519, label="sig1", created=1, expires=2'
 * ```
 */
export function serializeVerifiedAgent(identity: VerifiedAgent): string {
  const members: Dictionary = new Map();
  const put = (key: string, value: BareItem) => members.set(key, [value, new Map()]);
  put("agent", textItem(identity.agent));
  put("keyid", textItem(identity.keyid));
  put("profile", TOKEN.test(identity.profile) ? new Token(identity.profile) : textItem(identity.profile));
  put("alg", TOKEN.test(identity.alg) ? new Token(identity.alg) : textItem(identity.alg));
  put("label", textItem(identity.label));
  if (identity.created !== undefined) put("created", identity.created);
  if (identity.expires !== undefined) put("expires", identity.expires);
  for (const [key, value] of Object.entries(identity.extra ?? {})) {
    if (FIXED_MEMBERS.has(key)) throw new TypeError(`Verified-Agent: extra member "${key}" collides with a fixed one`);
    put(key, typeof value === "string" ? (EXTRA_TOKEN.test(value) ? new Token(value) : textItem(value)) : value);
  }
  let value: string;
  try {
    value = [...members].map(([key, [item]]) => serializeMember(key, item as BareItem)).join(", ");
  } catch (cause) {
    throw new TypeError("Verified-Agent: the identity cannot be serialised as a Structured Field", { cause });
  }
  if (!sameIdentity(parseVerifiedAgent(value), identity)) {
    throw new TypeError(
      "Verified-Agent: the identity does not read back as itself (text that is not well-formed Unicode?)",
    );
  }
  return value;
}

const KEY = /^[a-z*][a-z0-9_\-.*]*$/;

/**
 * One dictionary member. Display Strings are written here (RFC 9651 §4.1.11: each byte outside printable ASCII,
 * and `%` and `"`, as `%` and two lowercase hex digits); structured-headers 2.1.0 writes one digit for bytes
 * below 0x10, which its own parser then refuses.
 */
function serializeMember(key: string, item: BareItem): string {
  if (!(item instanceof DisplayString)) return serializeDictionary(new Map([[key, [item, new Map()]]]));
  if (!KEY.test(key)) throw new TypeError(`"${key}" is not a Structured Field key`);
  let out = `${key}=%"`;
  for (const byte of new TextEncoder().encode(item.toString())) {
    out +=
      byte === 0x25 || byte === 0x22 || byte < 0x20 || byte > 0x7e
        ? `%${byte.toString(16).padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return `${out}"`;
}

/** Whether a parsed identity is the one that was serialised, member for member. */
function sameIdentity(parsed: VerifiedAgent | undefined, identity: VerifiedAgent): boolean {
  if (parsed === undefined) return false;
  const fixed = ["agent", "keyid", "profile", "alg", "label", "created", "expires"] as const;
  if (fixed.some((key) => parsed[key] !== identity[key])) return false;
  const want = Object.entries(identity.extra ?? {});
  const got = parsed.extra ?? {};
  return want.length === Object.keys(got).length && want.every(([key, value]) => Object.is(got[key], value));
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
