/**
 * Signet's attestation of forwarded requests: an RFC 9421 signature made with Signet's own key, tagged
 * `signet-attestation`, that lets the origin prove a request (and its `Verified-Agent` header, when there is
 * one) came through Signet, recently, exactly once.
 *
 * The attestation covers `@method`, `@authority`, `@path`, `@query`, `content-type` and `authorization` when the
 * request has them, the body (a `content-digest` Signet checks or computes, or `signet-body: unbound` for a body
 * larger than the digest limit) and, when Signet identified the agent, `verified-agent`. Its parameters are `created`, `expires`, a fresh random `nonce`, `keyid` (the RFC 7638
 * thumbprint of Signet's key) and `tag="signet-attestation"`. Anonymous requests are attested too, so that an
 * origin can refuse traffic that went around Signet. The origin side is in `origin/`.
 *
 * @module
 */
import {
  algorithmForJwk,
  algorithmSpec,
  type ComponentIdentifier,
  createContentDigest,
  encodeBase64,
  encodeBase64Url,
  type HttpRequestMessage,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  jwkThumbprint,
  MAX_DICTIONARY_MEMBERS,
  parseComponent,
  parseStrictDictionary,
  publicJwkOf,
  type ReadUpTo,
  RFC9421_TEST_KEY_THUMBPRINTS,
  readUpTo,
  type SignatureAlgorithm,
  SignatureError,
  type SigningKey,
  serializeComponent,
  signatureBase,
  verifyContentDigest,
} from "../rfc9421/index.ts";
import { serializeVerifiedAgent, VERIFIED_AGENT_HEADER, type VerifiedAgent } from "./verified-agent.ts";

/**
 * The monitor-mode header Signet sets on requests it would have refused (see the policy's monitor mode).
 *
 * @example
 * ```ts
 * headers.delete(SIGNET_MONITOR_HEADER); // a client-sent copy
 * ```
 */
export const SIGNET_MONITOR_HEADER = "Signet-Monitor";

/**
 * The header Signet sets, and the attestation covers, when it forwards a body too large to digest
 * (`Signet-Body: unbound`): the origin then knows the body is not bound to the attestation. Every other
 * attestation covers `content-digest` instead, of the empty body too.
 *
 * @example
 * ```ts
 * if (request.headers.get(SIGNET_BODY_HEADER) === SIGNET_BODY_UNBOUND) await treatBodyAsUntrusted(request);
 * ```
 */
export const SIGNET_BODY_HEADER = "Signet-Body";

/**
 * The value of {@link SIGNET_BODY_HEADER}: the body was forwarded without a digest.
 *
 * @example
 * ```ts
 * headers.set(SIGNET_BODY_HEADER, SIGNET_BODY_UNBOUND);
 * ```
 */
export const SIGNET_BODY_UNBOUND = "unbound";

/**
 * The default largest body, in bytes, that Signet reads to digest for the attestation (1 MiB); a larger body is
 * streamed on unread and marked `Signet-Body: unbound`.
 *
 * @example
 * ```ts
 * await createAttester({ privateJwk, maxDigestBytes: DEFAULT_MAX_DIGEST_BYTES }); // the default
 * ```
 */
export const DEFAULT_MAX_DIGEST_BYTES = 1_048_576;

/**
 * The largest `maxDigestBytes` {@link createAttester} accepts (16 MiB: the body is held in memory to hash it).
 *
 * @example
 * ```ts
 * await createAttester({ privateJwk, maxDigestBytes: MAX_DIGEST_BYTES_LIMIT }); // accepted; one more throws
 * ```
 */
export const MAX_DIGEST_BYTES_LIMIT = 16_777_216;

/**
 * Every header whose meaning Signet owns. Client-sent copies must be removed before a request is attested and
 * forwarded: an origin trusts them only because Signet set them.
 *
 * @example
 * ```ts
 * const headers = new Headers(request.headers);
 * for (const name of SIGNET_IDENTITY_HEADERS) headers.delete(name);
 * ```
 */
