/**
 * The key a signature is remembered by, and the shard that remembers it.
 *
 * @module
 */
import { encodeBase64Url } from "../rfc9421/index.ts";

/**
 * The replay key of a signature: SHA-256 over (keyid, nonce) when it has a nonce, else over the decoded
 * signature bytes (never the base64 text, whose padding bits can vary). Returned as hex with the raw digest.
 *
 * @example
 * ```ts
 * const { id } = await replayKey({ keyid: "poqk...", nonce: "n9p4...", signature });
 * ```
 */
export async function replayKey(input: {
  readonly keyid: string | undefined;
  readonly nonce: string | undefined;
  readonly signature: Uint8Array;
}): Promise<{ readonly id: string; readonly digest: Uint8Array }> {
  const encoder = new TextEncoder();
  const material =
    input.nonce === undefined
      ? concat(encoder.encode("signature\0"), input.signature)
      : encoder.encode(`nonce\0${input.keyid ?? ""}\0${input.nonce}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", material));
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
