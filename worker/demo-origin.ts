/**
 * A stand-in origin for local development: it answers every request with a JSON description of what it
 * received, so `npm start` can show what Signet forwards without any real backend.
 *
 * @module
 */

import { Hono } from "hono";

/** The JSON body that the demo origin sends back. */
export interface EchoedRequest {
  /** The request method, e.g. `"POST"`. */
  readonly method: string;
  /** The full request URL as the origin saw it. */
  readonly url: string;
  /** Request headers with lower-case names; repeated headers are joined the way `Headers` joins them. */
  readonly headers: Record<string, string>;
  /** The request body decoded as UTF-8 text (`""` when there is none). */
  readonly body: string;
}

/**
 * Reads a request (consuming its body) and describes it as an {@link EchoedRequest}.
 *
 * @param request - The request to describe. Its body stream is read to the end.
 * @returns The method, URL, headers and body text of `request`.
 *
 * @example
 * ```ts
 * const echoed = await describeRequest(
 *   new Request("https://signet.example/a?b=1", { method: "PUT", body: "hi", headers: { "x-demo": "1" } }),
 * );
 * // echoed.method === "PUT", echoed.headers["x-demo"] === "1", echoed.body === "hi"
 * ```
 */
export async function describeRequest(request: Request): Promise<EchoedRequest> {
  return {
    method: request.method,
    url: request.url,
    headers: Object.fromEntries(request.headers),
    body: await request.text(),
  };
}

/**
 * The demo echo origin as a Hono app: any method, any path, answered with `200` and the
 * {@link EchoedRequest} JSON of the incoming request.
 *
 * @example
 * ```ts
 * const response = await demoOrigin.request("/hello?x=1", { method: "POST", body: "ping" });
 * const echoed: EchoedRequest = await response.json();
 * // echoed.url === "http://localhost/hello?x=1", echoed.body === "ping"
 * ```
 */
export const demoOrigin = new Hono().all("*", async (c) => c.json(await describeRequest(c.req.raw)));
