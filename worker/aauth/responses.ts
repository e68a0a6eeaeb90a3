/**
 * The response fields an AAuth resource answers a refused signature with: `Signature-Error` (SK-09 §5),
 * `Accept-Signature-Scheme` and `Accept-Signature-Alg` (SK-09 §4), `AAuth-Requirement` (AAuth "Requirement
 * Responses"), and the RFC 9457 problem type `urn:ietf:params:sig-error:<code>`. All are serialised with
 * `structured-headers`, so they are valid Structured Fields by construction.
 *
 * @module
 */
import {
  type BareItem,
  type InnerList,
  type Item,
  serializeDictionary,
  serializeList,
  Token,
} from "structured-headers";
import type { SkErrorCode } from "./error-codes.ts";

/**
 * `Signature-Error: error=<code>`, with `required_input` as an Inner List of Strings for `invalid_input`.
 *
 * @example
 * ```ts
 * signatureErrorHeader("invalid_input", ["@path", "signature-key"]);
 * // 'error=invalid_input, required_input=("@path" "signature-key")'
 * ```
 */
export function signatureErrorHeader(code: SkErrorCode, requiredInput?: readonly string[]): string {
  const members = new Map<string, Item | InnerList>([["error", [new Token(code), new Map()]]]);
  if (requiredInput !== undefined && requiredInput.length > 0) {
    members.set("required_input", [requiredInput.map((c): Item => [unquote(c), new Map()]), new Map()]);
  }
  return serializeDictionary(members);
}

/**
 * `Accept-Signature-Scheme`: an SF List of Tokens in preference order.
 *
 * @example
 * ```ts
 * acceptSignatureSchemeHeader(["jwt"]); // "jwt"
 * ```
 */
export function acceptSignatureSchemeHeader(schemes: readonly string[]): string {
  return serializeList(schemes.map((s): Item => [new Token(s), new Map()]));
}

/**
 * `Accept-Signature-Alg`: an SF List of Tokens naming JOSE algorithms verbatim (case kept), exactly the accepted set.
 *
 * @example
 * ```ts
 * acceptSignatureAlgHeader(["Ed25519", "ES256"]); // "Ed25519, ES256"
 * ```
 */
export function acceptSignatureAlgHeader(algorithms: readonly string[]): string {
  return serializeList(algorithms.map((a): Item => [new Token(a), new Map()]));
}

/**
 * What a 401 `AAuth-Requirement` asks for.
 *
 * @example
 * ```ts
 * const requirement: AAuthRequirement = { requirement: "auth-token", resourceToken: "eyJ…" };
 * ```
 */
export type AAuthRequirement =
  | { readonly requirement: "agent-token" }
  | { readonly requirement: "person-token" }
  | { readonly requirement: "auth-token"; readonly resourceToken: string };

/**
 * `AAuth-Requirement`: an SF Dictionary whose `requirement` member is a Token, with the requirement's data as
 * parameters (`resource-token` String for `auth-token`).
 *
 * @example
 * ```ts
 * aauthRequirementHeader({ requirement: "agent-token" }); // "requirement=agent-token"
 * aauthRequirementHeader({ requirement: "auth-token", resourceToken: "eyJ" }); // 'requirement=auth-token;resource-token="eyJ"'
 * ```
 */
export function aauthRequirementHeader(requirement: AAuthRequirement): string {
  const params = new Map<string, BareItem>();
  if (requirement.requirement === "auth-token") params.set("resource-token", requirement.resourceToken);
  return serializeDictionary(new Map([["requirement", [new Token(requirement.requirement), params]]]));
}

/**
 * The RFC 9457 problem `type` for a `Signature-Error` code (SK-09 §5.2).
 *
 * @example
 * ```ts
 * signatureErrorProblemType("unknown_key"); // "urn:ietf:params:sig-error:unknown_key"
 * ```
 */
export function signatureErrorProblemType(code: SkErrorCode): string {
  return `urn:ietf:params:sig-error:${code}`;
}

/**
 * Options of {@link signatureErrorResponse}.
 *
 * @example
 * ```ts
 * const options: SignatureErrorResponseOptions = { schemes: ["jwt"], algorithms: ["Ed25519"] };
 * ```
 */
export interface SignatureErrorResponseOptions {
  readonly requiredInput?: readonly string[] | undefined;
  /** Sent as `Accept-Signature-Scheme` with `unsupported_scheme`. */
  readonly schemes?: readonly string[] | undefined;
  /** Sent as `Accept-Signature-Alg` with `unsupported_algorithm`. */
  readonly algorithms?: readonly string[] | undefined;
  readonly requirement?: AAuthRequirement | undefined;
  /** The problem `detail`. */
  readonly detail?: string | undefined;
}

/**
 * The AAuth 401 for a signature failure: `Signature-Error`, the matching `Accept-Signature-*` field, optional
 * `AAuth-Requirement`, and an `application/problem+json` body whose `type` is the sig-error URN.
 *
 * @example
 * ```ts
 * return signatureErrorResponse("unsupported_scheme", { schemes: ["jwt"] });
 * ```
 */
export function signatureErrorResponse(code: SkErrorCode, options: SignatureErrorResponseOptions = {}): Response {
  const headers = new Headers({
    "content-type": "application/problem+json",
    "signature-error": signatureErrorHeader(code, options.requiredInput),
  });
  if (code === "unsupported_scheme" && options.schemes !== undefined) {
    headers.set("accept-signature-scheme", acceptSignatureSchemeHeader(options.schemes));
  }
  if (code === "unsupported_algorithm" && options.algorithms !== undefined) {
    headers.set("accept-signature-alg", acceptSignatureAlgHeader(options.algorithms));
  }
  if (options.requirement !== undefined) headers.set("aauth-requirement", aauthRequirementHeader(options.requirement));
  const body: Record<string, unknown> = {
    type: signatureErrorProblemType(code),
    title: "The request signature was not accepted",
    status: 401,
  };
  if (options.detail !== undefined) body.detail = options.detail;
  if (options.requiredInput !== undefined) body.required_input = options.requiredInput;
  return new Response(JSON.stringify(body), { status: 401, headers });
}

function unquote(component: string): string {
  return component.startsWith('"') && component.endsWith('"') ? component.slice(1, -1) : component;
}
