/**
 * Every runnable code block of the README and `docs/*.md` is run, so the docs cannot drift from what works.
 *
 * Each ` ```sh ` and ` ```ts ` block carries a marker comment on the line before it (an unmarked one fails):
 * - `<!-- doc-test: run -->`: a shell block, run with `bash -e` in a scratch directory that looks like a fresh
 *   clone after `npm install` (the repository's package.json, sources and node_modules), one block after another
 *   in the same directory per page, so a page's walk (keygen, then sign) runs in order;
 * - `<!-- doc-test: skip (why) -->`: a block a test cannot run (a Cloudflare account, a server, a fragment);
 * - `<!-- doc-test: example docs/examples/x.ts -->`: a TypeScript block that must equal that file, which is run.
 * ` ```json ` blocks marked `<!-- doc-test: policy -->` must be policies the Worker's parser accepts.
 * Every `docs/examples/*.ts` file is run with Node (exit 0), whether a page includes it or not.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parsePolicy } from "../../worker/policy/parse-policy.ts";

const ROOT = join(import.meta.dirname, "../..");

interface Block {
  readonly page: string;
  readonly line: number;
  readonly lang: string;
  readonly marker: string | undefined;
  readonly code: string;
}

/** The fenced blocks of a Markdown page, with the marker comment right above each (indented blocks included). */
function blocksOf(page: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = open[1] as string;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && (lines[i] as string).trimEnd() !== `${indent}\`\`\``; i++) {
      body.push((lines[i] as string).slice(indent.length));
    }
    const above = (lines[start - 1] ?? "").trim();
    const marker = /^<!-- doc-test: (.+) -->$/.exec(above)?.[1];
    blocks.push({ page, line: start + 1, lang: open[2] as string, marker, code: `${body.join("\n")}\n` });
  }
  return blocks;
}

const pages = [
  "README.md",
  ...(await readdir(join(ROOT, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
];
const blocks = (
  await Promise.all(pages.map(async (page) => blocksOf(page, await readFile(join(ROOT, page), "utf8"))))
).flat();
const examples = (await readdir(join(ROOT, "docs/examples")).catch(() => [] as string[]))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => `docs/examples/${f}`);

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** A directory that looks like a fresh clone after `npm install`: sources and node_modules linked, nothing else. */
async function scratchClone(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "signet-doc-"));
  await writeFile(join(dir, "package.json"), await readFile(join(ROOT, "package.json")));
  for (const name of ["node_modules", "scripts", "worker", "agent", "directory", "origin", "demo", "tsconfig.json"]) {
    await symlink(join(ROOT, name), join(dir, name));
  }
  return dir;
}

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe("code blocks in the docs", () => {
  it("finds the blocks the docs promise to run", () => {
    const runnable = blocks.filter((b) => b.marker === "run");
    expect(runnable.map((b) => b.page)).toEqual(
      expect.arrayContaining(["README.md", "docs/site-owners.md", "docs/agent-builders.md", "docs/aauth.md"]),
    );
    expect(blocks.filter((b) => b.marker === "policy").length).toBeGreaterThanOrEqual(2);
  });

  const marked = blocks.filter((b) => b.lang === "sh" || b.lang === "ts");
  it.each(marked.map((b) => [`${b.page}:${b.line}`, b] as const))("%s has a doc-test marker", (_where, block) => {
    expect(block.marker, "add <!-- doc-test: run --> or <!-- doc-test: skip (why) --> above the block").toMatch(
      block.lang === "sh" ? /^(run|skip \(.+\))$/ : /^(skip \(.+\)|example docs\/examples\/[\w-]+\.ts)$/,
    );
  });

  const policies = blocks.filter((b) => b.marker === "policy");
  it.each(policies.map((b) => [`${b.page}:${b.line}`, b] as const))("%s is a policy Signet accepts", (_w, block) => {
    expect(block.lang).toBe("json");
    expect(() => parsePolicy(block.code)).not.toThrow();
  });

  const walks = Object.entries(
    Object.groupBy(
      blocks.filter((b) => b.marker === "run"),
      (b) => b.page,
    ),
  );
  it.each(walks)(
    "%s: every run block succeeds, in order, as in a fresh clone",
    async (_page, pageBlocks) => {
      const dir = await scratchClone();
      scratch.push(dir);
      for (const block of pageBlocks ?? []) {
        expect(block.lang, `${block.page}:${block.line}`).toBe("sh");
        const result = await run("bash", ["-e", "-o", "pipefail", "-c", block.code], dir);
        expect({ where: `${block.page}:${block.line}`, code: result.code, output: result.output }).toMatchObject({
          code: 0,
        });
      }
    },
    180_000,
  );

  const included = blocks.filter((b) => b.marker?.startsWith("example "));
  it.each(included.map((b) => [`${b.page}:${b.line}`, b] as const))("%s equals its example file", async (_w, b) => {
    const file = (b.marker as string).slice("example ".length);
    expect(b.code).toBe(await readFile(join(ROOT, file), "utf8"));
  });

  let built: ReturnType<typeof run> | undefined;
  it.runIf(examples.length > 0).each(examples)(
    "%s runs",
    async (file) => {
      // Examples import the package by its name (`signet-edge/...`), which resolves to the built dist/: build once.
      built ??= run(join(ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], ROOT);
      expect((await built).code, "npm run build failed").toBe(0);
      const result = await run(process.execPath, [join(ROOT, file)], ROOT);
      expect({ file, code: result.code, output: result.output }).toMatchObject({ code: 0 });
    },
    120_000,
  );
});
