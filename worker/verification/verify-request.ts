/**
 * The Web Bot Auth verification of one request: every `tag="web-bot-auth"` signature judged on its own, each
 * with the agent its covered `Signature-Agent` member names and keys found through discovery or pinning.
 * The Worker, the Hono middleware and `signet explain` all run this same function.
 *
 * @module
 */
import { type AAuthKeyCache, type AAuthLabelVerdict, toLabelVerdict, verifyAAuthLabels } from "../aauth/index.ts";
import type { KeyLookup, KeySource } from "../discovery/key-source.ts";
import { createRequestBudget, type RequestBudget } from "../discovery/request-budget.ts";
import type { Policy } from "../policy/policy.ts";
import {
  combinedField,
  type HttpRequestMessage,
  type JoseAlgorithm,
  parseSignatures,
  precheckSignature,
  type SignatureEntry,
  SignatureError,
  serializeComponent,
  type VerifyOptions,
  verifySignatures,
} from "../rfc9421/index.ts";
import type { LabelOutcome, LabelVerdict, RequestVerification, SignatureFields } from "../verdict.ts";
import { MalformedSignatureAgentError, resolveSignatureAgent } from "./signature-agent.ts";

/** The Web Bot Auth signature tag. */
export const WEB_BOT_AUTH_TAG = "web-bot-auth";

/** What every Web Bot Auth signature carries (the same arrays each time, so the core compiles them once). */
const WEB_BOT_AUTH_PARAMETERS = Object.freeze(["created", "expires", "keyid"] as const);
const WEB_BOT_AUTH_COMPONENTS = Object.freeze([Object.freeze(["@authority", "@target-uri"])]);

export type { FieldError, LabelOutcome, LabelVerdict, RequestVerification, SignatureFields } from "../verdict.ts";

/** What {@link verifyRequest} needs besides the request. */
export interface VerifyRequestOptions {
  readonly policy: Policy;
  readonly keys: KeySource;
  /** Where AAuth key schemes and tokens find their issuers' metadata and keys; without it AAuth is not judged. */
  readonly aauthKeys?: AAuthKeyCache | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
  /** The request's budget. Default: a fresh one from `policy.budget`. */
  readonly budget?: RequestBudget | undefined;
}

interface Resolution {
  agent?: string;
  pinned?: boolean;
  failure?: { outcome: LabelOutcome; code: string; source: "signature-agent" | "discovery"; message: string };
}

/**
 * Verifies the signatures of a request, each label by its profile. Web Bot Auth labels (`tag="web-bot-auth"`):
 * `created`, `expires` and `keyid` required, `@authority` or `@target-uri` covered, validity no longer than policy,
 * `created` not ahead of the clock skew, the algorithm allowed, and the key looked up by (key set URL, keyid) for
 * the `Signature-Agent` member the signature covers. Labels with a `Signature-Key` member (and no Web Bot Auth
 * tag) are judged under AAuth / HTTP Signature Keys (see `worker/aauth/`), when `aauthKeys` is given.
 *
 * @example
 * ```ts
 * const verification = await verifyRequest(requestFromFetch(request), { policy, keys });
 * const verified = verification.labels.filter((l) => l.outcome === "verified");
 * ```
 */
export async function verifyRequest(
  message: HttpRequestMessage,
  options: VerifyRequestOptions,
): Promise<RequestVerification> {
  const budget = options.budget ?? createRequestBudget(options.policy.budget);
  const hasSignatureKey =
    options.aauthKeys !== undefined && combinedField(message.headers, "signature-key") !== undefined;
  // Signature-Input and Signature are parsed here, once; every later step takes the parsed entries, and the
  // attestation the labels found (`signatureFields`).
  let entries: SignatureEntry[];
  const signatureInput = combinedField(message.headers, "signature-input");
  const signature = combinedField(message.headers, "signature");
  // Unsigned (most traffic on open routes): nothing to parse, and no no_signature error to build and throw.
  if (signatureInput === undefined && signature === undefined) {
    if (!hasSignatureKey) return { labels: [], otherLabels: [], signatureFields: NO_LABELS };
    return { ...(await judge(message, [], budget, hasSignatureKey, options)), signatureFields: NO_LABELS };
  }
  try {
    entries = parseSignatures({ signatureInput, signature }, "request");
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    if (err.code !== "no_signature") {
      return {
        labels: [],
        otherLabels: [],
        fieldError: { reason: "malformed_signature_fields", code: err.code, message: err.message },
        signatureFields: { error: err.code },
      };
    }
    if (!hasSignatureKey) return { labels: [], otherLabels: [], signatureFields: NO_LABELS };
    entries = [];
  }
  const verification = await judge(message, entries, budget, hasSignatureKey, options);
  const labels = entries.map((entry) => entry.label);
  // Every entry names its label; were one not to, the attester parses the fields itself rather than guess.
  if (labels.some((label) => label === undefined)) return verification;
  return { ...verification, signatureFields: labels.length === 0 ? NO_LABELS : { labels: labels as string[] } };
}

