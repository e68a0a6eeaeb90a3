/**
 * A `fetch` that signs every request it sends, following redirects by hand so that each request is signed for
 * the target it goes to.
 *
 * @module
 */
import type { Jwk } from "../worker/rfc9421/index.ts";
import { isRedirectStatus, type RedirectHop, redirectedHop, redirectTarget } from "./redirects.ts";
import { type AgentKey, loadAgentKey, signRequest } from "./sign-request.ts";
import type { SigningProfile } from "./signing-profile.ts";

/** Default most redirects followed for one call, as fetch's limit. */
export const DEFAULT_MAX_REDIRECTS = 20;

/** Options of {@link createSignedFetch}. */
export interface SignedFetchOptions {
  /** The agent's private key. */
  readonly key: Jwk | AgentKey;
  /** The signing profile, e.g. `webBotAuthProfile({ agent: "https://agent.example" })`. */
  readonly profile: SigningProfile;
  /** The `fetch` to wrap. Default: the global `fetch`. It is always called with `redirect: "manual"`. */
  readonly fetch?: typeof fetch | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
  /**
   * Whether to follow a redirect to another origin (scheme, host or port), signing the request anew for it.
   * Default `false`: the redirect response is returned to the caller as it is and nothing is sent to the other
   * origin. `true` follows every one; a function decides per redirect. A followed hop to another origin never
   * carries `Authorization`, `Cookie`, `Proxy-Authorization` or any signature field made for the earlier target.
   */
  readonly crossOriginRedirects?: boolean | ((from: URL, to: URL) => boolean) | undefined;
  /** Most redirects followed for one call; the next one is a `TypeError`, as in fetch. Default 20. */
  readonly maxRedirects?: number | undefined;
}

/**
 * Wraps `fetch` so each request is signed (Workers, Node 22+ and browsers). The key is imported once.
 *
 * Redirects are followed by hand (`redirect: "manual"` underneath) under the request's own redirect mode:
 * `follow` (default) re-signs and follows redirects within the origin, with fetch's rules (a 303, and a 301 or 302
 * after a POST, become a body-less GET; 307 and 308 resend method and body), up to `maxRedirects`; a redirect to
 * another origin is returned unfollowed unless `crossOriginRedirects` allows it. `manual` returns any redirect
 * response; `error` rejects on one. The body is read once and resent as the same bytes. The response of a followed
 * chain is the last one (its `redirected` is `false`; its `url` is where it came from). In browsers, a manual
 * redirect is opaque (status 0), so it is returned, never followed.
 *
 * @throws {TypeError} (rejects) for a `Location` that is not an http(s) URL, too many redirects, or any redirect
 *   under `redirect: "error"`
 *
 * @example
 * ```ts
 * const signedFetch = createSignedFetch({
 *   key: privateJwk,
 *   profile: webBotAuthProfile({ agent: "https://agent.example" }),
 * });
 * const response = await signedFetch("https://shop.example/products", { headers: { accept: "application/json" } });
 * ```
 */
export function createSignedFetch(options: SignedFetchOptions): typeof fetch {
  const baseFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  if (!(Number.isSafeInteger(maxRedirects) && maxRedirects >= 0)) {
    throw new TypeError("createSignedFetch: maxRedirects must be a whole number >= 0");
  }
  const crossOrigin = options.crossOriginRedirects ?? false;
  const allowCrossOrigin = typeof crossOrigin === "function" ? crossOrigin : () => crossOrigin === true;
  let agentKey: Promise<AgentKey> | undefined;
  const keyOnce = () => {
    agentKey ??=
      "thumbprint" in options.key ? Promise.resolve(options.key as AgentKey) : loadAgentKey(options.key as Jwk);
    return agentKey;
  };
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const mode = request.redirect;
    let hop: RedirectHop = {
      url: request.url,
      method: request.method,
      headers: new Headers(request.headers),
      body: request.body === null ? null : new Uint8Array(await request.arrayBuffer()),
    };
    const key = await keyOnce();
    for (let followed = 0; ; followed++) {
      const unsigned = new Request(hop.url, {
        method: hop.method,
        headers: hop.headers,
        body: hop.body,
        redirect: "manual",
        signal: request.signal,
      });
      const signed = await signRequest(unsigned, { key, profile: options.profile, now: options.now });
      const response = await baseFetch(signed);
      if (mode === "manual" || !isRedirectStatus(response.status)) return response;
      let target: URL | undefined;
      try {
        target = redirectTarget(response, hop.url);
      } catch (error) {
        await response.body?.cancel();
        throw error;
      }
      if (target === undefined) return response;
      if (mode === "error") {
        await response.body?.cancel();
        throw new TypeError(`the response redirects (${response.status}) and the request's redirect mode is "error"`);
      }
      const from = new URL(hop.url);
      if (target.origin !== from.origin && !allowCrossOrigin(from, target)) return response;
      if (followed >= maxRedirects) {
        await response.body?.cancel();
        throw new TypeError(`more than ${maxRedirects} redirects`);
      }
      await response.body?.cancel();
      hop = redirectedHop(hop, response.status, target);
    }
  }) as typeof fetch;
}
