/**
 * The AAuth / HTTP Signature Keys verification of one request: every signature label that has a `Signature-Key`
 * member and is not a Web Bot Auth signature (`tag="web-bot-auth"`), each judged on its own under the AAuth
 * profile (draft-hardt-oauth-aauth-protocol-11 "HTTP Message Signatures Profile", SK-09): required components,
 * the `created` window, `expires`, the scheme's key, `keyid` consistency, JOSE algorithms, then RFC 9421.
 *
 * @module
 */

import { type RequestBudget, unlimitedBudget } from "../discovery/request-budget.ts";
import {
  combinedField,
  componentKey,
  type HttpRequestMessage,
  isSignatureError,
  type JoseAlgorithm,
  type ParsedSignature,
  parseComponent,
  parseSignatures,
  type SignatureEntry,
  type SignatureErrorCode,
  type SignatureParameters,
  serializeComponent,
  verifySignatures,
} from "../rfc9421/index.ts";
import type { LabelOutcome, LabelVerdict } from "../verdict.ts";
import { type AAuthFailure, fail, type SkErrorCode } from "./error-codes.ts";
import { DEFAULT_AAUTH_ALGORITHMS } from "./jwk.ts";
import { type AAuthKeyCache, createAAuthKeyCache } from "./key-cache.ts";
import type { AAuthIdentity, AAuthTokenType, ResolvedSignatureKey, SchemeContext, SchemeResolver } from "./scheme.ts";
import { resolveHwk } from "./scheme-hwk.ts";
import { resolveJktJwt } from "./scheme-jkt-jwt.ts";
import { resolveJwks, resolveJwksUri } from "./scheme-jwks.ts";
import { DEFAULT_MAX_AGENT_TOKEN_LIFETIME, resolveAAuthJwt } from "./scheme-jwt.ts";
import {
  IMPLEMENTED_SCHEMES,
  type ImplementedScheme,
  parseSignatureKey,
  type SignatureKeyField,
  type SignatureKeyMember,
  selectSignatureKey,
} from "./signature-key.ts";

/** The components every AAuth signature must cover. */
export const AAUTH_REQUIRED_COMPONENTS = ["@method", "@authority", "@path", "signature-key"] as const;
/** The default signature window, seconds (`signature_window`). */
export const DEFAULT_SIGNATURE_WINDOW = 60;

const WEB_BOT_AUTH_TAG = "web-bot-auth";

/**
 * Options of {@link verifyAAuthLabels}.
 *
 * @example
 * ```ts
 * const options: VerifyAAuthOptions = { resource: "https://resource.example", schemes: ["jwt"], acceptTokens: ["agent"] };
 * ```
 */
export interface VerifyAAuthOptions {
  /** The site's resource identifier (`issuer` of its `aauth-resource.json`): the `aud` person and auth tokens need. */
  readonly resource?: string | undefined;
  /** Schemes accepted; others are `unsupported_scheme`. Default all implemented: jwt, hwk, jkt-jwt, jwks_uri, jwks. */
  readonly schemes?: readonly ImplementedScheme[] | undefined;
  /** Token types accepted in a `jwt` member. Default agent, person and auth. */
  readonly acceptTokens?: readonly AAuthTokenType[] | undefined;
  /** JOSE algorithms accepted for the HTTP signature key. Default Ed25519, ES256, ES384, PS256, PS512. */
  readonly algorithms?: readonly JoseAlgorithm[] | undefined;
  /** JOSE algorithms accepted for token signatures. Default: `algorithms`. */
  readonly jwtAlgorithms?: readonly JoseAlgorithm[] | undefined;
  /** `created` must be within this many seconds of now, either way. Default 60. */
  readonly signatureWindow?: number | undefined;
  /** Require `content-digest` and `content-type` coverage on requests with a body. Default `false`. */
  readonly bodyIntegrity?: boolean | undefined;
  /** Further components every signature must cover (`additional_signature_components`). */
  readonly additionalComponents?: readonly string[] | undefined;
  /** `jwks_uri` ids and `jwks` urls whose keys identify an agent rather than a pseudonym (exact strings). */
  readonly trustedKeySets?: readonly string[] | undefined;
  /** The metadata and JWKS cache. Default: one per isolate, created on first use. */
  readonly cache?: AAuthKeyCache | undefined;
  /** Now, Unix seconds. Default the system clock. */
  readonly now?: (() => number) | undefined;
  /** Longest agent token lifetime accepted, seconds. Default 86400. */
  readonly maxAgentTokenLifetime?: number | undefined;
  /** Accept loopback issuers such as `http://127.0.0.1:8080/path` (tests only). Default `false`. */
  readonly unsafeAllowLoopback?: boolean | undefined;
  /**
   * Accept the published RFC 9421 test keys as signing keys (`hwk`, `cnf.jwk`, a `jkt-jwt` header key). Tests
   * only; the policy's `allowTestKeys`. Default `false`: they are `invalid_key`.
   */
  readonly allowTestKeys?: boolean | undefined;
  /**
   * The request's signatures as `parseSignatures` returned them (only those to judge: the caller applies the
   * label budget). Default: parsed here from `Signature-Input` and `Signature`.
   */
  readonly entries?: readonly SignatureEntry[] | undefined;
  /** The request's budget (fetch cap, deadline, coalescing scope). Default: a scope of its own, no limits. */
  readonly budget?: RequestBudget | undefined;
}

