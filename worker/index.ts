/**
 * Entry point of the Signet Worker.
 *
 * @module
 */

import { Hono } from "hono";
import type { Env } from "./env.ts";
import { forward } from "./forward.ts";

/**
 * The Signet Worker: a Hono app whose default export is the Worker's `fetch` handler. Every request is
 * forwarded to the origin selected by `ORIGIN_URL` (see {@link forward}).
 *
 * @example
 * ```ts
 * import app from "./index.ts";
 *
 * const response = await app.fetch(new Request("https://signet.example/hello"), { ORIGIN_URL: "demo:echo" });
 * ```
 */
const app = new Hono<{ Bindings: Env }>();

app.all("*", (c) => forward(c.req.raw, c.env.ORIGIN_URL));

export default app;
