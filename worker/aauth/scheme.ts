/**
 * What a `Signature-Key` scheme resolver produces: the JOSE key that verifies the HTTP signature, its thumbprint,
 * and the identity that key proves, graded `pseudonymous` < `agent` < `person` < `authorized`. Resolvers never
 * throw for client input; every refusal is an {@link AAuthFailure} with an SK-09 code.
 *
 * @module
 */

import type { RequestBudget } from "../discovery/request-budget.ts";
import type { Jwk, VerificationKey } from "../rfc9421/index.ts";
import type { AAuthFailure } from "./error-codes.ts";
import type { AAuthKeyCache } from "./key-cache.ts";
import type { ImplementedScheme, SignatureKeyMember } from "./signature-key.ts";

/**
 * How much a verified signature says about who sent it: only a key (`pseudonymous`: `hwk`, `jkt-jwt`, unlisted
 * `jwks_uri`/`jwks`), an agent or allow-listed key set (`agent`), a person (`aa-person+jwt`), or a person's
 * authorization (`aa-auth+jwt`).
 *
 * @example
 * ```ts
 * const level: IdentityLevel = "agent";
 * ```
 */
export type IdentityLevel = "pseudonymous" | "agent" | "person" | "authorized";

/**
 * The AAuth token types a `jwt` member may carry.
 *
 * @example
 * ```ts
 * const accept: readonly AAuthTokenType[] = ["auth"]; // never a person token where authorization is required
 * ```
 */
export type AAuthTokenType = "agent" | "person" | "auth";

/**
 * The identity proven by a signature's key.
 *
 * @example
 * ```ts
 * identity.level === "agent" && console.log(identity.agentProvider, identity.agentId);
 * ```
 */
export interface AAuthIdentity {
  readonly level: IdentityLevel;
  readonly scheme: ImplementedScheme;
  /** RFC 7638 SHA-256 thumbprint of the HTTP signing key. */
  readonly thumbprint: string;
  /** A stable pseudonymous subject: `urn:jkt:sha-256:<thumbprint>` (hwk) or the jkt-jwt `iss`. */
  readonly subject?: string | undefined;
  /** `jwks_uri` `id` or `jwks` `url`, and whether it is on the allow list. */
  readonly keySet?: string | undefined;
  readonly trustedKeySet?: boolean | undefined;
  /** The token type of a `jwt` member. */
  readonly tokenType?: AAuthTokenType | undefined;
  /** Agent token: `iss` (the Agent Provider) and `sub` (`aauth:local@domain`). */
  readonly agentProvider?: string | undefined;
  readonly agentId?: string | undefined;
  readonly parentAgent?: string | undefined;
  /** The Person Server named by `ps`. */
  readonly ps?: string | undefined;
  /** Person or auth token: `iss` and `sub` (a directed, opaque person id). */
  readonly personIssuer?: string | undefined;
  readonly personSubject?: string | undefined;
  readonly scope?: string | undefined;
  readonly account?: string | undefined;
  readonly tenant?: string | undefined;
  readonly missionS256?: string | undefined;
  readonly jti?: string | undefined;
  readonly exp?: number | undefined;
}

/**
 * A resolved key: verify the HTTP signature with `key`.
 *
 * @example
 * ```ts
 * const resolved: ResolvedSignatureKey = { ok: true, key, jwk, identity, keyIds: [thumbprint] };
 * ```
 */
export interface ResolvedSignatureKey {
  readonly ok: true;
  readonly key: VerificationKey;
  readonly jwk: Jwk;
  readonly identity: AAuthIdentity;
  /** Values a `keyid` signature parameter may take to name this key (thumbprint, its `urn:jkt` form, `kid`s). */
  readonly keyIds: readonly string[];
}

/**
 * What a resolver is given.
 *
 * @example
 * ```ts
 * await resolveHwk(member, context);
 * ```
 */
export interface SchemeContext {
  /** JOSE algorithms accepted for the HTTP signature key. */
  readonly algorithms: readonly string[];
  /** JOSE algorithms accepted for JWT signatures (issuer keys, jkt-jwt header keys). */
  readonly jwtAlgorithms: readonly string[];
  /** Now, Unix seconds. */
  readonly now: number;
  /** The signature window, seconds: a JWT `iat` further ahead is `clock_skew`. */
  readonly window: number;
  readonly cache: AAuthKeyCache;
  /** The site's resource identifier (`aud` of person and auth tokens). */
  readonly resource?: string | undefined;
  /** Token types accepted in a `jwt` member. */
  readonly acceptTokens: readonly AAuthTokenType[];
  /** `jwks_uri` ids and `jwks` urls whose keys identify rather than pseudonymise. */
  readonly trustedKeySets: readonly string[];
  /** Longest agent token lifetime (`exp - iat`) accepted, seconds. */
  readonly maxAgentTokenLifetime: number;
  readonly unsafeAllowLoopback: boolean;
  /** Accept the published RFC 9421 test keys as signing keys (tests only). */
  readonly allowTestKeys: boolean;
  /** The request's budget, passed to every metadata and JWKS lookup. Default: a scope of its own. */
  readonly budget?: RequestBudget | undefined;
}

/**
 * A scheme resolver.
 *
 * @example
 * ```ts
 * const resolver: SchemeResolver = resolveHwk;
 * ```
 */
export type SchemeResolver = (
  member: SignatureKeyMember,
  context: SchemeContext,
) => Promise<ResolvedSignatureKey | AAuthFailure>;
