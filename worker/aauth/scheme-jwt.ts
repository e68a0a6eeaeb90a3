/**
 * The `jwt` scheme carrying an AAuth token (SK-09 §3.8; AAuth -11 "Agent Token", "Person Token", "Auth Token"):
 * `typ` decides first; the issuer's key is found through `{iss}/.well-known/{dwk}` (issuer checked) → `jwks_uri` →
 * header `kid`; the JWT verifies with that key's own `alg`; the claims are checked per token type; and the HTTP
 * signature key is the token's `cnf.jwk`.
 *
 * @module
 */
import { type AAuthFailure, fail } from "./error-codes.ts";
import { isAgentIdentifier, isServerIdentifier } from "./identifiers.ts";
import { importAAuthJwk, incompleteJwk } from "./jwk.ts";
import { decodeUntrustedJwt, verifyJwt } from "./jwt.ts";
import type { AAuthIdentity, AAuthTokenType, ResolvedSignatureKey, SchemeContext } from "./scheme.ts";
import { keyIdsOf } from "./scheme-jkt-jwt.ts";
import { type SignatureKeyMember, stringParam } from "./signature-key.ts";

/**
 * The `typ` of each AAuth token type and the metadata documents (`dwk`) its issuer may publish keys under.
 *
 * @example
 * ```ts
 * AAUTH_TOKEN_TYPES.agent.typ; // "aa-agent+jwt"
 * ```
 */
export const AAUTH_TOKEN_TYPES: Readonly<
  Record<AAuthTokenType, { readonly typ: string; readonly dwk: readonly string[] }>
> = {
  agent: { typ: "aa-agent+jwt", dwk: ["aauth-agent.json"] },
  person: { typ: "aa-person+jwt", dwk: ["aauth-person.json"] },
  auth: { typ: "aa-auth+jwt", dwk: ["aauth-person.json", "aauth-access.json"] },
};

/** Longest `exp - iat` of person and auth tokens, seconds (AA-11: at most one hour). */
export const MAX_PERSON_TOKEN_LIFETIME = 3600;
/** Default longest agent token lifetime, seconds (AA: SHOULD be at most 24 hours). */
export const DEFAULT_MAX_AGENT_TOKEN_LIFETIME = 86_400;

/**
 * Resolves a `jwt` member holding an AAuth agent, person or auth token. Codes: `invalid_jwt` (malformed, unknown or
 * unaccepted `typ`, wrong `dwk`, bad claims, `aud` not this resource, header/key `alg` mismatch, bad signature),
 * `expired_jwt`, `clock_skew` (`iat` ahead), `issuer_missing`/`issuer_mismatch` (metadata), `unknown_key` (no
 * such `kid` after one refetch), `invalid_key`/`unsupported_algorithm` (issuer key or `cnf.jwk`).
 *
 * @example
 * ```ts
 * const resolved = await resolveAAuthJwt(member, { ...context, acceptTokens: ["auth"] });
 * if (resolved.ok) resolved.identity.personSubject;
 * ```
 */
export async function resolveAAuthJwt(
  member: SignatureKeyMember,
  context: SchemeContext,
): Promise<ResolvedSignatureKey | AAuthFailure> {
  const jwt = stringParam(member, "jwt");
  if (jwt === undefined) return fail("invalid_jwt", 'the jwt member has no String "jwt"');
  const decoded = decodeUntrustedJwt(jwt);
  if (!decoded.ok) return decoded;
  const { header, payload } = decoded;
  const type = (Object.keys(AAUTH_TOKEN_TYPES) as AAuthTokenType[]).find(
    (t) => AAUTH_TOKEN_TYPES[t].typ === header.typ,
  );
  if (type === undefined) return fail("invalid_jwt", "the JWT typ is not an AAuth token type");
  if (!context.acceptTokens.includes(type)) {
    return fail(
      "invalid_jwt",
      `a ${header.typ} token is not accepted here (accepted: ${context.acceptTokens.join(", ")})`,
    );
  }
  if (typeof header.alg !== "string") return fail("invalid_jwt", 'the JWT header has no "alg"');
  if (typeof header.kid !== "string" || header.kid === "") return fail("invalid_jwt", 'the JWT header has no "kid"');
  const loopback = { unsafeAllowLoopback: context.unsafeAllowLoopback };
  const iss = payload.iss;
  if (!isServerIdentifier(iss, loopback)) return fail("invalid_jwt", 'the JWT "iss" is not a valid server identifier');
  const dwk = payload.dwk;
  if (typeof dwk !== "string" || !AAUTH_TOKEN_TYPES[type].dwk.includes(dwk)) {
    return fail("invalid_jwt", `the ${header.typ} "dwk" must be ${AAUTH_TOKEN_TYPES[type].dwk.join(" or ")}`);
  }
  if (typeof payload.exp !== "number") return fail("invalid_jwt", 'the JWT has no numeric "exp"');
  if (payload.ps !== undefined && !isServerIdentifier(payload.ps, loopback)) {
    return fail("invalid_jwt", 'the JWT "ps" is not a valid server identifier');
  }
  const claims = checkClaims(type, payload, context);
  if (claims !== undefined) return claims;
  const cnf = (payload.cnf as { jwk?: unknown } | undefined)?.jwk;
  if (cnf === undefined) return fail("invalid_jwt", 'the JWT has no "cnf.jwk"');
  const incomplete = incompleteJwk(cnf);
  if (incomplete !== undefined) return fail("invalid_key", `cnf.jwk: ${incomplete}`);

  const metadata = await context.cache.metadata(iss, dwk, context.budget);
  if (!metadata.ok) return metadata;
  // The jwks_uri came from the fetched document: messages name it only by the issuer the token names.
  const issuerKey = await context.cache.findKey(
    metadata.jwksUri,
    header.kid,
    context.jwtAlgorithms,
    context.budget,
    `the JWK Set named by the metadata of ${clip(iss)}`,
  );
  if (!issuerKey.ok) return issuerKey;
  if (issuerKey.jwk.alg !== header.alg) {
    // The key's alg is the issuer's bytes: not quoted.
    return fail("invalid_jwt", `the JWT header alg ${clip(header.alg)} is not its issuer key's alg`);
  }
  const verified = await verifyJwt(jwt, issuerKey.jwk, {
    now: context.now,
    typ: AAUTH_TOKEN_TYPES[type].typ,
    iatWindow: context.window,
  });
  if (!verified.ok) return verified;
  const http = await importAAuthJwk(cnf, context.algorithms, context);
  if (!http.ok) return http;
  return {
    ok: true,
    key: http.key,
    jwk: http.jwk,
    identity: identityOf(type, payload, iss, http.thumbprint),
    keyIds: keyIdsOf(http.thumbprint, http.jwk),
  };
}

