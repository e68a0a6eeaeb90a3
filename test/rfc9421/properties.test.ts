/**
 * Property-based tests of the RFC 9421 core (fast-check). They run in Node and in workerd, so they use WebCrypto
 * and web APIs only: keys are generated once per algorithm, messages are random requests and responses.
 *
 * 1. Round trip: signMessage then verifyMessage gives back the label, parameters, components and algorithm
 *    (requests, responses with `;req`, requests written as HTTP/1.1 text and parsed back, two signatures).
 * 2. Tampering with one covered thing (a component value, a signature parameter, a signature byte, the list of
 *    covered components) is refused with the one error code that mutation must produce.
 * 3. Changing what a signature does not cover keeps it verifying.
 * 4. The parsers, and verification itself, throw nothing but SignatureError on arbitrary input; the strict
 *    dictionary scanner agrees with structured-headers; `@query-param` pairs agree with URLSearchParams.
 *
 * Two core bugs these properties found are fixed and kept as regression tests: a hang in parseHttpMessage on a
 * negative chunk size, and a dropped leading BOM in `@query-param` names and values.
 */
import fc from "fast-check";
import {
  type BareItem,
  type InnerList,
  type Item,
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  Token,
} from "structured-headers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  addSignature,
  type ComponentIdentifier,
  createContentDigest,
  type DigestAlgorithm,
  encodeBase64,
  encodedQueryPairs,
  type FieldLines,
  formUrlEncode,
  type HttpMessage,
  type HttpRequestMessage,
  type HttpResponseMessage,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  parseAcceptSignature,
  parseComponent,
  parseHttpMessage,
  parseSignatureInput,
  parseSignatures,
  parseStrictDictionary,
  SIGNATURE_ALGORITHMS,
  SIGNATURE_ERROR_CODES,
  type SignatureAlgorithm,
  SignatureError,
  type SignatureErrorCode,
  type SignatureParameters,
  type SigningKey,
  serializeComponent,
  signMessage,
  type VerificationKey,
  type VerifyOptions,
  verifyMessage,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";

// ---------------------------------------------------------------------------------------------------------------
// Run counts. Together they keep the file well under 20 s in either project.

const RUNS = {
  roundTripRequest: 800,
  roundTripResponse: 400,
  roundTripText: 300,
  twoSignatures: 100,
  tamperRequest: 1500,
  tamperResponse: 500,
  uncovered: 700,
  parser: 2000,
  verifyGarbage: 1000,
} as const;

const TEST_TIMEOUT = 60_000;

// ---------------------------------------------------------------------------------------------------------------
// Keys: one fresh pair per algorithm, generated with WebCrypto and imported through the core's JWK importers.

interface KeyPair {
  readonly algorithm: SignatureAlgorithm;
  readonly signing: SigningKey;
  readonly verification: VerificationKey;
}

const KEYGEN: Record<SignatureAlgorithm, Record<string, unknown>> = {
  ed25519: { name: "Ed25519" },
  "ecdsa-p256-sha256": { name: "ECDSA", namedCurve: "P-256" },
  "ecdsa-p384-sha384": { name: "ECDSA", namedCurve: "P-384" },
  "rsa-pss-sha512": {
    name: "RSA-PSS",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-512",
  },
  "rsa-v1_5-sha256": {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  },
  "hmac-sha256": { name: "HMAC", hash: "SHA-256", length: 256 },
};

const pairs = new Map<SignatureAlgorithm, KeyPair>();

async function generatePair(algorithm: SignatureAlgorithm): Promise<KeyPair> {
  const subtle = crypto.subtle as unknown as {
    generateKey(params: unknown, extractable: boolean, usages: string[]): Promise<CryptoKey | CryptoKeyPair>;
    exportKey(format: "jwk", key: CryptoKey): Promise<unknown>;
  };
  const generated = await subtle.generateKey(KEYGEN[algorithm], true, ["sign", "verify"]);
  let privateJwk: Jwk;
  let publicJwk: Jwk;
  if ("privateKey" in generated) {
    privateJwk = (await subtle.exportKey("jwk", generated.privateKey)) as Jwk;
    publicJwk = (await subtle.exportKey("jwk", generated.publicKey)) as Jwk;
  } else {
    privateJwk = (await subtle.exportKey("jwk", generated)) as Jwk;
    publicJwk = privateJwk;
  }
  return {
    algorithm,
    signing: await importSigningKey(privateJwk, { algorithm }),
    verification: await importVerificationKey(publicJwk, { algorithm }),
  };
}

function pairOf(algorithm: SignatureAlgorithm): KeyPair {
  const pair = pairs.get(algorithm);
  if (!pair) throw new Error(`no key pair for ${algorithm}`);
  return pair;
}

beforeAll(async () => {
  const generated = await Promise.all(SIGNATURE_ALGORITHMS.map(generatePair));
  for (const pair of generated) pairs.set(pair.algorithm, pair);
}, TEST_TIMEOUT);

// ---------------------------------------------------------------------------------------------------------------
// The message model the properties work on: plain data that is turned into an HttpMessage on demand, so a
// mutation is a small change of data followed by a rebuild.

interface QueryPiece {
  readonly name: string;
  /** `undefined`: the piece has no `=`. */
  readonly value: string | undefined;
}

interface UriSpec {
  readonly scheme: string;
  readonly userinfo: string;
  readonly host: string;
  readonly port: string | undefined;
  readonly segments: readonly string[];
  /** `undefined`: no `?` at all. */
  readonly query: readonly QueryPiece[] | undefined;
}

interface DictSpec {
  readonly name: string;
  readonly members: ReadonlyArray<readonly [string, Item]>;
  /** Where the members are split over two field lines (modulo their number; 0 means one line). */
  readonly split: number;
}

interface BodySpec {
  readonly bytes: Uint8Array;
  readonly lazy: boolean;
}

/** The fields and body of a message. `lines` holds the plain field lines, Content-Digest included. */
interface Part {
  readonly lines: ReadonlyArray<readonly [string, string]>;
  readonly dict: DictSpec | undefined;
  readonly body: BodySpec | undefined;
  /** Build a Fetch `Headers` (combined values) instead of raw field lines. */
  readonly asHeaders: boolean;
  /** The digest algorithms of the Content-Digest line still to compute (see {@link finalizePart}). */
  readonly pendingDigest: readonly DigestAlgorithm[];
}

interface RequestState {
  readonly kind: "request";
  readonly method: string;
  readonly uri: UriSpec;
  /** Whether the message carries its raw request-target (needed for `@request-target`). */
  readonly requestTarget: boolean;
  readonly part: Part;
}

interface ResponseState {
  readonly kind: "response";
  readonly status: number;
  readonly part: Part;
  /** The related request; `undefined` once a mutation dropped it. */
  readonly request: RequestState | undefined;
}

type State = RequestState | ResponseState;

const DICT_NAME = "x-dict";
const STRUCTURED = { [DICT_NAME]: "dictionary" } as const;
const DIGEST_PENDING = "\u0000digest pending";

function renderPath(uri: UriSpec): string {
  return uri.segments.length === 0 ? "" : `/${uri.segments.join("/")}`;
}

function renderPiece(piece: QueryPiece): string {
  return piece.value === undefined ? piece.name : `${piece.name}=${piece.value}`;
}

function renderQuery(uri: UriSpec): string {
  return uri.query === undefined ? "" : `?${uri.query.map(renderPiece).join("&")}`;
}

function renderUri(uri: UriSpec): string {
  const port = uri.port === undefined ? "" : `:${uri.port}`;
  return `${uri.scheme}://${uri.userinfo}${uri.host}${port}${renderPath(uri)}${renderQuery(uri)}`;
}

function dictLines(dict: DictSpec | undefined): Array<[string, string]> {
  if (dict === undefined) return [];
  const at = dict.split % dict.members.length;
  const groups = at === 0 ? [dict.members] : [dict.members.slice(0, at), dict.members.slice(at)];
  return groups
    .map((g) => serializeDictionary(new Map(g.map(([k, v]) => [k, v] as [string, Item]))))
    .filter((text) => text !== "")
    .map((text) => [dict.name, text] as [string, string]);
}

function fieldsOf(part: Part, extra: ReadonlyArray<readonly [string, string]>): FieldLines {
  const lines = [...part.lines, ...dictLines(part.dict), ...extra];
  if (!part.asHeaders) return lines.map(([n, v]) => [n, v] as [string, string]);
  const headers = new Headers();
  for (const [n, v] of lines) headers.append(n, v.replace(/\r\n/g, ""));
  return headers;
}

