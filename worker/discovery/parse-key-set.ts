/**
 * Parsing and vetting a fetched JWK Set (RFC 7517 §5) into imported verification keys, indexed by their
 * RFC 7638 thumbprint. What spoils the whole set (private key material, too many keys, not a JWK Set) refuses
 * it; what spoils one key (weak, malformed, unsupported, a `kid` that lies, a published test key) skips that key
 * and records why, so a lookup of that key can say so. A key's `nbf` and `exp` are kept and judged at lookup time,
 * so a key set held in a cache stops yielding a key from the moment it expires.
 *
 * @module
 */
import {
  importVerificationKey,
  isRfc9421TestKey,
  isSignatureError,
  type Jwk,
  jwkThumbprint,
  PRIVATE_JWK_MEMBERS,
  privateMembersOf,
  type VerificationKey,
} from "../rfc9421/index.ts";
import type { AgentReference, DiscoveryErrorCode } from "./key-source.ts";

/** Default largest number of keys in one set. */
export const DEFAULT_MAX_KEYS = 32;

/** The RFC 9421 test key list lives in the core; re-exported here, where key sets are vetted against it. */
export { RFC9421_TEST_KEY_THUMBPRINTS } from "../rfc9421/index.ts";

/**
 * Options of {@link parseKeySet}.
 *
 * @example
 * ```ts
 * await parseKeySet(text, { kind: "jwks", maxKeys: 8 });
 * ```
 */
export interface ParseKeySetOptions {
  /**
   * `directory` (the well-known location: a present `kid` must equal the thumbprint, lookups by thumbprint only)
   * or `jwks` (operator-chosen `kid`s, lookups by thumbprint and then by `kid`). Default `directory`.
   */
  readonly kind?: AgentReference["kind"] | undefined;
  /** Largest number of keys; a longer list refuses the set. Default {@link DEFAULT_MAX_KEYS}. */
  readonly maxKeys?: number | undefined;
  /** Accept the RFC 9421 test keys (tests only). Default `false`: they are refused with `test_key_refused`. */
  readonly allowTestKeys?: boolean | undefined;
}

/** A usable key of a set. */
export interface KeySetKey {
  /** Its position in the listed `keys`. */
  readonly index: number;
  /** The RFC 7638 SHA-256 thumbprint: the Web Bot Auth `keyid`. */
  readonly thumbprint: string;
  /** The `kid` member as listed, if it was a string. */
  readonly kid: string | undefined;
  readonly algorithm: VerificationKey["algorithm"];
  /** The imported key, bound to {@link algorithm}; its `keyid` is the thumbprint. */
  readonly key: VerificationKey;
  /** Unix seconds from which the key may be used (its `nbf`, read as {@link jwkTime} reads it), if listed. */
  readonly nbf?: number | undefined;
  /** Unix seconds from which the key must no longer be used (its `exp`, read by {@link jwkTime}), if listed. */
  readonly exp?: number | undefined;
  /**
   * The directory response signature that binds this key to the directory's authority, when one was checked
   * and verified (see `directory-signature.ts`).
   */
  readonly binding?: { readonly label: string; readonly created: number; readonly expires: number } | undefined;
}

/**
 * The clock a lookup judges `nbf` and `exp` by.
 *
 * @example
 * ```ts
 * findInKeySet(keySet, keyid, false, { now: Math.floor(Date.now() / 1000), clockSkewSeconds: 60 });
 * ```
 */
export interface KeySetClock {
  /** Now, Unix seconds. Default the system clock. */
  readonly now?: number | undefined;
  /** Tolerance either side of `nbf` and `exp`, seconds. Default 0. */
  readonly clockSkewSeconds?: number | undefined;
}

/** A listed key that is not usable, and why. */
export interface RefusedKey {
  /** Its position in the listed `keys`. */
  readonly index: number;
  /** Its thumbprint, when one could be computed. */
  readonly thumbprint: string | undefined;
  /** Its `kid`, when it had a string one. */
  readonly kid: string | undefined;
  /** `test_key_refused` for a published test key, `directory_signature_invalid` for an unbound key when
   * binding is required, `directory_invalid` for everything else. */
  readonly code: DiscoveryErrorCode;
  readonly message: string;
}

