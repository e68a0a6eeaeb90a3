/**
 * Every reason code of the core, triggered by the smallest input that should produce it. The last test checks
 * that the table covers SIGNATURE_ERROR_CODES exactly, so a new code cannot ship without a trigger.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  addSignature,
  componentValue,
  createContentDigest,
  encodeBase64,
  encodeBase64Url,
  type HttpRequestMessage,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  parseAcceptSignature,
  parseComponent,
  parseHttpMessage,
  parseSignatures,
  requestFromFetch,
  SIGNATURE_ERROR_CODES,
  SignatureError,
  type SignatureErrorCode,
  type SigningKey,
  type SignOptions,
  signMessage,
  type VerificationKey,
  type VerifyOptions,
  verifyContentDigest,
  verifyMessage,
} from "../../worker/rfc9421/index.ts";

const NOW = 1_700_000_000;
let signing: SigningKey;
let verifying: VerificationKey;
let publicJwk: Jwk;

beforeAll(async () => {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as Jwk;
  publicJwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as Jwk;
  signing = await importSigningKey({ ...privateJwk, kid: "k1" });
  verifying = await importVerificationKey({ ...publicJwk, kid: "k1" });
});

function request(headers: Array<[string, string]> = [], body?: string): HttpRequestMessage {
  return {
    kind: "request",
    method: "POST",
    targetUri: "https://example.com/p?a=1&b=2&b=3",
    headers: [["Host", "example.com"], ["Content-Type", "text/plain"], ...headers],
    body: body === undefined ? undefined : new TextEncoder().encode(body),
  };
}

/** Signs `message` and returns it with the signature attached. */
async function signed(message: HttpRequestMessage, options: Partial<SignOptions> = {}): Promise<HttpRequestMessage> {
  const result = await signMessage(message, {
    key: signing,
    components: ["@method", "@authority", "@path"],
    params: { created: NOW, expires: NOW + 300, keyid: "k1", tag: "t" },
    ...options,
  });
  return {
    ...message,
    headers: [
      ...(message.headers as Array<[string, string]>),
      ["Signature-Input", result.signatureInput],
      ["Signature", result.signature],
    ],
  };
}

function verify(message: HttpRequestMessage, options: Partial<VerifyOptions> = {}) {
  return verifyMessage(message, { keys: () => verifying, now: () => NOW, ...options });
}

/** The code of whatever `fn` throws or rejects with, or of the per-label errors it returns. */
async function codeOf(fn: () => unknown): Promise<SignatureErrorCode | undefined> {
  try {
    const result = await fn();
    if (Array.isArray(result)) {
      const error = result.find((e) => e instanceof SignatureError);
      if (error) return (error as SignatureError).code;
    }
  } catch (err) {
    if (err instanceof SignatureError) return err.code;
    throw err;
  }
  return undefined;
}

const sigFields = (signatureInput: string | undefined, signature: string | undefined) => () =>
  parseSignatures({ signatureInput, signature }, "request");

/** Little-endian 32 bytes of a field element, for hand-made Ed25519 encodings. */
function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
const okp = (bytes: Uint8Array): Jwk => ({ kty: "OKP", crv: "Ed25519", x: encodeBase64Url(bytes) });
const rsa1024: Jwk = {
  kty: "RSA",
  alg: "PS512",
  e: "AQAB",
  n: encodeBase64Url(new Uint8Array(128).fill(0xc5)),
};