export const SIGNET_IDENTITY_HEADERS = Object.freeze([
  VERIFIED_AGENT_HEADER,
  SIGNET_MONITOR_HEADER,
  SIGNET_BODY_HEADER,
] as const);

/**
 * The `tag` parameter of every attestation signature.
 *
 * @example
 * ```ts
 * verifySignatures(message, { keys, tag: ATTESTATION_TAG }); // only Signet's attestations
 * ```
 */
export const ATTESTATION_TAG = "signet-attestation";

/**
 * The label Signet signs with; `signet2`, `signet3`, ... when the client already used it.
 *
 * @example
 * ```ts
 * request.headers.get("signature-input"); // 'sig1=(...);tag="web-bot-auth", signet=(...);tag="signet-attestation"'
 * ```
 */
export const ATTESTATION_LABEL = "signet";

/**
 * The components an attestation always covers, in order; then `content-type` and `authorization` when the
 * request has them, `content-digest` (or `signet-body`), and `verified-agent` and `signet-monitor` when set.
 *
 * @example
 * ```ts
 * verifySignatures(message, { keys, requiredComponents: [...ATTESTATION_COMPONENTS] });
 * ```
 */
export const ATTESTATION_COMPONENTS = Object.freeze(["@method", "@authority", "@path", "@query"] as const);

/**
 * The request headers an attestation covers when the request has them (as `;bs` byte sequences when their value
 * is not printable ASCII): what an origin acts on besides method, target and body.
 *
 * @example
 * ```ts
 * for (const name of ATTESTATION_REQUEST_HEADERS) if (request.headers.has(name)) mustBeCovered.push(name);
 * ```
 */
export const ATTESTATION_REQUEST_HEADERS = Object.freeze(["content-type", "authorization"] as const);

/**
 * The default attestation lifetime in seconds.
 *
 * @example
 * ```ts
 * (await createAttester({ privateJwk })).validitySeconds; // DEFAULT_ATTESTATION_VALIDITY (30)
 * ```
 */
export const DEFAULT_ATTESTATION_VALIDITY = 30;

/**
 * The longest attestation lifetime {@link createAttester} accepts, in seconds.
 *
 * @example
 * ```ts
 * await createAttester({ privateJwk, validitySeconds: MAX_ATTESTATION_VALIDITY }); // 300: accepted; 301 throws
 * ```
 */
export const MAX_ATTESTATION_VALIDITY = 300;

/**
 * Options of {@link createAttester}.
 *
 * @example
 * ```ts
 * const options: AttesterOptions = { privateJwk: JSON.parse(env.SIGNET_ATTESTATION_KEY), validitySeconds: 30 };
 * ```
 */
export interface AttesterOptions {
  /**
   * Signet's private JWK. Ed25519 is recommended; any asymmetric algorithm of the core works (ECDSA P-256/P-384,
   * RSA-PSS, RSA v1.5). HMAC is refused: the origin must hold only a key that cannot sign.
   */
  readonly privateJwk: Jwk;
  /** The algorithm, when the JWK does not name it (an RSA JWK without `alg`). */
  readonly algorithm?: SignatureAlgorithm | undefined;
  /** How long an attestation is valid, in whole seconds (`expires - created`). Default 30, at most 300. */
  readonly validitySeconds?: number | undefined;
  /** The current time in Unix seconds. Default: the system clock. */
  readonly now?: (() => number) | undefined;
  /**
   * The largest body, in bytes, read to digest for the attestation; a larger one is streamed on unread and
   * marked `Signet-Body: unbound`. Default {@link DEFAULT_MAX_DIGEST_BYTES}, at most {@link MAX_DIGEST_BYTES_LIMIT}.
   */
  readonly maxDigestBytes?: number | undefined;
}

