/**
 * `Verified-Agent`: the Structured Field Dictionary Signet attaches to a forwarded request to describe the
 * signer it verified. Client-sent copies are always removed first.
 *
 * @module
 */
import { type BareItem, type Dictionary, parseDictionary, serializeDictionary, Token } from "structured-headers";

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

/**
 * Serialises a {@link VerifiedAgent} as the `Verified-Agent` field value.
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
  put("agent", identity.agent);
  put("keyid", identity.keyid);
  put("profile", new Token(identity.profile));
  put("alg", new Token(identity.alg));
  put("label", identity.label);
  if (identity.created !== undefined) put("created", identity.created);
  if (identity.expires !== undefined) put("expires", identity.expires);
  for (const [key, value] of Object.entries(identity.extra ?? {})) {
    put(key, typeof value === "string" && /^[a-z][a-z0-9_-]*$/.test(value) ? new Token(value) : value);
  }
  return serializeDictionary(members);
}

/**
 * Parses a `Verified-Agent` value (for origins; the header is only trustworthy once its attestation verified).
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
    return typeof v === "string" ? v : v instanceof Token && TOKEN_MEMBERS.has(key) ? v.toString() : undefined;
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
    if (["agent", "keyid", "profile", "alg", "label", "created", "expires"].includes(key)) continue;
    const v = read(key);
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") extra[key] = v;
    else if (v instanceof Token) extra[key] = v.toString();
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
