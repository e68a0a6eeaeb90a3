/**
 * What one request may make Signet spend on keys (issue 12), through the whole Worker: separate requests never
 * stall each other's key lookups (driven through the Worker's own `fetch` entry, one request context each); the
 * per-request budget (labels judged, fetches started, one deadline) holds for every scheme and form, with fetch
 * counts asserted at the cap; servers that hang cost one deadline; and nothing a directory, metadata or JWKS
 * server sends ever reaches a problem body. Outcomes and counts only, never speed.
 */
import { exports, env as workerEnv } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aauthKeyCacheFor, keyCacheFor, keyLookupFor } from "../../../worker/configuration.ts";
import { createRequestBudget } from "../../../worker/discovery/index.ts";
import { parsePolicy } from "../../../worker/policy/parse-policy.ts";
import { MAX_DICTIONARY_MEMBERS, requestFromFetch } from "../../../worker/rfc9421/index.ts";
import { verifyRequest } from "../../../worker/verification/verify-request.ts";
import { count as aauthCount, server as aauthServer, newKey, REQUIRED, register } from "../aauth/helpers.ts";
import type { RegisteredResponse } from "../aauth-server.ts";
import {
  directory,
  echoOf,
  expectProblem,
  fetchCount,
  gatewayEnv,
  keySetUrl,
  loadAgentKey,
  send,
  signed,
  verifiedAgentOf,
} from "./gateway.ts";

const { a } = directory;
const ROUTE = { path: "/agents/*", require: "verified-agent" };
const policy = (extra: object = {}) => ({
  rules: [ROUTE, { path: "/any/*", require: "signature" }],
  discovery: { unsafeAllowLoopback: true, timeoutMs: 3000 },
  aauth: { resource: "https://resource.example" },
  ...extra,
});

/** Several Web Bot Auth signatures in one request: label `sig<i>` names agent `agents[i]`. */
async function multiSigned(url: string, agents: readonly string[], keyids?: readonly string[]): Promise<Request> {
  const key = await loadAgentKey(a.privateJwk);
  const parts = await Promise.all(
    agents.map((agent, i) => signed(url, { key, agent, label: `sig${i}`, keyid: keyids?.[i] })),
  );
  const headers = new Headers();
  for (const name of ["signature-input", "signature", "signature-agent"]) {
    headers.set(name, parts.map((p) => p.headers.get(name)).join(", "));
  }
  return new Request(url, { headers });
}

/** A request with `n` AAuth labels whose signatures are junk, each with the Signature-Key member `member(i)`. */
function aauthJunk(n: number, member: (i: number) => string, url = "https://resource.example/any/x"): Request {
  const components = REQUIRED.join(" ");
  const input: string[] = [];
  const signature: string[] = [];
  const keys: string[] = [];
  const junk = btoa(String.fromCharCode(...new Uint8Array(64).fill(7)));
  for (let i = 0; i < n; i++) {
    input.push(`s${i}=(${components});created=${Math.floor(Date.now() / 1000)}`);
    signature.push(`s${i}=:${junk}:`);
    keys.push(member(i));
  }
  return new Request(url, {
    headers: { "signature-input": input.join(", "), signature: signature.join(", "), "signature-key": keys.join(", ") },
  });
}

/** A request with `n` Web Bot Auth labels with junk signatures, all naming one agent. */
function webBotAuthJunk(n: number, agent: string): Request {
  const created = Math.floor(Date.now() / 1000);
  const input: string[] = [];
  const signature: string[] = [];
  const junk = btoa(String.fromCharCode(...new Uint8Array(64).fill(9)));
  for (let i = 0; i < n; i++) {
    input.push(
      `l${i}=("@authority" "signature-agent");created=${created};expires=${created + 60};keyid="k${i}";tag="web-bot-auth"`,
    );
    signature.push(`l${i}=:${junk}:`);
  }
  return new Request("https://signet.example/agents/x", {
    headers: { "signature-input": input.join(", "), signature: signature.join(", "), "signature-agent": `"${agent}"` },
  });
}

