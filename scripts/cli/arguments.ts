/**
 * Option parsing for the subcommands, on `node:util` `parseArgs`, with errors as {@link CliError}s.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { Jwk } from "../../worker/rfc9421/index.ts";
import { CliError, EXIT_USAGE } from "./cli-error.ts";

/** Options accepted by a subcommand (`parseArgs` format). */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a subcommand's arguments strictly; unknown options and missing values are usage errors.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseCommandLine(argv, { key: { type: "string" } }, "sign");
 * ```
 */
export function parseCommandLine<O extends OptionSpec>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new CliError(
      `${command}: ${(err as Error).message.split(". To specify")[0]} (see signet ${command} --help)`,
      EXIT_USAGE,
    );
  }
}

/**
 * Reads a JWK from a file.
 *
 * @throws {CliError} when the file cannot be read or is not a JSON object
 *
 * @example
 * ```ts
 * const jwk = await readJwkFile("agent.jwk");
 * ```
 */
export async function readJwkFile(path: string): Promise<Jwk> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(
      `cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not JSON`);
  }
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk) || typeof (jwk as Jwk).kty !== "string") {
    throw new CliError(`${path} is not a JWK (no "kty")`);
  }
  return jwk as Jwk;
}

/**
 * A whole number option, or the default.
 *
 * @throws {CliError} (usage) when the value is not a non-negative integer
 *
 * @example
 * ```ts
 * wholeNumber(values["expires-in"], "--expires-in", 300);
 * ```
 */
export function wholeNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new CliError(`${name} must be a whole number, got "${value}"`, EXIT_USAGE);
  return Number(value);
}
