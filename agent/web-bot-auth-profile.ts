/**
 * The Web Bot Auth signing profile (draft-ietf-webbotauth-httpsig-protocol): `Signature-Agent` names the agent,
 * its member is covered, and the signature carries `created`, `expires`, `keyid` (the key's thumbprint), a fresh
 * nonce and `tag="web-bot-auth"`.
 *
 * @module
 */
import { serializeDictionary, serializeItem } from "structured-headers";
import { encodeBase64Url, parseTargetUri } from "../worker/rfc9421/index.ts";
import type { ProfileContext, ProfilePlan, SigningProfile } from "./signing-profile.ts";

/** Options of {@link webBotAuthProfile}. */
export interface WebBotAuthProfileOptions {
  /** The agent's URL: the origin that serves its key directory (`https://agent.example`). */
  readonly agent: string;
  /**
   * `dictionary` (default): `Signature-Agent: sig1="https://agent.example"`, covered as
   * `"signature-agent";key="sig1"`. `string`: the legacy `Signature-Agent: "https://agent.example"`, covered as
   * plain `"signature-agent"`, for verifiers that only know the older drafts.
   */
  readonly agentForm?: "dictionary" | "string" | undefined;
  /** Validity in seconds, from `created` to `expires`. Default 300. */
  readonly expiresIn?: number | undefined;
  /** Cover `@target-uri` instead of `@authority` and `@path`. Default false. */
  readonly coverTargetUri?: boolean | undefined;
  /** Also cover `@method` and (unless `coverTargetUri`) `@path`. Default true. */
  readonly coverMethodAndPath?: boolean | undefined;
  /** Add `alg` to the signature parameters. Default false (the key implies it). */
  readonly includeAlg?: boolean | undefined;
  /** Makes a nonce. Default: 64 random bytes, base64url. */
  readonly nonce?: (() => string) | undefined;
  /**
   * Also accept an `http:` or `https:` agent URL on a loopback host (`127.0.0.1`, `localhost`, `[::1]`, any port),
   * for local testing against a verifier that trusts loopback directories. Default false: https only.
   */
  readonly unsafeAllowLoopback?: boolean | undefined;
}

/** Loopback host names as the WHATWG URL parser serialises them. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * A fresh Web Bot Auth nonce: 64 random bytes, base64url without padding.
 *
 * @example
 * ```ts
 * randomNonce(); // "n9p433xm-NJ3ph3upfBIGmsuwHw387YV7Q_F-6BSpGCV..."
 * ```
 */
export function randomNonce(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(64)));
}

/**
 * The Web Bot Auth profile for {@link signRequest}.
 *
 * @throws {TypeError} when `agent` is not an https URL or `expiresIn` is not a positive integer
 *
 * @example
 * ```ts
 * const profile = webBotAuthProfile({ agent: "https://agent.example" });
 * const signed = await signRequest(new Request("https://shop.example/"), { key, profile });
 * ```
 */
export function webBotAuthProfile(options: WebBotAuthProfileOptions): SigningProfile {
  let agentUrl: URL;
  try {
    agentUrl = new URL(options.agent);
  } catch {
    throw new TypeError(`agent must be an absolute https URL, got "${options.agent}"`);
  }
  const loopback =
    options.unsafeAllowLoopback === true &&
    LOOPBACK_HOSTS.has(agentUrl.hostname) &&
    (agentUrl.protocol === "http:" || agentUrl.protocol === "https:");
  if ((agentUrl.protocol !== "https:" && !loopback) || agentUrl.username !== "" || agentUrl.password !== "") {
    throw new TypeError(`agent must be an https URL without credentials, got "${options.agent}"`);
  }
  const expiresIn = options.expiresIn ?? 300;
  if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
    throw new TypeError("expiresIn must be a positive whole number of seconds");
  }
  const agent = options.agent;
  const form = options.agentForm ?? "dictionary";
  const makeNonce = options.nonce ?? randomNonce;
  const methodAndPath = options.coverMethodAndPath ?? true;
  return {
    name: "web-bot-auth",
    plan(context: ProfileContext): ProfilePlan {
      const { request, label } = context;
      const components: string[] = [];
      if (methodAndPath) components.push('"@method"');
      if (options.coverTargetUri) components.push('"@target-uri"');
      else {
        components.push('"@authority"');
        if (methodAndPath) components.push('"@path"');
      }
      let agentHeader: string;
      if (form === "string") {
        agentHeader = serializeItem(agent);
        components.push('"signature-agent"');
      } else {
        agentHeader = serializeDictionary(new Map([[label, [agent, new Map()]]]));
        components.push(`"signature-agent";key="${label}"`);
      }
      if (request.headers.has("authorization")) components.push('"authorization"');
      if (context.hasBody) components.push('"content-digest"');
      // Fail early on a target URI the core could not derive components from.
      parseTargetUri(request.url);
      return {
        headers: [["Signature-Agent", agentHeader]],
        components,
        params: {
          created: context.now,
          expires: context.now + expiresIn,
          keyid: context.thumbprint,
          alg: options.includeAlg ? context.algorithm : undefined,
          nonce: makeNonce(),
          tag: "web-bot-auth",
        },
      };
    },
  };
}
