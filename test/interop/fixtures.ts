/**
 * Shared fixtures of the interop suites: fresh WebCrypto keys for every RFC 9421 algorithm (as JWKs for Signet,
 * as CryptoKeys and node:crypto KeyObjects for the peers), a realistic Web Bot Auth style request, and the
 * small conversions between Signet's message model and the peers' own.
 */
import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  type KeyObject,
  type JsonWebKey as NodeJwk,
  sign as nodeSign,
  verify as nodeVerify,
  timingSafeEqual,
} from "node:crypto";
import {
  createContentDigest,
  type HttpRequestMessage,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  type SignatureAlgorithm,
  type SigningKey,
  type VerificationKey,
} from "../../worker/rfc9421/index.ts";

/** One freshly generated key, in every form the suites need. */
export interface TestKey {
  readonly algorithm: SignatureAlgorithm;
  readonly keyid: string;
  readonly privateJwk: Jwk;
  readonly publicJwk: Jwk;
  /** The WebCrypto keys the JWKs were exported from (HMAC: the same secret key twice). */
  readonly privateCryptoKey: CryptoKey;
  readonly publicCryptoKey: CryptoKey;
  /** node:crypto forms of the same keys (HMAC: the same secret KeyObject twice). */
  readonly nodePrivate: KeyObject;
  readonly nodePublic: KeyObject;
  readonly signing: SigningKey;
  readonly verification: VerificationKey;
}

const RSA_EXPONENT = new Uint8Array([1, 0, 1]);

type GenerateParams = Parameters<typeof crypto.subtle.generateKey>[0];

/** WebCrypto `generateKey` parameters for each algorithm Signet implements. */
const GENERATE: Readonly<Record<SignatureAlgorithm, GenerateParams>> = {
  ed25519: { name: "Ed25519" },
  "ecdsa-p256-sha256": { name: "ECDSA", namedCurve: "P-256" },
  "ecdsa-p384-sha384": { name: "ECDSA", namedCurve: "P-384" },
  "rsa-pss-sha512": { name: "RSA-PSS", modulusLength: 2048, publicExponent: RSA_EXPONENT, hash: "SHA-512" },
  "rsa-v1_5-sha256": { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: RSA_EXPONENT, hash: "SHA-256" },
  "hmac-sha256": { name: "HMAC", hash: "SHA-256", length: 256 },
};

/** Generates a new key for an algorithm and imports it into Signet and node:crypto. */
export async function generateTestKey(algorithm: SignatureAlgorithm, keyid = `interop-${algorithm}`): Promise<TestKey> {
  const generated = await crypto.subtle.generateKey(GENERATE[algorithm], true, ["sign", "verify"]);
  const pair: CryptoKeyPair = "privateKey" in generated ? generated : { privateKey: generated, publicKey: generated };
  const privateJwk = { ...(await crypto.subtle.exportKey("jwk", pair.privateKey)), kid: keyid } as Jwk;
  let publicJwk: Jwk;
  let nodePrivate: KeyObject;
  let nodePublic: KeyObject;
  if (algorithm === "hmac-sha256") {
    publicJwk = privateJwk;
    nodePrivate = createSecretKey(Buffer.from(privateJwk.k as string, "base64url"));
    nodePublic = nodePrivate;
  } else {
    publicJwk = { ...(await crypto.subtle.exportKey("jwk", pair.publicKey)), kid: keyid } as Jwk;
    nodePrivate = createPrivateKey({ key: privateJwk as NodeJwk, format: "jwk" });
    nodePublic = createPublicKey({ key: publicJwk as NodeJwk, format: "jwk" });
  }
  return {
    algorithm,
    keyid,
    privateJwk,
    publicJwk,
    privateCryptoKey: pair.privateKey,
    publicCryptoKey: pair.publicKey,
    nodePrivate,
    nodePublic,
    signing: await importSigningKey(privateJwk, { algorithm }),
    verification: await importVerificationKey(publicJwk, { algorithm }),
  };
}

/** Fresh keys for every algorithm, in {@link ALGORITHMS} order. */
export async function generateTestKeys(): Promise<Record<SignatureAlgorithm, TestKey>> {
  const entries = await Promise.all(ALGORITHMS.map(async (alg) => [alg, await generateTestKey(alg)] as const));
  return Object.fromEntries(entries) as Record<SignatureAlgorithm, TestKey>;
}

/** Every algorithm Signet implements; both peers name all six. */
export const ALGORITHMS: readonly SignatureAlgorithm[] = [
  "ed25519",
  "ecdsa-p256-sha256",
  "ecdsa-p384-sha384",
  "rsa-pss-sha512",
  "rsa-v1_5-sha256",
  "hmac-sha256",
];

/**
 * Signs bytes with node:crypto exactly as RFC 9421 §3.3 specifies each algorithm (RSA-PSS: MGF1-SHA-512 with a
 * 64-byte salt; ECDSA: raw r||s). This is independent of WebCrypto, which Signet itself uses.
 */
