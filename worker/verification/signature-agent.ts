/**
 * Which agent a Web Bot Auth signature speaks for: the `Signature-Agent` member the signature covers, resolved
 * to the URL its keys are fetched from (draft-ietf-webbotauth-httpsig-protocol; three forms are in use).
 *
 * - Legacy String: `Signature-Agent: "https://agent.example"`, covered as plain `"signature-agent"`.
 * - Dictionary: `Signature-Agent: sig1="https://agent.example"` (optionally `;type=directory|jwks_uri`), covered
 *   as `"signature-agent";key="sig1"`; an origin resolves to its `/.well-known/http-message-signatures-directory`.
 * - Newest: a member whose value has a path is itself the JWK Set URL.
 *
 * @module
 */
import { type BareItem, type Item, isInnerList, parseDictionary, parseItem, Token } from "structured-headers";
import type { AgentReference } from "../discovery/key-source.ts";
import { type ComponentIdentifier, countDictionaryMembers, MAX_DICTIONARY_MEMBERS } from "../rfc9421/index.ts";

/** The well-known path of a key directory. */
export const WELL_KNOWN_DIRECTORY = "/.well-known/http-message-signatures-directory";

/** Why a signature's `Signature-Agent` cannot name an agent. */
export const SIGNATURE_AGENT_ERROR_CODES = [
  /** The request has no `Signature-Agent`: the signature cannot be attributed to any URL. */
  "missing_signature_agent",
  /** `Signature-Agent` is present but this signature does not cover it. */
  "signature_agent_not_covered",
  /** The signature covers several members (none keyed by its label), or a dictionary without `;key`. */
  "ambiguous_signature_agent",
  /** The covered member is not in the field. */
  "signature_agent_member_missing",
  /** The member must be ignored: not a String, not an https URL, an unknown `type`, a directory with a path. */
  "unusable_signature_agent",
] as const;

/** One of {@link SIGNATURE_AGENT_ERROR_CODES}. */
export type SignatureAgentErrorCode = (typeof SIGNATURE_AGENT_ERROR_CODES)[number];

/** The resolved agent, or why there is none and whether that makes the signature invalid or unverifiable. */
export type SignatureAgentResolution =
  | { readonly ok: true; readonly agent: AgentReference }
  | {
      readonly ok: false;
      readonly outcome: "invalid" | "unverified";
      readonly code: SignatureAgentErrorCode;
      readonly message: string;
    };

/** `Signature-Agent` cannot be parsed at all (a request-level 400). */
export class MalformedSignatureAgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedSignatureAgentError";
  }
}

/**
 * Resolves the agent of one signature from the `Signature-Agent` field and the signature's covered components.
 *
 * @param field the combined `Signature-Agent` value, if the request has one
 * @param components the signature's covered components
 * @param label the signature's label (picks the member when several are covered)
 * @throws {MalformedSignatureAgentError} when the field is not a Structured Field at all, or has more than
 *   `MAX_DICTIONARY_MEMBERS` members (counted before parsing)
 *
 * @example
 * ```ts
 * resolveSignatureAgent('sig1="https://agent.example"', [parseComponent('"signature-agent";key="sig1"')], "sig1");
 * // { ok: true, agent: { keySetUrl: "https://agent.example/.well-known/http-message-signatures-directory", kind: "directory", ... } }
 * ```
 */
