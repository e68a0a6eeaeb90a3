/**
 * One bounded fetch of a key set: no redirects, one wall-clock deadline for headers and body together, only
 * `200 OK` with the right media type, and a body read by streaming under a byte cap. Never throws for anything
 * the network or the server does; every failure is a {@link DiscoveryErrorCode} with a message.
 *
 * @module
 */
import { readUpTo } from "../rfc9421/index.ts";
import { checkEgress } from "./egress-guard.ts";
import type { AgentReference, DiscoveryErrorCode } from "./key-source.ts";

/** The media type of a key directory at the well-known location (PROTO-02 / WG-01: servers MUST use it). */
export const DIRECTORY_MEDIA_TYPE = "application/http-message-signatures-directory+json";
/** The media type of a JWK Set (RFC 7517 §8.5.2). */
export const JWK_SET_MEDIA_TYPE = "application/jwk-set+json";

/** The `Accept` header sent with every key set fetch. */
export const KEY_SET_ACCEPT = `${DIRECTORY_MEDIA_TYPE}, ${JWK_SET_MEDIA_TYPE};q=0.9, application/json;q=0.8`;

/** Default wall-clock limit for one fetch, headers and body together, in milliseconds. */
export const DEFAULT_FETCH_TIMEOUT_MS = 3000;
/** Default largest body accepted, in bytes (after content decoding). */
export const DEFAULT_MAX_KEY_SET_BYTES = 65_536;

/** The `fetch` Signet calls. Only these two arguments are ever passed. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/**
 * Options of {@link fetchKeySet}.
 *
 * @example
 * ```ts
 * await fetchKeySet(url, { kind: "jwks", timeoutMs: 2000, maxBytes: 32_768 });
 * ```
 */
export interface FetchKeySetOptions {
  /** `directory` or `jwks`: decides the accepted media types. Default `directory`. */
  readonly kind?: AgentReference["kind"] | undefined;
  /** The fetch to use. Default: the global `fetch`. */
  readonly fetch?: FetchFunction | undefined;
  /**
   * Wall-clock limit in milliseconds for the whole exchange: connecting, waiting for headers and reading the
   * body. A server that sends headers and then trickles the body is cut off at the same deadline. Default
   * {@link DEFAULT_FETCH_TIMEOUT_MS}.
   */
  readonly timeoutMs?: number | undefined;
  /** Largest body accepted in bytes; reading stops as soon as it is passed. Default {@link DEFAULT_MAX_KEY_SET_BYTES}. */
  readonly maxBytes?: number | undefined;
  /**
   * Also accept `application/json` and `application/jwk-set+json` for the `directory` kind (the draft requires
   * the directory media type at the well-known location; some deployments may not send it). Default `false`.
   */
  readonly lenientDirectoryMediaType?: boolean | undefined;
  /** See {@link EgressOptions.unsafeAllowLoopback}. Tests and local demos only. Default `false`. */
  readonly unsafeAllowLoopback?: boolean | undefined;
  /** The `User-Agent` sent. Default `"signet-key-discovery"`. */
  readonly userAgent?: string | undefined;
  /**
   * Fetch some other bounded JSON document (AAuth metadata, a JWK Set named by `jwks_uri`): the `Accept` header to
   * send and the media types accepted, replacing what `kind` decides. Default: decided by `kind`.
   */
  readonly mediaTypes?: { readonly accept: string; readonly accepted: readonly string[] } | undefined;
}

/** A key set response that passed every transport check. */
export interface FetchedKeySet {
  readonly ok: true;
  /** The URL fetched (as parsed by the egress guard). */
  readonly url: string;
  /** The media type without parameters, lower-cased. */
  readonly mediaType: string;
  /** The exact body bytes (for `Content-Digest`). */
  readonly bytes: Uint8Array;
  /** The body decoded as UTF-8. */
  readonly text: string;
  /** A copy of the response headers (`Signature`, `Signature-Input`, `Content-Digest`, caching fields). */
  readonly headers: Headers;
  /** `Cache-Control`, `Expires`, `Date`, `Age`, `ETag` and `Last-Modified`, when present. */
  readonly caching: CachingHeaders;
}

/** The HTTP caching fields of a response, as received. */
export interface CachingHeaders {
  readonly cacheControl?: string | undefined;
  readonly expires?: string | undefined;
  readonly date?: string | undefined;
  readonly age?: string | undefined;
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
}