/**
 * A ready attester: Signet's public key for origins, and the operation that signs forwarded requests.
 *
 * @example
 * ```ts
 * const attester: Attester = await createAttester({ privateJwk });
 * console.log(JSON.stringify(attester.publicJwk)); // configure this at the origin
 * ```
 */
export interface Attester {
  /** Signet's public JWK, to configure at the origin: `kid` is the thumbprint, `alg` the JWS name, `use` "sig". */
  readonly publicJwk: Jwk;
  /** The RFC 7638 thumbprint of Signet's key: the `keyid` of every attestation. */
  readonly keyid: string;
  readonly algorithm: SignatureAlgorithm;
  readonly validitySeconds: number;
  /** The largest body read to digest, in bytes. */
  readonly maxDigestBytes: number;
  /**
   * Returns a new request to forward: the same method, URL and body, with any client-sent Signet header removed,
   * `Verified-Agent` set from `identity` when given, `Signet-Monitor` set from `monitor` when given (monitor
   * mode: the refusal enforce mode would have sent), and an attestation signature appended after the client's
   * own signatures, which are kept as they were. The attestation covers the request's `content-type` and
   * `authorization` when present, and its body: a body of at most `maxDigestBytes` is read, and the client's
   * `Content-Digest` kept when it matches it, otherwise set to Signet's SHA-256 digest; a larger body is
   * streamed on, marked `Signet-Body: unbound`.
   *
   * Attest the request exactly as it will reach the origin: `@authority` and `@path` are those of
   * `request.url`, so any rewrite to the origin's host must happen before.
   *
   * `clientLabels`, when given, are the labels of the client's `Signature-Input` and `Signature` as the caller's
   * own strict parse found them (`parseSignatures`, which refuses fields the origin could not read as a whole):
   * the fields are then not parsed again. Without it the attester parses them itself, as strictly.
   *
   * @throws {SignatureError} `malformed_signature_input`, `malformed_signature`, `duplicate_label`,
   *   `unsupported_structured_type`, `label_mismatch` (the two fields' labels differ) or `too_many_members` (no
   *   room under `MAX_DICTIONARY_MEMBERS` for Signet's own member) when the client's
   *   `Signature-Input` or `Signature` cannot be parsed as a whole (appending to them would not give the origin a
   *   readable attestation; refuse such requests first); only without `clientLabels`
   * @throws {TypeError} when `identity` has no faithful `Verified-Agent` form (checked first, before anything is
   *   read)
   * @throws {BodyUnreadableError} when the body stream fails while it is read for the digest
   */
  attest(
    request: Request,
    identity: VerifiedAgent | undefined,
    monitor?: string,
    clientLabels?: readonly string[],
  ): Promise<Request>;
}

/**
 * Thrown by {@link Attester.attest} when the request body cannot be read (the client stopped sending it, say):
 * nothing can be forwarded, since the body cannot be bound or passed on.
 *
 * @example
 * ```ts
 * try { await attester.attest(request, identity); } catch (err) { if (err instanceof BodyUnreadableError) return badRequest(); }
 * ```
 */
export class BodyUnreadableError extends Error {
  override readonly name = "BodyUnreadableError";
}

const NONCE_BYTES = 32;
const UTF8 = new TextEncoder();
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Creates Signet's attester. The options are checked once, here: the key is imported, must be asymmetric and
 * must sign what its public half verifies.
 *
 * @throws {TypeError} for unusable options (HMAC key, bad validity, a key whose halves do not match)
 * @throws {SignatureError} `invalid_key`, `weak_key`, `algorithm_mismatch` or `unsupported_algorithm` from the
 *   key import
 *
 * @example
 * ```ts
 * const attester = await createAttester({ privateJwk: JSON.parse(env.SIGNET_ATTESTATION_KEY) });
 * // publish attester.publicJwk to the origin, then for each accepted request:
 * const outgoing = await attester.attest(request, verifiedAgent); // verifiedAgent undefined when anonymous
 * return fetch(outgoing, { redirect: "manual" });
 * ```
 */
