/**
 * Verifying, at the origin, that a Fetch `Request` came through Signet.
 *
 * @module
 */
import type { HttpRequestMessage } from "../worker/rfc9421/index.ts";
import {
  compileOptions,
  type SignetVerification,
  type SignetVerifyOptions,
  verifyAttestation,
} from "./lib/verify-attestation.ts";

export type {
  ReplayCache,
  SignetRefused,
  SignetVerification,
  SignetVerified,
  SignetVerifyOptions,
} from "./lib/verify-attestation.ts";

/**
 * Verifies Signet's attestation of a request: a `signet-attestation` signature by one of `keys` that covers the
 * request's method, authority, path and query (and its `Verified-Agent` header, when there is one), is not
 * expired, not older than `maxAge`, and whose nonce the `replayCache` has not seen.
 *
 * The request is judged by its URL and headers only; the body is never read. Behind a proxy that rewrites the
 * host or path between Signet and this code, the attestation no longer matches.
 *
 * Options are checked on the first call with a given options object and the keys imported once for it, so
 * create the options once and reuse them.
 *
 * @param request the request as the origin received it
 * @param options Signet's public key(s) and the freshness and replay policy
 * @returns `{ ok: true, agent, keyid, ... }`, with `agent` `null` for a request Signet passed on anonymously,
 *   or `{ ok: false, reason, message }`. It never throws for anything a client can send.
 * @throws {TypeError} for unusable options (including a key that cannot be imported), and whatever the
 *   replay cache throws
 *
 * @example
 * ```ts
 * import { verifySignetRequest } from "./origin/index.ts";
 *
 * const options = { keys: JSON.parse(env.SIGNET_PUBLIC_JWK), replayCache };
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
  // Method, URL and headers only: nothing body-related is covered, so the body is left alone.
  const message: HttpRequestMessage = {
    kind: "request",
    method: request.method,
    targetUri: request.url,
    headers: request.headers,
  };
  return verifyAttestation(message, compiled);
}
