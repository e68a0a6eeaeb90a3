/**
 * The console's HTML, rendered on the server: a login form, and the page itself (traffic over time as an SVG
 * chart, top agents, refusal reasons, replays, directory health, last refusals, the policy in force). No script
 * at all: the page refreshes itself with a meta refresh. Every value is escaped; the only style is one
 * nonce-bearing `<style>` element, so the Content-Security-Policy can forbid everything else.
 *
 * @module
 */
import type { Policy } from "../policy/policy.ts";
import { REJECTION_REASONS, type RejectionReason } from "../reasons.ts";
import { DECISION_OUTCOMES, type DecisionOutcome } from "./decision-log.ts";
import { type MetricsRange, type MetricsSummary, RANGES } from "./metrics-summary.ts";

/** Seconds between the page's own refreshes. */
export const REFRESH_SECONDS = 30;

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] as string);
}

/** Colours of the outcomes (each at least 4.5:1 against the white page), and what each means. */
const OUTCOME_STYLE: Record<DecisionOutcome, { colour: string; meaning: string }> = {
  verified: { colour: "#1a7f37", meaning: "a signature verified" },
  invalid: { colour: "#cf222e", meaning: "a signature was present and wrong, expired or replayed" },
  unverified: { colour: "#9a6700", meaning: "the signer's keys could not be had" },
  unsigned: { colour: "#57606a", meaning: "no signature" },
};

const STYLE = `
:root{color-scheme:light;--fg:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px}
header{max-width:1280px;margin:0 auto;display:flex;flex-wrap:wrap;gap:12px;align-items:center;justify-content:space-between;padding:14px 24px;border-bottom:1px solid var(--line)}
header h1{font-size:20px;margin:0}
header p{margin:0;color:var(--muted)}
main{padding:16px 24px;max-width:1280px;margin:0 auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:0 0 16px;padding:0;list-style:none}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card b{display:block;font-size:26px;line-height:1.2}
.card span{color:var(--muted)}
section{margin:0 0 22px}
h2{font-size:17px;margin:0 0 8px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:22px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
code.k,.nowrap{white-space:nowrap}
.muted{color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:6px 0;padding:0;list-style:none}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
nav.ranges a{margin-right:10px}
nav.ranges a[aria-current]{font-weight:700;color:var(--fg);text-decoration:none}
.ok{color:#1a7f37}.bad{color:#cf222e}
form.inline{display:inline}
button{font:inherit;padding:5px 12px;border:1px solid var(--line);border-radius:6px;background:var(--panel);cursor:pointer}
.login{max-width:380px;margin:12vh auto;padding:24px;border:1px solid var(--line);border-radius:10px}
.login label{display:block;font-weight:600;margin-bottom:4px}
.login input{width:100%;font:inherit;padding:7px;border:1px solid var(--muted);border-radius:6px;margin-bottom:12px}
.error{color:#cf222e;font-weight:600}
`;

/** Legend swatches as classes: the Content-Security-Policy allows no inline style attributes. */
const LEGEND_STYLE = DECISION_OUTCOMES.map((o) => `.o-${o}{background:${OUTCOME_STYLE[o].colour}}`).join("");

