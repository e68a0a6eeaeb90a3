/**
 * Routing a request as received: its canonical path (`canonical-path.ts`) and the one rule that governs it,
 * whatever the origin behind Signet makes of case, of `;` path parameters and of trailing dots.
 *
 * Origins differ: most routers are case-sensitive, some are not; Tomcat and Spring drop `;params` from each
 * segment before routing (so `/public/..;/admin` is `/admin` there), most others keep `;` as an ordinary
 * character. Signet forwards the canonical path with its case and parameters as they were, and matches rules on
 * every reading an origin may give it: exact and ASCII case-folded, with and without `;` parameters, with and
 * without trailing dots and spaces on segments (Windows, IIS), and a method in lower case (`patch`) as itself and
 * upper-cased. When the readings pick different rules, no single
 * rule can speak for the request and it is refused (400 `path_ambiguous`): an origin must never run a handler
 * that a rule would have protected.
 *
 * @module
 */
import {
  type CanonicalPathOptions,
  canonicalPath,
  PATH_REJECTION_DETAILS,
  type PathRejection,
} from "./canonical-path.ts";
import { matchRule } from "./match-rule.ts";
import type { Policy, Rule } from "./policy.ts";

/**
 * Why a request path cannot be routed: no canonical form, or readings that disagree on the rule.
 *
 * @example
 * ```ts
 * const route = routeRequest(policy, "GET", "/AGENTS/x");
 * if ("reject" in route) route.reject satisfies RouteRejection; // "ambiguous_rule"
 * ```
 */
export type RouteRejection = PathRejection | "ambiguous_rule";

/**
 * The route of a request: the canonical path to match and forward, and its rule; or why there is none.
 *
 * @example
 * ```ts
 * const route: Route = routeRequest(policy, "GET", "/%61gents/x");
 * if ("rule" in route) forwardTo(route.path); // "/agents/x", under the rule for /agents/*
 * ```
 */
export type Route =
  | { readonly path: string; readonly rule: Rule }
  | { readonly reject: RouteRejection; readonly detail: string };

/**
 * The canonical path of `rawPath` and the rule that governs it under every reading.
 *
 * @param rawPath - The path as received (`URL.pathname`).
 *
 * @example
 * ```ts
 * const policy = parsePolicy('{"rules":[{"path":"/agents/*","require":"verified-agent"}]}');
 * routeRequest(policy, "GET", "//%61gents/x"); // { path: "/agents/x", rule: { path: "/agents/*", ... } }
 * routeRequest(policy, "GET", "/AGENTS/x"); // { reject: "ambiguous_rule", detail: "..." }
 * ```
 */
export function routeRequest(policy: Policy, method: string, rawPath: string): Route {
  const options: CanonicalPathOptions = { escapedSlashes: policy.paths.escapedSlashes };
  const canonical = canonicalPath(rawPath, options);
  if ("reject" in canonical) return { reject: canonical.reject, detail: PATH_REJECTION_DETAILS[canonical.reject] };
  const path = canonical.path;
  const rule = matchRule(policy, method, path);
  const readings = [path];
  for (const read of [withoutPathParameters, withoutTrailingDotsAndSpaces]) {
    for (const reading of [...readings]) {
      const changed = read(reading);
      if (changed === reading) continue;
      const again = canonicalPath(changed, options);
      if ("reject" in again) return ambiguous();
      readings.push(again.path);
    }
  }
  // Fetch upper-cases only the six standard methods; an origin may read `patch` as PATCH or as another method.
  const methods = method === method.toUpperCase() ? [method] : [method, method.toUpperCase()];
  for (const m of methods) {
    for (const reading of readings) {
      if (matchRule(policy, m, reading) !== rule) return ambiguous();
      if (matchRule(policy, m, reading, { foldCase: true }) !== rule) return ambiguous();
    }
  }
  return { path, rule };
}

/** Each segment cut at its first `;`, as Tomcat and Spring read path parameters. */
function withoutPathParameters(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      const at = segment.indexOf(";");
      return at === -1 ? segment : segment.slice(0, at);
    })
    .join("/");
}

/** Each segment without trailing dots and spaces, as Windows file systems (and so IIS) read `/admin.` as `/admin`. */
function withoutTrailingDotsAndSpaces(path: string): string {
  return path
    .split("/")
    .map((segment) => segment.replace(/(?:\.|%20)+$/, ""))
    .join("/");
}

function ambiguous(): Route {
  return {
    reject: "ambiguous_rule",
    detail:
      "the request falls under different rules depending on how a server reads its letter case, ;parameters or trailing dots",
  };
}
