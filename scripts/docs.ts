/**
 * `npm run docs`: writes the documentation generated from the code (`docs/reasons.md`, `docs/policy.md`,
 * `docs/policy.schema.json`). `npm run policy-schema` writes only the schema. `--check` writes nothing and exits 1
 * when a committed file differs from what the code gives.
 *
 * @example
 * ```ts
 * // node scripts/docs.ts [--check] [--only docs/policy.schema.json]
 * ```
 *
 * @module
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generatedDocs } from "./docs/generate.ts";

const { values } = parseArgs({ options: { check: { type: "boolean" }, only: { type: "string" } } });
const root = join(import.meta.dirname, "..");
let stale = 0;
for (const [path, text] of Object.entries(await generatedDocs())) {
  if (values.only !== undefined && values.only !== path) continue;
  const file = join(root, path);
  const current = await readFile(file, "utf8").catch(() => undefined);
  if (current === text) continue;
  if (values.check) {
    process.stderr.write(`${path} is stale: run npm run docs\n`);
    stale++;
  } else {
    await writeFile(file, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