const NO_LABELS: SignatureFields = Object.freeze({ labels: Object.freeze([]) });

/** Judges the parsed entries, each label by its profile. */
async function judge(
  message: HttpRequestMessage,
  entries: SignatureEntry[],
  budget: RequestBudget,
  hasSignatureKey: boolean,
  options: VerifyRequestOptions,
): Promise<RequestVerification> {
  // Beyond the label budget nothing is judged, and each such label says so.
  const judged = entries.slice(0, budget.limits.maxLabels);
  const skipped = entries.slice(budget.limits.maxLabels);
  const webBotAuthWork = verifyWebBotAuth(message, judged, budget, options);
  if (!hasSignatureKey) return withSkipped(await webBotAuthWork, skipped, budget, false);
  const { aauth } = options.policy;
  // The two profiles' key lookups are independent: run them side by side.
  const [webBotAuth, aauthResult] = await Promise.all([
    webBotAuthWork,
    verifyAAuthLabels(message, {
      resource: aauth.resource,
      schemes: aauth.schemes,
      algorithms: aauth.algorithms as JoseAlgorithm[],
      signatureWindow: aauth.signatureWindow,
      bodyIntegrity: aauth.bodyIntegrity,
      additionalComponents: aauth.additionalComponents,
      trustedKeySets: aauth.trustedKeySets,
      cache: options.aauthKeys,
      now: options.now,
      unsafeAllowLoopback: options.policy.discovery.unsafeAllowLoopback,
      allowTestKeys: options.policy.allowTestKeys,
      entries: entries.length === 0 ? undefined : judged,
      budget,
    }),
  ]);
  const judgedByAAuth = new Set(aauthResult.labels.map((l) => l.label));
  const labels = [...webBotAuth.labels, ...aauthResult.labels.map(aauthVerdict)];
  const fieldError =
    webBotAuth.fieldError ??
    (aauthResult.fieldError === undefined
      ? undefined
      : {
          reason: "signature_invalid" as const,
          code: aauthResult.fieldError.code,
          message: aauthResult.fieldError.message,
          profile: "aauth" as const,
        });
  return withSkipped(
    { labels, otherLabels: webBotAuth.otherLabels.filter((label) => !judgedByAAuth.has(label)), fieldError },
    skipped,
    budget,
    true,
  );
}

/** Adds a `label_limit` verdict for every label past the budget that either profile would have judged. */
function withSkipped(
  verification: RequestVerification,
  skipped: readonly SignatureEntry[],
  budget: RequestBudget,
  hasSignatureKey: boolean,
): RequestVerification {
  if (skipped.length === 0 || verification.fieldError !== undefined) return verification;
  const labels = [...verification.labels];
  const otherLabels = [...verification.otherLabels];
  const max = budget.limits.maxLabels;
  for (const entry of skipped) {
    const label = entry.label as string;
    const tag = entry instanceof SignatureError ? undefined : entry.params.tag;
    if (tag !== WEB_BOT_AUTH_TAG && !hasSignatureKey) {
      otherLabels.push(label);
      continue;
    }
    // No profile: the refusal is the same for both (agent_unverified, discovery_error label_limit).
    labels.push({
      label,
      outcome: "unverified",
      code: "label_limit",
      codeSource: "discovery",
      message: `the request carries more than ${max} signatures; Signet judges the first ${max} only`,
      components: [],
      coversAuthorization: false,
    });
  }
  return { ...verification, labels, otherLabels };
}