function bodyOf(part: Part): HttpMessage["body"] {
  if (part.body === undefined) return undefined;
  const { bytes, lazy } = part.body;
  return lazy ? async () => bytes : bytes;
}

function toRequest(s: RequestState, extra: ReadonlyArray<readonly [string, string]> = []): HttpRequestMessage {
  return {
    kind: "request",
    method: s.method,
    targetUri: renderUri(s.uri),
    requestTarget: s.requestTarget ? `${renderPath(s.uri) || "/"}${renderQuery(s.uri)}` : undefined,
    headers: fieldsOf(s.part, extra),
    body: bodyOf(s.part),
  };
}

function toResponse(s: ResponseState, extra: ReadonlyArray<readonly [string, string]> = []): HttpResponseMessage {
  return {
    kind: "response",
    status: s.status,
    headers: fieldsOf(s.part, extra),
    body: bodyOf(s.part),
    request: s.request === undefined ? undefined : toRequest(s.request),
  };
}

function toMessage(s: State, extra: ReadonlyArray<readonly [string, string]> = []): HttpMessage {
  return s.kind === "request" ? toRequest(s, extra) : toResponse(s, extra);
}

/** Computes the Content-Digest line the generator only asked for (WebCrypto digests are asynchronous). */
async function finalizePart(part: Part): Promise<Part> {
  if (part.pendingDigest.length === 0 || part.body === undefined) return part;
  const digest = await createContentDigest(part.body.bytes, part.pendingDigest);
  const lines = part.lines.map(([n, v]) => [n, v === DIGEST_PENDING ? digest : v] as const);
  return { ...part, lines, pendingDigest: [] };
}

async function finalize<S extends State>(s: S): Promise<S> {
  if (s.kind === "request") return { ...s, part: await finalizePart(s.part) };
  const request = s.request === undefined ? undefined : { ...s.request, part: await finalizePart(s.request.part) };
  return { ...s, part: await finalizePart(s.part), request };
}

// ---------------------------------------------------------------------------------------------------------------
// Generators.

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i));
const TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split("");
const LOWER = "abcdefghijklmnopqrstuvwxyz".split("");
const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".split("");

const printable = (maxLength: number) => fc.string({ unit: fc.constantFrom(...PRINTABLE), maxLength });

const methodArb = fc.oneof(
  fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"),
  fc.string({ unit: fc.constantFrom(...TCHAR), minLength: 1, maxLength: 10 }),
);

const pathUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ALNUM, ..."-._~!$&'()*+,;=:@".split("")) },
  { weight: 1, arbitrary: fc.constantFrom("%20", "%2F", "%7e", "%C3%A9", "%25", "..") },
);
const segmentArb = fc.string({ unit: pathUnit, maxLength: 8 });

// Query names never contain an upper-case letter (and no escape decodes to one), so a mutation can add the
// name "ZZ" knowing it is new.
const QUERY_ESCAPES = ["%20", "%7e", "%C3%A9", "%2B", "%26", "%3D", "%", "+", "%zz"];
const queryNameUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...LOWER, ..."0123456789-._~!$'()*,;:@/?".split("")) },
  { weight: 2, arbitrary: fc.constantFrom(...QUERY_ESCAPES) },
);
const queryValueUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ALNUM, ..."-._~!$'()*,;:@/?=".split("")) },
  { weight: 2, arbitrary: fc.constantFrom(...QUERY_ESCAPES) },
);
const queryPieceArb: fc.Arbitrary<QueryPiece> = fc.record({
  name: fc.string({ unit: queryNameUnit, maxLength: 5 }),
  value: fc.option(fc.string({ unit: queryValueUnit, maxLength: 8 }), { nil: undefined }),
});

const hostArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/), { minLength: 1, maxLength: 3 })
      .map((l) => l.join(".")),
  },
  { weight: 1, arbitrary: fc.constantFrom("[::1]", "[2001:DB8::1]", "127.0.0.1") },
);

const uriArb: fc.Arbitrary<UriSpec> = fc.record({
  scheme: fc.constantFrom("https", "http", "HTTPS", "Http"),
  userinfo: fc.constantFrom("", "", "", "user@", "u:p@"),
  host: hostArb,
  port: fc.option(fc.constantFrom("80", "443", "8080", "", "0443"), { nil: undefined }),
  segments: fc.array(segmentArb, { maxLength: 5 }),
  query: fc.option(fc.array(queryPieceArb, { maxLength: 5 }), { nil: undefined }),
});

// Field names of the random lines. `x-dict`, Content-Digest and the signature fields are added separately.
const FIELD_NAMES = [
  "Accept",
  "x-custom",
  "Cache-Control",
  "X-Empty",
  "forwarded",
  "User-Agent",
  "x-multi",
  "via",
  "x-odd.name_1~",
];
const ADDED_FIELD = "X-Added-Field";

const fieldValueArb = fc
  .record({
    lead: fc.constantFrom("", "", " ", "\t", "  "),
    core: printable(24),
    fold: fc.option(printable(8), { nil: undefined, freq: 6 }),
    trail: fc.constantFrom("", "", " ", "\t "),
  })
  .map(({ lead, core, fold, trail }) => `${lead}${core}${fold === undefined ? "" : `\r\n ${fold}`}${trail}`);

const fieldLineArb = fc
  .tuple(fc.constantFrom(...FIELD_NAMES), fc.constantFrom("as-is", "as-is", "lower", "upper"), fieldValueArb)
  .map(([name, casing, value]) => {
    const n = casing === "lower" ? name.toLowerCase() : casing === "upper" ? name.toUpperCase() : name;
    return [n, value] as const;
  });

const sfKeyArb = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,5}$/);
const tokenArb = fc.stringMatching(/^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]{0,6}$/).map((s) => new Token(s));
const bareArb: fc.Arbitrary<BareItem> = fc.oneof(
  fc.integer({ min: -99_999, max: 99_999 }),
  printable(10),
  tokenArb,
  fc.boolean(),
);
const itemArb: fc.Arbitrary<Item> = fc
  .tuple(bareArb, fc.uniqueArray(fc.tuple(sfKeyArb, bareArb), { selector: (p) => p[0], maxLength: 2 }))
  .map(([bare, params]) => [bare, new Map(params)]);

const dictArb: fc.Arbitrary<DictSpec> = fc.record({
  name: fc.constantFrom(DICT_NAME, "X-Dict"),
  members: fc.uniqueArray(fc.tuple(sfKeyArb, itemArb), { selector: (m) => m[0], minLength: 1, maxLength: 4 }),
  split: fc.nat(),
});

const bodyArb = fc.record({
  bytes: fc.uint8Array({ maxLength: 48 }),
  lazy: fc.boolean(),
  digest: fc.subarray<DigestAlgorithm>(["sha-256", "sha-512"]),
});

const partArb: fc.Arbitrary<Part> = fc
  .record({
    lines: fc.array(fieldLineArb, { maxLength: 7 }),
    dict: fc.option(dictArb, { nil: undefined }),
    body: fc.option(bodyArb, { nil: undefined }),
    asHeaders: fc.boolean(),
  })
  .map(({ lines, dict, body, asHeaders }) => {
    const digest = body?.digest ?? [];
    const all = digest.length > 0 ? [...lines, ["Content-Digest", DIGEST_PENDING] as const] : lines;
    return {
      lines: all,
      dict,
      body: body === undefined ? undefined : { bytes: body.bytes, lazy: body.lazy },
      asHeaders,
      pendingDigest: digest,
    };
  });

const requestArb: fc.Arbitrary<RequestState> = fc.record({
  kind: fc.constant("request" as const),
  method: methodArb,
  uri: uriArb,
  requestTarget: fc.boolean(),
  part: partArb,
});

const responseArb: fc.Arbitrary<ResponseState> = fc.record({
  kind: fc.constant("response" as const),
  status: fc.integer({ min: 100, max: 599 }),
  part: partArb,
  request: requestArb,
});

/**
 * Requests that survive being written as HTTP/1.1 text: a lower-case scheme (parseHttpMessage takes it as an
 * option), no userinfo (Host cannot carry it), a non-empty path, field lines rather than Headers, a Host line,
 * and a printable body.
 */
const wireRequestArb: fc.Arbitrary<RequestState> = requestArb.map((s) => {
  const uri: UriSpec = {
    ...s.uri,
    scheme: s.uri.scheme.toLowerCase(),
    userinfo: "",
    segments: s.uri.segments.length === 0 ? [""] : s.uri.segments,
  };
  const host = `${uri.host}${uri.port === undefined ? "" : `:${uri.port}`}`;
  const body = s.part.body && { ...s.part.body, bytes: s.part.body.bytes.map((b) => 0x20 + (b % 95)) };
  const part: Part = { ...s.part, asHeaders: false, body, lines: [["Host", host], ...s.part.lines] };
  return { ...s, uri, requestTarget: true, part };
});

