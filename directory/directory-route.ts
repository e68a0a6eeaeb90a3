/**
 * A Hono route that serves a signed key directory from any Worker.
 *
 * @module
 */
import { Hono } from "hono";
import {
  buildDirectory,
  cappedMaxAge,
  DIRECTORY_PATH,
  type DirectoryKey,
  type DirectoryResponse,
} from "./build-directory.ts";

/** Default largest number of authorities whose built directory is kept. */
export const DEFAULT_MAX_AUTHORITIES = 16;

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
  /**
   * The authorities (`agent.example`, `agent.example:8443`) the directory is served for; others get 404. Default:
   * any authority it is asked on.
   */
  readonly authorities?: readonly string[] | undefined;
  /**
   * How many authorities' built directories are kept (least recently used dropped first). Default
   * {@link DEFAULT_MAX_AUTHORITIES}.
   */
  readonly maxAuthorities?: number | undefined;
  /** Current time in Unix seconds. Default the system clock. */
  readonly now?: (() => number) | undefined;
}

/**
 * A Hono app answering `GET`/`HEAD /.well-known/http-message-signatures-directory` with the signed directory for
 * the authority it was asked on. The signed response is built once per authority and rebuilt when a quarter of
 * its signature validity is left, and at the second a listed key's `exp` comes (or a pre-published key's `nbf`
 * lets it sign), so an expired key is never served; `max-age` is cut at serving time so no cache keeps the
 * response past that second either. At most `maxAuthorities` built responses are kept.
 *
 * @throws {TypeError} at construction for options that cannot work
 *
 * @example
 * ```ts
 * const app = new Hono();
 * app.route("/", directoryRoute({ keys: [{ jwk: privateJwk }], authorities: ["agent.example"] }));
 * export default app;
 * ```
 */
export function directoryRoute(options: DirectoryRouteOptions): Hono {
  const maxAge = options.maxAge ?? 3600;
  const validity = options.signatureValidity ?? 86_400;
  const maxAuthorities = options.maxAuthorities ?? DEFAULT_MAX_AUTHORITIES;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  if (!(Number.isSafeInteger(maxAge) && maxAge >= 0)) throw new TypeError("directoryRoute: maxAge must be >= 0");
  if (!(Number.isSafeInteger(validity) && validity > maxAge)) {
    throw new TypeError("directoryRoute: signatureValidity must be a whole number of seconds longer than maxAge");
  }
  if (!(Number.isSafeInteger(maxAuthorities) && maxAuthorities > 0)) {
    throw new TypeError("directoryRoute: maxAuthorities must be a whole number > 0");
  }
  if (Array.isArray(options.keys) && options.keys.length === 0) throw new TypeError("directoryRoute: no keys");
  const allowed =
    options.authorities === undefined ? undefined : new Set(options.authorities.map((a) => a.toLowerCase()));
  if (allowed !== undefined && allowed.size === 0) throw new TypeError("directoryRoute: authorities is empty");
  /** Built responses per authority, least recently used first. */
  const built = new Map<string, { response: DirectoryResponse; renewAt: number }>();

  const app = new Hono();
  app.on(["GET", "HEAD"], DIRECTORY_PATH, async (c) => {
    const at = now();
    const authority = new URL(c.req.url).host.toLowerCase();
    if (allowed !== undefined && !allowed.has(authority)) return c.notFound();
    let cached = built.get(authority);
    if (cached !== undefined) built.delete(authority);
    if (cached === undefined || cached.renewAt <= at) {
      const keys = typeof options.keys === "function" ? await options.keys(c.env) : options.keys;
      const response = await buildDirectory({ keys, authority, now: at, maxAge, expires: at + validity });
      const renewAt = Math.min(at + Math.floor((validity * 3) / 4), response.nextChange ?? Number.POSITIVE_INFINITY);
      cached = { response, renewAt };
    }
    built.set(authority, cached);
    while (built.size > maxAuthorities) built.delete(built.keys().next().value as string);
    const headers = new Headers(cached.response.headers as Array<[string, string]>);
    headers.set("Cache-Control", `max-age=${cappedMaxAge(maxAge, cached.response.validUntil, at)}`);
    headers.set("Access-Control-Allow-Origin", "*");
    return new Response(c.req.method === "HEAD" ? null : cached.response.body, { headers });
  });
  return app;
}
