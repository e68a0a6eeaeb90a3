/**
 * The decision log: one structured object per request, written with `console.log` (an object, not a string, so
 * Workers Logs extracts and indexes its fields) and shown by `wrangler tail --format json`. It names who acted (agent, key, profile, level), for
 * whom (person issuer and subject, parent agent), under which rule, and what Signet decided and why.
 *
 * Only values Signet parsed and validated, or that it produced itself, go in: never a signature, a token, a
 * credential, a cookie, a body or a query string. Client-chosen strings that are logged (path, label, keyid) are
 * cut to a short length and to printable ASCII.
 *
 * @module
 */
import type { VerifiedAgent } from "../identity/verified-agent.ts";
import type { Rule } from "../policy/policy.ts";
import type { Rejection } from "../problem-response.ts";
import type { RejectionReason } from "../reasons.ts";
import type { LabelVerdict, RequestVerification } from "../verification/verify-request.ts";

/** What the signature evidence came to: the four outcomes the console charts. */
export type DecisionOutcome = "verified" | "invalid" | "unverified" | "unsigned";

/**
 * Every outcome, in chart order.
 *
 * @example
 * ```ts
 * for (const outcome of DECISION_OUTCOMES) console.log(outcome, summary.outcomes[outcome]);
 * ```
 */
export const DECISION_OUTCOMES: readonly DecisionOutcome[] = ["verified", "invalid", "unverified", "unsigned"];

/**
 * One decision log line. Absent facts are `null`, so every line has the same fields.
 *
 * @example
 * ```ts
 * if (entry.reason === "signature_replayed") alert(entry.agent, entry.keyid);
 * ```
 */
export interface DecisionLogEntry {
  /** Always `"signet.decision"`: the field to filter on in Workers Logs. */
  readonly event: "signet.decision";
  /** ISO 8601 time the request arrived. */
  readonly time: string;
  /** The request's Cloudflare ray id, or a generated id when there is none. */
  readonly id: string;
  readonly method: string;
  /** The path the rule was matched on (no query string). */
  readonly path: string;
  /** The governing rule: its methods and path, e.g. `GET,HEAD /agents/*`, or `* *` for the fallback. */
  readonly rule: string | null;
  readonly outcome: DecisionOutcome;
  /** `forward` or `reject` (in monitor mode, `forward` with `reason` what enforce mode would have refused). */
  readonly action: "forward" | "reject";
  /** The refusal's reason code (or the would-be reason in monitor mode). */
  readonly reason: RejectionReason | null;
  /** The status Signet answered with itself, or the origin's status for a forwarded request. */
  readonly status: number;
  readonly profile: string | null;
  readonly label: string | null;
  /** The agent's identity: its key directory URL, or for a pseudonymous AAuth key, its thumbprint URN. */
  readonly agent: string | null;
  readonly keyid: string | null;
  /** AAuth: pseudonymous, agent, person or authorized. */
  readonly level: string | null;
  readonly person_issuer: string | null;
  readonly person_subject: string | null;
  readonly agent_id: string | null;
  readonly parent_agent: string | null;
  readonly scope: string | null;
  /** `checked`, `unchecked` (store unreachable, rule fails open), `off`, `replayed`, or null (not reached). */
  readonly replay: string | null;
  /** `bound` (the signature covers `Authorization`), `unbound` (presented, not covered), or null (none). */
  readonly bearer: "bound" | "unbound" | null;
  readonly mode: "enforce" | "monitor";
  /** Milliseconds from arrival to the answer. */
  readonly duration_ms: number;
}

/**
 * What the request path knows once the answer is ready: read from `c.get(...)` and the final response.
 *
 * @example
 * ```ts
 * const facts: DecisionFacts = { request, start, end: Date.now(), response, mode: "enforce" };
 * ```
 */
export interface DecisionFacts {
  readonly request: Request;
  /** Arrival time, ms since the epoch. */
  readonly start: number;
  /** Answer time, ms since the epoch. */
  readonly end: number;
  readonly response: Response;
  readonly mode: "enforce" | "monitor";
  readonly rule?: Rule | undefined;
  /** The canonical path the rule was matched on (`c.get("signetPath")`); the path as received when there is none. */
  readonly path?: string | null | undefined;
  readonly verification?: RequestVerification | undefined;
  readonly agent?: VerifiedAgent | null | undefined;
  /** Enforce mode: the refusal sent. */
  readonly rejection?: Rejection | null | undefined;
  /** Monitor mode: the refusal enforce mode would have sent. */
  readonly monitor?: Rejection | null | undefined;
}

const MAX_TEXT = 200;
const RAY = /^[0-9a-f]{16}(-[A-Z]{3})?$/;

