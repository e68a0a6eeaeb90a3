import { env as workerEnv } from "cloudflare:workers";
/**
 * Helpers for the end-to-end tests of the whole Signet Worker (`worker/index.ts`): environments built from a
 * policy object, signed requests in every `Signature-Agent` form (http loopback agents included, which
 * `webBotAuthProfile` refuses), problem-response checks, and the echo origin's view of a forwarded request.
 *
 * Every request goes through `app.fetch(request, env)`: configuration, verification, decision, attestation and
 * forwarding exactly as deployed. The Worker keeps one configuration (and its key cache) per isolate, keyed by the
 * env strings, so a test that needs a fresh key cache uses a new policy text, and tests that share a policy use
 * unique agent URLs.
 *
 * @module
 */
import { serializeDictionary, serializeItem, Token } from "structured-headers";
import { expect, inject } from "vitest";
import { type AgentKey, loadAgentKey, publicJwkOf, type SigningProfile, signRequest } from "../../../agent/index.ts";
import type { EchoedRequest } from "../../../worker/demo-origin.ts";
import type { Env } from "../../../worker/env.ts";
import { parseVerifiedAgent, type VerifiedAgent } from "../../../worker/identity/verified-agent.ts";
import app from "../../../worker/index.ts";
import { problemType, REJECTION_REASONS, type RejectionReason } from "../../../worker/reasons.ts";
import type { Jwk } from "../../../worker/rfc9421/index.ts";
import { parseAcceptSignature } from "../../../worker/rfc9421/index.ts";
import { WEB_BOT_AUTH_ACCEPT_SIGNATURE } from "../../../worker/verification/decide.ts";

/** The local key directory server (see `test/worker/directory-server.ts`). */
export const directory = inject("directoryServer");

/** The well-known directory path. */
export const WELL_KNOWN = "/.well-known/http-message-signatures-directory";

/** The identity Signet gives an origin agent: its well-known directory URL. */
export function identityOf(origin: string): string {
  return `${origin}${WELL_KNOWN}`;
}