export function rfcNodeSign(key: TestKey, data: Uint8Array): Uint8Array {
  switch (key.algorithm) {
    case "ed25519":
      return nodeSign(null, data, key.nodePrivate);
    case "ecdsa-p256-sha256":
      return nodeSign("sha256", data, { key: key.nodePrivate, dsaEncoding: "ieee-p1363" });
    case "ecdsa-p384-sha384":
      return nodeSign("sha384", data, { key: key.nodePrivate, dsaEncoding: "ieee-p1363" });
    case "rsa-pss-sha512":
      return nodeSign("sha512", data, {
        key: key.nodePrivate,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 64,
      });
    case "rsa-v1_5-sha256":
      return nodeSign("sha256", data, { key: key.nodePrivate, padding: constants.RSA_PKCS1_PADDING });
    case "hmac-sha256":
      return createHmac("sha256", key.nodePrivate).update(data).digest();
  }
}

/** Verifies bytes with node:crypto, strictly as RFC 9421 §3.3 specifies (RSA-PSS: exactly a 64-byte salt). */
export function rfcNodeVerify(key: TestKey, data: Uint8Array, signature: Uint8Array): boolean {
  switch (key.algorithm) {
    case "ed25519":
      return nodeVerify(null, data, key.nodePublic, signature);
    case "ecdsa-p256-sha256":
      return nodeVerify("sha256", data, { key: key.nodePublic, dsaEncoding: "ieee-p1363" }, signature);
    case "ecdsa-p384-sha384":
      return nodeVerify("sha384", data, { key: key.nodePublic, dsaEncoding: "ieee-p1363" }, signature);
    case "rsa-pss-sha512":
      return pssVerify(key, data, signature, 64);
    case "rsa-v1_5-sha256":
      return nodeVerify("sha256", data, { key: key.nodePublic, padding: constants.RSA_PKCS1_PADDING }, signature);
    case "hmac-sha256": {
      const expected = createHmac("sha256", key.nodePublic).update(data).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
  }
}

/** RSA-PSS (SHA-512, MGF1-SHA-512) verification with a given salt length. */
export function pssVerify(key: TestKey, data: Uint8Array, signature: Uint8Array, saltLength: number): boolean {
  return nodeVerify(
    "sha512",
    data,
    { key: key.nodePublic, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
    signature,
  );
}

/** A request as plain data, from which each implementation's own message form is made. */
export interface PlainRequest {
  readonly method: string;
  readonly targetUri: string;
  /** Field lines in order, names as sent. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
}

export const AGENT_DIRECTORY = "https://agent.example/.well-known/http-message-signatures-directory";
export const BODY = '{"item":"book","quantity":2}';

/**
 * A Web Bot Auth style request: a JSON POST with a query, `Content-Digest` (RFC 9530) and a `Signature-Agent`
 * dictionary whose `sig1` member names the agent's key directory.
 */
export async function botRequest(overrides: Partial<PlainRequest> = {}): Promise<PlainRequest> {
  const body = new TextEncoder().encode(BODY);
  const targetUri = overrides.targetUri ?? "https://shop.example.com/api/orders?ref=agent&page=2";
  return {
    method: "POST",
    targetUri,
    headers: [
      ["Host", new URL(targetUri).host],
      ["Content-Type", "application/json"],
      ["Content-Digest", await createContentDigest(body, ["sha-256"])],
      ["Signature-Agent", `sig1="${AGENT_DIRECTORY}"`],
    ],
    body,
    ...overrides,
  };
}

/** The request with more field lines appended (e.g. `Signature-Input` and `Signature`). */
export function withFields(request: PlainRequest, ...lines: ReadonlyArray<readonly [string, string]>): PlainRequest {
  return { ...request, headers: [...request.headers, ...lines] };
}

/** Signet's message model of the request: field lines kept as they are, target URI not normalised. */
export function signetMessage(request: PlainRequest): HttpRequestMessage {
  return {
    kind: "request",
    method: request.method,
    targetUri: request.targetUri,
    headers: request.headers.map(([name, value]) => [name, value] as const),
    body: request.body,
  };
}

/** The realistic covered components every cross-signing test uses. */
export const COMPONENTS = [
  "@method",
  "@authority",
  "@path",
  "@query",
  "@target-uri",
  "content-digest",
  "content-type",
  '"signature-agent";key="sig1"',
] as const;

/** The serialised identifiers of {@link COMPONENTS}, as they appear in `Signature-Input`. */
export const COMPONENT_IDENTIFIERS = COMPONENTS.map((c) => (c.startsWith('"') ? c : `"${c}"`));

/** Signature parameters: created a little in the past, valid five minutes, with a nonce and the WBA tag. */
export function signatureParams(keyid: string, nonce = randomNonce()) {
  const created = Math.floor(Date.now() / 1000) - 2;
  return { created, expires: created + 300, keyid, nonce, tag: "web-bot-auth" };
}

export function randomNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
}

/** The bytes of a `Signature` member, e.g. `sig1=:AAAA:` → the decoded bytes. */
export function signatureBytes(member: string): Uint8Array {
  const match = /=:([A-Za-z0-9+/=]*):$/.exec(member.trim());
  if (!match) throw new Error(`not a single Signature member: ${member}`);
  return new Uint8Array(Buffer.from(match[1] as string, "base64"));
}

/** The lines of two signature bases that differ, as `[left, right]` pairs (same line count assumed). */
export function differingLines(left: string, right: string): Array<[string, string]> {
  const a = left.split("\n");
  const b = right.split("\n");
  const out: Array<[string, string]> = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) out.push([a[i] ?? "", b[i] ?? ""]);
  }
  return out;
}

export const decoder = new TextDecoder();
