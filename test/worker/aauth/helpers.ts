/**
 * Helpers for the AAuth tests: issuers with their metadata and JWK Sets on the server of
 * `test/worker/aauth-server.ts`, test keys, token minting, signed requests and a hand-driven clock.
 *
 * @module
 */
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { inject } from "vitest";
import { createAAuthKeyCache, type VerifyAAuthOptions } from "../../../worker/aauth/index.ts";
import {
  type HttpRequestMessage,
  importSigningKey,
  type Jwk,
  jwkThumbprint,
  signMessage,
} from "../../../worker/rfc9421/index.ts";
import type { RegisteredResponse } from "../aauth-server.ts";

/** The metadata server's origin. */
export const server = inject("aauthServer");

/** The time every test signs at, Unix seconds. */
export const NOW = Math.floor(Date.now() / 1000);

/** The resource identifier the tests verify for. */
export const RESOURCE = "https://resource.example";

/** The components every AAuth signature covers. */
export const REQUIRED = ['"@method"', '"@authority"', '"@path"', '"signature-key"'];

/**
 * Registers responses for a path on the server.
 *
 * @example
 * ```ts
 * await register("/i/x/.well-known/aauth-agent.json", [{ body: { issuer } }]);
 * ```
 */
export async function register(path: string, responses: RegisteredResponse[]): Promise<void> {
  const response = await fetch(`${server.url}/register`, { method: "POST", body: JSON.stringify({ path, responses }) });
  if (response.status !== 204) throw new Error(`register ${path}: ${response.status}`);
}

/**
 * How many requests a path received.
 *
 * @example
 * ```ts
 * expect(await count(path)).toBe(1);
 * ```
 */
export async function count(path: string): Promise<number> {
  return (await (await fetch(`${server.url}/count?path=${encodeURIComponent(path)}`)).json()) as number;
}

/** A key pair for tests. */
export interface TestKey {
  readonly publicJwk: Jwk;
  readonly privateJwk: Jwk;
  readonly alg: string;
  readonly thumbprint: string;
}

/**
 * A fresh key pair, its public JWK carrying `alg` (and `kid` if given).
 *
 * @example
 * ```ts
 * const agent = await newKey();
 * ```
 */
export async function newKey(alg: "Ed25519" | "ES256" | "PS256" = "Ed25519", kid?: string): Promise<TestKey> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(pair.publicKey)), alg, ...(kid === undefined ? {} : { kid }) } as Jwk;
  const privateJwk = { ...(await exportJWK(pair.privateKey)), alg } as Jwk;
  return { publicJwk, privateJwk, alg, thumbprint: await jwkThumbprint(publicJwk) };
}

/** An issuer with its metadata and key set published on the server. */
export interface TestIssuer {
  /** `http://127.0.0.1:<port>/i/<uuid>` */
  readonly iss: string;
  readonly key: TestKey;
  readonly metadataPath: string;
  readonly jwksPath: string;
}

/**
 * Publishes an issuer: `{iss}/.well-known/{dwk}` (with `issuer` and `jwks_uri`, overridable) and `{iss}/jwks.json`
 * listing `key` (kid `k1`) plus `extraKeys`.
 *
 * @example
 * ```ts
 * const ap = await publishIssuer("aauth-agent.json");
 * ```
 */
export async function publishIssuer(
  dwk: string,
  options: {
    metadata?: Record<string, unknown>;
    extraKeys?: Jwk[];
    alg?: "Ed25519" | "ES256";
    jwks?: RegisteredResponse[];
  } = {},
): Promise<TestIssuer> {
  const base = `/i/${crypto.randomUUID()}`;
  const iss = `${server.url}${base}`;
  const key = await newKey(options.alg ?? "Ed25519", "k1");
  const metadataPath = `${base}/.well-known/${dwk}`;
  const jwksPath = `${base}/jwks.json`;
  await register(metadataPath, [{ body: { issuer: iss, jwks_uri: `${iss}/jwks.json`, ...options.metadata } }]);
  await register(jwksPath, options.jwks ?? [{ body: { keys: [key.publicJwk, ...(options.extraKeys ?? [])] } }]);
  return { iss, key, metadataPath, jwksPath };
}

