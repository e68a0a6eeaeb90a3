/**
 * Cloudflare's Web Bot Auth request vectors (all eight of test/vectors/web-bot-auth-requests.json) sent through the
 * whole Worker, with their agent `https://signature-agent.test` pinned to the public halves of the RFC 9421 test
 * keys they were signed with.
 *
 * - v1 (legacy String `Signature-Agent`, one hour of validity in January 2025): verified with the clock fixed at
 *   `created`, refused as expired with the real clock.
 * - v2 (dictionary `Signature-Agent`, valid until 2124): a validity of about a century, refused under the default
 *   `maxValidity` (one day) and verified with the real clock once the policy allows that window.
 * - Entries without `Signature-Agent` name no agent: unverifiable on a verified-agent route, anonymous on a `none`
 *   route.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { publicJwkOf } from "../../../agent/index.ts";
import type { Jwk } from "../../../worker/rfc9421/index.ts";
import keyFile from "../../vectors/rfc9421-keys.json";
import vectorFile from "../../vectors/web-bot-auth-requests.json";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, verifiedAgentOf } from "./gateway.ts";

interface Vector {
  readonly name: string;
  readonly generation: "v1" | "v2";
  readonly key: string;
  readonly algorithm: string;
  readonly label: string;
  readonly method: string;
  readonly target_uri: string;
  readonly created: number;
  readonly expires: number;
  readonly signature_agent_form: "none" | "string" | "dictionary";
  readonly headers: Record<string, string>;
}

const AGENT = "https://signature-agent.test";
const VECTORS = vectorFile.vectors as Vector[];
const V1 = VECTORS.filter((v) => v.generation === "v1");
const V2 = VECTORS.filter((v) => v.generation === "v2");
const withAgent = (list: Vector[]) => list.filter((v) => v.signature_agent_form !== "none");
const withoutAgent = (list: Vector[]) => list.filter((v) => v.signature_agent_form === "none");

/** The public JWK of an RFC 9421 test key, as an operator would pin it (RSA needs its JWS `alg`). */
function pinnedJwk(name: string): Jwk {
  const { kid: _kid, ...jwk } = publicJwkOf((keyFile.keys as Record<string, { jwk: Jwk }>)[name]?.jwk as Jwk);
  return name === "test-key-rsa-pss" ? { ...jwk, alg: "PS512" } : (jwk as Jwk);
}

const PINNED = { [AGENT]: [pinnedJwk("test-key-ed25519"), pinnedJwk("test-key-rsa-pss")] };
// The vectors are fixed signatures sent many times here, so these routes do not enforce replay protection;
// the last test shows what an enforcing route does with them.
const VERIFIED_ROUTE = { path: "/path/*", require: "verified-agent", replay: "off" };
const OPEN_ROUTE = { path: "/path/*", require: "none" };

function policy(extra: object = {}) {
  return { rules: [VERIFIED_ROUTE], pinned: PINNED, allowTestKeys: true, ...extra };
}

function requestOf(vector: Vector): Request {
  return new Request(vector.target_uri, { method: vector.method, headers: vector.headers });
}

function fixClockAt(seconds: number): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(seconds * 1000);
}

afterEach(() => {
  vi.useRealTimers();
});

it("has the eight vectors this file expects", () => {
  expect(V1).toHaveLength(4);
  expect(V2).toHaveLength(4);
  expect(withAgent(VECTORS).map((v) => v.signature_agent_form)).toEqual([
    "dictionary",
    "dictionary",
    "string",
    "string",
  ]);
});

describe("v1 (legacy String Signature-Agent)", () => {
  it.each(withAgent(V1).map((v) => [v.name, v] as const))(
    "%s verifies at its created time and forwards Verified-Agent",
    async (_name, vector) => {
      fixClockAt(vector.created);
      const keyid = /keyid="([^"]+)"/.exec(vector.headers["Signature-Input"] ?? "")?.[1];
      const echo = await echoOf(await send(requestOf(vector), gatewayEnv(policy())));
      expect(verifiedAgentOf(echo)).toEqual({
        agent: identityOf(AGENT),
        keyid,
        profile: "web-bot-auth",
        alg: vector.algorithm,
        label: vector.label,
        created: vector.created,
        expires: vector.expires,
        extra: { replay: "off" },
      });
      expect(echo.url).toBe(vector.target_uri);
    },
  );

  it.each(withAgent(V1).map((v) => [v.name, v] as const))(
    "%s verifies one second before it expires, and not one minute past its expiry plus skew",
    async (_name, vector) => {
      fixClockAt(vector.expires - 1);
      expect(verifiedAgentOf(await echoOf(await send(requestOf(vector), gatewayEnv(policy()))))).toMatchObject({
        agent: identityOf(AGENT),
      });
      fixClockAt(vector.expires + 60 + 60);
      await expectProblem(await send(requestOf(vector), gatewayEnv(policy())), "signature_expired");
    },
  );

  it.each(V1.map((v) => [v.name, v] as const))(
    "%s is refused as expired with the real clock",
    async (_name, vector) => {
      const body = await expectProblem(await send(requestOf(vector), gatewayEnv(policy())), "signature_expired", {
        signature_error: "signature_expired",
        label: vector.label,
      });
      expect(body.detail).toMatch(/expired \d+ s ago/);
    },
  );

  it.each(withoutAgent(V1).map((v) => [v.name, v] as const))(
    "%s names no agent: agent_unverified (missing_signature_agent) on a verified-agent route",
    async (_name, vector) => {
      fixClockAt(vector.created);
      const body = await expectProblem(await send(requestOf(vector), gatewayEnv(policy())), "agent_unverified", {
        signature_error: "missing_signature_agent",
        label: vector.label,
      });
      expect(body.discovery_error).toBeUndefined();
    },
  );

  it.each(withoutAgent(V1).map((v) => [v.name, v] as const))(
    "%s passes as anonymous (no Verified-Agent) on a none route",
    async (_name, vector) => {
      fixClockAt(vector.created);
      const echo = await echoOf(await send(requestOf(vector), gatewayEnv(policy({ rules: [OPEN_ROUTE] }))));
      expect(echo.headers["verified-agent"]).toBeUndefined();
      // The client's own signature goes on to the origin untouched, with Signet's attestation beside it.
      expect(echo.headers["signature-input"]).toMatch(new RegExp(`^${vector.label}=\\("@authority"\\);`));
      expect(echo.headers["signature-input"]).toContain('tag="signet-attestation"');
    },
  );

  it.each(withAgent(V1).map((v) => [v.name, v] as const))(
    "%s also verifies on a none route, and the identity is attached there too",
    async (_name, vector) => {
      fixClockAt(vector.created);
      const echo = await echoOf(await send(requestOf(vector), gatewayEnv(policy({ rules: [OPEN_ROUTE] }))));
      expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT), label: vector.label });
    },
  );

  it.each(withAgent(V1).map((v) => [v.name, v] as const))(
    "%s without allowTestKeys: agent_unverified with discovery_error test_key_refused",
    async (_name, vector) => {
      fixClockAt(vector.created);
      const body = await expectProblem(
        await send(requestOf(vector), gatewayEnv(policy({ allowTestKeys: false }))),
        "agent_unverified",
        { discovery_error: "test_key_refused", label: vector.label },
      );
      expect(body.signature_error).toBeUndefined();
    },
  );
});