/** An AAuth verdict in the pipeline's shape, with the names the signer goes by. */
function aauthVerdict(verdict: AAuthLabelVerdict): LabelVerdict {
  const base = toLabelVerdict(verdict);
  const identity = verdict.identity;
  const pseudonym = identity === undefined ? undefined : (identity.subject ?? `urn:jkt:sha-256:${identity.thumbprint}`);
  // An agent id when a token names one; else the key set (identified only if trusted: see `aauth.level`); else
  // the key's own pseudonym.
  const agent = identity?.agentId ?? identity?.keySet ?? pseudonym;
  const identities = [identity?.agentId, identity?.agentProvider, identity?.keySet, pseudonym].filter(
    (name): name is string => name !== undefined,
  );
  return {
    ...base,
    profile: "aauth",
    agent: verdict.outcome === "verified" ? agent : undefined,
    keyid: identity?.thumbprint ?? base.keyid,
    aauth: identity,
    requiredInput: verdict.requiredInput,
    identities: verdict.outcome === "verified" ? identities : undefined,
  };
}

async function verifyWebBotAuth(
  message: HttpRequestMessage,
  entries: readonly SignatureEntry[],
  budget: RequestBudget,
  options: VerifyRequestOptions,
): Promise<RequestVerification> {
  const signatureAgent = combinedField(message.headers, "signature-agent");
  const resolutions = new Map<string, Resolution>();
  const { policy } = options;
  const agents = new Map<string, ReturnType<typeof resolveSignatureAgent>>();
  const lookups = new Map<string, Promise<KeyLookup>>();
  const verifyOptions: VerifyOptions = {
    entries,
    tag: WEB_BOT_AUTH_TAG,
    requiredParameters: WEB_BOT_AUTH_PARAMETERS,
    requiredComponents: WEB_BOT_AUTH_COMPONENTS,
    algorithms: policy.algorithms,
    maxValidity: policy.freshness.maxValidity,
    maxAge: policy.freshness.maxAge,
    clockSkew: policy.freshness.clockSkew,
    now: options.now,
    keys: async (candidate) => {
      const resolution: Resolution = {};
      resolutions.set(candidate.label, resolution);
      const agent =
        agents.get(candidate.label) ?? resolveSignatureAgent(signatureAgent, candidate.componentIds, candidate.label);
      if (!agent.ok) {
        resolution.failure = {
          outcome: agent.outcome,
          code: agent.code,
          source: "signature-agent",
          message: agent.message,
        };
        return { reason: "unknown_key", message: agent.message };
      }
      resolution.agent = agent.agent.keySetUrl;
      const found =
        (await lookups.get(lookupKey(agent.agent.keySetUrl, candidate.keyid as string))) ??
        agentLimit(options.policy.discovery.maxAgentsPerRequest);
      if (!found.ok) {
        resolution.failure = { outcome: "unverified", code: found.code, source: "discovery", message: found.message };
        return { reason: "unknown_key", message: found.message };
      }
      resolution.pinned = found.pinned;
      return found.key;
    },
  };
  let outcomes: Awaited<ReturnType<typeof verifySignatures>>;
  try {
    startKeyLookups(entries, signatureAgent, verifyOptions, budget, options, { lookups, agents });
    outcomes = await verifySignatures(message, verifyOptions);
  } catch (err) {
    if (err instanceof MalformedSignatureAgentError) {
      return {
        labels: [],
        otherLabels: [],
        fieldError: { reason: "malformed_signature_agent", code: "malformed_signature_agent", message: err.message },
      };
    }
    if (err instanceof SignatureError) {
      if (err.code === "no_signature") return { labels: [], otherLabels: [] };
      return {
        labels: [],
        otherLabels: [],
        fieldError: { reason: "malformed_signature_fields", code: err.code, message: err.message },
      };
    }
    throw err;
  }

  const labels: LabelVerdict[] = [];
  const otherLabels: string[] = [];
  for (const outcome of outcomes) {
    if (!outcome.verified && outcome.error.code === "tag_mismatch") {
      otherLabels.push(outcome.label);
      continue;
    }
    const resolution = resolutions.get(outcome.label) ?? {};
    if (outcome.verified) {
      const r = outcome.result;
      labels.push({
        label: r.label,
        profile: "web-bot-auth",
        outcome: "verified",
        agent: resolution.agent,
        identities: resolution.agent === undefined ? undefined : [resolution.agent],
        pinned: resolution.pinned,
        keyid: r.keyid,
        algorithm: r.algorithm,
        params: r.params,
        components: r.components.map(serializeComponent),
        signatureParams: r.signatureParams,
        base: r.base,
        coversAuthorization: r.components.some((c) => c.name === "authorization" && c.params.size === 0),
        signature: r.signature,
      });
      continue;
    }
    const failure = outcome.error.code === "unknown_key" ? resolution.failure : undefined;
    const signature = outcome.signature;
    labels.push({
      label: outcome.label,
      profile: "web-bot-auth",
      outcome: failure?.outcome ?? "invalid",
      code: failure?.code ?? outcome.error.code,
      codeSource: failure?.source ?? "signature",
      message: failure?.message ?? outcome.error.message,
      agent: resolution.agent,
      keyid: signature?.params.keyid,
      params: signature?.params,
      components: signature?.components.map(serializeComponent) ?? [],
      signatureParams: signature?.signatureParams,
      base: outcome.base,
      coversAuthorization:
        signature?.components.some((c) => c.name === "authorization" && c.params.size === 0) ?? false,
      signature: signature?.signature,
    });
  }
  return { labels, otherLabels };
}

