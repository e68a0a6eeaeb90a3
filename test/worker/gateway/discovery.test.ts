/**
 * Key discovery through the whole Worker, against the real local directory server (`unsafeAllowLoopback`): the
 * three `Signature-Agent` forms and `type=jwks_uri` verify and forward the identity they resolve to; every
 * directory failure is `agent_unverified` with its `discovery_error`, in bounded time; a rotated key is picked up
 * and a removed one stops verifying.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { statsEventually } from "../discovery/server.ts";
import {
  directory,
  echoOf,
  expectProblem,
  fetchCount,
  forwardedAgent,
  gatewayEnv,
  identityOf,
  keySetUrl,
  send,
  signed,
  WELL_KNOWN,
} from "./gateway.ts";

const { a, b } = directory;
const ROUTE = { path: "/agents/*", require: "verified-agent" };
const env = gatewayEnv({ rules: [ROUTE], discovery: { unsafeAllowLoopback: true } });
const url = (path = "/agents/catalogue") => `https://signet.example${path}`;

/** The directory server under a second loopback name: another origin, so another agent identity. */
const localhostOrigin = directory.url.replace("127.0.0.1", "localhost");

let stranger: GeneratedKey;
beforeAll(async () => {
  stranger = await generateAgentKey();
});

describe("the three Signature-Agent forms, each resolved and fetched", () => {
  it("legacy String naming an origin: its well-known directory", async () => {
    const request = await signed(url(), { key: a.privateJwk, agent: localhostOrigin, form: "string" });
    expect(request.headers.get("signature-agent")).toBe(`"${localhostOrigin}"`);
    expect(request.headers.get("signature-input")).toMatch(/^sig1=\([^)]*"signature-agent"\)/);
    expect(await forwardedAgent(request, env)).toMatchObject({
      agent: identityOf(localhostOrigin),
      keyid: a.thumbprint,
      alg: "ed25519",
      label: "sig1",
    });
  });

  it("dictionary member naming an origin: its well-known directory", async () => {
    const request = await signed(url(), { key: b.privateJwk, agent: directory.url });
    expect(request.headers.get("signature-agent")).toBe(`sig1="${directory.url}"`);
    expect(await forwardedAgent(request, env)).toMatchObject({ agent: identityOf(directory.url), keyid: b.thumbprint });
    expect(await fetchCount(WELL_KNOWN)).toBeGreaterThan(0);
  });

  it("dictionary member with a path: that URL is the JWK Set, fetched once", async () => {
    const set = keySetUrl("valid");
    const request = await signed(url(), { key: a.privateJwk, agent: set.url });
    expect(await forwardedAgent(request, env)).toMatchObject({ agent: set.url, keyid: a.thumbprint });
    const again = await signed(url("/agents/other"), { key: b.privateJwk, agent: set.url });
    expect(await forwardedAgent(again, env)).toMatchObject({ agent: set.url, keyid: b.thumbprint });
    expect(await fetchCount(set.path)).toBe(1);
  });

  it("type=jwks_uri: a JWK Set served as application/jwk-set+json, found by thumbprint or by its kid", async () => {
    const set = keySetUrl("jwks");
    const byThumbprint = await signed(url(), { key: b.privateJwk, agent: set.url, type: "jwks_uri" });
    expect(byThumbprint.headers.get("signature-agent")).toBe(`sig1="${set.url}";type=jwks_uri`);
    expect(await forwardedAgent(byThumbprint, env)).toMatchObject({ agent: set.url, keyid: b.thumbprint });
    const byKid = await signed(url(), { key: a.privateJwk, agent: set.url, type: "jwks_uri", keyid: "agent-key-1" });
    expect(await forwardedAgent(byKid, env)).toMatchObject({ agent: set.url, keyid: "agent-key-1" });
    expect(await fetchCount(set.path)).toBe(1);
  });

  it("type=directory with a path is unusable, without any fetch", async () => {
    const set = keySetUrl("valid");
    const request = await signed(url(), { key: a.privateJwk, agent: set.url, type: "directory" });
    await expectProblem(await send(request, env), "agent_unverified", {
      signature_error: "unusable_signature_agent",
    });
    expect(await fetchCount(set.path)).toBe(0);
  });
});

