import { beforeAll, describe, expect, it } from "vitest";
import {
  createSignedFetch,
  type GeneratedKey,
  generateAgentKey,
  loadAgentKey,
  signRequest,
  webBotAuthProfile,
} from "../../agent/index.ts";
import {
  importVerificationKey,
  requestFromFetch,
  type VerificationKey,
  type VerifyOptions,
  verifyMessage,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";

let agent: GeneratedKey;
let agentKey: VerificationKey;

beforeAll(async () => {
  agent = await generateAgentKey();
  agentKey = await importVerificationKey(agent.publicJwk);
});

/** What a Web Bot Auth verifier requires (draft-ietf-webbotauth-httpsig-protocol §"Generating HTTP Message Signature"). */
function webBotAuthPolicy(extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    keys: ({ keyid }) => (keyid === agent.thumbprint ? agentKey : undefined),
    tag: "web-bot-auth",
    requiredParameters: ["created", "expires", "keyid"],
    requiredComponents: [["@authority", "@target-uri"]],
    maxValidity: 86_400,
    ...extra,
  };
}

const profile = () => webBotAuthProfile({ agent: "https://agent.example" });

describe("signRequest with the Web Bot Auth profile", () => {
  it("covers method, authority, path and its Signature-Agent member, with the profile's parameters", async () => {
    const signed = await signRequest(new Request("https://shop.example/items?page=2"), {
      key: agent.privateJwk,
      profile: profile(),
    });
    expect(signed.headers.get("signature-agent")).toBe('sig1="https://agent.example"');
    const result = await verifyMessage(
      requestFromFetch(signed),
      webBotAuthPolicy({ requiredComponents: ["@method", "@authority", "@path", '"signature-agent";key="sig1"'] }),
    );
    expect(result.keyid).toBe(agent.thumbprint);
    const { created, expires, nonce } = result.params;
    expect((expires ?? 0) - (created ?? 0)).toBe(300);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{86}$/); // 64 bytes, base64url
    expect(result.signatureParams).toMatch(/;created=\d+;expires=\d+;keyid="[^"]+";nonce="[^"]+";tag="web-bot-auth"$/);
  });

  it("makes a fresh nonce for every request", async () => {
    const key = await loadAgentKey(agent.privateJwk);
    const nonces = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const signed = await signRequest(new Request("https://shop.example/"), { key, profile: profile() });
      nonces.add(/nonce="([^"]+)"/.exec(signed.headers.get("signature-input") ?? "")?.[1] ?? "");
    }
    expect(nonces.size).toBe(5);
  });

  it("covers authorization when present and a computed content-digest when there is a body", async () => {
    const body = JSON.stringify({ q: "books" });
    const signed = await signRequest(
      new Request("https://shop.example/search", {
        method: "POST",
        body,
        headers: { authorization: "Bearer t0k3n", "content-type": "application/json" },
      }),
      { key: agent.privateJwk, profile: profile() },
    );
    expect(signed.headers.get("content-digest")).toMatch(/^sha-256=:[A-Za-z0-9+/=]+:$/);
    await expect(
      verifyMessage(
        requestFromFetch(signed),
        webBotAuthPolicy({ requiredComponents: ["authorization", "content-digest"] }),
      ),
    ).resolves.toBeTruthy();
    expect(await signed.text()).toBe(body);
    const tampered = new Request(signed, { body: JSON.stringify({ q: "knives" }) });
    await expect(verifyMessage(requestFromFetch(tampered), webBotAuthPolicy())).rejects.toMatchObject({
      code: "content_digest_mismatch",
    });
  });

  it("sends the legacy string form of Signature-Agent on request", async () => {
    const signed = await signRequest(new Request("https://shop.example/"), {
      key: agent.privateJwk,
      profile: webBotAuthProfile({ agent: "https://agent.example", agentForm: "string" }),
    });
    expect(signed.headers.get("signature-agent")).toBe('"https://agent.example"');
    await expect(
      verifyMessage(requestFromFetch(signed), webBotAuthPolicy({ requiredComponents: ['"signature-agent"'] })),
    ).resolves.toBeTruthy();
  });

  it("covers @target-uri instead of @authority and @path when asked, with alg if asked", async () => {
    const signed = await signRequest(new Request("https://shop.example/a?b=c"), {
      key: agent.privateJwk,
      profile: webBotAuthProfile({ agent: "https://agent.example", coverTargetUri: true, includeAlg: true }),
    });
    const result = await verifyMessage(
      requestFromFetch(signed),
      webBotAuthPolicy({ requiredComponents: ["@target-uri"] }),
    );
    expect(result.components.map((c) => c.name)).toEqual(["@method", "@target-uri", "signature-agent"]);
    expect(result.params.alg).toBe("ed25519");
  });

  it("adds a second agent's signature beside the first, each with its own Signature-Agent member", async () => {
    const other = await generateAgentKey("ecdsa-p256-sha256");
    const first = await signRequest(new Request("https://shop.example/"), {
      key: agent.privateJwk,
      profile: profile(),
    });
    const second = await signRequest(first, {
      key: other.privateJwk,
      profile: webBotAuthProfile({ agent: "https://browser.example" }),
    });
    expect(second.headers.get("signature-agent")).toBe('sig1="https://agent.example", sig2="https://browser.example"');
    const otherKey = await importVerificationKey(other.publicJwk);
    const outcomes = await verifySignatures(requestFromFetch(second), {
      keys: ({ keyid }) => (keyid === agent.thumbprint ? agentKey : keyid === other.thumbprint ? otherKey : undefined),
      tag: "web-bot-auth",
    });
    expect(outcomes.map((o) => [o.label, o.verified])).toEqual([
      ["sig1", true],
      ["sig2", true],
    ]);
  });

  it("refuses a non-https agent URL and a bad validity at construction", () => {
    expect(() => webBotAuthProfile({ agent: "http://agent.example" })).toThrow(/https/);
    expect(() => webBotAuthProfile({ agent: "https://agent.example", expiresIn: 0 })).toThrow(/expiresIn/);
  });
});

describe("createSignedFetch", () => {
  it("signs each request before handing it to the wrapped fetch, and imports the key once", async () => {
    const seen: Request[] = [];
    const signedFetch = createSignedFetch({
      key: agent.privateJwk,
      profile: profile(),
      fetch: async (input) => {
        seen.push(input as Request);
        return new Response("ok");
      },
    });
    await signedFetch("https://shop.example/one");
    await signedFetch(new URL("https://shop.example/two"), { method: "DELETE" });
    expect(seen.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(["GET /one", "DELETE /two"]);
    for (const request of seen) {
      await expect(verifyMessage(requestFromFetch(request), webBotAuthPolicy())).resolves.toBeTruthy();
    }
  });
});
