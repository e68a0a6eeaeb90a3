/**
 * `@query-param` values (RFC 9421 §2.2.8): parse the query as `application/x-www-form-urlencoded` (WHATWG URL
 * §5.1), then percent-encode names and values again with the urlencoded percent-encode set, space as `%20`.
 *
 * `URLSearchParams.toString()` (space as `+`) and `encodeURIComponent` (leaves `!'()~`) both get this wrong.
 *
 * @module
 */

const utf8 = new TextEncoder();
// WHATWG "UTF-8 decode without BOM": a leading U+FEFF is data, not a marker to drop.
const utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * The query's name/value pairs, each re-encoded as RFC 9421 §2.2.8 requires.
 *
 * @param query the raw query without its leading `?`
 *
 * @example
 * ```ts
 * encodedQueryPairs("bar=with+plus+whitespace&a=%7e"); // [["bar", "with%20plus%20whitespace"], ["a", "%7E"]]
 * ```
 */
export function encodedQueryPairs(query: string): Array<[name: string, value: string]> {
  const pairs: Array<[string, string]> = [];
  for (const sequence of query.split("&")) {
    if (sequence === "") continue;
    const eq = sequence.indexOf("=");
    const name = eq === -1 ? sequence : sequence.slice(0, eq);
    const value = eq === -1 ? "" : sequence.slice(eq + 1);
    pairs.push([reencode(name), reencode(value)]);
  }
  return pairs;
}

/**
 * Percent-encodes a string with the `application/x-www-form-urlencoded` percent-encode set: every byte of its
 * UTF-8 form except ASCII alphanumerics and `*-._` becomes `%XX` (upper case).
 *
 * @example
 * ```ts
 * formUrlEncode("façade\": "); // "fa%C3%A7ade%22%3A%20"
 * ```
 */
export function formUrlEncode(text: string): string {
  let out = "";
  for (const byte of utf8.encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9*\-._]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function reencode(raw: string): string {
  return formUrlEncode(percentDecode(raw.replace(/\+/g, " ")));
}

/** WHATWG percent-decode: `%XX` with two hex digits becomes that byte; anything else stays as it is. */
function percentDecode(text: string): string {
  const input = utf8.encode(text);
  const out = new Uint8Array(input.length);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i] as number;
    if (byte === 0x25 && i + 2 < input.length && isHex(input[i + 1]) && isHex(input[i + 2])) {
      out[n++] = Number.parseInt(String.fromCharCode(input[i + 1] as number, input[i + 2] as number), 16);
      i += 2;
    } else {
      out[n++] = byte;
    }
  }
  return utf8Decoder.decode(out.subarray(0, n));
}

function isHex(byte: number | undefined): boolean {
  return byte !== undefined && /[0-9A-Fa-f]/.test(String.fromCharCode(byte));
}
