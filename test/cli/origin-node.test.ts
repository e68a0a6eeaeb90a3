/**
 * origin/node.ts on a real node:http server on 127.0.0.1: requests attested by Signet's attester, sent with
 * Node's fetch (or node:http when the wire form matters), judged by verifyNodeRequest.
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../agent/generate-key.ts";
import {
  type NodeVerifyOptions,
  type ReplayCache,
  type SignetVerification,
  verifyNodeRequest,
} from "../../origin/index.ts";
import { ATTESTATION_TAG, type Attester, createAttester } from "../../worker/identity/attestation.ts";
import { serializeVerifiedAgent, type VerifiedAgent } from "../../worker/identity/verified-agent.ts";
import { importSigningKey, signMessage } from "../../worker/rfc9421/index.ts";

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
let server: Server;
let base: string;
let options: NodeVerifyOptions;
const seen: Array<{ url: string | undefined; rawHeaders: string[] }> = [];

function memoryReplayCache(): ReplayCache {
  const nonces = new Set<string>();
  return {
    claim(nonce) {
      if (nonces.has(nonce)) return false;
      nonces.add(nonce);
      return true;
    },
  };
}

beforeAll(async () => {
  signet = await generateAgentKey();
  attester = await createAttester({ privateJwk: signet.privateJwk });
  options = { keys: [attester.publicJwk], scheme: "http", replayCache: memoryReplayCache() };
  server = createServer(async (req, res) => {
    seen.push({ url: req.url, rawHeaders: req.rawHeaders });
    const result = await verifyNodeRequest(req, options);
    res.writeHead(result.ok ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify(result));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

/** Sends a request with Node's fetch and returns the server's judgement. */
async function judge(request: Request): Promise<SignetVerification> {
  const response = await fetch(request);
  return (await response.json()) as SignetVerification;
}

