/**
 * Who may see the console: the holder of the console secret (a `wrangler secret`), presented as a bearer token
 * or through the login form, which sets a signed, expiring session cookie (`HttpOnly; Secure; SameSite=Strict`);
 * and, when configured, only behind Cloudflare Access (a valid `Cf-Access-Jwt-Assertion` for the team and
 * application). Secrets and MACs are compared in constant time.
 *
 * @module
 */
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from "jose";

/** The session cookie's name. */
export const SESSION_COOKIE = "signet_console";
/** How long a console session lasts, in seconds. */
export const SESSION_SECONDS = 8 * 3600;

const encoder = new TextEncoder();

/**
 * Compares two byte strings in time that depends only on their length, never on where they differ. Lengths
 * are not hidden: Signet only compares MACs, whose length is public.
 *
 * @example
 * ```ts
 * timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])); // true
 * ```
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number);
  return difference === 0;
}

async function hmac(secret: string, message: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

/**
 * Whether a presented secret is the console secret. Both sides are MACed first (so the comparison sees two
 * 32-byte strings whatever was sent) and compared in constant time.
 *
 * @example
 * ```ts
 * if (await secretMatches(form.get("secret"), env.SIGNET_CONSOLE_SECRET)) { ... }
 * ```
 */
export async function secretMatches(presented: string | null | undefined, secret: string): Promise<boolean> {
  if (typeof presented !== "string" || secret === "") return false;
  const [a, b] = await Promise.all([hmac(secret, `check:${presented}`), hmac(secret, `check:${secret}`)]);
  return timingSafeEqual(a, b);
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A session cookie value: its expiry and a MAC over it under the secret. It holds nothing secret, and changing
 * the secret ends every session.
 *
 * @param now ms since the epoch
 *
 * @example
 * ```ts
 * const value = await sessionValue(env.SIGNET_CONSOLE_SECRET, Date.now());
 * ```
 */
export async function sessionValue(secret: string, now: number): Promise<string> {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS;
  return `${expires}.${base64url(await hmac(secret, `session:${expires}`))}`;
}

/**
 * Whether a session cookie value is one {@link sessionValue} made with this secret and has not expired.
 *
 * @example
 * ```ts
 * await sessionValid(cookieValue, env.SIGNET_CONSOLE_SECRET, Date.now()); // true or false
 * ```
 */
export async function sessionValid(value: string | undefined, secret: string, now: number): Promise<boolean> {
  if (value === undefined || secret === "") return false;
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (match === null) return false;
  const expires = Number(match[1]);
  if (expires * 1000 <= now) return false;
  const expected = base64url(await hmac(secret, `session:${expires}`));
  return timingSafeEqual(encoder.encode(match[2]), encoder.encode(expected));
}

/**
 * The `Set-Cookie` value that opens (or, with `null`, ends) a session scoped to the console path.
 *
 * @example
 * ```ts
 * headers.append("set-cookie", sessionCookie(await sessionValue(secret, Date.now()), "/.signet/console"));
 * ```
 */
export function sessionCookie(value: string | null, path: string): string {
  const common = `Path=${path}; HttpOnly; Secure; SameSite=Strict`;
  return value === null
    ? `${SESSION_COOKIE}=; ${common}; Max-Age=0`
    : `${SESSION_COOKIE}=${value}; ${common}; Max-Age=${SESSION_SECONDS}`;
}

/**
 * The value of one cookie in a `Cookie` header.
 *
 * @example
 * ```ts
 * cookieValue("a=1; signet_console=123.abc", "signet_console"); // "123.abc"
 * ```
 */
export function cookieValue(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Cloudflare Access in front of the console.
 *
 * @example
 * ```ts
 * const access: AccessOptions = { team: "myteam.cloudflareaccess.com", audience: "4714c1358e65fe4b408ad6d432a5f878" };
 * ```
 */
export interface AccessOptions {
  /** The team domain, e.g. `myteam.cloudflareaccess.com`. */
  readonly team: string;
  /** The Access application's audience tag. */
  readonly audience: string;
  /** The team's signing keys (default: fetched from `https://<team>/cdn-cgi/access/certs`, cached by jose). */
  readonly keys?: JWTVerifyGetKey | undefined;
}

const remoteSets = new Map<string, JWTVerifyGetKey>();

/**
 * Whether a `Cf-Access-Jwt-Assertion` is a valid Access token for the team and application: signature (RS256
 * by the team's keys), issuer, audience and expiry.
 *
 * @example
 * ```ts
 * await accessAllows(request.headers.get("cf-access-jwt-assertion"), { team: "myteam.cloudflareaccess.com", audience });
 * ```
 */
export async function accessAllows(assertion: string | null, options: AccessOptions): Promise<boolean> {
  if (assertion === null || assertion === "" || assertion.length > 16_384) return false;
  const issuer = `https://${options.team}`;
  let keys = options.keys ?? remoteSets.get(issuer);
  if (keys === undefined) {
    keys = createRemoteJWKSet(new URL(`${issuer}/cdn-cgi/access/certs`));
    remoteSets.set(issuer, keys);
  }
  try {
    await jwtVerify(assertion, keys, { issuer, audience: options.audience, algorithms: ["RS256"] });
    return true;
  } catch {
    return false;
  }
}
