/**
 * The site-owner console route: the page, its login and logout, and the JSON summary for scripts, all under one
 * configurable path (default `/.signet/console`). The path is reserved whether or not the console is on: its
 * requests are answered by Signet and never forwarded to the origin.
 *
 * @module
 */
import { problemResponse } from "../problem-response.ts";
import { readUpTo } from "../rfc9421/index.ts";
import {
  type AccessOptions,
  accessAllows,
  cookieValue,
  SESSION_COOKIE,
  secretMatches,
  sessionCookie,
  sessionValid,
  sessionValue,
} from "./console-auth.ts";
import { type PolicyView, renderConsolePage, renderLoginPage } from "./console-page.ts";
import { type MetricsNamespace, readSummary } from "./metrics.ts";
import { type MetricsRange, RANGES } from "./metrics-summary.ts";

/** Where the console lives unless `SIGNET_CONSOLE_PATH` says otherwise. */
export const DEFAULT_CONSOLE_PATH = "/.signet/console";

/** The published dev-only secret of `wrangler.toml`'s `[env.dev.vars]`: refused anywhere but the demo origin. */
export const DEV_CONSOLE_SECRET = "signet-dev-console-secret";

/** Largest login form body read, in bytes. */
const MAX_FORM_BYTES = 4096;

const CONSOLE_PATH = /^(\/[A-Za-z0-9._~-]+)+$/;

/**
 * The console's settings, from the environment.
 *
 * @example
 * ```ts
 * const settings: ConsoleSettings = consoleSettings(env);
 * ```
 */
export interface ConsoleSettings {
  /** The path the console answers under. */
  readonly path: string;
  /** The console secret; the console is off without it. */
  readonly secret?: string | undefined;
  /** Cloudflare Access, when the console must also sit behind it. */
  readonly access?: AccessOptions | undefined;
  /** A configuration problem: the console refuses everything while it stands. */
  readonly error?: string | undefined;
}

/** The environment fields the console reads. */
export interface ConsoleEnv {
  readonly SIGNET_CONSOLE_SECRET?: string | undefined;
  readonly SIGNET_CONSOLE_PATH?: string | undefined;
  readonly SIGNET_CONSOLE_ACCESS_TEAM?: string | undefined;
  readonly SIGNET_CONSOLE_ACCESS_AUD?: string | undefined;
  /** The dev secret is accepted only with the demo origin (`demo:echo`). */
  readonly ORIGIN_URL?: string | undefined;
}

/**
 * Reads the console settings from the environment.
 *
 * @example
 * ```ts
 * consoleSettings({ SIGNET_CONSOLE_SECRET: "s3cret" }); // { path: "/.signet/console", secret: "s3cret" }
 * ```
 */
export function consoleSettings(env: ConsoleEnv): ConsoleSettings {
  const configured = env.SIGNET_CONSOLE_PATH ?? "";
  const path = configured === "" ? DEFAULT_CONSOLE_PATH : configured;
  const secret = env.SIGNET_CONSOLE_SECRET === "" ? undefined : env.SIGNET_CONSOLE_SECRET;
  if (!CONSOLE_PATH.test(path) || path.length > 128) {
    return { path: DEFAULT_CONSOLE_PATH, error: "SIGNET_CONSOLE_PATH must be an absolute path like /.signet/console" };
  }
  const team = env.SIGNET_CONSOLE_ACCESS_TEAM ?? "";
  const audience = env.SIGNET_CONSOLE_ACCESS_AUD ?? "";
  if ((team === "") !== (audience === "")) {
    return { path, error: "SIGNET_CONSOLE_ACCESS_TEAM and SIGNET_CONSOLE_ACCESS_AUD must be set together" };
  }
  if (team !== "" && !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(team)) {
    return { path, error: "SIGNET_CONSOLE_ACCESS_TEAM must be a host name like myteam.cloudflareaccess.com" };
  }
  if (secret !== undefined && secret.length < 16) {
    return { path, error: "SIGNET_CONSOLE_SECRET must be at least 16 characters" };
  }
  if (secret === DEV_CONSOLE_SECRET && env.ORIGIN_URL !== "demo:echo") {
    return { path, error: "SIGNET_CONSOLE_SECRET is the published dev secret: set your own" };
  }
  return { path, secret, access: team === "" ? undefined : { team, audience } };
}

/**
 * Whether a request path falls under the console path, compared loosely (case, repeated slashes and escaped
 * characters do not get a console request past the console to the origin).
 *
 * @example
 * ```ts
 * underConsole("//.Signet/console/api/summary", "/.signet/console"); // true
 * ```
 */
export function underConsole(pathname: string, base: string): boolean {
  let path = pathname;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    // Undecodable escapes: compare as sent.
  }
  path = path.replace(/\/{2,}/g, "/").toLowerCase();
  const prefix = base.toLowerCase();
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * What a console request needs besides itself.
 *
 * @example
 * ```ts
 * await handleConsole(request, { settings, metrics: env.SIGNET_METRICS, policy: policyView(policy), now: Date.now() });
 * ```
 */
