/**
 * `signet keygen --force` replaces a key file without ever exposing the new private key: a new file created with
 * mode 0600 beside the old one and renamed over it, never written through a symbolic link (issue 11, item 9).
 */
import { spawn } from "node:child_process";
import {
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, SIGNET } from "./run-cli.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "signet-keygen-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh subdirectory per test, so leftover files can be counted. */
async function fresh(name: string): Promise<string> {
  const sub = join(dir, name);
  await mkdir(sub);
  return sub;
}

describe("signet keygen --force", () => {
  it("renames a new 0600 file over the old one: the old inode (and a hard link to it) never holds the new key", async () => {
    const sub = await fresh("hardlink");
    const file = join(sub, "agent.jwk");
    const shared = join(sub, "readable-copy.jwk");
    await writeFile(file, "{}", { mode: 0o644 });
    await link(file, shared); // e.g. a link someone made in a shared directory
    const before = await stat(file);

    const result = await runCli(["keygen", "--out", file, "--force"]);
    expect(result.code, result.stderr).toBe(0);

    const after = await stat(file);
    expect(after.ino).not.toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toHaveProperty("d");
    // The old, world-readable inode still holds exactly what it held: the private key was never written into it.
    expect(await readFile(shared, "utf8")).toBe("{}");
    expect((await stat(shared)).mode & 0o777).toBe(0o644);
    expect((await readdir(sub)).sort()).toEqual(["agent.jwk", "readable-copy.jwk"]);
  });

  it("refuses a symbolic link, leaving the link and its target as they were", async () => {
    const sub = await fresh("symlink");
    const victim = join(sub, "victim.txt");
    const out = join(sub, "agent.jwk");
    await writeFile(victim, "do not touch", { mode: 0o644 });
    await symlink(victim, out);

    for (const args of [["--force"], []]) {
      const result = await runCli(["keygen", "--out", out, ...args]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(args.length > 0 ? /symbolic link/ : /exists; use --force/);
    }
    expect(await readFile(victim, "utf8")).toBe("do not touch");
    expect((await stat(victim)).mode & 0o777).toBe(0o644);
    expect((await lstat(out)).isSymbolicLink()).toBe(true);
    expect(await readlink(out)).toBe(victim);
    expect((await readdir(sub)).sort()).toEqual(["agent.jwk", "victim.txt"]);
  });

  it("never creates the target of a dangling symbolic link", async () => {
    const sub = await fresh("dangling");
    const target = join(sub, "created-through-link.jwk");
    const out = join(sub, "agent.jwk");
    await symlink(target, out);
    for (const args of [["--force"], []]) {
      expect((await runCli(["keygen", "--out", out, ...args])).code).toBe(1);
      await expect(lstat(target)).rejects.toMatchObject({ code: "ENOENT" });
    }
    expect((await readdir(sub)).sort()).toEqual(["agent.jwk"]);
  });

  it("refuses to replace a directory", async () => {
    const sub = await fresh("directory");
    const out = join(sub, "agent.jwk");
    await mkdir(out);
    const result = await runCli(["keygen", "--out", out, "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not a regular file/);
    expect((await stat(out)).isDirectory()).toBe(true);
  });

  it("writes mode 0600 even under umask 000, with and without --force", async () => {
    const sub = await fresh("umask");
    const out = join(sub, "agent.jwk");
    const run = (extra: string) =>
      new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          "sh",
          ["-c", `umask 000 && exec "$0" "$1" keygen --out "$2" ${extra}`, process.execPath, SIGNET, out],
          { stdio: "ignore" },
        );
        child.on("error", reject);
        child.on("close", resolve);
      });
    expect(await run("")).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(await run("--force")).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(await readdir(sub)).toEqual(["agent.jwk"]);
  });
});
