/**
 * `signet directory serve`: a key directory on loopback for local testing, built from the agent's key and signed
 * afresh for every request, so its signatures never go stale while it runs.
 *
 * @module
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { buildDirectory, DIRECTORY_PATH, type DirectoryKey } from "../../directory/index.ts";
import { parseCommandLine, readJwkFile, wholeNumber } from "./arguments.ts";
import { CliError, EXIT_USAGE } from "./cli-error.ts";
import { listenOnLoopback, serveUntilSignal } from "./loopback-server.ts";

/** Help text of `signet directory serve`. */
export const DIRECTORY_SERVE_HELP = `Usage: signet directory serve --key FILE [--key ...] [--port N] [--json]

Serves the agent's signed key directory at http://127.0.0.1:PORT${DIRECTORY_PATH} for local testing and
prints the agent URL to sign with. Each response is built and signed when it is asked for. Ctrl-C stops it.
It listens on 127.0.0.1 only; a deployed Signet never fetches from loopback (see npm start -- --trust-loopback).

  --key FILE   a private JWK (signs and is listed) or public JWK (listed only). Repeatable.
  --port N     the port to listen on (default 9000; 0 picks a free one)
  --json       print {"agent": URL, "keyids": [...]} as one JSON line once listening
  -h, --help   this help

Then:  signet sign --key FILE --agent http://127.0.0.1:PORT --allow-loopback-agent URL`;

/**
 * Runs `signet directory serve` until the process is stopped.
 *
 * @example
 * ```ts
 * await directoryServe(["--key", "agent.jwk", "--port", "9000"], process.stdout);
 * ```
 */
export async function directoryServe(argv: string[], out: NodeJS.WritableStream): Promise<undefined> {
  const { values, positionals } = parseCommandLine(
    argv,
    { key: { type: "string", multiple: true }, port: { type: "string" }, json: { type: "boolean" } },
    "directory serve",
  );
  if (values.help) {
    out.write(`${DIRECTORY_SERVE_HELP}\n`);
    return;
  }
  if (positionals.length > 0) {
    throw new CliError(`directory serve: unexpected argument "${positionals[0]}"`, EXIT_USAGE);
  }
  if (!values.key?.length) throw new CliError("directory serve: at least one --key FILE is required", EXIT_USAGE);
  const port = wholeNumber(values.port, "--port", 9000);
  if (port > 65_535) throw new CliError("directory serve: --port must be at most 65535", EXIT_USAGE);
  const keys: DirectoryKey[] = [];
  for (const file of values.key) keys.push({ jwk: await readJwkFile(file) });
  // Build once up front, so a bad key is reported before anything listens.
  let keyids: readonly string[];
  try {
    keyids = (await buildDirectory({ keys, authority: "127.0.0.1" })).keyids;
  } catch (err) {
    throw new CliError(`directory serve: ${(err as Error).message}`);
  }
  const server = createServer((req, res) => {
    const authority = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path !== DIRECTORY_PATH || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    buildDirectory({ keys, authority, maxAge: 60 }).then(
      (built) => {
        res.writeHead(200, built.headers.flat());
        res.end(req.method === "HEAD" ? undefined : built.body);
      },
      () => res.writeHead(500, { "content-type": "text/plain" }).end("cannot build the directory\n"),
    );
  });
  await listenOnLoopback(server, port, "directory serve");
  const agent = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (values.json) out.write(`${JSON.stringify({ agent, keyids })}\n`);
  else {
    out.write(`serving ${keyids.length} key${keyids.length === 1 ? "" : "s"} at ${agent}${DIRECTORY_PATH}\n`);
    out.write(`agent URL: ${agent}\n`);
    out.write("Ctrl-C stops it.\n");
  }
  await serveUntilSignal(server);
  return undefined;
}