function checkClaims(
  type: AAuthTokenType,
  payload: Readonly<Record<string, unknown>>,
  context: SchemeContext,
): AAuthFailure | undefined {
  const loopback = { unsafeAllowLoopback: context.unsafeAllowLoopback };
  const exp = payload.exp as number;
  const iat = payload.iat;
  if (iat !== undefined && typeof iat !== "number") return fail("invalid_jwt", 'the JWT "iat" is not a number');
  if (type === "agent") {
    if (!isAgentIdentifier(payload.sub, loopback))
      return fail("invalid_jwt", 'the agent token "sub" is not an agent identifier');
    if (payload.parent_agent !== undefined && !isAgentIdentifier(payload.parent_agent, loopback)) {
      return fail("invalid_jwt", 'the agent token "parent_agent" is not an agent identifier');
    }
    if (typeof iat === "number" && exp - iat > context.maxAgentTokenLifetime) {
      return fail("invalid_jwt", `the agent token lives ${exp - iat} s; at most ${context.maxAgentTokenLifetime} s`);
    }
    return undefined;
  }
  if (context.resource === undefined) return fail("invalid_jwt", "this site has no resource identifier to match aud");
  const aud = payload.aud;
  const audience = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  if (audience !== context.resource) return fail("invalid_jwt", `the token "aud" is not ${context.resource}`);
  if (typeof payload.sub !== "string" || payload.sub === "") return fail("invalid_jwt", 'the token has no "sub"');
  if (typeof iat !== "number") return fail("invalid_jwt", 'the token has no numeric "iat"');
  if (exp - iat > MAX_PERSON_TOKEN_LIFETIME) {
    return fail("invalid_jwt", `the token lives ${exp - iat} s; at most ${MAX_PERSON_TOKEN_LIFETIME} s`);
  }
  if (type === "person" && (payload.scope !== undefined || payload.account !== undefined)) {
    return fail("invalid_jwt", 'a person token must not carry "scope" or "account"');
  }
  if (payload.scope !== undefined && typeof payload.scope !== "string") {
    return fail("invalid_jwt", 'the token "scope" is not a string');
  }
  return undefined;
}

function identityOf(
  type: AAuthTokenType,
  payload: Readonly<Record<string, unknown>>,
  iss: string,
  thumbprint: string,
): AAuthIdentity {
  const text = (name: string) => (typeof payload[name] === "string" ? (payload[name] as string) : undefined);
  const common = {
    scheme: "jwt" as const,
    thumbprint,
    tokenType: type,
    ps: text("ps"),
    jti: text("jti"),
    exp: payload.exp as number,
  };
  if (type === "agent") {
    return { ...common, level: "agent", agentProvider: iss, agentId: text("sub"), parentAgent: text("parent_agent") };
  }
  return {
    ...common,
    level: type === "person" ? "person" : "authorized",
    personIssuer: iss,
    personSubject: text("sub"),
    scope: text("scope"),
    account: text("account"),
    tenant: text("tenant"),
    missionS256: text("mission_s256"),
  };
}

function clip(text: string): string {
  return text.length <= 32 ? text : `${text.slice(0, 32)}…`;
}
