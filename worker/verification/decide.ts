/**
 * From a request's verification and the rule that governs it to what Signet does: forward (with the verified
 * identity, if any) or refuse with a reason.
 *
 * @module
 */
import type { VerifiedAgent } from "../identity/verified-agent.ts";
import { judgeAgent } from "../policy/match-rule.ts";
import type { Policy, Rule } from "../policy/policy.ts";
import type { Rejection } from "../problem-response.ts";
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

/** Facts about the request that the verification does not carry. */
export interface DecideContext {
  /** Lower-case names of the bearer credential headers the request presents (`authorization`, API keys). */
  readonly credentials?: readonly string[] | undefined;
}

/**
 * Decides a request. Unsigned requests on `none` routes pass as anonymous; a verified agent on a deny list is
 * refused on every route; a bearer credential on a `bearer: "require-proof"` route needs a verified signature
 * covering it; routes that require a signature refuse unsigned, invalid and unverifiable requests, signatures
 * without a nonce where one is required, and agents outside their allow lists.
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
  const verified = verification.labels.filter((l) => l.outcome === "verified" && l.agent !== undefined);
  const denied = verified.find((l) => judgeAgent(policy, rule, l.agent as string) === "denied");
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
    usable = usable.filter((l) => credentials.every((name) => l.components.includes(`"${name}"`)));
    if (usable.length === 0) {
      return reject({
        reason: "bearer_without_proof",
        detail:
          `the request presents ${credentials.join(", ")} without a verified signature that covers it: ` +
          "sign the request and cover the credential header(s), as Accept-Signature says",
        acceptSignature: acceptSignature(credentials, nonceRequired),
      });
    }
  }
  const bound = credentials.includes("authorization");
  const allowed = usable.find((l) => judgeAgent(policy, rule, l.agent as string) === "allowed");

  if (rule.require === "none") {
    return allowed ? forward(allowed, bound) : { action: "forward" };
  }
  if (verification.fieldError) {
    const { reason, code, message } = verification.fieldError;
    return reject({ reason, detail: message, signatureError: code, acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE });
  }
  if (allowed) return forward(allowed, bound);
  const first = usable[0];
  if (first) {
    return reject({
      reason: "agent_not_allowed",
      detail: `the agent ${first.agent} is not allowed on this route`,
      agent: first.agent,
      label: first.label,
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
      detail: "this resource requires a request signed for Web Bot Auth",
      acceptSignature: acceptSignature([], nonceRequired),
    });
  }
  // Prefer a signature that failed for want of keys (the signer may retry) over one that is plainly invalid.
  const failed =
    verification.labels.find((l) => l.outcome === "unverified") ?? (verification.labels[0] as LabelVerdict);
  return reject(rejectionFor(failed));
}

function rejectionFor(label: LabelVerdict): Rejection {
  const common = { label: label.label, acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE };
  const detail = label.message ?? `signature "${label.label}" did not verify`;
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
  const identity: VerifiedAgent = {
    agent: label.agent as string,
    keyid: label.keyid as string,
    profile: "web-bot-auth",
    alg: label.algorithm as string,
    label: label.label,
    created: label.params?.created,
    expires: label.params?.expires,
    // A bearer token is bound to the agent's key only when the verified signature covers it.
    extra: authorizationPresented && label.coversAuthorization ? { bearer: "bound" } : undefined,
  };
  return { action: "forward", identity, verdict: label };
}

function reject(rejection: Rejection): Decision {
  return { action: "reject", rejection };
}
