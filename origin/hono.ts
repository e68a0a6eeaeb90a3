/**
 * Hono middleware for origins behind Signet: refuses requests Signet did not attest and hands the verified
 * agent on to the handlers.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { VerifiedAgent } from "../worker/identity/verified-agent.ts";
import { compileOptions, type SignetVerifyOptions } from "./lib/verify-attestation.ts";
import { SIGNET_FAILURE_REASONS, type SignetOriginReason, signetProblemType } from "./reasons.ts";
import { verifySignetRequest } from "./verify-signet-request.ts";

/**
 * The context variables {@link signetOrigin} sets.
 *
 * @example
 * ```ts
 * app.get("/", (c) => c.json({ agent: c.get("signetAgent")?.agent ?? null }));
 * ```
 */
export interface SignetOriginVariables {
  /** The agent Signet verified, or `null` for an attested anonymous request. */
  signetAgent: VerifiedAgent | null;
  /** Whether the body is bound to the attestation (`false` when Signet marked it `Signet-Body: unbound`). */
  signetBodyBound: boolean;
}

/**
 * The Hono environment of routes behind {@link signetOrigin}.
 *
 * @example
 * ```ts
 * const app = new Hono<SignetOriginEnv>();
 * ```
 */
export interface SignetOriginEnv {
  Variables: SignetOriginVariables;
}

/**
 * Options of {@link signetOrigin}.
 *
 * @example
 * ```ts
 * app.use("/agents-only/*", signetOrigin({ keys: signetPublicJwk, allowAnonymous: false }));
 * ```
 */
export interface SignetOriginOptions extends SignetVerifyOptions {
  /**
   * Whether requests Signet attested without an agent pass (with `signetAgent` `null`). Default true; when
   * false, requests without an agent verified at `agentLevel` or above are refused with `agent_required`.
   */
  readonly allowAnonymous?: boolean | undefined;
  /**
   * With `allowAnonymous: false`, the lowest identity level accepted, graded `pseudonymous` < `agent` <
   * `person` < `authorized` (see {@link agentLevelOf}). Default `agent`: self-made pseudonyms (AAuth `hwk`,
   * `jkt-jwt`, unlisted JWKS) pass only when this is `pseudonymous`.
   */
  readonly agentLevel?: AgentLevel | undefined;
}

/**
 * How much a verified identity says about who sent a request, lowest first.
 *
 * @example
 * ```ts
 * AGENT_LEVELS.indexOf("person") > AGENT_LEVELS.indexOf("agent"); // true
 * ```
 */
export const AGENT_LEVELS = Object.freeze(["pseudonymous", "agent", "person", "authorized"] as const);

/**
 * A level of {@link AGENT_LEVELS}.
 *
 * @example
 * ```ts
 * const wanted: AgentLevel = "person";
 * ```
 */
export type AgentLevel = (typeof AGENT_LEVELS)[number];

/**
 * The level of a verified agent: a Web Bot Auth agent (identified by its key directory) is an `agent`; an AAuth
 * agent has the `level` Signet attested; anything else, or an unknown level, counts as `pseudonymous`.
 *
 * @example
 * ```ts
 * agentLevelOf({ agent: "urn:jkt:sha-256:...", profile: "aauth", extra: { level: "pseudonymous" }, ... }); // "pseudonymous"
 * ```
 */
export function agentLevelOf(agent: VerifiedAgent): AgentLevel {
  if (agent.profile === "web-bot-auth") return "agent";
  const level = agent.extra?.level;
  return AGENT_LEVELS.find((known) => known === level) ?? "pseudonymous";
}

const AGENT_REQUIRED_TITLE = "This resource requires an agent verified by Signet";

/**
 * Creates the middleware. Options are checked once, here; Signet's keys are imported on the first request.
 *
 * Refusals are `401` RFC 9457 `application/problem+json` responses, returned by the middleware (the handler does
 * not run), whose body has `type` (`urn:signet:problem:<reason>`), `title`, `status`, `detail`, `reason` and,
 * when the RFC 9421 core gave one, `signature_error`. They are returned rather than thrown as an
 * `HTTPException` so that this module needs nothing from Hono at run time (its Hono imports are types only).
 *
 * The handlers see the verified request: `c.req.raw` is the request whose URL, method, headers and (from a
 * clone) body the attestation was checked against.
 *
 * @param options Signet's public key(s), the freshness, body and replay policy of {@link verifySignetRequest},
 *   `allowAnonymous` (default true) and `agentLevel` (default `agent`)
 * @throws {TypeError} for unusable options
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { type SignetOriginEnv, signetOrigin } from "./origin/index.ts";
 *
 * const app = new Hono<SignetOriginEnv>();
 * app.use("*", signetOrigin({ keys: signetPublicJwk, replayCache }));
 * app.get("/", (c) => c.text(c.get("signetAgent")?.agent ?? "anonymous"));
 * ```
 */
export function signetOrigin(options: SignetOriginOptions): MiddlewareHandler<SignetOriginEnv> {
  compileOptions(options, "signetOrigin");
  const allowAnonymous = options.allowAnonymous ?? true;
  if (typeof allowAnonymous !== "boolean") throw new TypeError("signetOrigin: allowAnonymous must be a boolean");
  const agentLevel = options.agentLevel ?? "agent";
  if (!AGENT_LEVELS.includes(agentLevel)) {
    throw new TypeError(`signetOrigin: agentLevel must be one of ${AGENT_LEVELS.join(", ")}`);
  }
  const lowest = AGENT_LEVELS.indexOf(agentLevel);
  return async function signetOriginMiddleware(c, next) {
    const result = await verifySignetRequest(c.req.raw, options);
    if (!result.ok) {
      return refusal(result.reason, SIGNET_FAILURE_REASONS[result.reason].title, result.message, result.signatureError);
    }
    if (!allowAnonymous) {
      if (result.agent === null) {
        return refusal(
          "agent_required",
          AGENT_REQUIRED_TITLE,
          "Signet passed this request on without a verified agent",
        );
      }
      if (AGENT_LEVELS.indexOf(agentLevelOf(result.agent)) < lowest) {
        return refusal("agent_required", AGENT_REQUIRED_TITLE, `the verified agent is below the level "${agentLevel}"`);
      }
    }
    c.set("signetAgent", result.agent);
    c.set("signetBodyBound", result.body !== null);
    await next();
    return undefined;
  };
}

function refusal(reason: SignetOriginReason, title: string, detail: string, signatureError?: string): Response {
  const body: Record<string, unknown> = { type: signetProblemType(reason), title, status: 401, detail, reason };
  if (signatureError !== undefined) body.signature_error = signatureError;
  return new Response(JSON.stringify(body), {
    status: 401,
    headers: { "content-type": "application/problem+json", "cache-control": "no-store" },
  });
}
