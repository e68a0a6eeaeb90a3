/**
 * The `hwk` scheme (SK-09 §3.4): the public key inline as String parameters, `alg` REQUIRED, `kid` forbidden.
 * Pseudonymous: the key is the only identity.
 *
 * @module
 */
import type { Jwk } from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";
import { importAAuthJwk } from "./jwk.ts";
import type { ResolvedSignatureKey, SchemeContext } from "./scheme.ts";
import type { SignatureKeyMember } from "./signature-key.ts";

const MEMBERS = ["kty", "crv", "x", "y", "n", "e", "alg"] as const;

/**
 * Resolves an `hwk` member. `invalid_key` for a `kid`, a non-String key parameter or a bad key;
 * `unsupported_algorithm` for a missing or refused `alg`.
 *
 * @example
 * ```ts
 * const resolved = await resolveHwk(member, context);
 * if (resolved.ok) resolved.identity.subject; // "urn:jkt:sha-256:poqkLGiy…"
 * ```
 */
export async function resolveHwk(
  member: SignatureKeyMember,
  context: SchemeContext,
): Promise<ResolvedSignatureKey | AAuthFailure> {
  if (member.params.has("kid")) return fail("invalid_key", 'an hwk key must not carry "kid"');
  const jwk: Record<string, string> = {};
  for (const name of MEMBERS) {
    const param = member.params.get(name);
    if (param === undefined) continue;
    if (param.type !== "string") return fail("invalid_key", `the hwk parameter "${name}" must be a String`);
    jwk[name] = param.value;
  }
  const imported = await importAAuthJwk(jwk as Jwk, context.algorithms, context);
  if (!imported.ok) return imported;
  const subject = `urn:jkt:sha-256:${imported.thumbprint}`;
  return {
    ok: true,
    key: imported.key,
    jwk: imported.jwk,
    identity: { level: "pseudonymous", scheme: "hwk", thumbprint: imported.thumbprint, subject },
    keyIds: [imported.thumbprint, subject],
  };
}
