/**
 * Picking the rule for a request: the first whose path and method match; `none` when no rule does.
 *
 * @module
 */
import type { Policy, Rule } from "./policy.ts";

const FALLBACK: Rule = Object.freeze({ path: "*", require: "none" });

/**
 * The rule that governs a request, for a path already in canonical form (see `canonical-path.ts`; `route.ts`
 * picks the rule for a path as received). A trailing slash does not change the match: `/admin` covers `/admin/`,
 * and `/agents/*` covers `/agents` itself. With `foldCase`, paths and rule paths are compared in ASCII lower case.
 * A rule whose `methods` name GET also covers HEAD.
 *
 * @example
 * ```ts
 * matchRule(policy, "GET", "/api/items").require; // "verified-agent"
 * matchRule(policy, "GET", "/API/items", { foldCase: true }).require; // "verified-agent"
 * ```
 */
export function matchRule(
  policy: Policy,
  method: string,
  path: string,
  options: { readonly foldCase?: boolean } = {},
): Rule {
  const fold = options.foldCase === true;
  const subject = trimTrailingSlash(fold ? path.toLowerCase() : path);
  for (const rule of policy.rules) {
    if (rule.methods !== undefined && !methodMatches(rule.methods, method)) continue;
    if (pathMatches(fold ? rule.path.toLowerCase() : rule.path, subject)) return rule;
  }
  return FALLBACK;
}

/** A rule for GET also governs HEAD, which origins answer with their GET handlers (RFC 9110 §9.3.2). */
const methodMatches = (methods: readonly string[], method: string) =>
  methods.includes(method) || (method === "HEAD" && methods.includes("GET"));

const trimTrailingSlash = (path: string) => (path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path);

/** `pattern` as stored by `parse-policy.ts` (canonical, exact paths without a trailing slash). */
function pathMatches(pattern: string, subject: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) {
    const prefix = pattern.slice(0, -1);
    if (prefix.endsWith("/") && subject === prefix.slice(0, -1)) return true;
    return subject.startsWith(prefix);
  }
  return subject === pattern;
}

/** How an agent identity fares against the allow and deny lists that apply to a rule. */
export type ListVerdict = "allowed" | "not-allowed" | "denied";

/**
 * Judges a signer, by every name it goes by (its key set URL; for AAuth also agent id, Agent Provider, key
 * pseudonym), against the policy's and the rule's lists. Deny wins; when any allow list is set, only listed
 * signers are allowed. A list entry that is a bare origin (`https://bot.example`, stored as the origin and as its
 * directory URL) matches every http(s) name on that origin: its directory and any JWK Set URL on it.
 *
 * @example
 * ```ts
 * judgeAgent(policy, rule, ["https://agent.example/.well-known/http-message-signatures-directory"]); // "allowed"
 * ```
 */
export function judgeAgent(policy: Policy, rule: Rule, identities: string | readonly string[]): ListVerdict {
  const names = typeof identities === "string" ? [identities] : identities;
  const origins = names.map(originOfName).filter((origin): origin is string => origin !== undefined);
  // An entry that names a bare origin covers every key set on that origin: whoever runs the origin can publish
  // keys under any path of it, so a list entry that covered one URL only would be dodged with another.
  const listed = (list: readonly string[]) =>
    names.some((name) => list.includes(name)) || origins.some((origin) => list.includes(origin));
  if (listed(policy.deny) || listed(rule.deny ?? [])) return "denied";
  const allow = [...policy.allow, ...(rule.allow ?? [])];
  if (allow.length > 0 && !listed(allow)) return "not-allowed";
  return "allowed";
}

/** The origin of an http(s) URL name (a key set URL); `undefined` for other names (`aauth:`, `urn:jkt:`). */
function originOfName(name: string): string | undefined {
  if (!name.startsWith("https://") && !name.startsWith("http://")) return undefined;
  const url = URL.parse(name);
  return url === null ? undefined : url.origin;
}
