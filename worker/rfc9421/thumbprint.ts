/**
 * JWK thumbprints (RFC 7638, with RFC 8037 for OKP keys) and their URI form (RFC 9278).
 *
 * @module
 */
import { encodeBase64Url } from "./base64.ts";
import { SignatureError } from "./errors.ts";
import type { Jwk } from "./key.ts";

/** The members that make up a thumbprint, per key type, in lexicographic order (RFC 7638 §3.2, RFC 8037 §2). */
const REQUIRED_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"],
  oct: ["k", "kty"],
};

/**
 * The RFC 7638 SHA-256 thumbprint of a JWK, base64url without padding. This is the Web Bot Auth `keyid`.
 *
 * @throws {SignatureError} `invalid_key` for an unknown key type or a missing member
 *
 * @example
 * ```ts
 * await jwkThumbprint({ kty: "OKP", crv: "Ed25519", x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" });
 * // "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"
 * ```
 */
export async function jwkThumbprint(jwk: Jwk): Promise<string> {
  const members = jwk.kty === undefined ? undefined : REQUIRED_MEMBERS[jwk.kty];
  if (members === undefined) throw new SignatureError("invalid_key", `no thumbprint for key type "${jwk.kty}"`);
  const source: Record<string, unknown> = jwk;
  const canonical: Record<string, string> = {};
  for (const name of members) {
    const value = source[name];
    if (typeof value !== "string" || value === "") {
      throw new SignatureError("invalid_key", `the ${jwk.kty} JWK lacks "${name}" for its thumbprint`);
    }
    canonical[name] = value;
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify(canonical)));
  return encodeBase64Url(new Uint8Array(digest));
}

/**
 * The thumbprint as a URI (RFC 9278): `urn:ietf:params:oauth:jwk-thumbprint:sha-256:<thumbprint>`.
 *
 * @example
 * ```ts
 * await jwkThumbprintUri(publicJwk); // "urn:ietf:params:oauth:jwk-thumbprint:sha-256:poqkLGiy..."
 * ```
 */
export async function jwkThumbprintUri(jwk: Jwk): Promise<string> {
  return `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${await jwkThumbprint(jwk)}`;
}
