/**
 * AAuth identifiers (draft-hardt-oauth-aauth-protocol, "Server Identifiers", "Agent Identifiers"): server
 * identifiers are `https` origins with a lower-case host and nothing else; agent identifiers are
 * `aauth:local@domain`, with `A-Z` allowed in `local` since -11.
 *
 * @module
 */

/**
 * Options of {@link isServerIdentifier}.
 *
 * @example
 * ```ts
 * isServerIdentifier("http://127.0.0.1:8080/s/x", { unsafeAllowLoopback: true }); // true (tests only)
 * ```
 */
export interface ServerIdentifierOptions {
  /**
   * Also accept `http:`/`https:` on `127.0.0.1`, `localhost` or `[::1]` with any port and a path (without a
   * trailing slash), so that tests can give every scenario its own issuer on one local server. Never in production.
   */
  readonly unsafeAllowLoopback?: boolean | undefined;
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const LOOPBACK = /^https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?(?:\/[A-Za-z0-9._~-]+)*$/;

/**
 * Whether a value is an AAuth server identifier: `https://` + a lower-case DNS host (A-labels, at least two
 * labels), no port, path, query, fragment, userinfo or trailing slash. Comparison elsewhere is exact.
 *
 * @example
 * ```ts
 * isServerIdentifier("https://agent.example"); // true
 * isServerIdentifier("https://agent.example/"); // false
 * isServerIdentifier("https://Agent.Example"); // false
 * isServerIdentifier("https://agent.example:8443"); // false
 * ```
 */
export function isServerIdentifier(value: unknown, options: ServerIdentifierOptions = {}): value is string {
  if (typeof value !== "string" || value.length > 255 + 8) return false;
  if (options.unsafeAllowLoopback === true && LOOPBACK.test(value)) return true;
  if (!value.startsWith("https://")) return false;
  return isDnsHost(value.slice("https://".length));
}

const AGENT_ID = /^aauth:([A-Za-z0-9._+-]{1,255})@([^@]+)$/;

/**
 * Whether a value is an AAuth agent identifier `aauth:local@domain`: `local` of `A-Z a-z 0-9 - _ + .` (upper
 * case allowed per AA-11), 1–255 characters; `domain` a lower-case DNS host (or, with `unsafeAllowLoopback`,
 * `127.0.0.1`/`localhost` and a port).
 *
 * @example
 * ```ts
 * isAgentIdentifier("aauth:assistant-7f3c@agent-provider.example"); // true
 * isAgentIdentifier("aauth:Planner@vendor.example"); // true (AA-11)
 * isAgentIdentifier("acct:someone@vendor.example"); // false
 * ```
 */
export function isAgentIdentifier(value: unknown, options: ServerIdentifierOptions = {}): value is string {
  if (typeof value !== "string") return false;
  const match = AGENT_ID.exec(value);
  if (match === null) return false;
  const domain = match[2] as string;
  if (isDnsHost(domain)) return true;
  return options.unsafeAllowLoopback === true && /^(?:127\.0\.0\.1|localhost)(?::\d{1,5})?$/.test(domain);
}

/** A lower-case DNS name of at least two labels whose last label is not numeric (so never an IPv4 literal). */
function isDnsHost(host: string): boolean {
  return HOST.test(host) && !/^\d+$/.test(host.slice(host.lastIndexOf(".") + 1));
}
