/**
 * Signet's verification pipeline as Hono middleware, for the Worker itself and for any Hono app that wants to
 * verify agents in-process.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AAuthKeyCache } from "./aauth/index.ts";
import type { KeySource } from "./discovery/key-source.ts";
import type { VerifiedAgent } from "./identity/verified-agent.ts";
import { matchRule } from "./policy/match-rule.ts";
import { parsePolicy } from "./policy/parse-policy.ts";
import type { Policy, Rule } from "./policy/policy.ts";
import { problemResponse, type Rejection } from "./problem-response.ts";
import { claimSignature, type ReplayStoreNamespace } from "./replay/claim-signature.ts";
import { requestFromFetch } from "./rfc9421/index.ts";
import { type Decision, decide, WEB_BOT_AUTH_ACCEPT_SIGNATURE } from "./verification/decide.ts";
import { type LabelVerdict, type RequestVerification, verifyRequest } from "./verification/verify-request.ts";

/** What the middleware hands on with `c.set`. */
export interface SignetVariables {
  /** The verified agent, or `null` for anonymous traffic. Never read identity from request headers instead. */
  signetAgent: VerifiedAgent | null;
  /** Every signature's verdict. */
  signetVerification: RequestVerification;
  /** In monitor mode: the refusal that enforce mode would have sent. */
  signetMonitor: Rejection | null;
  /** The rule that governed the request (for the decision log). */
  signetRule: Rule;
  /** In enforce mode: the refusal sent, or `null` when the request was passed on (for the decision log). */
  signetRejection: Rejection | null;
}

/** Options of {@link signetMiddleware}. */
export interface SignetMiddlewareOptions {
  /** The policy, or its JSON text (validated now, once). */
  readonly policy: Policy | string;
  /** Where keys come from (a key directory cache, or pinned keys only). */
  readonly keys: KeySource;
  /** Where AAuth schemes and tokens find issuer metadata and keys; without it AAuth signatures are not judged. */
  readonly aauthKeys?: AAuthKeyCache | undefined;
  /**
   * The replay store (the `REPLAY_STORE` Durable Object namespace). Without it, routes that enforce replay
   * protection treat the store as unavailable: they fail closed unless their rule says `replayStoreFailure: "open"`.
   */
  readonly replayStore?: ReplayStoreNamespace | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
}

/**
 * Creates the verification middleware. Options are validated once, here; each request is then verified, decided
 * against the first matching rule, and either refused with an RFC 9457 problem response (enforce mode) or passed
 * on with the verified identity in `c.get("signetAgent")`.
 *
 * @throws {PolicyError} when the policy is invalid (naming the bad field)
 *
 * @example
 * ```ts
 * const app = new Hono<{ Variables: SignetVariables }>();
 * app.use("*", signetMiddleware({ policy: '{"rules":[{"path":"/api/*","require":"verified-agent"}]}', keys }));
 * app.get("/api/data", (c) => c.json({ agent: c.get("signetAgent")?.agent ?? null }));
 * ```
 */
export function signetMiddleware<E extends { Variables: SignetVariables } = { Variables: SignetVariables }>(
  options: SignetMiddlewareOptions,
): MiddlewareHandler<E> {
  const policy = typeof options.policy === "string" ? parsePolicy(options.policy) : options.policy;
  if (typeof options.keys?.findKey !== "function") throw new TypeError("signetMiddleware: keys must be a KeySource");
  const { keys, aauthKeys, now, replayStore } = options;
  return async (c, next) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const rule = matchRule(policy, request.method, url.pathname);
    const verification = await verifyRequest(requestFromFetch(request), { policy, keys, aauthKeys, now });
    const credentials = ["authorization", ...(rule.credentialHeaders ?? [])].filter((name) =>
      request.headers.has(name),
    );
    let decision: Decision = decide(verification, rule, policy, { credentials });
    if (decision.action === "forward" && decision.identity !== undefined && decision.verdict !== undefined) {
      decision = await checkReplay(decision, rule, policy, replayStore, now);
    }
    c.set("signetVerification", verification);
    c.set("signetMonitor", null);
    // For the decision log: the rule, and the refusal enforce mode sends (observers read these after the fact).
    c.set("signetRule", rule);
    c.set("signetRejection", null);
    if (decision.action === "reject") {
      if (policy.mode === "enforce") {
        c.set("signetRejection", decision.rejection);
        return problemResponse(decision.rejection, url.pathname);
      }
      c.set("signetMonitor", decision.rejection);
      c.set("signetAgent", null);
    } else {
      c.set("signetAgent", decision.identity ?? null);
    }
    await next();
    return undefined;
  };
}

/**
 * The replay check of an accepted signature (per the rule): first use passes, marked `replay=checked`; a replay
 * is refused; an unreachable store refuses with 503 unless the rule fails open, marked `replay=unchecked`.
 */
async function checkReplay(
  decision: Extract<Decision, { action: "forward" }>,
  rule: Rule,
  policy: Policy,
  store: ReplayStoreNamespace | undefined,
  now: (() => number) | undefined,
): Promise<Decision> {
  const identity = decision.identity as VerifiedAgent;
  const verdict = decision.verdict as LabelVerdict;
  const mark = (replay: string): Decision => ({
    ...decision,
    identity: { ...identity, extra: { ...identity.extra, replay } },
  });
  if ((rule.replay ?? (rule.require === "none" ? "off" : "enforce")) === "off") return mark("off");
  const result =
    store === undefined || verdict.signature === undefined
      ? "unavailable"
      : await claimSignature(
          store,
          {
            keyid: verdict.keyid,
            nonce: verdict.params?.nonce,
            signature: verdict.signature,
            created: verdict.params?.created,
            expires: verdict.params?.expires,
          },
          {
            shards: policy.replay.shards,
            previousShards: policy.replay.previousShards,
            timeoutMs: policy.replay.timeoutMs,
            clockSkew: policy.freshness.clockSkew,
            maxAge: policy.freshness.maxAge,
            // AAuth signatures carry no nonce and need no expires: they live for the created window.
            window: verdict.profile === "aauth" ? policy.aauth.signatureWindow : undefined,
            now: now ? now() : Math.floor(Date.now() / 1000),
          },
        );
  if (result === "first-use") return mark("checked");
  if (result === "replayed") {
    return {
      action: "reject",
      rejection: {
        reason: "signature_replayed",
        detail: `signature "${verdict.label}" was already used; sign the request again`,
        label: verdict.label,
        agent: identity.agent,
        acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE,
      },
    };
  }
  if (rule.replayStoreFailure === "open") return mark("unchecked");
  return {
    action: "reject",
    rejection: { reason: "replay_store_unavailable", detail: "the replay store could not be reached; try again" },
  };
}
