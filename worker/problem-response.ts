/**
 * RFC 9457 problem responses for refusals, with the challenge that tells a client what to sign.
 *
 * @module
 */
import {
  aauthRequirementHeader,
  acceptSignatureAlgHeader,
  acceptSignatureSchemeHeader,
  type SkErrorCode,
  signatureErrorHeader,
  signatureErrorProblemType,
} from "./aauth/index.ts";
import { problemType, REJECTION_REASONS, type RejectionReason } from "./reasons.ts";

/** What an AAuth client needs to hear (draft-hardt-httpbis-signature-key-09 §4-5, AAuth `AAuth-Requirement`). */
export interface AAuthChallenge {
  /** The `Signature-Error` code (`invalid_input`, `unsupported_scheme`, ...); the problem `type` follows it. */
  readonly error?: string | undefined;
  /** For `invalid_input`: the components to cover. */
  readonly requiredInput?: readonly string[] | undefined;
  /** `Accept-Signature-Scheme`. */
  readonly schemes?: readonly string[] | undefined;
  /** `Accept-Signature-Alg`. */
  readonly algorithms?: readonly string[] | undefined;
  /** `AAuth-Requirement: requirement=...`. */
  readonly requirement?: "agent-token" | "person-token" | undefined;
}

/** The details of a refusal. */
export interface Rejection {
  readonly reason: RejectionReason;
  /** What exactly was wrong, for a human. */
  readonly detail: string;
  /** The RFC 9421 core's code for the signature that failed (`missing_field`, `invalid_signature`, ...). */
  readonly signatureError?: string | undefined;
  /** The key discovery code when keys could not be had (`directory_unreachable`, ...). */
  readonly discoveryError?: string | undefined;
  /** The signature label concerned. */
  readonly label?: string | undefined;
  /** The agent concerned, once verified. */
  readonly agent?: string | undefined;
  /** An `Accept-Signature` value saying what to sign (401 answers). */
  readonly acceptSignature?: string | undefined;
  /** The AAuth headers, when the failure concerns an AAuth signature or an AAuth requirement. */
  readonly aauth?: AAuthChallenge | undefined;
}

/**
 * The HTTP status of a rejection.
 *
 * @example
 * ```ts
 * rejectionStatus({ reason: "agent_denied", detail: "..." }); // 403
 * ```
 */
export function rejectionStatus(rejection: Rejection): number {
  return REJECTION_REASONS[rejection.reason].status;
}

/**
 * The `application/problem+json` response for a rejection. Nothing from the request is echoed except the label
 * and agent, which Signet parsed and validated.
 *
 * @example
 * ```ts
 * return problemResponse({ reason: "signature_required", detail: "sign the request", acceptSignature });
 * ```
 */
export function problemResponse(rejection: Rejection, instance?: string): Response {
  const { status, title } = REJECTION_REASONS[rejection.reason];
  const aauth = rejection.aauth;
  const body: Record<string, unknown> = {
    // AAuth (HTTP Signature Keys §5) fixes the problem type of a signature error to its Signature-Error code.
    type:
      aauth?.error === undefined
        ? problemType(rejection.reason)
        : signatureErrorProblemType(aauth.error as SkErrorCode),
    title,
    status,
    detail: rejection.detail,
    reason: rejection.reason,
  };
  if (instance !== undefined) body.instance = instance;
  if (rejection.signatureError !== undefined) body.signature_error = rejection.signatureError;
  if (rejection.discoveryError !== undefined) body.discovery_error = rejection.discoveryError;
  if (rejection.label !== undefined) body.label = rejection.label;
  if (rejection.agent !== undefined) body.agent = rejection.agent;
  const headers = new Headers({ "content-type": "application/problem+json", "cache-control": "no-store" });
  if (rejection.acceptSignature !== undefined) headers.set("accept-signature", rejection.acceptSignature);
  if (aauth?.error !== undefined) {
    headers.set("signature-error", signatureErrorHeader(aauth.error as SkErrorCode, aauth.requiredInput));
  }
  if (aauth?.schemes !== undefined) headers.set("accept-signature-scheme", acceptSignatureSchemeHeader(aauth.schemes));
  if (aauth?.algorithms !== undefined) headers.set("accept-signature-alg", acceptSignatureAlgHeader(aauth.algorithms));
  if (aauth?.requirement !== undefined) {
    headers.set("aauth-requirement", aauthRequirementHeader({ requirement: aauth.requirement }));
  }
  return new Response(JSON.stringify(body), { status, headers });
}
