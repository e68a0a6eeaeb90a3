/**
 * The signing fetch against two real local HTTP servers, the first redirecting to itself and to the second: the
 * second server never sees a signature, `Signature-Agent`, `Content-Digest`, credentials or body unless the caller
 * allows cross-origin redirects, and every request either server sees is signed for exactly that server and path
 * (issue 11, item 9: the signing fetch used to follow a cross-origin redirect with the first target's signature
 * and body). Node only: it starts servers.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSignedFetch, type GeneratedKey, generateAgentKey, webBotAuthProfile } from "../../agent/index.ts";
import {
  type HttpRequestMessage,
  importVerificationKey,
  type VerificationKey,
  verifyContentDigest,
  verifyMessage,
} from "../../worker/rfc9421/index.ts";
import { type LocalServer, startLocalServer } from "../support/local-server.ts";

/** What a server saw. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: Array<[string, string]>;
  readonly body: Uint8Array;
}

/** A server that records every request; `/r?status=&to=` redirects, `/loop` redirects to itself, others echo. */
async function recordingServer(): Promise<{ server: LocalServer; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = await startLocalServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < request.rawHeaders.length; i += 2) {
      headers.push([request.rawHeaders[i] as string, request.rawHeaders[i + 1] as string]);
    }
    seen.push({
      method: request.method ?? "",
      url: request.url ?? "",
      headers,
      body: new Uint8Array(Buffer.concat(chunks)),
    });
    const url = new URL(request.url ?? "/", "http://x.invalid");
    if (url.pathname === "/r") {
      const to = url.searchParams.get("to");
      response.writeHead(Number(url.searchParams.get("status")), to === null ? {} : { location: to });
      response.end("redirecting");
      return;
    }
    if (url.pathname === "/loop") {
      response.writeHead(302, { location: "/loop" }).end();
      return;
    }
    response.writeHead(200, { "content-type": "text/plain" }).end(`landed ${request.method} ${request.url}`);
  });
  return { server, seen };
}

let agent: GeneratedKey;
let verificationKey: VerificationKey;
let a: Awaited<ReturnType<typeof recordingServer>>;
let b: Awaited<ReturnType<typeof recordingServer>>;

beforeAll(async () => {
  agent = await generateAgentKey();
  verificationKey = await importVerificationKey(agent.publicJwk);
  a = await recordingServer();
  b = await recordingServer();
});
afterAll(async () => {
  await a?.server.close();
  await b?.server.close();
});
beforeEach(() => {
  a.seen.length = 0;
  b.seen.length = 0;
});

const SIGNED_FIELDS = ["signature", "signature-input", "signature-agent", "content-digest"];
const CREDENTIALS = ["authorization", "cookie", "proxy-authorization"];