describe("directory failures are agent_unverified with the discovery_error that says why", () => {
  const failures: ReadonlyArray<
    readonly [what: string, scenario: string, params: Record<string, string>, code: string, detail: RegExp]
  > = [
    // Signet's own words only: never the status, media type, Location or body the directory sent.
    ["404", "status", { code: "404" }, "directory_rejected", /was not served as a usable key set/],
    ["an unknown path (404 from the server itself)", "nope", {}, "directory_rejected", /not served as a usable/],
    ["the wrong media type", "wrong-type", {}, "directory_rejected", /was not served as a usable key set/],
    ["private key members", "private", {}, "directory_invalid", /is not a valid key set/],
    ["a huge body", "huge", {}, "directory_rejected", /was not served as a usable key set/],
    ["a redirect", "redirect", {}, "directory_rejected", /was not served as a usable key set/],
    ["not a JWK Set", "not-jwks", {}, "directory_invalid", /is not a valid key set/],
    ["a connection reset", "reset", {}, "directory_unreachable", /could not be fetched/],
  ];

  it.each(failures)("%s", async (_what, scenario, params, code, detail) => {
    const set = keySetUrl(scenario, params);
    const request = await signed(url(), { key: a.privateJwk, agent: set.url });
    const body = await expectProblem(await send(request, env), "agent_unverified", {
      discovery_error: code,
      label: "sig1",
    });
    expect(body.detail).toMatch(detail);
    expect(body.signature_error).toBeUndefined();
    expect(await fetchCount(set.path)).toBe(1);
  });

  it("a slow directory is cut off at the policy's discovery.timeoutMs", async () => {
    // The directory answers (validly) after 2 s: under a longer timeout the request verifies (the control below),
    // so a refusal with the server seeing Signet leave proves the policy's 300 ms was the one in force.
    const slow = gatewayEnv({ rules: [ROUTE], discovery: { unsafeAllowLoopback: true, timeoutMs: 300 } });
    const set = keySetUrl("slow-headers", { delay: "2000" });
    const request = await signed(url(), { key: a.privateJwk, agent: set.url });
    const body = await expectProblem(await send(request, slow), "agent_unverified", {
      discovery_error: "directory_unreachable",
    });
    expect(body.detail).toContain("could not be fetched in time");
    expect((await statsEventually(set.path, (s) => s.aborted > 0, 20_000)).aborted).toBe(1);
    // The control: the same directory under a 10 s timeout is waited for, and the request verifies.
    const patient = gatewayEnv({ rules: [ROUTE], discovery: { unsafeAllowLoopback: true, timeoutMs: 10_000 } });
    const control = keySetUrl("slow-headers", { delay: "2000" });
    const waited = await send(await signed(url(), { key: a.privateJwk, agent: control.url }), patient);
    expect(waited.status).toBe(200);
    expect((await statsEventually(control.path, () => true)).aborted).toBe(0);
  }, 60_000);

  it("a loopback agent is never fetched without unsafeAllowLoopback (egress_refused)", async () => {
    const guarded = gatewayEnv({ rules: [ROUTE] });
    const set = keySetUrl("valid");
    const request = await signed(url(), { key: a.privateJwk, agent: set.url });
    await expectProblem(await send(request, guarded), "agent_unverified", { discovery_error: "egress_refused" });
    expect(await fetchCount(set.path)).toBe(0);
  });

  it("a failure is remembered: a second request within the backoff does not fetch again", async () => {
    const set = keySetUrl("status", { code: "503" });
    for (const path of ["/agents/one", "/agents/two"]) {
      const request = await signed(url(path), { key: a.privateJwk, agent: set.url });
      await expectProblem(await send(request, env), "agent_unverified", { discovery_error: "directory_rejected" });
    }
    expect(await fetchCount(set.path)).toBe(1);
  });
});

describe("keys that are not (or no longer) listed", () => {
  it("key_not_found: a key the directory does not list; no refetch right after the fetch that missed", async () => {
    const set = keySetUrl("valid");
    const request = await signed(url(), { key: stranger.privateJwk, agent: set.url });
    const body = await expectProblem(await send(request, env), "agent_unverified", {
      discovery_error: "key_not_found",
    });
    expect(body.detail).toContain(stranger.thumbprint);
    expect(await fetchCount(set.path)).toBe(1);
    // The next request may refetch once (the key may be new); the one after waits out the cooldown.
    for (let i = 0; i < 2; i++) {
      const again = await signed(url(), { key: stranger.privateJwk, agent: set.url });
      await expectProblem(await send(again, env), "agent_unverified", { discovery_error: "key_not_found" });
    }
    expect(await fetchCount(set.path)).toBe(2);
  });

  it("a rotated key is picked up by one refetch, and the key it replaced stops verifying", async () => {
    const set = keySetUrl("rotate"); // first answer lists a, every later one lists b only
    const before = await signed(url(), { key: a.privateJwk, agent: set.url });
    expect(await forwardedAgent(before, env)).toMatchObject({ keyid: a.thumbprint });
    const rotated = await signed(url(), { key: b.privateJwk, agent: set.url });
    expect(await forwardedAgent(rotated, env)).toMatchObject({ agent: set.url, keyid: b.thumbprint });
    expect(await fetchCount(set.path)).toBe(2);
    const retired = await signed(url(), { key: a.privateJwk, agent: set.url });
    await expectProblem(await send(retired, env), "agent_unverified", { discovery_error: "key_not_found" });
    // The unknown-keyid refetch is rate limited (30 s per key set): no third fetch for the retired key.
    expect(await fetchCount(set.path)).toBe(2);
  });

  it("a directory listing a published RFC 9421 test key: test_key_refused, the other key still verifies", async () => {
    const set = keySetUrl("test-keys");
    const testKey = await signed(url(), {
      key: a.privateJwk,
      agent: set.url,
      keyid: directory.testKeyThumbprint,
    });
    await expectProblem(await send(testKey, env), "agent_unverified", { discovery_error: "test_key_refused" });
    const listed = await signed(url(), { key: a.privateJwk, agent: set.url });
    expect((await echoOf(await send(listed, env))).headers["verified-agent"]).toContain(a.thumbprint);
  });
});
