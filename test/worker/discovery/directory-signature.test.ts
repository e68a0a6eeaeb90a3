import { describe, expect, it } from "vitest";
import { generateAgentKey } from "../../../agent/index.ts";
import { buildDirectory, DIRECTORY_PATH } from "../../../directory/index.ts";
import {
  applyDirectoryBinding,
  type KeySet,
  parseKeySet,
  verifyDirectorySignatures,
} from "../../../worker/discovery/index.ts";
import {
  createContentDigest,
  type HttpResponseMessage,
  importSigningKey,
  signMessage,
} from "../../../worker/rfc9421/index.ts";

const a = await generateAgentKey("ed25519");
const b = await generateAgentKey("ecdsa-p256-sha256");
const stranger = await generateAgentKey("ed25519");
const NOW = Math.floor(Date.now() / 1000);
const URL_OF = (authority: string) => `https://${authority}${DIRECTORY_PATH}`;

async function directory(options: Partial<Parameters<typeof buildDirectory>[0]> = {}) {
  const built = await buildDirectory({
    keys: [{ jwk: a.privateJwk }, { jwk: b.privateJwk }],
    authority: "agent.example",
    now: NOW,
    ...options,
  });
  const parsed = await parseKeySet(built.body);
  if (!parsed.ok) throw new Error(parsed.message);
  return { headers: built.headers, body: new TextEncoder().encode(built.body), keySet: parsed.keySet };
}

async function check(
  input: { headers: ReadonlyArray<readonly [string, string]>; body: Uint8Array; keySet: KeySet },
  url = URL_OF("agent.example"),
  now = NOW,
) {
  return verifyDirectorySignatures({ url, headers: input.headers, body: input.body, keySet: input.keySet, now });
}

/** A directory response re-signed by hand, for signatures buildDirectory would never produce. */
async function signedBy(
  signer: typeof a,
  components: string[],
  params: Record<string, string | number>,
  keys: (typeof a)[] = [a],
) {
  const body = JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
  const bytes = new TextEncoder().encode(body);
  const headers: Array<[string, string]> = [
    ["content-type", "application/http-message-signatures-directory+json"],
    ["content-digest", await createContentDigest(bytes)],
  ];
  const message: HttpResponseMessage = {
    kind: "response",
    status: 200,
    headers,
    body: bytes,
    request: { kind: "request", method: "GET", targetUri: URL_OF("agent.example"), headers: [] },
  };
  const signed = await signMessage(message, {
    key: await importSigningKey(signer.privateJwk, { keyid: signer.thumbprint }),
    components,
    params,
    label: "binding",
  });
  headers.push(["signature-input", signed.signatureInput], ["signature", signed.signature]);
  const parsed = await parseKeySet(body);
  if (!parsed.ok) throw new Error(parsed.message);
  return { headers, body: bytes, keySet: parsed.keySet };
}

const FULL = ['"@authority";req', '"content-digest"'];
const PARAMS = { created: NOW, expires: NOW + 3600, keyid: a.thumbprint, tag: "http-message-signatures-directory" };

