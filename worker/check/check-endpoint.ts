/**
 * The check endpoint: an agent builder sends a signed request to `check.path` (default `/.signet/check`) with the
 * origin-form target it signed for in `Signet-Check-Target`, and gets Signet's verdict on that request as JSON,
 * label by label, the way `signet explain --json` gives it. The request is judged as if it had been sent to the
 * target on this host (same method, headers and body; `@path` and `@query` from the target), by the same routing,
 * verification, decision and lifetime gate as the edge, and then:
 *
 * - it never reaches the origin, and
 * - the signature is not spent: the replay store is not consulted, so the same signed request can still be sent
 *   for real (the verdict says `replay: "not checked"`).
 *
 * Why a separate path with the target in a header, rather than the real URL with a `Signet-Check: ?1` flag: a
 * Signet without the endpoint (or with it off) would forward such a request to the origin for real and spend
 * the signature, which is exactly what a check must never do. A request to the reserved path is never forwarded:
 * off, it is 404 `check_disabled`. The target header is not covered by the signature and needs not be: it only
 * says which signed target to rebuild, and a wrong one makes the signature fail, never pass.
 *
 * Off by default; rate-limited per isolate and per client IP (`check.ratePerMinute`, a table of at most
 * `check.maxClients` clients a minute). Every answer is Signet's own words and codes: no header value, body or
 * upstream text is echoed back.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AAuthKeyCache } from "../aauth/index.ts";
import type { KeySource } from "../discovery/key-source.ts";
import type { SignetVariables } from "../middleware.ts";
import type { Policy } from "../policy/policy.ts";
import { routeRequest } from "../policy/route.ts";
import { problemResponse, type Rejection } from "../problem-response.ts";
import { REJECTION_REASONS, type RejectionReason } from "../reasons.ts";
import { lastAcceptableSecond } from "../replay/lifetime.ts";
import { requestFromFetch } from "../rfc9421/index.ts";
import { type Decision, decide } from "../verification/decide.ts";
import { type RequestVerification, verifyRequest } from "../verification/verify-request.ts";
import { createRateLimiter, type RateLimiter } from "./rate-limit.ts";

/** The request header that names the origin-form target (path and query) the check's signature was made for. */
export const CHECK_TARGET_HEADER = "signet-check-target";

/** Longest `Signet-Check-Target` accepted, in characters. */
const MAX_TARGET_LENGTH = 2048;

/** What the check needs from the Worker's configuration. */
export interface CheckContext {
  readonly policy: Policy;
  readonly keys: KeySource;
  readonly aauthKeys?: AAuthKeyCache | undefined;
  /** Current time in Unix milliseconds. Default `Date.now()`. */
  readonly nowMs?: number | undefined;
}

/** One limiter per policy object (so a policy change starts fresh counts), per isolate. */
const limiters = new WeakMap<Policy, RateLimiter>();

/**
 * Whether a request is for the check endpoint of this policy (its path is reserved even while the check is off).
 *
 * @example
 * ```ts
 * if (isCheckRequest(new URL(request.url).pathname, policy)) return answerCheck(request, { policy, keys });
 * ```
 */
export function isCheckRequest(pathname: string, policy: Policy): boolean {
  return pathname === policy.check.path;
}

/**
 * Answers a request to the check endpoint: 404 `check_disabled` while off, 429 `check_rate_limited`, 400
 * `check_target_invalid`, else 200 with the verdict as JSON.
 *
 * @example
 * ```ts
 * const response = await answerCheck(request, { policy, keys, aauthKeys });
 * const verdict = await response.json(); // { action: "refuse", status: 401, reason: "signature_required", … }
 * ```
 */