/** An AAuth server path that answers after `ms` (a hanging JWKS or metadata document). */
async function hanging(ms = 60_000): Promise<string> {
  const path = `/i/${crypto.randomUUID()}/jwks.json`;
  await register(path, [{ delayMs: ms, headers: { "content-type": "application/jwk-set+json" }, body: { keys: [] } }]);
  return path;
}

describe("no request can stall another's key lookup (separate requests through the Worker's own fetch)", () => {
  const saved = workerEnv.SIGNET_POLICY;
  beforeAll(() => {
    (workerEnv as { SIGNET_POLICY?: string }).SIGNET_POLICY = JSON.stringify(policy());
  });
  afterAll(() => {
    (workerEnv as { SIGNET_POLICY?: string }).SIGNET_POLICY = saved;
  });

  it("an expired signature naming an agent is refused without a lookup, and the agent's valid requests then verify", async () => {
    const set = keySetUrl("valid", { delay: "500" });
    const key = await loadAgentKey(a.privateJwk);
    const expired = await signed("https://signet.example/agents/x", {
      key,
      agent: set.url,
      created: Math.floor(Date.now() / 1000) - 1000,
    });
    await expectProblem(await exports.default.fetch(expired), "signature_expired");
    expect(await fetchCount(set.path)).toBe(0); // cheap checks first: no lookup was started
    const valid = await Promise.all(
      [1, 2, 3].map((i) => signed(`https://signet.example/agents/${i}`, { key, agent: set.url })),
    );
    const responses = await Promise.all(valid.map((r) => exports.default.fetch(r)));
    for (const response of responses) expect(verifiedAgentOf(await echoOf(response))?.agent).toBe(set.url);
  }, 30_000);

  it("a valid request whose client goes away mid-lookup does not lock the agent out", async () => {
    const set = keySetUrl("valid", { delay: "1000" });
    const key = await loadAgentKey(a.privateJwk);
    const first = await signed("https://signet.example/agents/first", { key, agent: set.url });
    const controller = new AbortController();
    const abandoned = exports.default.fetch(new Request(first, { signal: controller.signal }));
    abandoned.catch(() => {});
    // Wait until the directory has the first request's fetch, then the client goes away.
    for (let i = 0; i < 200 && (await fetchCount(set.path)) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    controller.abort();
    await abandoned.then(
      (r) => r.body?.cancel(),
      () => undefined,
    );
    const valid = await Promise.all(
      [1, 2].map((i) => signed(`https://signet.example/agents/after-${i}`, { key, agent: set.url })),
    );
    const responses = await Promise.all(valid.map((r) => exports.default.fetch(r)));
    for (const response of responses) expect(verifiedAgentOf(await echoOf(response))?.agent).toBe(set.url);
  }, 30_000);

  it("a refused AAuth request (bad window) starts no metadata or JWKS fetch; a valid one from the same issuer verifies", async () => {
    const path = await hanging(500);
    const url = `${aauthServer.url}${path}`;
    const stale = aauthJunk(1, (i) => `s${i}=jwks;url="${url}";kid="k"`);
    const old = new Request(stale, {
      headers: new Headers([...stale.headers].map(([n, v]) => [n, v.replace(/created=\d+/, "created=1000")])),
    });
    const response = await exports.default.fetch(old);
    expect(response.status).toBe(401);
    await response.arrayBuffer();
    expect(await aauthCount(path)).toBe(0);
  }, 30_000);
});

describe("the per-request budget, at the cap, for every scheme and form", () => {
  const hostileEnv = gatewayEnv(policy({ budget: { maxLabels: 8, maxFetches: 8, deadlineMs: 1500 } }));

  it("Web Bot Auth: 6 agents with budget.maxFetches 2 start exactly 2 fetches; the rest say fetch_limit", async () => {
    const sets = Array.from({ length: 6 }, () => keySetUrl("valid"));
    const capped = policy({
      budget: { maxFetches: 2 },
      discovery: { unsafeAllowLoopback: true, maxAgentsPerRequest: 8 },
    });
    const p = parsePolicy(JSON.stringify(capped));
    const lookup = keyLookupFor(p, { cache: null });
    const verification = await verifyRequest(
      requestFromFetch(
        await multiSigned(
          "https://signet.example/agents/x",
          sets.map((s) => s.url),
        ),
      ),
      { policy: p, keys: keyCacheFor(p, { lookup }), aauthKeys: aauthKeyCacheFor(p, { lookup }) },
    );
    const counts = await Promise.all(sets.map((s) => fetchCount(s.path)));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(2);
    expect(verification.labels.filter((l) => l.outcome === "verified")).toHaveLength(2);
    expect(verification.labels.filter((l) => l.code === "fetch_limit")).toHaveLength(4);
  });

  it("Web Bot Auth, both Signature-Agent forms: 4 agents with unknown keyids cost 4 fetches, not 8", async () => {
    const sets = Array.from({ length: 4 }, () => keySetUrl("valid"));
    const request = await multiSigned(
      "https://signet.example/agents/x",
      sets.map((s) => s.url),
      sets.map((_, i) => `unknown-${i}`),
    );
    await expectProblem(await send(request, hostileEnv), "agent_unverified", { discovery_error: "key_not_found" });
    expect(await Promise.all(sets.map((s) => fetchCount(s.path)))).toEqual([1, 1, 1, 1]);
    // The legacy bare-String form names one agent: one fetch.
    const single = keySetUrl("valid");
    const legacy = await signed("https://signet.example/agents/y", {
      key: await loadAgentKey(a.privateJwk),
      agent: single.url,
      form: "string",
      keyid: "unknown",
    });
    await expectProblem(await send(legacy, hostileEnv), "agent_unverified", { discovery_error: "key_not_found" });
    expect(await fetchCount(single.path)).toBe(1);
  });

  it("AAuth jwks: 40 labels at 40 URLs start at most budget.maxFetches (8) fetches, all at once", async () => {
    const paths = await Promise.all(Array.from({ length: 40 }, () => hanging(300)));
    const request = aauthJunk(40, (i) => `s${i}=jwks;url="${aauthServer.url}${paths[i]}";kid="k"`);
    const response = await send(request, hostileEnv);
    expect(response.status).toBe(401);
    await response.arrayBuffer();
    const counts = await Promise.all(paths.map((p) => aauthCount(p)));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(8);
    expect(counts.slice(8).every((c) => c === 0)).toBe(true);
  });

  it("AAuth jwks_uri and jwt: two fetches a label, never more than budget.maxFetches in all", async () => {
    const p = parsePolicy(JSON.stringify(policy({ budget: { maxFetches: 3 } })));
    const lookup = keyLookupFor(p, { cache: null });
    const issuers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const iss = `${aauthServer.url}/i/${crypto.randomUUID()}`;
        const jwks = `${iss}/jwks.json`;
        await register(new URL(`${iss}/.well-known/aauth-agent.json`).pathname, [
          { headers: { "content-type": "application/json" }, body: { issuer: iss, jwks_uri: jwks } },
        ]);
        await register(new URL(jwks).pathname, [
          { headers: { "content-type": "application/jwk-set+json" }, body: { keys: [] } },
        ]);
        return {
          iss,
          metadataPath: new URL(`${iss}/.well-known/aauth-agent.json`).pathname,
          jwksPath: new URL(jwks).pathname,
        };
      }),
    );
    const request = aauthJunk(4, (i) => `s${i}=jwks_uri;id="${issuers[i]?.iss}";dwk="aauth-agent.json";kid="k"`);
    const verification = await verifyRequest(requestFromFetch(request), {
      policy: p,
      keys: keyCacheFor(p, { lookup }),
      aauthKeys: aauthKeyCacheFor(p, { lookup }),
    });
    let total = 0;
    for (const issuer of issuers)
      total += (await aauthCount(issuer.metadataPath)) + (await aauthCount(issuer.jwksPath));
    expect(total).toBe(3);
    expect(verification.labels.some((l) => l.aauth === undefined && l.message?.includes("used up its fetches"))).toBe(
      true,
    );
  });

  it("AAuth hwk: 64 junk labels (the member cap) are judged up to budget.maxLabels, the rest say label_limit; no fetch", async () => {
    const key = await newKey();
    const jwk = key.publicJwk as Record<string, string>;
    const member = `kty="OKP";crv="Ed25519";x="${jwk.x}";alg="Ed25519"`;
    const request = aauthJunk(MAX_DICTIONARY_MEMBERS, (i) => `s${i}=hwk;${member}`);
    const p = parsePolicy(JSON.stringify(policy()));
    const lookup = keyLookupFor(p, { cache: null });
    const verification = await verifyRequest(requestFromFetch(request), {
      policy: p,
      keys: keyCacheFor(p, { lookup }),
      aauthKeys: aauthKeyCacheFor(p, { lookup }),
    });
    expect(verification.labels).toHaveLength(MAX_DICTIONARY_MEMBERS);
    expect(verification.labels.filter((l) => l.code === "label_limit")).toHaveLength(MAX_DICTIONARY_MEMBERS - 8);
    expect(verification.labels.filter((l) => l.outcome === "invalid")).toHaveLength(8);
    await expectProblem(await send(request, hostileEnv), "agent_unverified", {
      discovery_error: "label_limit",
      label: "s8",
    });
  });

  it("AAuth hwk: 400 junk labels are refused whole (too_many_members): nothing judged, nothing parsed", async () => {
    const key = await newKey();
    const jwk = key.publicJwk as Record<string, string>;
    const request = aauthJunk(400, (i) => `s${i}=hwk;kty="OKP";crv="Ed25519";x="${jwk.x}";alg="Ed25519"`);
    const p = parsePolicy(JSON.stringify(policy()));
    const lookup = keyLookupFor(p, { cache: null });
    const verification = await verifyRequest(requestFromFetch(request), {
      policy: p,
      keys: keyCacheFor(p, { lookup }),
      aauthKeys: aauthKeyCacheFor(p, { lookup }),
    });
    expect(verification.labels).toHaveLength(0);
    expect(verification.fieldError).toMatchObject({ reason: "malformed_signature_fields", code: "too_many_members" });
    await expectProblem(await send(request, hostileEnv), "malformed_signature_fields", {
      signature_error: "too_many_members",
    });
  });

  it("Web Bot Auth: 10,000 labels naming a hanging agent are refused whole, and its directory is never asked", async () => {
    const set = keySetUrl("valid", { delay: "60000" });
    const request = webBotAuthJunk(10_000, set.url);
    const p = parsePolicy(JSON.stringify(policy({ budget: { deadlineMs: 500 } })));
    const lookup = keyLookupFor(p, { cache: null });
    const verification = await verifyRequest(requestFromFetch(request), {
      policy: p,
      keys: keyCacheFor(p, { lookup }),
      aauthKeys: aauthKeyCacheFor(p, { lookup }),
    });
    expect(verification.labels).toHaveLength(0);
    expect(verification.fieldError).toMatchObject({ code: "too_many_members" });
    expect(await fetchCount(set.path)).toBe(0);
  }, 60_000);

  it("the labels cap is a property: for any count, exactly min(count, maxLabels) labels are judged", async () => {
    const key = await newKey();
    const jwk = key.publicJwk as Record<string, string>;
    const member = `kty="OKP";crv="Ed25519";x="${jwk.x}";alg="Ed25519"`;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 16 }), async (n, maxLabels) => {
        const p = parsePolicy(JSON.stringify(policy({ budget: { maxLabels } })));
        const lookup = keyLookupFor(p, { cache: null });
        const verification = await verifyRequest(requestFromFetch(aauthJunk(n, (i) => `s${i}=hwk;${member}`)), {
          policy: p,
          keys: keyCacheFor(p, { lookup }),
          aauthKeys: aauthKeyCacheFor(p, { lookup }),
        });
        expect(verification.labels).toHaveLength(n);
        expect(verification.labels.filter((l) => l.code !== "label_limit")).toHaveLength(Math.min(n, maxLabels));
      }),
      { numRuns: 25 },
    );
  });

  it("the fetch cap is a property: for any number of agents and cap, fetches started never exceed the cap", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 8 }), async (agents, maxFetches) => {
        const sets = Array.from({ length: agents }, () => keySetUrl("valid"));
        const p = parsePolicy(
          JSON.stringify(
            policy({ budget: { maxFetches }, discovery: { unsafeAllowLoopback: true, maxAgentsPerRequest: 32 } }),
          ),
        );
        const lookup = keyLookupFor(p, { cache: null });
        const budget = createRequestBudget(p.budget);
        await verifyRequest(
          requestFromFetch(
            await multiSigned(
              "https://signet.example/agents/x",
              sets.map((s) => s.url),
            ),
          ),
          { policy: p, keys: keyCacheFor(p, { lookup }), aauthKeys: aauthKeyCacheFor(p, { lookup }), budget },
        );
        const total = (await Promise.all(sets.map((s) => fetchCount(s.path)))).reduce((x, y) => x + y, 0);
        expect(total).toBe(Math.min(agents, maxFetches));
        expect(budget.fetchesStarted).toBe(total);
      }),
      { numRuns: 15 },
    );
  }, 60_000);
});

