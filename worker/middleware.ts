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
import { aauthKeyCacheFor, keyCacheFor, keyLookupFor } from "./key-sources.ts";
import { parsePolicy } from "./policy/parse-policy.ts";
import type { Policy, Rule } from "./policy/policy.ts";
import { routeRequest } from "./policy/route.ts";
import { problemResponse, type Rejection } from "./problem-response.ts";
import { claimSignature } from "./replay/claim-signature.ts";
import { isReplayClaimStore, type ReplayClaimStore } from "./replay/claim-store.ts";
import { createDurableObjectReplayStore, type ReplayStoreNamespace } from "./replay/durable-object-store.ts";
import { lastAcceptableSecond } from "./replay/lifetime.ts";
import { retargetingHeaderIn } from "./retargeting-headers.ts";
import { carriesBody } from "./verification/body-presence.ts";
import { boundedRequestMessage, DEFAULT_VERIFY_BODY_BYTES } from "./verification/bounded-body.ts";
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
  /**
   * The canonical path the rule was matched on (see `worker/policy/canonical-path.ts`): what the origin must
   * route on. `null` only in monitor mode, for a path that has none (forwarded as received, anonymous).
   */
  signetPath: string | null;
  /** The rule that governed the request (for the decision log). */
  signetRule: Rule;
  /** In enforce mode: the refusal sent, or `null` when the request was passed on (for the decision log). */
  signetRejection: Rejection | null;
}

/** Options of {@link signetMiddleware}. */
export interface SignetMiddlewareOptions {
  /** The policy, or its JSON text (validated now, once). */
  readonly policy: Policy | string;
  /**
   * Where keys come from (a key directory cache, or pinned keys only). Without it, both key sources are built
   * from the policy: a key directory cache holding the policy's pinned agents, honouring `allowTestKeys` and its
   * discovery limits, and the AAuth key cache, sharing one key-lookup layer.
   */
  readonly keys?: KeySource | undefined;
  /**
   * Where AAuth schemes and tokens find issuer metadata and keys. Built from the policy when `keys` is not given
   * either; with `keys` given and this not, AAuth signatures are not judged.
   */
  readonly aauthKeys?: AAuthKeyCache | undefined;
  /**
   * The replay store: a {@link ReplayClaimStore} (`createDurableObjectReplayStore`, or
   * `createProcessLocalReplayStore` for one process), or the `REPLAY_STORE` Durable Object namespace itself (then
   * wrapped in the Durable Object store with the policy's `replay.shards`, `previousShards` and `timeoutMs`).
   * Without it, routes that enforce replay protection treat the store as unavailable: they fail closed unless
   * their rule says `replayStoreFailure: "open"`.
   */
  readonly replayStore?: ReplayClaimStore | ReplayStoreNamespace | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
  /**
   * The most body bytes read to check a signature's `content-digest` (once per request, whatever the number of
   * labels); a covered body beyond it fails that label with `missing_body`. Default 16 MiB
   * ({@link DEFAULT_VERIFY_BODY_BYTES}).
   */
  readonly maxBodyBytes?: number | undefined;
}

/**
 * Creates the verification middleware. Options are validated once, here; each request is then verified, decided
 * against the first matching rule, and either refused with an RFC 9457 problem response (enforce mode) or passed
 * on with the verified identity in `c.get("signetAgent")`.
 *
 * @throws {PolicyError} when the policy is invalid (naming the bad field)
 * @throws {TypeError} when another option is unusable (an unknown option, or a value of the wrong kind)
 *
 * @example
 * ```ts
 * const app = new Hono<{ Variables: SignetVariables }>();
 * const replayStore = createProcessLocalReplayStore(); // one process only; on Workers pass env.REPLAY_STORE
 * app.use("*", signetMiddleware({ policy: '{"rules":[{"path":"/api/*","require":"verified-agent"}]}', replayStore }));
 * app.get("/api/data", (c) => c.json({ agent: c.get("signetAgent")?.agent ?? null }));
 * ```
 */
