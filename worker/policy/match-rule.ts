/**
 * Picking the rule for a request: the first whose path and method match; `none` when no rule does.
 *
 * @module
 */
import type { Policy, Rule } from "./policy.ts";

const FALLBACK: Rule = Object.freeze({ path: "*", require: "none" });

/**
 * The rule that governs a request.
 *
 * @example
 * ```ts
 * matchRule(policy, "GET", "/api/items").require; // "verified-agent"
 * ```
 */
export function matchRule(policy: Policy, method: string, path: string): Rule {
  for (const rule of policy.rules) {
    if (rule.methods !== undefined && !rule.methods.includes(method)) continue;
    if (pathMatches(rule.path, path)) return rule;
  }
  return FALLBACK;
}

function pathMatches(pattern: string, path: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return path.startsWith(pattern.slice(0, -1));
  return path === pattern;
}

/** How an agent identity fares against the allow and deny lists that apply to a rule. */
export type ListVerdict = "allowed" | "not-allowed" | "denied";

/**
 * Judges a signer, by every name it goes by (its key set URL; for AAuth also agent id, Agent Provider, key
 * pseudonym), against the policy's and the rule's lists. Deny wins; when any allow list is set, only listed
 * signers are allowed.
 *
 * @example
 * ```ts
 * judgeAgent(policy, rule, ["https://agent.example/.well-known/http-message-signatures-directory"]); // "allowed"
 * ```
 */
export function judgeAgent(policy: Policy, rule: Rule, identities: string | readonly string[]): ListVerdict {
  const names = typeof identities === "string" ? [identities] : identities;
  const listed = (list: readonly string[]) => names.some((name) => list.includes(name));
  if (listed(policy.deny) || listed(rule.deny ?? [])) return "denied";
  const allow = [...policy.allow, ...(rule.allow ?? [])];
  if (allow.length > 0 && !listed(allow)) return "not-allowed";
  return "allowed";
}
