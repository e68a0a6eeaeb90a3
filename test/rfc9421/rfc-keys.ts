/** The RFC 9421 Appendix B.1 test keys, imported from `test/vectors/rfc9421-keys.json`. */

import {
  importSigningKey,
  importVerificationKey,
  type Jwk,
  type SignatureAlgorithm,
  type SigningKey,
  type VerificationKey,
} from "../../worker/rfc9421/index.ts";
import keyFile from "../vectors/rfc9421-keys.json";

export type RfcKeyId = keyof typeof keyFile.keys;

export const rfcKeys = keyFile.keys as Record<string, { jwk: Jwk; algorithm: SignatureAlgorithm }>;

export function rfcKey(keyid: string): { jwk: Jwk; algorithm: SignatureAlgorithm } {
  const key = rfcKeys[keyid];
  if (!key) throw new Error(`no RFC test key ${keyid}`);
  return key;
}

export function rfcVerificationKey(keyid: string): Promise<VerificationKey> {
  const { jwk, algorithm } = rfcKey(keyid);
  return importVerificationKey(jwk, { algorithm });
}

export function rfcSigningKey(keyid: string): Promise<SigningKey> {
  const { jwk, algorithm } = rfcKey(keyid);
  return importSigningKey(jwk, { algorithm });
}
