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
   * false they are refused with `agent_required`.
   */
  readonly allowAnonymous?: boolean | undefined;
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
 * @param options Signet's public key(s), the freshness and replay policy of {@link verifySignetRequest}, and
 *   `allowAnonymous` (default true)
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
  return async function signetOriginMiddleware(c, next) {
    const result = await verifySignetRequest(c.req.raw, options);
    if (!result.ok) {
      return refusal(result.reason, SIGNET_FAILURE_REASONS[result.reason].title, result.message, result.signatureError);
    }
    if (result.agent === null && !allowAnonymous) {
      return refusal("agent_required", AGENT_REQUIRED_TITLE, "Signet passed this request on without a verified agent");
    }
    c.set("signetAgent", result.agent);
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
