/**
 * Forwarding of accepted requests to the origin selected by `ORIGIN_URL`.
 *
 * @module
 */

import { demoOrigin } from "./demo-origin.ts";

/** The `ORIGIN_URL` value that selects the built-in echo origin from `demo-origin.ts`. */
export const DEMO_ECHO_ORIGIN = "demo:echo";

/**
 * Parses `ORIGIN_URL` as a bare origin and moves `url` onto it: scheme, host and port are replaced, while
 * path, query and fragment stay as they were.
 *
 * @param url - The URL of the incoming request.
 * @param origin - An `http:` or `https:` origin such as `"https://origin.example:8443"`, with no credentials,
 *   path (other than `/`), query or fragment.
 * @returns A new URL; `url` itself is not modified.
 * @throws {TypeError} If `origin` is not a URL of that form. This is a configuration error, so Signet fails
 *   closed rather than guessing.
 *
 * @example
 * ```ts
 * rewriteOrigin("https://signet.example/a/b?c=1", "http://127.0.0.1:9000").href;
 * // "http://127.0.0.1:9000/a/b?c=1"
 * ```
 */
export function rewriteOrigin(url: string | URL, origin: string): URL {
  const base = URL.parse(origin);
  if (
    base === null ||
    (base.protocol !== "http:" && base.protocol !== "https:") ||
    base.username !== "" ||
    base.password !== "" ||
    base.pathname !== "/" ||
    base.search !== "" ||
    base.hash !== ""
  ) {
    throw new TypeError(`ORIGIN_URL must be an http(s) origin like "https://origin.example:8443", got ${origin}`);
  }
  const target = new URL(url);
  target.protocol = base.protocol;
  target.hostname = base.hostname;
  target.port = base.port;
  return target;
}

/**
 * The request as it will reach the origin: for an `ORIGIN_URL` origin, the same request moved onto that origin
 * (query kept); otherwise the request itself. With `path`, the path is replaced by it: the canonical path the
 * route rule was matched on, so the origin routes on exactly that (see `worker/policy/canonical-path.ts`).
 * Rewrite before attesting, since the attestation covers `@authority` and `@path`.
 *
 * @throws {TypeError} If `originUrl` is neither empty, {@link DEMO_ECHO_ORIGIN} nor a valid origin.
 *
 * @example
 * ```ts
 * const outgoing = toOrigin(request, "https://origin.example"); // https://origin.example/same/path?same=query
 * toOrigin(new Request("https://signet.example//%61gents/x"), "", "/agents/x").url; // "https://signet.example/agents/x"
 * ```
 */
export function toOrigin(request: Request, originUrl: string, path?: string): Request {
  const sameOrigin = originUrl === "" || originUrl === DEMO_ECHO_ORIGIN;
  const target = sameOrigin ? new URL(request.url) : rewriteOrigin(request.url, originUrl);
  if (path !== undefined) target.pathname = path;
  if (sameOrigin && target.href === request.url) return request;
  return new Request(target, request);
}

/**
 * Sends a request (already moved with {@link toOrigin}) to the origin that `originUrl` selects and returns the
 * origin's response unchanged.
 *
 * - `""`: route mode, `fetch(request)` to the origin behind the zone's hostname.
 * - {@link DEMO_ECHO_ORIGIN}: the built-in echo origin, without any network access.
 * - anything else: the origin the request was moved to.
 *
 * Method, headers and body are passed on as they are; the body is streamed, not buffered. Redirects from the
 * origin are returned to the client, never followed (`redirect: "manual"`).
 *
 * @example
 * ```ts
 * return sendToOrigin(toOrigin(request, env.ORIGIN_URL), env.ORIGIN_URL);
 * ```
 */
export async function sendToOrigin(request: Request, originUrl: string): Promise<Response> {
  if (originUrl === DEMO_ECHO_ORIGIN) return demoOrigin.fetch(request);
  return fetch(request, { redirect: "manual" });
}

/**
 * {@link toOrigin} then {@link sendToOrigin}: forwards a request unchanged.
 *
 * @example
 * ```ts
 * return forward(request, env.ORIGIN_URL);
 * ```
 */
export async function forward(request: Request, originUrl: string): Promise<Response> {
  return sendToOrigin(toOrigin(request, originUrl), originUrl);
}
