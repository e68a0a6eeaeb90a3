/**
 * The parts of a target URI that derived components use, taken from the raw text: no dot-segment removal,
 * no percent-decoding, no case change except where RFC 9421 §2.2.3/§2.2.4 ask for it.
 *
 * @module
 */
import { SignatureError } from "./errors.ts";

/** A target URI split for `@scheme`, `@authority`, `@path` and `@query`. */
export interface TargetUriParts {
  /** Lowercase scheme. */
  readonly scheme: string;
  /** Lowercase host with the port kept unless it is the scheme's default (RFC 9110 §4.2.3). */
  readonly authority: string;
  /** The raw path; `/` when empty. */
  readonly path: string;
  /** The raw query without `?`, or `undefined` when the URI has none. */
  readonly query: string | undefined;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: "80", https: "443" };
const URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/s;

/**
 * Splits an absolute target URI into the parts derived components need.
 *
 * @throws {SignatureError} `invalid_target_uri` when the text is not an absolute URI with an authority
 *
 * @example
 * ```ts
 * parseTargetUri("https://WWW.Example.com:443/a/../b?x=1");
 * // { scheme: "https", authority: "www.example.com", path: "/a/../b", query: "x=1" }
 * ```
 */
export function parseTargetUri(uri: string): TargetUriParts {
  const match = URI.exec(uri);
  if (!match) throw new SignatureError("invalid_target_uri", `not an absolute target URI: ${uri}`);
  const scheme = (match[1] as string).toLowerCase();
  const rawAuthority = (match[2] as string).slice((match[2] as string).lastIndexOf("@") + 1);
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(rawAuthority);
  if (!hostPort || hostPort[1] === "") {
    throw new SignatureError("invalid_target_uri", `the target URI has no valid authority: ${uri}`);
  }
  const host = (hostPort[1] as string).toLowerCase();
  const port = hostPort[2];
  const authority = port === undefined || port === "" || port === DEFAULT_PORTS[scheme] ? host : `${host}:${port}`;
  return { scheme, authority, path: match[3] || "/", query: match[4] };
}