export function signetMiddleware<E extends { Variables: SignetVariables } = { Variables: SignetVariables }>(
  options: SignetMiddlewareOptions,
): MiddlewareHandler<E> {
  const { policy, keys, aauthKeys, now, replayStore, maxBodyBytes } = readOptions(options);
  return async (c, next) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    // Routing: the rule is matched on the canonical path, which is also what gets forwarded (cheap, so first).
    const route = routeRequest(policy, request.method, url.pathname);
    // Refusals decided before any signature is judged: sent in enforce mode; in monitor mode the request goes on
    // anonymous, with the refusal it would have had.
    const refuseEarly = async (rejection: Rejection, rule: Rule | undefined, path: string | null) => {
      c.set("signetPath", path);
      if (rule !== undefined) c.set("signetRule", rule);
      if (policy.mode === "enforce") {
        c.set("signetRejection", rejection);
        return problemResponse(rejection, path ?? undefined);
      }
      c.set("signetRejection", null);
      c.set("signetMonitor", rejection);
      c.set("signetAgent", null);
      c.set("signetVerification", { labels: [], otherLabels: [] });
      await next();
      return undefined;
    };
    // Monitor mode forwards an ambiguous path as received, since no rule could be chosen to verify it under.
    if ("reject" in route) return refuseEarly({ reason: "path_ambiguous", detail: route.detail }, undefined, null);
    const { rule, path } = route;
    c.set("signetPath", path);
    // A header that re-targets the request at the origin would let it act on what no rule was matched on.
    const override = retargetingHeaderIn((name) => request.headers.has(name));
    if (override !== undefined) {
      const detail = `the request carries ${override}, which would make the origin act on another method, path or host; send the request to its real target instead`;
      return refuseEarly({ reason: "target_override", detail }, rule, path);
    }
    // One clock reading per request: verification, the lifetime gate and the replay claim all judge this second.
    const at = now ? now() : Math.floor(Date.now() / 1000);
    const clock = () => at;
    const verification = await verifyRequest(boundedRequestMessage(request, maxBodyBytes), {
      policy,
      keys,
      aauthKeys,
      now: clock,
    });
    const credentials = ["authorization", ...(rule.credentialHeaders ?? [])].filter((name) =>
      request.headers.has(name),
    );
    const hasBody = await carriesBody(request);
    let decision: Decision = decide(verification, rule, policy, { credentials, method: request.method, hasBody });
    if (decision.action === "forward" && decision.identity !== undefined && decision.verdict !== undefined) {
      decision = await checkReplay(decision, rule, policy, replayStore, at, waitUntilOf(c));
    }
    c.set("signetVerification", verification);
    c.set("signetMonitor", null);
    // For the decision log: the rule, and the refusal enforce mode sends (observers read these after the fact).
    c.set("signetRule", rule);
    c.set("signetRejection", null);
    if (decision.action === "reject") {
      if (policy.mode === "enforce") {
        c.set("signetRejection", decision.rejection);
        return problemResponse(decision.rejection, path);
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

/** The option names {@link signetMiddleware} knows (anything else is a typo, refused at construction). */
const OPTION_NAMES: ReadonlySet<string> = new Set([
  "policy",
  "keys",
  "aauthKeys",
  "replayStore",
  "now",
  "maxBodyBytes",
]);

/** The options, checked once (style.md §3) and completed from the policy. */
function readOptions(options: SignetMiddlewareOptions): {
  policy: Policy;
  keys: KeySource;
  aauthKeys: AAuthKeyCache | undefined;
  replayStore: ReplayClaimStore | undefined;
  now: (() => number) | undefined;
  maxBodyBytes: number;
} {
  const fail = (message: string): never => {
    throw new TypeError(`signetMiddleware: ${message}`);
  };
  if (typeof options !== "object" || options === null) fail("options must be an object");
  for (const name of Object.keys(options)) if (!OPTION_NAMES.has(name)) fail(`unknown option "${name}"`);
  if (typeof options.policy !== "string" && (typeof options.policy !== "object" || options.policy === null)) {
    fail("policy must be a Policy or its JSON text");
  }
  const policy = typeof options.policy === "string" ? parsePolicy(options.policy) : options.policy;
  if (!Array.isArray(policy.rules) || typeof policy.replay !== "object") {
    fail("policy must be a parsed Policy (from parsePolicy) or its JSON text");
  }
  const given = <T>(value: T | undefined, ok: (value: T) => boolean, message: string): T | undefined => {
    if (value !== undefined && !ok(value)) fail(message);
    return value;
  };
  given(options.keys, (k) => typeof k?.findKey === "function", "keys must be a KeySource");
  given(options.aauthKeys, (k) => typeof k === "object" && k !== null, "aauthKeys must be an AAuthKeyCache");
  given(options.now, (f) => typeof f === "function", "now must be a function returning Unix seconds");
  given(
    options.maxBodyBytes,
    (n) => Number.isSafeInteger(n) && n >= 0,
    "maxBodyBytes must be a whole number of bytes >= 0",
  );
  let keys = options.keys;
  let aauthKeys = options.aauthKeys;
  if (keys === undefined) {
    // Both key sources from the policy (pinned agents included), over one key-lookup layer.
    const lookup = keyLookupFor(policy);
    keys = keyCacheFor(policy, { lookup });
    aauthKeys ??= aauthKeyCacheFor(policy, { lookup });
  }
  const store = options.replayStore;
  let replayStore: ReplayClaimStore | undefined;
  if (store === undefined || isReplayClaimStore(store)) replayStore = store;
  else if (typeof (store as Partial<ReplayStoreNamespace>)?.getByName === "function") {
    const { shards, previousShards, timeoutMs } = policy.replay;
    replayStore = createDurableObjectReplayStore(store as ReplayStoreNamespace, { shards, previousShards, timeoutMs });
  } else {
    fail("replayStore must be a ReplayClaimStore or a Durable Object namespace");
  }
  return {
    policy,
    keys,
    aauthKeys,
    replayStore,
    now: options.now,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_VERIFY_BODY_BYTES,
  };
}

/** The request's `waitUntil`, when it runs with an execution context (Hono throws when it has none). */
function waitUntilOf(c: { readonly executionCtx: { waitUntil(promise: Promise<unknown>): void } }) {
  try {
    const ctx = c.executionCtx;
    return (promise: Promise<unknown>) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}

/**
 * The replay check of the signature that decided (per the rule): past its last acceptable second (see
 * `lastAcceptableSecond`) it is refused; a first use passes, marked `replay=checked`, and its record outlives that
 * second; a replay is refused; an unreachable store refuses with 503 unless the rule fails open, marked
 * `replay=unchecked`. Every route claims, `none` routes included, unless the rule says `replay: "off"`.
 */
async function checkReplay(
  decision: Extract<Decision, { action: "forward" }>,
  rule: Rule,
  policy: Policy,
  store: ReplayClaimStore | undefined,
  now: number,
  waitUntil: ((promise: Promise<unknown>) => void) | undefined,
): Promise<Decision> {
  const identity = decision.identity as VerifiedAgent;
  const verdict = decision.verdict as LabelVerdict;
  const mark = (replay: string): Decision => ({
    ...decision,
    identity: { ...identity, extra: { ...identity.extra, replay } },
  });
  const last = lastAcceptableSecond(verdict, policy);
  if (last === undefined || now > last) {
    return {
      action: "reject",
      rejection: {
        reason: "signature_expired",
        detail: `signature "${verdict.label}" is past the last second this policy accepts it; sign the request again`,
        label: verdict.label,
        agent: identity.agent,
        acceptSignature: WEB_BOT_AUTH_ACCEPT_SIGNATURE,
      },
    };
  }
  if ((rule.replay ?? "enforce") === "off") return mark("off");
  const result =
    store === undefined || verdict.base === undefined
      ? "unavailable"
      : await claimSignature(
          store,
          { keyid: verdict.keyid, nonce: verdict.params?.nonce, base: verdict.base, lastAcceptable: last },
          now,
          { waitUntil },
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