/** A key set URL on the directory server, unique to the caller; scenario parameters go in the path. */
export function keySetUrl(scenario: string, params: Record<string, string> = {}): { url: string; path: string } {
  const segments = Object.entries(params).map(([k, v]) => `/${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  const path = `/s/${scenario}/${crypto.randomUUID()}${segments.join("")}/keys.json`;
  return { url: `${directory.url}${path}`, path };
}

/** How often the directory server was asked for a path. */
export async function fetchCount(path: string): Promise<number> {
  const response = await fetch(`${directory.url}/count?path=${encodeURIComponent(path)}`);
  return ((await response.json()) as { count: number }).count;
}

/** A fresh Ed25519 attestation key: the secret for `SIGNET_ATTESTATION_KEY` and the public JWK for origins. */
export async function attestationKey(): Promise<{ secret: string; publicJwk: Jwk }> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as Jwk;
  const { key_ops: _ops, ext: _ext, ...publicJwk } = publicJwkOf(privateJwk);
  return { secret: JSON.stringify(privateJwk), publicJwk: publicJwk as Jwk };
}

/**
 * The Worker's environment for a policy, forwarding to the echo origin unless `origin` says otherwise.
 *
 * @example
 * ```ts
 * const env = gatewayEnv({ rules: [{ path: "/agents/*", require: "verified-agent" }] });
 * ```
 */
export function gatewayEnv(policy: object, options: { origin?: string; attestationKey?: string } = {}): Env {
  return {
    ORIGIN_URL: options.origin ?? "demo:echo",
    SIGNET_POLICY: JSON.stringify(policy),
    SIGNET_ATTESTATION_KEY: options.attestationKey,
    // The real replay store of this test run (storage is isolated per test file).
    REPLAY_STORE: workerEnv.REPLAY_STORE,
  };
}

/** Sends a request through the whole Worker. */
export function send(request: Request, env: Env): Promise<Response> {
  return Promise.resolve(app.fetch(request, env));
}

/** Options of {@link signed}. */
export interface SignOptions {
  /** The agent's private JWK (or one loaded once with `loadAgentKey`). */
  readonly key: Jwk | AgentKey;
  /** The `Signature-Agent` member value; without it the request carries no `Signature-Agent` at all. */
  readonly agent?: string | undefined;
  /** `dictionary` (default): `sig1="…"` covered with `;key`; `string`: the legacy bare String. */
  readonly form?: "dictionary" | "string" | undefined;
  /** A `type` parameter on the dictionary member. */
  readonly type?: "directory" | "jwks_uri" | undefined;
  readonly label?: string | undefined;
  /** `created`, in Unix seconds. Default: now. */
  readonly created?: number | undefined;
  /** `expires - created`. Default 300. */
  readonly validity?: number | undefined;
  /** The `keyid` parameter. Default: the key's thumbprint. */
  readonly keyid?: string | undefined;
  /** The `nonce` parameter; `null` for none. Default: a random UUID. */
  readonly nonce?: string | null | undefined;
  /** More components to cover, after the profile's own. */
  readonly cover?: readonly string[] | undefined;
  /** Cover `authorization` when the request has one. Default true. */
  readonly coverAuthorization?: boolean | undefined;
  readonly method?: string | undefined;
  readonly headers?: Record<string, string> | undefined;
  readonly body?: string | undefined;
}

/**
 * A Web Bot Auth request signed over `@method`, `@authority`, `@path`, the `Signature-Agent` member (when there is
 * one), `authorization` (when present, unless told not to), `content-digest` (with a body) and `cover`.
 *
 * @example
 * ```ts
 * const request = await signed("https://signet.example/agents/x", { key, agent: "http://127.0.0.1:1234" });
 * ```
 */
export async function signed(url: string, options: SignOptions): Promise<Request> {
  const profile: SigningProfile = {
    name: "gateway-test",
    plan(context) {
      const components = ['"@method"', '"@authority"', '"@path"'];
      const headers: Array<[string, string]> = [];
      if (options.agent !== undefined) {
        if (options.form === "string") {
          headers.push(["Signature-Agent", serializeItem(options.agent)]);
          components.push('"signature-agent"');
        } else {
          const params = new Map(options.type === undefined ? [] : [["type", new Token(options.type)] as const]);
          headers.push(["Signature-Agent", serializeDictionary(new Map([[context.label, [options.agent, params]]]))]);
          components.push(`"signature-agent";key="${context.label}"`);
        }
      }
      if (context.request.headers.has("authorization") && options.coverAuthorization !== false) {
        components.push('"authorization"');
      }
      if (context.hasBody) components.push('"content-digest"');
      components.push(...(options.cover ?? []));
      return {
        headers,
        components,
        params: {
          created: context.now,
          expires: context.now + (options.validity ?? 300),
          keyid: options.keyid ?? context.thumbprint,
          nonce: options.nonce === null ? undefined : (options.nonce ?? crypto.randomUUID()),
          tag: "web-bot-auth",
        },
      };
    },
  };
  const created = options.created ?? Math.floor(Date.now() / 1000);
  return signRequest(
    new Request(url, { method: options.method ?? "GET", headers: options.headers, body: options.body }),
    { key: options.key, profile, label: options.label, now: () => created },
  );
}

/** Loads a private JWK once, for tests that sign many requests. */
export { loadAgentKey };

/** The RFC 9457 body of a Signet refusal. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly reason: RejectionReason;
  readonly instance?: string;
  readonly signature_error?: string;
  readonly discovery_error?: string;
  readonly label?: string;
  readonly agent?: string;
}

/**
 * Checks that a response is Signet's refusal for `reason` (status, media type, `type`, `reason`, `title`, the
 * `Accept-Signature` challenge on every 401 and none on 403s and 5xx) and returns its body, with `members` matched
 * when given.
 */
export async function expectProblem(
  response: Response,
  reason: RejectionReason,
  members: Partial<Problem> = {},
): Promise<Problem> {
  const text = await response.text();
  const { status, title } = REJECTION_REASONS[reason];
  expect({ status: response.status, body: text }).toMatchObject({ status });
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(response.headers.get("cache-control")).toBe("no-store");
  const body = JSON.parse(text) as Problem;
  expect(body).toMatchObject({ type: problemType(reason), reason, status, title, ...members });
  // Every 401 asks for a Web Bot Auth signature over at least the usual components; a bearer credential
  // without proof adds the credential header, a route that requires a nonce adds `nonce`.
  if (status === 401) {
    const [wanted, ...more] = parseAcceptSignature(response.headers.get("accept-signature") ?? "");
    expect(more).toEqual([]);
    expect(wanted?.components.slice(0, 4)).toEqual(parseAcceptSignature(WEB_BOT_AUTH_ACCEPT_SIGNATURE)[0]?.components);
    expect(wanted?.params).toMatchObject({ created: true, expires: true, tag: "web-bot-auth" });
  }
  // A 403 judges a verified agent and a 5xx is Signet's own failure: signing differently would not help.
  if (status === 403 || status >= 500) expect(response.headers.get("accept-signature")).toBeNull();
  return body;
}

/** The request the echo origin received, after checking the Worker answered 200 with it. */
export async function echoOf(response: Response): Promise<EchoedRequest> {
  const text = await response.text();
  expect({ status: response.status, body: text }).toMatchObject({ status: 200 });
  return JSON.parse(text) as EchoedRequest;
}

/** The forwarded request rebuilt from the echo (URL, method, headers and body), as the origin would see it. */
export function requestFromEcho(echo: EchoedRequest): Request {
  const body = echo.method === "GET" || echo.method === "HEAD" || echo.body === "" ? undefined : echo.body;
  return new Request(echo.url, { method: echo.method, headers: echo.headers, body });
}

/** The `Verified-Agent` Signet forwarded, parsed; `undefined` when the origin received none. */
export function verifiedAgentOf(echo: EchoedRequest): VerifiedAgent | undefined {
  const value = echo.headers["verified-agent"];
  if (value === undefined) return undefined;
  const parsed = parseVerifiedAgent(value);
  expect(parsed, `Verified-Agent ${value} parses`).toBeDefined();
  return parsed;
}

/** Sends a request and returns the forwarded `Verified-Agent` (failing unless the Worker answered 200). */
export async function forwardedAgent(request: Request, env: Env): Promise<VerifiedAgent | undefined> {
  return verifiedAgentOf(await echoOf(await send(request, env)));
}