export async function createAttester(options: AttesterOptions): Promise<Attester> {
  if (typeof options !== "object" || options === null) throw new TypeError("createAttester needs options");
  const { privateJwk } = options;
  if (typeof privateJwk !== "object" || privateJwk === null) {
    throw new TypeError("createAttester: privateJwk must be a private JWK object");
  }
  const validitySeconds = options.validitySeconds ?? DEFAULT_ATTESTATION_VALIDITY;
  if (!Number.isSafeInteger(validitySeconds) || validitySeconds < 1 || validitySeconds > MAX_ATTESTATION_VALIDITY) {
    throw new TypeError(
      `createAttester: validitySeconds must be a whole number from 1 to ${MAX_ATTESTATION_VALIDITY}, got ${String(validitySeconds)}`,
    );
  }
  if (options.now !== undefined && typeof options.now !== "function") {
    throw new TypeError("createAttester: now must be a function returning Unix seconds");
  }
  const algorithm = algorithmForJwk(privateJwk, options.algorithm);
  if (algorithm === "hmac-sha256") {
    throw new TypeError("createAttester: an HMAC key cannot attest; origins must verify with a public key");
  }
  const key = await importSigningKey(privateJwk, { algorithm });
  const maxDigestBytes = options.maxDigestBytes ?? DEFAULT_MAX_DIGEST_BYTES;
  if (!Number.isSafeInteger(maxDigestBytes) || maxDigestBytes < 0 || maxDigestBytes > MAX_DIGEST_BYTES_LIMIT) {
    throw new TypeError(
      `createAttester: maxDigestBytes must be a whole number from 0 to ${MAX_DIGEST_BYTES_LIMIT}, got ${String(maxDigestBytes)}`,
    );
  }
  const keyid = await jwkThumbprint(privateJwk);
  if (RFC9421_TEST_KEY_THUMBPRINTS.has(keyid)) {
    throw new TypeError(
      `createAttester: the key ${keyid} is a published RFC 9421 test key, which anyone can sign with; generate Signet's own key`,
    );
  }
  const publicJwk = publicHalf(privateJwk, keyid, algorithm);
  await checkKeyPair(key, publicJwk, algorithm);
  const now = options.now ?? (() => Date.now() / 1000);

  return Object.freeze({
    publicJwk,
    keyid,
    algorithm,
    validitySeconds,
    maxDigestBytes,
    async attest(
      request: Request,
      identity: VerifiedAgent | undefined,
      monitor?: string,
      clientLabels?: readonly string[],
    ): Promise<Request> {
      // Cheap checks first: the identity must have a faithful header form, the signature fields a free label.
      const agentValue = identity === undefined ? undefined : verifiedAgentValue(identity);
      const headers = new Headers(request.headers);
      for (const name of SIGNET_IDENTITY_HEADERS) headers.delete(name);
      const label = clientLabels === undefined ? freeLabel(headers) : firstFreeLabel(new Set(clientLabels));
      const components: string[] = [...ATTESTATION_COMPONENTS];
      for (const name of ATTESTATION_REQUEST_HEADERS) {
        const value = headers.get(name);
        // A value with bytes outside printable ASCII is covered as a byte sequence (RFC 9421 §2.1.3).
        if (value !== null) components.push(PRINTABLE_ASCII.test(value) ? name : BYTE_SEQUENCE[name]);
      }
      const body = await readBody(request, maxDigestBytes);
      if (body.bound) {
        const current = headers.get("content-digest");
        if (current === null || !(await digestMatches(current, body.bytes))) {
          headers.set("content-digest", await sha256Digest(body.bytes));
        }
        components.push("content-digest");
      } else {
        headers.set(SIGNET_BODY_HEADER, SIGNET_BODY_UNBOUND);
        components.push(SIGNET_BODY_HEADER.toLowerCase());
      }
      if (agentValue !== undefined) {
        headers.set(VERIFIED_AGENT_HEADER, agentValue);
        components.push(VERIFIED_AGENT_HEADER.toLowerCase());
      }
      if (monitor !== undefined) {
        headers.set(SIGNET_MONITOR_HEADER, monitor);
        components.push(SIGNET_MONITOR_HEADER.toLowerCase());
      }
      const created = Math.floor(now());
      const message: HttpRequestMessage = { kind: "request", method: request.method, targetUri: request.url, headers };
      // Signet's own signature, built directly: the covered components come compiled per combination, and the
      // parameters are values Signet made (integers, base64url, a fixed tag), so nothing is parsed or re-serialised.
      const covered = coveredComponents(components);
      const signatureParams = `${covered.innerList};created=${created};expires=${created + validitySeconds};nonce="${freshNonce()}";keyid="${keyid}";tag="${ATTESTATION_TAG}"`;
      const base = signatureBase(message, covered.ids, signatureParams);
      const signature = await key.sign(UTF8.encode(base));
      appendMember(headers, "Signature-Input", `${label}=${signatureParams}`);
      appendMember(headers, "Signature", `${label}=:${encodeBase64(signature)}:`);
      if (request.body === null) return new Request(request, { headers });
      // A bound body goes on as the bytes that were digested; a larger one as the rest of its stream.
      const init: RequestInit & { duplex: "half" } = {
        headers,
        body: body.bound ? body.bytes : body.stream,
        duplex: "half",
      };
      return new Request(request, init);
    },
  });
}