describe("one deadline for the request's key work, with hanging servers", () => {
  it("40 AAuth jwks labels at hanging URLs: answered (401) with every judged label unverified", async () => {
    const paths = await Promise.all(Array.from({ length: 40 }, () => hanging(60_000)));
    const p = parsePolicy(JSON.stringify(policy({ budget: { deadlineMs: 500 } })));
    const lookup = keyLookupFor(p, { cache: null });
    const request = aauthJunk(40, (i) => `s${i}=jwks;url="${aauthServer.url}${paths[i]}";kid="k"`);
    const verification = await verifyRequest(requestFromFetch(request), {
      policy: p,
      keys: keyCacheFor(p, { lookup }),
      aauthKeys: aauthKeyCacheFor(p, { lookup }),
    });
    const judged = verification.labels.filter((l) => l.code !== "label_limit");
    expect(judged).toHaveLength(8);
    expect(judged.every((l) => l.outcome === "unverified")).toBe(true);
    const env = gatewayEnv(policy({ budget: { deadlineMs: 500 } }));
    const response = await send(
      aauthJunk(40, (i) => `s${i}=jwks;url="${aauthServer.url}${paths[i]}";kid="k"`),
      env,
    );
    expect(response.status).toBe(401);
  }, 60_000);

  it("a jwt label whose issuer metadata hangs uses the whole deadline; its JWKS fetch is never started", async () => {
    const iss = `${aauthServer.url}/i/${crypto.randomUUID()}`;
    const metadataPath = new URL(`${iss}/.well-known/aauth-agent.json`).pathname;
    await register(metadataPath, [{ delayMs: 60_000, headers: { "content-type": "application/json" }, body: {} }]);
    const p = parsePolicy(JSON.stringify(policy({ budget: { deadlineMs: 400 } })));
    const lookup = keyLookupFor(p, { cache: null });
    const budget = createRequestBudget(p.budget);
    const aauthKeys = aauthKeyCacheFor(p, { lookup });
    const meta = await aauthKeys.metadata(iss, "aauth-agent.json", budget);
    expect(meta).toMatchObject({ ok: false, discoveryCode: "directory_unreachable" });
    const after = await aauthKeys.findKey(`${iss}/jwks.json`, "k", ["Ed25519"], budget);
    expect(after).toMatchObject({ ok: false, discoveryCode: "deadline_exceeded" });
    expect(budget.fetchesStarted).toBe(1);
  }, 30_000);
});