/** The request as HTTP/1.1 text (obs-fold kept, CRLF line ends). */
function httpText(s: RequestState, extra: ReadonlyArray<readonly [string, string]>): string {
  const head = [`${s.method} ${renderPath(s.uri) || "/"}${renderQuery(s.uri)} HTTP/1.1`];
  for (const [n, v] of [...s.part.lines, ...dictLines(s.part.dict), ...extra]) head.push(`${n}:${v}`);
  const body = s.part.body === undefined ? "" : String.fromCharCode(...s.part.body.bytes);
  return `${head.join("\r\n")}\r\n\r\n${body}`;
}

const labelArb = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,8}$/);

/** The encoded names that occur exactly once in the query (the only ones `@query-param` may cover). */
function uniqueQueryNames(uri: UriSpec): string[] {
  const counts = new Map<string, number>();
  for (const [name] of encodedQueryPairs(uri.query?.map(renderPiece).join("&") ?? "")) {
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].filter(([, n]) => n === 1).map(([name]) => name);
}

function fieldNamesOf(part: Part): string[] {
  const names = new Set(part.lines.map(([n]) => n.toLowerCase()));
  if (part.dict !== undefined) names.add(DICT_NAME);
  return [...names];
}

/** Every component that exists in a part's fields. */
function fieldCandidates(part: Part): string[] {
  const out: string[] = [];
  for (const name of fieldNamesOf(part)) out.push(`"${name}"`, `"${name}";bs`);
  if (part.dict !== undefined) {
    out.push(`"${DICT_NAME}";sf`);
    for (const [key] of part.dict.members) out.push(`"${DICT_NAME}";key="${key}"`);
  }
  if (part.pendingDigest.length > 0 || part.lines.some(([n]) => n.toLowerCase() === "content-digest")) {
    out.push(`"content-digest";sf`);
  }
  return out;
}

function requestCandidates(s: RequestState): string[] {
  const out = ['"@method"', '"@authority"', '"@path"', '"@query"', '"@target-uri"', '"@scheme"'];
  if (s.requestTarget) out.push('"@request-target"');
  for (const name of uniqueQueryNames(s.uri)) out.push(`"@query-param";name="${name}"`);
  return [...out, ...fieldCandidates(s.part)];
}

function responseCandidates(s: ResponseState): string[] {
  const own = ['"@status"', ...fieldCandidates(s.part)];
  const related = s.request === undefined ? [] : requestCandidates(s.request).map((c) => `${c};req`);
  return [...own, ...related];
}

function candidatesOf(s: State): string[] {
  return s.kind === "request" ? requestCandidates(s) : responseCandidates(s);
}

const PARAM_NAMES = ["created", "expires", "nonce", "keyid", "tag", "alg", "x-ext"] as const;

interface ParamsSpec {
  readonly created: number | undefined;
  readonly expiresAfter: number | undefined;
  readonly nonce: string | undefined;
  readonly keyid: string | undefined;
  readonly tag: string | undefined;
  readonly alg: boolean;
  readonly extra: number | string | boolean | undefined;
  readonly order: readonly (typeof PARAM_NAMES)[number][];
}

const paramsSpecArb: fc.Arbitrary<ParamsSpec> = fc.record({
  created: fc.option(fc.integer({ min: 0, max: 99_999_999_999 }), { nil: undefined }),
  expiresAfter: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
  nonce: fc.option(printable(16), { nil: undefined }),
  keyid: fc.option(printable(16), { nil: undefined }),
  tag: fc.option(printable(12), { nil: undefined }),
  alg: fc.boolean(),
  extra: fc.option(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.boolean(), printable(6)), { nil: undefined }),
  order: fc.shuffledSubarray([...PARAM_NAMES], { minLength: PARAM_NAMES.length, maxLength: PARAM_NAMES.length }),
});

const NO_CREATED_NOW = 1_700_000_000;

/** The signature parameters in the generated order, and the time at which they are valid. */
function paramsOf(spec: ParamsSpec, algorithm: SignatureAlgorithm) {
  const expires = spec.expiresAfter === undefined ? undefined : (spec.created ?? NO_CREATED_NOW) + spec.expiresAfter;
  const values: Record<(typeof PARAM_NAMES)[number], number | string | boolean | undefined> = {
    created: spec.created,
    expires,
    nonce: spec.nonce,
    keyid: spec.keyid,
    tag: spec.tag,
    alg: spec.alg ? algorithm : undefined,
    "x-ext": spec.extra,
  };
  const params: Record<string, number | string | boolean> = {};
  for (const name of spec.order) {
    const v = values[name];
    if (v !== undefined) params[name] = v;
  }
  const registered: SignatureParameters = Object.fromEntries(
    Object.entries(params).filter(([name]) => name !== "x-ext"),
  ) as SignatureParameters;
  return { params, registered, now: spec.created ?? expires ?? NO_CREATED_NOW };
}

// ---------------------------------------------------------------------------------------------------------------
// Signing and verifying one generated case.

interface SignedCase {
  readonly state: State;
  readonly label: string;
  readonly sigInput: string;
  readonly signature: string;
  readonly pair: KeyPair;
  readonly now: number;
  readonly components: readonly string[];
  readonly registered: SignatureParameters;
}

const caseArb = <S extends State>(stateArb: fc.Arbitrary<S>) =>
  stateArb.chain((state) => {
    const candidates = candidatesOf(state);
    return fc.record({
      state: fc.constant(state),
      components: fc.shuffledSubarray(candidates, { minLength: 1, maxLength: Math.min(8, candidates.length) }),
      asObjects: fc.boolean(),
      params: paramsSpecArb,
      algorithm: fc.constantFrom(...SIGNATURE_ALGORITHMS),
      label: fc.option(labelArb, { nil: undefined }),
    });
  });

async function signCase(input: {
  state: State;
  components: readonly string[];
  asObjects: boolean;
  params: ParamsSpec;
  algorithm: SignatureAlgorithm;
  label: string | undefined;
}): Promise<SignedCase> {
  const state = await finalize(input.state);
  const pair = pairOf(input.algorithm);
  const { params, registered, now } = paramsOf(input.params, input.algorithm);
  const message = toMessage(state);
  const components = input.asObjects ? input.components.map((c) => parseComponent(c, state.kind)) : input.components;
  const signed = await signMessage(message, {
    key: pair.signing,
    components,
    params,
    label: input.label,
    structuredFields: STRUCTURED,
  });
  expect(signed.label).toBe(input.label ?? "sig1");
  return {
    state,
    label: signed.label,
    sigInput: signed.signatureInput,
    signature: signed.signature,
    pair,
    now,
    components: input.components,
    registered,
  };
}

function optionsFor(c: { pair: KeyPair; now: number }, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { keys: () => c.pair.verification, now: () => c.now, structuredFields: STRUCTURED, ...extra };
}

function signatureLines(c: { sigInput: string; signature: string }): Array<[string, string]> {
  return [
    ["Signature-Input", c.sigInput],
    ["Signature", c.signature],
  ];
}

