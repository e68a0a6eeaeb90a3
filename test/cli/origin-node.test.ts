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
import { createContentDigest, importSigningKey, type Jwk, signMessage } from "../../worker/rfc9421/index.ts";
import rfcKeyFile from "../vectors/rfc9421-keys.json";

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
/** Options with the helper's defaults: its own in-memory replay cache. */
let defaultOptions: NodeVerifyOptions;
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
  defaultOptions = { keys: [attester.publicJwk], scheme: "http" };
  server = createServer(async (req, res) => {
    seen.push({ url: req.url, rawHeaders: req.rawHeaders });
    const result = await verifyNodeRequest(req, req.headers["x-test-options"] === "default" ? defaultOptions : options);
    // The body the helper verified, as text, so that the test sees what the application would get.
    const shown = result.ok
      ? { ...result, body: result.body === null ? null : new TextDecoder().decode(result.body) }
      : result;
    res.writeHead(result.ok ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify(shown));
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
      ["Content-Digest", attested.headers.get("content-digest") as string],
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
      ["Content-Digest", attestedAgain.headers.get("content-digest") as string],
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
    const headers = new Headers({
      "verified-agent": "(((",
      "content-digest": await createContentDigest(new Uint8Array(0)),
    });
    const created = Math.floor(Date.now() / 1000);
    const signed = await signMessage(
      { kind: "request", method: "GET", targetUri: `${base}/malformed`, headers },
      {
        key: await importSigningKey(signet.privateJwk),
        components: ["@method", "@authority", "@path", "@query", "content-digest", "verified-agent"],
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

/** Sends exactly these header lines (Host included, as given) and returns the status and judgement. */
function sendWire(
  method: string,
  target: string,
  lines: Array<[string, string]>,
  body?: string,
): Promise<{ status: number; result: SignetVerification & { body?: string | null } }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = httpRequest({ hostname, port, method, path: target, headers: lines.flat() }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, result: text === "" ? ({} as never) : JSON.parse(text) }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The attestation headers of a request as header lines, minus Host. */
function linesOf(request: Request): Array<[string, string]> {
  return [...request.headers].filter(([name]) => name !== "host");
}

describe("issue 11 class 8: verifyNodeRequest takes the target from one validated Host and request target", () => {
  const { host } = new URL("http://127.0.0.1");
  const authority = () => new URL(base).host;

  it("the issue's attack: GET /admin/delete-all with Host: <origin>/public/page?x=1# is refused", async () => {
    const attested = await attester.attest(new Request(`${base}/public/page?x=1`), undefined);
    const { result } = await sendWire("GET", "/admin/delete-all", [
      ["Host", `${authority()}/public/page?x=1#`],
      ...linesOf(attested),
    ]);
    expect(result).toMatchObject({ ok: false, reason: "target_invalid" });
    expect(host).toBe("127.0.0.1");
  });

  it.each([
    ["a path", "/public"],
    ["a query", "?x=1"],
    ["a fragment", "#frag"],
    ["whitespace", " extra"],
  ])("refuses a Host with %s (target_invalid)", async (_what, suffix) => {
    const attested = await attester.attest(new Request(`${base}/page`), undefined);
    const { result } = await sendWire("GET", "/page", [["Host", `${authority()}${suffix}`], ...linesOf(attested)]);
    expect(result).toMatchObject({ ok: false, reason: "target_invalid" });
  });

  it("refuses a Host with userinfo, and a request with two Host lines", async () => {
    const attested = await attester.attest(new Request(`${base}/page`), undefined);
    const userinfo = await sendWire("GET", "/page", [["Host", `user@${authority()}`], ...linesOf(attested)]);
    expect(userinfo.result).toMatchObject({ ok: false, reason: "target_invalid" });
    const twice = await sendWire("GET", "/page", [
      ["Host", authority()],
      ["Host", "elsewhere.example"],
      ...linesOf(attested),
    ]);
    // Node may refuse the second Host itself (400); if it passes it on, the helper refuses it.
    if (twice.status !== 400) expect(twice.result).toMatchObject({ ok: false, reason: "target_invalid" });
  });

  it("refuses an absolute-form target whose authority differs from Host, accepts one that agrees", async () => {
    const attested = await attester.attest(new Request(`${base}/page`), undefined);
    const mismatch = await sendWire("GET", "http://elsewhere.example/page", [
      ["Host", authority()],
      ...linesOf(attested),
    ]);
    expect(mismatch.result).toMatchObject({ ok: false, reason: "target_invalid" });
    const agreeing = await sendWire("GET", `${base}/page`, [["Host", authority()], ...linesOf(attested)]);
    expect(agreeing.result).toMatchObject({ ok: true, url: `${base}/page`, method: "GET" });
  });

  it("refuses a target the URL parser would rewrite (dot segments)", async () => {
    const attested = await attester.attest(new Request(`${base}/admin`), undefined);
    const { result } = await sendWire("GET", "/public/../admin", [["Host", authority()], ...linesOf(attested)]);
    expect(result).toMatchObject({ ok: false, reason: "target_invalid" });
  });

  it("refuses a replay with the default options (in-memory replay cache on by default)", async () => {
    const attested = await attester.attest(new Request(`${base}/once-by-default`), IDENTITY);
    const lines: Array<[string, string]> = [["Host", authority()], ["x-test-options", "default"], ...linesOf(attested)];
    expect((await sendWire("GET", "/once-by-default", lines)).result).toMatchObject({ ok: true });
    expect((await sendWire("GET", "/once-by-default", lines)).result).toMatchObject({
      ok: false,
      reason: "attestation_replayed",
    });
  });
});

describe("issue 11 class 7: verifyNodeRequest checks the body, Content-Type and Authorization", () => {
  const BODY = '{"order":"one book"}';

  async function attestedPost(): Promise<Request> {
    const request = new Request(`${base}/orders`, {
      method: "POST",
      body: BODY,
      headers: { "content-type": "application/json", authorization: "Bearer agent-token" },
    });
    return attester.attest(request, IDENTITY);
  }

  it("accepts the attested POST and hands over the verified body", async () => {
    const attested = await attestedPost();
    const { result } = await sendWire("POST", "/orders", [["Host", new URL(base).host], ...linesOf(attested)], BODY);
    expect(result).toMatchObject({ ok: true, method: "POST", url: `${base}/orders`, body: BODY });
  });

  it.each([
    ["the body", {}, '{"order":"every book"}', "content_digest_mismatch"],
    ["the Content-Type", { "content-type": "text/plain" }, BODY, "invalid_signature"],
    ["the Authorization", { authorization: "Bearer someone-else" }, BODY, "invalid_signature"],
  ] as const)("refuses the attested POST with %s swapped", async (_what, changes, body, code) => {
    const attested = await attestedPost();
    const lines = linesOf(attested).map(([name, value]): [string, string] => [
      name,
      (changes as Record<string, string>)[name] ?? value,
    ]);
    const { result } = await sendWire("POST", "/orders", [["Host", new URL(base).host], ...lines], body);
    expect(result).toMatchObject({ ok: false, reason: "attestation_invalid", signatureError: code });
  });
});

describe("issue 11 class 9: the RFC 9421 test keys are never Signet's attestation key", () => {
  const JWS_ALG: Record<string, string> = { "rsa-v1_5-sha256": "RS256", "rsa-pss-sha512": "PS512" };
  const testKeys = Object.entries(rfcKeyFile.keys as Record<string, { jwk: Jwk; algorithm: string }>).filter(
    ([, { jwk }]) => jwk.kty !== "oct",
  );

  it.each(testKeys)("createAttester refuses %s", async (_name, { jwk, algorithm }) => {
    await expect(
      createAttester({ privateJwk: jwk, algorithm: algorithm as "ed25519" | "rsa-pss-sha512" }),
    ).rejects.toThrow(/published RFC 9421 test key/);
  });

  it.each(testKeys)("verifyNodeRequest refuses %s as Signet's public key", async (_name, { jwk, algorithm }) => {
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, kid: _kid, ...bare } = jwk;
    const publicJwk = JWS_ALG[algorithm] === undefined ? bare : { ...bare, alg: JWS_ALG[algorithm] };
    const attested = await attester.attest(new Request(`${base}/k`), undefined);
    const fake = { method: "GET", url: "/k", rawHeaders: ["Host", new URL(base).host, ...linesOf(attested).flat()] };
    await expect(verifyNodeRequest(fake as never, { keys: publicJwk, scheme: "http" })).rejects.toThrow(
      /published RFC 9421 test key/,
    );
  });
});
