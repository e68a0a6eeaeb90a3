/**
 * `signet policy check FILE`: validates a policy file with the Worker's own parser before it is deployed, and
 * `signet policy schema`: prints the policy's JSON Schema for editors.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { PolicyError, parsePolicy } from "../../worker/policy/parse-policy.ts";
import { POLICY_SCHEMA } from "../../worker/policy/policy-schema.ts";
import { parseCommandLine } from "./arguments.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./cli-error.ts";

/** Help for `signet policy check`. */
export const POLICY_CHECK_HELP = `Usage: signet policy check [--json] FILE

Validate a policy file (the JSON that goes into SIGNET_POLICY) with the Worker's own parser.
FILE may be - for standard input.

Options:
  --json    print {"ok": true, ...} or {"ok": false, "field": ..., "error": ...}
  -h, --help

Exit status: 0 the policy is valid, 1 it is not (or FILE cannot be read), 2 usage error.

Deploy a checked policy with:
  signet policy check policy.json && npx wrangler deploy --env="" --var SIGNET_POLICY:"$(cat policy.json)"`;

/** Help for `signet policy schema`. */
export const POLICY_SCHEMA_HELP = `Usage: signet policy schema

Print the policy's JSON Schema (draft 2020-12), for editor completion:
  signet policy schema > policy.schema.json
then add "$schema": "./policy.schema.json" to your policy file (Signet ignores that member).

Exit status: 0, or 2 for a usage error.`;

/**
 * Runs `signet policy check`: 0 when the Worker would accept the policy, 1 when it would refuse it.
 *
 * @example
 * ```ts
 * const status = await policyCheck(["policy.json"], process.stdout, process.stdin);
 * ```
 */
export async function policyCheck(
  argv: string[],
  out: NodeJS.WritableStream,
  stdin: NodeJS.ReadableStream,
): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, { json: { type: "boolean" } }, "policy check");
  if (values.help) {
    out.write(`${POLICY_CHECK_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new CliError("policy check: give exactly one FILE (see signet policy check --help)", EXIT_USAGE);
  }
  const file = positionals[0] as string;
  const text = file === "-" ? await readAll(stdin) : await readPolicyFile(file);
  const name = file === "-" ? "(stdin)" : file;
  try {
    const policy = parsePolicy(text);
    const empty = text.trim() === "";
    if (values.json) {
      out.write(`${JSON.stringify({ ok: true, file: name, empty, mode: policy.mode, rules: policy.rules.length })}\n`);
    } else {
      const what = empty ? "empty: the default policy" : `mode ${policy.mode}, ${plural(policy.rules.length, "rule")}`;
      out.write(`${name}: valid (${what})\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    if (values.json) {
      out.write(`${JSON.stringify({ ok: false, file: name, field: err.field, error: err.message })}\n`);
      return EXIT_FAILURE;
    }
    throw new CliError(`${name}: ${err.message}`, EXIT_FAILURE);
  }
}

/**
 * Runs `signet policy schema`: prints {@link POLICY_SCHEMA}.
 *
 * @example
 * ```ts
 * await policySchema([], process.stdout, process.stdin);
 * ```
 */
export async function policySchema(
  argv: string[],
  out: NodeJS.WritableStream,
  _stdin: NodeJS.ReadableStream,
): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {}, "policy schema");
  if (values.help) {
    out.write(`${POLICY_SCHEMA_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new CliError("policy schema takes no arguments", EXIT_USAGE);
  out.write(`${JSON.stringify(POLICY_SCHEMA, null, 2)}\n`);
  return 0;
}

async function readPolicyFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read policy file ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
