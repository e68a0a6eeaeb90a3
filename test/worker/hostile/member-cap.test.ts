/**
 * The member cap through the whole Worker (issue 12, "(b)"): no signature-related Dictionary field may make Signet
 * parse more than `MAX_DICTIONARY_MEMBERS` members. Above the cap the field is refused as a whole, from one count
 * of its raw text, before any member is parsed, any key imported or any key set fetched, so no label goes
 * unjudged beside an accepted one and strict parsing still covers every member of every field that is read.
 *
 * Before the cap, 400 `hwk` labels made Signet parse all 400 members of three fields (14 times an ordinary
 * request's CPU), and 65 `jwks` labels at counting URLs started 8 fetches; now both are 400
 * `malformed_signature_fields` / `too_many_members` with no fetch. Outcomes and counts only, never speed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_DICTIONARY_MEMBERS } from "../../../worker/rfc9421/index.ts";
import {
  count as aauthCount,
  server as aauthServer,
  hwkOf,
  newKey,
  REQUIRED,
  RESOURCE,
  register,
  signed as signedAAuth,
} from "../aauth/helpers.ts";
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
} from "../gateway/gateway.ts";

const MAX = MAX_DICTIONARY_MEMBERS;
const env = gatewayEnv({
  rules: [
    { path: "/agents/*", require: "verified-agent", replay: "off" },
    { path: "/any/*", require: "signature", replay: "off" },
  ],
  discovery: { unsafeAllowLoopback: true, timeoutMs: 3000 },
  aauth: { resource: RESOURCE },
});
const JUNK = btoa(String.fromCharCode(...new Uint8Array(64).fill(7)));

/** Adds `n` junk labels (`j0`, `j1`, …) to both signature fields of a signed request. */
function withJunkLabels(request: Request, n: number): Request {
  const headers = new Headers(request.headers);
  const created = Math.floor(Date.now() / 1000);
  const input = Array.from({ length: n }, (_, i) => `j${i}=("@authority");created=${created}`);
  const signature = Array.from({ length: n }, (_, i) => `j${i}=:${JUNK}:`);
  headers.set("signature-input", [headers.get("signature-input"), ...input].join(", "));
  headers.set("signature", [headers.get("signature"), ...signature].join(", "));
  return new Request(request, { headers });
}

/** A valid Web Bot Auth request from agent `a` of the directory server, at a fresh key set URL. */
async function wbaRequest(path = "/agents/x") {
  const set = keySetUrl("valid");
  const request = await signed(`https://signet.example${path}`, {
    key: await loadAgentKey(directory.a.privateJwk),
    agent: set.url,
  });
  return { request, set };
}

/** A request of `n` AAuth labels with junk signatures and `Signature-Key` members `member(i)`. */
function aauthJunk(n: number, member: (i: number) => string): Request {
  const created = Math.floor(Date.now() / 1000);
  const input = Array.from({ length: n }, (_, i) => `s${i}=(${REQUIRED.join(" ")});created=${created}`);
  const signature = Array.from({ length: n }, (_, i) => `s${i}=:${JUNK}:`);
  const keys = Array.from({ length: n }, (_, i) => member(i));
  return new Request(`${RESOURCE}/any/x`, {
    headers: { "signature-input": input.join(", "), signature: signature.join(", "), "signature-key": keys.join(", ") },
  });
}

describe("Signature-Input and Signature: a valid signature at the front does not carry a field over the cap", () => {
  it(`${MAX - 1} client members: the first verifies and the request is forwarded with Signet's member (${MAX} in all)`, async () => {
    const { request, set } = await wbaRequest();
    const echo = await echoOf(await send(withJunkLabels(request, MAX - 2), env));
    expect(verifiedAgentOf(echo)?.agent).toBe(set.url);
    expect(echo.headers["signature-input"]?.split(", ")).toHaveLength(MAX);
    expect(await fetchCount(set.path)).toBe(1);
  });

  it(`${MAX} client members: verified, but Signet's own member would not fit under the origin's cap: identity_unattachable`, async () => {
    const { request, set } = await wbaRequest();
    await expectProblem(await send(withJunkLabels(request, MAX - 1), env), "identity_unattachable");
    expect(await fetchCount(set.path)).toBe(1);
  });

  it(`${MAX + 1} members: refused as a whole (too_many_members) before any key set is fetched`, async () => {
    const { request, set } = await wbaRequest();
    await expectProblem(await send(withJunkLabels(request, MAX), env), "malformed_signature_fields", {
      signature_error: "too_many_members",
    });
    expect(await fetchCount(set.path)).toBe(0);
  });

  it("on a route that requires nothing, fields over the cap are dropped and the request goes on anonymous", async () => {
    const { request, set } = await wbaRequest("/public/x");
    const echo = await echoOf(await send(withJunkLabels(request, MAX), env));
    expect(verifiedAgentOf(echo)).toBeUndefined();
    // Only Signet's own attestation member remains.
    expect(echo.headers["signature-input"]?.split(", ")).toHaveLength(1);
    expect(await fetchCount(set.path)).toBe(0);
  });
});