function page(title: string, nonce: string, body: string, refresh: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
${refresh ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">` : ""}
<title>${escapeHtml(title)}</title>
<style nonce="${escapeHtml(nonce)}">${STYLE}${LEGEND_STYLE}</style>
</head>
<body>
${body}
</body>
</html>`;
}

/**
 * The login form.
 *
 * @example
 * ```ts
 * renderLoginPage({ base: "/.signet/console", nonce, error: true });
 * ```
 */
export function renderLoginPage(options: { base: string; nonce: string; error?: boolean }): string {
  const error = options.error ? '<p class="error" role="alert" id="login-error">That secret is not right.</p>' : "";
  return page(
    "Signet console: sign in",
    options.nonce,
    `<main class="login">
<h1>Signet console</h1>
<p class="muted">Enter the console secret (<code>SIGNET_CONSOLE_SECRET</code>).</p>
${error}
<form method="post" action="${escapeHtml(options.base)}/login">
<label for="secret">Console secret</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus${options.error ? ' aria-describedby="login-error"' : ""}>
<button type="submit">Sign in</button>
</form>
</main>`,
    false,
  );
}

/**
 * The parts of the policy the console shows.
 *
 * @example
 * ```ts
 * const view: PolicyView = policyView(parsePolicy(env.SIGNET_POLICY));
 * ```
 */
export interface PolicyView {
  readonly mode: Policy["mode"];
  readonly rules: Policy["rules"];
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly pinned: readonly string[];
  readonly sampleAccepted: number;
}

/**
 * What of a policy the console and its JSON show: mode, rules, lists, pinned agents (by URL), log sampling.
 *
 * @example
 * ```ts
 * const view = policyView(configuration.policy);
 * ```
 */
export function policyView(policy: Policy): PolicyView {
  return {
    mode: policy.mode,
    rules: policy.rules,
    allow: policy.allow,
    deny: policy.deny,
    pinned: policy.pinned.map((p) => p.agent),
    sampleAccepted: policy.log.sampleAccepted,
  };
}

/** The time of day (UTC) of a bucket, for axis labels. */
function clock(ms: number, range: MetricsRange): string {
  const iso = new Date(ms).toISOString();
  return range === "30d" ? iso.slice(5, 10) : `${iso.slice(11, 16)}`;
}

/** The stacked bar chart of traffic by outcome. */
function chart(summary: MetricsSummary): string {
  const width = 960;
  const height = 220;
  const left = 44;
  const bottom = 24;
  const top = 8;
  const points = summary.traffic;
  const totals = points.map((p) => DECISION_OUTCOMES.reduce((sum, o) => sum + p.counts[o], 0));
  const max = Math.max(1, ...totals);
  const plotHeight = height - bottom - top;
  const slot = (width - left) / Math.max(points.length, 1);
  const barWidth = Math.max(1, slot * 0.8);
  const bars: string[] = [];
  points.forEach((point, i) => {
    let y = height - bottom;
    for (const outcome of DECISION_OUTCOMES) {
      const n = point.counts[outcome];
      if (n === 0) continue;
      const h = (n / max) * plotHeight;
      y -= h;
      bars.push(
        `<rect x="${(left + i * slot + (slot - barWidth) / 2).toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${OUTCOME_STYLE[outcome].colour}"><title>${escapeHtml(`${clock(point.time, summary.range)}: ${n} ${outcome}`)}</title></rect>`,
      );
    }
  });
  const ticks: string[] = [];
  for (const fraction of [0, 0.5, 1]) {
    const y = height - bottom - fraction * plotHeight;
    ticks.push(
      `<line x1="${left}" x2="${width}" y1="${y}" y2="${y}" stroke="#d0d7de"/><text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(fraction * max)}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((point, i) => {
    if (i % labelEvery !== 0) return;
    ticks.push(
      `<text x="${(left + i * slot + slot / 2).toFixed(1)}" y="${height - 6}" text-anchor="middle">${escapeHtml(clock(point.time, summary.range))}</text>`,
    );
  });
  const description = DECISION_OUTCOMES.map((o) => `${summary.outcomes[o]} ${o}`).join(", ");
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="chart-title chart-desc" font-size="12" fill="#57606a">
<title id="chart-title">Requests over the last ${escapeHtml(summary.range)} by outcome</title>
<desc id="chart-desc">${escapeHtml(description)}</desc>
${ticks.join("\n")}
${bars.join("\n")}
</svg>`;
}

function cell(value: unknown, empty = "—"): string {
  return value === null || value === undefined || value === ""
    ? `<span class="muted">${empty}</span>`
    : escapeHtml(value);
}

function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms === 0) return '<span class="muted">—</span>';
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")}</time>`;
}

function explain(reason: string): string {
  return reason in REJECTION_REASONS ? REJECTION_REASONS[reason as RejectionReason].title : "";
}

