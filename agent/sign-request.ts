/**
 * Signing one outgoing request under a profile.
 *
 * @module
 */
import { parseDictionary } from "structured-headers";
import {
  addSignature,
  createContentDigest,
  type DigestAlgorithm,
  importSigningKey,
  type Jwk,
  jwkThumbprint,
  publicJwkOf,
  type SigningKey,
  signMessage,
} from "../worker/rfc9421/index.ts";
import type { SigningProfile } from "./signing-profile.ts";

/** A private JWK, or one imported already with its thumbprint. */
export interface AgentKey {
  readonly key: SigningKey;
  /** The RFC 7638 thumbprint of the public key. */
  readonly thumbprint: string;
  /** The public key. */
  readonly publicJwk: Jwk;
}

/** Options of {@link signRequest}. */
export interface SignRequestOptions {
  /** The agent's private key: a JWK, or an {@link AgentKey} from {@link loadAgentKey}. */
  readonly key: Jwk | AgentKey;
  readonly profile: SigningProfile;
  /** The signature label. Default `sig1`, or the next free `sigN` when the request is already signed. */
  readonly label?: string | undefined;
  /** Current time in Unix seconds. */
  readonly now?: (() => number) | undefined;
  /** Digest algorithm for `Content-Digest`. Default `sha-256`. */
  readonly digest?: DigestAlgorithm | undefined;
}

/**
 * Imports a private JWK once for repeated signing, with its thumbprint.
 *
 * @throws {SignatureError} when the JWK cannot sign (see `importSigningKey`)
 *
 * @example
 * ```ts
 * const key = await loadAgentKey(JSON.parse(await readFile("agent.jwk", "utf8")));
 * ```
 */
export async function loadAgentKey(jwk: Jwk): Promise<AgentKey> {
  const publicJwk = publicJwkOf(jwk);
  const thumbprint = await jwkThumbprint(publicJwk);
  const key = await importSigningKey(jwk, { keyid: thumbprint });
  return { key, thumbprint, publicJwk };
}

/**
 * Signs a request: the profile adds its headers, a body gets a `Content-Digest`, and the signature is appended
 * beside any already on the request. The body is read once and sent as the same bytes.
 *
 * @returns a new `Request`; the input is not modified
 * @throws {SignatureError} for a request the core cannot sign
 *
 * @example
 * ```ts
 * const signed = await signRequest(new Request("https://shop.example/cart", { method: "POST", body }), {
 *   key: privateJwk,
 *   profile: webBotAuthProfile({ agent: "https://agent.example" }),
 * });
 * await fetch(signed);
 * ```
 */
export async function signRequest(request: Request, options: SignRequestOptions): Promise<Request> {
  const agentKey =
    "thumbprint" in options.key && "key" in options.key
      ? (options.key as AgentKey)
      : await loadAgentKey(options.key as Jwk);
  const now = (options.now ?? (() => Math.floor(Date.now() / 1000)))();
  const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer());
  const headers = new Headers(request.headers);
  const label = options.label ?? nextFreeLabel(headers.get("signature-input"));
  if (body !== null) headers.set("Content-Digest", await createContentDigest(body, [options.digest ?? "sha-256"]));
  const base = new Request(request.url, { method: request.method, headers, redirect: request.redirect });
  const plan = options.profile.plan({
    request: base,
    label,
    thumbprint: agentKey.thumbprint,
    publicJwk: agentKey.publicJwk,
    algorithm: agentKey.key.algorithm,
    now,
    hasBody: body !== null,
  });
  for (const [name, value] of plan.headers) mergeDictionaryHeader(headers, name, value);
  const signed = await signMessage(
    { kind: "request", method: request.method, targetUri: request.url, headers },
    { key: agentKey.key, label, components: plan.components, params: plan.params },
  );
  addSignature(headers, signed);
  return new Request(request.url, {
    method: request.method,
    headers,
    body,
    redirect: request.redirect,
    signal: request.signal,
  });
}

/** Adds a profile header; a Structured Dictionary already present (another signer's) gains the new members. */
function mergeDictionaryHeader(headers: Headers, name: string, value: string): void {
  const existing = headers.get(name);
  if (existing === null) {
    headers.set(name, value);
    return;
  }
  let current: Map<string, unknown>;
  let added: Map<string, unknown>;
  try {
    current = parseDictionary(existing);
    added = parseDictionary(value);
  } catch {
    throw new TypeError(`the request already has a ${name} header that cannot be combined with this signature`);
  }
  for (const key of added.keys()) {
    if (current.has(key)) throw new TypeError(`the request's ${name} already has a member "${key}"`);
  }
  headers.set(name, `${existing}, ${value}`);
}

function nextFreeLabel(signatureInput: string | null): string {
  let used = new Set<string>();
  if (signatureInput !== null) {
    try {
      used = new Set(parseDictionary(signatureInput).keys());
    } catch {
      used = new Set();
    }
  }
  for (let n = 1; ; n++) if (!used.has(`sig${n}`)) return `sig${n}`;
}
