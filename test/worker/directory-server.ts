/**
 * Vitest global setup for the `worker` project: a real HTTP key directory server on 127.0.0.1, started in Node,
 * that misbehaves on request. The discovery tests (inside workerd) fetch from it and read its URL, its keys and
 * its per-path statistics with `inject("directoryServer")` and `GET /count?path=…`.
 *
 * Routes are `/s/<scenario>/<token>/<anything>`: `<token>` makes every test's URL (and so its counter) unique.
 * Query parameters tune a scenario:
 *
 * - `cc`: the `Cache-Control` value (default `max-age=3600`; `none` sends no `Cache-Control`)
 * - `expires`: an `Expires` value (with `Date` set to now); `age`: an `Age` value
 * - `delay`: milliseconds to wait before the response headers
 * - `type`: the `Content-Type` (for `wrong-type`)
 * - `code`, `retry-after`: the status of `status`
 * - `status`, `to`: the status and `Location` of `redirect`
 * - `fail`: comma-separated request numbers (1-based, per path) that `flaky` answers with 500
 * - `declared=1`: `huge` sends a `Content-Length` of 1 GiB instead of chunked encoding
 * - `sigttl`: seconds the directory response signatures of `valid` stay valid (default one day)
 *
 * A path segment `name=value` after the token sets the query parameter `name` when the query does not: key set
 * URLs taken from a `Signature-Agent` member lose their query, so the gateway tests put the parameters in the path
 * (`/s/status/<token>/code=404/keys.json`).
 *
 * The root well-known URL `/.well-known/http-message-signatures-directory` serves the `valid` directory, so that an
 * origin member `http://127.0.0.1:<port>` (or `http://localhost:<port>`) resolves. It is shared by every test that
 * uses it: count on it only for requests whose host nobody else uses.
 *
 * `closedUrl` is the origin of a port that was bound and released at setup, so nothing listens there.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { type GeneratedKey, generateAgentKey } from "../../agent/index.ts";
import { buildDirectory, DIRECTORY_MEDIA_TYPE } from "../../directory/index.ts";
import { type Jwk, jwkThumbprint } from "../../worker/rfc9421/index.ts";
import { startLocalServer } from "../support/local-server.ts";
import rfcKeyFile from "../vectors/rfc9421-keys.json";

/** A key the server publishes, as the tests see it. */
export interface ServedKey {
  readonly thumbprint: string;
  readonly publicJwk: Jwk;
  readonly privateJwk: Jwk;
}

/** What the tests learn about the server. */
export interface DirectoryServerInfo {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The two signing keys of the valid directories. */
  readonly a: ServedKey;
  readonly b: ServedKey;
  /** Thumbprint of the small-order Ed25519 key listed by `weak`. */
  readonly weakThumbprint: string;
  /** Thumbprint of the RFC 9421 Ed25519 test key listed by `test-keys`. */
  readonly testKeyThumbprint: string;
  /** `http://127.0.0.1:<port>` where nothing listens (a connection there is refused). */
  readonly closedUrl: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The key directory server of `test/worker/directory-server.ts`. */
    directoryServer: DirectoryServerInfo;
  }
}

/** Per-path statistics, read by the tests through `/count`. */
interface PathStats {
  count: number;
  bytesSent: number;
  /** Responses whose client went away before the response was complete. */
  aborted: number;
}

const GIB = 1024 ** 3;
const ROOT_DIRECTORY_PATH = "/.well-known/http-message-signatures-directory";
const WEAK_X = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; // the identity point (order 1)

