/**
 * From a request's verification and the rule that governs it to what Signet does: forward (with the verified
 * identity, if any) or refuse with a reason.
 *
 * @module
 */
import type { VerifiedAgent } from "../identity/verified-agent.ts";
import { judgeAgent } from "../policy/match-rule.ts";
import { isUnsafeMethod, type Policy, type Rule, UNSAFE_METHOD_COVERAGE } from "../policy/policy.ts";
import type { AAuthChallenge, Rejection } from "../problem-response.ts";
import { buildAcceptSignature } from "../rfc9421/index.ts";
import type { LabelVerdict, RequestVerification } from "./verify-request.ts";

/** What to do with a request. */
export type Decision =
  | {
      readonly action: "forward";
      readonly identity?: VerifiedAgent | undefined;
      readonly verdict?: LabelVerdict | undefined;
    }
  | { readonly action: "reject"; readonly rejection: Rejection };

const WEB_BOT_AUTH_COMPONENTS = ['"@method"', '"@authority"', '"@path"', '"signature-agent";key="sig1"'];

/** An `Accept-Signature` asking for a Web Bot Auth signature over the usual components and any others named. */
function acceptSignature(extra: readonly string[] = [], nonce = false): string {
  return buildAcceptSignature([
    {
      label: "sig1",
      components: [...WEB_BOT_AUTH_COMPONENTS, ...extra.map((name) => `"${name}"`)],
      params: { created: true, expires: true, nonce: nonce ? true : undefined, tag: "web-bot-auth" },
    },
  ]);
}

/** What a Web Bot Auth signer should send: the `Accept-Signature` of every plain 401. */
export const WEB_BOT_AUTH_ACCEPT_SIGNATURE = acceptSignature();

/** What an AAuth signer should cover (the profile's components; `signature-key` is the client's to add). */
function aauthAcceptSignature(policy: Policy): string {
  const extra = policy.aauth.additionalComponents.map((c) => (c.startsWith('"') ? c : `"${c}"`));
  return buildAcceptSignature([
    {
      label: "sig",
      components: ['"@method"', '"@authority"', '"@path"', ...extra, '"signature-key"'],
      params: { created: true },
    },
  ]);
}

/** Facts about the request that the verification does not carry. */
export interface DecideContext {
  /** Lower-case names of the bearer credential headers the request presents (`authorization`, API keys). */
  readonly credentials?: readonly string[] | undefined;
  /** The request method, upper case: unsafe methods get {@link UNSAFE_METHOD_COVERAGE} by default. */
  readonly method?: string | undefined;
  /** Whether the request has a body (a `content-digest` requirement applies only then). */
  readonly hasBody?: boolean | undefined;
}

/**
 * The components a signature must cover to decide a request on this rule, each as alternatives: the rule's
 * `cover`, else {@link UNSAFE_METHOD_COVERAGE} on unsafe methods (every method but GET, HEAD, OPTIONS, TRACE)
 * and `content-digest` alone on safe ones; `content-digest` only when there is a body.
 *
 * @example
 * ```ts
 * requiredCoverage({ path: "/*", require: "verified-agent" }, { method: "POST", hasBody: false });
 * // [['"@method"'], ['"@path"', '"@target-uri"']]
 * ```
 */
export function requiredCoverage(rule: Rule, context: DecideContext): readonly (readonly string[])[] {
  // Every method but the safe ones binds the request; a body binds by content-digest whatever the method.
  const wanted = rule.cover ?? (isUnsafeMethod(context.method ?? "GET") ? UNSAFE_METHOD_COVERAGE : BODY_COVERAGE);
  return context.hasBody === true ? wanted : wanted.filter((any) => !any.includes('"content-digest"'));
}

/** What a safe method's signature must cover by default: only a body, when there is one. */
const BODY_COVERAGE: readonly (readonly string[])[] = Object.freeze([Object.freeze(['"content-digest"'])]);

const LEVELS = { pseudonymous: 0, agent: 1, person: 2, authorized: 3 } as const;
const TOKEN_LEVEL = { "agent-token": 1, "person-token": 2, "auth-token": 3 } as const;

/** The names a verified signer goes by, for the lists. */
const namesOf = (l: LabelVerdict): readonly string[] => l.identities ?? (l.agent === undefined ? [] : [l.agent]);

/** Whether a verified signature names an agent rather than a bare key (AAuth `hwk`, `jkt-jwt`, unlisted key sets). */
const attributed = (l: LabelVerdict): boolean =>
  l.profile !== "aauth" || (l.aauth !== undefined && l.aauth.level !== "pseudonymous");

/**
 * Decides a request. Unsigned requests on `none` routes pass as anonymous; a verified signer on a deny list is
 * refused on every route; a bearer credential on a `bearer: "require-proof"` route needs a verified signature
 * covering it; routes that require a signature refuse unsigned, invalid and unverifiable requests, signatures
 * without a nonce where one is required, pseudonymous signers where an agent is required, AAuth credentials below
 * the rule's `aauth` level (with `AAuth-Requirement`), and signers outside their allow lists.
 *
 * @example
 * ```ts
 * const decision = decide(verification, matchRule(policy, method, path), policy, { credentials: ["authorization"] });
 * if (decision.action === "reject") return problemResponse(decision.rejection);
 * ```
 */