/**
 * The judgement on one AAuth label.
 *
 * @example
 * ```ts
 * if (verdict.outcome === "verified") console.log(verdict.identity?.level, verdict.identity?.thumbprint);
 * else console.log(verdict.code, verdict.requiredInput);
 * ```
 */
export interface AAuthLabelVerdict {
  readonly label: string;
  readonly outcome: LabelOutcome;
  /** The `Signature-Error` code, when not verified. */
  readonly code?: SkErrorCode | undefined;
  /** With `invalid_input`: the required components the signature does not cover. */
  readonly requiredInput?: readonly string[] | undefined;
  readonly message?: string | undefined;
  /** The discovery code behind a fetch failure (`directory_unreachable`, `egress_refused`, …). */
  readonly discoveryCode?: string | undefined;
  /** The `Signature-Key` scheme of the label, when it had a member. */
  readonly scheme?: string | undefined;
  /** The JOSE algorithm of the key, once resolved. */
  readonly algorithm?: JoseAlgorithm | undefined;
  readonly params?: SignatureParameters | undefined;
  /** Covered components, serialised. */
  readonly components: readonly string[];
  readonly signatureParams?: string | undefined;
  /** The signature base, whenever it was built. */
  readonly base?: string | undefined;
  readonly signature?: Uint8Array | undefined;
  readonly coversAuthorization: boolean;
  /** Who the key proves, on `verified` verdicts. */
  readonly identity?: AAuthIdentity | undefined;
}

/**
 * The AAuth verification of a request.
 *
 * @example
 * ```ts
 * const { labels, otherLabels, fieldError } = await verifyAAuthLabels(message, options);
 * ```
 */
export interface AAuthVerification {
  /** AAuth labels in `Signature-Input` order; empty when the request carries none. */
  readonly labels: readonly AAuthLabelVerdict[];
  /** Labels left to other profiles (Web Bot Auth, or no `Signature-Key` member). */
  readonly otherLabels: readonly string[];
  /** A malformed `Signature-Key`, `Signature-Input` or `Signature` field that spoils every label. */
  readonly fieldError?: { readonly code: SkErrorCode; readonly message: string } | undefined;
}

const RESOLVERS: Readonly<Record<ImplementedScheme, SchemeResolver>> = {
  hwk: resolveHwk,
  "jkt-jwt": resolveJktJwt,
  jwks_uri: resolveJwksUri,
  jwks: resolveJwks,
  jwt: resolveAAuthJwt,
};

let isolateCache: AAuthKeyCache | undefined;

function isolateKeyCache(): AAuthKeyCache {
  if (isolateCache === undefined) isolateCache = createAAuthKeyCache();
  return isolateCache;
}

/**
 * Verifies the AAuth / Signature-Key labels of a request, each on its own. Never throws for anything in the
 * request; a malformed signature field is `fieldError` (`invalid_signature`). A key that could not be fetched is
 * `unverified` (code `invalid_key` with `discoveryCode`); every other failure is `invalid`.
 *
 * @example
 * ```ts
 * const result = await verifyAAuthLabels(requestFromFetch(request), {
 *   resource: "https://resource.example",
 *   schemes: ["jwt"],
 *   acceptTokens: ["agent", "auth"],
 * });
 * const verified = result.labels.find((l) => l.outcome === "verified");
 * ```
 */
