/**
 * `signet directory build`: a signed key directory as a static file, and the headers to serve it with.
 *
 * @module
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildDirectory, DIRECTORY_PATH, type DirectoryKey } from "../../directory/index.ts";
import { parseCommandLine, readJwkFile, wholeNumber } from "./arguments.ts";
import { CliError, EXIT_USAGE } from "./cli-error.ts";

/** Help text of `signet directory build`. */
export const DIRECTORY_BUILD_HELP = `Usage: signet directory build --key FILE[@EXP] [--key ...] --authority HOST [options]

Builds the agent's key directory for static hosting: writes DIR/.well-known/http-message-signatures-directory
and prints the response headers the host must send with it (Content-Type, Cache-Control, Content-Digest and the
directory's signatures). Signatures cover the authority, so build once per host name.

  --key FILE[@EXP]   a private JWK (signs and is listed) or public JWK (listed only); @EXP: Unix seconds after
                     which the key is dropped (rotation: keep the old key until then). Repeatable.
  --authority HOST   the host[:port] agents' verifiers fetch the directory from
  --out DIR          output folder (default: public)
  --max-age S        Cache-Control max-age (default 3600)
  --validity S       how long the signatures are valid (default 604800, one week: rebuild before then)
  --json             print {"file": ..., "headers": [[name, value], ...]} instead
  -h, --help         this help`;

/**
 * Runs `signet directory build`.
 *
 * @example
 * ```ts
 * await directoryBuild(["--key", "agent.jwk", "--authority", "agent.example"], process.stdout);
 * ```
 */
export async function directoryBuild(argv: string[], out: NodeJS.WritableStream): Promise<undefined> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      key: { type: "string", multiple: true },
      authority: { type: "string" },
      out: { type: "string" },
      "max-age": { type: "string" },
      validity: { type: "string" },
      json: { type: "boolean" },
    },
    "directory build",
  );
  if (values.help) {
    out.write(`${DIRECTORY_BUILD_HELP}\n`);
    return;
  }
  if (positionals.length > 0) {
    throw new CliError(`directory build: unexpected argument "${positionals[0]}"`, EXIT_USAGE);
  }
  if (!values.key?.length) throw new CliError("directory build: at least one --key FILE is required", EXIT_USAGE);
  if (values.authority === undefined) throw new CliError("directory build: --authority HOST is required", EXIT_USAGE);
  const authority = authorityOf(values.authority);
  const keys: DirectoryKey[] = [];
  for (const spec of values.key) {
    const match = /^(.*?)(?:@(\d+))?$/.exec(spec) as RegExpExecArray;
    keys.push({
      jwk: await readJwkFile(match[1] as string),
      exp: match[2] === undefined ? undefined : Number(match[2]),
    });
  }
  const now = Math.floor(Date.now() / 1000);
  let built: Awaited<ReturnType<typeof buildDirectory>>;
  try {
    built = await buildDirectory({
      keys,
      authority,
      now,
      maxAge: wholeNumber(values["max-age"], "--max-age", 3600),
      expires: now + wholeNumber(values.validity, "--validity", 604_800),
    });
  } catch (err) {
    throw new CliError(`directory build: ${(err as Error).message}`);
  }
  const file = join(values.out ?? "public", DIRECTORY_PATH);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, built.body);
  if (values.json) {
    out.write(`${JSON.stringify({ file, headers: built.headers, validUntil: built.validUntil })}\n`);
    return;
  }
  out.write(`wrote ${file} (${built.keyids.length} key${built.keyids.length === 1 ? "" : "s"})\n`);
  out.write(`serve it at https://${authority}${DIRECTORY_PATH} with these response headers:\n\n`);
  for (const [name, value] of built.headers) out.write(`${name}: ${value}\n`);
  if (built.validUntil !== undefined) {
    // The signatures (and so the file) stop vouching at the first key exp or the end of --validity.
    const until = new Date(built.validUntil * 1000).toISOString();
    out.write(`\nrebuild and republish before ${until} (${built.validUntil}): the signatures expire then\n`);
  }
}

/**
 * The `host[:port]` that `--authority` names: given as such, or as an https origin (`https://agent.example`),
 * whose host is taken. Anything else (a path, a query, another scheme, userinfo) is a usage error.
 */
function authorityOf(value: string): string {
  const text = value.trim();
  if (/^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(
      `directory build: --authority must be a host[:port] or an https origin, got "${value}"`,
      EXIT_USAGE,
    );
  }
  if (
    url.protocol !== "https:" ||
    url.username !== "" ||
    url.password !== "" ||
    url.pathname !== "/" ||
    url.search !== "" ||
    url.hash !== "" ||
    !/^https:\/\/[^/?#]+\/?$/i.test(text)
  ) {
    throw new CliError(
      `directory build: --authority must be a host[:port] or an https origin, got "${value}"`,
      EXIT_USAGE,
    );
  }
  return url.host;
}
