/**
 * The two halves of every local server the CLI runs (`directory serve`, `aauth serve-provider`): listen on
 * 127.0.0.1 only, and serve until Ctrl-C or SIGTERM.
 *
 * @module
 */
import type { Server } from "node:http";
import { CliError } from "./cli-error.ts";

/**
 * Listens on `127.0.0.1:port` (0 picks a free port); a port that cannot be had is a {@link CliError} naming the
 * command.
 *
 * @example
 * ```ts
 * await listenOnLoopback(server, 9000, "directory serve");
 * ```
 */
export function listenOnLoopback(server: Server, port: number, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new CliError(`${command}: cannot listen on 127.0.0.1:${port}: ${err.code ?? "error"}`)),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

/**
 * Resolves once SIGINT or SIGTERM has closed `server` and every connection it held.
 *
 * @example
 * ```ts
 * await serveUntilSignal(server);
 * ```
 */
export function serveUntilSignal(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
