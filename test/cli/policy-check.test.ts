/**
 * `signet policy check` judges a policy file with the Worker's own parser (exit 0 valid, 1 refused or
 * unreadable, 2 usage), and `signet policy schema` prints the same schema the docs carry.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POLICY_SCHEMA } from "../../worker/policy/policy-schema.ts";
import { runCli } from "./run-cli.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "signet-policy-"));
  await writeFile(join(dir, "good.json"), '{"rules":[{"path":"/api/*","require":"verified-agent"}]}');
  await writeFile(join(dir, "bad.json"), '{"rules":[{"path":"/api/*","require":"agent"}]}');
  await writeFile(join(dir, "empty.json"), "");
  await writeFile(join(dir, "broken.json"), "{");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("signet policy check", () => {
  it("exits 0 for a valid policy and says what it holds", async () => {
    const result = await runCli(["policy", "check", "good.json"], { cwd: dir });
    expect(result).toMatchObject({ code: 0, stdout: "good.json: valid (mode enforce, 1 rule)\n", stderr: "" });
  });

  it("exits 1 for a refused policy, naming the field as the Worker's log would", async () => {
    const result = await runCli(["policy", "check", "bad.json"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "signet: bad.json: SIGNET_POLICY.rules[0].require: must be one of none, signature, verified-agent\n",
    );
  });

  it("exits 1 for a file that is not JSON, and for a file that cannot be read", async () => {
    expect((await runCli(["policy", "check", "broken.json"], { cwd: dir })).code).toBe(1);
    const missing = await runCli(["policy", "check", "missing.json"], { cwd: dir });
    expect(missing).toMatchObject({ code: 1, stderr: "signet: cannot read policy file missing.json: ENOENT\n" });
  });

  it("accepts an empty file as the default policy", async () => {
    const result = await runCli(["policy", "check", "empty.json"], { cwd: dir });
    expect(result).toMatchObject({ code: 0, stdout: "empty.json: valid (empty: the default policy)\n" });
  });

  it("reads standard input for -, and answers JSON with --json", async () => {
    const bad = await runCli(["policy", "check", "--json", "-"], { stdin: '{"mode":"audit"}' });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      ok: false,
      file: "(stdin)",
      field: "mode",
      error: "SIGNET_POLICY.mode: must be one of enforce, monitor",
    });
    const good = await runCli(["policy", "check", "--json", "-"], { stdin: "{}" });
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({ ok: true, file: "(stdin)", empty: false, mode: "enforce", rules: 0 });
  });

  it("exits 2 for usage errors", async () => {
    expect((await runCli(["policy", "check"], { cwd: dir })).code).toBe(2);
    expect((await runCli(["policy", "check", "a.json", "b.json"], { cwd: dir })).code).toBe(2);
    expect((await runCli(["policy", "check", "--nope", "a.json"], { cwd: dir })).code).toBe(2);
  });

  it("lists its subcommands under signet policy --help", async () => {
    const result = await runCli(["policy", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("signet policy check");
    expect(result.stdout).toContain("signet policy schema");
  });
});

describe("signet policy schema", () => {
  it("prints the schema committed as docs/policy.schema.json", async () => {
    const result = await runCli(["policy", "schema"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(POLICY_SCHEMA);
    const committed = await readFile(join(import.meta.dirname, "../../docs/policy.schema.json"), "utf8");
    expect(JSON.parse(committed)).toEqual(POLICY_SCHEMA);
  });
});