export function decide(
  verification: RequestVerification,
  rule: Rule,
  policy: Policy,
  context: DecideContext = {},
): Decision {
  const verified = verification.labels.filter((l) => l.outcome === "verified" && namesOf(l).length > 0);
  const denied = verified.find((l) => judgeAgent(policy, rule, namesOf(l)) === "denied");
  if (denied) {
    return reject({
      reason: "agent_denied",
      detail: `the agent ${denied.agent} is denied`,
      agent: denied.agent,
      label: denied.label,
    });
  }
  const nonceRequired = rule.nonce === "required";
  let usable = nonceRequired ? verified.filter((l) => l.params?.nonce !== undefined) : verified;
  const credentials = context.credentials ?? [];
  if (rule.bearer === "require-proof" && credentials.length > 0) {
    // Proof means the credential is bound to an agent: a bare key (an AAuth `hwk`) anyone can mint proves nothing.
    usable = usable.filter((l) => attributed(l) && credentials.every((name) => l.components.includes(`"${name}"`)));
    if (usable.length === 0) {
      return reject({
        reason: "bearer_without_proof",
        detail:
          `the request presents ${credentials.join(", ")} without a verified signature by an identified agent ` +
          "that covers it: sign the request and cover the credential header(s), as Accept-Signature says",
        acceptSignature: acceptSignature(credentials, nonceRequired),
      });
    }
  }
  // Coverage: the signature that decides must bind what the rule (or the unsafe-method default) asks for.
  const coverage = requiredCoverage(rule, context);
  const covering = usable.filter((l) => coverage.every((any) => any.some((c) => l.components.includes(c))));
  if (usable.length > 0 && covering.length === 0 && rule.require !== "none") {
    const missing = coverage.filter((any) => !usable.some((l) => any.some((c) => l.components.includes(c))));
    const wanted = (missing.length > 0 ? missing : coverage).map((any) => any[0] as string);
    return reject({
      reason: "insufficient_coverage",
      detail: `this route needs a signature that covers ${coverage.map((any) => any.join(" or ")).join(", ")}`,
      label: usable[0]?.label,
      acceptSignature: acceptSignature(
        wanted.map((c) => c.slice(1, -1)).filter((c) => !WEB_BOT_AUTH_COMPONENTS.includes(`"${c}"`)),
        nonceRequired,
      ),
    });
  }
  usable = covering;
  const bound = credentials.includes("authorization");
  const needsAgent = rule.require === "verified-agent";

  // One signature decides: the AAuth level, the identity, the bearer binding and the replay claim all come from
  // the label that meets every requirement, so a second label (replayed, or a throwaway key) can lift nothing.
  if (rule.aauth !== undefined) {
    const needed = TOKEN_LEVEL[rule.aauth];
    const levelOf = (l: LabelVerdict): number =>
      l.profile === "aauth" && l.aauth ? LEVELS[l.aauth.level ?? "pseudonymous"] : -1;
    // An auth token needs a resource token only the origin can sign, so below that level the origin challenges.
    const enough = (l: LabelVerdict): boolean =>
      rule.aauth === "auth-token" ? levelOf(l) >= LEVELS.agent : levelOf(l) >= needed;
    const missingScope = (l: LabelVerdict): string[] => {
      if (rule.aauth !== "auth-token" || rule.scope === undefined || l.aauth?.level !== "authorized") return [];
      const granted = new Set((l.aauth.scope ?? "").split(" ").filter(Boolean));
      return rule.scope.filter((scope) => !granted.has(scope));
    };
    const strong = usable.filter(enough);
    if (strong.length === 0 && !verification.fieldError) {
      const failed = verification.labels.find((l) => l.profile === "aauth" && l.outcome !== "verified");
      if (failed) return reject(rejectionFor(failed, policy));
      return reject({
        reason: "signature_required",
        detail: `this resource requires an AAuth ${rule.aauth === "person-token" ? "person" : "agent"} token`,
        acceptSignature: aauthAcceptSignature(policy),
        aauth: { requirement: rule.aauth === "person-token" ? "person-token" : "agent-token", schemes: ["jwt"] },
      });
    }
    const scoped = strong.filter((l) => missingScope(l).length === 0);
    const narrow = strong.find((l) => missingScope(l).length > 0);
    if (scoped.length === 0 && narrow) {
      return reject({
        reason: "insufficient_scope",
        detail: `the auth token does not grant ${missingScope(narrow).join(", ")}`,
        agent: narrow.agent,
        label: narrow.label,
      });
    }
    usable = scoped;
  }
  const candidates = needsAgent ? usable.filter(attributed) : usable;
  const allowed = candidates.find((l) => judgeAgent(policy, rule, namesOf(l)) === "allowed");

  if (rule.require === "none") {
    return allowed ? forward(allowed, bound) : { action: "forward" };
  }
  if (verification.fieldError) {
    const { reason, code, message, profile } = verification.fieldError;
    if (profile === "aauth") {
      return reject({
        reason,
        detail: message,
        signatureError: code,
        acceptSignature: aauthAcceptSignature(policy),
        aauth: { error: code },
      });
    }
    return reject({ reason, detail: message, signatureError: code, acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE });
  }
  if (allowed) return forward(allowed, bound);
  const first = candidates[0];
  if (first) {
    return reject({
      reason: "agent_not_allowed",
      detail: `the agent ${first.agent} is not allowed on this route`,
      agent: first.agent,
      label: first.label,
    });
  }
  const pseudonymous = usable.find((l) => !attributed(l));
  if (pseudonymous) {
    return reject({
      reason: "agent_not_allowed",
      detail: "this route requires an identified agent, and the signature names only a key (a pseudonym)",
      agent: pseudonymous.agent,
      label: pseudonymous.label,
    });
  }
  if (verified[0]) {
    return reject({
      reason: "signature_invalid",
      detail: `this route requires a nonce, and signature "${verified[0].label}" has none`,
      signatureError: "missing_required_parameter",
      label: verified[0].label,
      acceptSignature: acceptSignature([], true),
    });
  }
  if (verification.labels.length === 0) {
    return reject({
      reason: "signature_required",
      detail: "this resource requires a signed request",
      acceptSignature: acceptSignature([], nonceRequired),
    });
  }
  // Prefer a signature that failed for want of keys (the signer may retry) over one that is plainly invalid.
  const failed =
    verification.labels.find((l) => l.outcome === "unverified") ?? (verification.labels[0] as LabelVerdict);
  return reject(rejectionFor(failed, policy));
}

