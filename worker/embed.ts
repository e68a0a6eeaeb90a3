/**
 * Signet inside your own Hono app (the `signet-edge/middleware` entry point): the verification middleware, the
 * policy parser, the key sources it looks keys up in, and the replay stores it claims signatures in.
 *
 * Without `keys`, the middleware builds its key sources from the policy (pinned agents included). Replay stores:
 * on Workers, pass the `REPLAY_STORE` Durable Object namespace (or `createDurableObjectReplayStore`); in one
 * Node or Bun process, `createProcessLocalReplayStore` (not global: see its notes).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createProcessLocalReplayStore, type SignetVariables, signetMiddleware } from "signet-edge/middleware";
 *
 * const app = new Hono<{ Variables: SignetVariables }>();
 * const policy = '{"rules":[{"path":"/api/*","require":"signature"}]}';
 * app.use("*", signetMiddleware({ policy, replayStore: createProcessLocalReplayStore() }));
 * ```
 *
 * @module
 */
export { createKeyDirectoryCache, type KeyDirectoryCache, type KeyDirectoryCacheOptions } from "./discovery/index.ts";
export type { AgentReference, KeyLookup, KeySource } from "./discovery/key-source.ts";
export type { VerifiedAgent } from "./identity/verified-agent.ts";
export { aauthKeyCacheFor, keyCacheFor, keyLookupFor } from "./key-sources.ts";
export { type SignetMiddlewareOptions, type SignetVariables, signetMiddleware } from "./middleware.ts";
export { PolicyError, parsePolicy } from "./policy/parse-policy.ts";
export type { Policy, Rule } from "./policy/policy.ts";
export type { ReplayClaim, ReplayClaimStore, ReplayVerdict } from "./replay/claim-store.ts";
export {
  createDurableObjectReplayStore,
  type DurableObjectReplayStoreOptions,
  type ReplayStoreNamespace,
  type ShardClaim,
} from "./replay/durable-object-store.ts";
export {
  createProcessLocalReplayStore,
  type ProcessLocalReplayStore,
  type ProcessLocalReplayStoreOptions,
} from "./replay/process-local-store.ts";
