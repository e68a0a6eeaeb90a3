/**
 * A signed HTTP Message Signatures directory (draft-ietf-webbotauth-httpsig-protocol, "Key Directory" and
 * "Validating the Domain Binding"): the JWK Set an agent publishes at
 * `/.well-known/http-message-signatures-directory`, with one response signature per key.
 *
 * @module
 */
import {
  createContentDigest,
  type HttpResponseMessage,
  importSigningKey,
  type Jwk,
  jwkThumbprint,
  publicJwkOf,
  signMessage,
} from "../worker/rfc9421/index.ts";

/** The well-known path of a key directory. */
export const DIRECTORY_PATH = "/.well-known/http-message-signatures-directory";
/** The media type a directory is served with. */
export const DIRECTORY_MEDIA_TYPE = "application/http-message-signatures-directory+json";
/** The `tag` of directory response signatures. */
export const DIRECTORY_SIGNATURE_TAG = "http-message-signatures-directory";

/** One key of the directory. */
export interface DirectoryKey {
  /**
   * The key. With its private part it also signs the directory response; a public-only key (one being retired
   * whose private half is gone) is listed without a signature.
   */
  readonly jwk: Jwk;
  /**
   * Unix seconds from which the key is no longer listed (key rotation). The directory's signatures expire and its
   * `Cache-Control: max-age` ends no later than this, so no copy signed or cached for later lists the key then.
   */
  readonly exp?: number | undefined;
  /** Unix seconds from which the key is in use; a key not yet valid is listed (pre-published) but does not sign. */
  readonly nbf?: number | undefined;
}

/** Options of {@link buildDirectory}. */
export interface BuildDirectoryOptions {
  readonly keys: readonly DirectoryKey[];
  /** The authority clients fetch the directory from (`agent.example`); the signatures cover it. */
  readonly authority: string;
  /** Current time in Unix seconds. */
  readonly now?: number | undefined;
  /** `Cache-Control: max-age` in seconds. Default 3600. */
  readonly maxAge?: number | undefined;
  /** `created` of the signatures. Default `now`. */
  readonly created?: number | undefined;
  /** `expires` of the signatures. Default `created` + one day; never later than the earliest `exp` of a listed key. */
  readonly expires?: number | undefined;
}

/** A directory response, ready to serve. */
export interface DirectoryResponse {
  /** The exact body bytes as text; the Content-Digest is over exactly this. */
  readonly body: string;
  /** Response headers in the order they should be sent. */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** The thumbprints of the listed keys, in order. */
  readonly keyids: readonly string[];
  /**
   * The first second (Unix) at which this response must no longer be served: the earliest `exp` of a listed key
   * or the signatures' `expires`, whichever comes first. `undefined` when neither bounds it.
   */
  readonly validUntil: number | undefined;
  /**
   * The first second at which a rebuild would produce a different directory: {@link validUntil}, or an earlier
   * `nbf` from which a listed private key starts signing. `undefined` when nothing is scheduled.
   */
  readonly nextChange: number | undefined;
}

/**
 * Builds the directory body and its headers: `Content-Type`, `Cache-Control`, `Content-Digest`, and one signature
 * per current private key covering `"@authority";req` and `content-digest` with `created`, `expires`, `keyid`
 * and `tag="http-message-signatures-directory"`. Listed keys carry `kid` = thumbprint, `use: "sig"` and never a
 * private member; keys whose `exp` has come are left out, and the signatures' `expires` and the `max-age` are cut
 * to the earliest `exp` of the listed keys, so neither a signature nor a cache can vouch for a key past its `exp`.
 *
 * @throws {TypeError} for an empty key set, a key listed twice, or bad times (an `exp`/`nbf` that is not whole
 *   Unix seconds)
 *
 * @example
 * ```ts
 * const { body, headers } = await buildDirectory({ keys: [{ jwk: privateJwk }], authority: "agent.example" });
 * return new Response(body, { headers });
 * ```
 */