function table(caption: string, head: readonly string[], rows: readonly string[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escapeHtml(empty)}</p>`;
  return `<table><caption class="skip">${escapeHtml(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/**
 * The console page.
 *
 * @example
 * ```ts
 * const html = renderConsolePage(summary, policyView(policy), { base: "/.signet/console", nonce });
 * ```
 */
export function renderConsolePage(
  summary: MetricsSummary,
  policy: PolicyView,
  options: { base: string; nonce: string },
): string {
  const base = escapeHtml(options.base);
  const total = DECISION_OUTCOMES.reduce((sum, o) => sum + summary.outcomes[o], 0);
  const refused = summary.reasons.reduce((sum, r) => sum + r.count, 0);
  const cards = [
    ["Requests", total],
    ...DECISION_OUTCOMES.map((o) => [o[0]?.toUpperCase() + o.slice(1), summary.outcomes[o]] as const),
    ["Refused", refused],
    ["Replays blocked", summary.replaysBlocked],
  ]
    .map(
      ([name, n]) =>
        `<li class="card" data-metric="${escapeHtml(String(name).toLowerCase())}"><b>${escapeHtml(n)}</b><span>${escapeHtml(name)}</span></li>`,
    )
    .join("");
  const ranges = (Object.keys(RANGES) as MetricsRange[])
    .map(
      (r) =>
        `<a href="${base}?range=${r}"${r === summary.range ? ' aria-current="page"' : ""}>${r === "1h" ? "Last hour" : r === "24h" ? "Last 24 hours" : "Last 30 days"}</a>`,
    )
    .join("");
  const legend = DECISION_OUTCOMES.map(
    (o) =>
      `<li><i class="o-${o}"></i><b>${o}</b> <span class="muted">${escapeHtml(OUTCOME_STYLE[o].meaning)}</span></li>`,
  ).join("");
  const agents = summary.agents.map(
    (a) =>
      `<tr><td><code>${cell(a.agent)}</code></td><td>${cell(a.profile)}</td><td>${cell(a.level)}</td><td>${cell(a.onBehalfOf)}</td><td class="n">${escapeHtml(a.count)}</td><td>${time(a.lastSeen)}</td></tr>`,
  );
  const reasons = summary.reasons.map(
    (r) =>
      `<tr><td><code class="k">${escapeHtml(r.reason)}</code></td><td>${cell(explain(r.reason))}</td><td class="n">${escapeHtml(r.count)}</td></tr>`,
  );
  const directories = summary.directories.map(
    (d) =>
      `<tr><td><code>${cell(d.url)}</code></td><td class="${d.status === "ok" ? "ok" : "bad"}">${escapeHtml(d.status)}</td><td>${d.pinned ? "pinned" : "fetched"}</td><td class="n">${cell(d.keyCount)}</td><td>${time(d.fetchedAt)}</td><td>${time(d.freshUntil)}</td><td>${time(d.lastSeen)}</td></tr>`,
  );
  const refusals = summary.refusals.map(
    (r) =>
      `<tr><td>${time(r.time)}</td><td>${escapeHtml(r.method)} <code>${escapeHtml(r.path)}</code></td><td><code class="k">${escapeHtml(r.reason)}</code>${r.mode === "monitor" ? ' <span class="muted">(monitor)</span>' : ""}</td><td class="n">${escapeHtml(r.status)}</td><td>${cell(r.agent)}</td><td class="nowrap">${cell(r.rule)}</td></tr>`,
  );
  const rules = policy.rules.map(
    (r) =>
      `<tr><td><code>${escapeHtml(r.path)}</code></td><td>${cell(r.methods?.join(", "), "all")}</td><td>${escapeHtml(r.require)}</td><td>${cell(r.replay, "default")}</td><td>${cell(r.aauth)}</td><td>${cell([...(r.allow ?? []), ...(r.deny ?? []).map((d) => `deny ${d}`)].join(", "))}</td></tr>`,
  );
  const list = (items: readonly string[]) =>
    items.length === 0
      ? '<span class="muted">none</span>'
      : items.map((i) => `<code>${escapeHtml(i)}</code>`).join(", ");
  return page(
    "Signet console",
    options.nonce,
    `<a class="skip" href="#main">Skip to content</a>
<header>
<div><h1>Signet console</h1><p>Agent traffic through this gateway · updated ${time(summary.generatedAt)} UTC · refreshes every ${REFRESH_SECONDS} s</p></div>
<form class="inline" method="post" action="${base}/logout"><button type="submit">Sign out</button></form>
</header>
<main id="main">
<nav class="ranges" aria-label="Time range">${ranges}</nav>
<h2 class="skip">Totals</h2>
<ul class="cards" aria-label="Totals over the range">${cards}</ul>
<section aria-labelledby="traffic"><h2 id="traffic">Traffic by outcome</h2>
<ul class="legend">${legend}</ul>
${chart(summary)}
</section>
<div class="grid">
<section aria-labelledby="agents-h"><h2 id="agents-h">Top verified agents</h2>
${table("Top verified agents", ["Agent", "Profile", "Level", "On behalf of", "Requests", "Last seen"], agents, "No verified agent in this range.")}
</section>
<section aria-labelledby="reasons-h"><h2 id="reasons-h">Top refusal reasons</h2>
${table("Top refusal reasons", ["Reason", "What it means", "Requests"], reasons, "Nothing refused in this range.")}
</section>
</div>
<section aria-labelledby="refusals-h"><h2 id="refusals-h">Last refused requests</h2>
${table("Last refused requests", ["Time (UTC)", "Request", "Reason", "Status", "Agent", "Rule"], refusals, "No refusal recorded.")}
</section>
<section aria-labelledby="dirs-h"><h2 id="dirs-h">Key directory health</h2>
${table("Key directory health", ["Key set", "Status", "Source", "Keys", "Fetched", "Fresh until", "Last used"], directories, "No key set used yet.")}
</section>
<section aria-labelledby="policy-h"><h2 id="policy-h">Policy in force</h2>
<p>Mode: <b>${escapeHtml(policy.mode)}</b> · accepted requests logged: ${escapeHtml(Math.round(policy.sampleAccepted * 100))}% · allow: ${list(policy.allow)} · deny: ${list(policy.deny)} · pinned: ${list(policy.pinned)}</p>
${table("Rules", ["Path", "Methods", "Requires", "Replay", "AAuth", "Lists"], rules, "No rules: every path takes the default (verify when signed, refuse nothing).")}
<p class="muted">JSON for scripts: <a href="${base}/api/summary?range=${escapeHtml(summary.range)}"><code>${base}/api/summary</code></a> (same protection; <code>signet stats</code> reads it).</p>
</section>
</main>`,
    true,
  );
}
