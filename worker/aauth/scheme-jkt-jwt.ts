/**
 * The `jkt-jwt` scheme (SK-09 §3.5): a JWT signed by a key carried in its own header `jwk`, whose `iss` must be
 * that key's thumbprint URI, delegating to `cnf.jwk` for the HTTP signature. Anyone can mint one: pseudonymous.
 *
 * @module
 */
import { encodeBase64Url, type Jwk } from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";
import { importAAuthJwk } from "./jwk.ts";
import { decodeUntrustedJwt, verifyJwt } from "./jwt.ts";
import type { ResolvedSignatureKey, SchemeContext } from "./scheme.ts";
import { type SignatureKeyMember, stringParam } from "./signature-key.ts";

const TYPES: Readonly<Record<string, "SHA-256" | "SHA-512">> = {
  "jkt-s256+jwt": "SHA-256",
  "jkt-s512+jwt": "SHA-512",
};

const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"],
};

/**
 * The `urn:jkt:<hash>:<thumbprint>` of a JWK (RFC 7638 members, SHA-256 or SHA-512), or `undefined` for an
 * incomplete key.
 *
 * @example
 * ```ts
 * await jktUri(jwk, "SHA-256"); // "urn:jkt:sha-256:poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
 * ```
 */
export async function jktUri(jwk: Jwk, hash: "SHA-256" | "SHA-512"): Promise<string | undefined> {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ""];
  if (members === undefined) return undefined;
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value !== "string") return undefined;
    canonical[name] = value;
  }
  const digest = await crypto.subtle.digest(hash, new TextEncoder().encode(JSON.stringify(canonical)));
  return `urn:jkt:${hash.toLowerCase()}:${encodeBase64Url(new Uint8Array(digest))}`;
}

/**
 * Resolves a `jkt-jwt` member: `typ` `jkt-s256+jwt` or `jkt-s512+jwt`; `iss` recomputed from the header `jwk`
 * and compared byte for byte; the JWT verified with that header key (its `alg`); `exp` required, `iat` not ahead;
 * the HTTP key is `cnf.jwk`.
 *
 * @example
 * ```ts
 * const resolved = await resolveJktJwt(member, context);
 * if (resolved.ok) resolved.identity.subject; // the device's urn:jkt:sha-256:…
 * ```
 */
export async function resolveJktJwt(
  member: SignatureKeyMember,
  context: SchemeContext,
): Promise<ResolvedSignatureKey | AAuthFailure> {
  const jwt = stringParam(member, "jwt");
  if (jwt === undefined) return fail("invalid_jwt", 'the jkt-jwt member has no String "jwt"');
  const decoded = decodeUntrustedJwt(jwt);
  if (!decoded.ok) return decoded;
  const typ = decoded.header.typ;
  const hash = typeof typ === "string" ? TYPES[typ] : undefined;
  if (hash === undefined) return fail("invalid_jwt", "the jkt-jwt typ must be jkt-s256+jwt or jkt-s512+jwt");
  const headerJwk = decoded.header.jwk;
  if (typeof headerJwk !== "object" || headerJwk === null) return fail("invalid_jwt", 'the JWT header has no "jwk"');
  const signer = await importAAuthJwk(headerJwk, context.jwtAlgorithms, context);
  if (!signer.ok) return signer;
  const expectedIss = await jktUri(signer.jwk, hash);
  if (decoded.payload.iss !== expectedIss) {
    return fail("invalid_jwt", "the jkt-jwt iss is not the thumbprint URI of its header key");
  }
  if (decoded.header.alg !== signer.jwk.alg) return fail("invalid_jwt", 'the JWT header "alg" is not its key\'s');
  const verified = await verifyJwt(jwt, signer.jwk, {
    now: context.now,
    typ: typ as string,
    iatWindow: context.window,
  });
  if (!verified.ok) return verified;
  const cnf = (verified.payload.cnf as { jwk?: unknown } | undefined)?.jwk;
  if (cnf === undefined) return fail("invalid_jwt", 'the jkt-jwt has no "cnf.jwk"');
  const http = await importAAuthJwk(cnf, context.algorithms, context);
  if (!http.ok) return http;
  return {
    ok: true,
    key: http.key,
    jwk: http.jwk,
    identity: {
      level: "pseudonymous",
      scheme: "jkt-jwt",
      thumbprint: http.thumbprint,
      subject: expectedIss,
      jti: typeof verified.payload.jti === "string" ? verified.payload.jti : undefined,
      exp: verified.payload.exp,
    },
    keyIds: keyIdsOf(http.thumbprint, http.jwk),
  };
}

/**
 * The values a `keyid` may take to name a key: its thumbprint, `urn:jkt:sha-256:` form and `kid`.
 *
 * @example
 * ```ts
 * keyIdsOf("poqk…", { kid: "k1" }); // ["poqk…", "urn:jkt:sha-256:poqk…", "k1"]
 * ```
 */
export function keyIdsOf(thumbprint: string, jwk: Jwk, ...more: Array<string | undefined>): string[] {
  const ids = [thumbprint, `urn:jkt:sha-256:${thumbprint}`];
  for (const id of [typeof jwk.kid === "string" ? jwk.kid : undefined, ...more]) if (id !== undefined) ids.push(id);
  return ids;
}