/** The body as read for the attestation: all of it, or (beyond the limit) a stream that gives all of it. */
type ReadBody = { bound: true; bytes: Uint8Array<ArrayBuffer> } | { bound: false; stream: ReadableStream<Uint8Array> };

/**
 * Reads at most `limit` bytes of the body. A larger body is not read further: the stream returned gives the
 * bytes read so far and then the rest, unread.
 */
async function readBody(request: Request, limit: number): Promise<ReadBody> {
  if (request.body === null) return { bound: true, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  let read: ReadUpTo;
  try {
    read = await readUpTo(reader, limit);
  } catch (cause) {
    throw new BodyUnreadableError("attest: the request body could not be read", { cause });
  }
  return read.complete ? { bound: true, bytes: read.bytes } : { bound: false, stream: resumed(read.head, reader) };
}

/** A stream of `head` and then whatever `reader` still gives. */
function resumed(
  head: readonly Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  const queue = [...head];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = queue.shift();
      if (next !== undefined) return controller.enqueue(next);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

let emptyDigest: Promise<string> | undefined;

/** Signet's `Content-Digest` of a body; the empty body's (every GET) is computed once. */
function sha256Digest(body: Uint8Array<ArrayBuffer>): Promise<string> {
  if (body.byteLength > 0) return createContentDigest(body, ["sha-256"]);
  emptyDigest ??= createContentDigest(body, ["sha-256"]);
  return emptyDigest;
}

/** Whether a client's `Content-Digest` holds for the body (every known algorithm in it matches). */
async function digestMatches(value: string, body: Uint8Array): Promise<boolean> {
  try {
    await verifyContentDigest(value, body);
    return true;
  } catch {
    return false;
  }
}

function publicHalf(jwk: Jwk, keyid: string, algorithm: SignatureAlgorithm): Jwk {
  const { key_ops: _ops, ext: _ext, ...out } = publicJwkOf(jwk);
  return Object.freeze({ ...out, kid: keyid, alg: algorithmSpec(algorithm).jwsAlg, use: "sig" });
}

/** Signs a probe and verifies it with the public half, so that a JWK with mismatched halves fails at startup. */
async function checkKeyPair(key: SigningKey, publicJwk: Jwk, algorithm: SignatureAlgorithm): Promise<void> {
  const probe = new TextEncoder().encode("signet attestation key check");
  const verifier = await importVerificationKey(publicJwk, { algorithm });
  if (!(await verifier.verify(probe, await key.sign(probe)))) {
    throw new TypeError("createAttester: the JWK's public members do not belong to its private key");
  }
}

function verifiedAgentValue(identity: VerifiedAgent): string {
  try {
    return serializeVerifiedAgent(identity);
  } catch (cause) {
    throw new TypeError("attest: the identity does not serialise to a Verified-Agent value an origin can read", {
      cause,
    });
  }
}

/**
 * The first of `signet`, `signet2`, ... that neither `Signature-Input` nor `Signature` uses. Parsing is as strict
 * as the origin's: a field the origin could not read as a whole is refused here, and so are fields whose label
 * sets differ (the origin refuses them as a whole with `label_mismatch`).
 */
function freeLabel(headers: Headers): string {
  const used = new Set<string>();
  const perField: Array<ReadonlySet<string>> = [];
  for (const [field, code] of [
    ["signature-input", "malformed_signature_input"],
    ["signature", "malformed_signature"],
  ] as const) {
    const value = headers.get(field);
    const labels = new Set<string>();
    perField.push(labels);
    if (value === null) continue;
    for (const label of parseStrictDictionary(
      value,
      code,
      field === "signature" ? "Signature" : "Signature-Input",
    ).members.keys()) {
      used.add(label);
      labels.add(label);
    }
  }
  const [inputs, signatures] = perField as [ReadonlySet<string>, ReadonlySet<string>];
  if (inputs.size !== used.size || signatures.size !== used.size) {
    throw new SignatureError("label_mismatch", "the client's Signature-Input and Signature carry different labels");
  }
  return firstFreeLabel(used);
}

/** The first of `signet`, `signet2`, ... not in `used`; refused when Signet's member would not fit the cap. */
function firstFreeLabel(used: ReadonlySet<string>): string {
  // Signet's own member must fit under the cap the origin parses with.
  if (used.size >= MAX_DICTIONARY_MEMBERS) {
    throw new SignatureError(
      "too_many_members",
      `the client's signature fields already hold ${used.size} members, and the origin parses at most ${MAX_DICTIONARY_MEMBERS}`,
    );
  }
  if (!used.has(ATTESTATION_LABEL)) return ATTESTATION_LABEL;
  for (let n = 2; ; n++) if (!used.has(`${ATTESTATION_LABEL}${n}`)) return `${ATTESTATION_LABEL}${n}`;
}

/** The `;bs` form of each header the attestation covers, for values that are not printable ASCII. */
const BYTE_SEQUENCE: Readonly<Record<(typeof ATTESTATION_REQUEST_HEADERS)[number], string>> = {
  "content-type": '"content-type";bs',
  authorization: '"authorization";bs',
};

/** A covered-component list, compiled: the identifiers and their `@signature-params` inner list. */
interface CoveredComponents {
  readonly ids: readonly ComponentIdentifier[];
  readonly innerList: string;
}

/**
 * Compiled component lists by their text. The attester covers a handful of fixed names in a fixed order, so
 * there are at most a few dozen combinations: each is parsed and serialised once per isolate.
 */
const compiledComponents = new Map<string, CoveredComponents>();

function coveredComponents(components: readonly string[]): CoveredComponents {
  const key = components.join(" ");
  let compiled = compiledComponents.get(key);
  if (compiled === undefined) {
    const ids = components.map((text) => parseComponent(text, "request"));
    compiled = Object.freeze({ ids: Object.freeze(ids), innerList: `(${ids.map(serializeComponent).join(" ")})` });
    compiledComponents.set(key, compiled);
  }
  return compiled;
}

/** Appends a dictionary member, without the stray leading comma `Headers.append` gives after an empty value. */
function appendMember(headers: Headers, name: string, member: string): void {
  const current = headers.get(name)?.trim();
  headers.set(name, current ? `${current}, ${member}` : member);
}

function freshNonce(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}