export async function buildDirectory(options: BuildDirectoryOptions): Promise<DirectoryResponse> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const created = options.created ?? now;
  const expires = options.expires ?? created + 86_400;
  const maxAge = options.maxAge ?? 3600;
  if (!(Number.isSafeInteger(maxAge) && maxAge >= 0)) throw new TypeError("maxAge must be a whole number >= 0");
  if (!(expires > created)) throw new TypeError("expires must be later than created");
  if (!/^[a-z0-9.\-[\]:]+$/i.test(options.authority)) {
    throw new TypeError(`authority must be a host[:port], got "${options.authority}"`);
  }
  for (const key of options.keys) {
    for (const name of ["exp", "nbf"] as const) {
      const value = key[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0 && value < 1e11)) {
        throw new TypeError(`a key's ${name} must be whole Unix seconds, got ${String(value)}`);
      }
    }
  }
  const live = options.keys.filter((k) => k.exp === undefined || k.exp > now);
  if (live.length === 0) throw new TypeError("the directory needs at least one key that has not expired");
  const earliestExp = earliest(live.map((k) => k.exp));
  const signatureExpires = Math.min(expires, earliestExp ?? Number.POSITIVE_INFINITY);
  if (!(signatureExpires > created)) throw new TypeError("a listed key expires before the signatures are created");

  const listed: Record<string, unknown>[] = [];
  const keyids: string[] = [];
  for (const entry of live) {
    const publicJwk = publicJwkOf(entry.jwk);
    const thumbprint = await jwkThumbprint(publicJwk);
    if (keyids.includes(thumbprint)) throw new TypeError(`the key ${thumbprint} is listed twice`);
    keyids.push(thumbprint);
    listed.push(directoryEntry(publicJwk, thumbprint, entry));
  }
  const signers = live.filter((k) => hasPrivatePart(k.jwk) && (k.nbf === undefined || k.nbf <= now));
  const validUntil = signers.length > 0 ? signatureExpires : earliestExp;
  const startsSigning = earliest(
    live.map((k) => (hasPrivatePart(k.jwk) && k.nbf !== undefined && k.nbf > now ? k.nbf : undefined)),
  );
  const body = JSON.stringify({ keys: listed });
  const bytes = new TextEncoder().encode(body);
  const headers: Array<[string, string]> = [
    ["Content-Type", DIRECTORY_MEDIA_TYPE],
    ["Cache-Control", `max-age=${cappedMaxAge(maxAge, validUntil, now)}`],
    ["Content-Digest", await createContentDigest(bytes, ["sha-256"])],
  ];
  const message: HttpResponseMessage = {
    kind: "response",
    status: 200,
    headers,
    body: bytes,
    request: {
      kind: "request",
      method: "GET",
      targetUri: `https://${options.authority}${DIRECTORY_PATH}`,
      headers: [],
    },
  };
  const inputs: string[] = [];
  const signatures: string[] = [];
  for (const [i, entry] of signers.entries()) {
    const keyid = keyids[live.indexOf(entry)] as string;
    const key = await importSigningKey(entry.jwk, { keyid });
    const signed = await signMessage(message, {
      key,
      label: i === 0 ? "binding" : `binding${i}`,
      components: ['"@authority";req', '"content-digest"'],
      params: { created, expires: signatureExpires, keyid, tag: DIRECTORY_SIGNATURE_TAG },
    });
    inputs.push(signed.signatureInput);
    signatures.push(signed.signature);
  }
  if (inputs.length > 0) {
    headers.push(["Signature-Input", inputs.join(", ")], ["Signature", signatures.join(", ")]);
  }
  return { body, headers, keyids, validUntil, nextChange: earliest([validUntil, startsSigning]) };
}

/**
 * A `max-age` that ends no later than `validUntil`: what a response built (or served) at `now` may be cached for.
 *
 * @example
 * ```ts
 * cappedMaxAge(3600, 1_800_000_600, 1_800_000_000); // 600
 * ```
 */
export function cappedMaxAge(maxAge: number, validUntil: number | undefined, now: number): number {
  return validUntil === undefined ? maxAge : Math.max(0, Math.min(maxAge, validUntil - now));
}

/** The smallest defined value, or `undefined`. */
function earliest(values: ReadonlyArray<number | undefined>): number | undefined {
  let out: number | undefined;
  for (const v of values) if (v !== undefined && (out === undefined || v < out)) out = v;
  return out;
}

/**
 * The listed form of a key: `kty`, `crv`, `kid` first (as the draft's examples), then the key, `use`, times. At
 * the well-known location `kid` must be the thumbprint, so whatever `kid` the input had is replaced.
 */
function directoryEntry(publicJwk: Jwk, thumbprint: string, entry: DirectoryKey): Record<string, unknown> {
  const out: Record<string, unknown> = { kty: publicJwk.kty };
  if (publicJwk.crv !== undefined) out.crv = publicJwk.crv;
  out.kid = thumbprint;
  for (const [name, value] of Object.entries(publicJwk)) {
    if (["kty", "crv", "kid", "use", "key_ops", "ext", "exp", "nbf"].includes(name)) continue;
    out[name] = value;
  }
  out.use = "sig";
  if (entry.nbf !== undefined) out.nbf = entry.nbf;
  if (entry.exp !== undefined) out.exp = entry.exp;
  return out;
}

function hasPrivatePart(jwk: Jwk): boolean {
  return jwk.d !== undefined;
}
