/**
 * `signet explain` on requests signed by `signet sign --dry-run`: each profile judged by its own checks, a private
 * key file used by its public half (with a note), an unknown keyid reported as an unknown key, and exit codes
 * 0 / 1 / 2 as `signet --help` documents them.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run-cli.ts";

let dir: string;
let key: string;
let other: string;

async function dryRun(args: string[], name: string): Promise<string> {
  const result = await runCli(["sign", "--key", key, "--dry-run", ...args, "https://shop.example/x"]);
  expect(result.code).toBe(0);
  const path = join(dir, name);
  await writeFile(path, result.stdout, "latin1");
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "signet-explain-profiles-"));
  key = join(dir, "agent.jwk");
  other = join(dir, "other.jwk");
  expect((await runCli(["keygen", "--out", key])).code).toBe(0);
  expect((await runCli(["keygen", "--out", other])).code).toBe(0);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe("signet explain judges each profile by its own checks", () => {
  it("AAuth hwk: no Web Bot Auth wording (created, expires and keyid; Signature-Agent)", async () => {
    const request = await dryRun(["--profile", "aauth"], "hwk.http");
    const result = await runCli(["explain", request]);
    expect(result.stdout).toContain("[aauth]");
    expect(result.stdout).toContain("created is present (the key comes from Signature-Key, not from keyid)");
    expect(result.stdout).toContain("the covered Signature-Key entry names the key");
    expect(result.stdout).not.toContain("created, expires and keyid are present");
    expect(result.stdout).not.toContain("Signature-Agent");
    // The default explain policy requires an identified agent; a pseudonym is refused: exit 1.
    expect(result.code).toBe(1);
  });

  it("Web Bot Auth keeps its own wording", async () => {
    const request = await dryRun(["--agent", "https://agent.example"], "wba.http");
    const result = await runCli(["explain", "--jwks", key, request]);
    expect(result.stdout).toContain("created, expires and keyid are present");
    expect(result.stdout).toContain("the covered Signature-Agent member names the agent");
    expect(result.stdout).not.toContain("Signature-Key");
  });
});

describe("signet explain --jwks with a private key file", () => {
  it("uses its public half, says so on stderr, and verifies (exit 0)", async () => {
    const request = await dryRun(["--agent", "https://agent.example"], "wba-private.http");
    const result = await runCli(["explain", "--jwks", key, "--json", request]);
    expect(result.stderr).toContain("holds a private key; explain uses only the public half");
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ outcome: "verified" });
    expect(lines.at(-1)).toMatchObject({ decision: true, action: "forward" });
    // Nothing of the private member reaches the output.
    expect(result.stdout).not.toMatch(/"d":/);
  });

  it("an unknown keyid is an unknown key (key_not_found, agent_unverified), not invalid_signature; exit 1", async () => {
    const request = await dryRun(["--agent", "https://agent.example"], "wba-unknown.http");
    const result = await runCli(["explain", "--jwks", other, "--json", request]);
    expect(result.code).toBe(1);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ outcome: "unverified", reason: "key_not_found" });
    expect(lines.at(-1)).toMatchObject({ action: "refuse", reason: "agent_unverified", signature_error: null });
    expect(result.stdout).not.toContain("invalid_signature");
  });
});

describe("exit codes", () => {
  it("are documented in signet --help", async () => {
    const result = await runCli(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Exit status \(every command\):\n {2}0 .*\n[\s\S]* {2}1 [\s\S]* {2}2 /);
  });

  it.each([
    [["explain", "--bogus"], 2],
    [["directory", "serve"], 2],
    [["directory", "serve", "--key", "/nonexistent/key.jwk", "--port", "0"], 1],
    [["aauth", "serve-provider"], 2],
    [["aauth", "serve-provider", "--key", "/nonexistent/key.jwk", "--port", "0"], 1],
    [["sign", "--key", "/nonexistent/key.jwk", "--agent", "http://127.0.0.1:9", "https://x.example/"], 2],
    [["nosuchcommand"], 2],
  ])("signet %j exits %i", async (args, code) => {
    const result = await runCli(args as string[]);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(/^signet: /);
    expect(result.stderr).not.toMatch(/internal error|at .*\.ts:\d+|ERR_/);
  });

  it("group help lists the new subcommands", async () => {
    expect((await runCli(["directory", "--help"])).stdout).toContain("signet directory serve");
    expect((await runCli(["aauth", "--help"])).stdout).toContain("signet aauth serve-provider");
  });
});