const triggers: Record<SignatureErrorCode, () => unknown> = {
  malformed_signature_input: sigFields("sig1=(", "sig1=:AAAA:"),
  malformed_signature: sigFields('sig1=("@method");created=1', 'sig1="not bytes"'),
  malformed_accept_signature: () => parseAcceptSignature('sig1="@method"'),
  malformed_content_digest: () => verifyContentDigest("sha-256=not-bytes", new Uint8Array()),
  duplicate_label: sigFields('sig1=("@method"), sig1=("@path")', "sig1=:AAAA:"),
  duplicate_parameter: sigFields('sig1=("@method");created=1;created=2', "sig1=:AAAA:"),
  unsupported_structured_type: sigFields('sig1=("@method");keyid=%"k"', "sig1=:AAAA:"),
  label_mismatch: sigFields('sig1=("@method")', "sig2=:AAAA:"),
  missing_signature_input: sigFields(undefined, "sig1=:AAAA:"),
  too_many_members: sigFields(
    Array.from({ length: 65 }, (_, i) => `s${i}=("@method")`).join(", "),
    Array.from({ length: 65 }, (_, i) => `s${i}=:AAAA:`).join(", "),
  ),
  invalid_component: () => parseComponent('"Content-Type"'),
  duplicate_component: sigFields('sig1=("@method" "@method")', "sig1=:AAAA:"),
  unknown_component: () => parseComponent('"@fragment"'),
  unknown_component_parameter: () => parseComponent('"content-type";xyz'),
  incompatible_component_parameters: () => parseComponent('"example-header";bs;sf'),
  component_not_applicable: () => parseComponent('"@status"', "request"),
  missing_field: () => componentValue(request(), parseComponent('"x-missing"')),
  missing_trailer: () => componentValue(request(), parseComponent('"expires";tr')),
  missing_dictionary_member: () =>
    componentValue(request([["Example-Dict", "a=1, b=2"]]), parseComponent('"example-dict";key="c"')),
  invalid_structured_field: () =>
    componentValue(request([["Example-Dict", "a=(("]]), parseComponent('"example-dict";key="a"')),
  missing_query_param: () => componentValue(request(), parseComponent('"@query-param";name="z"')),
  repeated_query_param: () => componentValue(request(), parseComponent('"@query-param";name="b"')),
  request_target_unavailable: () =>
    componentValue(requestFromFetch(new Request("https://example.com/")), parseComponent("@request-target")),
  invalid_target_uri: () => componentValue({ ...request(), targetUri: "/relative/only" }, parseComponent("@authority")),
  non_ascii_base: () => componentValue(request([["X-Name", "caf\u00e9"]]), parseComponent('"x-name"')),
  invalid_signature_parameter: sigFields('sig1=("@method");created="1"', "sig1=:AAAA:"),
  no_signature: () => verify(request()),
  label_not_found: async () => verify(await signed(request()), { label: "other" }),
  missing_required_component: async () => verify(await signed(request()), { requiredComponents: ["@query"] }),
  missing_required_parameter: async () => verify(await signed(request()), { requiredParameters: ["nonce"] }),
  tag_mismatch: async () => verify(await signed(request()), { tag: "web-bot-auth" }),
  signature_expired: async () => verify(await signed(request()), { now: () => NOW + 301 + 60 }),
  created_in_future: async () => verify(await signed(request()), { now: () => NOW - 61 }),
  signature_too_old: async () => verify(await signed(request()), { maxAge: 10, now: () => NOW + 71 }),
  validity_too_long: async () => verify(await signed(request()), { maxValidity: 60 }),
  invalid_validity: async () =>
    verify(
      await signed(request(), { params: { created: NOW, keyid: "k1" } }).then(
        withParams(`;created=${NOW};expires=${NOW}`),
      ),
    ),
  unknown_key: async () => verify(await signed(request()), { keys: () => undefined }),
  invalid_key: () => importVerificationKey({ kty: "OKP", crv: "Ed25519" }),
  weak_key: () => importVerificationKey(okp(le32(1n))),
  unsupported_algorithm: () => importVerificationKey({ kty: "RSA", n: rsa1024.n, e: "AQAB" }),
  algorithm_not_allowed: async () => verify(await signed(request()), { algorithms: ["rsa-pss-sha512"] }),
  algorithm_mismatch: () => importVerificationKey(publicJwk, { algorithm: "ecdsa-p256-sha256" }),
  invalid_signature_length: async () => verify(withSignature(await signed(request()), new Uint8Array(63))),
  invalid_signature: async () => verify(withSignature(await signed(request()), new Uint8Array(64))),
  content_digest_mismatch: async () => {
    const digest = await createContentDigest(new TextEncoder().encode("original"));
    return verifyContentDigest(digest, new TextEncoder().encode("changed"));
  },
  unsupported_digest_algorithm: () => verifyContentDigest("md5=:AAAA:", new Uint8Array()),
  missing_body: async () => {
    const message = request([["Content-Digest", await createContentDigest(new Uint8Array())]]);
    return verify(await signed(message, { components: ["@authority", "content-digest"] }));
  },
  invalid_signing_input: () => signMessage(request(), { key: signing, components: ["@method"], label: "Sig1" }),
  malformed_http_message: () => parseHttpMessage("not an HTTP message"),
};

