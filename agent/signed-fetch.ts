/**
 * A `fetch` that signs every request it sends.
 *
 * @module
 */
import type { Jwk } from "../worker/rfc9421/index.ts";
import { type AgentKey, loadAgentKey, signRequest } from "./sign-request.ts";
import type { SigningProfile } from "./signing-profile.ts";

/** Options of {@link createSignedFetch}. */
export interface SignedFetchOptions {
  /** The agent's private key. */
  readonly key: Jwk | AgentKey;
  /** The signing profile, e.g. `webBotAuthProfile({ agent: "https://agent.example" })`. */
  readonly profile: SigningProfile;
  /** The `fetch` to wrap. Default: the global `fetch`. */
  readonly fetch?: typeof fetch | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
}

/**
 * Wraps `fetch` so each request is signed (Workers, Node 22+ and browsers). The key is imported once.
 *
 * @example
 * ```ts
 * const signedFetch = createSignedFetch({
 *   key: privateJwk,
 *   profile: webBotAuthProfile({ agent: "https://agent.example" }),
 * });
 * const response = await signedFetch("https://shop.example/products", { headers: { accept: "application/json" } });
 * ```
 */
export function createSignedFetch(options: SignedFetchOptions): typeof fetch {
  const baseFetch = options.fetch ?? ((input, init) => fetch(input, init));
  let agentKey: Promise<AgentKey> | undefined;
  const keyOnce = () => {
    agentKey ??=
      "thumbprint" in options.key ? Promise.resolve(options.key as AgentKey) : loadAgentKey(options.key as Jwk);
    return agentKey;
  };
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const signed = await signRequest(request, { key: await keyOnce(), profile: options.profile, now: options.now });
    return baseFetch(signed);
  }) as typeof fetch;
}
