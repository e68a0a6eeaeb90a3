/**
 * The verdict types every stage shares: what one signature label was judged to be, a request-wide field error,
 * and the verification of a request. A leaf module (types only, nothing from `verification/` or the profiles'
 * code), so `aauth/` and `verification/` both import it without importing each other.
 *
 * @example
 * ```ts
 * import type { LabelVerdict } from "./verdict.ts";
 * const verified = (labels: readonly LabelVerdict[]) => labels.filter((l) => l.outcome === "verified");
 * ```
 *
 * @module
 */
import type { AAuthIdentity } from "./aauth/scheme.ts";
import type { JoseAlgorithm, SignatureAlgorithm, SignatureParameters } from "./rfc9421/index.ts";

/**
 * The three outcomes a signature can have (draft-ietf-webbotauth-httpsig-protocol, "Verifier Outcomes").
 *
 * @example
 * ```ts
 * const outcome: LabelOutcome = "unverified";
 * ```
 */
export type LabelOutcome = "verified" | "invalid" | "unverified";

/** The judgement on one signature label. */
export interface LabelVerdict {
  readonly label: string;
  /** Which profile judged the label. */
  readonly profile?: "web-bot-auth" | "aauth" | undefined;
  readonly outcome: LabelOutcome;
  /** Why it did not verify: an RFC 9421 core code, a `Signature-Agent` code, or a discovery code. */
  readonly code?: string | undefined;
  /** Which family `code` comes from. */
  readonly codeSource?: "signature" | "signature-agent" | "discovery" | undefined;
  /** AAuth: the key-lookup code behind an `invalid_key` (`directory_unreachable`, `deadline_exceeded`, ...). */
  readonly discoveryCode?: string | undefined;
  readonly message?: string | undefined;
  /** The agent identity (key set URL) the signature was resolved to, when it was. */
  readonly agent?: string | undefined;
  /** Whether the key came from pinned configuration rather than a fetch. */
  readonly pinned?: boolean | undefined;
  readonly keyid?: string | undefined;
  readonly algorithm?: SignatureAlgorithm | JoseAlgorithm | undefined;
  readonly params?: SignatureParameters | undefined;
  /** The covered components, serialised. */
  readonly components: readonly string[];
  /** The `@signature-params` value as the signer wrote it. */
  readonly signatureParams?: string | undefined;
  /** The signature base, whenever the pipeline got as far as building it. */
  readonly base?: string | undefined;
  /** Whether the signature covers `authorization` (a bearer token is bound to the key only then). */
  readonly coversAuthorization: boolean;
  /** The decoded signature bytes (replay protection keys on them when there is no nonce). */
  readonly signature?: Uint8Array | undefined;
  /** AAuth: what the key scheme and tokens proved. */
  readonly aauth?: AAuthIdentity | undefined;
  /** AAuth: the components a failed signature should also have covered (`required_input`). */
  readonly requiredInput?: readonly string[] | undefined;
  /**
   * Every name the verified signer goes by, for allow and deny lists: the key set URL (Web Bot Auth); the agent
   * id, Agent Provider, key set and key thumbprint URN (AAuth).
   */
  readonly identities?: readonly string[] | undefined;
}

/**
 * A request-wide failure that stops every signature from being judged: a 400, or for an unreadable
 * `Signature-Key` the 401 `invalid_signature` AAuth prescribes.
 */
export interface FieldError {
  readonly reason: "malformed_signature_fields" | "malformed_signature_agent" | "signature_invalid";
  readonly code: string;
  readonly message: string;
  readonly profile?: "web-bot-auth" | "aauth" | undefined;
}

/**
 * What the verifier's one strict parse of `Signature-Input` and `Signature` found, handed on so that nothing
 * later parses them again: the labels both fields carry (the same set, checked; empty when the request has
 * neither), or, when the two could not be read as a whole, the core error code.
 *
 * @example
 * ```ts
 * const fields: SignatureFields = { labels: ["sig1"] };
 * const unusable: SignatureFields = { error: "malformed_signature_input" };
 * ```
 */
export type SignatureFields = { readonly labels: readonly string[] } | { readonly error: string };

/** The verification of a request. */
export interface RequestVerification {
  /**
   * The outcome of the one parse of the signature fields; absent when the request was not verified at all (a
   * monitored request with no route).
   */
  readonly signatureFields?: SignatureFields | undefined;
  /** Web Bot Auth signatures, in `Signature-Input` order. Empty when the request carries none. */
  readonly labels: readonly LabelVerdict[];
  /** Labels with another tag, left to other profiles. */
  readonly otherLabels: readonly string[];
  readonly fieldError?: FieldError | undefined;
}
