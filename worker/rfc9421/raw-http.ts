/**
 * Reads an HTTP/1.1 message from its text (as captured, or as printed in RFC 9421's examples) into the message
 * model, keeping what Fetch objects lose: separate field lines, obs-fold, the raw request-target, trailers.
 *
 * @module
 */
import { SignatureError } from "./errors.ts";
import type { HttpMessage, HttpRequestMessage, HttpResponseMessage } from "./message.ts";

/** Options for {@link parseHttpMessage}. */
export interface ParseHttpMessageOptions {
  /** The scheme the request arrived over (the text does not say). Default `https`. */
  readonly scheme?: "http" | "https";
  /** For a response: the request it answers, for components with `;req`. */
  readonly request?: HttpRequestMessage;
}

const encoder = new TextEncoder();

/**
 * Parses the text of one HTTP/1.1 request or response. Lines may end in CRLF or LF; obs-fold continuation lines
 * stay part of their field's value (component values fold them later); a chunked body is decoded and its trailer
 * section kept apart from the headers.
 *
 * @throws {SignatureError} `malformed_http_message` for text that is not an HTTP/1.1 message,
 *   `invalid_target_uri` for a request whose target URI cannot be formed
 *
 * @example
 * ```ts
 * const message = parseHttpMessage("GET /foo HTTP/1.1\r\nHost: example.com\r\n\r\n");
 * ```
 */
export function parseHttpMessage(text: string, options: ParseHttpMessageOptions = {}): HttpMessage {
  const normalised = text.replace(/\r\n/g, "\n");
  const split = normalised.indexOf("\n\n");
  const head = split === -1 ? normalised.replace(/\n+$/, "") : normalised.slice(0, split);
  const rest = split === -1 ? "" : normalised.slice(split + 2);
  const lines = head.split("\n");
  const startLine = lines.shift() ?? "";
  const headers = readFieldLines(lines);
  const chunked = headers.some(
    ([name, value]) => name.toLowerCase() === "transfer-encoding" && /(^|,)\s*chunked\s*$/i.test(value),
  );
  let body = encoder.encode(rest);
  let trailers: Array<[string, string]> | undefined;
  if (chunked) ({ body, trailers } = decodeChunked(rest));

  const response = /^HTTP\/\d(?:\.\d)? (\d{3})(?: .*)?$/.exec(startLine);
  if (response) {
    const message: HttpResponseMessage = {
      kind: "response",
      status: Number(response[1]),
      headers,
      trailers,
      body,
      request: options.request,
    };
    return message;
  }
  const request = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/\d(?:\.\d)?$/.exec(startLine);
  if (!request) throw new SignatureError("malformed_http_message", `not an HTTP/1.1 start line: ${startLine}`);
  const method = request[1] as string;
  const requestTarget = request[2] as string;
  const scheme = options.scheme ?? "https";
  const host = headers.find(([name]) => name.toLowerCase() === "host")?.[1].trim();
  return {
    kind: "request",
    method,
    requestTarget,
    targetUri: targetUriOf(method, requestTarget, host, scheme),
    headers,
    trailers,
    body,
  };
}

function readFieldLines(lines: readonly string[]): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const line of lines) {
    const last = fields.at(-1);
    if (/^[ \t]/.test(line)) {
      if (!last) throw new SignatureError("malformed_http_message", "a continuation line before any field");
      last[1] += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(line.slice(0, colon))) {
      throw new SignatureError("malformed_http_message", `not a field line: ${line}`);
    }
    fields.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return fields;
}

function decodeChunked(text: string): { body: Uint8Array; trailers: Array<[string, string]> } {
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (;;) {
    const eol = text.indexOf("\n", pos);
    if (eol === -1) throw new SignatureError("malformed_http_message", "chunked body ends without a last chunk");
    const sizeText = (text.slice(pos, eol).split(";")[0] ?? "").trim();
    if (!/^[0-9A-Fa-f]{1,8}$/.test(sizeText)) {
      throw new SignatureError("malformed_http_message", `bad chunk size "${sizeText.slice(0, 20)}"`);
    }
    const size = Number.parseInt(sizeText, 16);
    pos = eol + 1;
    if (size === 0) break;
    parts.push(encoder.encode(text.slice(pos, pos + size)));
    pos += size + 1;
  }
  const trailerText = text.slice(pos).replace(/\n+$/, "");
  const trailers = trailerText === "" ? [] : readFieldLines(trailerText.split("\n"));
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    body.set(p, offset);
    offset += p.length;
  }
  return { body, trailers };
}

function targetUriOf(method: string, target: string, host: string | undefined, scheme: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target; // absolute-form
  if (method === "CONNECT") return `${scheme}://${target}`; // authority-form
  if (host === undefined || host === "") {
    throw new SignatureError("invalid_target_uri", "the request has no Host field to form its target URI");
  }
  if (target === "*") return `${scheme}://${host}`; // asterisk-form
  if (!target.startsWith("/")) throw new SignatureError("malformed_http_message", `bad request-target ${target}`);
  return `${scheme}://${host}${target}`;
}