export async function verifyAAuthLabels(
  message: HttpRequestMessage,
  options: VerifyAAuthOptions = {},
): Promise<AAuthVerification> {
  const signatureKey = combinedField(message.headers, "signature-key");
  let entries: readonly SignatureEntry[];
  try {
    entries =
      options.entries ??
      parseSignatures(
        {
          signatureInput: combinedField(message.headers, "signature-input"),
          signature: combinedField(message.headers, "signature"),
        },
        "request",
      );
  } catch (error) {
    if (!isSignatureError(error)) throw error;
    if (error.code === "no_signature" && signatureKey === undefined) return { labels: [], otherLabels: [] };
    return { labels: [], otherLabels: [], fieldError: { code: "invalid_signature", message: error.message } };
  }
  if (signatureKey === undefined) {
    return { labels: [], otherLabels: entries.map((e) => e.label as string) };
  }
  const parsedKey = parseSignatureKey(signatureKey);
  if (!parsedKey.ok) {
    return { labels: [], otherLabels: [], fieldError: { code: parsedKey.code, message: parsedKey.message } };
  }
  const field = parsedKey.field;
  const labels: Promise<AAuthLabelVerdict>[] = [];
  const otherLabels: string[] = [];
  const request: RequestScope = {
    budget: options.budget ?? unlimitedBudget(),
    resolved: new Map(),
  };
  for (const entry of entries) {
    const label = entry.label as string;
    const tag = isSignatureError(entry) ? undefined : entry.params.tag;
    if (tag === WEB_BOT_AUTH_TAG || !field.labels.has(label)) {
      otherLabels.push(label);
      continue;
    }
    if (isSignatureError(entry)) {
      labels.push(
        Promise.resolve({
          label,
          outcome: "invalid",
          code: "invalid_signature",
          message: entry.message,
          scheme: field.members.get(label)?.scheme,
          components: [],
          coversAuthorization: false,
        }),
      );
      continue;
    }
    // Every label's cheap checks run at once, then their key work runs side by side within the budget.
    labels.push(judge(message, entry, field, options, request));
  }
  return { labels: await Promise.all(labels), otherLabels };
}

/** What the labels of one request share: the budget, and each distinct key member resolved once. */
interface RequestScope {
  readonly budget: RequestBudget;
  readonly resolved: Map<string, Promise<ResolvedSignatureKey | AAuthFailure>>;
}

/** A member's identity for the per-request memo (its scheme and parameters, in order), if it has one. */
function memberKey(member: SignatureKeyMember): string | undefined {
  const params: unknown[] = [];
  for (const [name, param] of member.params) {
    if (param.type === "other") return undefined;
    params.push([name, param.type, param.type === "bytes" ? [...param.value] : param.value]);
  }
  return JSON.stringify([member.scheme, params]);
}

async function judge(
  message: HttpRequestMessage,
  sig: ParsedSignature,
  field: SignatureKeyField,
  options: VerifyAAuthOptions,
  request: RequestScope,
): Promise<AAuthLabelVerdict> {
  const components = sig.components.map(serializeComponent);
  const verdict = {
    label: sig.label,
    scheme: field.members.get(sig.label)?.scheme,
    params: sig.params,
    components,
    signatureParams: sig.signatureParams,
    signature: sig.signature,
    coversAuthorization: sig.components.some((c) => c.name === "authorization" && c.params.size === 0),
  };
  const refuse = (failure: AAuthFailure, extra: { base?: string | undefined } = {}): AAuthLabelVerdict => ({
    ...verdict,
    ...extra,
    outcome: failure.outcome ?? "invalid",
    code: failure.code,
    message: failure.message,
    requiredInput: failure.requiredInput,
    discoveryCode: failure.discoveryCode,
  });

  const now = options.now ? options.now() : Math.floor(Date.now() / 1000);
  const window = options.signatureWindow ?? DEFAULT_SIGNATURE_WINDOW;
  const missing = await missingComponents(message, sig, options);
  if (missing.length > 0) {
    return refuse(
      fail("invalid_input", `"${sig.label}" must also cover ${missing.join(" ")}`, { requiredInput: missing }),
    );
  }
  const { created, expires } = sig.params;
  if (created === undefined) return refuse(fail("invalid_signature", `"${sig.label}" has no ;created`));
  if (created > now + window) {
    return refuse(fail("clock_skew", `"${sig.label}" was created ${created - now} s ahead of this verifier's clock`));
  }
  if (created < now - window) {
    return refuse(
      fail("invalid_signature", `"${sig.label}" was created ${now - created} s ago; the window is ${window} s`),
    );
  }
  if (expires !== undefined && expires < now) {
    return refuse(fail("invalid_signature", `"${sig.label}" expired ${now - expires} s ago`));
  }

  const algorithms = options.algorithms ?? DEFAULT_AAUTH_ALGORITHMS;
  const selected = selectSignatureKey(field, sig.label, options.schemes ?? IMPLEMENTED_SCHEMES);
  if (!selected.ok) return refuse(selected);
  const context: SchemeContext = {
    algorithms,
    jwtAlgorithms: options.jwtAlgorithms ?? algorithms,
    now,
    window,
    cache: options.cache ?? isolateKeyCache(),
    resource: options.resource,
    acceptTokens: options.acceptTokens ?? ["agent", "person", "auth"],
    trustedKeySets: options.trustedKeySets ?? [],
    maxAgentTokenLifetime: options.maxAgentTokenLifetime ?? DEFAULT_MAX_AGENT_TOKEN_LIFETIME,
    unsafeAllowLoopback: options.unsafeAllowLoopback === true,
    allowTestKeys: options.allowTestKeys === true,
    budget: request.budget,
  };
  // Identical members (the same hwk key on many labels) are resolved, fetched and imported once per request.
  const memo = memberKey(selected.member);
  let resolving = memo === undefined ? undefined : request.resolved.get(memo);
  if (resolving === undefined) {
    resolving = RESOLVERS[selected.member.scheme](selected.member, context).catch(() =>
      // A resolver bug or a platform failure must not turn into an accepted request or an unhandled error.
      fail("invalid_request", "the key could not be resolved"),
    );
    if (memo !== undefined) request.resolved.set(memo, resolving);
  }
  const resolved = await resolving;
  if (!resolved.ok) return refuse(resolved);
  const key = resolved;
  const algorithm = key.key.algorithm as JoseAlgorithm;
  if (sig.params.keyid !== undefined && !key.keyIds.includes(sig.params.keyid)) {
    return refuse(fail("invalid_key", `the keyid of "${sig.label}" does not name its Signature-Key key`));
  }

  const [outcome] = await verifySignatures(message, {
    entries: [sig],
    label: sig.label,
    keys: () => key.key,
    algorithms: [algorithm],
    algParameter: "ignore",
    clockSkew: window,
    now: () => now,
  });
  if (outcome === undefined) return refuse(fail("invalid_signature", `"${sig.label}" disappeared`));
  if (!outcome.verified) {
    return { ...refuse(fail(skCodeOf(outcome.error.code), outcome.error.message), { base: outcome.base }), algorithm };
  }
  return { ...verdict, outcome: "verified", algorithm, base: outcome.result.base, identity: key.identity };
}

