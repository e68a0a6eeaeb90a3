/**
 * Signet's attestation of forwarded requests (worker/identity/attestation.ts) judged by the origin helpers
 * (origin/), inside workerd.
 */
import fc from "fast-check";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../agent/generate-key.ts";
import {
  type ReplayCache,
  SIGNET_FAILURE_REASON_CODES,
  type SignetOriginEnv,
  type SignetOriginOptions,
  type SignetVerification,
  type SignetVerifyOptions,
  signetOrigin,
  verifySignetRequest,
} from "../../origin/index.ts";
import {
  ATTESTATION_TAG,
  type Attester,
  createAttester,
  SIGNET_IDENTITY_HEADERS,
} from "../../worker/identity/attestation.ts";
import { serializeVerifiedAgent, type VerifiedAgent } from "../../worker/identity/verified-agent.ts";
import {
  createContentDigest,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  parseSignatureInput,
  requestFromFetch,
  SignatureError,
  type SignatureInput,
  type SignatureParameterInput,
  signMessage,
  verifyMessage,
} from "../../worker/rfc9421/index.ts";

const URL_ = "https://origin.example/api/items/42?sort=desc&tag=a";

const IDENTITY: VerifiedAgent = {
  agent: "https://agent.example/.well-known/http-message-signatures-directory",
  keyid: "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
  profile: "web-bot-auth",
  alg: "ed25519",
  label: "sig1",
  created: 1_700_000_000,
  expires: 1_700_000_060,
};

let signet: GeneratedKey;
let attester: Attester;
let options: SignetVerifyOptions;

