/**
 * Red team of `verifyNodeRequest` (origin/node.ts) on a real node:http server on 127.0.0.1, fed raw bytes over a
 * socket so that the wire form is exactly the attacker's: method and path overrides added to a captured
 * attestation, obs-fold, `Transfer-Encoding` beside `Content-Length`, `HEAD` for `GET`, absolute-form targets,
 * hostile `Host` spellings. Each attack starts from a real attestation of `GET /public/page` (anonymous, as the
 * default `allowAnonymous` would let through) or of an agent's request, and tries to make the application act on
 * something else. The server reports what the helper said and what the application would route on.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateAgentKey } from "../../agent/generate-key.ts";
import { type NodeVerifyOptions, type SignetVerification, verifyNodeRequest } from "../../origin/index.ts";
import { type Attester, createAttester } from "../../worker/identity/attestation.ts";
import type { VerifiedAgent } from "../../worker/identity/verified-agent.ts";
import { METHOD_OR_PATH_OVERRIDE_HEADERS } from "../../worker/retargeting-headers.ts";

const IDENTITY: VerifiedAgent = {
  agent: "https://agent.example/.well-known/http-message-signatures-directory",
  keyid: "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
  profile: "web-bot-auth",
  alg: "ed25519",
  label: "sig1",
  created: 1_700_000_000,
  expires: 1_700_000_060,
};

let attester: Attester;
let server: Server;
let authority: string;
let options: NodeVerifyOptions;

beforeAll(async () => {
  attester = await createAttester({ privateJwk: (await generateAgentKey()).privateJwk });
  options = { keys: [attester.publicJwk], scheme: "http" };
  server = createServer(async (req, res) => {
    let result: SignetVerification | { ok: "threw"; message: string };
    try {
      result = await verifyNodeRequest(req, options);
    } catch (err) {
      result = { ok: "threw", message: (err as Error).message };
    }
    const shown =
      result.ok === true
        ? { ...result, agent: result.agent?.agent ?? null, body: result.body === null ? null : result.body.length }
        : result;
    const text = JSON.stringify(shown);
    res
      .writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        connection: "close",
      })
      .end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  authority = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

/** What came back: Node's own status, and the helper's judgement when the request reached it. */
interface Outcome {
  readonly status: number;
  readonly result?: Record<string, unknown>;
}

/** Sends raw bytes and reads the whole answer (the server, or Node refusing the bytes, closes the connection). */
function sendRaw(bytes: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(authority.split(":")[1]), "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf("\r\n\r\n") + 4);
      let result: Record<string, unknown> | undefined;
      try {
        result = body === "" ? undefined : (JSON.parse(body) as Record<string, unknown>);
      } catch {
        result = undefined;
      }
      resolve({ status, result });
    });
    // Written, not ended: a half-closed socket may be dropped before the answer; the server closes after it.
    socket.write(Buffer.from(bytes, "latin1"));
  });
}

/** A request's attestation lines (every header but Host), as `name: value` lines. */
function attestationLines(request: Request): string[] {
  return [...request.headers].filter(([name]) => name !== "host").map(([name, value]) => `${name}: ${value}`);
}

/** The raw HTTP/1.1 request: request line, Host, the given lines, then the body. */
function wire(method: string, target: string, lines: readonly string[], body = ""): string {
  return `${method} ${target} HTTP/1.1\r\nHost: ${authority}\r\n${lines.join("\r\n")}\r\nConnection: close\r\n\r\n${body}`;
}

/** An attestation of an anonymous `GET /public/page`, as Signet forwards one. */
async function attestedPublicGet(): Promise<Request> {
  return attester.attest(new Request(`http://${authority}/public/page`), undefined);
}

/** Whether the outcome let the request through: the helper said ok (Node refusing it first is a refusal). */
function accepted(outcome: Outcome): boolean {
  return outcome.result?.ok === true;
}

describe("verifyNodeRequest: overrides added to a captured attestation", () => {
  it("the control: the attested GET /public/page verifies, once", async () => {
    const outcome = await sendRaw(wire("GET", "/public/page", attestationLines(await attestedPublicGet())));
    expect(outcome.result).toMatchObject({ ok: true, method: "GET", url: `http://${authority}/public/page` });
  });

  it.each(METHOD_OR_PATH_OVERRIDE_HEADERS.map((name) => [name] as const))(
    "%s added after Signet is refused as target_invalid (before: accepted)",
    async (name) => {
      const lines = [...attestationLines(await attestedPublicGet()), `${name}: /admin/delete-all`];
      const outcome = await sendRaw(wire("GET", "/public/page", lines));
      expect(outcome.result).toMatchObject({ ok: false, reason: "target_invalid" });
    },
  );

  it("HEAD with a GET attestation is refused (@method is covered)", async () => {
    const outcome = await sendRaw(wire("HEAD", "/public/page", attestationLines(await attestedPublicGet())));
    expect(accepted(outcome)).toBe(false);
  });
});