/**
 * A vetted key set.
 *
 * @example
 * ```ts
 * const parsed = await parseKeySet(text);
 * if (parsed.ok) for (const key of parsed.keySet.keys) console.log(key.thumbprint, key.algorithm);
 * ```
 */
export interface KeySet {
  readonly kind: AgentReference["kind"];
  /** Usable keys in listed order. */
  readonly keys: readonly KeySetKey[];
  /** Listed keys that were skipped. */
  readonly refused: readonly RefusedKey[];
  /** Usable keys by thumbprint. */
  readonly byThumbprint: ReadonlyMap<string, KeySetKey>;
  /** Usable keys by `kid`, for `jwks` sets (a `kid` shared by two different keys is left out). */
  readonly byKid: ReadonlyMap<string, KeySetKey>;
}

/** The answer of {@link parseKeySet}. */
export type ParseKeySetResult =
  | { readonly ok: true; readonly keySet: KeySet }
  | {
      readonly ok: false;
      readonly code: Extract<DiscoveryErrorCode, "directory_rejected" | "directory_invalid">;
      readonly message: string;
    };

/** What {@link findInKeySet} found. */
export type KeySetMatch =
  | { readonly found: true; readonly key: KeySetKey }
  | { readonly found: false; readonly refused?: RefusedKey | undefined };

/**
 * Parses and vets a JWK Set. Rules, in order:
 *
 * 1. The text must be JSON (else `directory_rejected`) holding an object with a `keys` array (else
 *    `directory_invalid`). Unknown members, at the top and in keys, are ignored.
 * 2. More than `maxKeys` entries, or any entry with a private member ({@link PRIVATE_JWK_MEMBERS}), refuses the
 *    whole set with `directory_invalid`: a publisher that leaks private keys cannot be trusted for the others.
 * 3. Each entry is then vetted alone and skipped (recorded in `refused`) when it is not an object, has no
 *    thumbprint, cannot be imported (unsupported, malformed, or weak: short RSA, small-order Ed25519), has a
 *    non-string `kid`, or, for `directory`, has a `kid` other than its thumbprint. A published RFC 9421 test key
 *    is skipped with `test_key_refused` unless `allowTestKeys`.
 * 4. A thumbprint listed twice: identical entries collapse to one; entries that differ in any member (say, one
 *    key under two `alg`s) make the thumbprint ambiguous, and every entry with it is refused.
 * 5. For `jwks`, a `kid` carried by two different keys is left out of the `kid` index (those keys stay
 *    reachable by thumbprint).
 * 6. A key's `nbf` and `exp`, when present, must be numbers (else the key is skipped with `directory_invalid`);
 *    they are read by {@link jwkTime} (seconds, or milliseconds for values of 10^11 and more, as some publishers
 *    write them) and judged by {@link findInKeySet} at lookup time: a key is not found before its `nbf` or from
 *    its `exp` on.
 *
 * Keys are imported eagerly, so every lookup afterwards is a map read.
 *
 * @example
 * ```ts
 * const parsed = await parseKeySet(text, { kind: "directory" });
 * if (parsed.ok) {
 *   const match = findInKeySet(parsed.keySet, keyid);
 *   if (match.found) await match.key.key.verify(base, signature);
 * }
 * ```
 */
