/**
 * Verifying, at the origin, that a Fetch `Request` came through Signet.
 *
 * @module
 */
import type { HttpRequestMessage } from "../worker/rfc9421/index.ts";
import { checkTarget, isAuthority, sameAuthority } from "./lib/request-target.ts";
import {
  compileOptions,
  limitedBody,
  readStreamLimited,
  refuse,
  type SignetVerification,
  type SignetVerifyOptions,
  verifyAttestation,
} from "./lib/verify-attestation.ts";

export type { ReplayCache } from "./lib/memory-replay-cache.ts";
export type {
  SignetRefused,
  SignetVerification,
  SignetVerified,
  SignetVerifyOptions,
} from "./lib/verify-attestation.ts";

/**
 * Verifies Signet's attestation of a request: a `signet-attestation` signature by one of `keys` that covers the
 * request's method, authority, path and query, its `Content-Type` and `Authorization` when present, its body
 * (by `content-digest`, checked here against the body, unless Signet marked it `Signet-Body: unbound`) and its
 * `Verified-Agent` header when there is one; is not expired, not older than `maxAge`; and whose nonce the replay
 * cache (in memory by default) has not seen.
 *
 * The target is `request.url`; a `Host` header, when the request has one, must be a valid authority naming
 * the same host and port (a runtime that builds `request.url` from a hostile `Host` is caught here). The body
 * is read from a clone, up to `maxBodyBytes`; the request itself stays readable. Behind a proxy that rewrites
 * the host or path between Signet and this code, the attestation no longer matches.
 *
 * Options are checked on the first call with a given options object and the keys imported once for it, so
 * create the options once and reuse them (the default replay cache belongs to the options object too).
 *
 * @param request the request as the origin received it
 * @param options Signet's public key(s) and the freshness, body and replay policy
 * @returns `{ ok: true, agent, method, url, body, ... }`, with `agent` `null` for a request Signet passed on
 *   anonymously and `body` `null` for a body Signet did not bind, or `{ ok: false, reason, message }`. It never
 *   throws for anything a client can send.
 * @throws {TypeError} for unusable options (including a key that cannot be imported or is an RFC 9421 test
 *   key), and whatever the replay cache throws
 *
 * @example
 * ```ts
 * import { verifySignetRequest } from "./origin/index.ts";
 *
 * const options = { keys: JSON.parse(env.SIGNET_PUBLIC_JWK) };
 * export default {
 *   async fetch(request: Request) {
 *     const result = await verifySignetRequest(request, options);
 *     if (!result.ok) return new Response(result.reason, { status: 401 });
 *     return new Response(result.agent ? `hello ${result.agent.agent}` : "hello, anonymous");
 *   },
 * };
 * ```
 */
export async function verifySignetRequest(request: Request, options: SignetVerifyOptions): Promise<SignetVerification> {
  const compiled = compileOptions(options, "verifySignetRequest");
  const url = URL.parse(request.url);
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) {
    return refuse("target_invalid", "the request URL is not an http(s) URL");
  }
  if (url.username !== "" || url.password !== "" || url.hash !== "" || request.url.includes("#")) {
    return refuse("target_invalid", "the request URL carries userinfo or a fragment");
  }
  const scheme = url.protocol === "https:" ? "https" : "http";
  const target = checkTarget(scheme, url.host, request.url.slice(url.origin.length) || "/");
  if (typeof target === "string") return refuse("target_invalid", target);
  const host = request.headers.get("host");
  if (host !== null && (!isAuthority(host) || !sameAuthority(scheme, host, url.host))) {
    return refuse("target_invalid", "the Host header is not a valid authority naming the request URL's host");
  }
  const message: HttpRequestMessage = {
    kind: "request",
    method: request.method,
    targetUri: target.url,
    headers: request.headers,
    body: limitedBody((limit) => readStreamLimited(request.clone().body, limit), compiled.maxBodyBytes),
  };
  return verifyAttestation(message, target, compiled);
}