describe("verifyNodeRequest: framing and folding", () => {
  it("obs-fold smuggling a second line into Verified-Agent never yields an accepted identity", async () => {
    const attested = await attester.attest(new Request(`http://${authority}/agents/x`), IDENTITY);
    const lines = attestationLines(attested).map((line) =>
      line.startsWith("verified-agent:") ? `${line}\r\n , agent="https://evil.example"` : line,
    );
    const outcome = await sendRaw(wire("GET", "/agents/x", lines));
    // Node refuses obs-fold (400), or the folded value no longer matches the attestation.
    if (outcome.status === 200) expect(outcome.result).toMatchObject({ ok: false });
    else expect(outcome.status).toBe(400);
  });

  it("obs-fold in Host is refused", async () => {
    const attested = await attestedPublicGet();
    const bytes = `GET /public/page HTTP/1.1\r\nHost: ${authority}\r\n /admin\r\n${attestationLines(attested).join("\r\n")}\r\nConnection: close\r\n\r\n`;
    const outcome = await sendRaw(bytes);
    if (outcome.status === 200) expect(outcome.result).toMatchObject({ ok: false, reason: "target_invalid" });
    else expect(outcome.status).toBe(400);
  });

  it("Transfer-Encoding beside Content-Length never smuggles a body past the digest", async () => {
    const attested = await attester.attest(
      new Request(`http://${authority}/orders`, { method: "POST", body: "one" }),
      IDENTITY,
    );
    const lines = attestationLines(attested).filter((line) => !line.startsWith("content-length:"));
    const smuggled = "3\r\ntwo\r\n0\r\n\r\n";
    const both = await sendRaw(
      wire("POST", "/orders", [...lines, "Content-Length: 3", "Transfer-Encoding: chunked"], smuggled),
    );
    // Node refuses the ambiguous framing outright, or the body it reads fails the digest.
    if (both.status === 200) expect(both.result).toMatchObject({ ok: false });
    else expect(both.status).toBe(400);
    // The chunked body "two" alone fails the digest of "one".
    const chunked = await sendRaw(wire("POST", "/orders", [...lines, "Transfer-Encoding: chunked"], smuggled));
    expect(chunked.result).toMatchObject({ ok: false, signatureError: "content_digest_mismatch" });
  });
});

describe("verifyNodeRequest: targets", () => {
  it.each([
    ["absolute-form naming another host", "http://admin.internal/public/page"],
    ["absolute-form with userinfo", `http://user@${"AUTH"}/public/page`],
    ["absolute-form with another scheme", `https://${"AUTH"}/public/page`],
    ["asterisk-form", "*"],
    ["a fragment", "/public/page#x"],
    ["a backslash", "/public\\page"],
    ["an encoded dot segment", "/admin/%2e%2e/public/page"],
  ])("%s is refused or fails the attestation", async (_what, raw) => {
    const target = raw.replace("AUTH", authority);
    const outcome = await sendRaw(wire("GET", target, attestationLines(await attestedPublicGet())));
    expect(accepted(outcome)).toBe(false);
    expect(outcome.result?.ok).not.toBe("threw");
  });

  it.each([
    ["a comma list", "127.0.0.1:PORT, admin.internal"],
    ["an at sign", "admin.internal@127.0.0.1:PORT"],
    ["a backslash", "127.0.0.1:PORT\\admin"],
    ["a percent escape", "127.0.0.1%3aPORT"],
    ["an empty port", "127.0.0.1:"],
  ])("Host with %s is refused or fails the attestation, never a throw", async (_what, raw) => {
    const host = raw.replace("PORT", authority.split(":")[1] as string);
    const lines = attestationLines(await attestedPublicGet());
    const bytes = `GET /public/page HTTP/1.1\r\nHost: ${host}\r\n${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`;
    const outcome = await sendRaw(bytes);
    expect(accepted(outcome)).toBe(false);
    expect(outcome.result?.ok).not.toBe("threw");
  });

  it.each([
    ["an IPv4 address with a trailing dot", "127.0.0.1.:PORT"],
    ["trailing whitespace (Node strips it)", "127.0.0.1:PORT\t"],
  ])(
    "Host with %s names the same authority: it verifies, and the helper hands on the canonical URL",
    async (_what, raw) => {
      const host = raw.replace("PORT", authority.split(":")[1] as string);
      const lines = attestationLines(await attestedPublicGet());
      const bytes = `GET /public/page HTTP/1.1\r\nHost: ${host}\r\n${lines.join("\r\n")}\r\nConnection: close\r\n\r\n`;
      const outcome = await sendRaw(bytes);
      expect(outcome.result).toMatchObject({ ok: true, url: `http://${authority}/public/page` });
    },
  );
});
