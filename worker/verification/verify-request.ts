/**
 * The Web Bot Auth verification of one request: every `tag="web-bot-auth"` signature judged on its own, each
 * with the agent its covered `Signature-Agent` member names and keys found through discovery or pinning.
 * The Worker, the Hono middleware and `signet explain` all run this same function.
 *
 * @module
 */
import {
  type AAuthIdentity,
  type AAuthKeyCache,
  type AAuthLabelVerdict,
  toLabelVerdict,
  verifyAAuthLabels,
} from "../aauth/index.ts";
import type { KeyLookup, KeySource } from "../discovery/key-source.ts";
import type { Policy } from "../policy/policy.ts";
import {
  combinedField,
  type HttpRequestMessage,
  type JoseAlgorithm,
  parseSignatures,
  type SignatureAlgorithm,
  SignatureError,
  type SignatureParameters,
  serializeComponent,
  verifySignatures,
} from "../rfc9421/index.ts";
import { MalformedSignatureAgentError, resolveSignatureAgent } from "./signature-agent.ts";

/** The Web Bot Auth signature tag. */
export const WEB_BOT_AUTH_TAG = "web-bot-auth";

/** What every Web Bot Auth signature carries (the same arrays each time, so the core compiles them once). */
const WEB_BOT_AUTH_PARAMETERS = Object.freeze(["created", "expires", "keyid"] as const);
const WEB_BOT_AUTH_COMPONENTS = Object.freeze([Object.freeze(["@authority", "@target-uri"])]);

/** The three outcomes a signature can have (draft-ietf-webbotauth-httpsig-protocol, "Verifier Outcomes"). */
export type LabelOutcome = "verified" | "invalid" | "unverified";

/** The judgement on one signature label. */
export interface LabelVerdict {
  readonly label: string;
  /** Which profile judged the label. */
  readonly profile?: "web-bot-auth" | "aauth" | undefined;
  readonly outcome: LabelOutcome;
  /** Why it did not verify: an RFC 9421 core code, a `Signature-Agent` code, or a discovery code. */
  readonly code?: string | undefined;
  /** Which family `code` comes from. */
  readonly codeSource?: "signature" | "signature-agent" | "discovery" | undefined;
  readonly message?: string | undefined;
  /** The agent identity (key set URL) the signature was resolved to, when it was. */
  readonly agent?: string | undefined;
  /** Whether the key came from pinned configuration rather than a fetch. */
  readonly pinned?: boolean | undefined;
  readonly keyid?: string | undefined;
  readonly algorithm?: SignatureAlgorithm | JoseAlgorithm | undefined;
  readonly params?: SignatureParameters | undefined;
  /** The covered components, serialised. */
  readonly components: readonly string[];
  /** The `@signature-params` value as the signer wrote it. */
  readonly signatureParams?: string | undefined;
  /** The signature base, whenever the pipeline got as far as building it. */
  readonly base?: string | undefined;
  /** Whether the signature covers `authorization` (a bearer token is bound to the key only then). */
  readonly coversAuthorization: boolean;
  /** The decoded signature bytes (replay protection keys on them when there is no nonce). */
  readonly signature?: Uint8Array | undefined;
  /** AAuth: what the key scheme and tokens proved. */
  readonly aauth?: AAuthIdentity | undefined;
  /** AAuth: the components a failed signature should also have covered (`required_input`). */
  readonly requiredInput?: readonly string[] | undefined;
  /**
   * Every name the verified signer goes by, for allow and deny lists: the key set URL (Web Bot Auth); the agent
   * id, Agent Provider, key set and key thumbprint URN (AAuth).
   */
  readonly identities?: readonly string[] | undefined;
}

/**
 * A request-wide failure that stops every signature from being judged: a 400, or for an unreadable
 * `Signature-Key` the 401 `invalid_signature` AAuth prescribes.
 */
export interface FieldError {
  readonly reason: "malformed_signature_fields" | "malformed_signature_agent" | "signature_invalid";
  readonly code: string;
  readonly message: string;
  readonly profile?: "web-bot-auth" | "aauth" | undefined;
}

