/**
 * The request as the RFC 9421 core reads it during verification, with a body that is read at most once and
 * never beyond a limit: a signature covering `content-digest` makes the core hash the body, and without a bound
 * one request could make Signet hold any amount of it (once per label, before this module).
 *
 * @module
 */
import { MAX_DIGEST_BYTES_LIMIT } from "../identity/attestation.ts";
import { type HttpRequestMessage, type ReadUpTo, readUpTo, SignatureError } from "../rfc9421/index.ts";

/**
 * The most body bytes Signet reads to check an agent's `content-digest` by default: 16 MiB, the largest digest
 * limit the attester accepts. The body is held in memory while it is checked (it cannot be forwarded before the
 * signature is judged), so this bounds what one request can make Signet hold; an agent's larger body is refused.
 *
 * @example
 * ```ts
 * DEFAULT_VERIFY_BODY_BYTES; // 16_777_216
 * ```
 */
export const DEFAULT_VERIFY_BODY_BYTES: number = MAX_DIGEST_BYTES_LIMIT;

/**
 * The verification message of a Fetch request: its method, URL and headers, and a body reader that reads a
 * clone of the body once (every label and profile shares the bytes) and stops at `limit` bytes. Past the limit
 * it fails with the core's `missing_body` code, so a label covering `content-digest` is refused rather than
 * judged on part of the body; the rest of the stream is never pulled, and the request itself stays readable.
 *
 * @param request the incoming request
 * @param limit the most body bytes to read
 *
 * @example
 * ```ts
 * const verification = await verifyRequest(boundedRequestMessage(request, DEFAULT_VERIFY_BODY_BYTES), options);
 * ```
 */
export function boundedRequestMessage(request: Request, limit: number): HttpRequestMessage {
  let once: Promise<Uint8Array> | undefined;
  return {
    kind: "request",
    method: request.method,
    targetUri: request.url,
    headers: request.headers,
    body: () => {
      once ??= readAtMost(request, limit);
      return once;
    },
  };
}

async function readAtMost(request: Request, limit: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  let stream: ReadableStream<Uint8Array> | null;
  try {
    stream = request.clone().body;
  } catch (cause) {
    // A body already read (by middleware before Signet's) cannot be checked against a digest.
    throw new SignatureError("missing_body", "the request body was already read, so it cannot be checked", { cause });
  }
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  let read: ReadUpTo;
  try {
    read = await readUpTo(reader, limit);
  } catch (cause) {
    throw new SignatureError("missing_body", "the request body could not be read", { cause });
  }
  if (!read.complete) {
    reader.cancel().catch(() => undefined);
    throw new SignatureError(
      "missing_body",
      `the body is larger than ${limit} bytes, the most Signet reads to check content-digest; sign a smaller body`,
    );
  }
  return read.bytes;
}
