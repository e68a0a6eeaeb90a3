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

/** What a Web Bot Auth signer should send: the `Accept-Signature` of every 401. */
export const WEB_BOT_AUTH_ACCEPT_SIGNATURE = buildAcceptSignature([
  {
    label: "sig1",
    components: ['"@method"', '"@authority"', '"@path"', '"signature-agent";key="sig1"'],
    params: { created: true, expires: true, tag: "web-bot-auth" },
  },
]);

/**
 * Decides a request. Unsigned requests on `none` routes pass as anonymous; a verified agent on a deny list is
 * refused on every route; routes that require a signature refuse unsigned, invalid and unverifiable requests,
 * and agents outside their allow lists.
 *
 * @example
 * ```ts
 * const decision = decide(verification, matchRule(policy, method, path), policy);
 * if (decision.action === "reject") return problemResponse(decision.rejection);
 * ```
 */
export function decide(verification: RequestVerification, rule: Rule, policy: Policy): Decision {
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
  const allowed = verified.find((l) => judgeAgent(policy, rule, l.agent as string) === "allowed");

  if (rule.require === "none") {
    return allowed ? forward(allowed) : { action: "forward" };
  }
  if (verification.fieldError) {
    const { reason, code, message } = verification.fieldError;
    return reject({ reason, detail: message, signatureError: code, acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE });
  }
  if (allowed) return forward(allowed);
  const first = verified[0];
  if (first) {
    return reject({
      reason: "agent_not_allowed",
      detail: `the agent ${first.agent} is not allowed on this route`,
      agent: first.agent,
      label: first.label,
    });
  }
  if (verification.labels.length === 0) {
    return reject({
      reason: "signature_required",
      detail: "this resource requires a request signed for Web Bot Auth",
      acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE,
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

function forward(label: LabelVerdict): Decision {
  const identity: VerifiedAgent = {
    agent: label.agent as string,
    keyid: label.keyid as string,
    profile: "web-bot-auth",
    alg: label.algorithm as string,
    label: label.label,
    created: label.params?.created,
    expires: label.params?.expires,
  };
  return { action: "forward", identity, verdict: label };
}

function reject(rejection: Rejection): Decision {
  return { action: "reject", rejection };
}
