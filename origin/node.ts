/**
 * Verifying Signet's attestation on a Node.js `http` (or `https`, or HTTP/2 compatibility) server request.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { HttpRequestMessage } from "../worker/rfc9421/index.ts";
import { checkTarget } from "./lib/request-target.ts";
import {
  compileOptions,
  limitedBody,
  refuse,
  type SignetVerification,
  type SignetVerifyOptions,
  verifyAttestation,
} from "./lib/verify-attestation.ts";

/**
 * Options of {@link verifyNodeRequest}.
 *
 * @example
 * ```ts
 * const options: NodeVerifyOptions = { keys: signetPublicJwk, scheme: "https" };
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
 * lines kept, in order) and one validated target: exactly one `Host` line (or HTTP/2 `:authority`) that is a
 * valid authority (host and optional port, nothing else), and a request target `req.url` that is origin-form
 * path and query, or absolute-form naming the same scheme and authority. Anything else is refused as
 * `target_invalid`.
 *
 * When the attestation binds the body (the usual case), the body is read here, up to `maxBodyBytes`, and
 * handed back as `result.body`: use those bytes, since `req` has then been read. Route on `result.method` and
 * `result.url`, which are what was verified.
 *
 * @param req the incoming request
 * @param options Signet's public key(s), the freshness, body and replay policy, and `scheme`
 * @returns `{ ok: true, agent, method, url, body, ... }` or `{ ok: false, reason, message }`; it never throws
 *   for anything a client can send
 * @throws {TypeError} for unusable options, and whatever the replay cache throws
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { verifyNodeRequest } from "./origin/node.ts";
 *
 * const options = { keys: signetPublicJwks, scheme: "http" as const };
 * createServer(async (req, res) => {
 *   const result = await verifyNodeRequest(req, options);
 *   if (!result.ok) return res.writeHead(401, { "content-type": "text/plain" }).end(result.reason);
 *   res.end(result.agent ? `hello ${result.agent.agent} at ${new URL(result.url).pathname}` : "hello, anonymous");
 * }).listen(8080);
 * ```
 */
export async function verifyNodeRequest(req: IncomingMessage, options: NodeVerifyOptions): Promise<SignetVerification> {
  const compiled = compileOptions(options, "verifyNodeRequest");
  const scheme = options.scheme ?? "https";
  if (scheme !== "https" && scheme !== "http")
    throw new TypeError('verifyNodeRequest: scheme must be "https" or "http"');
  const raw = req.rawHeaders ?? [];
  const headers: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i] as string, raw[i + 1] as string]);
  const hosts = headers.filter(([name]) => name.toLowerCase() === "host" || name === ":authority");
  if (hosts.length > 1) return refuse("target_invalid", "the request has more than one Host");
  const target = checkTarget(scheme, hosts[0]?.[1], req.url ?? "");
  if (typeof target === "string") return refuse("target_invalid", target);
  const message: HttpRequestMessage = {
    kind: "request",
    method: req.method ?? "",
    targetUri: target.url,
    headers,
    body: limitedBody((limit) => readNodeBody(req, limit), compiled.maxBodyBytes),
  };
  return verifyAttestation(message, target, compiled);
}

/**
 * Reads the request body, or gives `undefined` as soon as it exceeds `limit` bytes: the rest is left unread
 * (the stream paused, not destroyed, so a refusal can still be answered).
 */
function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const stop = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    const onData = (chunk: Uint8Array | string) => {
      const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
      size += bytes.byteLength;
      if (size > limit) {
        stop();
        req.pause();
        resolve(undefined);
      } else chunks.push(bytes);
    };
    const onEnd = () => {
      stop();
      const body = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        body.set(chunk, at);
        at += chunk.byteLength;
      }
      resolve(body);
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
