/**
 * `Content-Digest` (RFC 9530): the digest of the exact content bytes, as a Structured Field Dictionary.
 *
 * @module
 */
import { type Dictionary, isInnerList, serializeDictionary } from "structured-headers";
import { SignatureError } from "./errors.ts";
import { parseWholeDictionary } from "./structured-field.ts";

/** The digest algorithms of RFC 9530 that are not deprecated. */
export const DIGEST_ALGORITHMS = { "sha-256": "SHA-256", "sha-512": "SHA-512" } as const;

/** `sha-256` or `sha-512`. */
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

/**
 * The `Content-Digest` field value for a body.
 *
 * @example
 * ```ts
 * await createContentDigest(new TextEncoder().encode('{"hello": "world"}'), ["sha-512"]);
 * // "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
 * ```
 */
export async function createContentDigest(
  body: Uint8Array,
  algorithms: readonly DigestAlgorithm[] = ["sha-256"],
): Promise<string> {
  const members: Dictionary = new Map();
  for (const name of algorithms) {
    const hash = DIGEST_ALGORITHMS[name];
    if (hash === undefined) {
      throw new SignatureError("unsupported_digest_algorithm", `"${String(name)}" is not a digest algorithm`);
    }
    members.set(name, [await crypto.subtle.digest(hash, body), new Map()]);
  }
  return serializeDictionary(members);
}

/**
 * Checks a `Content-Digest` value against the body: every known algorithm in the field must match, and at
 * least one must be known (RFC 9530 §2, RFC 9421 §7.2.8).
 *
 * @returns the algorithms that were checked
 * @throws {SignatureError} `malformed_content_digest`, `unsupported_digest_algorithm` or `content_digest_mismatch`
 *
 * @example
 * ```ts
 * await verifyContentDigest(request.headers.get("content-digest") ?? "", body);
 * ```
 */
export async function verifyContentDigest(value: string, body: Uint8Array): Promise<DigestAlgorithm[]> {
  const { members } = parseWholeDictionary(value, "malformed_content_digest", "Content-Digest");
  const checked: DigestAlgorithm[] = [];
  for (const [name, member] of members) {
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer)) {
      throw new SignatureError("malformed_content_digest", `Content-Digest "${name}" must be a Byte Sequence`);
    }
    if (!Object.hasOwn(DIGEST_ALGORITHMS, name)) continue;
    const expected = new Uint8Array(await crypto.subtle.digest(DIGEST_ALGORITHMS[name as DigestAlgorithm], body));
    if (!equalBytes(expected, new Uint8Array(member[0]))) {
      throw new SignatureError("content_digest_mismatch", `the body does not match its ${name} Content-Digest`);
    }
    checked.push(name as DigestAlgorithm);
  }
  if (checked.length === 0) {
    throw new SignatureError(
      "unsupported_digest_algorithm",
      `Content-Digest has no supported algorithm (${Object.keys(DIGEST_ALGORITHMS).join(", ")})`,
    );
  }
  return checked;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
