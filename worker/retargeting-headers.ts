/**
 * Request headers that make common origin frameworks and proxies act on another method, path or host than the
 * request line says: method overrides (`X-HTTP-Method-Override`), URL overrides (`X-Original-URL`,
 * `X-Rewrite-URL`) and host overrides (`X-Forwarded-Host`, `Forwarded`). Signet routes, verifies and attests the
 * request line; an origin that honours one of these would act on something Signet never matched a rule on nor
 * attested, so Signet refuses them at the edge and the origin helpers refuse the method and URL overrides.
 *
 * No dependencies: the Worker's middleware and the origin helpers both read these lists.
 *
 * @module
 */

/**
 * Headers that replace the method or the path and query at the origin (Express/Connect `method-override`,
 * Symfony, Laravel, Rails, IIS URL Rewrite, nginx `X-Original-URI`, Traefik `X-Forwarded-Uri`, Spring
 * `X-Forwarded-Prefix`). Lower case. Nothing between Signet and an origin legitimately adds one, so both the
 * Worker and the origin helpers refuse a request that carries any of them.
 *
 * @example
 * ```ts
 * METHOD_OR_PATH_OVERRIDE_HEADERS.includes("x-http-method-override"); // true
 * ```
 */
export const METHOD_OR_PATH_OVERRIDE_HEADERS: readonly string[] = Object.freeze([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-method",
  "x-original-url",
  "x-original-uri",
  "x-rewrite-url",
  "x-forwarded-uri",
  "x-forwarded-path",
  "x-forwarded-prefix",
  "x-envoy-original-path",
]);

/**
 * Headers that replace the host, port or scheme an origin builds its URLs from (`X-Forwarded-Host`, `X-Host`,
 * RFC 7239 `Forwarded`, ...). Lower case. A client never needs to send them to Signet, which refuses them; an
 * origin's own reverse proxy may add them after Signet, so the origin helpers leave them alone (the authority
 * they hand the application is the attested one).
 *
 * `X-Forwarded-For` and `X-Forwarded-Proto` are not here: Cloudflare sets them on every request.
 *
 * @example
 * ```ts
 * HOST_OVERRIDE_HEADERS.includes("forwarded"); // true
 * ```
 */
export const HOST_OVERRIDE_HEADERS: readonly string[] = Object.freeze([
  "forwarded",
  "x-forwarded-host",
  "x-forwarded-server",
  "x-forwarded-port",
  "x-forwarded-scheme",
  "x-host",
  "x-original-host",
]);

/**
 * The first header of `names` that `has` reports present, or `undefined`. The name returned is Signet's own
 * spelling from the list, never the client's bytes.
 *
 * @param has whether the request carries a header (case-insensitive), e.g. `(name) => request.headers.has(name)`
 * @param names the list to look for (default: both lists)
 *
 * @example
 * ```ts
 * const found = retargetingHeaderIn((name) => request.headers.has(name));
 * if (found !== undefined) return refuse(`the request carries ${found}`);
 * ```
 */
export function retargetingHeaderIn(
  has: (name: string) => boolean,
  names: readonly string[] = [...METHOD_OR_PATH_OVERRIDE_HEADERS, ...HOST_OVERRIDE_HEADERS],
): string | undefined {
  return names.find((name) => has(name));
}
