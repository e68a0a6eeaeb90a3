/**
 * Key generation for agents: a private JWK to keep, a public JWK to publish, and the thumbprint that names it.
 *
 * @module
 */
import { type Jwk, jwkThumbprint, publicJwkOf, type SignatureAlgorithm } from "../worker/rfc9421/index.ts";

/** The algorithms an agent key can be generated for. */
export const AGENT_KEY_ALGORITHMS = ["ed25519", "ecdsa-p256-sha256", "rsa-pss-sha512"] as const;

/** One of {@link AGENT_KEY_ALGORITHMS}. */
export type AgentKeyAlgorithm = (typeof AGENT_KEY_ALGORITHMS)[number] & SignatureAlgorithm;

/** A fresh key pair as JWKs. Both carry `kid` = the RFC 7638 thumbprint and the JWS `alg`. */
export interface GeneratedKey {
  readonly algorithm: AgentKeyAlgorithm;
  readonly privateJwk: Jwk;
  readonly publicJwk: Jwk;
  /** The RFC 7638 SHA-256 thumbprint: the Web Bot Auth `keyid`. */
  readonly thumbprint: string;
}

const GENERATE: Record<AgentKeyAlgorithm, { params: object; alg: string }> = {
  ed25519: { params: { name: "Ed25519" }, alg: "Ed25519" },
  "ecdsa-p256-sha256": { params: { name: "ECDSA", namedCurve: "P-256" }, alg: "ES256" },
  "rsa-pss-sha512": {
    params: { name: "RSA-PSS", modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-512" },
    alg: "PS512",
  },
};

/**
 * Generates a signing key pair with WebCrypto.
 *
 * @param algorithm `ed25519` (default), `ecdsa-p256-sha256` or `rsa-pss-sha512` (3072-bit modulus)
 *
 * @example
 * ```ts
 * const { privateJwk, publicJwk, thumbprint } = await generateAgentKey();
 * ```
 */
export async function generateAgentKey(algorithm: AgentKeyAlgorithm = "ed25519"): Promise<GeneratedKey> {
  const spec = GENERATE[algorithm];
  if (spec === undefined) throw new TypeError(`cannot generate a key for "${String(algorithm)}"`);
  const pair = (await crypto.subtle.generateKey(spec.params as Parameters<typeof crypto.subtle.generateKey>[0], true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const exportJwk = async (key: CryptoKey) => {
    const exported = (await crypto.subtle.exportKey("jwk", key)) as unknown as Record<string, unknown>;
    // Some runtimes leave absent members as own properties set to undefined; drop them.
    const {
      key_ops: _ops,
      ext: _ext,
      ...jwk
    } = Object.fromEntries(Object.entries(exported).filter(([, value]) => value !== undefined));
    return jwk as Jwk;
  };
  const publicOnly = publicJwkOf(await exportJwk(pair.publicKey));
  const thumbprint = await jwkThumbprint(publicOnly);
  const privateJwk: Jwk = { ...(await exportJwk(pair.privateKey)), kid: thumbprint, alg: spec.alg };
  const publicJwk: Jwk = { ...publicOnly, kid: thumbprint, alg: spec.alg, use: "sig" };
  return { algorithm, privateJwk, publicJwk, thumbprint };
}
