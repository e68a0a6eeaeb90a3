/**
 * The Worker's configuration, built once per isolate from its environment: the validated policy, the key
 * directory cache, the verification middleware and the attester. A configuration that cannot work is kept as
 * an error, and every request is refused with `misconfigured` (503) until it is fixed.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AAuthKeyCache } from "./aauth/index.ts";
import type { KeyDirectoryCache } from "./discovery/index.ts";
import type { Env } from "./env.ts";
import { DEMO_ECHO_ORIGIN, rewriteOrigin } from "./forward.ts";
import { type Attester, createAttester } from "./identity/attestation.ts";
import { aauthKeyCacheFor, keyCacheFor, keyLookupFor } from "./key-sources.ts";
import { type SignetVariables, signetMiddleware } from "./middleware.ts";
import { parsePolicy } from "./policy/parse-policy.ts";
import type { Policy } from "./policy/policy.ts";
import type { Jwk } from "./rfc9421/index.ts";

// The key sources a policy calls for moved to `key-sources.ts` (the middleware builds them too); kept importable here.
export { aauthKeyCacheFor, keyCacheFor, keyLookupFor } from "./key-sources.ts";

/**
 * What the Worker's middlewares hand on with `c.set`: the verification middleware's variables, and the
 * configuration, awaited once per request by the first middleware.
 *
 * @example
 * ```ts
 * const app = new Hono<{ Bindings: Env; Variables: WorkerVariables }>();
 * app.use("*", async (c, next) => { c.set("signetConfiguration", await configurationFor(c.env)); await next(); });
 * ```
 */
export interface WorkerVariables extends SignetVariables {
  /** The configuration for this request's environment. */
  signetConfiguration: Configuration | ConfigurationError;
}

/** Everything a request needs, built once. */
export interface Configuration {
  readonly policy: Policy;
  readonly keys: KeyDirectoryCache;
  readonly aauthKeys: AAuthKeyCache;
  readonly verify: MiddlewareHandler<{ Bindings: Env; Variables: WorkerVariables }>;
  readonly attester: Attester;
  readonly originUrl: string;
}

/** A configuration that could not be built, with the reason to log. */
export interface ConfigurationError {
  readonly error: string;
}

/** The environment values a configuration was built from, compared field by field (no per-request hashing). */
interface BuiltFrom {
  readonly origin: string;
  readonly policy: string | undefined;
  readonly key: string | undefined;
  readonly store: unknown;
}

let cached: { from: BuiltFrom; value: Promise<Configuration | ConfigurationError> } | undefined;

/**
 * The configuration for this environment, built on first use and reused while the environment is the same.
 *
 * @example
 * ```ts
 * const configuration = await configurationFor(c.env);
 * if ("error" in configuration) return problemResponse({ reason: "misconfigured", detail: "..." });
 * ```
 */
export function configurationFor(env: Env): Promise<Configuration | ConfigurationError> {
  const from = cached?.from;
  if (
    cached === undefined ||
    from?.origin !== env.ORIGIN_URL ||
    from.policy !== env.SIGNET_POLICY ||
    from.key !== env.SIGNET_ATTESTATION_KEY ||
    from.store !== env.REPLAY_STORE
  ) {
    cached = {
      from: {
        origin: env.ORIGIN_URL,
        policy: env.SIGNET_POLICY,
        key: env.SIGNET_ATTESTATION_KEY,
        store: env.REPLAY_STORE,
      },
      value: build(env),
    };
  }
  return cached.value;
}

async function build(env: Env): Promise<Configuration | ConfigurationError> {
  try {
    const originUrl = env.ORIGIN_URL ?? "";
    if (originUrl !== "" && originUrl !== DEMO_ECHO_ORIGIN) rewriteOrigin("https://check.invalid/", originUrl);
    const policy = parsePolicy(env.SIGNET_POLICY);
    // One key-lookup layer for both profiles: one LRU, one failure memory, one budget per request.
    const lookup = keyLookupFor(policy);
    const keys = keyCacheFor(policy, { lookup });
    const aauthKeys = aauthKeyCacheFor(policy, { lookup });
    const attester = await attesterFor(env, originUrl);
    const verify = signetMiddleware<{ Bindings: Env; Variables: WorkerVariables }>({
      policy,
      keys,
      aauthKeys,
      replayStore: env.REPLAY_STORE,
    });
    return { policy, keys, aauthKeys, verify, attester, originUrl };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function attesterFor(env: Env, originUrl: string): Promise<Attester> {
  const secret = env.SIGNET_ATTESTATION_KEY;
  if (secret === undefined || secret === "") {
    if (originUrl !== DEMO_ECHO_ORIGIN) {
      throw new Error(
        "SIGNET_ATTESTATION_KEY is not set: set it with `npx wrangler secret put SIGNET_ATTESTATION_KEY`",
      );
    }
    // The demo origin needs no real attestation key: an ephemeral one per isolate.
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    return createAttester({ privateJwk: (await crypto.subtle.exportKey("jwk", pair.privateKey)) as Jwk });
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(secret);
  } catch {
    throw new Error("SIGNET_ATTESTATION_KEY must be a private JWK as JSON");
  }
  return createAttester({ privateJwk: jwk as Jwk });
}