export async function parseKeySet(
  input: string | unknown,
  options: ParseKeySetOptions = {},
): Promise<ParseKeySetResult> {
  const kind = options.kind ?? "directory";
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  if (!(Number.isSafeInteger(maxKeys) && maxKeys > 0)) {
    throw new TypeError("parseKeySet: maxKeys must be an integer > 0");
  }
  let document: unknown = input;
  if (typeof input === "string") {
    try {
      document = JSON.parse(input);
    } catch {
      // The parser's message quotes the document: third-party bytes.
      return { ok: false, code: "directory_rejected", message: "the key set is not JSON" };
    }
  }
  if (!isObject(document) || !Array.isArray(document.keys)) {
    return {
      ok: false,
      code: "directory_invalid",
      message: 'the key set is not a JWK Set (an object with a "keys" array)',
    };
  }
  const entries: unknown[] = document.keys;
  if (entries.length > maxKeys) {
    return {
      ok: false,
      code: "directory_invalid",
      message: `the key set lists ${entries.length} keys; at most ${maxKeys} are accepted`,
    };
  }
  for (const [index, entry] of entries.entries()) {
    const leaked = isObject(entry) ? privateMembersOf(entry)[0] : undefined;
    if (leaked !== undefined) {
      return {
        ok: false,
        code: "directory_invalid",
        message: `key ${index} of the set carries the private member "${leaked}"; the whole set is refused`,
      };
    }
  }

  const refused: RefusedKey[] = [];
  const candidates: Array<{ index: number; entry: KeySetKey; listed: unknown }> = [];
  for (const [index, listed] of entries.entries()) {
    const vetted = await vetKey(listed, index, kind, options.allowTestKeys === true);
    if ("code" in vetted) refused.push(vetted);
    else candidates.push({ index, entry: vetted, listed });
  }

  const groups = new Map<string, typeof candidates>();
  for (const candidate of candidates) {
    const group = groups.get(candidate.entry.thumbprint);
    if (group === undefined) groups.set(candidate.entry.thumbprint, [candidate]);
    else group.push(candidate);
  }
  const keys: KeySetKey[] = [];
  for (const [thumbprint, group] of groups) {
    const first = group[0] as (typeof group)[number];
    if (group.length === 1 || sameListing(group.map((c) => c.listed))) {
      keys.push(first.entry);
      continue;
    }
    for (const c of group) {
      refused.push({
        index: c.index,
        thumbprint,
        kid: c.entry.kid,
        code: "directory_invalid",
        message: `the key ${thumbprint} is listed ${group.length} times with different members; it is ambiguous and refused`,
      });
    }
  }
  keys.sort((a, b) => a.index - b.index);
  refused.sort((a, b) => a.index - b.index);
  return { ok: true, keySet: makeKeySet(kind, keys, refused) };
}

/**
 * Builds a {@link KeySet} from vetted keys (indexes included). Used by the parser and by policies that move
 * keys from usable to refused.
 *
 * @example
 * ```ts
 * const narrowed = makeKeySet(set.kind, set.keys.filter((k) => k.binding), set.refused);
 * ```
 */
export function makeKeySet(
  kind: AgentReference["kind"],
  keys: readonly KeySetKey[],
  refused: readonly RefusedKey[],
): KeySet {
  const byThumbprint = new Map<string, KeySetKey>();
  for (const key of keys) byThumbprint.set(key.thumbprint, key);
  const byKid = new Map<string, KeySetKey>();
  if (kind === "jwks") {
    const ambiguous = new Set<string>();
    for (const key of keys) {
      if (key.kid === undefined) continue;
      if (byKid.has(key.kid)) ambiguous.add(key.kid);
      else byKid.set(key.kid, key);
    }
    for (const kid of ambiguous) byKid.delete(kid);
  }
  return { kind, keys, refused, byThumbprint, byKid };
}

/**
 * Looks a `keyid` up in a set: by thumbprint, then (for `jwks` sets, unless `matchKid` says otherwise) by `kid`.
 * When no usable key matches but a refused one does, the refusal is returned so the caller can report why. A key
 * before its `nbf` or from its `exp` on (by `clock`, with its skew) is refused with `key_not_found`.
 *
 * @example
 * ```ts
 * const match = findInKeySet(keySet, "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U");
 * if (!match.found && match.refused) console.log(match.refused.code); // "test_key_refused"
 * ```
 */
export function findInKeySet(
  keySet: KeySet,
  keyid: string,
  matchKid: boolean = keySet.kind === "jwks",
  clock: KeySetClock = {},
): KeySetMatch {
  const key = keySet.byThumbprint.get(keyid) ?? (matchKid ? keySet.byKid.get(keyid) : undefined);
  if (key !== undefined) {
    const outOfTime = keyOutOfTime(key, clock);
    return outOfTime === undefined ? { found: true, key } : { found: false, refused: outOfTime };
  }
  const refused =
    keySet.refused.find((r) => r.thumbprint === keyid) ??
    (matchKid ? keySet.refused.find((r) => r.kid === keyid) : undefined);
  return { found: false, refused };
}

