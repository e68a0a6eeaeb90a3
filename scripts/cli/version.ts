/**
 * The version of the installed `signet-edge` package, read from its own `package.json` (found next to the CLI,
 * whether it runs from the source tree or from the built package).
 *
 * @example
 * ```ts
 * console.log(await version()); // "0.2.0"
 * ```
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Reads the package version; `"unknown"` if no `package.json` of this package can be found above the CLI. */
export async function version(): Promise<string> {
  for (const relative of ["../../package.json", "../../../package.json"]) {
    try {
      const manifest = JSON.parse(await readFile(join(import.meta.dirname, relative), "utf8")) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === "signet-edge" && typeof manifest.version === "string") return manifest.version;
    } catch {
      // Not there: try the next level up.
    }
  }
  return "unknown";
}
