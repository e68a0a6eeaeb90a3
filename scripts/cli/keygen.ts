/**
 * `signet keygen`: make an agent key.
 *
 * @module
 */
import { AGENT_KEY_ALGORITHMS, type AgentKeyAlgorithm, generateAgentKey } from "../../agent/index.ts";
import { parseCommandLine } from "./arguments.ts";
import { CliError, EXIT_USAGE } from "./cli-error.ts";
import { writePrivateFile } from "./private-file.ts";

/** Help text of `signet keygen`. */
export const KEYGEN_HELP = `Usage: signet keygen [--alg ALG] [--out FILE] [--force] [--json]

Makes a signing key for an agent. Writes the private JWK to FILE (default agent.jwk), created with mode 0600,
and prints the public JWK and its RFC 7638 thumbprint, which is the Web Bot Auth keyid.

  --alg ALG     ${AGENT_KEY_ALGORITHMS.join(" | ")} (default ed25519)
  --out FILE    where to write the private key (default agent.jwk)
  --force       replace FILE if it exists (a new file renamed over it; never through a symlink)
  --json        print {"thumbprint": ..., "publicJwk": ...} as one JSON object
  -h, --help    this help`;

/**
 * Runs `signet keygen`.
 *
 * @example
 * ```ts
 * await keygen(["--alg", "ecdsa-p256-sha256", "--out", "agent.jwk"], process.stdout);
 * ```
 */
export async function keygen(argv: string[], out: NodeJS.WritableStream): Promise<undefined> {
  const { values, positionals } = parseCommandLine(
    argv,
    { alg: { type: "string" }, out: { type: "string" }, force: { type: "boolean" }, json: { type: "boolean" } },
    "keygen",
  );
  if (values.help) {
    out.write(`${KEYGEN_HELP}\n`);
    return;
  }
  if (positionals.length > 0) throw new CliError(`keygen: unexpected argument "${positionals[0]}"`, EXIT_USAGE);
  const alg = (values.alg ?? "ed25519") as AgentKeyAlgorithm;
  if (!(AGENT_KEY_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new CliError(`keygen: --alg must be one of ${AGENT_KEY_ALGORITHMS.join(", ")}`, EXIT_USAGE);
  }
  const path = values.out ?? "agent.jwk";
  const key = await generateAgentKey(alg);
  await writePrivateFile(path, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { force: values.force === true });
  if (values.json) {
    out.write(`${JSON.stringify({ thumbprint: key.thumbprint, publicJwk: key.publicJwk, privateKeyFile: path })}\n`);
  } else {
    out.write(`private key written to ${path} (mode 0600)\n`);
    out.write(`keyid (RFC 7638 thumbprint): ${key.thumbprint}\n`);
    out.write(`public JWK:\n${JSON.stringify(key.publicJwk, null, 2)}\n`);
  }
}