export interface ConsoleContext {
  readonly settings: ConsoleSettings;
  readonly metrics: MetricsNamespace | undefined;
  /** The policy in force, or `undefined` when the configuration is unusable. */
  readonly policy: PolicyView | undefined;
  /** ms since the epoch. */
  readonly now: number;
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

function html(body: string, status: number, nonce: string, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      ...SECURITY_HEADERS,
      ...extra,
    },
  });
}

function unauthorized(detail: string): Response {
  const response = problemResponse({ reason: "console_unauthorized", detail });
  response.headers.set("www-authenticate", 'Bearer realm="signet-console"');
  return response;
}

function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/** Reads a small form body, refusing more than {@link MAX_FORM_BYTES}. */
async function readForm(request: Request): Promise<URLSearchParams | undefined> {
  const type = request.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return undefined;
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_FORM_BYTES || request.body === null) return undefined;
  const reader = request.body.getReader();
  const read = await readUpTo(reader, MAX_FORM_BYTES);
  if (!read.complete) {
    await reader.cancel();
    return undefined;
  }
  const bytes = read.bytes;
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

/** Whether the request carries the secret (bearer) or a valid session cookie. */
async function authenticated(request: Request, secret: string, now: number): Promise<boolean> {
  const authorization = request.headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    return match !== null && (await secretMatches(match[1], secret));
  }
  return sessionValid(cookieValue(request.headers.get("cookie"), SESSION_COOKIE), secret, now);
}

function rangeOf(url: URL): MetricsRange {
  const range = url.searchParams.get("range") ?? "1h";
  return range in RANGES ? (range as MetricsRange) : "1h";
}

/**
 * Answers a request under the console path: refusals as RFC 9457 problems (`console_disabled`,
 * `console_unauthorized`, `console_not_found`), the login form, the page, the JSON summary.
 *
 * @example
 * ```ts
 * if (underConsole(url.pathname, settings.path)) return handleConsole(request, { settings, metrics, policy, now });
 * ```
 */
export async function handleConsole(request: Request, context: ConsoleContext): Promise<Response> {
  const { settings, now } = context;
  if (settings.error !== undefined) {
    return problemResponse({ reason: "misconfigured", detail: "the console's configuration is not usable" });
  }
  const secret = settings.secret;
  if (secret === undefined) {
    return problemResponse({ reason: "console_disabled", detail: "set SIGNET_CONSOLE_SECRET to enable the console" });
  }
  if (settings.access !== undefined) {
    const allowed = await accessAllows(request.headers.get("cf-access-jwt-assertion"), settings.access);
    if (!allowed) return unauthorized("the console requires a valid Cloudflare Access token");
  }
  const url = new URL(request.url);
  const base = settings.path;
  let sub = url.pathname.slice(base.length);
  if (!url.pathname.startsWith(base)) sub = "(other)";
  const method = request.method;

  if (sub === "/login" && method === "POST") {
    const form = await readForm(request);
    if (form === undefined || !(await secretMatches(form.get("secret"), secret))) {
      const nonce = newNonce();
      return html(renderLoginPage({ base, nonce, error: true }), 401, nonce);
    }
    return new Response(null, {
      status: 303,
      headers: {
        location: base,
        "set-cookie": sessionCookie(await sessionValue(secret, now), base),
        ...SECURITY_HEADERS,
      },
    });
  }
  if (sub === "/logout" && method === "POST") {
    return new Response(null, {
      status: 303,
      headers: { location: base, "set-cookie": sessionCookie(null, base), ...SECURITY_HEADERS },
    });
  }
  const isRead = method === "GET" || method === "HEAD";
  if (isRead && sub === "/api/summary") {
    if (!(await authenticated(request, secret, now))) {
      return unauthorized("present the console secret as a bearer token, or sign in");
    }
    if (context.metrics === undefined) {
      return problemResponse({ reason: "misconfigured", detail: "the SIGNET_METRICS binding is missing" });
    }
    const summary = await readSummary(context.metrics, rangeOf(url));
    return new Response(JSON.stringify({ summary, policy: context.policy ?? null }), {
      status: 200,
      headers: { "content-type": "application/json", ...SECURITY_HEADERS },
    });
  }
  if (isRead && (sub === "" || sub === "/")) {
    const nonce = newNonce();
    if (!(await authenticated(request, secret, now))) {
      return html(renderLoginPage({ base, nonce }), 401, nonce, {
        "www-authenticate": 'Bearer realm="signet-console"',
      });
    }
    if (context.metrics === undefined || context.policy === undefined) {
      return problemResponse({ reason: "misconfigured", detail: "the console has no metrics store or no policy" });
    }
    const summary = await readSummary(context.metrics, rangeOf(url));
    return html(renderConsolePage(summary, context.policy, { base, nonce }), 200, nonce);
  }
  return problemResponse({ reason: "console_not_found", detail: "no such console page" });
}
