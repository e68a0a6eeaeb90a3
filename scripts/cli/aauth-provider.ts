/**
 * `signet aauth serve-provider`: a small AAuth agent provider on loopback for local testing. It makes an issuer
 * key for this run, serves the issuer's metadata (`/.well-known/aauth-agent.json`) and JWK Set (`/jwks.json`),
 * and mints an agent token (`typ: aa-agent+jwt`) bound to the agent's key (`cnf.jwk`), so that
 * `signet sign --profile aauth --scheme jwt --token FILE` can be tried end to end against a local Signet that
 * trusts loopback (`npm start -- --trust-loopback`).
 *
 * @module
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { publicJwkOf } from "../../agent/index.ts";
import { jwkThumbprint } from "../../worker/rfc9421/index.ts";
import { parseCommandLine, readJwkFile, wholeNumber } from "./arguments.ts";
import { CliError, EXIT_USAGE } from "./cli-error.ts";
import { listenOnLoopback, serveUntilSignal } from "./loopback-server.ts";
import { writePrivateFile } from "./private-file.ts";

/** Help text of `signet aauth serve-provider`. */
export const AAUTH_PROVIDER_HELP = `Usage: signet aauth serve-provider --key FILE [--out FILE] [--port N] [--name LOCAL] [--lifetime S] [--json]

A local AAuth agent provider for testing --scheme jwt: makes an issuer key for this run, serves its metadata at
http://127.0.0.1:PORT/.well-known/aauth-agent.json and its JWK Set at /jwks.json, and writes an agent token for
the agent key to FILE. It keeps serving (the verifier fetches the issuer's keys) until Ctrl-C. Loopback only: a
deployed Signet never trusts it (see npm start -- --trust-loopback).

  --key FILE     the agent's key (private or public JWK; only the public half goes into the token's cnf.jwk)
  --out FILE     where to write the agent token (default agent-token.jwt, mode 0600; replaced if it exists)
  --port N       the port to listen on (default 9001; 0 picks a free one)
  --name LOCAL   the local part of the agent identifier aauth:LOCAL@127.0.0.1:PORT (default local-agent)
  --lifetime S   the token's lifetime in seconds (default 3600)
  --json         print {"issuer": ..., "sub": ..., "tokenFile": ..., "expires": ...} as one JSON line
  -h, --help     this help

Then:  signet sign --key FILE --profile aauth --scheme jwt --token agent-token.jwt URL`;

/**
 * Runs `signet aauth serve-provider` until the process is stopped.
 *
 * @example
 * ```ts
 * await aauthServeProvider(["--key", "agent.jwk", "--out", "agent-token.jwt"], process.stdout);
 * ```
 */
export async function aauthServeProvider(argv: string[], out: NodeJS.WritableStream): Promise<undefined> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      key: { type: "string" },
      out: { type: "string" },
      port: { type: "string" },
      name: { type: "string" },
      lifetime: { type: "string" },
      json: { type: "boolean" },
    },
    "aauth serve-provider",
  );
  if (values.help) {
    out.write(`${AAUTH_PROVIDER_HELP}\n`);
    return;
  }
  if (positionals.length > 0) {
    throw new CliError(`aauth serve-provider: unexpected argument "${positionals[0]}"`, EXIT_USAGE);
  }
  if (values.key === undefined) throw new CliError("aauth serve-provider: --key FILE is required", EXIT_USAGE);
  const port = wholeNumber(values.port, "--port", 9001);
  if (port > 65_535) throw new CliError("aauth serve-provider: --port must be at most 65535", EXIT_USAGE);
  const lifetime = wholeNumber(values.lifetime, "--lifetime", 3600);
  if (lifetime === 0) throw new CliError("aauth serve-provider: --lifetime must be at least 1", EXIT_USAGE);
  const name = values.name ?? "local-agent";
  if (!/^[A-Za-z0-9._+-]{1,255}$/.test(name)) {
    throw new CliError("aauth serve-provider: --name must be 1-255 of A-Z a-z 0-9 . _ + -", EXIT_USAGE);
  }
  let agentJwk: ReturnType<typeof publicJwkOf>;
  try {
    agentJwk = publicJwkOf(await readJwkFile(values.key));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`aauth serve-provider: ${values.key} is not a usable key`);
  }

  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const issuerJwk = { ...(await crypto.subtle.exportKey("jwk", pair.publicKey)), alg: "Ed25519", use: "sig" };
  const kid = await jwkThumbprint(issuerJwk as Parameters<typeof jwkThumbprint>[0]);
  let issuer = "";
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const json = (body: unknown) =>
      res
        .writeHead(200, { "content-type": "application/json", "cache-control": "max-age=60" })
        .end(JSON.stringify(body));
    if (req.method !== "GET" && req.method !== "HEAD") res.writeHead(405).end();
    else if (path === "/.well-known/aauth-agent.json") json({ issuer, jwks_uri: `${issuer}/jwks.json` });
    else if (path === "/jwks.json") json({ keys: [{ ...issuerJwk, kid }] });
    else res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  await listenOnLoopback(server, port, "aauth serve-provider");
  const authority = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = `http://${authority}`;
  const sub = `aauth:${name}@${authority}`;
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ dwk: "aauth-agent.json", cnf: { jwk: agentJwk }, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: "Ed25519", typ: "aa-agent+jwt", kid })
    .setIssuer(issuer)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + lifetime)
    .sign(pair.privateKey);
  const tokenFile = values.out ?? "agent-token.jwt";
  await writePrivateFile(tokenFile, `${token}\n`, { force: true });
  if (values.json) {
    out.write(`${JSON.stringify({ issuer, sub, tokenFile, expires: now + lifetime })}\n`);
  } else {
    out.write(`agent provider (issuer): ${issuer}\n`);
    out.write(`agent token for ${sub} written to ${tokenFile} (valid ${lifetime} s)\n`);
    out.write("Ctrl-C stops it.\n");
  }
  await serveUntilSignal(server);
  return undefined;
}