/**
 * Starts the directory server and provides {@link DirectoryServerInfo} to the tests.
 *
 * @param project - The Vitest project being set up.
 * @returns A teardown function that closes the server.
 *
 * @example
 * ```ts
 * // vitest.config.ts
 * test: { globalSetup: ["test/worker/directory-server.ts"] }
 * // in a test
 * const { url, a } = inject("directoryServer");
 * ```
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const a = await generateAgentKey("ed25519");
  const b = await generateAgentKey("ed25519");
  const crowd = await Promise.all(Array.from({ length: 33 }, () => generateAgentKey("ed25519")));
  const weakJwk: Jwk = { kty: "OKP", crv: "Ed25519", x: WEAK_X };
  const testKey = (rfcKeyFile.keys as Record<string, { jwk: Jwk }>)["test-key-ed25519"]?.jwk as Jwk;
  const testPublic: Jwk = { kty: testKey.kty, crv: testKey.crv, x: testKey.x };
  const stats = new Map<string, PathStats>();
  const statsFor = (path: string) => {
    let entry = stats.get(path);
    if (entry === undefined) {
      entry = { count: 0, bytesSent: 0, aborted: 0 };
      stats.set(path, entry);
    }
    return entry;
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://directory.test");
    if (url.pathname === "/count") {
      const path = url.searchParams.get("path") ?? "";
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(statsFor(path)));
      return;
    }
    const rootDirectory = url.pathname === ROOT_DIRECTORY_PATH;
    const match = /^\/s\/([a-z-]+)\/[^/]+/.exec(url.pathname);
    if (match === null && !rootDirectory) {
      response.writeHead(404, { "content-type": "text/plain" }).end("no such scenario");
      return;
    }
    const scenario = match === null ? "valid" : (match[1] as string);
    for (const segment of url.pathname.split("/").slice(4)) {
      const eq = segment.indexOf("=");
      if (eq <= 0) continue;
      const name = decodeURIComponent(segment.slice(0, eq));
      if (!url.searchParams.has(name)) url.searchParams.set(name, decodeURIComponent(segment.slice(eq + 1)));
    }
    const stat = statsFor(url.pathname);
    stat.count += 1;
    const nth = stat.count;
    response.on("close", () => {
      if (!response.writableFinished) stat.aborted += 1;
    });
    const q = url.searchParams;
    const authority = request.headers.host ?? "127.0.0.1";
    const delay = Number(q.get("delay") ?? 0);
    if (delay > 0) {
      const waited = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), delay);
        response.once("close", () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (!waited) return;
    }

    const caching = (): Record<string, string> => {
      const headers: Record<string, string> = {};
      const cc = q.get("cc") ?? "max-age=3600";
      if (cc !== "none") headers["cache-control"] = cc;
      const expires = q.get("expires");
      if (expires !== null) {
        headers.expires = expires;
        headers.date = new Date().toUTCString();
      }
      const age = q.get("age");
      if (age !== null) headers.age = age;
      return headers;
    };
    const send = (status: number, headers: Record<string, string>, body: string) => {
      stat.bytesSent += Buffer.byteLength(body);
      response.writeHead(status, headers).end(body);
    };
    const sendDirectory = async (
      keys: GeneratedKey[],
      override: { authority?: string; created?: number; expires?: number } = {},
    ) => {
      const now = Math.floor(Date.now() / 1000);
      const built = await buildDirectory({
        keys: keys.map((k) => ({ jwk: k.privateJwk })),
        authority: override.authority ?? authority,
        now,
        created: override.created,
        expires: override.expires,
      });
      const headers: Record<string, string> = {};
      for (const [name, value] of built.headers) headers[name.toLowerCase()] = value;
      delete headers["cache-control"];
      send(200, { ...headers, ...caching() }, built.body);
    };
    const sendJson = (document: unknown, type = DIRECTORY_MEDIA_TYPE) =>
      send(200, { "content-type": type, ...caching() }, JSON.stringify(document));
    const now = Math.floor(Date.now() / 1000);

    switch (scenario) {
      case "valid":
      case "slow-headers": {
        const validity = q.get("sigttl");
        return sendDirectory([a, b], validity === null ? {} : { created: now, expires: now + Number(validity) });
      }
      case "unsigned":
        return sendJson({ keys: [a.publicJwk, b.publicJwk] });
      case "partial": {
        const built = await buildDirectory({ keys: [{ jwk: a.privateJwk }, { jwk: b.publicJwk }], authority, now });
        const headers: Record<string, string> = {};
        for (const [name, value] of built.headers) headers[name.toLowerCase()] = value;
        return send(200, { ...headers, ...caching() }, built.body);
      }
      case "wrong-authority":
        return sendDirectory([a, b], { authority: "evil.example" });
      case "expired-sig":
        return sendDirectory([a, b], { created: now - 7200, expires: now - 3600 });
      case "future-sig":
        return sendDirectory([a, b], { created: now + 3600, expires: now + 7200 });
      case "digest-mismatch": {
        const built = await buildDirectory({ keys: [{ jwk: a.privateJwk }], authority, now });
        const headers: Record<string, string> = {};
        for (const [name, value] of built.headers) headers[name.toLowerCase()] = value;
        return send(200, { ...headers, ...caching() }, `${built.body} `);
      }
      case "rotate":
        return sendDirectory(nth === 1 ? [a] : [b]);
      case "rotate-add":
        return sendDirectory(nth === 1 ? [a] : [a, b]);
      case "flaky": {
        const failing = (q.get("fail") ?? "").split(",").map(Number);
        if (failing.includes(nth)) return send(500, { "content-type": "text/plain" }, "flaky failure");
        return sendDirectory([a, b]);
      }
      case "trickle": {
        response.writeHead(200, { "content-type": DIRECTORY_MEDIA_TYPE });
        response.write('{"keys":[');
        const timer = setInterval(() => {
          stat.bytesSent += 1;
          response.write(" ");
        }, 100);
        const stop = setTimeout(() => {
          clearInterval(timer);
          response.end("]}");
        }, 60_000);
        response.once("close", () => {
          clearInterval(timer);
          clearTimeout(stop);
        });
        return;
      }
      case "huge": {
        const headers: Record<string, string> = { "content-type": DIRECTORY_MEDIA_TYPE };
        if (q.get("declared") === "1") headers["content-length"] = String(GIB);
        response.writeHead(200, headers);
        const chunk = Buffer.alloc(64 * 1024, 0x20); // whitespace: a valid JSON prefix forever
        let closed = false;
        response.once("close", () => {
          closed = true;
        });
        const pump = () => {
          while (!closed && stat.bytesSent < GIB) {
            stat.bytesSent += chunk.length;
            if (!response.write(chunk)) {
              response.once("drain", pump);
              return;
            }
          }
          if (!closed) response.end();
        };
        pump();
        return;
      }
      case "reset":
        request.socket.destroy();
        return;
      case "reset-mid-body": {
        response.writeHead(200, { "content-type": DIRECTORY_MEDIA_TYPE, "content-length": "5000" });
        response.write('{"keys":[');
        setTimeout(() => request.socket.destroy(), 50);
        return;
      }
      case "redirect":
        return send(
          Number(q.get("status") ?? 302),
          { location: q.get("to") ?? "http://10.0.0.1/.well-known/http-message-signatures-directory" },
          "",
        );
      case "status": {
        const headers: Record<string, string> = { "content-type": "text/plain" };
        const retryAfter = q.get("retry-after");
        if (retryAfter !== null) headers["retry-after"] = retryAfter;
        return send(Number(q.get("code") ?? 500), headers, "status scenario");
      }
      case "wrong-type":
        return sendJson({ keys: [a.publicJwk] }, q.get("type") ?? "text/html");
      case "malformed":
        return send(200, { "content-type": DIRECTORY_MEDIA_TYPE }, '{"keys":[');
      case "not-jwks":
        return sendJson({ key: a.publicJwk });
      case "empty":
        return sendJson({ keys: [] });
      case "private":
        return sendJson({ keys: [a.publicJwk, { ...b.publicJwk, d: b.privateJwk.d }] });
      case "duplicate-kids":
        return sendJson(
          {
            keys: [
              { ...a.publicJwk, kid: "shared-kid" },
              { ...b.publicJwk, kid: "shared-kid" },
            ],
          },
          "application/jwk-set+json",
        );
      case "kid-mismatch":
        return sendJson({ keys: [{ ...a.publicJwk, kid: "not-the-thumbprint" }, b.publicJwk] });
      case "too-many":
        return sendJson({ keys: crowd.map((k) => k.publicJwk) });
      case "weak":
        return sendJson({ keys: [weakJwk, a.publicJwk] });
      case "test-keys":
        return sendJson({ keys: [testPublic, a.publicJwk] });
      case "jwks":
        return sendJson({ keys: [{ ...a.publicJwk, kid: "agent-key-1" }, b.publicJwk] }, "application/jwk-set+json");
      default:
        return send(404, { "content-type": "text/plain" }, `unknown scenario ${scenario}`);
    }
  }

  const server = await startLocalServer(handle);
  const closedPort = await releasedPort();
  const served = (key: GeneratedKey): ServedKey => ({
    thumbprint: key.thumbprint,
    publicJwk: key.publicJwk,
    privateJwk: key.privateJwk,
  });
  project.provide("directoryServer", {
    url: server.url,
    a: served(a),
    b: served(b),
    weakThumbprint: await jwkThumbprint(weakJwk),
    testKeyThumbprint: await jwkThumbprint(testPublic),
    closedUrl: `http://127.0.0.1:${closedPort}`,
  });
  return () => server.close();
}

/** A port that was just bound on 127.0.0.1 and released again, so that connecting to it is refused. */
async function releasedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => probe.close((error) => (error ? reject(error) : resolve())));
  return port;
}
