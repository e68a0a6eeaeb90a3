/**
 * Whether a request has a body, judged on the bytes rather than on what `Content-Length` claims: the coverage a
 * rule asks of a signature (`content-digest` with a body) must follow the body that will be forwarded and
 * attested, not a header the client wrote.
 *
 * @module
 */

/**
 * Whether `request` carries at least one body byte. No body stream: no. A body with a `Content-Length` other
 * than `0`: yes, without reading. A body stream under `Content-Length: 0` (a request built in process, where the
 * header and the stream can disagree): a clone is read up to its first non-empty chunk, so a non-empty body
 * counts whatever the header says; the request itself stays readable.
 *
 * @example
 * ```ts
 * await carriesBody(new Request("https://a.example/", { method: "POST", body: "x", headers: { "content-length": "0" } })); // true
 * await carriesBody(new Request("https://a.example/")); // false
 * ```
 */
export async function carriesBody(request: Request): Promise<boolean> {
  if (request.body === null) return false;
  if (request.headers.get("content-length")?.trim() !== "0") return true;
  let clone: ReadableStream<Uint8Array> | null;
  try {
    clone = request.clone().body;
  } catch {
    // A body already read (by middleware before Signet's): it cannot be shown empty, so it counts.
    return true;
  }
  if (clone === null) return false;
  const reader = clone.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (value.byteLength > 0) return true;
    }
  } catch {
    // A body that fails while being read is not an empty one; the attester refuses it as body_unreadable.
    return true;
  } finally {
    reader.cancel().catch(() => undefined);
  }
}
