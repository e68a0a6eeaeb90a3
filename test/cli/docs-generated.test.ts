/**
 * The reference docs are generated from the code (`npm run docs`): the committed copies must equal what the code
 * gives today, so a new reason code, a changed status or a policy field cannot reach main undocumented.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { docComments, generatedDocs } from "../../scripts/docs/generate.ts";
import { REJECTION_REASON_CODES, REJECTION_REASONS } from "../../worker/reasons.ts";

const ROOT = join(import.meta.dirname, "../..");
const generated = await generatedDocs();

describe("generated docs", () => {
  it.each(Object.keys(generated))("%s equals what the code gives (run npm run docs if not)", async (path) => {
    expect(await readFile(join(ROOT, path), "utf8")).toBe(generated[path]);
  });

  it("docs/reasons.md has a row for every reason code, with its status", () => {
    const text = generated["docs/reasons.md"] as string;
    for (const code of REJECTION_REASON_CODES) {
      expect(text).toMatch(new RegExp(`\\| \`${code}\` +\\| ${REJECTION_REASONS[code].status} +\\|`));
    }
  });

  it("a reason without a doc comment stops the generator", () => {
    const source = "/** Documented. */\n  documented: { status: 400 },\n  undocumented: { status: 401 },\n";
    expect(docComments(source, ["documented"], "x.ts")).toEqual({ documented: "Documented." });
    expect(() => docComments(source, ["documented", "undocumented"], "x.ts")).toThrow(/undocumented/);
  });
});