/** The refusal for a signature that did not verify, in its profile's terms. */
function rejectionFor(label: LabelVerdict, policy: Policy): Rejection {
  const detail = label.message ?? `signature "${label.label}" did not verify`;
  if (label.profile === "aauth") {
    const code = label.code ?? "invalid_signature";
    const aauth: AAuthChallenge = {
      error: code,
      requiredInput: label.requiredInput,
      schemes: code === "unsupported_scheme" ? policy.aauth.schemes : undefined,
      algorithms: code === "unsupported_algorithm" ? policy.aauth.algorithms : undefined,
    };
    const common = { label: label.label, acceptSignature: aauthAcceptSignature(policy), aauth, signatureError: code };
    if (label.outcome === "unverified") {
      return {
        ...common,
        reason: "agent_unverified",
        detail,
        // The key-lookup failure behind AAuth's invalid_key, as a Web Bot Auth refusal names it.
        discoveryError: label.discoveryCode,
      };
    }
    if (code === "clock_skew") return { ...common, reason: "signature_from_future", detail };
    if (code === "expired_jwt") return { ...common, reason: "signature_expired", detail };
    return { ...common, reason: "signature_invalid", detail };
  }
  const common = { label: label.label, acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE };
  if (label.outcome === "unverified") {
    return {
      ...common,
      reason: "agent_unverified",
      detail,
      ...(label.codeSource === "discovery" ? { discoveryError: label.code } : { signatureError: label.code }),
    };
  }
  if (label.code === "signature_expired" || label.code === "signature_too_old") {
    return { ...common, reason: "signature_expired", detail, signatureError: label.code };
  }
  if (label.code === "created_in_future") {
    return { ...common, reason: "signature_from_future", detail, signatureError: label.code };
  }
  return { ...common, reason: "signature_invalid", detail, signatureError: label.code };
}

function forward(label: LabelVerdict, authorizationPresented: boolean): Decision {
  const extra: Record<string, string> = {};
  // A bearer token is bound to the agent only when the signature that names the agent covers it: a bare key
  // (an AAuth `hwk`, an unlisted key set) anyone can mint binds the token to nobody.
  if (authorizationPresented && label.coversAuthorization && attributed(label)) extra.bearer = "bound";
  const aauth = label.aauth;
  if (label.profile === "aauth" && aauth) {
    extra.level = aauth.level;
    extra.scheme = aauth.scheme;
    extra.jkt = aauth.thumbprint;
    if (aauth.agentProvider) extra.agent_provider = aauth.agentProvider;
    if (aauth.agentId) extra.agent_id = aauth.agentId;
    if (aauth.parentAgent) extra.parent_agent = aauth.parentAgent;
    if (aauth.ps) extra.ps = aauth.ps;
    if (aauth.personIssuer) extra.person_issuer = aauth.personIssuer;
    if (aauth.personSubject) extra.person_subject = aauth.personSubject;
    if (aauth.scope) extra.scope = aauth.scope;
  }
  const identity: VerifiedAgent = {
    agent: label.agent as string,
    keyid: label.keyid as string,
    profile: label.profile ?? "web-bot-auth",
    alg: label.algorithm as string,
    label: label.label,
    created: label.params?.created,
    expires: label.params?.expires,
    extra: Object.keys(extra).length > 0 ? extra : undefined,
  };
  return { action: "forward", identity, verdict: label };
}

function reject(rejection: Rejection): Decision {
  return { action: "reject", rejection };
}
