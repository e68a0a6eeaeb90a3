/**
 * Signet's verification pipeline as Hono middleware, for the Worker itself and for any Hono app that wants to
 * verify agents in-process.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { KeySource } from "./discovery/key-source.ts";
import type { VerifiedAgent } from "./identity/verified-agent.ts";
import { matchRule } from "./policy/match-rule.ts";
import { parsePolicy } from "./policy/parse-policy.ts";
import type { Policy } from "./policy/policy.ts";
import { problemResponse, type Rejection } from "./problem-response.ts";
import { requestFromFetch } from "./rfc9421/index.ts";
import { type Decision, decide } from "./verification/decide.ts";
import { type RequestVerification, verifyRequest } from "./verification/verify-request.ts";

/** What the middleware hands on with `c.set`. */
export interface SignetVariables {
  /** The verified agent, or `null` for anonymous traffic. Never read identity from request headers instead. */
  signetAgent: VerifiedAgent | null;
  /** Every signature's verdict. */
  signetVerification: RequestVerification;
  /** In monitor mode: the refusal that enforce mode would have sent. */
  signetMonitor: Rejection | null;
}

/** Options of {@link signetMiddleware}. */
export interface SignetMiddlewareOptions {
  /** The policy, or its JSON text (validated now, once). */
  readonly policy: Policy | string;
  /** Where keys come from (a key directory cache, or pinned keys only). */
  readonly keys: KeySource;
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
  const { keys, now } = options;
  return async (c, next) => {
    const request = c.req.raw;
    const url = new URL(request.url);
    const rule = matchRule(policy, request.method, url.pathname);
    const verification = await verifyRequest(requestFromFetch(request), { policy, keys, now });
    const decision: Decision = decide(verification, rule, policy);
    c.set("signetVerification", verification);
    c.set("signetMonitor", null);
    if (decision.action === "reject") {
      if (policy.mode === "enforce") return problemResponse(decision.rejection, url.pathname);
      c.set("signetMonitor", decision.rejection);
      c.set("signetAgent", null);
    } else {
      c.set("signetAgent", decision.identity ?? null);
    }
    await next();
    return undefined;
  };
}
