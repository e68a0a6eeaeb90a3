/**
 * Verifying RFC 9421 signatures (§3.2), policy first: the verifier's requirements are checked before any key
 * is resolved or any signature computed, and every failure carries a {@link SignatureErrorCode}.
 *
 * @module
 */
import { isSignatureAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from "./algorithm.ts";
import { type ComponentIdentifier, componentKey, parseComponent, serializeComponent } from "./component.ts";
import type { StructuredFieldType } from "./component-value.ts";
import { verifyContentDigest } from "./content-digest.ts";
import { SignatureError, type SignatureErrorCode } from "./errors.ts";
import { isJoseAlgorithm, type JoseAlgorithm } from "./jose-algorithm.ts";
import type { VerificationKey } from "./key.ts";
import { combinedField, type HttpMessage } from "./message.ts";
import { signatureBase } from "./signature-base.ts";
import {
  type ParsedSignature,
  parseSignatures,
  type SignatureEntry,
  type SignatureParameters,
} from "./signature-fields.ts";

/** What a key resolver is told about a signature. All of it comes from the message and is untrusted. */
export interface KeyCandidate {
  readonly label: string;
  readonly keyid: string | undefined;
  readonly alg: string | undefined;
  readonly tag: string | undefined;
  /** The covered components, serialised (`"@authority"`, `"signature-agent";key="sig1"`). */
  readonly components: readonly string[];
  /** The same components, parsed. */
  readonly componentIds: readonly ComponentIdentifier[];
  readonly params: SignatureParameters;
  /** The message being verified, for resolvers that read other fields (e.g. `Signature-Agent`). */
  readonly message: HttpMessage;
}

/** A resolver's answer: the key, or why there is none (`undefined` means `unknown_key`). */
export type KeyResolution =
  | VerificationKey
  | { readonly reason: SignatureErrorCode; readonly message?: string }
  | undefined;

/** Finds the key for a signature. Throwing a {@link SignatureError} works as well as returning a reason. */
export type KeyResolver = (candidate: KeyCandidate) => KeyResolution | Promise<KeyResolution>;

/** The verifier's policy (RFC 9421 §3.2.1 application requirements). */
export interface VerifyOptions {
  /** Finds the key for each candidate signature. */
  readonly keys: KeyResolver;
  /** Verify only this label. */
  readonly label?: string | undefined;
  /** Verify only signatures with this `tag`. */
  readonly tag?: string | undefined;
  /**
   * Components every accepted signature must cover, as identifiers (`"@authority"`, `content-digest`). An inner
   * array means any one of them, e.g. `[["@authority", "@target-uri"]]`.
   */
  readonly requiredComponents?: ReadonlyArray<string | readonly string[]> | undefined;
  /** Signature parameters every accepted signature must carry. */
  readonly requiredParameters?: ReadonlyArray<keyof SignatureParameters> | undefined;
  /**
   * Algorithms accepted; by default all of {@link SIGNATURE_ALGORITHMS}. JOSE names (`Ed25519`, `ES256`, ...)
   * accept keys imported with `importJoseVerificationKey`.
   */
  readonly algorithms?: ReadonlyArray<SignatureAlgorithm | JoseAlgorithm> | undefined;
  /**
   * `check` (default): an `alg` signature parameter must name an accepted RFC 9421 algorithm and the key's.
   * `ignore`: the parameter stays in the signature base but is not used (RFC 9421 §3.3.7 JOSE algorithms; HTTP
   * Signature Keys require verifiers to ignore it).
   */
  readonly algParameter?: "check" | "ignore" | undefined;
  /** Largest accepted age of `created`, in seconds (needs `created`). */
  readonly maxAge?: number | undefined;
  /** Largest accepted `expires - created`, in seconds (applies when both are present). */
  readonly maxValidity?: number | undefined;
  /** Allowed clock difference in seconds for `created` in the future and `expires` in the past. Default 60. */
  readonly clockSkew?: number | undefined;
  /** The current time in Unix seconds. Default: the system clock. */
  readonly now?: (() => number) | undefined;
  /** Whether a covered `content-digest` is checked against the body. Default true. */
  readonly checkContentDigest?: boolean | undefined;
  /** Structured types of fields covered with `;sf`, beyond the known ones. */
  readonly structuredFields?: Readonly<Record<string, StructuredFieldType>> | undefined;
  /**
   * The message's signatures as {@link parseSignatures} already returned them, to save parsing them twice. They
   * must come from this message's `Signature-Input` and `Signature`.
   */
  readonly entries?: readonly SignatureEntry[] | undefined;
}

/** A signature that verified, with everything the verifier learnt about it. */
export interface VerifiedSignature {
  readonly label: string;
  readonly key: VerificationKey;
  readonly algorithm: SignatureAlgorithm | JoseAlgorithm;
  readonly keyid: string | undefined;
  readonly params: SignatureParameters;
  readonly components: readonly ComponentIdentifier[];
  readonly signatureParams: string;
  readonly base: string;
  readonly signature: Uint8Array;
}

/** The judgement on one label. `base` is set whenever it could be built. */
export type SignatureOutcome =
  | { readonly label: string; readonly verified: true; readonly result: VerifiedSignature }
  | {
      readonly label: string;
      readonly verified: false;
      readonly error: SignatureError;
      readonly signature?: ParsedSignature;
      readonly base?: string;
    };

interface CompiledPolicy {
  readonly required: ReadonlyArray<readonly string[]>;
  readonly requiredText: ReadonlyArray<string>;
  readonly algorithms: ReadonlySet<string>;
  readonly skew: number;
}

const compiled = new WeakMap<VerifyOptions, CompiledPolicy>();
/** Parsed component requirements by the identity of the `requiredComponents` array, so a caller that builds a
 * fresh options object per request (a new `keys` closure) but reuses its arrays compiles them once. */
const compiledRequirements = new WeakMap<object, Pick<CompiledPolicy, "required" | "requiredText">>();
const compiledAlgorithms = new WeakMap<object, ReadonlySet<string>>();
const EMPTY: readonly string[] = Object.freeze([]);

function compile(options: VerifyOptions): CompiledPolicy {
  let policy = compiled.get(options);
  if (policy) return policy;
  if (typeof options.keys !== "function") throw new TypeError("VerifyOptions.keys must be a key resolver function");
  for (const name of ["maxAge", "maxValidity", "clockSkew"] as const) {
    const v = options[name];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new TypeError(`VerifyOptions.${name} must be >= 0`);
  }
  const algorithmList = options.algorithms ?? SIGNATURE_ALGORITHMS;
  let algorithms = compiledAlgorithms.get(algorithmList);
  if (algorithms === undefined) {
    for (const alg of algorithmList) {
      if (!isSignatureAlgorithm(alg) && !isJoseAlgorithm(alg)) {
        throw new TypeError(`VerifyOptions.algorithms: unknown algorithm "${alg}"`);
      }
    }
    algorithms = new Set(algorithmList);
    compiledAlgorithms.set(algorithmList, algorithms);
  }
  const requirementList = options.requiredComponents ?? EMPTY;
  let requirements = compiledRequirements.get(requirementList);
  if (requirements === undefined) {
    const groups = requirementList.map((g) => (typeof g === "string" ? [g] : g));
    requirements = {
      required: groups.map((g) => g.map((text) => componentKey(parseComponent(text)))),
      requiredText: groups.map((g) => g.map((text) => serializeComponent(parseComponent(text))).join(" or ")),
    };
    compiledRequirements.set(requirementList, requirements);
  }
  policy = { ...requirements, algorithms, skew: options.clockSkew ?? 60 };
  compiled.set(options, policy);
  return policy;
}

/**
 * Judges every signature on a message that the options select (by `label` and `tag`), each on its own: one
 * invalid signature does not stop another from verifying.
 *
 * @throws {SignatureError} only for what spoils every signature at once: `no_signature`,
 *   `missing_signature_input`, `malformed_signature_input`, `malformed_signature`, `duplicate_label`
 *
 * @example
 * ```ts
 * const outcomes = await verifySignatures(message, { keys, tag: "web-bot-auth" });
 * const agents = outcomes.filter((o) => o.verified);
 * ```
 */
export async function verifySignatures(message: HttpMessage, options: VerifyOptions): Promise<SignatureOutcome[]> {
  const policy = compile(options);
  const entries =
    options.entries ??
    parseSignatures(
      {
        signatureInput: combinedField(message.headers, "signature-input"),
        signature: combinedField(message.headers, "signature"),
      },
      message.kind,
    );
  const selected = options.label === undefined ? entries : entries.filter((e) => e.label === options.label);
  if (options.label !== undefined && selected.length === 0) {
    throw new SignatureError("label_not_found", `the message has no signature labelled "${options.label}"`);
  }
  const outcomes: SignatureOutcome[] = [];
  for (const entry of selected) {
    const label = entry.label as string;
    if (entry instanceof SignatureError) {
      outcomes.push({ label, verified: false, error: entry });
      continue;
    }
    if (options.tag !== undefined && entry.params.tag !== options.tag) {
      const error = new SignatureError(
        "tag_mismatch",
        `"${label}" has tag ${entry.params.tag === undefined ? "none" : `"${entry.params.tag}"`}, not "${options.tag}"`,
        { label },
      );
      outcomes.push({ label, verified: false, error, signature: entry });
      continue;
    }
    outcomes.push(await verifyOne(message, entry, options, policy));
  }
  return outcomes;
}

/**
 * Verifies a message: returns the first selected signature that verifies, or throws why none did (the
 * reason of the first selected signature).
 *
 * @throws {SignatureError} with the code of the first failure
 *
 * @example
 * ```ts
 * const result = await verifyMessage(parseHttpMessage(text), {
 *   keys: async ({ keyid }) => (keyid === "test-key-ed25519" ? key : undefined),
 *   requiredComponents: ["@method", ["@authority", "@target-uri"]],
 *   requiredParameters: ["created", "keyid"],
 *   maxAge: 300,
 * });
 * console.log(result.label, result.keyid);
 * ```
 */
export async function verifyMessage(message: HttpMessage, options: VerifyOptions): Promise<VerifiedSignature> {
  const outcomes = await verifySignatures(message, options);
  for (const outcome of outcomes) if (outcome.verified) return outcome.result;
  const failure = outcomes.find((o) => !o.verified && o.error.code !== "tag_mismatch") ?? outcomes[0];
  if (failure === undefined || failure.verified) throw new SignatureError("no_signature", "the message is not signed");
  throw failure.error;
}

/**
 * The checks of {@link verifySignatures} that need no key: required parameters and components, the validity
 * window, the `alg` parameter. Run it before looking a key up, so a signature that would be refused anyway
 * never costs a fetch. `undefined` when the signature passes.
 *
 * @example
 * ```ts
 * const refusal = precheckSignature(entry, { keys, requiredParameters: ["created", "keyid"] });
 * if (refusal === undefined) startLookup(entry.params.keyid);
 * ```
 */
export function precheckSignature(sig: ParsedSignature, options: VerifyOptions): SignatureError | undefined {
  try {
    checkPolicy(sig, options, compile(options));
    return undefined;
  } catch (err) {
    if (err instanceof SignatureError) return err;
    throw err;
  }
}

async function verifyOne(
  message: HttpMessage,
  sig: ParsedSignature,
  options: VerifyOptions,
  policy: CompiledPolicy,
): Promise<SignatureOutcome> {
  let base: string | undefined;
  try {
    checkPolicy(sig, options, policy);
    const key = await resolveKey(message, sig, options);
    const algorithm = checkAlgorithm(sig, key, policy, options);
    if (sig.signature.length !== key.signatureLength) {
      throw new SignatureError(
        "invalid_signature_length",
        `a ${algorithm} signature is ${key.signatureLength} bytes, this one ${sig.signature.length}`,
      );
    }
    base = signatureBase(message, sig.components, sig.signatureParams, options);
    const ok = await key.verify(new TextEncoder().encode(base), sig.signature);
    if (!ok) throw new SignatureError("invalid_signature", `the signature "${sig.label}" does not verify`);
    if (options.checkContentDigest !== false) await checkDigest(message, sig);
    const result: VerifiedSignature = {
      label: sig.label,
      key,
      algorithm,
      keyid: sig.params.keyid ?? key.keyid,
      params: sig.params,
      components: sig.components,
      signatureParams: sig.signatureParams,
      base,
      signature: sig.signature,
    };
    return { label: sig.label, verified: true, result };
  } catch (err) {
    if (!(err instanceof SignatureError)) throw err;
    const outcome = { label: sig.label, verified: false as const, error: err.withLabel(sig.label), signature: sig };
    return base === undefined ? outcome : { ...outcome, base };
  }
}

function checkPolicy(sig: ParsedSignature, options: VerifyOptions, policy: CompiledPolicy): void {
  const { params } = sig;
  for (const name of options.requiredParameters ?? []) {
    if (params[name] === undefined) {
      throw new SignatureError("missing_required_parameter", `"${sig.label}" lacks the required parameter ;${name}`);
    }
  }
  const covered = new Set(sig.components.map(componentKey));
  policy.required.forEach((group, i) => {
    if (!group.some((key) => covered.has(key))) {
      throw new SignatureError(
        "missing_required_component",
        `"${sig.label}" must cover ${policy.requiredText[i] as string}`,
      );
    }
  });
  const now = options.now ? options.now() : Math.floor(Date.now() / 1000);
  const { created, expires } = params;
  if (created !== undefined && created > now + policy.skew) {
    throw new SignatureError("created_in_future", `"${sig.label}" was created ${created - now} s in the future`);
  }
  if (created !== undefined && expires !== undefined && expires <= created) {
    throw new SignatureError(
      "invalid_validity",
      `"${sig.label}" expires (${expires}) before it is created (${created})`,
    );
  }
  if (expires !== undefined && expires < now - policy.skew) {
    throw new SignatureError("signature_expired", `"${sig.label}" expired ${now - expires} s ago`);
  }
  if (options.maxAge !== undefined) {
    if (created === undefined) {
      throw new SignatureError("missing_required_parameter", `"${sig.label}" has no ;created to judge its age`);
    }
    if (now - created > options.maxAge + policy.skew) {
      throw new SignatureError(
        "signature_too_old",
        `"${sig.label}" is ${now - created} s old; at most ${options.maxAge} s`,
      );
    }
  }
  if (options.maxValidity !== undefined && created !== undefined && expires !== undefined) {
    if (expires - created > options.maxValidity) {
      throw new SignatureError(
        "validity_too_long",
        `"${sig.label}" is valid for ${expires - created} s; at most ${options.maxValidity} s`,
      );
    }
  }
  if (params.alg !== undefined && options.algParameter !== "ignore") {
    if (!isSignatureAlgorithm(params.alg)) {
      throw new SignatureError("unsupported_algorithm", `"${sig.label}" names the unknown algorithm "${params.alg}"`);
    }
    if (!policy.algorithms.has(params.alg)) {
      throw new SignatureError("algorithm_not_allowed", `the algorithm ${params.alg} is not accepted here`);
    }
  }
}

async function resolveKey(
  message: HttpMessage,
  sig: ParsedSignature,
  options: VerifyOptions,
): Promise<VerificationKey> {
  const answer = await options.keys({
    label: sig.label,
    keyid: sig.params.keyid,
    alg: sig.params.alg,
    tag: sig.params.tag,
    components: sig.components.map(serializeComponent),
    componentIds: sig.components,
    params: sig.params,
    message,
  });
  if (answer === undefined) {
    throw new SignatureError(
      "unknown_key",
      `no key is known for "${sig.label}"${sig.params.keyid === undefined ? "" : ` (keyid "${sig.params.keyid}")`}`,
    );
  }
  if ("reason" in answer) {
    throw new SignatureError(answer.reason, answer.message ?? `no usable key for "${sig.label}"`);
  }
  return answer;
}

function checkAlgorithm(
  sig: ParsedSignature,
  key: VerificationKey,
  policy: CompiledPolicy,
  options: VerifyOptions,
): SignatureAlgorithm | JoseAlgorithm {
  const algorithm = key.algorithm;
  if (sig.params.alg !== undefined && options.algParameter !== "ignore" && sig.params.alg !== algorithm) {
    throw new SignatureError(
      "algorithm_mismatch",
      `"${sig.label}" claims ${sig.params.alg}, but its key is for ${algorithm}`,
    );
  }
  if (!policy.algorithms.has(algorithm)) {
    throw new SignatureError("algorithm_not_allowed", `the algorithm ${algorithm} is not accepted here`);
  }
  if ((algorithm === "hmac-sha256") !== (key.type === "secret")) {
    throw new SignatureError("invalid_key", `a ${key.type} key cannot verify ${algorithm}`);
  }
  return algorithm;
}

async function checkDigest(message: HttpMessage, sig: ParsedSignature): Promise<void> {
  if (!sig.components.some((c) => c.name === "content-digest" && c.params.size === 0)) return;
  const value = combinedField(message.headers, "content-digest") as string;
  const body = typeof message.body === "function" ? await message.body() : message.body;
  if (body === undefined) {
    throw new SignatureError("missing_body", `"${sig.label}" covers content-digest, and the body is not available`);
  }
  await verifyContentDigest(value, body);
}