export async function answerCheck(
  request: Request,
  context: CheckContext,
  onRefusal: (rejection: Rejection) => void = () => {},
): Promise<Response> {
  const { policy } = context;
  const refuse = (rejection: Rejection) => {
    onRefusal(rejection);
    return problemResponse(rejection);
  };
  if (!policy.check.enabled) {
    return refuse({ reason: "check_disabled", detail: "this site does not answer checks" });
  }
  const nowMs = context.nowMs ?? Date.now();
  let limiter = limiters.get(policy);
  if (limiter === undefined) {
    limiter = createRateLimiter({ limit: policy.check.ratePerMinute, maxClients: policy.check.maxClients });
    limiters.set(policy, limiter);
  }
  const taken = limiter.take(request.headers.get("cf-connecting-ip") ?? "unknown", nowMs);
  if (!taken.allowed) {
    const response = refuse({
      reason: "check_rate_limited",
      detail: `at most ${policy.check.ratePerMinute} checks a minute per client`,
    });
    response.headers.set("retry-after", String(taken.retryAfter));
    return response;
  }
  const url = new URL(request.url);
  const target = targetOf(request.headers.get(CHECK_TARGET_HEADER), url, policy);
  if (typeof target === "string") return refuse({ reason: "check_target_invalid", detail: target });

  const judged = new Request(target, request);
  const verdict = await judge(judged, context, Math.floor(nowMs / 1000));
  return new Response(`${JSON.stringify(verdict)}\n`, {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** The target URL on this host, or why the header is unusable (in Signet's words, never the value). */
function targetOf(value: string | null, url: URL, policy: Policy): URL | string {
  const need = `${CHECK_TARGET_HEADER} must name the path (and query) the request was signed for, such as /agents/hello`;
  if (value === null || value === "") return `no ${CHECK_TARGET_HEADER}: ${need}`;
  if (value.length > MAX_TARGET_LENGTH || !value.startsWith("/") || value.startsWith("//") || value.includes("#")) {
    return need;
  }
  if (!/^[\x21-\x7e]+$/.test(value)) return need;
  let target: URL;
  try {
    target = new URL(value, url.origin);
  } catch {
    return need;
  }
  if (target.origin !== url.origin) return need;
  if (target.pathname === policy.check.path) return `${need} (not the check endpoint itself)`;
  return target;
}

/** The verdict as `signet explain --json` gives its decision line, with each label. */
async function judge(request: Request, context: CheckContext, now: number) {
  const { policy, keys, aauthKeys } = context;
  const url = new URL(request.url);
  const base = {
    check: true as const,
    method: request.method,
    target: `${url.pathname}${url.search}`,
    mode: policy.mode,
    replay: "not checked: a check never spends the signature; the same request can still be sent for real",
    forwarded: false as const,
  };
  const route = routeRequest(policy, request.method, url.pathname);
  if ("reject" in route) {
    return {
      ...base,
      rule: null,
      requires: null,
      ...refusal({ reason: "path_ambiguous", detail: route.detail }),
      labels: [],
    };
  }
  const { rule } = route;
  const verification = await verifyRequest(requestFromFetch(request), { policy, keys, aauthKeys, now: () => now });
  const credentials = ["authorization", ...(rule.credentialHeaders ?? [])].filter((n) => request.headers.has(n));
  const hasBody = request.body !== null && request.headers.get("content-length")?.trim() !== "0";
  let decision: Decision = decide(verification, rule, policy, { credentials, method: request.method, hasBody });
  if (decision.action === "forward" && decision.verdict !== undefined && decision.identity !== undefined) {
    // The edge's lifetime gate, as in the replay check (which the check itself skips).
    const last = lastAcceptableSecond(decision.verdict, policy);
    if (last === undefined || now > last) {
      decision = {
        action: "reject",
        rejection: {
          reason: "signature_expired",
          detail: `signature "${decision.verdict.label}" is past the last second this policy accepts it; sign the request again`,
          label: decision.verdict.label,
        },
      };
    }
  }
  const common = { ...base, rule: rule.path, requires: rule.require, labels: labelsOf(verification) };
  if (decision.action === "forward") {
    return {
      ...common,
      action: "forward" as const,
      status: 200,
      agent: decision.identity?.agent ?? null,
      keyid: decision.identity?.keyid ?? null,
      profile: decision.identity?.profile ?? null,
    };
  }
  return { ...common, ...refusal(decision.rejection) };
}

function refusal(rejection: Rejection) {
  return {
    action: "refuse" as const,
    status: REJECTION_REASONS[rejection.reason].status,
    reason: rejection.reason,
    detail: rejection.detail,
    signature_error: rejection.signatureError ?? null,
    discovery_error: rejection.discoveryError ?? null,
    label: rejection.label ?? null,
    fix: FIXES[rejection.reason] ?? REJECTION_REASONS[rejection.reason].title,
  };
}

/** Each label's verdict: codes and Signet's sentences; identity fields only once verified. */
function labelsOf(verification: RequestVerification) {
  const labels = verification.labels.map((label) => {
    const verified = label.outcome === "verified";
    return {
      label: label.label,
      profile: label.profile ?? "web-bot-auth",
      outcome: label.outcome,
      reason: label.code ?? null,
      reason_source: label.codeSource ?? null,
      message: verified ? null : (label.message ?? null),
      agent: verified ? (label.agent ?? null) : null,
      keyid: verified ? (label.keyid ?? null) : null,
      algorithm: label.algorithm ?? null,
      required_input: label.requiredInput ?? null,
    };
  });
  if (verification.fieldError !== undefined) {
    const { code, message } = verification.fieldError;
    return [...labels, { label: null, outcome: "invalid", reason: code, message }];
  }
  return labels;
}

/** What an agent builder should change, per refusal that a change on the agent's side can fix. */
const FIXES: Partial<Record<RejectionReason, string>> = {
  malformed_signature_fields: "send Signature-Input and Signature as RFC 8941 Dictionaries with matching labels",
  malformed_signature_agent: 'send Signature-Agent as a Dictionary member per label (sig1="https://agent.example")',
  path_ambiguous: "request the path in its canonical form (no escaped slashes, dot segments or double encoding)",
  signature_required: "sign the request (signet sign)",
  signature_invalid:
    "sign exactly what you send: the method, the authority of this host, the target's path and every covered header, after they are final",
  signature_expired: "sign again just before sending; keep expires within the site's maximum validity",
  signature_from_future: "set the signer's clock right: created is ahead of Signet's clock",
  agent_unverified:
    "serve the key directory (or AAuth issuer metadata and JWKS) over https from a public host, listing the key whose thumbprint is the keyid",
  insufficient_coverage: "cover the components the detail names",
  bearer_without_proof: "sign the request with an identified agent's key and cover the credential header",
  agent_not_allowed: "this route admits only the agents the site lists; ask the site owner",
  agent_denied: "the site denies this agent",
  insufficient_scope: "get an auth token that grants the scopes the detail names",
};

/**
 * Hono middleware for the Worker: answers requests to the check path from the configuration it is given. A
 * refusal of the check itself is set as `signetRejection`, so the decision log counts it as a refusal.
 *
 * @example
 * ```ts
 * app.use("*", checkMiddleware<App>((c) => configurationFor(c.env)));
 * ```
 */
export function checkMiddleware<E extends { Variables: SignetVariables }>(
  contextOf: (c: Context<E>) => Promise<CheckContext | { error: string }>,
): MiddlewareHandler<E> {
  return async (c, next) => {
    const context = await contextOf(c);
    if ("error" in context || !isCheckRequest(new URL(c.req.url).pathname, context.policy)) {
      await next();
      return undefined;
    }
    return answerCheck(c.req.raw, context, (rejection) => c.set("signetRejection", rejection));
  };
}
