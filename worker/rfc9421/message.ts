/**
 * The HTTP message model the core signs and verifies: a request or a response, with field lines as received.
 *
 * @module
 */

/**
 * Header or trailer fields. Either a Fetch `Headers` object (values of one name arrive already joined with
 * `", "` and trimmed), or the raw field lines in order, so that obs-fold and separate lines (`;bs`) are visible.
 */
export type FieldLines = Headers | ReadonlyArray<readonly [name: string, value: string]>;

/** A message body: the exact bytes, or a function that reads them when they are needed (content-digest). */
export type MessageBody = Uint8Array | (() => Promise<Uint8Array>);

/** An HTTP request as the verifier or signer sees it. */
export interface HttpRequestMessage {
  readonly kind: "request";
  /** The method exactly as sent (no case change). */
  readonly method: string;
  /**
   * The target URI (RFC 9110 §7.1) as received, not normalised: `https://example.com/a/../b?x`. `@path` and
   * `@query` are taken from this text, not from a WHATWG `URL`.
   */
  readonly targetUri: string;
  /** The raw request-target of an HTTP/1.1 request line, when known (needed only for `@request-target`). */
  readonly requestTarget?: string | undefined;
  readonly headers: FieldLines;
  /** Trailer fields, when the message has a trailer section. */
  readonly trailers?: FieldLines | undefined;
  readonly body?: MessageBody | undefined;
}

/** An HTTP response, with the request it answers when signatures cover request components (`;req`). */
export interface HttpResponseMessage {
  readonly kind: "response";
  readonly status: number;
  readonly headers: FieldLines;
  readonly trailers?: FieldLines | undefined;
  readonly body?: MessageBody | undefined;
  readonly request?: HttpRequestMessage | undefined;
}

/** Either kind of message. */
export type HttpMessage = HttpRequestMessage | HttpResponseMessage;

/**
 * All values of a field, one entry per field line, in order. Names match case-insensitively.
 *
 * @example
 * ```ts
 * fieldValues([["Cache-Control", "max-age=60"], ["cache-control", "must-revalidate"]], "cache-control");
 * // ["max-age=60", "must-revalidate"]
 * ```
 */
export function fieldValues(fields: FieldLines, name: string): string[] | undefined {
  const wanted = name.toLowerCase();
  if (isHeaders(fields)) {
    const value = fields.get(wanted);
    return value === null ? undefined : [value];
  }
  const values: string[] = [];
  for (const [n, v] of fields) if (n.toLowerCase() === wanted) values.push(v);
  return values.length === 0 ? undefined : values;
}

/**
 * One field line's value as RFC 9421 §2.1 reads it: leading and trailing OWS removed, obs-fold replaced by a
 * single space.
 *
 * @example
 * ```ts
 * fieldLineValue("  Obsolete\r\n    line folding. "); // "Obsolete line folding."
 * ```
 */
export function fieldLineValue(value: string): string {
  // Linear scans, not regular expressions: a covered field full of whitespace must not cost quadratic time.
  let unfolded = value;
  if (value.includes("\n")) {
    unfolded = "";
    let from = 0;
    for (let nl = value.indexOf("\n"); nl !== -1; nl = value.indexOf("\n", from)) {
      let next = nl + 1;
      while (next < value.length && isOws(value.charCodeAt(next))) next++;
      if (next === nl + 1) {
        unfolded += value.slice(from, nl + 1); // a bare line break, not obs-fold: left for the ASCII check
      } else {
        let end = value.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        while (end > from && isOws(value.charCodeAt(end - 1))) end--;
        unfolded += `${value.slice(from, end)} `;
      }
      from = next;
    }
    unfolded += value.slice(from);
  }
  let start = 0;
  let end = unfolded.length;
  while (start < end && isOws(unfolded.charCodeAt(start))) start++;
  while (end > start && isOws(unfolded.charCodeAt(end - 1))) end--;
  return unfolded.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * A field's combined value: every line's value (see {@link fieldLineValue}) joined with `", "`, or `undefined`
 * when the field is absent.
 *
 * @example
 * ```ts
 * combinedField(request.headers, "signature-input");
 * ```
 */
export function combinedField(fields: FieldLines, name: string): string | undefined {
  return fieldValues(fields, name)?.map(fieldLineValue).join(", ");
}

function isHeaders(fields: FieldLines): fields is Headers {
  return typeof (fields as Headers).get === "function" && !Array.isArray(fields);
}

/**
 * The request message of a Fetch `Request`: method, URL and headers as Workers deliver them. The body is read
 * (from a clone) only if a covered `content-digest` must be checked.
 *
 * Note that `Request.url` is WHATWG-serialised: a signer that signed raw bytes the URL parser rewrites (dot
 * segments, `%7e`, spaces) will not verify, because the raw target is no longer known here.
 *
 * @example
 * ```ts
 * const message = requestFromFetch(request);
 * const result = await verifyMessage(message, options);
 * ```
 */
export function requestFromFetch(request: Request): HttpRequestMessage {
  return {
    kind: "request",
    method: request.method,
    targetUri: request.url,
    headers: request.headers,
    body: async () => new Uint8Array(await request.clone().arrayBuffer()),
  };
}

/**
 * The response message of a Fetch `Response`, optionally tied to the request it answers.
 *
 * @example
 * ```ts
 * const message = responseFromFetch(response, requestFromFetch(request));
 * ```
 */
export function responseFromFetch(response: Response, request?: HttpRequestMessage): HttpResponseMessage {
  return {
    kind: "response",
    status: response.status,
    headers: response.headers,
    body: async () => new Uint8Array(await response.clone().arrayBuffer()),
    request,
  };
}
