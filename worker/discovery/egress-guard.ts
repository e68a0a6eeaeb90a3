/**
 * The egress guard: whether Signet may fetch a key set URL at all. A `Signature-Agent` member is chosen by
 * whoever sends the request, so fetching it is a server-side request forgery surface (PROTO-02 "Deployment
 * Guidance": https only, block private and loopback targets). The guard judges the URL text only; it cannot see
 * what a name resolves to (Workers have no DNS API), so it refuses every form of address literal and the names
 * that are local by definition, and leaves name resolution to the platform.
 *
 * @module
 */

/**
 * Options of {@link checkEgress}.
 *
 * @example
 * ```ts
 * const options: EgressOptions = { unsafeAllowLoopback: env.ENVIRONMENT === "test" };
 * ```
 */
export interface EgressOptions {
  /**
   * Also allow `http:` or `https:` to exactly `127.0.0.1`, `localhost` or `[::1]` on any port. For tests and local
   * demos only: never turn this on in a deployed Worker. Default `false`.
   */
  readonly unsafeAllowLoopback?: boolean | undefined;
}

/**
 * The guard's verdict: the parsed URL to fetch, or why it must not be fetched.
 *
 * @example
 * ```ts
 * const decision = checkEgress(url);
 * if (!decision.allowed) return { ok: false, code: "egress_refused", message: decision.reason };
 * ```
 */
export type EgressDecision =
  | { readonly allowed: true; readonly url: URL }
  | { readonly allowed: false; readonly reason: string };

/** Longest key set URL accepted, in characters. */
export const MAX_KEY_SET_URL_LENGTH = 2048;

/** Hosts allowed by {@link EgressOptions.unsafeAllowLoopback} (as the WHATWG URL parser serialises them). */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Name suffixes that resolve locally by definition (RFC 6761 `localhost`, RFC 6762 `.local`, RFC 8375
 * `.home.arpa`, the `.internal` TLD reserved for private use, and the common `.localdomain`).
 */
const LOCAL_SUFFIXES = ["localhost", "local", "internal", "home.arpa", "localdomain"];

/**
 * Decides whether a key set URL may be fetched. Allowed: `https:` URLs with a registrable-looking host name (at
 * least two labels), the default port, no userinfo and no fragment. Refused: every other scheme, userinfo, IP
 * literals in any spelling the URL parser accepts (`127.0.0.1`, `0x7f.1`, `2130706433`, `[::1]`,
 * `[::ffff:127.0.0.1]`), `localhost` and `*.localhost`, other local-only suffixes (`.local`, `.internal`,
 * `.home.arpa`, `.localdomain`), single-label hosts, a trailing-dot host, an explicit non-default port, a
 * fragment (even an empty one), and URLs longer than {@link MAX_KEY_SET_URL_LENGTH}.
 *
 * @example
 * ```ts
 * checkEgress("https://agent.example/.well-known/http-message-signatures-directory"); // { allowed: true, url }
 * checkEgress("https://0x7f.1/keys"); // { allowed: false, reason: "the host 127.0.0.1 is an IP address literal" }
 * checkEgress("http://127.0.0.1:8787/keys", { unsafeAllowLoopback: true }); // allowed (tests only)
 * ```
 */
export function checkEgress(input: string | URL, options: EgressOptions = {}): EgressDecision {
  const text = typeof input === "string" ? input : input.href;
  if (text.length > MAX_KEY_SET_URL_LENGTH) {
    return refuse(`the URL is longer than ${MAX_KEY_SET_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse("it is not an absolute URL");
  }
  // An empty fragment ("…#") leaves `url.hash` empty but stays in `href`; `#` appears nowhere else in `href`.
  if (url.href.includes("#")) return refuse("it has a fragment");
  if (url.username !== "" || url.password !== "") return refuse("it carries userinfo");
  const host = url.hostname;

  if (options.unsafeAllowLoopback === true && LOOPBACK_HOSTS.has(host)) {
    if (url.protocol === "http:" || url.protocol === "https:") return { allowed: true, url };
  }
  if (url.protocol !== "https:") return refuse(`the scheme ${url.protocol} is not https:`);
  if (url.port !== "") return refuse(`the port ${url.port} is not the default https port`);
  if (host === "") return refuse("it has no host");
  if (host.startsWith("[")) return refuse(`the host ${host} is an IPv6 address literal`);
  // The WHATWG parser turns every IPv4 spelling (hex, octal, fewer parts, one decimal number) into dotted decimal
  // and refuses names whose last label is numeric but not a valid address, so this one test catches them all.
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return refuse(`the host ${host} is an IP address literal`);
  if (host.endsWith(".")) return refuse(`the host ${host} ends with a dot`);
  for (const suffix of LOCAL_SUFFIXES) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return refuse(`the host ${host} is a local-only name`);
  }
  if (!host.includes(".")) return refuse(`the host ${host} is a single label`);
  return { allowed: true, url };
}

function refuse(why: string): EgressDecision {
  return { allowed: false, reason: `Signet does not fetch this key set URL: ${why}` };
}
