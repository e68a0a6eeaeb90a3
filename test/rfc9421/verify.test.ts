import { beforeAll, describe, expect, it } from "vitest";
import {
  addSignature,
  buildAcceptSignature,
  createContentDigest,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  parseAcceptSignature,
  requestFromFetch,
  responseFromFetch,
  type SigningKey,
  signMessage,
  type VerificationKey,
  verifyMessage,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";

const NOW = 1_750_000_000;
let signer: SigningKey;
let verifier: VerificationKey;
let other: SigningKey;

beforeAll(async () => {
  const make = async (kid: string) => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const priv = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as Jwk;
    const pub = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as Jwk;
    return {
      signing: await importSigningKey({ ...priv, kid }),
      verifying: await importVerificationKey({ ...pub, kid }),
    };
  };
  const a = await make("agent-key");
  signer = a.signing;
  verifier = a.verifying;
  other = (await make("other-key")).signing;
});

const keys = ({ keyid }: { keyid: string | undefined }) => (keyid === "agent-key" ? verifier : undefined);

async function signedFetch(init: RequestInit & { url?: string } = {}, components = ["@method", "@authority", "@path"]) {
  const request = new Request(init.url ?? "https://shop.example/cart?item=1", init);
  const signed = await signMessage(requestFromFetch(request), {
    key: signer,
    components,
    params: { created: NOW, expires: NOW + 60, keyid: "agent-key", tag: "demo" },
  });
  const headers = new Headers(request.headers);
  addSignature(headers, signed);
  return new Request(request, { headers });
}

describe("verifying Fetch requests", () => {
  it("verifies a signed Request as Workers deliver it", async () => {
    const request = await signedFetch();
    const result = await verifyMessage(requestFromFetch(request), { keys, now: () => NOW });
    expect(result).toMatchObject({ label: "sig1", keyid: "agent-key", algorithm: "ecdsa-p256-sha256" });
    expect(result.base).toContain('"@authority": shop.example');
  });

  it("checks a covered content-digest against the streamed body, and the body stays readable", async () => {
    const body = JSON.stringify({ order: 42 });
    const digest = await createContentDigest(new TextEncoder().encode(body), ["sha-256"]);
    const request = await signedFetch(
      { method: "POST", body, headers: { "content-digest": digest, "content-type": "application/json" } },
      ["@method", "@authority", "content-digest", "content-type"],
    );
    await expect(verifyMessage(requestFromFetch(request), { keys, now: () => NOW })).resolves.toMatchObject({
      label: "sig1",
    });
    expect(await request.text()).toBe(body);

    const swapped = new Request(request, { body: JSON.stringify({ order: 43 }) });
    await expect(verifyMessage(requestFromFetch(swapped), { keys, now: () => NOW })).rejects.toMatchObject({
      code: "content_digest_mismatch",
    });
  });

  it("derives @authority from the URL with the default port dropped and the host lowercased", async () => {
    const request = await signedFetch({ url: "https://Shop.Example:443/cart" });
    const moved = new Request("https://shop.example:8443/cart", request);
    await expect(verifyMessage(requestFromFetch(request), { keys, now: () => NOW })).resolves.toBeTruthy();
    await expect(verifyMessage(requestFromFetch(moved), { keys, now: () => NOW })).rejects.toMatchObject({
      code: "invalid_signature",
    });
  });
});