describe("problem details never carry bytes a third party sent", () => {
  const MARKER = "ZZ-THIRD-PARTY-MARKER-7f3a";
  const env = gatewayEnv(policy());

  it("a directory's status, media type, Location and body never appear in the response", async () => {
    for (const scenario of ["wrong-type", "redirect", "status", "malformed", "not-jwks", "private"]) {
      const set = keySetUrl(scenario, { code: "418" });
      const request = await signed("https://signet.example/agents/x", {
        key: await loadAgentKey(a.privateJwk),
        agent: set.url,
      });
      const response = await send(request, env);
      const text = (await response.text()).replaceAll(set.url, "<the agent's URL>");
      expect(response.status).toBe(401);
      expect(text).not.toMatch(/text\/html|10\.0\.0\.1|418|private member|JWK Set/);
    }
  });

  it("a JWKS or metadata server's body text, status and media type never appear in any response", async () => {
    const hostile: RegisteredResponse[] = [
      { status: 418, headers: { "content-type": `text/${MARKER}` }, body: MARKER },
      { status: 200, headers: { "content-type": "application/json" }, body: `{"${MARKER}": ` },
      { status: 200, headers: { "content-type": "application/json" }, body: { keys: [{ kid: "k", kty: MARKER }] } },
      { status: 200, headers: { "content-type": "application/json" }, body: { issuer: MARKER, jwks_uri: MARKER } },
      { status: 302, headers: { location: `https://${MARKER}.example/` }, body: MARKER },
    ];
    for (const answer of hostile) {
      const iss = `${aauthServer.url}/i/${crypto.randomUUID()}`;
      const metadataPath = new URL(`${iss}/.well-known/aauth-agent.json`).pathname;
      const jwksPath = `/i/${crypto.randomUUID()}/jwks.json`;
      await register(metadataPath, [answer]);
      await register(jwksPath, [answer]);
      for (const member of [
        `s0=jwks;url="${aauthServer.url}${jwksPath}";kid="k"`,
        `s0=jwks_uri;id="${iss}";dwk="aauth-agent.json";kid="k"`,
      ]) {
        const response = await send(
          aauthJunk(1, () => member),
          env,
        );
        const text = await response.text();
        expect(response.status).toBe(401);
        expect(text).not.toContain(MARKER);
        expect([...response.headers].map(([, v]) => v).join("\n")).not.toContain(MARKER);
      }
    }
  });

  it("the issuer a metadata document names is not quoted in an issuer_mismatch", async () => {
    const iss = `${aauthServer.url}/i/${crypto.randomUUID()}`;
    await register(new URL(`${iss}/.well-known/aauth-agent.json`).pathname, [
      { headers: { "content-type": "application/json" }, body: { issuer: `https://${MARKER}.example`, jwks_uri: "x" } },
    ]);
    const response = await send(
      aauthJunk(1, () => `s0=jwks_uri;id="${iss}";dwk="aauth-agent.json";kid="k"`),
      env,
    );
    expect(await response.text()).not.toContain(MARKER);
  });
});

describe("budget reason codes reach the problem body", () => {
  it("fetch_limit: budget.maxFetches 0 and an agent not yet held", async () => {
    const set = keySetUrl("valid");
    const env = gatewayEnv(policy({ budget: { maxFetches: 0 } }));
    const request = await signed("https://signet.example/agents/x", {
      key: await loadAgentKey(a.privateJwk),
      agent: set.url,
    });
    await expectProblem(await send(request, env), "agent_unverified", { discovery_error: "fetch_limit" });
    expect(await fetchCount(set.path)).toBe(0);
  });
});
