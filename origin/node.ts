/**
 * Verifying Signet's attestation on a Node.js `http` (or `https`, or HTTP/2 compatibility) server request.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { HttpRequestMessage } from "../worker/rfc9421/index.ts";
import {
  compileOptions,
  type SignetVerification,
  type SignetVerifyOptions,
  verifyAttestation,
} from "./lib/verify-attestation.ts";

/**
 * Options of {@link verifyNodeRequest}.
 *
 * @example
 * ```ts
 * const options: NodeVerifyOptions = { keys: signetPublicJwk, scheme: "https", replayCache };
 * ```
 */
export interface NodeVerifyOptions extends SignetVerifyOptions {
  /**
   * The scheme Signet forwarded over, for the target URI (only the default port depends on it). Default
   * `https`; use `http` when Signet talks to this server over plain HTTP, or when a TLS terminator in front
   * passes the original `Host` on.
   */
  readonly scheme?: "https" | "http" | undefined;
}

/**
 * Verifies Signet's attestation of a Node.js server request, as {@link verifySignetRequest} does for a Fetch
 * `Request`. The message is built from what arrived on the wire: `req.method`, `req.rawHeaders` (repeated field
 * lines kept, in order) and the target URI from `scheme`, the `Host` header (`:authority` for HTTP/2) and the
 * raw request target `req.url`, not normalised. The body is not read.
 *
 * @param req the incoming request
 * @param options Signet's public key(s), the freshness and replay policy, and `scheme`
 * @returns `{ ok: true, agent, keyid, ... }` or `{ ok: false, reason, message }`; it never throws for anything
 *   a client can send
 * @throws {TypeError} for unusable options, and whatever the replay cache throws
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { verifyNodeRequest } from "./origin/index.ts";
 *
 * const options = { keys: signetPublicJwks, scheme: "http" as const, replayCache };
 * createServer(async (req, res) => {
 *   const result = await verifyNodeRequest(req, options);
 *   if (!result.ok) return res.writeHead(401, { "content-type": "text/plain" }).end(result.reason);
 *   res.end(result.agent ? `hello ${result.agent.agent}` : "hello, anonymous");
 * }).listen(8080);
 * ```
 */
export async function verifyNodeRequest(req: IncomingMessage, options: NodeVerifyOptions): Promise<SignetVerification> {
  const compiled = compileOptions(options, "verifyNodeRequest");
  const scheme = options.scheme ?? "https";
  if (scheme !== "https" && scheme !== "http")
    throw new TypeError('verifyNodeRequest: scheme must be "https" or "http"');
  return verifyAttestation(nodeRequestMessage(req, scheme), compiled);
}

function nodeRequestMessage(req: IncomingMessage, scheme: string): HttpRequestMessage {
  const raw = req.rawHeaders ?? [];
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i] as string, raw[i + 1] as string]);
  const target = req.url ?? "";
  return {
    kind: "request",
    method: req.method ?? "",
    targetUri: /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target) ? target : `${scheme}://${authority(headers)}${target}`,
    headers,
  };
}

/** The first `Host` line, as Node itself reads it, or HTTP/2's `:authority`. */
function authority(headers: ReadonlyArray<readonly [string, string]>): string {
  const host =
    headers.find(([name]) => name.toLowerCase() === "host") ?? headers.find(([name]) => name === ":authority");
  return host === undefined ? "" : host[1].trim();
}