/** Verification must fail, with a SignatureError whose code is one of `codes`. */
async function expectRefused(
  verifying: Promise<unknown>,
  codes: readonly SignatureErrorCode[],
  what: string,
): Promise<void> {
  let caught: unknown;
  try {
    await verifying;
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`${what}: verification succeeded, expected ${codes.join(" | ")}`);
  if (!(caught instanceof SignatureError)) throw new Error(`${what}: threw a non-SignatureError: ${String(caught)}`);
  if (!codes.includes(caught.code)) {
    throw new Error(`${what}: expected ${codes.join(" | ")}, got ${caught.code} (${caught.message})`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Round trip.

describe("property: sign then verify round-trips", () => {
  async function roundTrip(input: Parameters<typeof signCase>[0]): Promise<void> {
    const c = await signCase(input);
    let message: HttpMessage;
    if (c.state.part.asHeaders) {
      // Exercise addSignature on the Fetch Headers the message was built with.
      message = toMessage(c.state);
      addSignature(message.headers as Headers, {
        label: c.label,
        signatureInput: c.sigInput,
        signature: c.signature,
        signatureParams: "",
        base: "",
        signatureBytes: new Uint8Array(),
      });
    } else {
      message = toMessage(c.state, signatureLines(c));
    }
    const seen: Array<{ label: string; keyid: string | undefined; alg: string | undefined; tag: string | undefined }> =
      [];
    const result = await verifyMessage(message, {
      ...optionsFor(c),
      keys: (candidate) => {
        seen.push({ label: candidate.label, keyid: candidate.keyid, alg: candidate.alg, tag: candidate.tag });
        return c.pair.verification;
      },
      requiredComponents: c.components,
      requiredParameters: Object.keys(c.registered) as Array<keyof SignatureParameters>,
    });
    expect(result.label).toBe(c.label);
    expect(result.algorithm).toBe(c.pair.algorithm);
    expect(result.params).toEqual(c.registered);
    expect(result.keyid).toBe(c.registered.keyid);
    expect(result.signatureParams).toBe(c.sigInput.slice(c.label.length + 1));
    expect(result.components.map(serializeComponent)).toEqual(
      c.components.map((t) => serializeComponent(parseComponent(t))),
    );
    expect(seen).toEqual([{ label: c.label, keyid: c.registered.keyid, alg: c.registered.alg, tag: c.registered.tag }]);
  }

  it(
    "requests: any covered components, parameters and algorithm",
    async () => {
      await fc.assert(fc.asyncProperty(caseArb(requestArb), roundTrip), { numRuns: RUNS.roundTripRequest });
    },
    TEST_TIMEOUT,
  );

  it(
    "responses: @status, response fields and ;req components of the related request",
    async () => {
      await fc.assert(fc.asyncProperty(caseArb(responseArb), roundTrip), { numRuns: RUNS.roundTripResponse });
    },
    TEST_TIMEOUT,
  );

  it(
    "requests written as HTTP/1.1 text and read back with parseHttpMessage",
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(wireRequestArb), async (input) => {
          const c = await signCase(input);
          const state = c.state as RequestState;
          const scheme = state.uri.scheme as "http" | "https";
          const parsed = parseHttpMessage(httpText(state, signatureLines(c)), { scheme });
          if (parsed.kind !== "request") throw new Error("parsed a response");
          expect(parsed.targetUri).toBe(renderUri(state.uri));
          expect(parsed.method).toBe(state.method);
          const result = await verifyMessage(parsed, optionsFor(c));
          expect([result.label, result.algorithm]).toEqual([c.label, c.pair.algorithm]);
          expect(result.params).toEqual(c.registered);
        }),
        { numRuns: RUNS.roundTripText },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "two signatures by different keys on one message verify each by label",
    async () => {
      const arb = caseArb(requestArb).chain((first) =>
        fc.record({
          first: fc.constant(first),
          secondAlgorithm: fc.constantFrom(...SIGNATURE_ALGORITHMS),
          secondComponents: fc.shuffledSubarray(candidatesOf(first.state), { minLength: 1 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(arb, async ({ first, secondAlgorithm, secondComponents }) => {
          const a = await signCase({ ...first, label: "first" });
          const withFirst = toRequest(a.state as RequestState, signatureLines(a));
          const second = pairOf(secondAlgorithm);
          const b = await signMessage(withFirst, {
            key: second.signing,
            components: secondComponents,
            params: { created: a.now, keyid: "second" },
            structuredFields: STRUCTURED,
          });
          expect(b.label).toBe("sig1");
          const both = toRequest(a.state as RequestState, [
            ["Signature-Input", a.sigInput],
            ["Signature-Input", b.signatureInput],
            ["Signature", a.signature],
            ["Signature", b.signature],
          ]);
          const keys = ({ label }: { label: string }) => (label === "first" ? a.pair : second).verification;
          const r1 = await verifyMessage(both, { ...optionsFor(a), keys, label: "first" });
          const r2 = await verifyMessage(both, { ...optionsFor(a), keys, label: "sig1" });
          expect([r1.label, r1.algorithm]).toEqual(["first", a.pair.algorithm]);
          expect([r2.label, r2.algorithm, r2.keyid]).toEqual(["sig1", secondAlgorithm, "second"]);
          const outcomes = await verifySignatures(both, { ...optionsFor(a), keys });
          expect(outcomes.map((o) => [o.label, o.verified])).toEqual([
            ["first", true],
            ["sig1", true],
          ]);
        }),
        { numRuns: RUNS.twoSignatures },
      );
    },
    TEST_TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 2. Tampering with one covered thing.

interface Mutation<S> {
  readonly what: string;
  readonly apply: (s: S) => S;
  readonly codes: readonly SignatureErrorCode[];
}

interface Wire {
  readonly state: State;
  readonly label: string;
  readonly sigInput: string;
  readonly signature: string;
}

function hasParam(id: ComponentIdentifier, name: string): boolean {
  return id.params.has(name);
}

function withoutReq(id: ComponentIdentifier): ComponentIdentifier {
  return { name: id.name, params: new Map([...id.params].filter(([k]) => k !== "req")) };
}

function pick<T>(items: readonly T[], n: number): T {
  const item = items[n % items.length];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

function lineIndexes(part: Part, name: string): number[] {
  return part.lines.flatMap(([n], i) => (n.toLowerCase() === name ? [i] : []));
}

function replaceLine(part: Part, index: number, value: string): Part {
  return { ...part, lines: part.lines.map((l, i) => (i === index ? ([l[0], value] as const) : l)) };
}

function withMember(dict: DictSpec, key: string, item: Item | undefined): DictSpec {
  const members = dict.members.flatMap(([k, v]) => (k !== key ? [[k, v] as const] : item ? [[k, item] as const] : []));
  return { ...dict, members };
}

/**
 * Mutations of a part's fields that change the value of at least one covered component. `ids` are the covered
 * field components of this part; `digestChecked` says whether verification checks Content-Digest for it.
 */
function partMutations(part: Part, ids: readonly ComponentIdentifier[], digestChecked: boolean, aux: number) {
  const out: Mutation<Part>[] = [];
  const names = new Set(ids.map((id) => id.name));
  // One field of each kind per run (chosen with `aux`), so that no kind of mutation crowds out the others.
  if (names.size > 0) {
    const name = pick([...names], aux);
    out.push({
      what: `remove every "${name}" line`,
      apply: (p) =>
        name === DICT_NAME
          ? { ...p, dict: undefined }
          : { ...p, lines: p.lines.filter(([n]) => n.toLowerCase() !== name) },
      codes: ["missing_field"],
    });
  }
  const plain = [...names].filter((n) => n !== DICT_NAME);
  if (plain.length > 0) {
    // Appending a letter to a line changes the field's text. A field read as a Structured Field (only
    // Content-Digest here; x-dict is changed member by member below) stops parsing: the base cannot be built.
    const name = pick(plain, aux);
    const needsParse = ids.some((id) => id.name === name && (hasParam(id, "sf") || hasParam(id, "key")));
    const index = pick(lineIndexes(part, name), aux);
    out.push({
      what: `append to a "${name}" line`,
      apply: (p) => replaceLine(p, index, `${p.lines[index]?.[1]}x`),
      codes: needsParse ? ["invalid_structured_field"] : ["invalid_signature"],
    });
  }
  const dict = part.dict;
  if (dict !== undefined && names.has(DICT_NAME)) {
    const keyed = ids.flatMap((id) =>
      id.name === DICT_NAME && typeof id.params.get("key") === "string" ? [id.params.get("key") as string] : [],
    );
    const target = keyed.length > 0 ? pick(keyed, aux) : pick(dict.members, aux)[0];
    const old = dict.members.find(([k]) => k === target)?.[1];
    const replacement: Item = [typeof old?.[0] === "number" ? old[0] + 1 : 7, new Map()];
    out.push({
      what: `change the x-dict member "${target}"`,
      apply: (p) => ({ ...p, dict: p.dict && withMember(p.dict, target, replacement) }),
      codes: ["invalid_signature"],
    });
    if (keyed.length > 0 && dict.members.length > 1) {
      out.push({
        what: `remove the covered x-dict member "${target}"`,
        apply: (p) => ({ ...p, dict: p.dict && withMember(p.dict, target, undefined) }),
        codes: ["missing_dictionary_member"],
      });
    }
  }
  const digestCovered = ids.some((id) => id.name === "content-digest" && id.params.size === 0);
  if (digestChecked && digestCovered && part.body !== undefined) {
    out.push({
      what: "change the body under a covered Content-Digest",
      apply: (p) => ({ ...p, body: p.body && { ...p.body, bytes: new Uint8Array([...p.body.bytes, aux & 0xff]) } }),
      codes: ["content_digest_mismatch"],
    });
  }
  return out;
}

function queryPieceIndex(uri: UriSpec, encodedName: string): number {
  return (uri.query ?? []).findIndex((piece) => encodedQueryPairs(renderPiece(piece))[0]?.[0] === encodedName);
}

function setQuery(uri: UriSpec, query: readonly QueryPiece[]): UriSpec {
  return { ...uri, query };
}

function otherHost(host: string): string {
  return host.toLowerCase() === "tampered.example" ? "tampered2.example" : "tampered.example";
}

function otherScheme(scheme: string): string {
  return scheme.toLowerCase() === "https" ? "http" : "https";
}

/** Mutations of a request that change the value of at least one of the covered components `ids` (no `;req`). */
function requestMutations(
  req: RequestState,
  ids: readonly ComponentIdentifier[],
  digestChecked: boolean,
  aux: number,
): Mutation<RequestState>[] {
  const derived = new Set(ids.filter((id) => id.name.startsWith("@")).map((id) => id.name));
  const out: Mutation<RequestState>[] = [];
  const bad: SignatureErrorCode[] = ["invalid_signature"];
  if (derived.has("@method"))
    out.push({ what: "change the method", apply: (s) => ({ ...s, method: `${s.method}X` }), codes: bad });
  if (derived.has("@path") || derived.has("@target-uri") || derived.has("@request-target")) {
    out.push({
      what: "change the path",
      apply: (s) => ({ ...s, uri: { ...s.uri, segments: [...s.uri.segments, "tampered"] } }),
      codes: bad,
    });
  }
  if (derived.has("@query") || derived.has("@target-uri") || derived.has("@request-target")) {
    out.push({
      what: "add a query parameter",
      apply: (s) => ({ ...s, uri: setQuery(s.uri, [...(s.uri.query ?? []), { name: "ZZ", value: "1" }]) }),
      codes: bad,
    });
  }
  if (derived.has("@authority") || derived.has("@target-uri")) {
    out.push({
      what: "change the host",
      apply: (s) => ({ ...s, uri: { ...s.uri, host: otherHost(s.uri.host) } }),
      codes: bad,
    });
  }
  if (derived.has("@scheme") || derived.has("@target-uri")) {
    out.push({
      what: "change the scheme",
      apply: (s) => ({ ...s, uri: { ...s.uri, scheme: otherScheme(s.uri.scheme) } }),
      codes: bad,
    });
  }
  if (derived.has("@request-target")) {
    out.push({
      what: "lose the raw request-target",
      apply: (s) => ({ ...s, requestTarget: false }),
      codes: ["request_target_unavailable"],
    });
  }
  for (const id of ids) {
    if (id.name !== "@query-param") continue;
    const name = id.params.get("name") as string;
    const index = queryPieceIndex(req.uri, name);
    const edit = (f: (pieces: QueryPiece[]) => QueryPiece[]) => (s: RequestState) => ({
      ...s,
      uri: setQuery(s.uri, f([...(s.uri.query ?? [])])),
    });
    out.push(
      {
        what: `change the value of query parameter "${name}"`,
        apply: edit((q) => q.map((p, i) => (i === index ? { ...p, value: `${p.value ?? ""}z` } : p))),
        codes: bad,
      },
      {
        what: `remove query parameter "${name}"`,
        apply: edit((q) => q.filter((_, i) => i !== index)),
        codes: ["missing_query_param"],
      },
      {
        what: `repeat query parameter "${name}"`,
        apply: edit((q) => [...q, q[index] as QueryPiece]),
        codes: ["repeated_query_param"],
      },
    );
  }
  const fields = ids.filter((id) => !id.name.startsWith("@"));
  for (const m of partMutations(req.part, fields, digestChecked, aux)) {
    out.push({ what: m.what, apply: (s) => ({ ...s, part: m.apply(s.part) }), codes: m.codes });
  }
  return out;
}

function responseMutations(
  res: ResponseState,
  ids: readonly ComponentIdentifier[],
  aux: number,
): Mutation<ResponseState>[] {
  const out: Mutation<ResponseState>[] = [];
  const own = ids.filter((id) => !hasParam(id, "req"));
  const related = ids.filter((id) => hasParam(id, "req")).map(withoutReq);
  if (own.some((id) => id.name === "@status")) {
    out.push({
      what: "change the status",
      apply: (s) => ({ ...s, status: s.status === 599 ? 100 : s.status + 1 }),
      codes: ["invalid_signature"],
    });
  }
  for (const m of partMutations(
    res.part,
    own.filter((id) => !id.name.startsWith("@")),
    true,
    aux,
  )) {
    out.push({ what: m.what, apply: (s) => ({ ...s, part: m.apply(s.part) }), codes: m.codes });
  }
  if (related.length > 0 && res.request !== undefined) {
    out.push({
      what: "drop the related request",
      apply: (s) => ({ ...s, request: undefined }),
      codes: ["component_not_applicable"],
    });
    // The related request's Content-Digest is never checked against its body.
    for (const m of requestMutations(res.request, related, false, aux)) {
      out.push({
        what: `related request: ${m.what}`,
        apply: (s) => ({ ...s, request: s.request && m.apply(s.request) }),
        codes: m.codes,
      });
    }
  }
  return out;
}

/** Rewrites the signed label's member of Signature-Input. */
function editInput(w: Wire, f: (items: Item[], params: Map<string, BareItem>) => void): Wire {
  const member = parseDictionary(w.sigInput).get(w.label);
  if (member === undefined || !isInnerList(member)) throw new Error("the signed member is missing");
  const [items, params] = member as InnerList;
  const newItems = items.map(([v, p]) => [v, new Map(p)] as Item);
  const newParams = new Map(params);
  f(newItems, newParams);
  return { ...w, sigInput: `${w.label}=${serializeInnerList([newItems, newParams])}` };
}

function signatureBytes(w: Wire): Uint8Array {
  const member = parseDictionary(w.signature).get(w.label);
  if (member === undefined || isInnerList(member) || !(member[0] instanceof ArrayBuffer)) throw new Error("no bytes");
  return new Uint8Array(member[0]);
}

function withSignatureBytes(w: Wire, bytes: Uint8Array): Wire {
  return { ...w, signature: `${w.label}=:${encodeBase64(bytes)}:` };
}

/** Mutations of the signature fields: parameters, signature bytes, the list of covered components. */
function wireMutations(w: Wire, pair: KeyPair, aux: number): Mutation<Wire>[] {
  const out: Mutation<Wire>[] = [];
  const member = parseDictionary(w.sigInput).get(w.label) as InnerList;
  const [items, params] = member;
  const bad: SignatureErrorCode[] = ["invalid_signature"];
  const created = params.get("created");
  const expires = params.get("expires");
  if (typeof created === "number") {
    const invalid = typeof expires === "number" && expires <= created + 1;
    out.push({
      what: "created + 1",
      apply: (x) => editInput(x, (_, p) => p.set("created", created + 1)),
      codes: invalid ? ["invalid_validity"] : bad,
    });
  }
  if (typeof expires === "number") {
    out.push({ what: "expires + 1", apply: (x) => editInput(x, (_, p) => p.set("expires", expires + 1)), codes: bad });
  }
  for (const name of ["keyid", "nonce", "tag"]) {
    const value = params.get(name);
    out.push({
      what: value === undefined ? `add ;${name}` : `change ;${name}`,
      apply: (x) => editInput(x, (_, p) => p.set(name, typeof value === "string" ? `${value}x` : "added")),
      codes: bad,
    });
  }
  const extra = params.get("x-ext");
  if (extra !== undefined) {
    const changed = typeof extra === "number" ? extra + 1 : typeof extra === "boolean" ? !extra : `${String(extra)}x`;
    out.push({ what: "change ;x-ext", apply: (x) => editInput(x, (_, p) => p.set("x-ext", changed)), codes: bad });
  }
  for (const name of params.keys()) {
    out.push({ what: `remove ;${name}`, apply: (x) => editInput(x, (_, p) => p.delete(name)), codes: bad });
  }
  const otherAlg = pick(
    SIGNATURE_ALGORITHMS.filter((a) => a !== pair.algorithm),
    aux,
  );
  out.push(
    {
      what: `;alg="${otherAlg}"`,
      apply: (x) => editInput(x, (_, p) => p.set("alg", otherAlg)),
      codes: ["algorithm_mismatch"],
    },
    {
      what: ';alg="bogus"',
      apply: (x) => editInput(x, (_, p) => p.set("alg", "bogus")),
      codes: ["unsupported_algorithm"],
    },
  );
  const bytes = signatureBytes(w);
  const at = aux % bytes.length;
  out.push(
    {
      what: `flip signature byte ${at}`,
      apply: (x) =>
        withSignatureBytes(
          x,
          bytes.map((b, i) => (i === at ? b ^ (1 + (aux % 255)) : b)),
        ),
      codes: bad,
    },
    {
      what: "drop the last signature byte",
      apply: (x) => withSignatureBytes(x, bytes.slice(0, -1)),
      codes: ["invalid_signature_length"],
    },
    {
      what: "append a signature byte",
      apply: (x) => withSignatureBytes(x, new Uint8Array([...bytes, aux & 0xff])),
      codes: ["invalid_signature_length"],
    },
    {
      what: "rename the label in Signature only",
      apply: (x) => ({ ...x, signature: `${x.label}-other${x.signature.slice(x.label.length)}` }),
      codes: ["label_mismatch"],
    },
  );
  const i = aux % items.length;
  out.push(
    { what: `drop covered component ${i}`, apply: (x) => editInput(x, (it) => it.splice(i, 1)), codes: bad },
    {
      what: `cover component ${i} twice`,
      apply: (x) => editInput(x, (it) => it.push(it[i] as Item)),
      codes: ["duplicate_component"],
    },
  );
  if (items.length > 1) {
    const j = (i + 1) % items.length;
    out.push({
      what: `swap covered components ${i} and ${j}`,
      apply: (x) =>
        editInput(x, (it) => {
          const a = it[i] as Item;
          it[i] = it[j] as Item;
          it[j] = a;
        }),
      codes: bad,
    });
  }
  return out;
}

function stateMutations(s: State, components: readonly string[], aux: number): Mutation<State>[] {
  const ids = components.map((c) => parseComponent(c));
  if (s.kind === "request") return requestMutations(s, ids, true, aux) as Mutation<State>[];
  return responseMutations(s, ids, aux) as Mutation<State>[];
}

describe("property: tampering with one covered thing is refused, with the precise code", () => {
  async function tamper(input: Parameters<typeof signCase>[0], choice: number, aux: number): Promise<void> {
    const c = await signCase(input);
    const wire: Wire = { state: c.state, label: c.label, sigInput: c.sigInput, signature: c.signature };
    const verify = (w: Wire) => verifyMessage(toMessage(w.state, signatureLines(w)), optionsFor(c));
    await verify(wire); // the untouched message verifies
    const ofMessage: Mutation<Wire>[] = stateMutations(c.state, c.components, aux).map((m) => ({
      what: m.what,
      apply: (w: Wire) => ({ ...w, state: m.apply(w.state) }),
      codes: m.codes,
    }));
    const ofFields = wireMutations(wire, c.pair, aux);
    // Half the runs change the message, half the signature fields (when some covered component can change).
    const m = ofMessage.length > 0 && choice % 2 === 0 ? pick(ofMessage, choice >> 1) : pick(ofFields, choice >> 1);
    await expectRefused(verify(m.apply(wire)), m.codes, m.what);
  }

  it(
    "requests",
    async () => {
      await fc.assert(fc.asyncProperty(caseArb(requestArb), fc.nat(), fc.nat(), tamper), {
        numRuns: RUNS.tamperRequest,
      });
    },
    TEST_TIMEOUT,
  );

  it(
    "responses (status, own fields, the related request)",
    async () => {
      await fc.assert(fc.asyncProperty(caseArb(responseArb), fc.nat(), fc.nat(), tamper), {
        numRuns: RUNS.tamperResponse,
      });
    },
    TEST_TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Changing what is not covered.

interface Current extends Wire {
  readonly state: RequestState;
}

function uncoveredMutations(s: RequestState, components: readonly string[], aux: number): Mutation<Current>[] {
  const ids = components.map((c) => parseComponent(c));
  const derived = new Set(ids.filter((id) => id.name.startsWith("@")).map((id) => id.name));
  const fieldNames = new Set(ids.filter((id) => !id.name.startsWith("@")).map((id) => id.name));
  const state = (f: (r: RequestState) => RequestState) => (x: Current) => ({ ...x, state: f(x.state) });
  const part = (f: (p: Part) => Part) => state((r) => ({ ...r, part: f(r.part) }));
  const out: Mutation<Current>[] = [
    {
      what: "add a field",
      apply: part((p) => ({ ...p, lines: [...p.lines, [ADDED_FIELD, `added ${aux}`]] })),
      codes: [],
    },
    {
      what: "relabel the signature in both fields",
      apply: (x) => {
        const label = `${x.label}.r`;
        return {
          ...x,
          label,
          sigInput: `${label}${x.sigInput.slice(x.label.length)}`,
          signature: `${label}${x.signature.slice(x.label.length)}`,
        };
      },
      codes: [],
    },
    {
      what: "add a second, invalid signature after it",
      apply: (x) => ({
        ...x,
        // The suffix grows with the field, so applying this twice gives two distinct labels.
        sigInput: `${x.sigInput}, ${x.label}-x${x.sigInput.length}=("@method");created=1`,
        signature: `${x.signature}, ${x.label}-x${x.sigInput.length}=:AAAA:`,
      }),
      codes: [],
    },
  ];
  s.part.lines.forEach(([name], index) => {
    if (fieldNames.has(name.toLowerCase())) return;
    out.push(
      {
        what: `change the uncovered "${name}" line ${index}`,
        apply: part((p) => replaceLine(p, index, `changed ${aux}`)),
        codes: [],
      },
      {
        what: `remove the uncovered "${name}" line ${index}`,
        apply: part((p) => ({ ...p, lines: p.lines.filter((_, i) => i !== index) })),
        codes: [],
      },
    );
  });
  if (s.part.dict !== undefined && !fieldNames.has(DICT_NAME)) {
    out.push({ what: "drop the uncovered x-dict", apply: part((p) => ({ ...p, dict: undefined })), codes: [] });
  }
  if (s.part.body !== undefined && !fieldNames.has("content-digest")) {
    out.push({
      what: "change a body whose Content-Digest is not covered",
      apply: part((p) => ({ ...p, body: p.body && { ...p.body, bytes: new Uint8Array([...p.body.bytes, 1]) } })),
      codes: [],
    });
  }
  const whole = derived.has("@target-uri") || derived.has("@request-target");
  if (!derived.has("@method")) {
    out.push({ what: "change the method", apply: state((r) => ({ ...r, method: `${r.method}X` })), codes: [] });
  }
  if (!whole && !derived.has("@path")) {
    out.push({
      what: "change the path",
      apply: state((r) => ({ ...r, uri: { ...r.uri, segments: [...r.uri.segments, "changed"] } })),
      codes: [],
    });
  }
  if (!whole && !derived.has("@query")) {
    out.push({
      what: "add a new query parameter",
      apply: state((r) => ({ ...r, uri: setQuery(r.uri, [...(r.uri.query ?? []), { name: "ZZ", value: `${aux}` }]) })),
      codes: [],
    });
  }
  if (!derived.has("@target-uri") && !derived.has("@authority")) {
    out.push({
      what: "change the host",
      apply: state((r) => ({ ...r, uri: { ...r.uri, host: otherHost(r.uri.host) } })),
      codes: [],
    });
  }
  // The scheme decides whether an explicit port is the default one, and so shows in @authority.
  const port = s.uri.port;
  if (
    !derived.has("@target-uri") &&
    !derived.has("@scheme") &&
    (!derived.has("@authority") || (port !== "80" && port !== "443"))
  ) {
    out.push({
      what: "change the scheme",
      apply: state((r) => ({ ...r, uri: { ...r.uri, scheme: otherScheme(r.uri.scheme) } })),
      codes: [],
    });
  }
  if (!derived.has("@request-target")) {
    out.push({
      what: "toggle the raw request-target",
      apply: state((r) => ({ ...r, requestTarget: !r.requestTarget })),
      codes: [],
    });
  }
  return out;
}

describe("property: changes outside the covered components keep the signature valid", () => {
  it(
    "requests: 1 to 3 uncovered changes",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          caseArb(requestArb),
          fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 3 }),
          async (input, picks) => {
            const c = await signCase(input);
            let current: Current = {
              state: c.state as RequestState,
              label: c.label,
              sigInput: c.sigInput,
              signature: c.signature,
            };
            const applied: string[] = [];
            for (const [choice, aux] of picks) {
              // Computed on the current state, so that line indexes stay right after earlier changes.
              const m = pick(uncoveredMutations(current.state, c.components, aux), choice);
              applied.push(m.what);
              current = m.apply(current);
            }
            const message = toMessage(current.state, signatureLines(current));
            let result: Awaited<ReturnType<typeof verifyMessage>>;
            try {
              result = await verifyMessage(message, optionsFor(c));
            } catch (err) {
              throw new Error(`after ${applied.join("; ")}: ${String(err)}`);
            }
            expect(result.label).toBe(current.label);
          },
        ),
        { numRuns: RUNS.uncovered },
      );
    },
    TEST_TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// 4. Parsers and verification on arbitrary input throw SignatureError or nothing.

const SF_FRAGMENTS = [
  "sig1",
  "sig2",
  "*a",
  "=",
  "(",
  ")",
  "()",
  '"@method"',
  '"@authority"',
  '"@path"',
  '"@query"',
  '"@query-param"',
  '"@status"',
  '"@request-target"',
  '"@signature-params"',
  '"@nope"',
  '"content-digest"',
  '"x-dict"',
  '"X-Upper"',
  '"accept"',
  '"a b"',
  ";created=1618884473",
  ";created=1.5",
  ";created=-1",
  ";created=999999999999999",
  ';created="1"',
  ";expires=1",
  ';keyid="k"',
  ";keyid=k",
  ';alg="ed25519"',
  ';alg="bogus"',
  ";nonce=?1",
  ';tag="t"',
  ";req",
  ";bs",
  ";sf",
  ";tr",
  ';key="a"',
  ";key=a",
  ';name="n"',
  ";name=1",
  ";unknown",
  ":AAAA:",
  ":",
  ":not base64!:",
  ", ",
  ",",
  " ",
  "\t",
  '"',
  "\\",
  "@1659578233",
  '%"caf%c3%a9"',
  "?0",
  "?2",
  "1",
  "-",
  ".",
  ";",
  "\u00e9",
  "\u{1F600}",
  "\r\n",
];

const sfishArb = fc.array(fc.constantFrom(...SF_FRAGMENTS), { maxLength: 16 }).map((parts) => parts.join(""));

const arbitraryText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...'sig1=("@method");created=1,:\\ ?*.-%'.split("")), maxLength: 40 }),
  sfishArb,
  sfishArb,
);

const kindArb = fc.constantFrom(undefined, "request" as const, "response" as const);

/** Runs `f`; anything thrown must be a SignatureError with a known code. */
function onlySignatureErrors<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    expect(SIGNATURE_ERROR_CODES).toContain(err.code);
    return undefined;
  }
}

const HTTP_LINES = [
  "GET / HTTP/1.1",
  "POST /foo?a=b HTTP/1.1",
  "CONNECT example.com:443 HTTP/1.1",
  "OPTIONS * HTTP/1.1",
  "GET https://example.com/x HTTP/1.1",
  "GET relative HTTP/1.1",
  "HTTP/1.1 200 OK",
  "HTTP/1.1 503",
  "HTTP/2 404 Not Found",
  "Host: example.com",
  "Host:",
  "Transfer-Encoding: chunked",
  "Transfer-Encoding: gzip, chunked",
  "Content-Digest: sha-256=:AAAA:",
  "X-Folded: a",
  "  continuation",
  "\tcontinuation",
  "bad field line",
  ": empty name",
  "",
  "0",
  "5",
  "a;ext=1",
  "ffffffffffff",
  "zz",
  "hello",
  "Trailer-Field: t",
];

const httpTextArb = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...HTTP_LINES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      ),
      {
        maxLength: 12,
      },
    ),
    fc.constantFrom("\n", "\r\n"),
  )
  .map(([lines, eol]) => lines.join(eol));

describe("property: parsers throw nothing but SignatureError", () => {
  it(
    "parseSignatures, parseSignatureInput, parseAcceptSignature, parseComponent",
    () => {
      fc.assert(
        fc.property(arbitraryText, fc.option(arbitraryText, { nil: undefined }), kindArb, (a, b, kind) => {
          const entries = onlySignatureErrors(() => parseSignatures({ signatureInput: a, signature: b }, kind));
          for (const entry of entries ?? []) {
            if (entry instanceof SignatureError) expect(SIGNATURE_ERROR_CODES).toContain(entry.code);
            else expect(entry.signature).toBeInstanceOf(Uint8Array);
          }
          onlySignatureErrors(() => parseSignatures({ signatureInput: b, signature: a }, kind));
          const inputs = onlySignatureErrors(() => parseSignatureInput(a, kind));
          for (const entry of inputs?.values() ?? []) {
            if (!(entry instanceof SignatureError)) expect(typeof entry.signatureParams).toBe("string");
          }
          onlySignatureErrors(() => parseAcceptSignature(a));
          onlySignatureErrors(() => parseComponent(a, kind));
        }),
        { numRuns: RUNS.parser },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "parseHttpMessage",
    () => {
      fc.assert(
        fc.property(
          fc.oneof(httpTextArb, arbitraryText),
          fc.constantFrom("http" as const, "https" as const),
          (text, scheme) => {
            const message = onlySignatureErrors(() => parseHttpMessage(text, { scheme }));
            if (message !== undefined) expect(["request", "response"]).toContain(message.kind);
          },
        ),
        { numRuns: RUNS.parser },
      );
    },
    TEST_TIMEOUT,
  );

  it("regression: a negative chunk size is refused, not looped on", () => {
    expect(() => parseHttpMessage("POST /x HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n-4\n")).toThrow(
      SignatureError,
    );
  });
});

// A valid Structured Field Dictionary, built from parsed values, for the strict parser's raw scanner.
const sfBareArb: fc.Arbitrary<BareItem> = fc.oneof(
  fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }),
  fc.integer({ min: -999_999_999_999, max: 999_999_999_999 }).map((n) => n / 1000),
  printable(8),
  tokenArb,
  fc.uint8Array({ maxLength: 8 }).map((b) => b.slice().buffer as ArrayBuffer),
  fc.boolean(),
);
const sfParamsArb = fc
  .uniqueArray(fc.tuple(sfKeyArb, sfBareArb), { selector: (p) => p[0], maxLength: 3 })
  .map((p) => new Map(p));
const sfItemArb: fc.Arbitrary<Item> = fc.tuple(sfBareArb, sfParamsArb);
const sfMemberArb: fc.Arbitrary<Item | InnerList> = fc.oneof(
  sfItemArb,
  fc.tuple(fc.array(sfItemArb, { maxLength: 3 }), sfParamsArb),
);
const sfDictionaryArb = fc.record({
  members: fc.uniqueArray(fc.tuple(sfKeyArb, sfMemberArb), { selector: (m) => m[0], minLength: 1, maxLength: 4 }),
  separators: fc.array(fc.constantFrom(",", ", ", " ,", "\t,\t", " ,  "), { minLength: 4, maxLength: 4 }),
  lead: fc.constantFrom("", " ", "   "),
});

describe("property: the strict dictionary parser agrees with structured-headers", () => {
  it(
    "keys and parameter names in wire order, no false duplicates, real duplicates refused",
    () => {
      fc.assert(
        fc.property(sfDictionaryArb, ({ members, separators, lead }) => {
          const texts = members.map(([k, v]) => serializeDictionary(new Map([[k, v]])));
          const text = lead + texts.map((t, i) => (i === 0 ? t : `${separators[i] ?? ", "}${t}`)).join("");
          const parsed = parseStrictDictionary(text, "malformed_signature_input", "Signature-Input");
          expect([...parsed.raw.keys()]).toEqual(members.map(([k]) => k));
          expect([...parsed.invalid.keys()]).toEqual([]);
          for (const [key, value] of members) {
            const raw = parsed.raw.get(key);
            expect(raw?.params.map((p) => p.key)).toEqual([...value[1].keys()]);
            for (const p of raw?.params ?? []) {
              const v = value[1].get(p.key);
              // The raw token is what ;created/;expires are checked with (an Integer must not contain ".").
              if (typeof v === "number" && Number.isInteger(v) && !p.raw.includes(".")) expect(p.raw).toBe(String(v));
            }
            if (isInnerList(value)) {
              expect(raw?.innerParams.map((ps) => ps.map((p) => p.key))).toEqual(value[0].map((i) => [...i[1].keys()]));
            }
          }
          const again = texts[0] as string;
          let caught: unknown;
          try {
            parseStrictDictionary(`${text}, ${again}`, "malformed_signature_input", "Signature-Input");
          } catch (err) {
            caught = err;
          }
          expect(caught).toBeInstanceOf(SignatureError);
          expect((caught as SignatureError).code).toBe("duplicate_label");
        }),
        { numRuns: RUNS.parser },
      );
    },
    TEST_TIMEOUT,
  );
});

// @query-param (RFC 9421 §2.2.8) parses the query as WHATWG application/x-www-form-urlencoded: URLSearchParams is
// the oracle. Only ASCII input is compared, because Node's URLSearchParams mangles raw non-ASCII characters next
// to percent-escapes (it is the oracle that is wrong there, not the core).
const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
const isAscii = (text: string) => [...text].every((ch) => (ch.codePointAt(0) ?? 0) < 0x80);
const asciiQueryArb = fc.string({
  unit: fc.oneof(
    fc.constantFrom(..."ab=&+%".split(""), "%20", "%2", "%zz", "%C3", "%A9", "%C3%A9", "%00", "%FF", "%2B", "%26"),
    fc.constantFrom("%F0%9F%98%80", "%ED%A0%80", "%3D", "%7e"),
    fc.constantFrom(...ASCII),
  ),
  maxLength: 14,
});

function oraclePairs(query: string): Array<[string, string]> {
  // The constructor drops one leading "?", so this one keeps a "?" that belongs to the query.
  return [...new URLSearchParams(`?${query}`)].map(([n, v]) => [formUrlEncode(n), formUrlEncode(v)]);
}

describe("property: @query-param pairs match URLSearchParams", () => {
  it(
    "encodedQueryPairs equals URLSearchParams re-encoded with formUrlEncode (ASCII queries)",
    () => {
      fc.assert(
        fc.property(asciiQueryArb, (query) => {
          expect(encodedQueryPairs(query)).toEqual(oraclePairs(query));
        }),
        { numRuns: RUNS.parser },
      );
    },
    TEST_TIMEOUT,
  );

  /** Regression: WHATWG decodes without stripping a BOM, so `?%EF%BB%BFa=1` names "\uFEFFa", not "a". */
  it("regression: a leading encoded BOM is kept in query names and values", () => {
    for (const query of ["%EF%BB%BF", "%EF%BB%BFa=1", "a=%ef%bb%bfx"]) {
      expect(encodedQueryPairs(query)).toEqual(oraclePairs(query));
    }
  });
});

/** Components of the fixed message below: most exist, some are invalid or missing. */
const GOOD_COMPONENTS = [
  '"@method"',
  '"@authority"',
  '"@path"',
  '"@query"',
  '"@target-uri"',
  '"@scheme"',
  '"@query-param";name="a"',
  '"accept"',
  '"accept";bs',
  '"x-dict";key="a"',
  '"x-dict";key="b"',
  '"content-digest"',
  '"content-digest";sf',
];
const BAD_COMPONENTS = [
  '"@request-target"',
  '"@status"',
  '"@query-param";name="zz"',
  '"@query-param"',
  '"@method";req',
  '"@method";name="x"',
  '"@signature-params"',
  '"@unknown"',
  '"Accept"',
  "accept",
  '"accept";sf',
  '"accept";tr',
  '"accept";req',
  '"accept";foo=1',
  '"accept";key=1',
  '"accept";bs;sf',
  '"x-dict";key="zz"',
  '"x-dict";bs;key="a"',
  '"missing"',
  '"non-ascii"',
  "@method",
  "1",
];
const GOOD_PARAMS = [
  ";created=1700000000",
  ";expires=1700000100",
  ';keyid="k"',
  ';nonce="n"',
  ';tag="t"',
  ";x-other=?0",
];
const BAD_PARAMS = [
  ";created=1700000000.5",
  ";created=-5",
  ';created="1"',
  ";created=1800000000",
  ";expires=1",
  ";keyid=k",
  ';alg="bogus"',
  ";tag=?1",
  ";created=@1700000000",
  ';keyid=%"k"',
  ";created=1;created=2",
];

/** Signature lengths per algorithm, so that most garbage signatures reach the cryptographic check. */
const SIGNATURE_LENGTH: Record<SignatureAlgorithm, number> = {
  ed25519: 64,
  "ecdsa-p256-sha256": 64,
  "ecdsa-p384-sha384": 96,
  "rsa-pss-sha512": 256,
  "rsa-v1_5-sha256": 256,
  "hmac-sha256": 32,
};

const weighted = (good: readonly string[], bad: readonly string[]) =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });

