import { describe, expect, it } from "vitest";
import {
  DEFAULT_FETCH_TIMEOUT_MS,
  DIRECTORY_MEDIA_TYPE,
  type FetchFunction,
  fetchKeySet,
  KEY_SET_ACCEPT,
} from "../../../worker/discovery/index.ts";
import { scenarioUrl, server, stats, statsEventually } from "./server.ts";

const loopback = { unsafeAllowLoopback: true } as const;

// Outcomes only, never durations: a timeout is proved by the deadline's own message (which names the timeout in
// force) and by the server seeing Signet leave; a cap by the bytes the server got to send. Generous test
// timeouts, so that a busy machine cannot fail a case.
describe("fetchKeySet against the local directory server", { timeout: 30_000 }, () => {
  it("fetches a valid signed directory with its body, headers and caching fields", async () => {
    const { url, path } = scenarioUrl("valid", { cc: "max-age=600", age: "5" });
    const result = await fetchKeySet(url, loopback);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.mediaType).toBe(DIRECTORY_MEDIA_TYPE);
    expect(JSON.parse(result.text).keys.map((k: { kid: string }) => k.kid)).toEqual([
      server.a.thumbprint,
      server.b.thumbprint,
    ]);
    expect(result.bytes.byteLength).toBe(new TextEncoder().encode(result.text).byteLength);
    expect(result.caching).toMatchObject({ cacheControl: "max-age=600", age: "5" });
    expect(result.headers.get("signature-input")).toContain('tag="http-message-signatures-directory"');
    expect(result.headers.get("content-digest")).toMatch(/^sha-256=:/);
    expect((await stats(path)).count).toBe(1);
  });

  it("refuses a URL the egress guard refuses, without fetching", async () => {
    const { url, path } = scenarioUrl("valid");
    const result = await fetchKeySet(url); // no unsafeAllowLoopback
    expect(result).toMatchObject({ ok: false, code: "egress_refused" });
    expect((await stats(path)).count).toBe(0);
  });

  it("sends GET, redirect: manual, the Accept header and an abort signal", async () => {
    let seen: { input: string; init: RequestInit } | undefined;
    const spy: FetchFunction = async (input, init) => {
      seen = { input, init };
      return new Response('{"keys":[]}', { headers: { "content-type": DIRECTORY_MEDIA_TYPE } });
    };
    const result = await fetchKeySet("https://agent.example/.well-known/http-message-signatures-directory", {
      fetch: spy,
    });
    expect(result.ok).toBe(true);
    expect(seen?.input).toBe("https://agent.example/.well-known/http-message-signatures-directory");
    expect(seen?.init.method).toBe("GET");
    expect(seen?.init.redirect).toBe("manual");
    expect(seen?.init.signal).toBeInstanceOf(AbortSignal);
    expect(new Headers(seen?.init.headers).get("accept")).toBe(KEY_SET_ACCEPT);
    expect(KEY_SET_ACCEPT).toBe(
      "application/http-message-signatures-directory+json, application/jwk-set+json;q=0.9, application/json;q=0.8",
    );
  });

  it("times out on slow headers within the timeout, and the server sees the client leave", async () => {
    const { url, path } = scenarioUrl("slow-headers", { delay: "10000" });
    const result = await fetchKeySet(url, { ...loopback, timeoutMs: 400 });
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    expect(!result.ok && result.message).toMatch(/timed out after 400 ms before the response headers/);
    expect((await statsEventually(path, (s) => s.aborted > 0)).aborted).toBe(1);
  });

  it(`applies the default timeout of ${DEFAULT_FETCH_TIMEOUT_MS} ms`, async () => {
    const { url, path } = scenarioUrl("slow-headers", { delay: "10000" });
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    expect(!result.ok && result.message).toMatch(
      new RegExp(`timed out after ${DEFAULT_FETCH_TIMEOUT_MS} ms before the response headers`),
    );
    expect((await statsEventually(path, (s) => s.aborted > 0)).aborted).toBe(1);
  });

  it("bounds a body that trickles in after prompt headers by the same deadline", async () => {
    const { url, path } = scenarioUrl("trickle");
    const result = await fetchKeySet(url, { ...loopback, timeoutMs: 500 });
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    expect(!result.ok && result.message).toMatch(/timed out after 500 ms while reading the body/);
    const seen = await statsEventually(path, (s) => s.aborted > 0);
    expect(seen.aborted).toBe(1);
    expect(seen.bytesSent).toBeLessThan(100);
  });

  it("stops reading a 1 GiB chunked body as soon as the cap is passed", async () => {
    const { url, path } = scenarioUrl("huge");
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_rejected" });
    expect(!result.ok && result.message).toMatch(/larger than 65536 bytes/);
    const seen = await statsEventually(path, (s) => s.aborted > 0);
    expect(seen.aborted).toBe(1);
    // Only what fits in socket buffers was ever written: a few MiB of the GiB.
    expect(seen.bytesSent).toBeLessThan(32 * 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await stats(path)).bytesSent).toBe(seen.bytesSent);
  });

  it("refuses a declared Content-Length over the cap before reading", async () => {
    const { url, path } = scenarioUrl("huge", { declared: "1" });
    const result = await fetchKeySet(url, { ...loopback, maxBytes: 1000 });
    expect(result).toMatchObject({ ok: false, code: "directory_rejected" });
    expect(!result.ok && result.message).toMatch(/declared a body of 1073741824 bytes; at most 1000/);
    expect((await statsEventually(path, (s) => s.aborted > 0)).aborted).toBe(1);
  });

  it("honours a smaller byte cap on a small body", async () => {
    const { url } = scenarioUrl("valid");
    const result = await fetchKeySet(url, { ...loopback, maxBytes: 50 });
    expect(result).toMatchObject({ ok: false, code: "directory_rejected" });
  });

  it("reports a connection reset before the response as unreachable", async () => {
    const { url, path } = scenarioUrl("reset");
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    // The reset itself, not the timeout, ended it.
    expect(!result.ok && result.message).toMatch(/could not be fetched/);
    expect((await stats(path)).count).toBeGreaterThanOrEqual(1);
  });

  it("reports a connection reset in the middle of the body as unreachable", async () => {
    const { url } = scenarioUrl("reset-mid-body");
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    // The reset itself, not the timeout, ended it.
    expect(!result.ok && result.message).not.toMatch(/timed out/);
  });

  it.each([301, 302, 303, 307, 308])(
    "refuses a %i redirect to a private address without following it",
    async (status) => {
      const { url } = scenarioUrl("redirect", { status: String(status) });
      const result = await fetchKeySet(url, loopback);
      expect(result).toMatchObject({ ok: false, code: "directory_rejected", status });
      expect(!result.ok && result.message).toContain("http://10.0.0.1/");
      expect(!result.ok && result.message).toContain("never fetched through redirects");
    },
  );

  it("never follows a redirect, even to an allowed target", async () => {
    const target = scenarioUrl("valid");
    const { url } = scenarioUrl("redirect", { to: target.url });
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_rejected", status: 302 });
    expect((await stats(target.path)).count).toBe(0);
  });

  it.each([404, 500, 204, 206])("refuses status %i", async (code) => {
    const { url } = scenarioUrl("status", { code: String(code) });
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_rejected", status: code });
    expect(!result.ok && result.message).toContain(`answered ${code}; only 200 is accepted`);
  });

  it("reads Retry-After of a 503", async () => {
    const { url } = scenarioUrl("status", { code: "503", "retry-after": "120" });
    const result = await fetchKeySet(url, loopback);
    expect(result).toMatchObject({ ok: false, code: "directory_rejected", status: 503, retryAfterSeconds: 120 });
  });

  describe("media types", () => {
    const cases: ReadonlyArray<readonly [string, "directory" | "jwks", boolean, boolean]> = [
      // [Content-Type, kind, accepted strictly, accepted with lenientDirectoryMediaType]
      ["application/http-message-signatures-directory+json", "directory", true, true],
      ["Application/HTTP-Message-Signatures-Directory+JSON; charset=utf-8", "directory", true, true],
      ["application/json", "directory", false, true],
      ["application/jwk-set+json", "directory", false, true],
      ["text/html", "directory", false, false],
      ["application/http-message-signatures-directory", "directory", false, false],
      ["application/json", "jwks", true, true],
      ["application/jwk-set+json", "jwks", true, true],
      ["application/http-message-signatures-directory+json", "jwks", true, true],
      ["text/plain", "jwks", false, false],
    ];
    it.each(cases)("%s for %s: strict %s, lenient %s", async (type, kind, strict, lenient) => {
      const { url } = scenarioUrl("wrong-type", { type });
      const plain = await fetchKeySet(url, { ...loopback, kind });
      const loose = await fetchKeySet(url, { ...loopback, kind, lenientDirectoryMediaType: true });
      expect(plain.ok).toBe(strict);
      expect(loose.ok).toBe(lenient);
      if (!plain.ok) expect(plain).toMatchObject({ code: "directory_rejected", status: 200 });
    });
  });

  it("refuses a body that is not UTF-8", async () => {
    const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
    const result = await fetchKeySet("https://agent.example/jwks", {
      fetch: async () => new Response(bytes, { headers: { "content-type": DIRECTORY_MEDIA_TYPE } }),
    });
    expect(result).toMatchObject({ ok: false, code: "directory_rejected" });
    expect(!result.ok && result.message).toContain("not UTF-8");
  });

  it("turns a throwing fetch into directory_unreachable", async () => {
    const result = await fetchKeySet("https://agent.example/jwks", {
      fetch: async () => {
        throw new TypeError("DNS lookup failed");
      },
    });
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    // Signet's words for the kind of failure; the runtime's text stays out of the message.
    expect(!result.ok && result.message).toBe(
      "https://agent.example/jwks could not be fetched: the host name could not be resolved",
    );
  });

  it("is bounded even when the injected fetch ignores the abort signal", async () => {
    const never: FetchFunction = () => new Promise<Response>(() => {});
    const result = await fetchKeySet("https://agent.example/jwks", { fetch: never, timeoutMs: 100 });
    // The fetch never settles: only the deadline can have answered (a broken deadline hangs and times out).
    expect(result).toMatchObject({ ok: false, code: "directory_unreachable" });
    expect(!result.ok && result.message).toMatch(/timed out after 100 ms before the response headers/);
  });

  it("cancels the body of a rejected response", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(1024));
      },
      cancel() {
        cancelled = true;
      },
    });
    const result = await fetchKeySet("https://agent.example/jwks", {
      fetch: async () => new Response(body, { status: 500 }),
    });
    expect(result).toMatchObject({ ok: false, code: "directory_rejected", status: 500 });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(cancelled).toBe(true);
  });

  it("refuses nonsensical limits as programmer errors", async () => {
    await expect(fetchKeySet("https://agent.example/jwks", { timeoutMs: 0 })).rejects.toThrow(TypeError);
    await expect(fetchKeySet("https://agent.example/jwks", { maxBytes: Number.NaN })).rejects.toThrow(/maxBytes/);
  });
});
