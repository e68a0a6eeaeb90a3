/**
 * `signet sign --check`: send the signed request to the site's check endpoint instead of its target, and print
 * Signet's verdict on it. The request is signed for the URL the user names; it is sent to `CHECK_PATH` on the same
 * origin with that URL's path and query in `Signet-Check-Target`, so the site judges it as if sent to the target,
 * never forwards it, and does not spend its signature.
 *
 * @module
 */
import { CliError, EXIT_FAILURE } from "./cli-error.ts";

/** The check endpoint's default path (the policy's `check.path`). */
export const DEFAULT_CHECK_PATH = "/.signet/check";

/** The verdict fields this command prints (the endpoint sends more). */
interface Verdict {
  readonly action?: unknown;
  readonly status?: unknown;
  readonly reason?: unknown;
  readonly detail?: unknown;
  readonly fix?: unknown;
  readonly agent?: unknown;
  readonly rule?: unknown;
  readonly requires?: unknown;
  readonly replay?: unknown;
  readonly labels?: unknown;
}

/**
 * Sends `signed` to the check endpoint of its origin and writes the verdict; returns the exit status (0 when the
 * edge would forward the request, 1 otherwise).
 *
 * @example
 * ```ts
 * const status = await sendCheck(signed, { checkPath: "/.signet/check", json: false, timeoutSeconds: 30 }, process.stdout);
 * ```
 */
export async function sendCheck(
  signed: Request,
  options: { checkPath: string; json: boolean; timeoutSeconds: number },
  out: NodeJS.WritableStream,
): Promise<number> {
  const target = new URL(signed.url);
  const checkUrl = new URL(options.checkPath, target.origin);
  const headers = new Headers(signed.headers);
  headers.set("signet-check-target", `${target.pathname}${target.search}`);
  const body = signed.body === null ? undefined : new Uint8Array(await signed.arrayBuffer());
  const signal = options.timeoutSeconds > 0 ? AbortSignal.timeout(options.timeoutSeconds * 1000) : undefined;
  let response: Response;
  let text: string;
  try {
    response = await fetch(checkUrl, { method: signed.method, headers, body, redirect: "manual", signal });
    text = await response.text();
  } catch (err) {
    if (signal?.aborted) throw new CliError(`check at ${checkUrl.origin} timed out after ${options.timeoutSeconds} s`);
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    throw new CliError(`check at ${checkUrl.origin} failed${typeof code === "string" ? ` (${code})` : ""}`);
  }
  let verdict: Verdict | undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) verdict = parsed as Verdict;
  } catch {
    verdict = undefined;
  }
  if (response.status !== 200 || verdict === undefined || (verdict as { check?: unknown }).check !== true) {
    const reason = typeof verdict?.reason === "string" ? ` (${printable(verdict.reason)})` : "";
    const hint =
      verdict?.reason === "check_disabled"
        ? "; the site does not answer checks (its policy's check.enabled is off)"
        : response.status === 200 || response.status === 404
          ? "; is this a Signet site with the check endpoint on?"
          : "";
    throw new CliError(`check at ${checkUrl.origin} answered ${response.status}${reason}${hint}`, EXIT_FAILURE);
  }
  const forward = verdict.action === "forward";
  if (options.json) {
    out.write(`${JSON.stringify(verdict)}\n`);
    return forward ? 0 : EXIT_FAILURE;
  }
  const where = `${signed.method} ${target.pathname}${target.search}`;
  const rule = `rule "${printable(verdict.rule)}", requires ${printable(verdict.requires)}`;
  out.write(
    forward
      ? `check of ${where}: the edge would forward it${verdict.agent ? ` as ${printable(verdict.agent)}` : " as anonymous"} (${rule})\n`
      : `check of ${where}: the edge would refuse it: ${printable(verdict.status)} ${printable(verdict.reason)}: ${printable(verdict.detail)} (${rule})\n`,
  );
  if (!forward && verdict.fix) out.write(`  fix: ${printable(verdict.fix)}\n`);
  for (const label of Array.isArray(verdict.labels) ? (verdict.labels as Record<string, unknown>[]) : []) {
    const code = label.reason ? ` (${printable(label.reason)})` : "";
    const why = label.message ? `: ${printable(label.message)}` : "";
    out.write(
      `  ${printable(label.label ?? "fields")}: ${printable(label.outcome)}${code} [${printable(label.profile ?? "-")}]${why}\n`,
    );
  }
  out.write(`  replay: ${printable(verdict.replay)}\n`);
  return forward ? 0 : EXIT_FAILURE;
}

/** A value as one line of plain text: control characters (terminal escapes included) become `?`. */
function printable(value: unknown): string {
  let text = "";
  for (const char of String(value ?? "").slice(0, 1000)) {
    const code = char.codePointAt(0) as number;
    text += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? "?" : char;
  }
  return text;
}