describe("several signatures on one message", () => {
  it("judges each label on its own and attributes only the ones that verified", async () => {
    const request = await signedFetch();
    const headers = new Headers(request.headers);
    addSignature(
      headers,
      await signMessage(requestFromFetch(request), {
        key: other,
        components: ["@authority"],
        params: { created: NOW, keyid: "other-key" },
      }),
    );
    const outcomes = await verifySignatures(requestFromFetch(new Request(request, { headers })), {
      keys,
      now: () => NOW,
    });
    expect(outcomes.map((o) => [o.label, o.verified])).toEqual([
      ["sig1", true],
      ["sig2", false],
    ]);
    const failed = outcomes[1];
    expect(failed && !failed.verified && failed.error.code).toBe("unknown_key");
  });

  it("selects by tag and by label", async () => {
    const message = requestFromFetch(await signedFetch());
    await expect(verifyMessage(message, { keys, now: () => NOW, tag: "demo" })).resolves.toMatchObject({
      label: "sig1",
    });
    await expect(verifyMessage(message, { keys, now: () => NOW, tag: "web-bot-auth" })).rejects.toMatchObject({
      code: "tag_mismatch",
    });
    await expect(verifyMessage(message, { keys, now: () => NOW, label: "sig9" })).rejects.toMatchObject({
      code: "label_not_found",
    });
  });

  it("accepts any one of a group of required components, with parameters compared", async () => {
    const message = requestFromFetch(await signedFetch());
    const options = { keys, now: () => NOW };
    await expect(
      verifyMessage(message, { ...options, requiredComponents: [["@target-uri", "@authority"], "@method"] }),
    ).resolves.toBeTruthy();
    await expect(verifyMessage(message, { ...options, requiredComponents: ['"@method";req'] })).rejects.toMatchObject({
      code: "missing_required_component",
    });
  });

  it("refuses an alg parameter that is not the key's algorithm before computing anything", async () => {
    const request = new Request("https://shop.example/");
    const signed = await signMessage(requestFromFetch(request), {
      key: signer,
      components: ["@authority"],
      params: { created: NOW, keyid: "agent-key", alg: "ecdsa-p256-sha256" },
    });
    const headers = new Headers();
    addSignature(headers, { ...signed, signatureInput: signed.signatureInput.replace("ecdsa-p256-sha256", "ed25519") });
    await expect(
      verifyMessage(requestFromFetch(new Request(request, { headers })), { keys, now: () => NOW }),
    ).rejects.toMatchObject({ code: "algorithm_mismatch" });
  });
});

describe("responses", () => {
  it("signs and verifies a response bound to its request with ;req", async () => {
    const request = requestFromFetch(new Request("https://api.example/items?id=7", { method: "DELETE" }));
    const response = new Response(null, { status: 204 });
    const message = responseFromFetch(response, request);
    const signed = await signMessage(message, {
      key: signer,
      components: ["@status", '"@method";req', '"@authority";req', '"@query-param";name="id";req'],
      params: { created: NOW, keyid: "agent-key" },
    });
    expect(signed.base).toBe(
      [
        '"@status": 204',
        '"@method";req: DELETE',
        '"@authority";req: api.example',
        '"@query-param";name="id";req: 7',
        `"@signature-params": ("@status" "@method";req "@authority";req "@query-param";name="id";req);created=${NOW};keyid="agent-key"`,
      ].join("\n"),
    );
    const headers = new Headers();
    addSignature(headers, signed);
    const delivered = responseFromFetch(new Response(null, { status: 204, headers }), request);
    await expect(verifyMessage(delivered, { keys, now: () => NOW })).resolves.toMatchObject({ label: "sig1" });
    const otherRequest = requestFromFetch(new Request("https://api.example/items?id=8", { method: "DELETE" }));
    await expect(
      verifyMessage({ ...delivered, request: otherRequest }, { keys, now: () => NOW }),
    ).rejects.toMatchObject({ code: "invalid_signature" });
  });
});

describe("Accept-Signature (RFC 9421 §5.1)", () => {
  it("builds what a verifier asks for, and parses it back", () => {
    const value = buildAcceptSignature([
      {
        label: "sig1",
        components: ["@authority", '"signature-agent";key="sig1"', "authorization"],
        params: { created: true, expires: true, tag: "web-bot-auth" },
      },
    ]);
    expect(value).toBe(
      'sig1=("@authority" "signature-agent";key="sig1" "authorization");created;expires;tag="web-bot-auth"',
    );
    expect(parseAcceptSignature(value)).toEqual([
      {
        label: "sig1",
        components: ['"@authority"', '"signature-agent";key="sig1"', '"authorization"'],
        params: { created: true, expires: true, tag: "web-bot-auth" },
      },
    ]);
  });

  it("refuses duplicate components", () => {
    expect(() => parseAcceptSignature('sig1=("@method" "@method")')).toThrow(
      expect.objectContaining({ code: "duplicate_component" }),
    );
  });
});
