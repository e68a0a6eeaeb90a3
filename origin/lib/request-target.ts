/**
 * The one validated source of what an origin helper verifies and hands the application: method, authority,
 * path and query, from the `Host` (or HTTP/2 `:authority`) and the request target, refused when they are
 * ambiguous.
 *
 * @module
 */

/**
 * A request target the helper checked: the target URI it verifies, and its parts.
 *
 * @example
 * ```ts
 * const target: CheckedTarget = { url: "https://o.example/a?b=1", authority: "o.example", path: "/a", query: "?b=1" };
 * ```
 */
export interface CheckedTarget {
  /** The absolute target URI: `scheme://authority/path?query`, exactly what the attestation is checked against. */
  readonly url: string;
  /** `host[:port]`, lower-cased host. */
  readonly authority: string;
  /** The path as received, never normalised. */
  readonly path: string;
  /** The query with its `?`, or `""`. */
  readonly query: string;
}

/** host (DNS name, IPv4 or bracketed IPv6) and an optional port: nothing else. */
const AUTHORITY =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
/** An origin-form target: `/`, then path and query characters only (no `#`, no whitespace, no controls). */
const ORIGIN_FORM = /^\/[!$&'()*+,;=:@/?%A-Za-z0-9._~-]*$/;

/**
 * Whether `value` is a valid authority: a host and an optional port, with no userinfo, path, query, fragment
 * or whitespace.
 *
 * @example
 * ```ts
 * isAuthority("origin.example:8443"); // true
 * isAuthority("origin.example/public/page?x=1#"); // false
 * ```
 */
export function isAuthority(value: string): boolean {
  return AUTHORITY.test(value);
}

/**
 * Checks a request target against its `Host` and gives the one target URI to verify.
 *
 * - `host` must be a valid authority ({@link isAuthority});
 * - an origin-form `target` must be `/` followed by path and query characters only;
 * - an absolute-form `target` must use `scheme` and name the same authority as `host`;
 * - the URL parser must give back exactly the path and query received (no dot segment or backslash it would
 *   rewrite), so that what is verified is what the application routes on.
 *
 * @returns the checked target, or a message saying what is wrong (never echoing the received bytes)
 *
 * @example
 * ```ts
 * checkTarget("http", "origin.example", "/a?b=1"); // { url: "http://origin.example/a?b=1", ... }
 * checkTarget("http", "origin.example/admin#", "/a"); // "the Host header is not a valid authority"
 * ```
 */
export function checkTarget(
  scheme: "http" | "https",
  host: string | undefined,
  target: string,
): CheckedTarget | string {
  if (host === undefined) return "the request has no Host";
  if (!isAuthority(host)) return "the Host header is not a valid authority (host and optional port only)";
  let pathAndQuery = target;
  if (!target.startsWith("/")) {
    const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(target);
    if (absolute === null) return "the request target is neither origin-form nor absolute-form";
    const [, targetScheme, targetAuthority, rest] = absolute as unknown as [string, string, string, string];
    if (targetScheme.toLowerCase() !== scheme) return "the absolute-form target's scheme is not the one configured";
    if (!isAuthority(targetAuthority) || sameAuthority(scheme, targetAuthority, host) === false) {
      return "the absolute-form target's authority differs from the Host header";
    }
    pathAndQuery = rest === "" ? "/" : rest;
  }
  if (!ORIGIN_FORM.test(pathAndQuery)) return "the request target has characters outside path and query";
  const url = URL.parse(`${scheme}://${host}${pathAndQuery}`);
  if (url === null || url.username !== "" || url.password !== "" || url.hash !== "") {
    return "the request target is not a valid URL";
  }
  if (url.href.slice(url.origin.length) !== pathAndQuery) {
    return "the request target is not in the form the URL parser keeps (dot segments, say)";
  }
  const query = url.href.includes("?") ? url.href.slice(url.href.indexOf("?")) : "";
  return { url: url.href, authority: url.host, path: url.pathname, query };
}

/**
 * Whether two valid authorities name the same host and port under `scheme` (case and default port aside).
 *
 * @example
 * ```ts
 * sameAuthority("https", "Origin.example:443", "origin.example"); // true
 * ```
 */
export function sameAuthority(scheme: string, a: string, b: string): boolean {
  const left = URL.parse(`${scheme}://${a}/`);
  const right = URL.parse(`${scheme}://${b}/`);
  return left !== null && right !== null && left.host === right.host;
}