/** Sends a request with node:http, header lines exactly as given, and returns the server's judgement. */
function judgeRaw(method: string, path: string, headers: Array<[string, string]>): Promise<SignetVerification> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    // With headers as an array Node sends exactly these lines, so Host must be among them.
    const flat = [["Host", `${hostname}:${port}`], ...headers].flat();
    const req = httpRequest({ hostname, port, method, path, headers: flat }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => resolve(JSON.parse(text) as SignetVerification));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("verifyNodeRequest on a real node:http server", () => {
  it("accepts an attested request and returns the agent", async () => {
    const attested = await attester.attest(
      new Request(`${base}/api/items/42?sort=desc`, { method: "PATCH" }),
      IDENTITY,
    );
    const result = await judge(attested);
    expect(result).toMatchObject({ ok: true, agent: IDENTITY, keyid: signet.thumbprint, label: "signet" });
    expect(seen.at(-1)?.url).toBe("/api/items/42?sort=desc");
  });

  it("accepts an attested anonymous request with agent null", async () => {
    expect(await judge(await attester.attest(new Request(`${base}/`), undefined))).toMatchObject({
      ok: true,
      agent: null,
    });
  });

  it("judges the raw request target: percent-encoding and an empty query stay as sent", async () => {
    const attested = await attester.attest(new Request(`${base}/caf%C3%A9/%7Euser?q=a%20b&x`), IDENTITY);
    expect(await judge(attested)).toMatchObject({ ok: true });
    expect(seen.at(-1)?.url).toBe("/caf%C3%A9/%7Euser?q=a%20b&x");
  });

  it("reads repeated field lines in order", async () => {
    const attested = await attester.attest(new Request(`${base}/lines`), IDENTITY);
    const value = serializeVerifiedAgent(IDENTITY);
    const cut = value.indexOf(", profile=");
    const first = value.slice(0, cut);
    const second = value.slice(cut + 2);
    const signatureHeaders: Array<[string, string]> = [
      ["Signature-Input", attested.headers.get("signature-input") as string],
      ["Signature", attested.headers.get("signature") as string],
    ];
    const inOrder = await judgeRaw("GET", "/lines", [
      ...signatureHeaders,
      ["Verified-Agent", first],
      ["Verified-Agent", second],
    ]);
    expect(inOrder).toMatchObject({ ok: true, agent: IDENTITY });
    expect(seen.at(-1)?.rawHeaders.filter((name) => name === "Verified-Agent")).toHaveLength(2);

    const attestedAgain = await attester.attest(new Request(`${base}/lines`), IDENTITY);
    const swapped = await judgeRaw("GET", "/lines", [
      ["Signature-Input", attestedAgain.headers.get("signature-input") as string],
      ["Signature", attestedAgain.headers.get("signature") as string],
      ["Verified-Agent", second],
      ["Verified-Agent", first],
    ]);
    expect(swapped).toMatchObject({ ok: false, reason: "attestation_invalid", signatureError: "invalid_signature" });
  });

  it("refuses a tampered Verified-Agent (attestation_invalid)", async () => {
    const attested = await attester.attest(new Request(`${base}/tamper`), IDENTITY);
    const headers = new Headers(attested.headers);
    headers.set("verified-agent", serializeVerifiedAgent({ ...IDENTITY, agent: "https://mallory.example/keys" }));
    const result = await judge(new Request(attested.url, { headers }));
    expect(result).toMatchObject({ ok: false, reason: "attestation_invalid", signatureError: "invalid_signature" });
  });

  it("refuses an attestation made for another authority (attestation_invalid)", async () => {
    const elsewhere = await attester.attest(new Request("http://origin.example/tamper"), IDENTITY);
    const result = await judge(new Request(`${base}/tamper`, { headers: elsewhere.headers }));
    expect(result).toMatchObject({ ok: false, reason: "attestation_invalid", signatureError: "invalid_signature" });
  });

  it("refuses a stale attestation (attestation_expired)", async () => {
    const stale = await createAttester({
      privateJwk: signet.privateJwk,
      now: () => Math.floor(Date.now() / 1000) - 90,
    });
    const result = await judge(await stale.attest(new Request(`${base}/stale`), IDENTITY));
    expect(result).toMatchObject({ ok: false, reason: "attestation_expired", signatureError: "signature_expired" });
  });

  it("refuses a request sent around Signet (attestation_missing)", async () => {
    const result = await judge(new Request(`${base}/direct`, { headers: { "verified-agent": 'agent="x"' } }));
    expect(result).toMatchObject({ ok: false, reason: "attestation_missing" });
  });

  it("refuses the same attestation sent twice (attestation_replayed)", async () => {
    const attested = await attester.attest(new Request(`${base}/once`), IDENTITY);
    const copy = attested.clone();
    expect(await judge(attested)).toMatchObject({ ok: true });
    expect(await judge(copy)).toMatchObject({ ok: false, reason: "attestation_replayed" });
  });

  it("refuses a covered Verified-Agent that does not parse (identity_malformed)", async () => {
    const headers = new Headers({ "verified-agent": "(((" });
    const created = Math.floor(Date.now() / 1000);
    const signed = await signMessage(
      { kind: "request", method: "GET", targetUri: `${base}/malformed`, headers },
      {
        key: await importSigningKey(signet.privateJwk),
        components: ["@method", "@authority", "@path", "@query", "verified-agent"],
        params: { created, expires: created + 30, nonce: "n-1", keyid: signet.thumbprint, tag: ATTESTATION_TAG },
        label: "signet",
      },
    );
    headers.set("signature-input", signed.signatureInput);
    headers.set("signature", signed.signature);
    expect(await judge(new Request(`${base}/malformed`, { headers }))).toMatchObject({
      ok: false,
      reason: "identity_malformed",
    });
  });

  it("refuses an unusable scheme option with a TypeError", async () => {
    const fake = { method: "GET", url: "/", rawHeaders: ["Host", "x"] } as never;
    await expect(verifyNodeRequest(fake, { ...options, scheme: "ftp" as "http" })).rejects.toThrow(TypeError);
  });
});
