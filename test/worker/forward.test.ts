import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { EchoedRequest } from "../../worker/demo-origin.ts";
import { rewriteOrigin } from "../../worker/forward.ts";
import app from "../../worker/index.ts";

/** The JSON that `test/worker/origin-server.ts` sends back. */
interface LocalOriginEcho {
  server: "local-origin";
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

describe("forwarding to the demo echo origin (ORIGIN_URL = demo:echo)", () => {
  it("passes method, path, query, headers and body through unchanged", async () => {
    const response = await exports.default.fetch("https://signet.example/api/items/42?sort=desc&tag=a&tag=b", {
      method: "PATCH",
      headers: { "content-type": "text/plain", "x-trace": "abc123", accept: "application/json" },
      body: "payload with ünïcode",
    });

    expect(response.status).toBe(200);
    const echoed: EchoedRequest = await response.json();
    expect(echoed.method).toBe("PATCH");
    expect(echoed.url).toBe("https://signet.example/api/items/42?sort=desc&tag=a&tag=b");
    expect(echoed.headers).toMatchObject({
      "content-type": "text/plain",
      "x-trace": "abc123",
      accept: "application/json",
    });
    expect(echoed.body).toBe("payload with ünïcode");
  });

  it("echoes a GET without a body as an empty body", async () => {
    const response = await exports.default.fetch("https://signet.example/hello");
    const echoed: EchoedRequest = await response.json();
    expect(echoed).toMatchObject({ method: "GET", url: "https://signet.example/hello", body: "" });
  });
});

describe("forwarding to a real HTTP origin on 127.0.0.1", async () => {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const env = {
    ORIGIN_URL: inject("localOriginUrl"),
    SIGNET_ATTESTATION_KEY: JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)),
  };

  it("rewrites only scheme, host and port and forwards the body it digested", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("chunk-1;"));
        controller.enqueue(new TextEncoder().encode("chunk-2"));
        controller.close();
      },
    });
    const request = new Request("https://signet.example/v1/orders?id=7&dry-run", {
      method: "POST",
      headers: { "x-trace": "def456", "content-type": "application/octet-stream" },
      body,
    });

    const response = await app.fetch(request, env);

    expect(response.status).toBe(200);
    const echoed: LocalOriginEcho = await response.json();
    expect(echoed).toMatchObject({
      server: "local-origin",
      method: "POST",
      url: "/v1/orders?id=7&dry-run",
      body: "chunk-1;chunk-2",
    });
    expect(echoed.headers["x-trace"]).toBe("def456");
    // A body within the digest limit is read to bind it to the attestation, and goes out with its length.
    expect(echoed.headers["content-length"]).toBe("15");
    expect(echoed.headers["content-digest"]).toMatch(/^sha-256=:/);
    expect(echoed.headers.host).toBe(new URL(env.ORIGIN_URL).host);
  });

  it("streams a body beyond the digest limit on unread (chunked), marked Signet-Body: unbound", async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0x61);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 5) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const request = new Request("https://signet.example/v1/upload", { method: "PUT", body });
    const response = await app.fetch(request, env);
    expect(response.status).toBe(200);
    const echoed: LocalOriginEcho = await response.json();
    expect(echoed.body.length).toBe(5 * 256 * 1024);
    expect(echoed.headers["transfer-encoding"]).toBe("chunked");
    expect(echoed.headers["signet-body"]).toBe("unbound");
    expect(echoed.headers["content-digest"]).toBeUndefined();
  }, 60_000);

  it("returns the origin's redirect instead of following it", async () => {
    const response = await app.fetch(new Request("https://signet.example/redirect"), env);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/elsewhere");
  });
});

describe("rewriteOrigin", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("keeps path, query and fragment", () => {
    expect(rewriteOrigin("https://signet.example/a/b?c=1#d", "http://127.0.0.1:9000").href).toBe(
      "http://127.0.0.1:9000/a/b?c=1#d",
    );
  });

  it("drops the incoming port when the origin has the default one", () => {
    expect(rewriteOrigin("http://localhost:8787/x", "https://origin.example").href).toBe("https://origin.example/x");
  });

  it.each([
    "not a url",
    "ftp://origin.example",
    "https://user:pass@origin.example",
    "https://origin.example/base",
    "https://origin.example/?q=1",
  ])("rejects ORIGIN_URL %s", (origin) => {
    expect(() => rewriteOrigin("https://signet.example/", origin)).toThrow(TypeError);
  });

  it("makes a misconfigured Worker fail closed with 503 misconfigured, and logs why", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const response = await app.fetch(new Request("https://signet.example/"), {
      ORIGIN_URL: "https://origin.example/base",
      SIGNET_ATTESTATION_KEY: "{}",
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await response.json()).toMatchObject({ reason: "misconfigured", type: "urn:signet:problem:misconfigured" });
    expect(logged).toHaveBeenCalledWith(expect.stringContaining("ORIGIN_URL must be an http(s) origin"));
  });
});