/** The verification of a request. */
export interface RequestVerification {
  /** Web Bot Auth signatures, in `Signature-Input` order. Empty when the request carries none. */
  readonly labels: readonly LabelVerdict[];
  /** Labels with another tag, left to other profiles. */
  readonly otherLabels: readonly string[];
  readonly fieldError?: FieldError | undefined;
}

/** What {@link verifyRequest} needs besides the request. */
export interface VerifyRequestOptions {
  readonly policy: Policy;
  readonly keys: KeySource;
  /** Where AAuth key schemes and tokens find their issuers' metadata and keys; without it AAuth is not judged. */
  readonly aauthKeys?: AAuthKeyCache | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
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
  if (options.aauthKeys === undefined || combinedField(message.headers, "signature-key") === undefined) {
    return verifyWebBotAuth(message, options);
  }
  const { aauth } = options.policy;
  // The two profiles' key lookups are independent: run them side by side.
  const [webBotAuth, aauthResult] = await Promise.all([
    verifyWebBotAuth(message, options),
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
    }),
  ]);
  const judged = new Set(aauthResult.labels.map((l) => l.label));
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
  return {
    labels,
    otherLabels: webBotAuth.otherLabels.filter((label) => !judged.has(label)),
    fieldError,
  };
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
  options: VerifyRequestOptions,
): Promise<RequestVerification> {
  const signatureAgent = combinedField(message.headers, "signature-agent");
  const resolutions = new Map<string, Resolution>();
  const { policy } = options;
  const { lookups, entries, agents } = startKeyLookups(message, signatureAgent, options);
  let outcomes: Awaited<ReturnType<typeof verifySignatures>>;
  try {
    outcomes = await verifySignatures(message, {
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
    });
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
 * Starts every key lookup the request's Web Bot Auth signatures will need, at once, so that several slow key
 * directories cost one timeout rather than one each; at most `discovery.maxAgentsPerRequest` distinct agents
 * are looked up. Signatures that are plainly unusable (no keyid, wrong tag, unparseable) start nothing.
 */
function startKeyLookups(
  message: HttpRequestMessage,
  signatureAgent: string | undefined,
  options: VerifyRequestOptions,
): {
  lookups: Map<string, Promise<KeyLookup>>;
  entries?: ReturnType<typeof parseSignatures>;
  /** Each label's resolved agent, so the key resolver need not resolve it again. */
  agents: Map<string, ReturnType<typeof resolveSignatureAgent>>;
} {
  const lookups = new Map<string, Promise<KeyLookup>>();
  const resolved = new Map<string, ReturnType<typeof resolveSignatureAgent>>();
  let entries: ReturnType<typeof parseSignatures>;
  try {
    entries = parseSignatures(
      {
        signatureInput: combinedField(message.headers, "signature-input"),
        signature: combinedField(message.headers, "signature"),
      },
      "request",
    );
  } catch {
    // verifySignatures parses again and reports the field error.
    return { lookups, agents: resolved };
  }
  const agents = new Set<string>();
  const max = options.policy.discovery.maxAgentsPerRequest;
  for (const entry of entries) {
    if (entry instanceof SignatureError) continue;
    const { keyid, tag } = entry.params;
    if (tag !== WEB_BOT_AUTH_TAG || keyid === undefined) continue;
    let agent: ReturnType<typeof resolveSignatureAgent>;
    try {
      agent = resolveSignatureAgent(signatureAgent, entry.components, entry.label);
    } catch {
      return { lookups, entries, agents: resolved };
    }
    resolved.set(entry.label, agent);
    if (!agent.ok) continue;
    const key = lookupKey(agent.agent.keySetUrl, keyid);
    if (lookups.has(key)) continue;
    if (!agents.has(agent.agent.keySetUrl)) {
      if (agents.size >= max) continue;
      agents.add(agent.agent.keySetUrl);
    }
    const started = options.keys.findKey(agent.agent, keyid);
    // Settled here so a lookup that is never awaited cannot surface as an unhandled rejection.
    lookups.set(
      key,
      started.catch((err: unknown) => ({ ok: false, code: "directory_unreachable", message: String(err) })),
    );
  }
  return { lookups, entries, agents: resolved };
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
