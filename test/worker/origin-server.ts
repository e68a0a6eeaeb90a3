/**
 * Vitest global setup for the `worker` project: a real HTTP origin on 127.0.0.1, started in Node before the
 * workerd tests and stopped after them. Tests read its URL with `inject("localOriginUrl")`.
 *
 * Besides echoing, it counts what reached it and can be slow (for the fault tests in `test/worker/hostile/`):
 *
 * - `GET /__count?path=<path and query>`: how many requests for exactly that path and query arrived (the counting
 *   routes themselves are not counted);
 * - `GET /__clock`: Node's wall clock in milliseconds (workerd's clock does not advance during computation, so a
 *   test that times CPU work reads this before and after);
 * - a query parameter `origin-delay=<ms>` on any other request delays the response headers that long.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { TestProject } from "vitest/node";
import { startLocalServer } from "../support/local-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The origin of the local HTTP server, e.g. `"http://127.0.0.1:41234"`. */
    localOriginUrl: string;
  }
}

/** Requests seen per path and query. */
const counts = new Map<string, number>();

/** Answers `/redirect` with a 302 and everything else with the request echoed as JSON. */
async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = new URL(request.url ?? "/", "http://origin.invalid");
  if (target.pathname === "/__count") {
    const count = counts.get(target.searchParams.get("path") ?? "") ?? 0;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ count }));
    return;
  }
  if (target.pathname === "/__clock") {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ now: Date.now() }));
    return;
  }
  counts.set(request.url ?? "", (counts.get(request.url ?? "") ?? 0) + 1);
  const delay = Number(target.searchParams.get("origin-delay") ?? 0);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(delay, 60_000)));
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  if (request.url === "/redirect") {
    response.writeHead(302, { location: "/elsewhere" }).end();
    return;
  }
  const echoed = {
    server: "local-origin",
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: Buffer.concat(chunks).toString("utf8"),
  };
  response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(echoed));
}

/**
 * Starts the local origin and provides its URL to the tests.
 *
 * @param project - The Vitest project being set up.
 * @returns A teardown function that closes the server.
 *
 * @example
 * ```ts
 * // vitest.config.ts
 * test: { globalSetup: ["test/worker/origin-server.ts"] }
 * // in a test
 * const origin = inject("localOriginUrl");
 * ```
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startLocalServer(handle);
  project.provide("localOriginUrl", server.url);
  return () => server.close();
}