/** A client-chosen string, cut short and kept to printable ASCII; `null` when empty. */
function safeText(value: string | undefined | null, max = MAX_TEXT): string | null {
  if (value === undefined || value === null || value === "") return null;
  const printable = value.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

/**
 * The rule as a short, stable name.
 *
 * @example
 * ```ts
 * ruleName({ path: "/agents/*", methods: ["GET"], require: "verified-agent" }); // "GET /agents/*"
 * ```
 */
export function ruleName(rule: Rule | undefined): string | null {
  if (rule === undefined) return null;
  return `${rule.methods?.join(",") ?? "*"} ${rule.path}`;
}

/** The label the decision turned on: the refusal's, the forwarded identity's, else a verified one, else the first. */
function labelOf(facts: DecisionFacts, rejection: Rejection | null | undefined): LabelVerdict | undefined {
  const labels = facts.verification?.labels ?? [];
  const wanted = rejection?.label ?? facts.agent?.label;
  return (
    (wanted === undefined ? undefined : labels.find((l) => l.label === wanted)) ??
    labels.find((l) => l.outcome === "verified") ??
    labels[0]
  );
}

function outcomeOf(
  facts: DecisionFacts,
  rejection: Rejection | null | undefined,
  label?: LabelVerdict,
): DecisionOutcome {
  const verification = facts.verification;
  if (rejection?.reason === "signature_replayed") return "invalid";
  if (facts.agent) return "verified";
  if (verification === undefined) return "unsigned";
  if (verification.fieldError) return "invalid";
  if (verification.labels.length === 0) return "unsigned";
  if (verification.labels.some((l) => l.outcome === "verified")) return "verified";
  if (label?.outcome === "unverified" || verification.labels.every((l) => l.outcome === "unverified")) {
    return "unverified";
  }
  return "invalid";
}

function text(value: string | number | boolean | undefined): string | null {
  return value === undefined ? null : String(value);
}

/**
 * Builds the decision log entry of a request from what the pipeline set and the response it returns.
 *
 * @example
 * ```ts
 * const entry = decisionEntry({ request, start, end: Date.now(), response, mode: "enforce", rule: c.get("signetRule"),
 *   verification: c.get("signetVerification"), agent: c.get("signetAgent"), rejection: c.get("signetRejection") });
 * writeDecisionLog(entry);
 * ```
 */
export function decisionEntry(facts: DecisionFacts): DecisionLogEntry {
  const { request, response } = facts;
  const rejection = facts.rejection ?? facts.monitor ?? undefined;
  const label = labelOf(facts, rejection);
  const identity = facts.agent ?? undefined;
  const extra = identity?.extra ?? {};
  const aauth = label?.aauth;
  const ray = request.headers.get("cf-ray");
  const agent = identity?.agent ?? label?.agent ?? (aauth?.subject ? aauth.subject : undefined);
  const authorization = request.headers.has("authorization");
  return {
    event: "signet.decision",
    time: new Date(facts.start).toISOString(),
    id: ray !== null && RAY.test(ray) ? ray : crypto.randomUUID(),
    method: safeText(request.method, 16) ?? "GET",
    // The URL is parsed only when routing found no canonical path (a monitored unroutable request).
    path: safeText(facts.path ?? new URL(request.url).pathname) ?? "/",
    rule: ruleName(facts.rule),
    outcome: outcomeOf(facts, rejection, label),
    action: facts.rejection ? "reject" : "forward",
    reason: rejection?.reason ?? null,
    status: response.status,
    profile: identity?.profile ?? label?.profile ?? (label ? "web-bot-auth" : null),
    label: safeText(identity?.label ?? label?.label, 64),
    agent: safeText(agent),
    keyid: safeText(identity?.keyid ?? label?.keyid, 128),
    level: text(extra.level) ?? aauth?.level ?? null,
    person_issuer: text(extra.person_issuer) ?? aauth?.personIssuer ?? null,
    person_subject: text(extra.person_subject) ?? aauth?.personSubject ?? null,
    agent_id: text(extra.agent_id) ?? aauth?.agentId ?? null,
    parent_agent: text(extra.parent_agent) ?? aauth?.parentAgent ?? null,
    scope: text(extra.scope) ?? aauth?.scope ?? null,
    replay: rejection?.reason === "signature_replayed" ? "replayed" : text(extra.replay),
    bearer: !authorization ? null : extra.bearer === "bound" ? "bound" : "unbound",
    mode: facts.mode,
    duration_ms: Math.max(0, facts.end - facts.start),
  };
}

/**
 * Whether an entry gets a log line: every refusal and would-be refusal, and accepted requests at the policy's
 * sampling rate.
 *
 * @param random a number in [0, 1) (default `Math.random()`)
 *
 * @example
 * ```ts
 * if (shouldLog(entry, policy.log.sampleAccepted)) writeDecisionLog(entry);
 * ```
 */
export function shouldLog(entry: DecisionLogEntry, sampleAccepted: number, random: number = Math.random()): boolean {
  if (entry.reason !== null || entry.status >= 400) return true;
  return random < sampleAccepted;
}

/**
 * Writes one decision log line: the entry as an object, which Workers Logs indexes field by field.
 *
 * @example
 * ```ts
 * writeDecisionLog(decisionEntry(facts));
 * ```
 */
export function writeDecisionLog(entry: DecisionLogEntry): void {
  console.log(entry);
}
