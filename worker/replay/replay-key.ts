/**
 * The key a signature is remembered by, and the shard that remembers it.
 *
 * @module
 */
import { encodeBase64Url } from "../rfc9421/index.ts";

/** What a signature is remembered by: who signed, and what was signed (never the signature bytes). */
export interface ReplayIdentity {
  /** The signer's key: the `keyid` (Web Bot Auth) or the JWK thumbprint (AAuth). */
  readonly keyid: string | undefined;
  /** The signature's `nonce` parameter, when it has one. */
  readonly nonce: string | undefined;
  /** The signature base that verified (RFC 9421 §2.5), `@signature-params` line included. */
  readonly base: string;
}

/**
 * The replay key of a verified signature: SHA-256 over (keyid, nonce) when it has a nonce, else over (keyid,
 * signature base). It is invariant under every change that keeps the signature valid: a signature verifies over
 * exactly one base, so re-encoded fields, ECDSA's (r, n−s) twin, re-padded base64 and any other bytes that verify
 * for the same message and key all map to one record. Returned as base64url with the raw digest.
 *
 * @example
 * ```ts
 * const { id, digest } = await replayKey({ keyid: "poqk...", nonce: undefined, base: verdict.base });
 * ```
 */
export async function replayKey(input: ReplayIdentity): Promise<{ readonly id: string; readonly digest: Uint8Array }> {
  const material =
    input.nonce === undefined
      ? `base\0${input.keyid ?? ""}\0${input.base}`
      : `nonce\0${input.keyid ?? ""}\0${input.nonce}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(material)));
  return { id: encodeBase64Url(digest), digest };
}

/**
 * The name of the shard (out of `shards`) that holds a key. The shard count is part of the name, so a new count
 * lays out new objects and never mixes with the old ones (see the README on changing it).
 *
 * @example
 * ```ts
 * env.REPLAY_STORE.getByName(shardName(digest, 64)); // "replay-64-17"
 * ```
 */
export function shardName(digest: Uint8Array, shards: number): string {
  const word = (((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0)) >>> 0;
  return `replay-${shards}-${word % shards}`;
}