describe("v2 (dictionary Signature-Agent, valid for about a century)", () => {
  const window = (V2[0] as Vector).expires - (V2[0] as Vector).created; // 3 153 600 000 s
  const century = () => policy({ freshness: { maxValidity: window } });

  it("all share one validity window", () => {
    expect(V2.every((v) => v.expires - v.created === window)).toBe(true);
  });

  it.each(V2.map((v) => [v.name, v] as const))(
    "%s is refused under the default policy (signature_error validity_too_long)",
    async (_name, vector) => {
      const body = await expectProblem(await send(requestOf(vector), gatewayEnv(policy())), "signature_invalid", {
        signature_error: "validity_too_long",
        label: vector.label,
      });
      expect(body.detail).toContain(`valid for ${window} s; at most 86400 s`);
    },
  );

  it.each(withAgent(V2).map((v) => [v.name, v] as const))(
    "%s verifies with the real clock when maxValidity allows its window, and forwards Verified-Agent",
    async (_name, vector) => {
      const keyid = /keyid="([^"]+)"/.exec(vector.headers["Signature-Input"] ?? "")?.[1];
      const echo = await echoOf(await send(requestOf(vector), gatewayEnv(century())));
      expect(verifiedAgentOf(echo)).toEqual({
        agent: identityOf(AGENT),
        keyid,
        profile: "web-bot-auth",
        alg: vector.algorithm,
        label: vector.label,
        created: vector.created,
        expires: vector.expires,
        extra: { replay: "off" },
      });
    },
  );

  it.each(withAgent(V2).map((v) => [v.name, v] as const))(
    "%s is refused when maxValidity falls one second short of its window",
    async (_name, vector) => {
      const env = gatewayEnv(policy({ freshness: { maxValidity: window - 1 } }));
      await expectProblem(await send(requestOf(vector), env), "signature_invalid", {
        signature_error: "validity_too_long",
      });
    },
  );

  it.each(withoutAgent(V2).map((v) => [v.name, v] as const))(
    "%s names no agent: agent_unverified (missing_signature_agent) on a verified-agent route, anonymous on a none route",
    async (_name, vector) => {
      await expectProblem(await send(requestOf(vector), gatewayEnv(century())), "agent_unverified", {
        signature_error: "missing_signature_agent",
      });
      const open = gatewayEnv(policy({ rules: [OPEN_ROUTE], freshness: { maxValidity: window } }));
      const echo = await echoOf(await send(requestOf(vector), open));
      expect(echo.headers["verified-agent"]).toBeUndefined();
    },
  );

  it.each(withAgent(V2).map((v) => [v.name, v] as const))(
    "%s without allowTestKeys: agent_unverified with discovery_error test_key_refused",
    async (_name, vector) => {
      const env = gatewayEnv(policy({ allowTestKeys: false, freshness: { maxValidity: window } }));
      await expectProblem(await send(requestOf(vector), env), "agent_unverified", {
        discovery_error: "test_key_refused",
      });
    },
  );
});

describe("a route that enforces replay protection (the default where signatures are required)", () => {
  it.each(withAgent(V2).map((v) => [v.name, v] as const))(
    "%s is accepted once, then refused as signature_replayed",
    async (_name, vector) => {
      const enforcing = { path: "/path/*", require: "verified-agent" };
      const century = (V2[0] as Vector).expires - (V2[0] as Vector).created;
      const env = gatewayEnv(policy({ rules: [enforcing], freshness: { maxValidity: century } }));
      const first = await echoOf(await send(requestOf(vector), env));
      expect(first.headers["verified-agent"]).toContain("replay=checked");
      await expectProblem(await send(requestOf(vector), env), "signature_replayed", { label: vector.label });
    },
  );
});
