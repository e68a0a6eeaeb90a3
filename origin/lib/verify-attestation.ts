/**
 * The verification shared by every origin adapter: options checked once per options object, then one
 * judgement per request message. Not exported from `origin/index.ts`.
 *
 * @module
 */

import {
  ATTESTATION_COMPONENTS,
  ATTESTATION_REQUEST_HEADERS,
  ATTESTATION_TAG,
  DEFAULT_MAX_DIGEST_BYTES,
  SIGNET_BODY_HEADER,
  SIGNET_BODY_UNBOUND,
  SIGNET_MONITOR_HEADER,
} from "../../worker/identity/attestation.ts";
import { parseVerifiedAgent, VERIFIED_AGENT_HEADER, type VerifiedAgent } from "../../worker/identity/verified-agent.ts";
import { METHOD_OR_PATH_OVERRIDE_HEADERS, retargetingHeaderIn } from "../../worker/retargeting-headers.ts";
import {
  algorithmForJwk,
  combinedField,
  type HttpRequestMessage,
  importVerificationKey,
  type Jwk,
  jwkThumbprint,
  privateMembersOf,
  RFC9421_TEST_KEY_THUMBPRINTS,
  readUpTo,
  SignatureError,
  type SignatureErrorCode,
  type SignatureOutcome,
  type VerificationKey,
  type VerifiedSignature,
  type VerifyOptions,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";
import type { SignetFailureReason } from "../reasons.ts";
import { createMemoryReplayCache, DEFAULT_REPLAY_CACHE_SIZE, type ReplayCache } from "./memory-replay-cache.ts";
import type { CheckedTarget } from "./request-target.ts";

export type { ReplayCache } from "./memory-replay-cache.ts";

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
  /**
   * Replay protection: every accepted nonce is claimed here. Default: an in-memory cache of at most
   * `replayCacheSize` live nonces per options object, which protects one process; pass a shared
   * {@link ReplayCache} when the origin runs as several.
   */
  readonly replayCache?: ReplayCache | undefined;
  /** The most live nonces the default in-memory replay cache holds (full of live ones, it refuses). Default 65536. */
  readonly replayCacheSize?: number | undefined;
  /**
   * The largest body, in bytes, read to check the attestation's `content-digest`; a bound body larger than this
   * is refused with `body_too_large`. Default 1 MiB, Signet's own default digest limit.
   */
  readonly maxBodyBytes?: number | undefined;
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
  /** The method that was verified. */
  readonly method: string;
  /** The target URI that was verified (`scheme://authority/path?query`): route on this, nothing else. */
  readonly url: string;
  /**
   * The body the attestation binds, as verified against its `content-digest` (empty for a request without a
   * body); `null` when Signet forwarded a body too large to digest (`Signet-Body: unbound`): then the body is
   * not covered by the attestation, and may have been altered after Signet.
   */
  readonly body: Uint8Array | null;
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
  /** The core policy; per request, every covered header the request carries is added to its required components. */
  readonly base: VerifyOptions;
  /** Settles when Signet's keys are imported; rejects (a `TypeError`) for a key that cannot serve. */
  readonly keysReady: Promise<unknown>;
  /** The policy per combination of covered headers present ({@link policyFor}); at most a few dozen. */
  readonly policies: Map<string, VerifyOptions>;
  readonly maxAge: number;
  readonly clockSkew: number;
  readonly maxBodyBytes: number;
  readonly replayCache: ReplayCache;
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
 *   negative `maxAge`, `clockSkew` or `maxBodyBytes`, a `replayCache` without `claim`, a bad `replayCacheSize`
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
  const maxBodyBytes = nonNegative(options.maxBodyBytes, DEFAULT_MAX_DIGEST_BYTES, `${where}: maxBodyBytes`);
  const { replayCache, replayCacheSize } = options;
  if (replayCache !== undefined && typeof replayCache?.claim !== "function") {
    throw new TypeError(`${where}: replayCache must have a claim(nonce, expiresAt) method`);
  }
  if (replayCacheSize !== undefined && (!Number.isSafeInteger(replayCacheSize) || replayCacheSize < 1)) {
    throw new TypeError(`${where}: replayCacheSize must be a whole number >= 1`);
  }
  const clock = options.now ?? (() => Date.now() / 1000);

  // Imported now, so that a test key or an unusable key shows at the first request at the latest.
  const imported = importKeys(jwks, where);
  imported.catch(() => undefined);
  const keys: VerifyOptions["keys"] = async ({ keyid }) => {
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
    checkContentDigest: true,
  };
  const compiled: CompiledOptions = {
    base,
    keysReady: imported,
    policies: new Map(),
    maxAge,
    clockSkew,
    maxBodyBytes,
    replayCache: replayCache ?? createMemoryReplayCache(replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE, clock),
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
      if (RFC9421_TEST_KEY_THUMBPRINTS.has(thumbprint)) {
        throw new TypeError("it is a published RFC 9421 test key, which anyone can sign with");
      }
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
 * Judges one request message, whose target the adapter already checked. The body is read (through
 * `message.body`) only to check a covered `content-digest`. Never throws for anything in the message; only a key
 * that cannot be imported (a configuration error, as a `TypeError`) or a failing replay cache can make it throw.
 */
export async function verifyAttestation(
  message: HttpRequestMessage,
  target: CheckedTarget,
  compiled: CompiledOptions,
): Promise<SignetVerification> {
  // A configuration error (a test key, a key that cannot be imported) shows on every request, signed or not.
  await compiled.keysReady;
  // Signet never forwards a method or path override: one here was added after Signet, and the application's
  // framework may act on it instead of the method and target verified below.
  const override = retargetingHeaderIn(
    (name) => combinedField(message.headers, name) !== undefined,
    METHOD_OR_PATH_OVERRIDE_HEADERS,
  );
  if (override !== undefined) {
    return refuse(
      "target_invalid",
      `the request carries ${override}, which would change the method or target acted on`,
    );
  }
  const agentValue = combinedField(message.headers, VERIFIED_AGENT_HEADER);
  const monitorValue = combinedField(message.headers, SIGNET_MONITOR_HEADER);
  const bodyValue = combinedField(message.headers, SIGNET_BODY_HEADER);
  if (bodyValue !== undefined && bodyValue !== SIGNET_BODY_UNBOUND) {
    return refuse("attestation_invalid", `${SIGNET_BODY_HEADER} has a value Signet never sets`);
  }
  // Every Signet header and every header the origin acts on that the request carries must be covered; the body
  // is bound by content-digest unless Signet said it is not.
  const present: string[] = ATTESTATION_REQUEST_HEADERS.filter(
    (name) => combinedField(message.headers, name) !== undefined,
  );
  present.push(bodyValue === undefined ? "content-digest" : SIGNET_BODY_HEADER.toLowerCase());
  if (agentValue !== undefined) present.push(VERIFIED_AGENT_HEADER.toLowerCase());
  if (monitorValue !== undefined) present.push(SIGNET_MONITOR_HEADER.toLowerCase());
  const policy = policyFor(present, compiled);

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
    const reason = EXPIRY_CODES.has(failure.error.code)
      ? "attestation_expired"
      : failure.error.code === "missing_body"
        ? "body_too_large"
        : "attestation_invalid";
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
  const body = bodyValue === undefined ? await bodyOf(message) : null;
  for (const result of verified) {
    if (await claim(result, compiled)) {
      return success(result, { agent, monitor: monitorValue ?? null, method: message.method, url: target.url, body });
    }
  }
  return refuse("attestation_replayed", "the attestation's nonce was already used");
}

/**
 * The core policy requiring the attestation components plus `present` (request headers, either plain or as
 * `;bs`), built once per combination.
 */
function policyFor(present: readonly string[], compiled: CompiledOptions): VerifyOptions {
  const key = present.join(" ");
  let policy = compiled.policies.get(key);
  if (policy === undefined) {
    const requiredComponents: Array<string | string[]> = [...ATTESTATION_COMPONENTS];
    for (const name of present) {
      requiredComponents.push(
        (ATTESTATION_REQUEST_HEADERS as readonly string[]).includes(name) ? [name, `"${name}";bs`] : name,
      );
    }
    policy = { ...compiled.base, requiredComponents };
    compiled.policies.set(key, policy);
  }
  return policy;
}

/** The body the core already read to check content-digest (the adapters memoise it). */
async function bodyOf(message: HttpRequestMessage): Promise<Uint8Array> {
  const body = typeof message.body === "function" ? await message.body() : message.body;
  return body ?? new Uint8Array(0);
}

/**
 * Memoises a body reader and caps it at `limit` bytes: a larger body is refused as `missing_body` (the
 * attestation cannot be checked without reading it all).
 *
 * @example
 * ```ts
 * const body = limitedBody(() => readAll(req), compiled.maxBodyBytes);
 * ```
 */
export function limitedBody(
  read: (limit: number) => Promise<Uint8Array | undefined>,
  limit: number,
): () => Promise<Uint8Array> {
  let once: Promise<Uint8Array> | undefined;
  return () => {
    once ??= read(limit).then((bytes) => {
      if (bytes === undefined) {
        throw new SignatureError("missing_body", `the body is larger than maxBodyBytes (${limit}), so it was not read`);
      }
      return bytes;
    });
    return once;
  };
}

/**
 * Reads a stream to the end, or gives `undefined` as soon as it exceeds `limit` bytes (cancelling the rest).
 *
 * @example
 * ```ts
 * const bytes = await readStreamLimited(request.clone().body, 1_048_576);
 * ```
 */
export async function readStreamLimited(
  stream: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array | undefined> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const read = await readUpTo(reader, limit);
  if (read.complete) return read.bytes;
  await reader.cancel();
  return undefined;
}

/** Claims the nonce: `true` when fresh. Anything but `true` from the cache refuses. */
async function claim(result: VerifiedSignature, compiled: CompiledOptions): Promise<boolean> {
  const { created, expires, nonce } = result.params as { created: number; expires: number; nonce: string };
  // After this instant the attestation is refused as expired or too old anyway.
  const expiresAt = Math.min(expires, created + compiled.maxAge) + compiled.clockSkew;
  return (await compiled.replayCache.claim(nonce, expiresAt)) === true;
}

function success(
  result: VerifiedSignature,
  judged: Pick<SignetVerified, "agent" | "monitor" | "method" | "url" | "body">,
): SignetVerified {
  const { created, expires, nonce } = result.params as { created: number; expires: number; nonce: string };
  return { ok: true, ...judged, keyid: result.keyid as string, label: result.label, created, expires, nonce };
}

/**
 * A refusal.
 *
 * @example
 * ```ts
 * return refuse("target_invalid", "the Host header is not a valid authority");
 * ```
 */
export function refuse(reason: SignetFailureReason, message: string, error?: SignatureError): SignetRefused {
  return { ok: false, reason, message, signatureError: error?.code };
}