/** The required components the signature does not cover, serialised, in the order required. */
async function missingComponents(
  message: HttpRequestMessage,
  sig: ParsedSignature,
  options: VerifyAAuthOptions,
): Promise<string[]> {
  const required: string[] = [...AAUTH_REQUIRED_COMPONENTS];
  if (options.bodyIntegrity === true && (await hasBody(message))) required.push("content-digest", "content-type");
  if (combinedField(message.headers, "authorization") !== undefined) required.push("authorization");
  for (const extra of options.additionalComponents ?? []) required.push(extra);
  const covered = new Set(sig.components.map(componentKey));
  const missing: string[] = [];
  for (const text of required) {
    const id = parseComponent(text, "request");
    const serialised = serializeComponent(id);
    if (!covered.has(componentKey(id)) && !missing.includes(serialised)) missing.push(serialised);
  }
  return missing;
}

async function hasBody(message: HttpRequestMessage): Promise<boolean> {
  const length = combinedField(message.headers, "content-length");
  if (length !== undefined) return length.trim() !== "0";
  if (combinedField(message.headers, "transfer-encoding") !== undefined) return true;
  const body = message.body;
  if (body === undefined) return false;
  if (body instanceof Uint8Array) return body.byteLength > 0;
  if (["GET", "HEAD", "OPTIONS"].includes(message.method.toUpperCase())) return false;
  try {
    return (await body()).byteLength > 0;
  } catch {
    return true;
  }
}

function skCodeOf(code: SignatureErrorCode): SkErrorCode {
  switch (code) {
    case "unsupported_algorithm":
    case "algorithm_not_allowed":
      return "unsupported_algorithm";
    case "invalid_key":
    case "weak_key":
      return "invalid_key";
    case "created_in_future":
      return "clock_skew";
    default:
      return "invalid_signature";
  }
}

/**
 * The verdict in the shape the Web Bot Auth pipeline uses, so both profiles flow through one decision step. The
 * SK code goes to `code` (with `codeSource` `signature`, or `discovery` for a fetch failure); the agent is the
 * Agent Provider, the allow-listed key set, or the person issuer, whichever applies.
 *
 * @example
 * ```ts
 * const verdicts: LabelVerdict[] = aauth.labels.map(toLabelVerdict);
 * ```
 */
export function toLabelVerdict(verdict: AAuthLabelVerdict): LabelVerdict {
  const identity = verdict.identity;
  return {
    label: verdict.label,
    outcome: verdict.outcome,
    code: verdict.code,
    codeSource:
      verdict.code === undefined ? undefined : verdict.discoveryCode === undefined ? "signature" : "discovery",
    discoveryCode: verdict.discoveryCode,
    message: verdict.message,
    agent: identity?.agentProvider ?? (identity?.trustedKeySet ? identity.keySet : undefined) ?? identity?.personIssuer,
    keyid: verdict.params?.keyid ?? identity?.thumbprint,
    algorithm: verdict.algorithm,
    params: verdict.params,
    components: verdict.components,
    signatureParams: verdict.signatureParams,
    base: verdict.base,
    coversAuthorization: verdict.coversAuthorization,
    signature: verdict.signature,
  };
}