/** Why a key set could not be fetched. */
export interface KeySetFetchFailure {
  readonly ok: false;
  readonly code: Extract<DiscoveryErrorCode, "egress_refused" | "directory_unreachable" | "directory_rejected">;
  readonly message: string;
  /** The HTTP status, when a response arrived. */
  readonly status?: number | undefined;
  /** `Retry-After` of a 429 or 503 response, in seconds, when it was a valid delay or date. */
  readonly retryAfterSeconds?: number | undefined;
}

/**
 * The outcome of {@link fetchKeySet}.
 *
 * @example
 * ```ts
 * const result: FetchKeySetResult = await fetchKeySet(url);
 * const text = result.ok ? result.text : undefined;
 * ```
 */
export type FetchKeySetResult = FetchedKeySet | KeySetFetchFailure;

/**
 * Fetches a key set once. The URL first passes {@link checkEgress} (`egress_refused`). The request is a `GET`
 * with `redirect: "manual"` and the {@link KEY_SET_ACCEPT} header. Failures:
 *
 * - `directory_unreachable`: the deadline passed (before or after the headers), or the connection failed or was
 *   reset, also in the middle of the body;
 * - `directory_rejected`: any status but 200 (a 3xx is never followed), a media type that is not accepted for
 *   the kind, a declared or actual body larger than `maxBytes`, a body that is not UTF-8.
 *
 * Accepted media types: for `directory`, `application/http-message-signatures-directory+json` (and, with
 * `lenientDirectoryMediaType`, `application/jwk-set+json` and `application/json` too); for `jwks`, all three.
 * The body is cancelled on every failure, so the connection is released and a huge body is never read.
 *
 * @example
 * ```ts
 * const result = await fetchKeySet("https://agent.example/.well-known/http-message-signatures-directory");
 * if (result.ok) console.log(result.text, result.caching.cacheControl);
 * else console.log(result.code, result.message); // e.g. "directory_rejected", "… answered 302 …"
 * ```
 */