describe("verifyDirectorySignatures", () => {
  it("binds every key that signed the response for the authority it was fetched from", async () => {
    const result = await check(await directory());
    expect([...result.bound.keys()].sort()).toEqual([a.thumbprint, b.thumbprint].sort());
    expect(result.bound.get(a.thumbprint)).toEqual({ label: "binding", created: NOW, expires: NOW + 86_400 });
    expect(result.failures).toEqual([]);
  });

  it("binds nothing when fetched from another authority", async () => {
    const result = await check(await directory(), URL_OF("mirror.example"));
    expect(result.bound.size).toBe(0);
    expect(result.failures.map((f) => f.code)).toEqual(["invalid_signature", "invalid_signature"]);
  });

  it("refuses signatures created in the future (beyond the skew)", async () => {
    const result = await check(await directory({ created: NOW + 3600, expires: NOW + 7200 }));
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toBe("created_in_future");
    const withinSkew = await check(await directory({ created: NOW + 30, expires: NOW + 7200 }));
    expect(withinSkew.bound.size).toBe(2);
  });

  it("refuses expired signatures", async () => {
    const result = await check(await directory({ created: NOW - 7200, expires: NOW - 3600 }));
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toBe("signature_expired");
    // The same response, judged at a time it was valid, binds.
    expect(
      (await check(await directory({ created: NOW - 7200, expires: NOW - 3600 }), undefined, NOW - 5000)).bound.size,
    ).toBe(2);
  });

  it("refuses a body that does not match Content-Digest", async () => {
    const signed = await directory();
    const body = new TextEncoder().encode(`${new TextDecoder().decode(signed.body)} `);
    const result = await check({ ...signed, body });
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toBe("content_digest_mismatch");
  });

  it("binds nothing, without failures, when the response is unsigned", async () => {
    const signed = await directory();
    const unsigned = signed.headers.filter(([n]) => !n.toLowerCase().startsWith("signature"));
    const result = await check({ ...signed, headers: unsigned });
    expect(result.bound.size).toBe(0);
    expect(result.failures).toEqual([]);
  });

  it("reports garbled signature fields without throwing", async () => {
    const signed = await directory();
    const garbled: Array<readonly [string, string]> = [
      ...signed.headers.filter(([n]) => !n.toLowerCase().startsWith("signature")),
      ["signature-input", "binding=(((("],
      ["signature", "binding=:AAAA:"],
    ];
    const result = await check({ ...signed, headers: garbled });
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toBe("malformed_signature_input");
  });

  it("needs content-digest covered (Cloudflare-style @authority-only signatures do not bind)", async () => {
    const result = await check(await signedBy(a, ['"@authority";req'], PARAMS));
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toBe("missing_required_component");
  });

  it("needs the req flag on @authority", async () => {
    const signed = await signedBy(a, FULL, PARAMS);
    const headers = signed.headers.map(([n, v]): [string, string] =>
      n === "signature-input" ? [n, v.replace('"@authority";req', '"@authority"')] : [n, v],
    );
    const result = await check({ ...signed, headers });
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toMatch(/missing_required_component|component_not_applicable/);
  });

  it("needs the directory tag, created, expires and keyid", async () => {
    expect((await check(await signedBy(a, FULL, { ...PARAMS, tag: "web-bot-auth" }))).failures[0]?.code).toBe(
      "tag_mismatch",
    );
    const { expires: _e, ...noExpires } = PARAMS;
    expect((await check(await signedBy(a, FULL, noExpires))).failures[0]?.code).toBe("missing_required_parameter");
    expect((await check(await signedBy(a, FULL, PARAMS))).bound.has(a.thumbprint)).toBe(true);
  });

  it("uses only keys of the set itself", async () => {
    const result = await check(await signedBy(stranger, FULL, { ...PARAMS, keyid: stranger.thumbprint }, [a]));
    expect(result.bound.size).toBe(0);
    expect(result.failures[0]?.code).toBe("unknown_key");
  });

  it("does not bind a key whose keyid another key's signature claims", async () => {
    // `a` signs but claims to be `b`: the signature is checked with b's key and fails.
    const result = await check(await signedBy(a, FULL, { ...PARAMS, keyid: b.thumbprint }, [a, b]));
    expect(result.bound.size).toBe(0);
  });
});

describe("applyDirectoryBinding", () => {
  it("with require, keeps only bound keys and refuses the others with directory_signature_invalid", async () => {
    const built = await buildDirectory({
      keys: [{ jwk: a.privateJwk }, { jwk: b.publicJwk }],
      authority: "agent.example",
      now: NOW,
    });
    const parsed = await parseKeySet(built.body);
    if (!parsed.ok) throw new Error(parsed.message);
    const result = await check({
      headers: built.headers,
      body: new TextEncoder().encode(built.body),
      keySet: parsed.keySet,
    });
    const required = applyDirectoryBinding(parsed.keySet, result, { require: true });
    expect(required.keys.map((k) => k.thumbprint)).toEqual([a.thumbprint]);
    expect(required.keys[0]?.binding?.expires).toBe(NOW + 86_400);
    expect(required.refused).toMatchObject([
      { index: 1, thumbprint: b.thumbprint, code: "directory_signature_invalid" },
    ]);
    const optional = applyDirectoryBinding(parsed.keySet, result, { require: false });
    expect(optional.keys.map((k) => [k.thumbprint, k.binding !== undefined])).toEqual([
      [a.thumbprint, true],
      [b.thumbprint, false],
    ]);
    expect(optional.refused).toEqual([]);
  });
});
