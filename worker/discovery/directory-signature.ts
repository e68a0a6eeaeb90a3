/**
 * The directory's own response signatures ("Validating the Domain Binding", PROTO-02 / WG-01): each key of a
 * directory signs the response it was served in, covering `"@authority";req` and `content-digest`, which binds
 * the key to the authority it was fetched from. This module checks them with the keys of the set itself and
 * applies the `requireDirectorySignature` policy.
 *
 * @module
 */
import {
  type FieldLines,
  type HttpResponseMessage,
  type SignatureErrorCode,
  verifySignatures,
} from "../rfc9421/index.ts";
import { type KeySet, type KeySetKey, makeKeySet, type RefusedKey } from "./parse-key-set.ts";

/** The `tag` of a directory response signature. */
export const DIRECTORY_SIGNATURE_TAG = "http-message-signatures-directory";

/** Default allowed clock difference for `created` in the future and `expires` in the past, in seconds. */
export const DEFAULT_DIRECTORY_CLOCK_SKEW_SECONDS = 60;

/** What {@link verifyDirectorySignatures} is given: the exchange exactly as it happened. */
export interface DirectoryResponseInput {
  /** The key set URL the directory was fetched from (its authority is `"@authority";req`). */
  readonly url: string;
  /** The response header fields. */
  readonly headers: FieldLines;
  /** The exact body bytes (checked against `Content-Digest`). */
  readonly body: Uint8Array;
  /** The parsed set whose keys may sign. */
  readonly keySet: KeySet;
  /** The current time in Unix seconds. Default: the system clock. */
  readonly now?: number | undefined;
  /** Allowed clock difference in seconds. Default {@link DEFAULT_DIRECTORY_CLOCK_SKEW_SECONDS}. */
  readonly clockSkew?: number | undefined;
}

/** A valid binding signature. */
export interface DirectoryBinding {
  readonly label: string;
  readonly created: number;
  readonly expires: number;
}

/**
 * The verdict on a directory's response signatures.
 *
 * @example
 * ```ts
 * const { bound, failures } = await verifyDirectorySignatures(input);
 * for (const f of failures) console.log(f.label, f.code); // e.g. "binding", "signature_expired"
 * ```
 */
export interface DirectorySignatureCheck {
  /** Keys (by thumbprint) that have at least one valid binding signature, with the one that expires last. */
  readonly bound: ReadonlyMap<string, DirectoryBinding>;
  /** Signatures that failed, with the core's reason (none when the response is simply unsigned). */
  readonly failures: ReadonlyArray<{
    readonly label: string;
    readonly code: SignatureErrorCode;
    readonly message: string;
  }>;
}

/**
 * Verifies the directory response signatures of a fetched set. A signature counts only when it has
 * `tag="http-message-signatures-directory"`, covers `"@authority";req` and `content-digest`, carries `created`,
 * `expires` and `keyid`, is not created in the future nor expired (within `clockSkew`), the `Content-Digest`
 * matches the body, and it verifies with the key of the set whose thumbprint is its `keyid` (keys from
 * anywhere else are never consulted). Never throws for bad input: an unsigned or garbled response just binds no
 * key.
 *
 * @example
 * ```ts
 * const check = await verifyDirectorySignatures({ url, headers: fetched.headers, body: fetched.bytes, keySet });
 * check.bound.has(thumbprint); // true when that key signed this response for this authority
 * ```
 */
export async function verifyDirectorySignatures(input: DirectoryResponseInput): Promise<DirectorySignatureCheck> {
  const now = input.now ?? Math.floor(Date.now() / 1000);
  const message: HttpResponseMessage = {
    kind: "response",
    status: 200,
    headers: input.headers,
    body: input.body,
    request: { kind: "request", method: "GET", targetUri: input.url, headers: [] },
  };
  const bound = new Map<string, DirectoryBinding>();
  const failures: Array<{ label: string; code: SignatureErrorCode; message: string }> = [];
  let outcomes: Awaited<ReturnType<typeof verifySignatures>>;
  try {
    outcomes = await verifySignatures(message, {
      keys: ({ keyid }) => (keyid === undefined ? undefined : input.keySet.byThumbprint.get(keyid)?.key),
      tag: DIRECTORY_SIGNATURE_TAG,
      requiredComponents: ['"@authority";req', '"content-digest"'],
      requiredParameters: ["created", "expires", "keyid"],
      clockSkew: input.clockSkew ?? DEFAULT_DIRECTORY_CLOCK_SKEW_SECONDS,
      now: () => now,
    });
  } catch (error) {
    const code = (error as { code?: SignatureErrorCode }).code;
    if (code === undefined) throw error;
    // `no_signature` is an unsigned directory: nothing to report beyond "no key is bound".
    if (code !== "no_signature") failures.push({ label: "", code, message: (error as Error).message });
    return { bound, failures };
  }
  for (const outcome of outcomes) {
    if (!outcome.verified) {
      failures.push({ label: outcome.label, code: outcome.error.code, message: outcome.error.message });
      continue;
    }
    const { keyid, created, expires } = outcome.result.params;
    if (keyid === undefined || created === undefined || expires === undefined) continue; // required above
    const previous = bound.get(keyid);
    if (previous === undefined || previous.expires < expires) {
      bound.set(keyid, { label: outcome.label, created, expires });
    }
  }
  return { bound, failures };
}

/**
 * Applies the binding policy: every key gets its {@link KeySetKey.binding}; with `require`, keys without a
 * valid binding signature move to `refused` with `directory_signature_invalid`.
 *
 * @example
 * ```ts
 * const check = await verifyDirectorySignatures({ url, headers, body, keySet });
 * const usable = applyDirectoryBinding(keySet, check, { require: true });
 * ```
 */
export function applyDirectoryBinding(
  keySet: KeySet,
  check: DirectorySignatureCheck,
  options: { readonly require: boolean },
): KeySet {
  const keys: KeySetKey[] = [];
  const refused: RefusedKey[] = [...keySet.refused];
  const why =
    check.failures.length === 0
      ? "the directory response carries no binding signature by it"
      : `no valid binding signature by it (${check.failures.map((f) => `${f.label || "-"}: ${f.code}`).join(", ")})`;
  for (const key of keySet.keys) {
    const binding = check.bound.get(key.thumbprint);
    if (binding !== undefined) keys.push({ ...key, binding });
    else if (!options.require) keys.push(key);
    else {
      refused.push({
        index: key.index,
        thumbprint: key.thumbprint,
        kid: key.kid,
        code: "directory_signature_invalid",
        message: `key ${key.thumbprint}: ${why}`,
      });
    }
  }
  refused.sort((a, b) => a.index - b.index);
  return makeKeySet(keySet.kind, keys, refused);
}
