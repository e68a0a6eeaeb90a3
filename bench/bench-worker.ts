/**
 * The bench Worker: loaded into workerd by `bench/run.ts` (through Miniflare) to measure what cannot be timed
 * from inside workerd itself. Each `/run` request repeats one case `n` times and answers when done; the runner
 * times many such requests from Node. (Inside workerd, `Date.now()` and `performance.now()` only move on I/O,
 * so a loop of CPU-bound verifications cannot time itself.)
 *
 * - `POST /setup`: the signed request, the agent's public JWK and the policy, sent by the runner.
 * - `GET /run?case=<case>&n=<n>`: `signet` (verifyRequest, pinned key), `signet-discovered` (verifyRequest, key
 *   fetched once by the key directory cache and held warm in isolate memory), `webcrypto` (bare
 *   `crypto.subtle.verify` of the same signature base), `peer` (`http-message-sig`'s `verifySignature`), `noop`.
 * - `POST /memory/reset`, `POST /memory/fill?count=<n>`: a key directory cache configured as the Worker's
 *   (default bound, 1,000 key sets), fed `n` more distinct agents whose directories a stub fetch serves.
 *
 * @module
 */
import { type Verifier, verifySignature, webcrypto } from "http-message-sig";
import { generateAgentKey } from "../agent/index.ts";
import { keyCacheFor } from "../worker/configuration.ts";
import { DIRECTORY_MEDIA_TYPE, type KeyDirectoryCache, type KeySource } from "../worker/discovery/index.ts";
import { parsePolicy } from "../worker/policy/parse-policy.ts";
import type { Policy } from "../worker/policy/policy.ts";
import type { Jwk } from "../worker/rfc9421/index.ts";
import { requestFromFetch } from "../worker/rfc9421/index.ts";
import { requestOutcome, verifyRequest } from "../worker/verification/verify-request.ts";

/** What the runner sends to `/setup`. */
export interface BenchSetup {
  /** The policy as JSON, with the agent pinned. */
  readonly policy: string;
  /** The agent's public JWK (for the bare and peer cases, and the stub directory). */
  readonly publicJwk: Jwk;
  /** The thumbprint of `publicJwk`, which is the signature's `keyid`. */
  readonly keyid: string;
  /** The signed request: URL, method and header lines. */
  readonly request: { readonly url: string; readonly method: string; readonly headers: [string, string][] };
}

/** The cases `/run` knows. */
export const CASES = ["noop", "webcrypto", "signet", "signet-discovered", "peer"] as const;
type Case = (typeof CASES)[number];

interface Prepared {
  readonly policy: Policy;
  readonly pinnedKeys: KeySource;
  readonly discoveredKeys: KeySource;
  readonly request: Request;
  readonly cryptoKey: CryptoKey;
  readonly base: Uint8Array<ArrayBuffer>;
  readonly signature: Uint8Array<ArrayBuffer>;
  readonly peerVerifier: Verifier;
  readonly keyid: string;
}

let prepared: Prepared | undefined;
let memoryCache: KeyDirectoryCache | undefined;
let memoryAgents = 0;

/** A stub `fetch` that serves a one-key directory for any URL: the key is looked up by host name. */
function stubDirectoryFetch(keysByHost: Map<string, Jwk>) {
  return async (input: RequestInfo | URL): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const jwk = keysByHost.get(url.hostname);
    if (jwk === undefined) return new Response("no such agent", { status: 404 });
    return new Response(JSON.stringify({ keys: [jwk] }), {
      headers: { "content-type": DIRECTORY_MEDIA_TYPE, "cache-control": "max-age=86400" },
    });
  };
}

