/**
 * Signet's attestation of forwarded requests: an RFC 9421 signature made with Signet's own key, tagged
 * `signet-attestation`, that lets the origin prove a request (and its `Verified-Agent` header, when there is
 * one) came through Signet, recently, exactly once.
 *
 * The attestation covers `@method`, `@authority`, `@path`, `@query` and, when Signet identified the agent,
 * `verified-agent`. Its parameters are `created`, `expires`, a fresh random `nonce`, `keyid` (the RFC 7638
 * thumbprint of Signet's key) and `tag="signet-attestation"`. Anonymous requests are attested too, so that an
 * origin can refuse traffic that went around Signet. The origin side is in `origin/`.
 *
 * @module
 */
import {
  algorithmForJwk,
  algorithmSpec,
  encodeBase64Url,
  type HttpRequestMessage,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  jwkThumbprint,
  parseStrictDictionary,
  publicJwkOf,
  type SignatureAlgorithm,
  SignatureError,
  type SigningKey,
  signMessage,
} from "../rfc9421/index.ts";
import {
  parseVerifiedAgent,
  serializeVerifiedAgent,
  VERIFIED_AGENT_HEADER,
  type VerifiedAgent,
} from "./verified-agent.ts";

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
 * Every header whose meaning Signet owns. Client-sent copies must be removed before a request is attested and
 * forwarded: an origin trusts them only because Signet set them.
 *
 * @example
 * ```ts
 * const headers = new Headers(request.headers);
 * for (const name of SIGNET_IDENTITY_HEADERS) headers.delete(name);
 * ```
 */
export const SIGNET_IDENTITY_HEADERS = Object.freeze([VERIFIED_AGENT_HEADER, SIGNET_MONITOR_HEADER] as const);

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
 * The components an attestation always covers, in order; `verified-agent` follows when the header is set.
 *
 * @example
 * ```ts
 * verifySignatures(message, { keys, requiredComponents: [...ATTESTATION_COMPONENTS] });
 * ```
 */
export const ATTESTATION_COMPONENTS = Object.freeze(["@method", "@authority", "@path", "@query"] as const);

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
  /**
   * Returns a new request to forward: the same method, URL and (streamed, not buffered) body, with any
   * client-sent identity header removed, `Verified-Agent` set from `identity` when given, `Signet-Monitor` set
   * from `monitor` when given (monitor mode: the refusal enforce mode would have sent), both covered, and an
   * attestation signature appended after the client's own signatures, which are kept as they were.
   *
   * Attest the request exactly as it will reach the origin: `@authority` and `@path` are those of
   * `request.url`, so any rewrite to the origin's host must happen before.
   *
   * @throws {SignatureError} `malformed_signature_input`, `malformed_signature`, `duplicate_label`,
   *   `unsupported_structured_type` or `label_mismatch` (the two fields' labels differ) when the client's
   *   `Signature-Input` or `Signature` cannot be parsed as a whole (appending to them would not give the origin a readable attestation; refuse such requests first)
   * @throws {TypeError} when `identity` cannot be serialised as a `Verified-Agent` that parses back
   */
  attest(request: Request, identity: VerifiedAgent | undefined, monitor?: string): Promise<Request>;
}

const NONCE_BYTES = 32;

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
  const keyid = await jwkThumbprint(privateJwk);
  const publicJwk = publicHalf(privateJwk, keyid, algorithm);
  await checkKeyPair(key, publicJwk, algorithm);
  const now = options.now ?? (() => Date.now() / 1000);

  return Object.freeze({
    publicJwk,
    keyid,
    algorithm,
    validitySeconds,
    async attest(request: Request, identity: VerifiedAgent | undefined, monitor?: string): Promise<Request> {
      const headers = new Headers(request.headers);
      for (const name of SIGNET_IDENTITY_HEADERS) headers.delete(name);
      const components: string[] = [...ATTESTATION_COMPONENTS];
      if (identity !== undefined) {
        headers.set(VERIFIED_AGENT_HEADER, verifiedAgentValue(identity));
        components.push(VERIFIED_AGENT_HEADER.toLowerCase());
      }
      if (monitor !== undefined) {
        headers.set(SIGNET_MONITOR_HEADER, monitor);
        components.push(SIGNET_MONITOR_HEADER.toLowerCase());
      }
      const label = freeLabel(headers);
      const created = Math.floor(now());
      const message: HttpRequestMessage = { kind: "request", method: request.method, targetUri: request.url, headers };
      const signed = await signMessage(message, {
        key,
        components,
        label,
        params: { created, expires: created + validitySeconds, nonce: freshNonce(), keyid, tag: ATTESTATION_TAG },
      });
      appendMember(headers, "Signature-Input", signed.signatureInput);
      appendMember(headers, "Signature", signed.signature);
      // The body stream moves to the new request as it is: nothing is read or buffered here.
      return new Request(request, { headers });
    },
  });
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
  const value = serializeVerifiedAgent(identity);
  if (parseVerifiedAgent(value) === undefined) {
    throw new TypeError("attest: the identity does not serialise to a Verified-Agent value an origin can read");
  }
  return value;
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
  if (!used.has(ATTESTATION_LABEL)) return ATTESTATION_LABEL;
  for (let n = 2; ; n++) if (!used.has(`${ATTESTATION_LABEL}${n}`)) return `${ATTESTATION_LABEL}${n}`;
}

/** Appends a dictionary member, without the stray leading comma `Headers.append` gives after an empty value. */
function appendMember(headers: Headers, name: string, member: string): void {
  const current = headers.get(name)?.trim();
  headers.set(name, current ? `${current}, ${member}` : member);
}

function freshNonce(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}