describe("AAuth: the cap holds before any key work", () => {
  it(`${MAX + 1} jwks labels at counting URLs start no fetch at all (before the cap: 8)`, async () => {
    const paths = await Promise.all(
      Array.from({ length: MAX + 1 }, async () => {
        const path = `/i/${crypto.randomUUID()}/jwks.json`;
        await register(path, [{ headers: { "content-type": "application/jwk-set+json" }, body: { keys: [] } }]);
        return path;
      }),
    );
    const request = aauthJunk(MAX + 1, (i) => `s${i}=jwks;url="${aauthServer.url}${paths[i]}";kid="k"`);
    await expectProblem(await send(request, env), "malformed_signature_fields", {
      signature_error: "too_many_members",
    });
    const counts = await Promise.all(paths.map((p) => aauthCount(p)));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(0);
  });

  it("Signature-Key over the cap is refused whole (invalid_signature), even with a valid hwk signature in it", async () => {
    const key = await newKey();
    const filler = (n: number) => Array.from({ length: n }, (_, i) => `x${i}=hwk;kty="OKP"`);
    const request = async (members: number) => {
      const message = await signedAAuth({
        key,
        signatureKey: [hwkOf(key), ...filler(members - 1)].join(", "),
        url: `${RESOURCE}/any/x`,
      });
      return new Request(message.targetUri, { headers: message.headers as Headers });
    };
    expect((await send(await request(MAX), env)).status).toBe(200);
    const refused = await send(await request(MAX + 1), env);
    expect(refused.status).toBe(401);
    const body = (await refused.json()) as { reason: string; signature_error: string };
    expect(body).toMatchObject({ reason: "signature_invalid", signature_error: "invalid_signature" });
  });
});

describe("Signature-Agent over the cap", () => {
  it(`${MAX} members verify; ${MAX + 1} are refused whole (malformed_signature_agent) with no fetch`, async () => {
    for (const [members, ok] of [
      [MAX, true],
      [MAX + 1, false],
    ] as const) {
      const { request, set } = await wbaRequest();
      const headers = new Headers(request.headers);
      const filler = Array.from({ length: members - 1 }, (_, i) => `f${i}="https://f${i}.example"`);
      headers.set("signature-agent", [headers.get("signature-agent"), ...filler].join(", "));
      const response = await send(new Request(request, { headers }), env);
      if (ok) expect(verifiedAgentOf(await echoOf(response))?.agent).toBe(set.url);
      else await expectProblem(response, "malformed_signature_agent");
      expect(await fetchCount(set.path)).toBe(ok ? 1 : 0);
    }
  });
});

describe("the cap is a property of the Worker", () => {
  it("for any label count, a field over the cap is refused whole and one at or under it is judged", async () => {
    const key = await newKey();
    const member = hwkOf(key, "s").slice(2); // `hwk;kty=…`, without the label
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 * MAX }), async (n) => {
        const response = await send(
          aauthJunk(n, (i) => `s${i}=${member}`),
          env,
        );
        const body = (await response.json()) as { reason: string; signature_error?: string };
        if (n > MAX) {
          expect(response.status).toBe(400);
          expect(body).toMatchObject({ reason: "malformed_signature_fields", signature_error: "too_many_members" });
        } else {
          // Judged (junk signatures fail), never a field error.
          expect(response.status).toBe(401);
          expect(body.reason).not.toBe("malformed_signature_fields");
        }
      }),
      { numRuns: 24 },
    );
  }, 120_000);
});
