/**
 * The command line's one error type: a message for the user and the exit code to leave with.
 *
 * @module
 */

/** Exit code for a bad command line (unknown option, missing argument). */
export const EXIT_USAGE = 2;
/** Exit code for a command that could not do its work (file exists, request failed). */
export const EXIT_FAILURE = 1;

/**
 * An error the CLI reports as one line, `signet: <message>`, and exits with `exitCode`.
 *
 * @example
 * ```ts
 * throw new CliError("--key is required", EXIT_USAGE);
 * ```
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
