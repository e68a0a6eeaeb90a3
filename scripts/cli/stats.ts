/**
 * `signet stats`: the console's summary in a terminal, read from its JSON endpoint.
 *
 * @module
 */
import type { PolicyView } from "../../worker/observability/console-page.ts";
import type { MetricsSummary } from "../../worker/observability/metrics-summary.ts";
import { REJECTION_REASONS, type RejectionReason } from "../../worker/reasons.ts";
import { parseCommandLine } from "./arguments.ts";
import { CliError, EXIT_USAGE } from "./cli-error.ts";

/** Help text of `signet stats`. */
export const STATS_HELP = `Usage: signet stats [--url URL] [--token SECRET] [--range 1h|24h|30d] [--json]

Prints the site-owner console's summary: requests by outcome, top verified agents, refusal reasons, replays
blocked, key directory health, the last refused requests and the policy in force.

  --url URL        the console, e.g. https://shop.example/.signet/console (or SIGNET_CONSOLE_URL)
  --token SECRET   the console secret (or SIGNET_CONSOLE_TOKEN)
  --range R        1h (default), 24h or 30d
  --json           print the JSON the console serves, unchanged
  -h, --help       this help`;

const OUTCOMES = ["verified", "invalid", "unverified", "unsigned"] as const;

/**
 * The JSON of the console's summary endpoint.
 *
 * @example
 * ```ts
 * const body = (await response.json()) as ConsoleSummary;
 * ```
 */
export interface ConsoleSummary {
  readonly summary: MetricsSummary;
  readonly policy: PolicyView | null;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

function when(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().slice(0, 19).replace("T", " ") : "-";
}

/** Strips terminal control characters from text the server sent. */
function plain(value: unknown): string {
  let text = "";
  for (const ch of String(value ?? "-")) {
    const code = ch.codePointAt(0) as number;
    text += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? "?" : ch;
  }
  return text;
}

/**
 * The summary as text, section by section.
 *
 * @example
 * ```ts
 * process.stdout.write(formatStats(await (await fetch(url, { headers })).json()));
 * ```
 */
export function formatStats({ summary, policy }: ConsoleSummary): string {
  const lines: string[] = [];
  const total = OUTCOMES.reduce((sum, o) => sum + (summary.outcomes[o] ?? 0), 0);
  lines.push(`Signet: last ${plain(summary.range)} (at ${when(summary.generatedAt)} UTC)`);
  lines.push("");
  lines.push(`Requests       ${total}`);
  for (const o of OUTCOMES) lines.push(`  ${pad(o, 12)} ${summary.outcomes[o] ?? 0}`);
  lines.push(`Replays blocked ${summary.replaysBlocked}`);
  lines.push("");
  lines.push("Top verified agents");
  if (summary.agents.length === 0) lines.push("  (none)");
  for (const a of summary.agents) {
    const behalf = a.onBehalfOf ? ` for ${plain(a.onBehalfOf)}` : "";
    lines.push(
      `  ${pad(String(a.count), 6)} ${plain(a.agent)} [${plain(a.profile)}${a.level ? `, ${plain(a.level)}` : ""}]${behalf}`,
    );
  }
  lines.push("");
  lines.push("Top refusal reasons");
  if (summary.reasons.length === 0) lines.push("  (none)");
  for (const r of summary.reasons) {
    const title = r.reason in REJECTION_REASONS ? REJECTION_REASONS[r.reason as RejectionReason].title : "";
    lines.push(`  ${pad(String(r.count), 6)} ${pad(plain(r.reason), 28)} ${title}`);
  }
  lines.push("");
  lines.push("Key directory health");
  if (summary.directories.length === 0) lines.push("  (none)");
  for (const d of summary.directories) {
    const keys = d.keyCount === null ? "" : `, ${d.keyCount} key${d.keyCount === 1 ? "" : "s"}`;
    const fresh = d.freshUntil ? `, fresh until ${when(d.freshUntil)}` : "";
    lines.push(`  ${pad(plain(d.status), 22)} ${plain(d.url)} (${d.pinned ? "pinned" : "fetched"}${keys}${fresh})`);
  }
  lines.push("");
  lines.push("Last refused requests");
  if (summary.refusals.length === 0) lines.push("  (none)");
  for (const r of summary.refusals.slice(0, 10)) {
    const mode = r.mode === "monitor" ? " (monitor)" : "";
    lines.push(`  ${when(r.time)} ${r.status} ${pad(plain(r.reason), 26)} ${plain(r.method)} ${plain(r.path)}${mode}`);
  }
  if (policy) {
    lines.push("");
    lines.push(
      `Policy: ${plain(policy.mode)} mode, ${policy.rules.length} rule${policy.rules.length === 1 ? "" : "s"}`,
    );
    for (const rule of policy.rules) {
      lines.push(`  ${pad(plain(rule.path), 24)} ${plain(rule.methods?.join(",") ?? "all")} -> ${plain(rule.require)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Runs `signet stats`.
 *
 * @example
 * ```ts
 * await stats(["--url", "http://127.0.0.1:8787/.signet/console", "--token", secret], process.stdout);
 * ```
 */
export async function stats(argv: string[], out: NodeJS.WritableStream): Promise<undefined> {
  const { values, positionals } = parseCommandLine(
    argv,
    { url: { type: "string" }, token: { type: "string" }, range: { type: "string" }, json: { type: "boolean" } },
    "stats",
  );
  if (values.help) {
    out.write(`${STATS_HELP}\n`);
    return undefined;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, EXIT_USAGE);
  const url = values.url ?? process.env.SIGNET_CONSOLE_URL;
  const token = values.token ?? process.env.SIGNET_CONSOLE_TOKEN;
  if (!url) throw new CliError("--url (or SIGNET_CONSOLE_URL) is required", EXIT_USAGE);
  if (!token) throw new CliError("--token (or SIGNET_CONSOLE_TOKEN) is required", EXIT_USAGE);
  const range = values.range ?? "1h";
  if (!["1h", "24h", "30d"].includes(range)) throw new CliError("--range must be 1h, 24h or 30d", EXIT_USAGE);
  let endpoint: URL;
  try {
    endpoint = new URL(`${url.replace(/\/+$/, "")}/api/summary`);
  } catch {
    throw new CliError(`--url: not a URL: ${url}`, EXIT_USAGE);
  }
  endpoint.searchParams.set("range", range);
  let response: Response;
  try {
    response = await fetch(endpoint, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
  } catch (err) {
    throw new CliError(`cannot reach ${endpoint.origin}: ${(err as Error).message}`);
  }
  const text = await response.text();
  if (response.status === 401) throw new CliError("the console refused the token (401): check --token");
  if (!response.ok) throw new CliError(`the console answered ${response.status}`);
  let body: ConsoleSummary;
  try {
    body = JSON.parse(text) as ConsoleSummary;
  } catch {
    throw new CliError("the console's answer is not JSON: is --url the console's address?");
  }
  if (typeof body?.summary?.outcomes !== "object") throw new CliError("the console's answer is not a summary");
  out.write(values.json ? `${JSON.stringify(body, null, 2)}\n` : formatStats(body));
  return undefined;
}
