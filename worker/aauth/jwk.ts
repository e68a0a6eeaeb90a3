/**
 * Turning a JWK reached through `Signature-Key` (an `hwk` key, a `cnf.jwk`, a JWKS member) into a verification
 * key under SK-09 §3.3 rules: `alg` required and fully specified (`EdDSA`, `none`, `HS*` refused), `kty`/`crv`
 * consistent with it, complete public members, no private members, weak keys refused, `alg` in the accepted list.
 *
 * @module
 */
import {
  importJoseVerificationKey,
  isRfc9421TestKey,
  isSignatureError,
  type JoseAlgorithm,
  type Jwk,
  jwkThumbprint,
  privateMembersOf,
  type VerificationKey,
} from "../rfc9421/index.ts";
import { type AAuthFailure, fail } from "./error-codes.ts";

/**
 * The JOSE algorithms AAuth verifiers accept by default: Ed25519 (REQUIRED), ES256 (SHOULD), ES384, PS256, PS512.
 *
 * @example
 * ```ts
 * verifyAAuthLabels(message, { resource, algorithms: DEFAULT_AAUTH_ALGORITHMS });
 * ```
 */
export const DEFAULT_AAUTH_ALGORITHMS: readonly JoseAlgorithm[] = ["Ed25519", "ES256", "ES384", "PS256", "PS512"];

/**
 * A JWK accepted for verification, with its RFC 7638 thumbprint.
 *
 * @example
 * ```ts
 * const imported: ImportedJwk = { ok: true, key, jwk, thumbprint: "poqkLGiy…" };
 * ```
 */
export interface ImportedJwk {
  readonly ok: true;
  readonly key: VerificationKey;
  readonly jwk: Jwk;
  readonly thumbprint: string;
}

/**
 * Options of {@link importAAuthJwk}.
 *
 * @example
 * ```ts
 * await importAAuthJwk(jwk, ["Ed25519"], { allowTestKeys: policy.allowTestKeys });
 * ```
 */
export interface ImportAAuthJwkOptions {
  /** Accept the published RFC 9421 test keys (tests only). Default `false`: they are `invalid_key`. */
  readonly allowTestKeys?: boolean | undefined;
}

const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  OKP: ["crv", "x"],
  EC: ["crv", "x", "y"],
  RSA: ["n", "e"],
};

/**
 * Whether a JWK is structurally complete for its key type (AAuth: checked *before* decoding a `cnf.jwk`). Answers
 * the reason, or `undefined` when complete.
 *
 * @example
 * ```ts
 * incompleteJwk({ kty: "OKP", crv: "Ed25519" }); // 'the OKP JWK lacks "x"'
 * ```
 */
export function incompleteJwk(jwk: unknown): string | undefined {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return "the key is not a JSON object";
  const record = jwk as Record<string, unknown>;
  if (typeof record.kty !== "string") return 'the JWK has no "kty"';
  const members = REQUIRED[record.kty];
  if (members === undefined) return undefined; // an unknown kty is an algorithm question (unsupported_algorithm)
  for (const name of members) {
    if (typeof record[name] !== "string" || record[name] === "") return `the ${record.kty} JWK lacks "${name}"`;
  }
  return undefined;
}

/**
 * Imports a public JWK for verifying with its own `alg`. Codes: `unsupported_algorithm` (no `alg`, a polymorphic,
 * symmetric, prohibited or unknown one, one outside `algorithms`, an unknown `kty`), `invalid_key` (incomplete,
 * private members, `kty`/`crv` disagree with `alg`, weak or unimportable key, or one of the published RFC 9421
 * test keys, whose private halves anyone has, unless `options.allowTestKeys`).
 *
 * @example
 * ```ts
 * const imported = await importAAuthJwk({ kty: "OKP", crv: "Ed25519", x: "JrQ…", alg: "Ed25519" }, ["Ed25519"]);
 * if (imported.ok) imported.thumbprint; // "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
 * ```
 */
export async function importAAuthJwk(
  jwk: unknown,
  algorithms: readonly string[] = DEFAULT_AAUTH_ALGORITHMS,
  options: ImportAAuthJwkOptions = {},
): Promise<ImportedJwk | AAuthFailure> {
  const incomplete = incompleteJwk(jwk);
  if (incomplete !== undefined) return fail("invalid_key", incomplete);
  const key = jwk as Jwk;
  const leaked = privateMembersOf(key)[0];
  if (leaked !== undefined) return fail("invalid_key", `the JWK carries the private member "${leaked}"`);
  if (key.alg === undefined) return fail("unsupported_algorithm", 'the JWK has no "alg"; it must name one');
  if (typeof key.alg !== "string") return fail("invalid_key", 'the JWK "alg" is not a string');
  if (REQUIRED[key.kty as string] === undefined) {
    return fail("unsupported_algorithm", `the key type "${clip(String(key.kty))}" is not supported`);
  }
  try {
    const imported = await importJoseVerificationKey(key);
    if (!algorithms.includes(imported.algorithm)) {
      return fail("unsupported_algorithm", `the algorithm ${imported.algorithm} is not accepted here`);
    }
    const thumbprint = await jwkThumbprint(key);
    if (options.allowTestKeys !== true && isRfc9421TestKey(thumbprint)) {
      return fail("invalid_key", "the key is a published RFC 9421 test key: anyone can sign with it");
    }
    return { ok: true, key: imported, jwk: key, thumbprint };
  } catch (error) {
    if (!isSignatureError(error)) throw error;
    return fail(error.code === "unsupported_algorithm" ? "unsupported_algorithm" : "invalid_key", error.message);
  }
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 64)}…`;
}
