/**
 * Following HTTP redirects by hand for the signing `fetch`, with the method and body rules fetch applies (WHATWG
 * Fetch, "HTTP-redirect fetch"), so that each request is signed for the target it is actually sent to and nothing
 * signed for one origin is sent to another unless the caller allows it.
 *
 * @module
 */

/** One request of a redirect chain, before it is signed. */
export interface RedirectHop {
  readonly url: string;
  readonly method: string;
  /** The caller's headers as they stand for this hop, without this signer's signature. */
  readonly headers: Headers;
  /** The body bytes, read once and sent again on a 307/308. */
  readonly body: Uint8Array | null;
}

/** Statuses fetch follows (Fetch, "redirect status"). */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers that describe a body: dropped with it when a redirect turns the request into a GET (Fetch §4.4). */
const BODY_HEADERS = [
  "content-encoding",
  "content-language",
  "content-location",
  "content-type",
  "content-length",
  "content-digest",
] as const;

/**
 * Headers never carried to another origin: credentials (as fetch and undici drop them) and every signature field,
 * since a signature was made for the origin it was first sent to.
 */
const CROSS_ORIGIN_DROPPED = [
  "authorization",
  "cookie",
  "proxy-authorization",
  "signature",
  "signature-input",
  "signature-agent",
  "signature-key",
  "content-digest",
] as const;

/**
 * Whether a status is one fetch follows.
 *
 * @example
 * ```ts
 * isRedirectStatus(307); // true
 * isRedirectStatus(304); // false
 * ```
 */
export function isRedirectStatus(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/**
 * Where a redirect leads: the `Location` resolved against the current URL.
 *
 * @returns the target, or `undefined` when there is no `Location` (the response is then final, as in fetch)
 * @throws {TypeError} for a `Location` that is not a URL or not http(s), as fetch fails then
 *
 * @example
 * ```ts
 * redirectTarget(response, "https://shop.example/a/b"); // URL for a `Location: ../c` → https://shop.example/c
 * ```
 */
export function redirectTarget(response: Response, currentUrl: string): URL | undefined {
  const location = response.headers.get("location");
  if (location === null) return undefined;
  let target: URL;
  try {
    target = new URL(location, currentUrl);
  } catch {
    throw new TypeError("the redirect's Location is not a URL");
  }
  if (target.protocol !== "https:" && target.protocol !== "http:") {
    throw new TypeError(`the redirect leads to a ${target.protocol} URL; only http and https are followed`);
  }
  return target;
}

/**
 * The next request of a chain: a 303 (for any method but GET and HEAD) and a 301 or 302 after a POST become a GET
 * without body or body headers; other redirects keep method and body. A hop to another origin loses the headers of
 * `CROSS_ORIGIN_DROPPED` (credentials and signature fields). The fragment of the new URL is not sent.
 *
 * @example
 * ```ts
 * const next = redirectedHop(hop, 303, new URL("https://shop.example/done"));
 * next.method; // "GET"
 * ```
 */
export function redirectedHop(hop: RedirectHop, status: number, target: URL): RedirectHop {
  const headers = new Headers(hop.headers);
  let { method, body } = hop;
  const toGet =
    (status === 303 && method !== "GET" && method !== "HEAD") ||
    ((status === 301 || status === 302) && method === "POST");
  if (toGet) {
    method = "GET";
    body = null;
    for (const name of BODY_HEADERS) headers.delete(name);
  }
  if (target.origin !== new URL(hop.url).origin) {
    for (const name of CROSS_ORIGIN_DROPPED) headers.delete(name);
  }
  const url = new URL(target);
  url.hash = "";
  return { url: url.href, method, headers, body };
}
