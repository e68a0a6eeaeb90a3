/**
 * Vitest global setup for the `worker` project: a real HTTP server on 127.0.0.1 that serves AAuth metadata
 * documents (`/.well-known/aauth-agent.json`, `aauth-person.json`, `aauth-access.json`) and JWK Sets for the
 * AAuth tests inside workerd. Every test registers the exact responses it needs under a path of its own, so
 * issuers are `http://127.0.0.1:<port>/i/<uuid>` (admitted only with `unsafeAllowLoopback`).
 *
 * - `POST /register` with `{ path, responses: [{ status?, headers?, body?, delayMs? }] }`: the n-th request for
 *   `path` gets the n-th response (the last one repeats). `body` is sent as is if a string, else as JSON.
 * - `GET /count?path=…`: how many requests `path` received.
 * - anything else: the registered response, or 404.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TestProject } from "vitest/node";
import { startLocalServer } from "../support/local-server.ts";

/** One registered response. */
export interface RegisteredResponse {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  readonly delayMs?: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The AAuth metadata server of `test/worker/aauth-server.ts`: its origin. */
    aauthServer: { readonly url: string };
  }
}

/**
 * Starts the server and provides its URL as `aauthServer`.
 *
 * @example
 * ```ts
 * const { url } = inject("aauthServer");
 * ```
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const routes = new Map<string, RegisteredResponse[]>();
  const counts = new Map<string, number>();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://aauth.test");
    if (request.method === "POST" && url.pathname === "/register") {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const { path, responses } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        path: string;
        responses: RegisteredResponse[];
      };
      routes.set(path, responses);
      response.writeHead(204).end();
      return;
    }
    if (url.pathname === "/count") {
      const path = url.searchParams.get("path") ?? "";
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(counts.get(path) ?? 0));
      return;
    }
    const nth = (counts.get(url.pathname) ?? 0) + 1;
    counts.set(url.pathname, nth);
    const responses = routes.get(url.pathname);
    const registered = responses?.[Math.min(nth, responses.length) - 1];
    if (registered === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not registered");
      return;
    }
    if (registered.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, registered.delayMs));
    const body = typeof registered.body === "string" ? registered.body : JSON.stringify(registered.body ?? {});
    response
      .writeHead(registered.status ?? 200, {
        "content-type": "application/json",
        "cache-control": "max-age=3600",
        ...registered.headers,
      })
      .end(body);
  }

  const server = await startLocalServer(handle);
  project.provide("aauthServer", { url: server.url });
  return () => server.close();
}