export async function fetchKeySet(url: string, options: FetchKeySetOptions = {}): Promise<FetchKeySetResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_KEY_SET_BYTES;
  checkPositive(timeoutMs, "timeoutMs");
  checkPositive(maxBytes, "maxBytes");
  const egress = checkEgress(url, { unsafeAllowLoopback: options.unsafeAllowLoopback });
  if (!egress.allowed) return { ok: false, code: "egress_refused", message: egress.reason };
  const target = egress.url.href;
  const kind = options.kind ?? "directory";
  const doFetch: FetchFunction = options.fetch ?? ((input, init) => fetch(input, init));

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineError(timeoutMs)), timeoutMs);
  const deadline = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
  });
  deadline.catch(() => {}); // observed through `race`; never an unhandled rejection
  let response: Response | undefined;
  try {
    const pending = doFetch(target, {
      method: "GET",
      redirect: "manual",
      headers: {
        accept: options.mediaTypes?.accept ?? KEY_SET_ACCEPT,
        "user-agent": options.userAgent ?? "signet-key-discovery",
      },
      signal: controller.signal,
    });
    // If the deadline wins, a response that still arrives later is released at once.
    pending.then((late) => (controller.signal.aborted ? discard(late) : undefined)).catch(() => {});
    response = await race(pending, deadline);
    const rejected = checkResponse(response, target, kind, options, maxBytes);
    if (rejected !== undefined) {
      discard(response);
      return rejected;
    }
    const bytes = await readCapped(response, maxBytes, deadline);
    if (bytes === undefined) {
      return { ok: false, code: "directory_rejected", message: `${target} sent a body larger than ${maxBytes} bytes` };
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      return { ok: false, code: "directory_rejected", message: `${target} sent a body that is not UTF-8` };
    }
    return {
      ok: true,
      url: target,
      mediaType: mediaTypeOf(response) as string,
      bytes,
      text,
      headers: new Headers(response.headers),
      caching: cachingHeaders(response.headers),
    };
  } catch (error) {
    if (response !== undefined) discard(response);
    if (error instanceof DeadlineError) {
      const phase = response === undefined ? "before the response headers" : "while reading the body";
      return {
        ok: false,
        code: "directory_unreachable",
        message: `${target} timed out after ${timeoutMs} ms ${phase}`,
      };
    }
    // The runtime's own text (workerd's "internal error; reference = …", a TLS library's words) stays out.
    return {
      ok: false,
      code: "directory_unreachable",
      message: `${target} could not be fetched: ${networkFailure(error)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The abort reason of the deadline, told apart from network errors. */
class DeadlineError extends Error {
  constructor(ms: number) {
    super(`the key set fetch took longer than ${ms} ms`);
    this.name = "TimeoutError";
  }
}

function checkResponse(
  response: Response,
  url: string,
  kind: AgentReference["kind"],
  options: FetchKeySetOptions,
  maxBytes: number,
): KeySetFetchFailure | undefined {
  // Browsers hide a manual redirect as an opaque response with status 0; workerd returns the 3xx itself.
  if ((response.type as string) === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    const location = response.headers.get("location");
    const to = location === null ? "" : ` to ${truncate(location, 200)}`;
    return {
      ok: false,
      code: "directory_rejected",
      status: response.status,
      message: `${url} answered ${response.status} (a redirect${to}); key sets are never fetched through redirects`,
    };
  }
  if (response.status !== 200) {
    const retryAfterSeconds =
      response.status === 429 || response.status === 503 ? retryAfter(response.headers.get("retry-after")) : undefined;
    return {
      ok: false,
      code: "directory_rejected",
      status: response.status,
      retryAfterSeconds,
      message: `${url} answered ${response.status}; only 200 is accepted`,
    };
  }
  const mediaType = mediaTypeOf(response);
  const accepted =
    options.mediaTypes?.accepted ??
    (kind === "jwks" || options.lenientDirectoryMediaType === true
      ? [DIRECTORY_MEDIA_TYPE, JWK_SET_MEDIA_TYPE, "application/json"]
      : [DIRECTORY_MEDIA_TYPE]);
  if (mediaType === undefined || !accepted.includes(mediaType)) {
    return {
      ok: false,
      code: "directory_rejected",
      status: 200,
      message: `${url} sent ${mediaType === undefined ? "no media type" : `the media type ${truncate(mediaType, 100)}`}; a ${kind} needs ${accepted.join(" or ")}`,
    };
  }
  const declared = response.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared.trim()) > maxBytes) {
    return {
      ok: false,
      code: "directory_rejected",
      status: 200,
      message: `${url} declared a body of ${declared.trim()} bytes; at most ${maxBytes} are accepted`,
    };
  }
  return undefined;
}

/** Reads the body chunk by chunk; `undefined` as soon as more than `maxBytes` arrived (the rest is cancelled). */
async function readCapped(
  response: Response,
  maxBytes: number,
  deadline: Promise<never>,
): Promise<Uint8Array | undefined> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  try {
    const read = await readUpTo(reader, maxBytes, () => race(reader.read(), deadline));
    if (read.complete) return read.bytes;
    cancel(reader);
    return undefined;
  } catch (error) {
    cancel(reader);
    throw error;
  }
}

function race<T>(work: Promise<T>, deadline: Promise<never>): Promise<T> {
  return Promise.race([work, deadline]);
}

function cancel(reader: ReadableStreamDefaultReader<Uint8Array>): void {
  reader.cancel().catch(() => {});
}

/** Releases a response that will not be read. */
function discard(response: Response): void {
  if (response.body !== null && !response.bodyUsed) {
    try {
      response.body.cancel().catch(() => {});
    } catch {
      // A locked body is being cancelled through its reader already.
    }
  }
}

function mediaTypeOf(response: Response): string | undefined {
  const value = response.headers.get("content-type");
  if (value === null) return undefined;
  const type = (value.split(";")[0] as string).trim().toLowerCase();
  return type === "" ? undefined : type;
}

function cachingHeaders(headers: Headers): CachingHeaders {
  const get = (name: string) => headers.get(name) ?? undefined;
  return {
    cacheControl: get("cache-control"),
    expires: get("expires"),
    date: get("date"),
    age: get("age"),
    etag: get("etag"),
    lastModified: get("last-modified"),
  };
}

function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function checkPositive(value: number, name: string): void {
  if (!(Number.isFinite(value) && value > 0)) throw new TypeError(`fetchKeySet: ${name} must be a number > 0`);
}

/**
 * Signet's words for a failed fetch: which kind of failure, judged from the error, never its text (workerd's
 * "internal error; reference = …" or a TLS library's words must not reach a client or a log line as if ours).
 *
 * @example
 * ```ts
 * networkFailure(new Error("internal error; reference = 0123abcd")); // "the connection or TLS handshake failed"
 * ```
 */
export function networkFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name} ${error.message}` : "";
  if (/certificate|tls|ssl|handshake/i.test(text)) return "the TLS handshake failed (is its certificate trusted?)";
  if (/refused|reset|closed|disconnect/i.test(text)) return "the connection was refused or closed";
  if (/dns|resolve|enotfound|eai_again/i.test(text)) return "the host name could not be resolved";
  return "the connection or TLS handshake failed";
}
