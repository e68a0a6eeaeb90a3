/**
 * The key sources a policy calls for: the key-lookup layer, the Web Bot Auth key directory cache (pinned agents
 * included) and the AAuth key cache, all configured from the policy's discovery limits.
 *
 * @module
 */
import { type AAuthKeyCache, type AAuthKeyCacheOptions, createAAuthKeyCache } from "./aauth/index.ts";
import {
  createKeyDirectoryCache,
  createKeyLookup,
  type KeyDirectoryCache,
  type KeyDirectoryCacheOptions,
  type KeyLookupLayer,
  type KeyLookupOptions,
} from "./discovery/index.ts";
import type { Policy } from "./policy/policy.ts";
import type { Jwk } from "./rfc9421/index.ts";
import { agentIdentityOf } from "./verification/signature-agent.ts";

/**
 * The key-lookup layer a policy calls for, shared by the Web Bot Auth key source and the AAuth key cache.
 *
 * @param overrides layer options the caller sets itself (e.g. `cache: null` outside the Workers runtime)
 *
 * @example
 * ```ts
 * const lookup = keyLookupFor(policy);
 * const keys = keyCacheFor(policy, { lookup });
 * const aauthKeys = aauthKeyCacheFor(policy, { lookup });
 * ```
 */
export function keyLookupFor(policy: Policy, overrides: KeyLookupOptions = {}): KeyLookupLayer {
  const { discovery } = policy;
  return createKeyLookup({
    unsafeAllowLoopback: discovery.unsafeAllowLoopback,
    timeoutMs: discovery.timeoutMs,
    maxBytes: discovery.maxBytes,
    minTtlSeconds: discovery.minTtlSeconds,
    maxTtlSeconds: discovery.maxTtlSeconds,
    negativeTtlSeconds: discovery.negativeTtlSeconds,
    refetchCooldownSeconds: discovery.refetchCooldownSeconds,
    ...overrides,
  });
}

/**
 * The key directory cache a policy calls for: its pinned agents, test-key switch and discovery limits.
 *
 * @param overrides cache options the caller sets itself (e.g. `cache: null` outside the Workers runtime)
 *
 * @example
 * ```ts
 * const keys = keyCacheFor(parsePolicy(env.SIGNET_POLICY));
 * ```
 */
export function keyCacheFor(policy: Policy, overrides: KeyDirectoryCacheOptions = {}): KeyDirectoryCache {
  const pinned = new Map<string, readonly Jwk[]>();
  for (const { agent, keys } of policy.pinned) pinned.set(agentIdentityOf(agent) as string, keys);
  const { discovery } = policy;
  return createKeyDirectoryCache({
    pinned,
    allowTestKeys: policy.allowTestKeys,
    requireDirectorySignature: discovery.requireDirectorySignature,
    unsafeAllowLoopback: discovery.unsafeAllowLoopback,
    timeoutMs: discovery.timeoutMs,
    maxBytes: discovery.maxBytes,
    maxKeys: discovery.maxKeys,
    minTtlSeconds: discovery.minTtlSeconds,
    maxTtlSeconds: discovery.maxTtlSeconds,
    negativeTtlSeconds: discovery.negativeTtlSeconds,
    unknownKeyCooldownSeconds: discovery.refetchCooldownSeconds,
    ...overrides,
  });
}

/**
 * The cache of AAuth issuers' metadata and key sets a policy calls for (same fetch limits as key discovery).
 *
 * @example
 * ```ts
 * const aauthKeys = aauthKeyCacheFor(policy);
 * ```
 */
export function aauthKeyCacheFor(policy: Policy, overrides: AAuthKeyCacheOptions = {}): AAuthKeyCache {
  const { discovery } = policy;
  return createAAuthKeyCache({
    unsafeAllowLoopback: discovery.unsafeAllowLoopback,
    timeoutMs: discovery.timeoutMs,
    maxBytes: discovery.maxBytes,
    negativeTtlSeconds: discovery.negativeTtlSeconds,
    ...overrides,
  });
}
