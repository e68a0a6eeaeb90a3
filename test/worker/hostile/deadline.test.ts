/**
 * `deadline_exceeded` through the whole Worker, deterministically (no timing in any assertion): the request's key
 * work has one deadline (`budget.deadlineMs`), every fetch is cut off at it, and a lookup that would start a fetch
 * after it is refused with `deadline_exceeded` rather than started.
 *
 * The two-stage AAuth `jwks_uri` scheme makes the second stage start only after the first has ended, so it gets
 * there without racing a clock: the issuer metadata is held but stale (served with `max-age=0` under
 * `discovery.minTtlSeconds: 0`), its refresh hangs and is cut off at the deadline, the stale copy is then served
 * (stale on error), and the JWK Set it names, which must be fetched, finds the deadline gone: it is never asked.
 */
import { describe, expect, it } from "vitest";
import { count, REQUIRED, RESOURCE, register, server } from "../aauth/helpers.ts";
import { gatewayEnv, send } from "../gateway/gateway.ts";

const DEADLINE_MS = 300;
const env = gatewayEnv({
  rules: [{ path: "/any/*", require: "signature", replay: "off" }],
  aauth: { resource: RESOURCE },
  // The fetch timeout is longer than the deadline, so the deadline is what cuts the hanging refresh off; and
  // failures block nothing, so the JWK Set that failed once is wanted again at once.
  discovery: { unsafeAllowLoopback: true, timeoutMs: 5000, minTtlSeconds: 0, negativeTtlSeconds: 0 },
  budget: { deadlineMs: DEADLINE_MS },
});

/** One AAuth `jwks_uri` label for issuer `iss`, with a junk signature (key work comes before the signature check). */
function jwksUriRequest(iss: string): Request {
  const created = Math.floor(Date.now() / 1000);
  return new Request(`${RESOURCE}/any/x`, {
    headers: {
      "signature-input": `sig=(${REQUIRED.join(" ")});created=${created}`,
      signature: `sig=:${btoa("j".repeat(64))}:`,
      "signature-key": `sig=jwks_uri;id="${iss}";dwk="aauth-agent.json";kid="k1"`,
    },
  });
}

describe("deadline_exceeded through the Worker", () => {
  it("a lookup that would fetch after the request's deadline is refused, and its document is never asked", async () => {
    const base = `/i/${crypto.randomUUID()}`;
    const iss = `${server.url}${base}`;
    const metadataPath = `${base}/.well-known/aauth-agent.json`;
    const jwksPath = `${base}/jwks.json`;
    const metadata = { issuer: iss, jwks_uri: `${iss}/jwks.json` };
    const json = { "content-type": "application/json", "cache-control": "max-age=0" };
    // The metadata: answered at once (and stale at once), then never again within a deadline.
    await register(metadataPath, [
      { headers: json, body: metadata },
      { headers: json, body: metadata, delayMs: 60_000 },
    ]);
    // The JWK Set fails the first time (so nothing is held), and would answer after that.
    await register(jwksPath, [
      { status: 404, body: "" },
      { headers: { "content-type": "application/jwk-set+json" }, body: { keys: [] } },
    ]);

    const first = await send(jwksUriRequest(iss), env);
    expect(first.status).toBe(401);
    // An AAuth refusal names the key-lookup failure behind invalid_key as discovery_error, in Signet's own terms.
    expect(await first.json()).toMatchObject({
      reason: "agent_unverified",
      signature_error: "invalid_key",
      discovery_error: "directory_rejected",
    });
    expect([await count(metadataPath), await count(jwksPath)]).toEqual([1, 1]);

    const second = await send(jwksUriRequest(iss), env);
    expect(second.status).toBe(401);
    const problem = (await second.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({
      reason: "agent_unverified",
      signature_error: "invalid_key",
      discovery_error: "deadline_exceeded",
    });
    // discoveryMessage("deadline_exceeded", …) in worker/discovery/key-lookup.ts.
    expect(problem.detail).toContain("was not fetched: the request's key work ran out of time");
    // The metadata refresh was started (and cut off); the JWK Set was not fetched again.
    expect([await count(metadataPath), await count(jwksPath)]).toEqual([2, 1]);
  }, 60_000);
});