/** Signature-Input and Signature values that look like real ones, for a key of `algorithm`. */
const garbageFieldsArb = (algorithm: SignatureAlgorithm) =>
  fc
    .uniqueArray(
      fc.record({
        label: fc.constantFrom("sig1", "sig2", "a", "b*"),
        components: fc.uniqueArray(weighted(GOOD_COMPONENTS, BAD_COMPONENTS), { maxLength: 6 }),
        params: fc.uniqueArray(
          weighted(
            [...GOOD_PARAMS, `;alg="${algorithm}"`],
            [...BAD_PARAMS, ...SIGNATURE_ALGORITHMS.map((a) => `;alg="${a}"`)],
          ),
          { maxLength: 4 },
        ),
        inSignature: fc.oneof(
          { weight: 8, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
        bytes: fc.oneof(
          {
            weight: 6,
            arbitrary: fc.uint8Array({
              minLength: SIGNATURE_LENGTH[algorithm],
              maxLength: SIGNATURE_LENGTH[algorithm],
            }),
          },
          { weight: 1, arbitrary: fc.constant(new Uint8Array(SIGNATURE_LENGTH[algorithm]).fill(0xff)) },
          { weight: 1, arbitrary: fc.constant(new Uint8Array(SIGNATURE_LENGTH[algorithm])) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
        ),
      }),
      { selector: (m) => m.label, minLength: 1, maxLength: 3 },
    )
    .map((members) => ({
      sigInput: members.map((m) => `${m.label}=(${m.components.join(" ")})${m.params.join("")}`).join(", "),
      signature: members
        .filter((m) => m.inSignature)
        .map((m) => `${m.label}=:${encodeBase64(m.bytes)}:`)
        .join(", "),
    }));

const garbageCaseArb = fc.constantFrom(...SIGNATURE_ALGORITHMS).chain((algorithm) =>
  fc.record({
    algorithm: fc.constant(algorithm),
    fields: fc.oneof(
      { weight: 4, arbitrary: garbageFieldsArb(algorithm) },
      { weight: 1, arbitrary: fc.record({ sigInput: arbitraryText, signature: arbitraryText }) },
      {
        weight: 1,
        arbitrary: fc.record({ sigInput: sfishArb, signature: garbageFieldsArb(algorithm).map((f) => f.signature) }),
      },
    ),
    dropSignature: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    kind: kindArb,
    asHeaders: fc.boolean(),
  }),
);

describe("property: verification of arbitrary signature fields throws nothing but SignatureError", () => {
  it(
    "verifyMessage and verifySignatures with a resolver that always has a key",
    async () => {
      await fc.assert(
        fc.asyncProperty(garbageCaseArb, async ({ algorithm, fields, dropSignature, kind, asHeaders }) => {
          const lines: Array<[string, string]> = [
            ["Accept", "text/plain"],
            ["X-Dict", "a=1, b=(x y)"],
            ["Content-Digest", "sha-256=:AAAA:"],
            ["Signature-Input", fields.sigInput],
          ];
          // workerd warns about non-ASCII values in Headers, so this one is a raw field line only.
          if (!asHeaders) lines.push(["Non-ASCII", "caf\u00e9"]);
          if (!dropSignature) lines.push(["Signature", fields.signature]);
          // Headers refuses some of the random values (e.g. CR, LF, NUL), and workerd warns about non-ASCII ones:
          // those messages are built as field lines.
          let headers: FieldLines = lines;
          if (asHeaders && lines.every(([, v]) => isAscii(v))) {
            try {
              headers = new Headers(lines);
            } catch {
              headers = lines;
            }
          }
          const request: HttpRequestMessage = {
            kind: "request",
            method: "POST",
            targetUri: "https://example.com/p?a=1&b=2",
            headers,
            body: new Uint8Array([1, 2, 3]),
          };
          const message: HttpMessage =
            kind === "response" ? { kind: "response", status: 200, headers, request } : request;
          const options: VerifyOptions = {
            keys: () => pairOf(algorithm).verification,
            now: () => 1_700_000_050,
            structuredFields: STRUCTURED,
          };
          await expectRefused(verifyMessage(message, options), SIGNATURE_ERROR_CODES, "verifyMessage");
          let outcomes: Awaited<ReturnType<typeof verifySignatures>> = [];
          try {
            outcomes = await verifySignatures(message, options);
          } catch (err) {
            if (!(err instanceof SignatureError)) throw err;
          }
          for (const o of outcomes) {
            expect(o.verified).toBe(false);
            if (!o.verified) expect(o.error).toBeInstanceOf(SignatureError);
          }
        }),
        { numRuns: RUNS.verifyGarbage },
      );
    },
    TEST_TIMEOUT,
  );
});