async function setup(body: BenchSetup): Promise<Response> {
  const policy = parsePolicy(body.policy);
  // The Worker's own construction, minus the data-centre Cache API tier (not what is being measured here).
  const pinnedKeys = keyCacheFor(policy, { cache: null });
  const request = new Request(body.request.url, { method: body.request.method, headers: body.request.headers });
  const agentHost = new URL(policy.pinned[0]?.agent ?? "https://missing.invalid").hostname;
  const discoveredKeys = keyCacheFor(parsePolicy(JSON.stringify({ ...JSON.parse(body.policy), pinned: {} })), {
    cache: null,
    fetch: stubDirectoryFetch(new Map([[agentHost, body.publicJwk]])),
  });
  // The signature base and bytes, exactly as Signet computed them.
  const first = await verifyRequest(requestFromFetch(request), { policy, keys: pinnedKeys });
  const label = first.labels[0];
  if (requestOutcome(first) !== "verified" || label?.base === undefined || label.signature === undefined) {
    return Response.json({ ok: false, verification: first }, { status: 500 });
  }
  const jwk: JsonWebKey = { kty: "OKP", crv: "Ed25519", x: body.publicJwk.x as string };
  const cryptoKey = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["verify"]);
  const ready: Prepared = {
    policy,
    pinnedKeys,
    discoveredKeys,
    request,
    cryptoKey,
    base: new Uint8Array(new TextEncoder().encode(label.base)),
    signature: new Uint8Array(label.signature),
    peerVerifier: webcrypto.verifier(cryptoKey),
    keyid: body.keyid,
  };
  prepared = ready;
  // Every case must succeed once before it is timed.
  const checks: Record<string, boolean> = {};
  for (const name of CASES) checks[name] = await runOnce(name, ready);
  return Response.json({ ok: Object.values(checks).every(Boolean), checks, base: label.base });
}

async function runOnce(name: Case, p: Prepared): Promise<boolean> {
  switch (name) {
    case "noop":
      return true;
    case "webcrypto":
      return crypto.subtle.verify("Ed25519", p.cryptoKey, p.signature, p.base);
    case "signet":
    case "signet-discovered": {
      const keys = name === "signet" ? p.pinnedKeys : p.discoveredKeys;
      const verification = await verifyRequest(requestFromFetch(p.request), { policy: p.policy, keys });
      return requestOutcome(verification) === "verified";
    }
    case "peer": {
      // The same checks a Web Bot Auth verifier asks of the peer: parameters, @authority covered, Ed25519 only,
      // the key found by keyid (warm, like Signet's pinned key).
      const verified = await verifySignature(p.request, {
        policy: {
          algorithms: ["ed25519"],
          requiredComponents: ["@authority"],
          requiredParameters: ["created", "expires", "keyid"],
          clockSkew: p.policy.freshness.clockSkew,
        },
        resolveVerifier: (candidate) => {
          if (candidate.parameters.keyid !== p.keyid) throw new Error("unknown keyid");
          return p.peerVerifier;
        },
      });
      return verified.parameters.tag === "web-bot-auth";
    }
  }
}

async function run(url: URL): Promise<Response> {
  const name = url.searchParams.get("case") as Case;
  const n = Number(url.searchParams.get("n") ?? "1");
  if (prepared === undefined) return new Response("call /setup first", { status: 409 });
  if (!CASES.includes(name) || !Number.isSafeInteger(n) || n < 0) return new Response("bad case or n", { status: 400 });
  let failures = 0;
  for (let i = 0; i < n; i++) if (!(await runOnce(name, prepared))) failures++;
  return Response.json({ n, failures });
}

/** A fresh key directory cache as the Worker builds it (default bound), fed by a stub fetch. */
const memoryKeys = new Map<string, Jwk>();

function memoryReset(): Response {
  memoryKeys.clear();
  memoryAgents = 0;
  memoryCache = keyCacheFor(parsePolicy(""), { cache: null, fetch: stubDirectoryFetch(memoryKeys) });
  return Response.json({ size: memoryCache.size });
}

/** Makes `count` new agents (fresh Ed25519 keys), each looked up once, so each directory is fetched and held. */
async function memoryFill(count: number): Promise<Response> {
  if (memoryCache === undefined) return new Response("call /memory/reset first", { status: 409 });
  let failures = 0;
  for (let i = 0; i < count; i++) {
    const host = `agent-${memoryAgents++}.bench.example`;
    const { publicJwk, thumbprint } = await generateAgentKey("ed25519");
    memoryKeys.set(host, publicJwk);
    const found = await memoryCache.findKey(
      { keySetUrl: `https://${host}/.well-known/http-message-signatures-directory`, kind: "directory", declared: host },
      thumbprint,
    );
    // The stub's copy is dropped once the cache holds (or has evicted) the set: only the cache keeps keys alive.
    memoryKeys.delete(host);
    if (!found.ok) failures++;
  }
  return Response.json({ agents: memoryAgents, size: memoryCache.size, failures });
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/setup":
        return setup((await request.json()) as BenchSetup);
      case "/run":
        return run(url);
      case "/memory/reset":
        return memoryReset();
      case "/memory/fill":
        return memoryFill(Number(url.searchParams.get("count") ?? "0"));
      case "/ping":
        return new Response("ok");
      default:
        return new Response("not found", { status: 404 });
    }
  },
};