function header(seen: Seen, name: string): string | undefined {
  return seen.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Checks that a request a server saw is signed for that server's authority and the path it was sent. */
async function expectSignedFor(seen: Seen, serverUrl: string): Promise<void> {
  const message: HttpRequestMessage = {
    kind: "request",
    method: seen.method,
    targetUri: new URL(seen.url, serverUrl).href,
    headers: seen.headers,
    body: seen.body,
  };
  const result = await verifyMessage(message, {
    keys: ({ keyid }) => (keyid === agent.thumbprint ? verificationKey : undefined),
    tag: "web-bot-auth",
    requiredComponents: ["@method", "@authority", "@path", '"signature-agent";key="sig1"'],
  });
  expect(result.label).toBe("sig1");
  const digest = header(seen, "content-digest");
  if (seen.body.length > 0) {
    expect(result.signatureParams).toContain('"content-digest"');
    await expect(verifyContentDigest(digest ?? "", seen.body)).resolves.toContain("sha-256");
  } else expect(digest).toBeUndefined();
}

const signedFetch = (extra: Partial<Parameters<typeof createSignedFetch>[0]> = {}) =>
  createSignedFetch({
    key: agent.privateJwk,
    profile: webBotAuthProfile({ agent: "https://agent.example" }),
    ...extra,
  });

const redirect = (from: string, status: number, to: string) =>
  `${from}/r?status=${status}&to=${encodeURIComponent(to)}`;

describe("cross-origin redirects", () => {
  it("by default are returned unfollowed: the other server sees nothing, not even a connection's request", async () => {
    const response = await signedFetch()(redirect(a.server.url, 307, `${b.server.url}/landing`), {
      method: "POST",
      body: "secret order",
      headers: { "content-type": "text/plain", authorization: "Bearer t0k3n", cookie: "s=1" },
    });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe(`${b.server.url}/landing`);
    await response.body?.cancel();
    expect(a.seen).toHaveLength(1);
    await expectSignedFor(a.seen[0] as Seen, a.server.url);
    expect(b.seen).toHaveLength(0);
  });

  it("a predicate sees from and to and can refuse", async () => {
    const asked: string[] = [];
    const response = await signedFetch({
      crossOriginRedirects: (from, to) => {
        asked.push(`${from.origin} -> ${to.origin}`);
        return false;
      },
    })(redirect(a.server.url, 302, `${b.server.url}/landing`));
    expect(response.status).toBe(302);
    await response.body?.cancel();
    expect(asked).toEqual([`${a.server.url} -> ${b.server.url}`]);
    expect(b.seen).toHaveLength(0);
  });

  it("when allowed, are signed anew for the new target, without credentials", async () => {
    const response = await signedFetch({ crossOriginRedirects: true })(
      redirect(a.server.url, 307, `${b.server.url}/landing?x=1#frag`),
      {
        method: "POST",
        body: "order",
        headers: { "content-type": "text/plain", authorization: "Bearer t0k3n", cookie: "s=1" },
      },
    );
    expect(await response.text()).toBe("landed POST /landing?x=1");
    const [first] = a.seen;
    const [second] = b.seen;
    await expectSignedFor(first as Seen, a.server.url);
    await expectSignedFor(second as Seen, b.server.url);
    expect(header(second as Seen, "signature")).not.toBe(header(first as Seen, "signature"));
    for (const name of CREDENTIALS) expect(header(second as Seen, name)).toBeUndefined();
    expect(header(first as Seen, "authorization")).toBe("Bearer t0k3n");
    expect(new TextDecoder().decode((second as Seen).body)).toBe("order");
  });
});

describe("same-origin redirects are signed anew for the new path", () => {
  it.each([
    // [status, method, method after, body kept]
    [301, "GET", "GET", false],
    [301, "POST", "GET", false],
    [301, "PUT", "PUT", true],
    [302, "POST", "GET", false],
    [302, "DELETE", "DELETE", false],
    [303, "POST", "GET", false],
    [303, "PUT", "GET", false],
    [303, "HEAD", "HEAD", false],
    [307, "POST", "POST", true],
    [308, "PATCH", "PATCH", true],
  ] as const)("%i after %s: %s, body kept %s", async (status, method, after, kept) => {
    const hasBody = method !== "GET" && method !== "HEAD" && method !== "DELETE";
    const response = await signedFetch()(redirect(a.server.url, status, "/landing"), {
      method,
      body: hasBody ? "payload" : undefined,
      headers: hasBody ? { "content-type": "text/plain" } : {},
    });
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(a.seen.map((s) => `${s.method} ${new URL(s.url, a.server.url).pathname}`)).toEqual([
      `${method} /r`,
      `${after} /landing`,
    ]);
    const landed = a.seen[1] as Seen;
    await expectSignedFor(a.seen[0] as Seen, a.server.url);
    await expectSignedFor(landed, a.server.url);
    expect(new TextDecoder().decode(landed.body)).toBe(kept ? "payload" : "");
    if (!kept) expect(header(landed, "content-type")).toBeUndefined();
    expect(b.seen).toHaveLength(0);
  });
});

describe("the redirect limit and modes", () => {
  it("follows at most maxRedirects, then rejects; each request signed for what it asked", async () => {
    await expect(signedFetch({ maxRedirects: 3 })(`${a.server.url}/loop`)).rejects.toThrow(/more than 3 redirects/);
    expect(a.seen).toHaveLength(4);
    for (const seen of a.seen) await expectSignedFor(seen, a.server.url);
  });

  it('returns a redirect under redirect: "manual" and rejects under "error", following nothing', async () => {
    const manual = await signedFetch()(redirect(a.server.url, 302, "/landing"), { redirect: "manual" });
    expect(manual.status).toBe(302);
    await manual.body?.cancel();
    await expect(signedFetch()(redirect(a.server.url, 302, "/landing"), { redirect: "error" })).rejects.toThrow(
      TypeError,
    );
    expect(a.seen.map((s) => new URL(s.url, a.server.url).pathname)).toEqual(["/r", "/r"]);
  });

  it("rejects a Location that is not http(s), sending nothing more", async () => {
    await expect(signedFetch()(redirect(a.server.url, 302, "file:///etc/passwd"))).rejects.toThrow(/only http/);
    expect(a.seen).toHaveLength(1);
  });

  it("returns a redirect without Location as the final response", async () => {
    const response = await signedFetch()(`${a.server.url}/r?status=302`);
    expect(response.status).toBe(302);
    await response.body?.cancel();
  });
});

describe("property: nothing signed reaches a server it was not made for", () => {
  const statuses = [301, 302, 303, 307, 308] as const;
  const methods = ["GET", "POST", "PUT"] as const;
  const cases = statuses.flatMap((status) =>
    methods.flatMap((method) => [false, true].map((allowed) => [status, method, allowed] as const)),
  );
  it.each(cases)("%i %s, cross-origin allowed %s", async (status, method, allowed) => {
    const body = method === "GET" ? undefined : "payload";
    const response = await signedFetch({ crossOriginRedirects: allowed })(
      redirect(a.server.url, status, redirect(b.server.url, status, `${a.server.url}/landing`)),
      { method, body, headers: { authorization: "Bearer t0k3n", ...(body ? { "content-type": "text/plain" } : {}) } },
    );
    await response.body?.cancel();
    expect(b.seen).toHaveLength(allowed ? 1 : 0);
    expect(a.seen).toHaveLength(allowed ? 2 : 1);
    for (const seen of a.seen) await expectSignedFor(seen, a.server.url);
    for (const seen of b.seen) {
      await expectSignedFor(seen, b.server.url);
      for (const name of CREDENTIALS) expect(header(seen, name)).toBeUndefined();
    }
    if (!allowed)
      for (const name of [...SIGNED_FIELDS, ...CREDENTIALS])
        expect(b.seen.flatMap((s) => header(s, name) ?? [])).toEqual([]);
  });
});
