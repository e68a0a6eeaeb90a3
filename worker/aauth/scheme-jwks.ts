/**
 * The `jwks_uri` and `jwks` schemes (SK-09 §3.6, §3.7): keys published by an origin, found through its metadata
 * document (`{id}/.well-known/{dwk}`, issuer checked) or at a JWK Set URL, selected by `kid`. The `id` or `url`
 * is only a pseudonym unless the site allow-lists it (SK-09 §7.3).
 *
 * @module
 */
import { type AAuthFailure, fail } from "./error-codes.ts";
import type { ResolvedSignatureKey, SchemeContext } from "./scheme.ts";
import { keyIdsOf } from "./scheme-jkt-jwt.ts";
import { type SignatureKeyMember, stringParam } from "./signature-key.ts";

/**
 * Resolves a `jwks_uri` member (`id`, `dwk`, `kid`, all Strings, else `invalid_key`).
 *
 * @example
 * ```ts
 * // Signature-Key: sig=jwks_uri;id="https://client.example";dwk="aauth-agent.json";kid="key-1"
 * const resolved = await resolveJwksUri(member, context);
 * ```
 */
export async function resolveJwksUri(
  member: SignatureKeyMember,
  context: SchemeContext,
): Promise<ResolvedSignatureKey | AAuthFailure> {
  const id = stringParam(member, "id");
  const dwk = stringParam(member, "dwk");
  const kid = stringParam(member, "kid");
  if (id === undefined || dwk === undefined || kid === undefined) {
    return fail("invalid_key", 'a jwks_uri member needs String "id", "dwk" and "kid"');
  }
  const metadata = await context.cache.metadata(id, dwk, context.budget);
  if (!metadata.ok) return metadata;
  // The jwks_uri came from the fetched document: messages name it only by the id the client sent.
  const found = await context.cache.findKey(
    metadata.jwksUri,
    kid,
    context.algorithms,
    context.budget,
    `the JWK Set named by the metadata of ${clip(id)}`,
  );
  return finish("jwks_uri", id, found, kid, context);
}

/**
 * Resolves a `jwks` member (`url`, `kid`, both Strings, else `invalid_key`). The `url` is compared to the allow
 * list byte for byte, never normalised.
 *
 * @example
 * ```ts
 * // Signature-Key: sig=jwks;url="https://client.example/keys.jwks";kid="key-1"
 * const resolved = await resolveJwks(member, context);
 * ```
 */
export async function resolveJwks(
  member: SignatureKeyMember,
  context: SchemeContext,
): Promise<ResolvedSignatureKey | AAuthFailure> {
  const url = stringParam(member, "url");
  const kid = stringParam(member, "kid");
  if (url === undefined || kid === undefined) return fail("invalid_key", 'a jwks member needs String "url" and "kid"');
  return finish("jwks", url, await context.cache.findKey(url, kid, context.algorithms, context.budget), kid, context);
}

function finish(
  scheme: "jwks_uri" | "jwks",
  keySet: string,
  found: Awaited<ReturnType<SchemeContext["cache"]["findKey"]>>,
  kid: string,
  context: SchemeContext,
): ResolvedSignatureKey | AAuthFailure {
  if (!found.ok) return found;
  const trusted = context.trustedKeySets.includes(keySet);
  return {
    ok: true,
    key: found.key,
    jwk: found.jwk,
    identity: {
      level: trusted ? "agent" : "pseudonymous",
      scheme,
      thumbprint: found.thumbprint,
      keySet,
      trustedKeySet: trusted,
    },
    keyIds: keyIdsOf(found.thumbprint, found.jwk, kid),
  };
}

function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 100)}…`;
}
