/**
 * Signet inside your own Hono app (the `signet-edge/middleware` entry point): the verification middleware, the
 * policy parser, and the key sources it looks keys up in.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createKeyDirectoryCache, type SignetVariables, signetMiddleware } from "signet-edge/middleware";
 *
 * const app = new Hono<{ Variables: SignetVariables }>();
 * app.use("*", signetMiddleware({ policy: '{"rules":[{"path":"/api/*","require":"signature"}]}', keys: createKeyDirectoryCache() }));
 * ```
 *
 * @module
 */
export { createKeyDirectoryCache, type KeyDirectoryCache, type KeyDirectoryCacheOptions } from "./discovery/index.ts";
export type { AgentReference, KeyLookup, KeySource } from "./discovery/key-source.ts";
export type { VerifiedAgent } from "./identity/verified-agent.ts";
export { type SignetMiddlewareOptions, type SignetVariables, signetMiddleware } from "./middleware.ts";
export { PolicyError, parsePolicy } from "./policy/parse-policy.ts";
export type { Policy, Rule } from "./policy/policy.ts";
