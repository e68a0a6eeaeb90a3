/**
 * `signet explain`: why the edge accepts or refuses a captured request, label by label, using the very same
 * verification pipeline and decision as the Worker.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { aauthKeyCacheFor, keyCacheFor } from "../../worker/configuration.ts";
import {
  type AgentReference,
  findInKeySet,
  type KeyLookup,
  type KeySource,
  parseKeySet,
} from "../../worker/discovery/index.ts";
import { parsePolicy } from "../../worker/policy/parse-policy.ts";
import type { Policy, Rule } from "../../worker/policy/policy.ts";
import { routeRequest } from "../../worker/policy/route.ts";
import { REJECTION_REASONS } from "../../worker/reasons.ts";
import {
  type HttpRequestMessage,
  type Jwk,
  parseComponent,
  parseHttpMessage,
  parseTargetUri,
  privateMembersOf,
  publicJwkOf,
  SignatureError,
  signatureBase,
} from "../../worker/rfc9421/index.ts";
import { type Decision, decide } from "../../worker/verification/decide.ts";
import {
  type LabelVerdict,
  type RequestVerification,
  requestOutcome,
  verifyRequest,
} from "../../worker/verification/verify-request.ts";
import { parseCommandLine } from "./arguments.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./cli-error.ts";

/** Help text of `signet explain`. */
export const EXPLAIN_HELP = `Usage: signet explain [options] [FILE]

Reads a raw HTTP/1.1 request (FILE, or standard input) and explains, for each signature (Web Bot Auth or
AAuth, each judged by its own profile's checks), the signature base Signet rebuilt, its parameters, which checks
pass or fail with their reason codes, the key used, and what the edge decides. It runs the same verification
pipeline as the Worker.

  --jwks FILE       verify with the keys of this JWK Set (or single JWK) instead of fetching the signer's directory;
                    a private key (signet keygen's file) is used by its public half, and a note says so
  --now SECONDS     judge the request at this Unix time (captured requests, test vectors)
  --policy FILE     the SIGNET_POLICY JSON to judge by (default: the defaults, and a route that requires a
                    verified agent, so the decision shows what a protected route would do)
  --scheme S        https (default) or http: the scheme the request arrived over
  --allow-test-keys accept the published RFC 9421 test keys
  --json            one JSON object per line: one per label, then the decision
  -h, --help        this help

Exit status: 0 when the edge would forward the request, 1 when it would refuse it, 2 for a usage error.`;

/** The checks of one signature, in the order the pipeline makes them, with Web Bot Auth's wording. */
const CHECKS = [
  { name: "fields", title: "Signature-Input and Signature entries parse" },
  { name: "parameters", title: "created, expires and keyid are present" },
  { name: "components", title: "@authority or @target-uri is covered" },
  { name: "freshness", title: "within its validity window and the policy's limits" },
  { name: "algorithm", title: "the algorithm is accepted" },
  { name: "signature-agent", title: "the covered Signature-Agent member names the agent" },
  { name: "key", title: "the agent's key for this keyid is known and usable" },
  { name: "signature-base", title: "the signature base can be built" },
  { name: "signature", title: "the signature verifies" },
  { name: "content-digest", title: "the body matches Content-Digest" },
] as const;

/** AAuth (HTTP Signature Keys) judges the same stages by its own rules: these are its wordings where they differ. */
const AAUTH_TITLES: Readonly<Partial<Record<CheckName, string>>> = {
  fields: "Signature-Input, Signature and Signature-Key entries parse",
  parameters: "created is present (the key comes from Signature-Key, not from keyid)",
  components: "@method, @authority, @path and signature-key are covered",
  freshness: "created is within the clock window, and expires (if any) has not passed",
  "signature-agent": "the covered Signature-Key entry names the key (scheme hwk, jwks_uri or jwt)",
  key: "the key is usable (hwk), or the token and its issuer's key verify (jwt)",
};

/** A check's wording for the label's profile. */
function titleOf(check: CheckName, profile: string | undefined): string {
  const own = profile === "aauth" ? AAUTH_TITLES[check] : undefined;
  return own ?? (CHECKS.find((c) => c.name === check)?.title as string);
}

type CheckName = (typeof CHECKS)[number]["name"];