/**
 * Signs a JWT with a test key.
 *
 * @example
 * ```ts
 * const jwt = await mint(ap.key, { typ: "aa-agent+jwt", kid: "k1" }, claims);
 * ```
 */
export async function mint(
  signer: TestKey,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const key = await importJWK(signer.privateJwk as Parameters<typeof importJWK>[0], signer.alg);
  return new SignJWT(payload).setProtectedHeader({ alg: signer.alg, ...header }).sign(key);
}

/**
 * Agent token claims for an agent key, valid for an hour from {@link NOW}.
 *
 * @example
 * ```ts
 * const claims = agentClaims(ap.iss, agent);
 * ```
 */
export function agentClaims(iss: string, agent: TestKey, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss,
    dwk: "aauth-agent.json",
    sub: "aauth:assistant@agent.example",
    jti: crypto.randomUUID(),
    cnf: { jwk: agent.publicJwk },
    iat: NOW - 10,
    exp: NOW + 3600,
    ...extra,
  };
}

/** What to sign. */
export interface SignInput {
  readonly key: TestKey;
  readonly signatureKey: string;
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly components?: readonly string[];
  readonly params?: Record<string, number | string | undefined>;
  readonly label?: string;
  /** Claim this RFC 9421 algorithm for the signing key, so that any `alg` parameter can be written. */
  readonly claimAlgorithm?: string;
}

/**
 * A signed request: `Signature-Key` set, then the signature added.
 *
 * @example
 * ```ts
 * const message = await signed({ key: agent, signatureKey: hwkOf(agent) });
 * ```
 */
export async function signed(input: SignInput): Promise<HttpRequestMessage> {
  const headers = new Headers(input.headers);
  headers.set("signature-key", input.signatureKey);
  const message: HttpRequestMessage = {
    kind: "request",
    method: input.method ?? "GET",
    targetUri: input.url ?? "https://resource.example/api/data",
    headers,
    body: input.body === undefined ? undefined : new TextEncoder().encode(input.body),
  };
  const { alg: _alg, kid: _kid, ...material } = input.key.privateJwk;
  const signingKey = await importSigningKey(material);
  const claimed = input.claimAlgorithm;
  const result = await signMessage(message, {
    key: claimed === undefined ? signingKey : { ...signingKey, algorithm: claimed as typeof signingKey.algorithm },
    components: input.components ?? REQUIRED,
    params: input.params ?? { created: NOW },
    label: input.label ?? "sig",
  });
  headers.append("signature-input", result.signatureInput);
  headers.append("signature", result.signature);
  return message;
}

/**
 * The `hwk` member for a key.
 *
 * @example
 * ```ts
 * hwkOf(agent); // 'sig=hwk;kty="OKP";crv="Ed25519";x="…";alg="Ed25519"'
 * ```
 */
export function hwkOf(key: TestKey, label = "sig", extra = ""): string {
  const jwk = key.publicJwk;
  const members = ["kty", "crv", "x", "y", "n", "e", "alg"]
    .filter((name) => typeof jwk[name] === "string")
    .map((name) => `${name}="${jwk[name] as string}"`);
  return `${label}=hwk;${members.join(";")}${extra}`;
}

/**
 * A clock in milliseconds that moves only when told, starting at {@link NOW}.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.advance(61);
 * ```
 */
export class ManualClock {
  ms = NOW * 1000;
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/**
 * Verification options for the tests: the local server admitted, a fresh cache on a manual clock (no shared tier).
 *
 * @example
 * ```ts
 * const { options, clock } = testOptions({ acceptTokens: ["auth"] });
 * ```
 */
export function testOptions(extra: VerifyAAuthOptions = {}): { options: VerifyAAuthOptions; clock: ManualClock } {
  const clock = new ManualClock();
  const cache = createAAuthKeyCache({
    unsafeAllowLoopback: true,
    cache: null,
    now: clock.now,
    random: () => 0,
    timeoutMs: 2000,
  });
  return {
    clock,
    options: { resource: RESOURCE, cache, now: () => Math.floor(clock.ms / 1000), unsafeAllowLoopback: true, ...extra },
  };
}
