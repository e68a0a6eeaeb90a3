/**
 * What an origin behind Signet imports: proof that a request came through Signet, recently and once, and the
 * agent Signet verified. Runs in Node 22+ and any Fetch runtime (Workers, Deno, Bun); `verifyNodeRequest` is
 * for `node:http` servers, `signetOrigin` for Hono apps.
 *
 * @module
 */
export type { VerifiedAgent } from "../worker/identity/verified-agent.ts";
export {
  AGENT_LEVELS,
  type AgentLevel,
  agentLevelOf,
  type SignetOriginEnv,
  type SignetOriginOptions,
  type SignetOriginVariables,
  signetOrigin,
} from "./hono.ts";
export { createMemoryReplayCache, DEFAULT_REPLAY_CACHE_SIZE } from "./lib/memory-replay-cache.ts";
export { type NodeVerifyOptions, verifyNodeRequest } from "./node.ts";
export {
  SIGNET_FAILURE_REASON_CODES,
  SIGNET_FAILURE_REASONS,
  type SignetFailureReason,
  type SignetOriginReason,
  signetProblemType,
} from "./reasons.ts";
export {
  type ReplayCache,
  type SignetRefused,
  type SignetVerification,
  type SignetVerified,
  type SignetVerifyOptions,
  verifySignetRequest,
} from "./verify-signet-request.ts";