/** Which check a failure code belongs to. */
const CHECK_OF_CODE: Readonly<Record<string, CheckName>> = {
  missing_required_parameter: "parameters",
  missing_required_component: "components",
  created_in_future: "freshness",
  invalid_validity: "freshness",
  signature_expired: "freshness",
  signature_too_old: "freshness",
  validity_too_long: "freshness",
  unsupported_algorithm: "algorithm",
  algorithm_not_allowed: "algorithm",
  missing_signature_agent: "signature-agent",
  signature_agent_not_covered: "signature-agent",
  ambiguous_signature_agent: "signature-agent",
  signature_agent_member_missing: "signature-agent",
  unusable_signature_agent: "signature-agent",
  egress_refused: "key",
  directory_unreachable: "key",
  directory_rejected: "key",
  directory_invalid: "key",
  directory_signature_invalid: "key",
  key_not_found: "key",
  test_key_refused: "key",
  unknown_key: "key",
  invalid_key: "key",
  weak_key: "key",
  algorithm_mismatch: "key",
  missing_field: "signature-base",
  missing_trailer: "signature-base",
  missing_dictionary_member: "signature-base",
  invalid_structured_field: "signature-base",
  missing_query_param: "signature-base",
  repeated_query_param: "signature-base",
  request_target_unavailable: "signature-base",
  invalid_target_uri: "signature-base",
  non_ascii_base: "signature-base",
  component_not_applicable: "signature-base",
  invalid_signature_length: "signature",
  invalid_signature: "signature",
  // AAuth (HTTP Signature Keys) error codes.
  invalid_input: "components",
  clock_skew: "freshness",
  unsupported_scheme: "signature-agent",
  invalid_request: "fields",
  invalid_jwt: "key",
  expired_jwt: "key",
  revoked_jwt: "key",
  issuer_missing: "key",
  issuer_mismatch: "key",
  cache_miss: "key",
  content_digest_mismatch: "content-digest",
  unsupported_digest_algorithm: "content-digest",
  malformed_content_digest: "content-digest",
  missing_body: "content-digest",
};

/** One check's result. */
interface CheckResult {
  readonly check: CheckName;
  readonly status: "pass" | "fail" | "not reached" | "not applicable";
  readonly code?: string;
}

/**
 * Runs `signet explain`.
 *
 * @returns the exit status: 0 when the edge would forward, 1 when it would refuse
 *
 * @example
 * ```ts
 * const status = await explain(["--jwks", "keys.json", "--now", "1735689600", "request.txt"], process.stdout);
 * ```
 */
