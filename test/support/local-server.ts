/**
 * A real HTTP server on 127.0.0.1 for the test suites' global setups (origin, key directories, AAuth issuers):
 * it answers through an async handler, turns a handler failure into a 500 (or a dropped connection once headers
 * are out), and on close ends every open connection, so slow scenarios cannot hold the test run open.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A started server. */
export interface LocalServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Ends all connections and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a server on a free loopback port.
 *
 * @example
 * ```ts
 * const server = await startLocalServer(async (request, response) => response.end("ok"));
 * project.provide("someServer", server.url);
 * return () => server.close();
 * ```
 */
export async function startLocalServer(
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
      else response.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of sockets) socket.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
