/**
 * Reading a body stream with a size limit: the one loop every bounded read in Signet uses (the body checked against
 * a signature's `Content-Digest`, the attestation's digest, a fetched key set, the origin helpers' digest check, the
 * console's login form). What to do past the limit stays the caller's choice: give up, refuse, or stream on.
 *
 * @module
 */

/** What {@link readUpTo} read: the whole body, or the chunks read until it passed the limit. */
export type ReadUpTo =
  | { readonly complete: true; readonly bytes: Uint8Array<ArrayBuffer> }
  /** Past the limit: every chunk read so far, the one that crossed it included; the reader is left open. */
  | { readonly complete: false; readonly head: readonly Uint8Array[] };

/**
 * Reads `reader` to its end, or until more than `limit` bytes have arrived. Read errors propagate (wrap them in
 * the caller's own error); past the limit nothing is cancelled, so the caller can cancel or stream the rest on.
 *
 * @param read how to read one chunk (for example raced against a deadline); default `reader.read()`
 *
 * @example
 * ```ts
 * const reader = request.body.getReader();
 * const read = await readUpTo(reader, 1_048_576);
 * if (!read.complete) await reader.cancel();
 * else console.log(read.bytes.byteLength);
 * ```
 */
export async function readUpTo(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  read: () => Promise<ReadableStreamReadResult<Uint8Array>> = () => reader.read(),
): Promise<ReadUpTo> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await read();
    if (next.done) break;
    chunks.push(next.value);
    size += next.value.byteLength;
    if (size > limit) return { complete: false, head: chunks };
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { complete: true, bytes };
}