export async function explain(
  argv: string[],
  out: NodeJS.WritableStream,
  stdin: NodeJS.ReadableStream,
): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      jwks: { type: "string" },
      now: { type: "string" },
      policy: { type: "string" },
      scheme: { type: "string" },
      "allow-test-keys": { type: "boolean" },
      json: { type: "boolean" },
    },
    "explain",
  );
  if (values.help) {
    out.write(`${EXPLAIN_HELP}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new CliError("explain: give at most one FILE", EXIT_USAGE);
  if (values.now !== undefined && !/^\d+$/.test(values.now)) {
    throw new CliError(`explain: --now must be Unix seconds, got "${values.now}"`, EXIT_USAGE);
  }
  const scheme = values.scheme ?? "https";
  if (scheme !== "https" && scheme !== "http")
    throw new CliError("explain: --scheme must be https or http", EXIT_USAGE);
  const now = values.now === undefined ? undefined : Number(values.now);

  const text = positionals[0] === undefined ? await readAll(stdin) : await readText(positionals[0]);
  const message = parseHttpMessage(text, { scheme });
  if (message.kind !== "request") throw new CliError("explain: the input is a response; give a request");

  const policy = await policyFrom(values.policy, values["allow-test-keys"] === true);
  const keys =
    values.jwks === undefined
      ? keyCacheFor(policy, { cache: null })
      : await fileKeys(values.jwks, policy.allowTestKeys);
  const verification = await verifyRequest(message, {
    policy,
    keys,
    aauthKeys: aauthKeyCacheFor(policy, { cache: null }),
    now: now === undefined ? undefined : () => now,
  });
  const path = parseTargetUri(message.targetUri).path;
  // As at the edge: the rule is chosen on the canonical path, and a path without one single rule is refused.
  const route = routeRequest(policy, message.method, path);
  const rule: Pick<Rule, "path" | "require"> = "rule" in route ? route.rule : { path: "(none)", require: "none" };
  const body = message.body;
  const hasBody = body instanceof Uint8Array ? body.byteLength > 0 : body !== undefined;
  const decision: Decision =
    "rule" in route
      ? decide(verification, route.rule, policy, { method: message.method, hasBody })
      : { action: "reject", rejection: { reason: "path_ambiguous", detail: route.detail } };
  const forward = decision.action === "forward" || policy.mode === "monitor";

  if (values.json) {
    for (const label of verification.labels) out.write(`${JSON.stringify(labelJson(message, label))}\n`);
    out.write(`${JSON.stringify(decisionJson(verification, decision, rule.path, rule.require))}\n`);
  } else {
    out.write(describe(message, verification, now));
    const verdict = decisionJson(verification, decision, rule.path, rule.require);
    out.write(
      `decision on ${message.method} ${path} (rule "${rule.path}", requires ${rule.require}): ` +
        (verdict.action === "forward"
          ? `forward${verdict.agent ? ` as ${verdict.agent}` : " as anonymous"}\n`
          : `refuse ${verdict.status} ${verdict.reason}: ${verdict.detail}\n`),
    );
  }
  return forward ? 0 : EXIT_FAILURE;
}

function describe(message: HttpRequestMessage, verification: RequestVerification, now: number | undefined): string {
  const lines: string[] = [`${message.method} ${message.targetUri}`];
  lines.push(
    `judged at ${now === undefined ? "the current time" : `${now} (${iso(now)})`}; outcome: ${requestOutcome(verification)}`,
    "",
  );
  if (verification.fieldError) {
    const e = verification.fieldError;
    lines.push(`the signature fields cannot be used: ${e.code}: ${e.message}`, "");
  }
  if (verification.labels.length === 0 && !verification.fieldError) lines.push("no Web Bot Auth signature", "");
  for (const label of verification.otherLabels) lines.push(`${label}: ignored (not tag="web-bot-auth")`, "");
  for (const label of verification.labels) {
    lines.push(
      `${label.label}: ${label.outcome}${label.code ? ` (${label.code})` : ""} [${label.profile ?? "web-bot-auth"}]`,
    );
    if (label.aauth) lines.push(`  level:      ${label.aauth.level} (scheme ${label.aauth.scheme})`);
    if (label.requiredInput?.length) lines.push(`  cover also: ${label.requiredInput.join(" ")}`);
    if (label.message && label.outcome !== "verified") lines.push(`  why:        ${label.message}`);
    if (label.agent) lines.push(`  agent:      ${label.agent}${label.pinned ? " (pinned)" : ""}`);
    if (label.keyid) lines.push(`  keyid:      ${label.keyid}`);
    if (label.algorithm) lines.push(`  algorithm:  ${label.algorithm}`);
    const params = label.params ?? {};
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined || (name === "keyid" && label.keyid !== undefined)) continue;
      const when = name === "created" || name === "expires" ? ` (${iso(value as number)})` : "";
      lines.push(`  ${`${name}:`.padEnd(11)} ${String(value)}${when}`);
    }
    lines.push("  checks:");
    for (const check of checksOf(label)) {
      const mark = { pass: "ok  ", fail: "FAIL", "not reached": "--  ", "not applicable": "n/a " }[check.status];
      const title = titleOf(check.check, label.profile);
      lines.push(`    ${mark} ${title}${check.code ? `: ${check.code}` : ""}`);
    }
    const base = baseOf(message, label);
    if (base.text !== undefined) {
      lines.push(
        label.base === undefined ? "  signature base (rebuilt; the pipeline stopped before it):" : "  signature base:",
      );
      for (const line of base.text.split("\n")) lines.push(`    ${line}`);
    } else if (base.error !== undefined) {
      lines.push(`  signature base: cannot be built: ${base.error}`);
    }
    lines.push("");
  }
  return `${lines.join("\n")}\n`;
}

/** The base the pipeline built, or else one rebuilt here so a refused signature can still be compared. */
function baseOf(message: HttpRequestMessage, label: LabelVerdict): { text?: string; error?: string } {
  if (label.base !== undefined) return { text: label.base };
  if (label.signatureParams === undefined) return {};
  try {
    const components = label.components.map((c) => parseComponent(c, "request"));
    return { text: signatureBase(message, components, label.signatureParams) };
  } catch (err) {
    return { error: err instanceof SignatureError ? `${err.code}: ${err.message}` : String(err) };
  }
}

/** The checks of a label: those before the failing one passed, later ones were not reached. */
function checksOf(label: LabelVerdict): CheckResult[] {
  const coversDigest = label.components.includes('"content-digest"');
  if (label.outcome === "verified") {
    return CHECKS.map((c) => ({
      check: c.name,
      status: c.name === "content-digest" && !coversDigest ? "not applicable" : "pass",
    }));
  }
  const failed: CheckName = CHECK_OF_CODE[label.code ?? ""] ?? "fields";
  const at = CHECKS.findIndex((c) => c.name === failed);
  return CHECKS.map((c, i) => {
    if (i < at) return { check: c.name, status: "pass" };
    if (i === at) return { check: c.name, status: "fail", code: label.code };
    return { check: c.name, status: c.name === "content-digest" && !coversDigest ? "not applicable" : "not reached" };
  });
}

function labelJson(message: HttpRequestMessage, label: LabelVerdict) {
  return {
    label: label.label,
    profile: label.profile ?? "web-bot-auth",
    outcome: label.outcome,
    reason: label.code ?? null,
    level: label.aauth?.level ?? null,
    required_input: label.requiredInput ?? null,
    reason_source: label.codeSource ?? null,
    message: label.outcome === "verified" ? null : (label.message ?? null),
    agent: label.agent ?? null,
    keyid: label.keyid ?? null,
    algorithm: label.algorithm ?? null,
    params: label.params ?? {},
    components: label.components,
    checks: checksOf(label),
    base: baseOf(message, label).text ?? null,
  };
}

function decisionJson(
  verification: RequestVerification,
  decision: ReturnType<typeof decide>,
  rulePath: string,
  requirement: string,
) {
  const common = { decision: true, outcome: requestOutcome(verification), rule: rulePath, requires: requirement };
  if (decision.action === "forward") {
    return { ...common, action: "forward" as const, agent: decision.identity?.agent ?? null };
  }
  const { rejection } = decision;
  return {
    ...common,
    action: "refuse" as const,
    status: REJECTION_REASONS[rejection.reason].status,
    reason: rejection.reason,
    detail: rejection.detail,
    signature_error: rejection.signatureError ?? null,
    discovery_error: rejection.discoveryError ?? null,
    label: rejection.label ?? null,
  };
}

async function policyFrom(path: string | undefined, allowTestKeys: boolean): Promise<Policy> {
  let policy: Policy;
  if (path === undefined) {
    policy = parsePolicy(JSON.stringify({ rules: [{ path: "*", require: "verified-agent" }] }));
  } else {
    try {
      policy = parsePolicy(await readText(path));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`explain: ${(err as Error).message}`, EXIT_USAGE);
    }
  }
  return allowTestKeys ? { ...policy, allowTestKeys: true } : policy;
}

/** Keys from a local file: a JWK Set (or one JWK) standing in for whatever agent the signature names. */
async function fileKeys(path: string, allowTestKeys: boolean): Promise<KeySource> {
  let document: unknown;
  try {
    document = JSON.parse(await readText(path));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`explain: ${path} is not JSON`, EXIT_USAGE);
  }
  const given =
    typeof document === "object" && document !== null && "keys" in document ? document : { keys: [document] };
  // A private key file (signet keygen's) stands for its public half: that is all verifying needs.
  const keys = (given as { keys?: unknown }).keys;
  let privateCount = 0;
  const set = !Array.isArray(keys)
    ? given
    : {
        keys: keys.map((key: unknown) => {
          if (typeof key !== "object" || key === null || privateMembersOf(key as object).length === 0) return key;
          privateCount += 1;
          return publicJwkOf(key as Jwk);
        }),
      };
  if (privateCount > 0) {
    process.stderr.write(
      `signet: note: ${path} holds ${privateCount === 1 ? "a private key" : `${privateCount} private keys`}; explain uses only the public half\n`,
    );
  }
  const parsed = await parseKeySet(set, { kind: "jwks", allowTestKeys, maxKeys: 256 });
  if (!parsed.ok) throw new CliError(`explain: ${path}: ${parsed.message}`, EXIT_USAGE);
  return {
    async findKey(agent: AgentReference, keyid: string): Promise<KeyLookup> {
      const match = findInKeySet(parsed.keySet, keyid, true);
      if (match.found) return { ok: true, key: match.key.key, agent, pinned: true };
      if (match.refused) return { ok: false, code: match.refused.code, message: match.refused.message };
      return { ok: false, code: "key_not_found", message: `${path} has no key with keyid ${keyid}` };
    },
  };
}

async function readText(path: string): Promise<string> {
  try {
    // latin1 keeps every byte of a captured request as one character, as field values are byte strings.
    return await readFile(path, "latin1");
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("latin1");
}

function iso(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? "invalid time" : date.toISOString().replace(".000Z", "Z");
}