beforeAll(async () => {
  signet = await generateAgentKey();
  attester = await createAttester({ privateJwk: signet.privateJwk });
  options = { keys: attester.publicJwk };
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A replay cache in memory, recording what it was asked. */
function memoryReplayCache(): ReplayCache & { claims: Array<[string, number]> } {
  const seen = new Set<string>();
  const claims: Array<[string, number]> = [];
  return {
    claims,
    claim(nonce, expiresAt) {
      claims.push([nonce, expiresAt]);
      if (seen.has(nonce)) return false;
      seen.add(nonce);
      return true;
    },
  };
}

/** The `Signature-Input` entry with the given label. */
function signatureInput(request: Request, label: string): SignatureInput {
  const entry = parseSignatureInput(request.headers.get("signature-input") ?? "", "request").get(label);
  if (entry === undefined || entry instanceof SignatureError) throw new Error(`no usable "${label}" entry`);
  return entry;
}

/** A copy of a request with some headers changed (`null` removes). */
function withHeaders(request: Request, changes: Record<string, string | null>, url = request.url): Request {
  const headers = new Headers(request.headers);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return new Request(url, { method: request.method, headers });
}

/** Signs an attestation-like signature with any key, through the core (what a forger or a buggy Signet makes). */
async function signAs(
  request: Request,
  jwk: Jwk,
  components: string[],
  params: SignatureParameterInput,
  label = "signet",
): Promise<Request> {
  const headers = new Headers(request.headers);
  if (components.includes("content-digest") && !headers.has("content-digest")) {
    headers.set("content-digest", EMPTY_DIGEST);
  }
  const signed = await signMessage(
    { kind: "request", method: request.method, targetUri: request.url, headers },
    { key: await importSigningKey(jwk), components, params, label },
  );
  headers.append("Signature-Input", signed.signatureInput);
  headers.append("Signature", signed.signature);
  return new Request(request.url, { method: request.method, headers });
}

function attestationParams(keyid: string, created = nowSeconds()): SignatureParameterInput {
  return { created, expires: created + 30, nonce: crypto.randomUUID(), keyid, tag: ATTESTATION_TAG };
}

const FULL_COMPONENTS = ["@method", "@authority", "@path", "@query", "content-digest", "verified-agent"];
/** `Content-Digest` of the empty body. */
const EMPTY_DIGEST = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";

function expectRefused(result: SignetVerification, reason: string, signatureError?: string) {
  expect(result.ok, JSON.stringify(result)).toBe(false);
  if (result.ok) return;
  expect(result.reason).toBe(reason);
  expect(result.message).toEqual(expect.any(String));
  if (signatureError !== undefined) expect(result.signatureError).toBe(signatureError);
}

describe("createAttester", () => {
  it("publishes the public JWK named by its thumbprint", async () => {
    expect(attester.keyid).toBe(signet.thumbprint);
    expect(attester.algorithm).toBe("ed25519");
    expect(attester.validitySeconds).toBe(30);
    expect(attester.publicJwk).toEqual({
      kty: "OKP",
      crv: "Ed25519",
      x: signet.publicJwk.x,
      kid: signet.thumbprint,
      alg: "Ed25519",
      use: "sig",
    });
    expect(attester.publicJwk).not.toHaveProperty("d");
  });

  it("signs @method @authority @path @query content-digest verified-agent with created, expires, nonce, keyid and tag", async () => {
    const before = nowSeconds();
    const attested = await attester.attest(new Request(URL_, { method: "DELETE" }), IDENTITY);
    const entry = signatureInput(attested, "signet");
    expect(entry.components.map((c) => c.name)).toEqual(FULL_COMPONENTS);
    expect([...entry.allParams.keys()]).toEqual(["created", "expires", "nonce", "keyid", "tag"]);
    const { created, expires, nonce, keyid, tag } = entry.params;
    expect(created).toBeGreaterThanOrEqual(before);
    expect((expires as number) - (created as number)).toBe(30);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(keyid).toBe(signet.thumbprint);
    expect(tag).toBe("signet-attestation");
    expect(attested.headers.get("verified-agent")).toBe(serializeVerifiedAgent(IDENTITY));
    expect(attested.method).toBe("DELETE");
    expect(attested.url).toBe(URL_);
    expect(attested.headers.get("content-digest")).toBe(EMPTY_DIGEST);
  });

  it("uses a fresh nonce every time", async () => {
    const nonces = new Set<string | undefined>();
    for (let i = 0; i < 5; i++) {
      nonces.add(signatureInput(await attester.attest(new Request(URL_), IDENTITY), "signet").params.nonce);
    }
    expect(nonces.size).toBe(5);
  });

  it("attests anonymous requests too, without verified-agent", async () => {
    const attested = await attester.attest(new Request(URL_), undefined);
    expect(signatureInput(attested, "signet").components.map((c) => c.name)).toEqual([
      "@method",
      "@authority",
      "@path",
      "@query",
      "content-digest",
    ]);
    expect(attested.headers.has("verified-agent")).toBe(false);
  });

  it("removes a client-sent Verified-Agent even when the caller did not", async () => {
    const forged = new Request(URL_, { headers: { "Verified-Agent": 'agent="https://evil.example"' } });
    const anonymous = await attester.attest(forged, undefined);
    expect(anonymous.headers.has("verified-agent")).toBe(false);
    const result = await verifySignetRequest(anonymous, options);
    expect(result).toMatchObject({ ok: true, agent: null });

    const identified = await attester.attest(forged, IDENTITY);
    expect(identified.headers.get("verified-agent")).toBe(serializeVerifiedAgent(IDENTITY));
  });

  it("reads a body within the digest limit, binds it by content-digest and forwards the same bytes", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("chunk-1;"));
        controller.enqueue(new TextEncoder().encode("chunk-2"));
        controller.close();
      },
    });
    const request = new Request(URL_, { method: "POST", body, headers: { "content-type": "text/plain" } });
    const attested = await attester.attest(request, IDENTITY);
    expect(request.bodyUsed).toBe(true);
    expect(attested.body).toBeInstanceOf(ReadableStream);
    expect(signatureInput(attested, "signet").components.map((c) => c.name)).toEqual([
      "@method",
      "@authority",
      "@path",
      "@query",
      "content-type",
      "content-digest",
      "verified-agent",
    ]);
    expect(attested.headers.get("content-digest")).toBe(
      await createContentDigest(new TextEncoder().encode("chunk-1;chunk-2")),
    );
    expect(await attested.clone().text()).toBe("chunk-1;chunk-2");
    expect(attested.headers.get("content-type")).toBe("text/plain");
    expect(await verifySignetRequest(attested, options)).toMatchObject({ ok: true, agent: IDENTITY });
  });

  it("names the headers Signet owns, for stripping", () => {
    expect(SIGNET_IDENTITY_HEADERS).toEqual(["Verified-Agent", "Signet-Monitor", "Signet-Body"]);
  });

  it.each([
    ["ecdsa-p256-sha256", "ES256"],
    ["rsa-pss-sha512", "PS512"],
  ] as const)("works with %s keys", async (algorithm, jwsAlg) => {
    const key = await generateAgentKey(algorithm);
    const other = await createAttester({ privateJwk: key.privateJwk, validitySeconds: 300 });
    expect(other.publicJwk.alg).toBe(jwsAlg);
    const result = await verifySignetRequest(await other.attest(new Request(URL_), IDENTITY), {
      keys: other.publicJwk,
    });
    expect(result).toMatchObject({ ok: true, agent: IDENTITY, keyid: key.thumbprint });
  });

  it("refuses HMAC keys, bad validities, public keys and mismatched halves", async () => {
    const hmac = { kty: "oct", k: "a".repeat(43), alg: "HS256" };
    await expect(createAttester({ privateJwk: hmac })).rejects.toThrow(TypeError);
    for (const validitySeconds of [0, 301, 1.5, -1, Number.NaN]) {
      await expect(createAttester({ privateJwk: signet.privateJwk, validitySeconds })).rejects.toThrow(
        /validitySeconds/,
      );
    }
    await expect(createAttester({ privateJwk: signet.publicJwk })).rejects.toMatchObject({ code: "invalid_key" });
    const other = await generateAgentKey();
    const mismatched = { ...signet.privateJwk, x: other.publicJwk.x };
    await expect(createAttester({ privateJwk: mismatched })).rejects.toThrow();
    await expect(createAttester({ privateJwk: signet.privateJwk, validitySeconds: 300 })).resolves.toBeDefined();
  });

  it("refuses client signature fields the origin could not read, and identities that do not parse back", async () => {
    const garbled = new Request(URL_, { headers: { "Signature-Input": "sig1=(", Signature: "sig1=:AA==:" } });
    await expect(attester.attest(garbled, undefined)).rejects.toMatchObject({ code: "malformed_signature_input" });
    const duplicate = new Request(URL_, {
      headers: { "Signature-Input": 'a=("@method"), a=("@path")', Signature: "a=:AA==:" },
    });
    await expect(attester.attest(duplicate, undefined)).rejects.toMatchObject({ code: "duplicate_label" });
    await expect(attester.attest(new Request(URL_), { ...IDENTITY, agent: "" })).rejects.toThrow(TypeError);
  });
});

