/**
 * The verification shared by every origin adapter: options checked once per options object, then one
 * judgement per request message. Not exported from `origin/index.ts`.
 *
 * @module
 */

import { ATTESTATION_COMPONENTS, ATTESTATION_TAG, SIGNET_MONITOR_HEADER } from "../../worker/identity/attestation.ts";
import { parseVerifiedAgent, VERIFIED_AGENT_HEADER, type VerifiedAgent } from "../../worker/identity/verified-agent.ts";
import {
  algorithmForJwk,
  combinedField,
  type HttpRequestMessage,
  importVerificationKey,
  type Jwk,
  jwkThumbprint,
  privateMembersOf,
  SignatureError,
  type SignatureErrorCode,
  type SignatureOutcome,
  type VerificationKey,
  type VerifiedSignature,
  type VerifyOptions,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";
import type { SignetFailureReason } from "../reasons.ts";

/**
 * Where nonces are remembered, so that each attestation is accepted once. Share it between all instances of
 * the origin (a database or a cache with an atomic "set if absent"); an in-memory one protects one process only.
 *
 * @example
 * ```ts
 * const seen = new Map<string, number>();
 * const replayCache: ReplayCache = {
 *   claim(nonce, expiresAt) {
 *     const now = Date.now() / 1000;
 *     for (const [n, until] of seen) if (until < now) seen.delete(n);
 *     if (seen.has(nonce)) return false;
 *     seen.set(nonce, expiresAt);
 *     return true;
 *   },
 * };
 * ```
 */
export interface ReplayCache {
  /**
   * Records a nonce atomically. Returns `true` when it is new, `false` when it was already recorded (a replay);
   * anything but `true` counts as a replay. The nonce need not be kept after `expiresAt` (Unix seconds): by then
   * the verifier refuses the attestation as expired or too old anyway.
   */
  claim(nonce: string, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * What an origin needs to verify Signet's attestations.
 *
 * @example
 * ```ts
 * const options: SignetVerifyOptions = { keys: [currentSignetJwk, nextSignetJwk], maxAge: 60, replayCache };
 * ```
 */
export interface SignetVerifyOptions {
  /** Signet's public JWK, or several during a key rotation (each as `attester.publicJwk` gives it). */
  readonly keys: Jwk | readonly Jwk[];
  /** The oldest attestation accepted, in seconds since its `created`. Default 60. */
  readonly maxAge?: number | undefined;
  /** The allowed clock difference with Signet, in seconds. Default 5. */
  readonly clockSkew?: number | undefined;
  /** The current time in Unix seconds. Default: the system clock. */
  readonly now?: (() => number) | undefined;
  /** Replay protection: every accepted nonce is claimed here. Without it, an attestation can be replayed until it expires. */
  readonly replayCache?: ReplayCache | undefined;
}

/**
 * An accepted request.
 *
 * @example
 * ```ts
 * if (result.ok) log.info({ agent: result.agent?.agent ?? "anonymous", signetKey: result.keyid });
 * ```
 */
export interface SignetVerified {
  readonly ok: true;
  /** The agent Signet verified, or `null` for a request Signet passed on anonymously. */
  readonly agent: VerifiedAgent | null;
  /**
   * In monitor mode, the refusal Signet would have sent in enforce mode (`Signet-Monitor`, attested), e.g.
   * `reason=signature_invalid, status=401`; `null` otherwise.
   */
  readonly monitor: string | null;
  /** The thumbprint of the Signet key that made the attestation. */
  readonly keyid: string;
  /** The attestation's label (`signet`, or `signet2`, ... when the client used `signet`). */
  readonly label: string;
  readonly created: number;
  readonly expires: number;
  readonly nonce: string;
}

/**
 * A refused request.
 *
 * @example
 * ```ts
 * if (!result.ok) log.warn({ reason: result.reason, detail: result.message, core: result.signatureError });
 * ```
 */
export interface SignetRefused {
  readonly ok: false;
  readonly reason: SignetFailureReason;
  /** What exactly was wrong, for logs. */
  readonly message: string;
  /** The RFC 9421 core's code behind the reason, when there is one (`invalid_signature`, `unknown_key`, ...). */
  readonly signatureError?: SignatureErrorCode | undefined;
}

/**
 * The judgement on a request.
 *
 * @example
 * ```ts
 * const result: SignetVerification = await verifySignetRequest(request, options);
 * if (!result.ok) return new Response(null, { status: 401 });
 * ```
 */
export type SignetVerification = SignetVerified | SignetRefused;

/** Options after checking: the core policies, and the keys imported on first use. */
export interface CompiledOptions {
  /**
   * The core policy by which of Signet's headers the request carries (`Verified-Agent`, `Signet-Monitor`):
   * every one present must be covered by the attestation.
   */
  readonly policies: Readonly<Record<"none" | "agent" | "monitor" | "agent+monitor", VerifyOptions>>;
  readonly maxAge: number;
  readonly clockSkew: number;
  readonly replayCache: ReplayCache | undefined;
}

const DEFAULT_MAX_AGE = 60;
const DEFAULT_CLOCK_SKEW = 5;
const EXPIRY_CODES: ReadonlySet<SignatureErrorCode> = new Set([
  "signature_expired",
  "signature_too_old",
  "created_in_future",
]);

const compiledOptions = new WeakMap<object, CompiledOptions>();

/**
 * Checks the options once per options object (later calls with the same object reuse the result).
 *
 * @param where the caller's name, for messages
 * @throws {TypeError} for unusable options: no keys, a private or HMAC key, a key of no RFC 9421 algorithm,
 *   negative `maxAge` or `clockSkew`, a `replayCache` without `claim`
 */
export function compileOptions(options: SignetVerifyOptions, where: string): CompiledOptions {
  if (typeof options !== "object" || options === null) throw new TypeError(`${where} needs options`);
  const cached = compiledOptions.get(options);
  if (cached) return cached;
  const jwks: readonly Jwk[] = Array.isArray(options.keys) ? options.keys : [options.keys as Jwk];
  if (jwks.length === 0) throw new TypeError(`${where}: keys must hold at least one of Signet's public keys`);
  for (const [i, jwk] of jwks.entries()) checkJwk(jwk, `${where}: keys[${i}]`);
  const maxAge = nonNegative(options.maxAge, DEFAULT_MAX_AGE, `${where}: maxAge`);
  const clockSkew = nonNegative(options.clockSkew, DEFAULT_CLOCK_SKEW, `${where}: clockSkew`);
  if (options.now !== undefined && typeof options.now !== "function") {
    throw new TypeError(`${where}: now must be a function returning Unix seconds`);
  }
  const { replayCache } = options;
  if (replayCache !== undefined && typeof replayCache?.claim !== "function") {
    throw new TypeError(`${where}: replayCache must have a claim(nonce, expiresAt) method`);
  }

  let imported: Promise<Map<string, VerificationKey>> | undefined;
  const keys: VerifyOptions["keys"] = async ({ keyid }) => {
    imported ??= importKeys(jwks, where);
    const byThumbprint = await imported;
    return keyid === undefined ? undefined : byThumbprint.get(keyid);
  };
  const base: VerifyOptions = {
    keys,
    tag: ATTESTATION_TAG,
    requiredComponents: [...ATTESTATION_COMPONENTS],
    requiredParameters: ["created", "expires", "nonce", "keyid"],
    maxAge,
    clockSkew,
    now: options.now,
    // Nothing body-related is covered, and the body is never read.
    checkContentDigest: false,
  };
  const agent = VERIFIED_AGENT_HEADER.toLowerCase();
  const monitor = SIGNET_MONITOR_HEADER.toLowerCase();
  const covering = (...extra: string[]): VerifyOptions => ({
    ...base,
    requiredComponents: [...ATTESTATION_COMPONENTS, ...extra],
  });
  const compiled: CompiledOptions = {
    policies: {
      none: base,
      agent: covering(agent),
      monitor: covering(monitor),
      "agent+monitor": covering(agent, monitor),
    },
    maxAge,
    clockSkew,
    replayCache,
  };
  compiledOptions.set(options, compiled);
  return compiled;
}

function checkJwk(jwk: Jwk, where: string): void {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new TypeError(`${where} is not a JWK`);
  if (privateMembersOf(jwk).length > 0) {
    throw new TypeError(`${where} is a private or secret key; configure Signet's public key (attester.publicJwk)`);
  }
  try {
    if (algorithmForJwk(jwk) === "hmac-sha256") throw new TypeError(`${where}: HMAC keys cannot verify attestations`);
  } catch (cause) {
    if (cause instanceof SignatureError) throw new TypeError(`${where}: ${cause.message}`, { cause });
    throw cause;
  }
}

async function importKeys(jwks: readonly Jwk[], where: string): Promise<Map<string, VerificationKey>> {
  const map = new Map<string, VerificationKey>();
  for (const [i, jwk] of jwks.entries()) {
    try {
      const thumbprint = await jwkThumbprint(jwk);
      map.set(thumbprint, await importVerificationKey(jwk, { keyid: thumbprint }));
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new TypeError(`${where}: keys[${i}] cannot be imported: ${detail}`, { cause });
    }
  }
  return map;
}

function nonNegative(value: number | undefined, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${where} must be a number of seconds >= 0`);
  }
  return value;
}

/**
 * Judges one request message. Never throws for anything in the message; only a key that cannot be imported
 * (a configuration error, as a `TypeError`) or a failing replay cache can make it throw.
 */
export async function verifyAttestation(
  message: HttpRequestMessage,
  compiled: CompiledOptions,
): Promise<SignetVerification> {
  const agentValue = combinedField(message.headers, VERIFIED_AGENT_HEADER);
  const monitorValue = combinedField(message.headers, SIGNET_MONITOR_HEADER);
  const which =
    agentValue === undefined
      ? monitorValue === undefined
        ? "none"
        : "monitor"
      : monitorValue === undefined
        ? "agent"
        : "agent+monitor";
  const policy = compiled.policies[which];
  let outcomes: SignatureOutcome[];
  try {
    outcomes = await verifySignatures(message, policy);
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    if (err.code === "no_signature") {
      return refuse("attestation_missing", "the request carries no signature, so no Signet attestation", err);
    }
    return refuse(
      "attestation_invalid",
      `the signature fields cannot be read, so no attestation can be verified: ${err.message}`,
      err,
    );
  }
  // Signet appends its attestation last, so the newest is judged first.
  const ours = outcomes.filter((o) => o.verified || (o.signature !== undefined && o.error.code !== "tag_mismatch"));
  ours.reverse();
  if (ours.length === 0) {
    return refuse("attestation_missing", `the request has no signature tagged "${ATTESTATION_TAG}"`);
  }
  const verified = ours.flatMap((o) => (o.verified ? [o.result] : []));
  if (verified.length === 0) {
    const failure = ours[0] as Extract<SignatureOutcome, { verified: false }>;
    const reason = EXPIRY_CODES.has(failure.error.code) ? "attestation_expired" : "attestation_invalid";
    return refuse(reason, `the attestation "${failure.label}" does not hold: ${failure.error.message}`, failure.error);
  }

  let agent: VerifiedAgent | null = null;
  if (agentValue !== undefined) {
    const parsed = parseVerifiedAgent(agentValue);
    if (parsed === undefined) {
      return refuse("identity_malformed", "the attested Verified-Agent is not a well-formed Verified-Agent dictionary");
    }
    agent = parsed;
  }
  for (const result of verified) {
    if (await claim(result, compiled)) return success(result, agent, monitorValue ?? null);
  }
  return refuse("attestation_replayed", "the attestation's nonce was already used");
}

/** Claims the nonce: `true` when fresh (or when there is no cache). Anything but `true` from the cache refuses. */
async function claim(result: VerifiedSignature, compiled: CompiledOptions): Promise<boolean> {
  const { created, expires, nonce } = result.params as { created: number; expires: number; nonce: string };
  if (compiled.replayCache === undefined) return true;
  // After this instant the attestation is refused as expired or too old anyway.
  const expiresAt = Math.min(expires, created + compiled.maxAge) + compiled.clockSkew;
  return (await compiled.replayCache.claim(nonce, expiresAt)) === true;
}

function success(result: VerifiedSignature, agent: VerifiedAgent | null, monitor: string | null): SignetVerified {
  const { created, expires, nonce } = result.params as { created: number; expires: number; nonce: string };
  return { ok: true, agent, monitor, keyid: result.keyid as string, label: result.label, created, expires, nonce };
}

function refuse(reason: SignetFailureReason, message: string, error?: SignatureError): SignetRefused {
  return { ok: false, reason, message, signatureError: error?.code };
}
