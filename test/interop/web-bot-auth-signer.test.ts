/**
 * The agent signer against a verifier we did not write: requests from `createSignedFetch` reach a real local HTTP
 * server, which checks them with `http-message-sig@0.3.0` under the Web Bot Auth profile's requirements.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { component, type RequestDescriptor, verifySignature, webcrypto } from "http-message-sig";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSignedFetch, type GeneratedKey, generateAgentKey, webBotAuthProfile } from "../../agent/index.ts";

let server: Server;
let origin: string;
const verdicts: Array<{ ok: boolean; detail: string }> = [];
const keys = new Map<string, CryptoKey>();

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", async () => {
      const fields = Object.entries(request.headersDistinct).flatMap(([name, values]) =>
        (values ?? []).map((value) => ({ name, value })),
      );
      const descriptor: RequestDescriptor = {
        kind: "request",
        method: request.method as string,
        // The client addressed https://shop.example; the proxy-less test server sees the same authority.
        targetUri: `https://shop.example${request.url}`,
        fields,
      };
      try {
        const verified = await verifySignature(descriptor, {
          label: "sig1",
          policy: {
            algorithms: ["ed25519", "rsa-pss-sha512"],
            requiredComponents: ["@authority", component("signature-agent", { key: "sig1" })],
            requiredParameters: ["created", "expires", "keyid", "tag"],
            maxAge: 300,
            clockSkew: 5,
          },
          resolveVerifier: (candidate) => {
            if (candidate.parameters.tag !== "web-bot-auth") throw new Error("not a web-bot-auth signature");
            const key = keys.get(String(candidate.parameters.keyid));
            if (!key) throw new Error(`unknown keyid ${candidate.parameters.keyid}`);
            return webcrypto.verifier(key);
          },
        });
        verdicts.push({ ok: true, detail: String(verified.parameters.keyid) });
        response.writeHead(200).end("verified");
      } catch (err) {
        verdicts.push({ ok: false, detail: (err as Error).message });
        response.writeHead(401).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function registered(algorithm: "ed25519" | "rsa-pss-sha512"): Promise<GeneratedKey> {
  const key = await generateAgentKey(algorithm);
  const { use: _use, ...jwk } = key.publicJwk;
  const params = algorithm === "ed25519" ? { name: "Ed25519" } : { name: "RSA-PSS", hash: "SHA-512" };
  keys.set(key.thumbprint, await crypto.subtle.importKey("jwk", jwk as JsonWebKey, params, false, ["verify"]));
  return key;
}

/** Sends to the local server while signing for the authority the agent meant to reach. */
function towardsLocalServer(): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const request = input as Request;
    const url = new URL(request.url);
    return fetch(`${origin}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body === null ? undefined : await request.arrayBuffer(),
    });
  }) as typeof fetch;
}

describe.each(["ed25519", "rsa-pss-sha512"] as const)(
  "createSignedFetch (%s) verified by http-message-sig",
  (algorithm) => {
    it("GET and POST requests pass the peer's Web Bot Auth policy", async () => {
      const agent = await registered(algorithm);
      const signedFetch = createSignedFetch({
        key: agent.privateJwk,
        profile: webBotAuthProfile({ agent: "https://agent.example" }),
        fetch: towardsLocalServer(),
      });
      const get = await signedFetch("https://shop.example/products?page=3");
      expect(await get.text()).toBe("verified");
      const post = await signedFetch("https://shop.example/cart", {
        method: "POST",
        body: '{"sku":"b-1"}',
        headers: { authorization: "Bearer abc", "content-type": "application/json" },
      });
      expect(post.status).toBe(200);
      expect(verdicts.at(-1)).toEqual({ ok: true, detail: agent.thumbprint });
    });

    it("a request whose signed path was changed on the way is refused by the peer", async () => {
      const agent = await registered(algorithm);
      const signedFetch = createSignedFetch({
        key: agent.privateJwk,
        profile: webBotAuthProfile({ agent: "https://agent.example" }),
        fetch: (async (input: RequestInfo | URL) => {
          const request = input as Request;
          return fetch(`${origin}/elsewhere`, { method: request.method, headers: request.headers });
        }) as typeof fetch,
      });
      const response = await signedFetch("https://shop.example/products");
      expect(response.status).toBe(401);
      expect(verdicts.at(-1)?.ok).toBe(false);
    });
  },
);