function lookupKey(keySetUrl: string, keyid: string): string {
  return `${keySetUrl}\n${keyid}`;
}

function agentLimit(max: number): KeyLookup {
  return {
    ok: false,
    code: "agent_limit",
    message: `the request names more than ${max} agents; Signet looks up keys for the first ${max} only`,
  };
}

/**
 * Starts, at once, every key lookup the request's Web Bot Auth signatures will need, so that several slow key
 * directories cost one deadline rather than one each. Cheap before dear: a signature that the checks needing no
 * key refuse (parameters, coverage, window, algorithm), or that is unusable (no keyid, another tag, unparseable),
 * starts nothing; at most `discovery.maxAgentsPerRequest` distinct agents are looked up, all within the
 * request's budget. A malformed `Signature-Agent` throws {@link MalformedSignatureAgentError}.
 */
function startKeyLookups(
  entries: readonly SignatureEntry[],
  signatureAgent: string | undefined,
  verifyOptions: VerifyOptions,
  budget: RequestBudget,
  options: VerifyRequestOptions,
  into: {
    lookups: Map<string, Promise<KeyLookup>>;
    agents: Map<string, ReturnType<typeof resolveSignatureAgent>>;
  },
): void {
  const agents = new Set<string>();
  const max = options.policy.discovery.maxAgentsPerRequest;
  for (const entry of entries) {
    if (entry instanceof SignatureError) continue;
    const { keyid, tag } = entry.params;
    if (tag !== WEB_BOT_AUTH_TAG || keyid === undefined) continue;
    if (precheckSignature(entry, verifyOptions) !== undefined) continue;
    const agent = resolveSignatureAgent(signatureAgent, entry.components, entry.label);
    into.agents.set(entry.label, agent);
    if (!agent.ok) continue;
    const key = lookupKey(agent.agent.keySetUrl, keyid);
    if (into.lookups.has(key)) continue;
    if (!agents.has(agent.agent.keySetUrl)) {
      if (agents.size >= max) continue;
      agents.add(agent.agent.keySetUrl);
    }
    const started = options.keys.findKey(agent.agent, keyid, budget);
    // Settled here so a lookup that is never awaited cannot surface as an unhandled rejection.
    into.lookups.set(
      key,
      started.catch(() => ({ ok: false, code: "directory_unreachable", message: "the key lookup failed" })),
    );
  }
}

/** The request-level outcome: `verified` if any signature verified, else `unsigned`, `unverified` or `invalid`. */
export type RequestOutcome = LabelOutcome | "unsigned";

/**
 * Sums up a verification as one outcome (draft-ietf-webbotauth-httpsig-protocol, "Verifier Outcomes").
 *
 * @example
 * ```ts
 * requestOutcome(await verifyRequest(message, options)); // "verified"
 * ```
 */
export function requestOutcome(verification: RequestVerification): RequestOutcome {
  if (verification.fieldError) return "invalid";
  if (verification.labels.some((l) => l.outcome === "verified")) return "verified";
  if (verification.labels.length === 0) return "unsigned";
  return verification.labels.some((l) => l.outcome === "unverified") ? "unverified" : "invalid";
}
