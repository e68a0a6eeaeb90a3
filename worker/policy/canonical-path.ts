/**
 * The one canonical form of a request path, on which Signet matches route rules and which it forwards to the
 * origin (so the origin routes on exactly the path the rule was matched on).
 *
 * From the path as received (percent-encoded, without query):
 *
 * 1. every `%XX` must be a valid escape; escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded,
 *    every other escape is kept with upper-case hex digits;
 * 2. an escaped `/` or `\` (`%2F`, `%5C`) and a literal `\` are refused (`escapedSlashes: "reject"`, the default)
 *    or turned into `/` (`"decode"`);
 * 3. refused outright: control characters (escaped or literal) and a literal space, an escaped `;` (`%3B`: origins
 *    disagree on whether it starts path parameters), a literal `?` or `#`, and an escaped `%` that would spell
 *    another escape (`%2561`: an origin that decodes twice would see `a`), and overlong UTF-8 (`%C0%AF`);
 * 4. other characters outside RFC 3986 `pchar` (`"`, `<`, `|`, non-ASCII, ...) are percent-encoded as UTF-8;
 * 5. repeated slashes are merged and dot segments (`.`, `..`, also when spelled `%2E`) resolved, never above the
 *    root; a trailing slash stays as it was.
 *
 * Case and `;` path parameters are kept as they are here: the route matcher (`route.ts`) decides what they mean.
 *
 * @module
 */

/**
 * What to do with an escaped slash (`%2F`, `%5C`) or a literal backslash, after Envoy's action of that name.
 *
 * @example
 * ```ts
 * const action: EscapedSlashAction = policy.paths.escapedSlashes; // "reject" unless the policy says "decode"
 * ```
 */
export type EscapedSlashAction = "reject" | "decode";

/**
 * Options of {@link canonicalPath}.
 *
 * @example
 * ```ts
 * canonicalPath("/a%2Fb", { escapedSlashes: "decode" } satisfies CanonicalPathOptions); // { path: "/a/b" }
 * ```
 */
export interface CanonicalPathOptions {
  /** Default `reject`: the spelling is refused, since origins disagree on whether it separates segments. */
  readonly escapedSlashes?: EscapedSlashAction | undefined;
}

/**
 * Why a path has no canonical form.
 *
 * @example
 * ```ts
 * const result = canonicalPath("/a%00");
 * if ("reject" in result) result.reject satisfies PathRejection; // "control_character"
 * ```
 */
export type PathRejection =
  | "not_absolute"
  | "bad_escape"
  | "escaped_slash"
  | "control_character"
  | "escaped_semicolon"
  | "double_encoding"
  | "overlong_utf8"
  | "not_a_path";

/**
 * The canonical path, or why there is none.
 *
 * @example
 * ```ts
 * const result: CanonicalPathResult = canonicalPath("//a/./b");
 * if ("path" in result) console.log(result.path); // "/a/b"
 * ```
 */
export type CanonicalPathResult = { readonly path: string } | { readonly reject: PathRejection };

/**
 * Fixed, client-safe explanations of each {@link PathRejection} (never echoing the path).
 *
 * @example
 * ```ts
 * PATH_REJECTION_DETAILS.escaped_slash; // "the request path contains an escaped slash or backslash ..."
 * ```
 */
export const PATH_REJECTION_DETAILS: Readonly<Record<PathRejection, string>> = Object.freeze({
  not_absolute: "the request path does not start with /",
  bad_escape: "the request path has a % that does not start a valid escape",
  escaped_slash:
    "the request path contains an escaped slash or backslash (%2F, %5C or \\), whose meaning differs between servers",
  control_character: "the request path contains a control character or a space",
  escaped_semicolon: "the request path contains an escaped semicolon (%3B), whose meaning differs between servers",
  double_encoding: "the request path contains an escaped % that spells another escape (double encoding)",
  overlong_utf8: "the request path contains an overlong UTF-8 sequence, which some servers decode to another character",
  not_a_path: "the request path contains a literal ? or #",
});

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** RFC 3986 `pchar` and `/`, minus `%` (escapes are handled on their own). */
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/**
 * The canonical form of a request path (see the module documentation for the steps).
 *
 * @param raw - The path as received, percent-encoded, without query or fragment (`URL.pathname`).
 *
 * @example
 * ```ts
 * canonicalPath("//%61gents/./x/../y"); // { path: "/agents/y" }
 * canonicalPath("/agents%2Fx"); // { reject: "escaped_slash" }
 * canonicalPath("/agents%2Fx", { escapedSlashes: "decode" }); // { path: "/agents/x" }
 * ```
 */
export function canonicalPath(raw: string, options: CanonicalPathOptions = {}): CanonicalPathResult {
  if (raw === "") return { path: "/" };
  if (!raw.startsWith("/")) return { reject: "not_absolute" };
  const decodeSlashes = options.escapedSlashes === "decode";
  let out = "";
  for (let i = 0; i < raw.length; ) {
    const code = raw.codePointAt(i) as number;
    const char = String.fromCodePoint(code);
    if (char === "%") {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) return { reject: "bad_escape" };
      const byte = Number.parseInt(hex, 16);
      const decoded = String.fromCharCode(byte);
      if (byte < 0x20 || byte === 0x7f) return { reject: "control_character" };
      if (UNRESERVED.test(decoded)) out += decoded;
      else if (byte === 0x2f || byte === 0x5c) {
        if (!decodeSlashes) return { reject: "escaped_slash" };
        out += "/";
      } else if (byte === 0x3b) return { reject: "escaped_semicolon" };
      else out += `%${hex.toUpperCase()}`;
      i += 3;
      continue;
    }
    i += char.length;
    if (char === "\\") {
      if (!decodeSlashes) return { reject: "escaped_slash" };
      out += "/";
    } else if (code <= 0x20 || code === 0x7f) return { reject: "control_character" };
    else if (char === "?" || char === "#") return { reject: "not_a_path" };
    else if (LITERAL.test(char)) out += char;
    else {
      // A lone surrogate has no UTF-8 form.
      if (code >= 0xd800 && code <= 0xdfff) return { reject: "bad_escape" };
      out += encodeURIComponent(char);
    }
  }
  // Checked on the result, since decoding may put hex digits right after an escaped %: "%25%41%42" -> "%25AB".
  if (/%25[0-9A-F]{2}/i.test(out)) return { reject: "double_encoding" };
  // Overlong UTF-8 (`%C0%AF` for `/`) is never valid, and lenient decoders have read it as the shorter character.
  if (/%C[01]|%E0%[89]|%F0%8/.test(out)) return { reject: "overlong_utf8" };
  return { path: resolveSegments(out) };
}

/** Merges repeated slashes and resolves dot segments (RFC 3986 §5.2.4, never above the root). */
function resolveSegments(path: string): string {
  const parts = path.split("/");
  const kept: string[] = [];
  let trailingSlash = false;
  for (let k = 1; k < parts.length; k++) {
    const segment = parts[k] as string;
    const last = k === parts.length - 1;
    trailingSlash = false;
    if (segment === "" || segment === ".") {
      trailingSlash = last;
    } else if (segment === "..") {
      kept.pop();
      trailingSlash = last;
    } else {
      kept.push(segment);
    }
  }
  if (kept.length === 0) return "/";
  return `/${kept.join("/")}${trailingSlash ? "/" : ""}`;
}