/** Replaces the parameters after the inner list of the only Signature-Input member. */
function withParams(params: string) {
  return (message: HttpRequestMessage): HttpRequestMessage => ({
    ...message,
    headers: (message.headers as Array<[string, string]>).map(([n, v]) =>
      n === "Signature-Input" ? [n, v.replace(/\);.*$/, `)${params}`)] : [n, v],
    ),
  });
}

function withSignature(message: HttpRequestMessage, bytes: Uint8Array): HttpRequestMessage {
  return {
    ...message,
    headers: (message.headers as Array<[string, string]>).map(([n, v]) =>
      n === "Signature" ? [n, v.replace(/=:.*:$/, `=:${encodeBase64(bytes)}:`)] : [n, v],
    ),
  };
}

describe("every SignatureErrorCode has a trigger", () => {
  it.each(Object.entries(triggers))("%s", async (code, trigger) => {
    expect(await codeOf(trigger)).toBe(code);
  });

  it("the table covers exactly the exported codes", () => {
    expect(Object.keys(triggers).sort()).toEqual([...SIGNATURE_ERROR_CODES].sort());
  });

  it.each([
    ["a stray Signature member", 'sig1=("@method");created=1', "sig1=:AAAA:, sig2=:AAAA:"],
    ["a stray Signature-Input member", 'sig1=("@method");created=1, sig2=("@path");created=1', "sig1=:AAAA:"],
    ["Signature-Input without Signature", 'sig1=("@method");created=1', undefined],
  ])("label_mismatch refuses both fields as a whole for %s, beside a good pair", (_what, input, signature) => {
    expect(() => parseSignatures({ signatureInput: input, signature }, "request")).toThrow(
      expect.objectContaining({ code: "label_mismatch" }),
    );
  });

  it("a stray Signature member beside a valid signature makes verifyMessage refuse the message", async () => {
    const message = await signed(request());
    const headers = (message.headers as Array<[string, string]>).map(([n, v]): [string, string] =>
      n === "Signature" ? [n, `${v}, stray=:AAAA:`] : [n, v],
    );
    await expect(verify(message)).resolves.toMatchObject({ label: "sig1" });
    await expect(verify({ ...message, headers })).rejects.toMatchObject({ code: "label_mismatch" });
  });

  it("the non-canonical Ed25519 encoding y = p + 4 is refused even though ZIP-215 would decode it", async () => {
    const p = 2n ** 255n - 19n;
    await expect(importVerificationKey(okp(le32(p + 4n)))).rejects.toMatchObject({ code: "invalid_key" });
  });

  it("RSA keys under 2048 bits are weak", async () => {
    await expect(importVerificationKey(rsa1024)).rejects.toMatchObject({ code: "weak_key" });
  });

  it("a verified request still verifies after addSignature adds a second signature", async () => {
    const message = await signed(request());
    const headers = new Headers(message.headers as Array<[string, string]>);
    addSignature(
      headers,
      await signMessage(message, { key: signing, components: ["@path"], label: "sig2", now: () => NOW }),
    );
    const both = { ...message, headers };
    await expect(verify(both, { label: "sig1" })).resolves.toMatchObject({ label: "sig1" });
    await expect(verify(both, { label: "sig2" })).resolves.toMatchObject({ label: "sig2" });
  });
});