/**
 * Reads a JWK `nbf` or `exp` member as Unix seconds. JWK (RFC 7517) does not define them; directories in the wild
 * write seconds (OpenAI) or milliseconds (Cloudflare's example Worker), so a value of 10^11 or more (after the
 * year 5000 in seconds, 1973 in milliseconds) is read as milliseconds. `undefined` when absent; `null` when present
 * but not a finite number.
 *
 * @example
 * ```ts
 * jwkTime(1_715_385_600); // 1715385600
 * jwkTime(1_715_385_600_000); // 1715385600
 * jwkTime("never"); // null
 * ```
 */
export function jwkTime(value: unknown): number | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  return Math.floor(Math.abs(value) >= 1e11 ? value / 1000 : value);
}

/** Why a usable key cannot be used at the clock's time, or `undefined` when it can. */
function keyOutOfTime(key: KeySetKey, clock: KeySetClock): RefusedKey | undefined {
  if (key.nbf === undefined && key.exp === undefined) return undefined;
  const now = clock.now ?? Math.floor(Date.now() / 1000);
  const skew = clock.clockSkewSeconds ?? 0;
  const refuse = (message: string): RefusedKey => ({
    index: key.index,
    thumbprint: key.thumbprint,
    kid: key.kid,
    code: "key_not_found",
    message: `key ${key.index} (${key.thumbprint}): ${message}`,
  });
  if (key.exp !== undefined && now - skew >= key.exp) return refuse(`expired at ${key.exp} (its exp)`);
  if (key.nbf !== undefined && now + skew < key.nbf) return refuse(`not valid before ${key.nbf} (its nbf)`);
  return undefined;
}

async function vetKey(
  entry: unknown,
  index: number,
  kind: AgentReference["kind"],
  allowTestKeys: boolean,
): Promise<KeySetKey | RefusedKey> {
  const refuse = (message: string, thumbprint?: string, kid?: string, code: DiscoveryErrorCode = "directory_invalid") =>
    ({
      index,
      thumbprint,
      kid,
      code,
      message: `key ${index}${thumbprint ? ` (${thumbprint})` : ""}: ${message}`,
    }) as RefusedKey;
  if (!isObject(entry)) return refuse("is not a JSON object");
  const jwk = entry as Jwk;
  let thumbprint: string;
  try {
    thumbprint = await jwkThumbprint(jwk);
  } catch (error) {
    return refuse(`has no thumbprint: ${(error as Error).message}`);
  }
  if (jwk.kid !== undefined && typeof jwk.kid !== "string") {
    return refuse('has a "kid" that is not a string', thumbprint);
  }
  const kid = jwk.kid;
  if (kind === "directory" && kid !== undefined && kid !== thumbprint) {
    return refuse(
      `its kid "${truncate(kid, 100)}" is not its thumbprint, as the directory format requires`,
      thumbprint,
      kid,
    );
  }
  const nbf = jwkTime(entry.nbf);
  const exp = jwkTime(entry.exp);
  if (nbf === null || exp === null) {
    return refuse(`its ${nbf === null ? "nbf" : "exp"} is not a number of seconds`, thumbprint, kid);
  }
  if (!allowTestKeys && isRfc9421TestKey(thumbprint)) {
    return refuse("is a published RFC 9421 test key", thumbprint, kid, "test_key_refused");
  }
  let key: VerificationKey;
  try {
    key = await importVerificationKey(jwk, { keyid: thumbprint });
  } catch (error) {
    // Malformed members (a `key_ops` that is not an array, say) can surface as plain TypeErrors: all are data.
    const reason = isSignatureError(error) ? `${error.code}: ${error.message}` : String(error);
    return refuse(`cannot be used (${reason})`, thumbprint, kid);
  }
  return { index, thumbprint, kid, algorithm: key.algorithm, key, nbf, exp };
}

/** Whether listings are the same JSON value (member order aside). Absurdly deep values count as different. */
function sameListing(listings: readonly unknown[]): boolean {
  try {
    const first = canonicalJson(listings[0]);
    return listings.every((l) => canonicalJson(l) === first);
  } catch {
    return false;
  }
}

/** JSON with object members sorted, so two listings of one key compare equal whatever their member order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value)) {
    const names = Object.keys(value).sort();
    return `{${names.map((n) => `${JSON.stringify(n)}:${canonicalJson(value[n])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