export function resolveSignatureAgent(
  field: string | undefined,
  components: readonly ComponentIdentifier[],
  label: string,
): SignatureAgentResolution {
  const covered = components.filter((c) => c.name === "signature-agent");
  if (field === undefined) {
    return {
      ok: false,
      outcome: "unverified",
      code: "missing_signature_agent",
      message: "the request has no Signature-Agent, so the signature cannot be attributed to an agent",
    };
  }
  if (covered.length === 0) {
    return {
      ok: false,
      outcome: "invalid",
      code: "signature_agent_not_covered",
      message: `signature "${label}" does not cover Signature-Agent`,
    };
  }
  const count = countDictionaryMembers(field);
  if (count > MAX_DICTIONARY_MEMBERS) {
    throw new MalformedSignatureAgentError(
      `Signature-Agent has ${count} members; Signet parses at most ${MAX_DICTIONARY_MEMBERS} and refuses the field as a whole`,
    );
  }
  const keyed = covered.filter((c) => typeof c.params.get("key") === "string");
  const plain = covered.filter((c) => !c.params.has("key"));
  if (plain.length > 0 && keyed.length === 0) return resolveLegacy(field, label);
  const own = keyed.length === 1 ? keyed[0] : keyed.find((c) => c.params.get("key") === label);
  if (own === undefined) {
    return {
      ok: false,
      outcome: "invalid",
      code: "ambiguous_signature_agent",
      message: `signature "${label}" covers several Signature-Agent members and none is keyed "${label}"`,
    };
  }
  let members: ReturnType<typeof parseDictionary>;
  try {
    members = parseDictionary(field);
  } catch {
    throw new MalformedSignatureAgentError("Signature-Agent is not a Structured Field Dictionary");
  }
  const key = own.params.get("key") as string;
  const member = members.get(key);
  if (member === undefined) {
    return {
      ok: false,
      outcome: "invalid",
      code: "signature_agent_member_missing",
      message: `Signature-Agent has no member "${key}"`,
    };
  }
  if (isInnerList(member)) return unusable(`Signature-Agent member "${key}" is an Inner List, not a String`);
  return referenceFromMember(member as Item, key);
}

function resolveLegacy(field: string, label: string): SignatureAgentResolution {
  let item: Item;
  try {
    item = parseItem(field);
  } catch {
    // A dictionary covered without ;key cannot say which member the signer meant.
    try {
      parseDictionary(field);
    } catch {
      throw new MalformedSignatureAgentError("Signature-Agent is not a Structured Field");
    }
    return {
      ok: false,
      outcome: "invalid",
      code: "ambiguous_signature_agent",
      message: `signature "${label}" covers the Signature-Agent dictionary without naming a member (;key)`,
    };
  }
  return referenceFromMember(item, "(legacy string)");
}

function referenceFromMember(member: Item, key: string): SignatureAgentResolution {
  const [value, params] = member;
  if (typeof value !== "string") return unusable(`Signature-Agent member "${key}" is not a String`);
  let type = "default";
  for (const [name, v] of params) {
    if (name === "type" && v instanceof Token) type = v.toString();
    else
      return unusable(`Signature-Agent member "${key}" has the parameter ;${name}, which Signet does not understand`);
  }
  if (type !== "default" && type !== "directory" && type !== "jwks_uri") {
    return unusable(`Signature-Agent member "${key}" has the unsupported type "${type}"`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return unusable(`Signature-Agent member "${key}" is not an absolute URL`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username !== "" || url.password !== "") {
    return unusable(`Signature-Agent member "${key}" must be an https URL without credentials`);
  }
  const bareOrigin = (url.pathname === "/" || url.pathname === "") && url.search === "" && url.hash === "";
  if (type === "jwks_uri" || (type === "default" && !bareOrigin)) {
    return { ok: true, agent: { keySetUrl: `${url.origin}${url.pathname}`, kind: "jwks", declared: value } };
  }
  if (!bareOrigin) {
    return unusable(`Signature-Agent member "${key}" is a directory, which must be an origin without a path`);
  }
  return { ok: true, agent: { keySetUrl: `${url.origin}${WELL_KNOWN_DIRECTORY}`, kind: "directory", declared: value } };
}

function unusable(message: string): SignatureAgentResolution {
  return { ok: false, outcome: "unverified", code: "unusable_signature_agent", message };
}

/**
 * The identity a configured agent URL stands for, resolved as a `Signature-Agent` member would be: an origin
 * becomes its directory URL; a URL with a path names a JWK Set. For allow/deny lists and pinned keys.
 *
 * @returns the key set URL, or `undefined` when the text is not an http(s) URL
 *
 * @example
 * ```ts
 * agentIdentityOf("https://agent.example"); // "https://agent.example/.well-known/http-message-signatures-directory"
 * ```
 */
export function agentIdentityOf(configured: string): string | undefined {
  const resolution = referenceFromMember([configured, new Map<string, BareItem>()], "configured");
  return resolution.ok ? resolution.agent.keySetUrl : undefined;
}
