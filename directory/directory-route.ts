/**
 * A Hono route that serves a signed key directory from any Worker.
 *
 * @module
 */
import { Hono } from "hono";
import { buildDirectory, DIRECTORY_PATH, type DirectoryKey, type DirectoryResponse } from "./build-directory.ts";

/** Options of {@link directoryRoute}. */
export interface DirectoryRouteOptions {
  /** The keys, or a function returning them (e.g. from a secret binding). */
  readonly keys:
    | readonly DirectoryKey[]
    | ((env: unknown) => readonly DirectoryKey[] | Promise<readonly DirectoryKey[]>);
  /** `Cache-Control: max-age` of the response. Default 3600. */
  readonly maxAge?: number | undefined;
  /** How long each response signature is valid, in seconds. Default one day. */
  readonly signatureValidity?: number | undefined;
}

/**
 * A Hono app answering `GET`/`HEAD /.well-known/http-message-signatures-directory` with the signed directory for
 * the authority it was asked on. The signed response is built once per authority and rebuilt when a quarter of
 * its signature validity is left. Mount it with `app.route("/", directoryRoute(options))`.
 *
 * @throws {TypeError} at construction for options that cannot work
 *
 * @example
 * ```ts
 * const app = new Hono();
 * app.route("/", directoryRoute({ keys: [{ jwk: privateJwk }] }));
 * export default app;
 * ```
 */
export function directoryRoute(options: DirectoryRouteOptions): Hono {
  const maxAge = options.maxAge ?? 3600;
  const validity = options.signatureValidity ?? 86_400;
  if (!(Number.isSafeInteger(maxAge) && maxAge >= 0)) throw new TypeError("directoryRoute: maxAge must be >= 0");
  if (!(Number.isSafeInteger(validity) && validity > maxAge)) {
    throw new TypeError("directoryRoute: signatureValidity must be a whole number of seconds longer than maxAge");
  }
  if (Array.isArray(options.keys) && options.keys.length === 0) throw new TypeError("directoryRoute: no keys");
  const built = new Map<string, { response: DirectoryResponse; renewAt: number }>();

  const app = new Hono();
  app.on(["GET", "HEAD"], DIRECTORY_PATH, async (c) => {
    const now = Math.floor(Date.now() / 1000);
    const authority = new URL(c.req.url).host.toLowerCase();
    let cached = built.get(authority);
    if (cached === undefined || cached.renewAt <= now) {
      const keys = typeof options.keys === "function" ? await options.keys(c.env) : options.keys;
      const response = await buildDirectory({ keys, authority, now, maxAge, expires: now + validity });
      cached = { response, renewAt: now + Math.floor((validity * 3) / 4) };
      built.set(authority, cached);
    }
    const headers = new Headers(cached.response.headers as Array<[string, string]>);
    headers.set("Access-Control-Allow-Origin", "*");
    return new Response(c.req.method === "HEAD" ? null : cached.response.body, { headers });
  });
  return app;
}
