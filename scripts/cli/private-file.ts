/**
 * Writing a private key file so that its bytes never sit in a file anyone else can read, and never land where a
 * symbolic link points.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { lstat, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CliError } from "./cli-error.ts";

/**
 * Writes `text` to `path` with mode 0600.
 *
 * - Without `force`, the file is created with `O_CREAT | O_EXCL` (which never follows a symbolic link, dangling
 *   or not) and mode 0600 from the start; an existing path is refused.
 * - With `force`, an existing symbolic link or anything but a regular file at `path` is refused; otherwise a new
 *   file is created beside it the same way (`O_CREAT | O_EXCL`, mode 0600), written, flushed and renamed over
 *   `path`. The old file's inode is never opened: a hard link to it keeps the old bytes, and its mode never
 *   matters. `rename` replaces a directory entry, so even a link swapped in after the check is replaced, not
 *   followed.
 *
 * The mode is set on the open descriptor before any byte is written, so a permissive umask cannot widen it.
 *
 * @throws {CliError} for an existing path without `force`, a symbolic link or non-regular file, or a write error
 *
 * @example
 * ```ts
 * await writePrivateFile("agent.jwk", `${JSON.stringify(privateJwk)}\n`, { force: true });
 * ```
 */
export async function writePrivateFile(path: string, text: string, options: { force: boolean }): Promise<void> {
  if (!options.force) {
    await writeNew(path, text, (code) =>
      code === "EEXIST" ? `${path} exists; use --force to overwrite it` : `cannot write ${path}: ${code}`,
    );
    return;
  }
  let existing: Awaited<ReturnType<typeof lstat>> | undefined;
  try {
    existing = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw new CliError(`cannot write ${path}: ${code ?? (err as Error).message}`);
  }
  if (existing?.isSymbolicLink()) {
    throw new CliError(`${path} is a symbolic link; refusing to write a private key through it`);
  }
  if (existing !== undefined && !existing.isFile()) {
    throw new CliError(`${path} exists and is not a regular file; refusing to replace it`);
  }
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  await writeNew(temporary, text, (code) => `cannot write beside ${path}: ${code}`);
  try {
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw new CliError(`cannot replace ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Creates `path` exclusively with mode 0600, writes and flushes `text`; removes a half-written file. */
async function writeNew(path: string, text: string, describe: (code: string) => string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "wx", 0o600);
  } catch (err) {
    throw new CliError(describe((err as NodeJS.ErrnoException).code ?? (err as Error).message));
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw new CliError(describe((err as NodeJS.ErrnoException).code ?? (err as Error).message));
  }
  await handle.close();
}
