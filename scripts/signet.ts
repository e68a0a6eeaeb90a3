#!/usr/bin/env node
/**
 * The `signet` command line: one entry, subcommands, `--help` for each. Errors are one line on stderr and a
 * non-zero exit, never a stack trace.
 *
 * @module
 */
import { AAUTH_PROVIDER_HELP, aauthServeProvider } from "./cli/aauth-provider.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./cli/cli-error.ts";
import { DIRECTORY_BUILD_HELP, directoryBuild } from "./cli/directory-build.ts";
import { DIRECTORY_SERVE_HELP, directoryServe } from "./cli/directory-serve.ts";
import { EXPLAIN_HELP, explain } from "./cli/explain.ts";
import { KEYGEN_HELP, keygen } from "./cli/keygen.ts";
import { POLICY_CHECK_HELP, POLICY_SCHEMA_HELP, policyCheck, policySchema } from "./cli/policy.ts";
import { SIGN_HELP, sign } from "./cli/sign.ts";
import { STATS_HELP, stats } from "./cli/stats.ts";
import { version } from "./cli/version.ts";

const HELP = `Usage: signet <command> [options]

Commands:
  keygen              make an agent key (private JWK file, public JWK, keyid)
  sign                sign a request as an agent and send it (curl-like), or print it with --dry-run
  directory build     build a signed key directory for static hosting
  policy check        validate a policy file with the Worker's own parser (exit 0 valid, 1 not)
  policy schema       print the policy's JSON Schema (for editor completion)
  directory serve     serve the agent's signed key directory on loopback, for local testing
  aauth serve-provider
                      a local AAuth agent provider: serves its keys on loopback, mints an agent token for --scheme jwt
  explain             explain why the edge accepts or refuses a captured request, label by label
  stats               print the site-owner console's summary (traffic, agents, refusals) from its JSON endpoint

Options:
  --version           print the version and exit
  --help              print this help and exit

Run "signet <command> --help" for a command's options.

Exit status (every command):
  0   the command did its work (sign: a response came back; with --fail, a status below 400;
      sign --check: the edge would accept the request)
  1   the command could not do its work or the answer was a refusal (a file could not be read, the request
      failed or timed out, sign --fail got 400 or above, explain judged the request refused)
  2   bad command line (unknown command or option, missing or malformed argument)`;

/** A subcommand: resolves with its exit status (nothing means 0). */
type Command = (
  argv: string[],
  out: NodeJS.WritableStream,
  stdin: NodeJS.ReadableStream,
) => Promise<number | undefined>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  keygen: { run: keygen, help: KEYGEN_HELP },
  sign: { run: sign, help: SIGN_HELP },
  "directory build": { run: directoryBuild, help: DIRECTORY_BUILD_HELP },
  "policy check": { run: policyCheck, help: POLICY_CHECK_HELP },
  "policy schema": { run: policySchema, help: POLICY_SCHEMA_HELP },
  "directory serve": { run: directoryServe, help: DIRECTORY_SERVE_HELP },
  "aauth serve-provider": { run: aauthServeProvider, help: AAUTH_PROVIDER_HELP },
  explain: { run: explain, help: EXPLAIN_HELP },
  stats: { run: stats, help: STATS_HELP },
};

/**
 * Runs the CLI with the given arguments and returns the exit code.
 *
 * @example
 * ```ts
 * // A reader that stops early (`signet sign … | head -1`) is not an error: stop quietly, like other commands do.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    process.stdout.write(`${HELP}\n`);
    return first === undefined ? EXIT_USAGE : 0;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    process.stdout.write(`signet ${await version()}\n`);
    return 0;
  }
  const twoWords = second === undefined ? undefined : `${first} ${second}`;
  const name = twoWords !== undefined && twoWords in COMMANDS ? twoWords : first;
  const command = COMMANDS[name];
  const group = Object.keys(COMMANDS).filter((c) => c.startsWith(`${first} `));
  if (command === undefined && group.length > 0 && (second === "--help" || second === "-h")) {
    // A command group asked for help: list its subcommands.
    const lines = group.map((c) => `  signet ${c}`);
    process.stdout.write(`Usage: signet ${first} <subcommand> [options]\n\nSubcommands:\n${lines.join("\n")}\n`);
    return 0;
  }
  if (command === undefined) {
    const hint = group.length > 0 ? `; did you mean ${group.map((c) => `"signet ${c}"`).join(" or ")}?` : "";
    process.stderr.write(`signet: unknown command "${name}"${hint} (see signet --help)\n`);
    return EXIT_USAGE;
  }
  try {
    return (await command.run(argv.slice(name.split(" ").length), process.stdout, process.stdin)) ?? 0;
  } catch (err) {
    const code = err instanceof CliError ? err.exitCode : EXIT_FAILURE;
    const reason = (err as { code?: unknown }).code;
    const prefix = typeof reason === "string" && !(err instanceof CliError) ? `${reason}: ` : "";
    process.stderr.write(`signet: ${prefix}${(err as Error).message ?? String(err)}\n`);
    return code;
  }
}

// A reader that stops early (`signet sign … | head -1`) is not an error: stop quietly, like other commands do.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2));