describe("attest: the signature built without the general signer", () => {
  // The attester writes its own @signature-params and base (no parse of the client's fields, no re-serialising);
  // these hold it to what the general signer (signMessage) writes for the same components and parameters.
  const headerValue = fc.oneof(fc.constant(undefined), fc.constantFrom("application/json", "Bearer abc", "x\u0080y"));
  it("writes exactly what signMessage writes for the same request, components and parameters", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          contentType: headerValue,
          authorization: headerValue,
          identity: fc.boolean(),
          monitor: fc.option(fc.constant("reason=signature_invalid, status=401"), { nil: undefined }),
          clientLabels: fc.uniqueArray(fc.constantFrom("sig1", "signet", "signet2", "signet3", "a"), { maxLength: 4 }),
          body: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
        }),
        async ({ contentType, authorization, identity, monitor, clientLabels, body }) => {
          const headers = new Headers();
          if (contentType !== undefined) headers.set("content-type", contentType);
          if (authorization !== undefined) headers.set("authorization", authorization);
          const request = new Request(URL_, { method: body === undefined ? "GET" : "POST", headers, body });
          const at = 1_700_000_000;
          const fixed = await createAttester({ privateJwk: signet.privateJwk, now: () => at });
          const attested = await fixed.attest(
            request,
            identity ? IDENTITY : undefined,
            monitor ?? undefined,
            clientLabels,
          );
          const used = new Set<string>(clientLabels);
          const label = ["signet", "signet2", "signet3", "signet4"].find((l) => !used.has(l)) as string;
          const entry = signatureInput(attested, label);
          // The same components and parameters through the general signer give the same member, nonce aside.
          const unsigned = new Headers(attested.headers);
          unsigned.delete("signature-input");
          unsigned.delete("signature");
          const again = await signMessage(
            { kind: "request", method: attested.method, targetUri: attested.url, headers: unsigned },
            {
              key: await importSigningKey(signet.privateJwk),
              components: entry.components.map((c) => c),
              label,
              params: {
                created: at,
                expires: at + 30,
                nonce: entry.params.nonce,
                keyid: signet.thumbprint,
                tag: ATTESTATION_TAG,
              },
            },
          );
          expect(attested.headers.get("signature-input")).toBe(again.signatureInput);
          // Ed25519 is deterministic: the same base gives the same signature.
          expect(attested.headers.get("signature")).toBe(again.signature);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("takes the free label from the caller's labels without reading the client's fields", async () => {
    const attested = await attester.attest(new Request(URL_), undefined, undefined, ["signet", "signet2"]);
    expect(attested.headers.get("signature-input")).toMatch(/^signet3=\(/);
    await expect(verifySignetRequest(attested, options)).resolves.toMatchObject({ ok: true, label: "signet3" });
  });
});

describe("verifySignetRequest", () => {
  it("accepts an attested request and returns the agent", async () => {
    const result = await verifySignetRequest(await attester.attest(new Request(URL_), IDENTITY), options);
    expect(result).toEqual({
      ok: true,
      agent: { ...IDENTITY, extra: undefined },
      keyid: signet.thumbprint,
      label: "signet",
      monitor: null,
      created: expect.any(Number),
      expires: expect.any(Number),
      nonce: expect.any(String),
      method: "GET",
      url: URL_,
      body: new Uint8Array(0),
    });
  });

  it("returns agent null for an attested anonymous request", async () => {
    const result = await verifySignetRequest(await attester.attest(new Request(URL_), undefined), options);
    expect(result).toMatchObject({ ok: true, agent: null, keyid: signet.thumbprint });
  });

  it("returns the attested Signet-Monitor of monitor mode, and refuses one the attestation does not cover", async () => {
    const monitor = 'reason="signature_invalid", status=401';
    const attested = await attester.attest(new Request(URL_), undefined, monitor);
    await expect(verifySignetRequest(attested, options)).resolves.toMatchObject({ ok: true, monitor });
    const forged = new Headers((await attester.attest(new Request(URL_), IDENTITY)).headers);
    forged.set("Signet-Monitor", "forged");
    await expect(verifySignetRequest(new Request(URL_, { headers: forged }), options)).resolves.toMatchObject({
      ok: false,
      reason: "attestation_invalid",
    });
  });

  it("keeps extra Verified-Agent members", async () => {
    const identity = { ...IDENTITY, extra: { replay: "checked", level: 2 } };
    const result = await verifySignetRequest(await attester.attest(new Request(URL_), identity), options);
    expect(result).toMatchObject({ ok: true, agent: { extra: { replay: "checked", level: 2 } } });
  });

  describe("attestation_missing", () => {
    it("for a request with no signature (sent around Signet)", async () => {
      expectRefused(await verifySignetRequest(new Request(URL_), options), "attestation_missing", "no_signature");
    });

    it("for a request with only the client's own signature", async () => {
      const agent = await generateAgentKey();
      const signed = await signAs(new Request(URL_), agent.privateJwk, ["@authority"], {
        created: nowSeconds(),
        keyid: agent.thumbprint,
        tag: "web-bot-auth",
      });
      expectRefused(await verifySignetRequest(signed, options), "attestation_missing");
    });

    it("when the attestation was stripped", async () => {
      const attested = await attester.attest(new Request(URL_), IDENTITY);
      const stripped = withHeaders(attested, { "signature-input": null, signature: null });
      expectRefused(await verifySignetRequest(stripped, options), "attestation_missing");
    });
  });

  describe("attestation_invalid", () => {
    let attested: Request;
    beforeAll(async () => {
      attested = await attester.attest(new Request(URL_, { method: "POST" }), IDENTITY);
    });

    it("for a tampered Verified-Agent", async () => {
      const tampered = serializeVerifiedAgent({ ...IDENTITY, agent: "https://other.example/directory" });
      const result = await verifySignetRequest(withHeaders(attested, { "verified-agent": tampered }), options);
      expectRefused(result, "attestation_invalid", "invalid_signature");
    });

    it("for a second Verified-Agent line appended after Signet", async () => {
      const headers = new Headers(attested.headers);
      headers.append("Verified-Agent", 'agent="https://evil.example"');
      const result = await verifySignetRequest(new Request(URL_, { method: "POST", headers }), options);
      expectRefused(result, "attestation_invalid", "invalid_signature");
    });

    it("for a removed Verified-Agent", async () => {
      const result = await verifySignetRequest(withHeaders(attested, { "verified-agent": null }), options);
      expectRefused(result, "attestation_invalid", "missing_field");
    });

    it("for a changed path", async () => {
      const moved = withHeaders(attested, {}, "https://origin.example/api/items/43?sort=desc&tag=a");
      expectRefused(await verifySignetRequest(moved, options), "attestation_invalid", "invalid_signature");
    });

    it("for a changed query", async () => {
      const moved = withHeaders(attested, {}, "https://origin.example/api/items/42?sort=asc&tag=a");
      expectRefused(await verifySignetRequest(moved, options), "attestation_invalid", "invalid_signature");
    });

    it("for a changed authority", async () => {
      const moved = withHeaders(attested, {}, "https://other-origin.example/api/items/42?sort=desc&tag=a");
      expectRefused(await verifySignetRequest(moved, options), "attestation_invalid", "invalid_signature");
    });

    it("for a changed method", async () => {
      const changed = new Request(attested.url, { method: "PUT", headers: attested.headers });
      expectRefused(await verifySignetRequest(changed, options), "attestation_invalid", "invalid_signature");
    });

    it("for a request re-signed with another key", async () => {
      const mallory = await generateAgentKey();
      const plain = withHeaders(attested, { "signature-input": null, signature: null });
      const ownKeyid = await signAs(plain, mallory.privateJwk, FULL_COMPONENTS, attestationParams(mallory.thumbprint));
      expectRefused(await verifySignetRequest(ownKeyid, options), "attestation_invalid", "unknown_key");
      const signetKeyid = await signAs(
        plain,
        mallory.privateJwk,
        FULL_COMPONENTS,
        attestationParams(signet.thumbprint),
      );
      expectRefused(await verifySignetRequest(signetKeyid, options), "attestation_invalid", "invalid_signature");
      const forgedAgent = withHeaders(plain, {
        "verified-agent": serializeVerifiedAgent({ ...IDENTITY, agent: "https://mallory.example" }),
      });
      const forged = await signAs(
        forgedAgent,
        mallory.privateJwk,
        FULL_COMPONENTS,
        attestationParams(signet.thumbprint),
      );
      expectRefused(await verifySignetRequest(forged, options), "attestation_invalid");
    });

    it("for a client-sent Verified-Agent that Signet's signature does not cover", async () => {
      const anonymous = await attester.attest(new Request(URL_), undefined);
      const injected = withHeaders(anonymous, { "verified-agent": serializeVerifiedAgent(IDENTITY) });
      expectRefused(await verifySignetRequest(injected, options), "attestation_invalid", "missing_required_component");
    });

    it("for an attestation that lacks a required component or parameter", async () => {
      const plain = new Request(URL_);
      const noQuery = await signAs(plain, signet.privateJwk, ["@method", "@authority", "@path"], {
        ...attestationParams(signet.thumbprint),
      });
      expectRefused(await verifySignetRequest(noQuery, options), "attestation_invalid", "missing_required_component");
      const { nonce: _nonce, ...withoutNonce } = attestationParams(signet.thumbprint);
      const noNonce = await signAs(plain, signet.privateJwk, FULL_COMPONENTS.slice(0, 5), withoutNonce);
      expectRefused(await verifySignetRequest(noNonce, options), "attestation_invalid", "missing_required_parameter");
    });

    it("for signature fields that cannot be read at all", async () => {
      const garbled = withHeaders(attested, { "signature-input": "signet=(" });
      expectRefused(await verifySignetRequest(garbled, options), "attestation_invalid", "malformed_signature_input");
    });
  });

  describe("attestation_expired", () => {
    it("for an attestation past its expires", async () => {
      const past = await createAttester({ privateJwk: signet.privateJwk, now: () => nowSeconds() - 120 });
      const result = await verifySignetRequest(await past.attest(new Request(URL_), IDENTITY), options);
      expectRefused(result, "attestation_expired", "signature_expired");
    });

    it("for an attestation within expires but older than maxAge", async () => {
      const long = await createAttester({ privateJwk: signet.privateJwk, validitySeconds: 300 });
      const attested = await long.attest(new Request(URL_), IDENTITY);
      const later = { keys: attester.publicJwk, maxAge: 60, now: () => nowSeconds() + 100 };
      expectRefused(await verifySignetRequest(attested, later), "attestation_expired", "signature_too_old");
    });

    it("for an attestation created in the future", async () => {
      const ahead = await createAttester({ privateJwk: signet.privateJwk, now: () => nowSeconds() + 60 });
      const result = await verifySignetRequest(await ahead.attest(new Request(URL_), IDENTITY), options);
      expectRefused(result, "attestation_expired", "created_in_future");
    });

    it("accepts the same attestation within the clock skew", async () => {
      const attested = await attester.attest(new Request(URL_), IDENTITY);
      const late = { keys: attester.publicJwk, now: () => nowSeconds() + 33 };
      expect(await verifySignetRequest(attested, late)).toMatchObject({ ok: true });
    });
  });

  describe("attestation_replayed", () => {
    it("for a nonce the replay cache has seen", async () => {
      const replayCache = memoryReplayCache();
      const withCache = { keys: attester.publicJwk, replayCache };
      const attested = await attester.attest(new Request(URL_), IDENTITY);
      const copy = attested.clone();
      const first = await verifySignetRequest(attested, withCache);
      expect(first).toMatchObject({ ok: true });
      expectRefused(await verifySignetRequest(copy, withCache), "attestation_replayed");
      if (!first.ok) return;
      // The cache may forget the nonce once the attestation is refused as expired anyway.
      expect(replayCache.claims[0]).toEqual([first.nonce, first.expires + 5]);
    });

    it("accepts Signet's fresh attestation beside a replayed copy of an old one", async () => {
      const replayCache = memoryReplayCache();
      const withCache = { keys: attester.publicJwk, replayCache };
      const old = await attester.attest(new Request(URL_), IDENTITY);
      expect(await verifySignetRequest(old.clone(), withCache)).toMatchObject({ ok: true, label: "signet" });
      const again = await attester.attest(withHeaders(old, { "verified-agent": null }), IDENTITY);
      expect(await verifySignetRequest(again, withCache)).toMatchObject({ ok: true, label: "signet2" });
    });
  });

  describe("identity_malformed", () => {
    it("for a Verified-Agent that Signet's key covered but that does not parse", async () => {
      const request = new Request(URL_, { headers: { "Verified-Agent": "not a dictionary (" } });
      const signed = await signAs(request, signet.privateJwk, FULL_COMPONENTS, attestationParams(signet.thumbprint));
      expectRefused(await verifySignetRequest(signed, options), "identity_malformed");
    });
  });

  it("has a test for every reason code", () => {
    expect(SIGNET_FAILURE_REASON_CODES).toEqual([
      "attestation_missing",
      "attestation_invalid",
      "attestation_expired",
      "attestation_replayed",
      "target_invalid",
      "body_too_large",
      "identity_malformed",
    ]);
  });

  it("keeps the client's own signature labelled signet verifiable beside Signet's", async () => {
    const agent = await generateAgentKey();
    const clientSigned = await signAs(
      new Request(URL_),
      agent.privateJwk,
      ["@method", "@authority"],
      { created: nowSeconds(), keyid: agent.thumbprint, tag: "web-bot-auth" },
      "signet",
    );
    const attested = await attester.attest(clientSigned, IDENTITY);
    expect(attested.headers.get("signature-input")).toMatch(/^signet=\(.*, signet2=\(/);

    const agentKey = await importVerificationKey(agent.publicJwk);
    const client = await verifyMessage(requestFromFetch(attested), { keys: () => agentKey, label: "signet" });
    expect(client.keyid).toBe(agent.thumbprint);

    const result = await verifySignetRequest(attested, options);
    expect(result).toMatchObject({ ok: true, label: "signet2", agent: IDENTITY });
  });

  it("picks signet3 when the client used signet and signet2", async () => {
    const agent = await generateAgentKey();
    const once = await signAs(new Request(URL_), agent.privateJwk, ["@authority"], {}, "signet");
    const twice = await signAs(once, agent.privateJwk, ["@authority"], {}, "signet2");
    const attested = await attester.attest(twice, undefined);
    expect(signatureInput(attested, "signet3").params.tag).toBe(ATTESTATION_TAG);
    expect(await verifySignetRequest(attested, options)).toMatchObject({ ok: true, label: "signet3" });
  });

  it("refuses client fields whose label sets differ (label_mismatch), as the origin would", async () => {
    const agent = await generateAgentKey();
    const once = await signAs(new Request(URL_), agent.privateJwk, ["@authority"], {}, "signet");
    for (const [name, extra] of [
      ["Signature", "signet2=:AAAA:"],
      ["Signature-Input", 'signet2=("@authority")'],
    ] as const) {
      const headers = new Headers(once.headers);
      headers.set(name, `${headers.get(name)}, ${extra}`);
      await expect(attester.attest(new Request(URL_, { headers }), undefined)).rejects.toMatchObject({
        code: "label_mismatch",
      });
    }
    const inputOnly = new Headers(once.headers);
    inputOnly.delete("signature");
    await expect(attester.attest(new Request(URL_, { headers: inputOnly }), undefined)).rejects.toMatchObject({
      code: "label_mismatch",
    });
  });

  it("accepts every key of a rotation, and no other", async () => {
    const next = await generateAgentKey("ecdsa-p256-sha256");
    const nextAttester = await createAttester({ privateJwk: next.privateJwk });
    const rotation = { keys: [attester.publicJwk, nextAttester.publicJwk] };

    const byOld = await verifySignetRequest(await attester.attest(new Request(URL_), IDENTITY), rotation);
    expect(byOld).toMatchObject({ ok: true, keyid: signet.thumbprint });
    const byNew = await verifySignetRequest(await nextAttester.attest(new Request(URL_), IDENTITY), rotation);
    expect(byNew).toMatchObject({ ok: true, keyid: next.thumbprint });

    const retired = { keys: [nextAttester.publicJwk] };
    const result = await verifySignetRequest(await attester.attest(new Request(URL_), IDENTITY), retired);
    expectRefused(result, "attestation_invalid", "unknown_key");
  });

  it("never throws for client-controlled signature and identity fields", async () => {
    const attested = await attester.attest(new Request(URL_), IDENTITY);
    const field = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom(
        attested.headers.get("signature-input") ?? "",
        attested.headers.get("signature") ?? "",
        'signet=("@method");tag="signet-attestation";keyid="x";created=1;expires=2;nonce="n"',
        "signet=:AAAA:",
        "signet=:",
      ),
    );
    const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, "");
    await fc.assert(
      fc.asyncProperty(field, field, field, async (input, signature, agent) => {
        const headers = new Headers({
          "signature-input": printable(input),
          signature: printable(signature),
          "verified-agent": printable(agent),
        });
        const result = await verifySignetRequest(new Request(URL_, { headers }), options);
        expect(typeof result.ok).toBe("boolean");
      }),
      { numRuns: 200 },
    );
  });

  it("refuses unusable options with a TypeError", async () => {
    const request = new Request(URL_);
    const bad: unknown[] = [
      { keys: [] },
      { keys: signet.privateJwk },
      { keys: { kty: "oct", k: "a".repeat(43), alg: "HS256" } },
      { keys: { kty: "RSA", n: "AQAB", e: "AQAB" } },
      { keys: attester.publicJwk, maxAge: -1 },
      { keys: attester.publicJwk, clockSkew: Number.NaN },
      { keys: attester.publicJwk, replayCache: {} },
    ];
    for (const opts of bad) {
      await expect(verifySignetRequest(request, opts as SignetVerifyOptions)).rejects.toThrow(TypeError);
    }
    // A key that passes the shape checks and fails to import surfaces on first use, still as a TypeError.
    const smallOrder = { kty: "OKP", crv: "Ed25519", x: "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    const attested = await attester.attest(request, undefined);
    await expect(verifySignetRequest(attested, { keys: smallOrder })).rejects.toThrow(TypeError);
  });
});

describe("signetOrigin (Hono)", () => {
  function appWith(extra: Partial<SignetOriginOptions> = {}) {
    const state = { handled: 0 };
    const app = new Hono<SignetOriginEnv>();
    app.use("*", signetOrigin({ keys: [attester.publicJwk], ...extra }));
    app.all("*", (c) => {
      state.handled++;
      return c.json({ agent: c.get("signetAgent") });
    });
    return { app, state };
  }

  async function expectProblem(response: Response, reason: string) {
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: `urn:signet:problem:${reason}`, status: 401, reason });
    expect(body.title).toEqual(expect.any(String));
    expect(body.detail).toEqual(expect.any(String));
    return body;
  }

  it("hands the verified agent on with c.set", async () => {
    const { app, state } = appWith();
    const attested = await attester.attest(new Request("http://localhost/hello?x=1"), IDENTITY);
    const response = await app.request(attested);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ agent: IDENTITY });
    expect(state.handled).toBe(1);
  });

  it("passes attested anonymous requests with agent null by default", async () => {
    const { app } = appWith();
    const response = await app.request(await attester.attest(new Request("http://localhost/"), undefined));
    expect(await response.json()).toEqual({ agent: null });
  });

  it("refuses anonymous requests with agent_required when allowAnonymous is false", async () => {
    const { app, state } = appWith({ allowAnonymous: false });
    const anonymous = await app.request(await attester.attest(new Request("http://localhost/"), undefined));
    await expectProblem(anonymous, "agent_required");
    const identified = await app.request(await attester.attest(new Request("http://localhost/"), IDENTITY));
    expect(identified.status).toBe(200);
    expect(state.handled).toBe(1);
  });

  it("refuses a request that did not come through Signet", async () => {
    const { app, state } = appWith();
    const body = await expectProblem(await app.request("/hello"), "attestation_missing");
    expect(body.signature_error).toBe("no_signature");
    expect(state.handled).toBe(0);
  });

  it("refuses a tampered, an expired and a replayed attestation", async () => {
    const { app, state } = appWith({ replayCache: memoryReplayCache() });
    const attested = await attester.attest(new Request("http://localhost/a"), IDENTITY);
    const tampered = withHeaders(attested, {
      "verified-agent": serializeVerifiedAgent({ ...IDENTITY, profile: "aauth" }),
    });
    const body = await expectProblem(await app.request(tampered), "attestation_invalid");
    expect(body.signature_error).toBe("invalid_signature");

    const past = await createAttester({ privateJwk: signet.privateJwk, now: () => nowSeconds() - 600 });
    await expectProblem(
      await app.request(await past.attest(new Request("http://localhost/a"), IDENTITY)),
      "attestation_expired",
    );

    const copy = attested.clone();
    expect((await app.request(attested)).status).toBe(200);
    await expectProblem(await app.request(copy), "attestation_replayed");
    expect(state.handled).toBe(1);
  });

  it("checks its options once, at construction", () => {
    expect(() => signetOrigin({ keys: [] })).toThrow(TypeError);
    expect(() => signetOrigin({ keys: attester.publicJwk, maxAge: -5 })).toThrow(/maxAge/);
    expect(() => signetOrigin({ keys: attester.publicJwk, allowAnonymous: "no" as unknown as boolean })).toThrow(
      /allowAnonymous/,
    );
  });
});
