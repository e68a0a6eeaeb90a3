/**
 * Requests that carry `Authorization`: the Web Bot Auth identity is verified whether or not the signature covers
 * the header, and the header reaches the origin untouched.
 *
 * Binding a bearer token to the signing key (refusing a covered-nowhere `Authorization`, or marking the binding in
 * `Verified-Agent`) is enforced in a later change; these tests pin down today's behaviour, identity only.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "./gateway.ts";

const AGENT = "https://bearer-agent.example";
const TOKEN = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZ2VudCJ9.";

let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  key = await generateAgentKey();
  env = gatewayEnv({ rules: [{ path: "/api/*", require: "verified-agent" }], pinned: { [AGENT]: [key.publicJwk] } });
});

describe("Authorization and Web Bot Auth", () => {
  it("a signature that does not cover Authorization still verifies the agent's identity", async () => {
    const request = await signed("https://signet.example/api/orders", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { authorization: TOKEN },
      coverAuthorization: false,
    });
    expect(request.headers.get("signature-input")).not.toContain('"authorization"');
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT), keyid: key.thumbprint });
    expect(echo.headers.authorization).toBe(TOKEN);
  });

  it("an Authorization added after signing does not spoil the identity either (it is simply not covered)", async () => {
    const request = await signed("https://signet.example/api/orders", { key: key.privateJwk, agent: AGENT });
    request.headers.set("authorization", TOKEN);
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)?.agent).toBe(identityOf(AGENT));
    expect(echo.headers.authorization).toBe(TOKEN);
  });

  it("a signature that covers Authorization verifies", async () => {
    const request = await signed("https://signet.example/api/orders", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { authorization: TOKEN },
    });
    expect(request.headers.get("signature-input")).toContain('"authorization"');
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT), label: "sig1" });
    expect(echo.headers.authorization).toBe(TOKEN);
  });

  it("a covered Authorization swapped for another token fails the signature", async () => {
    const request = await signed("https://signet.example/api/orders", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { authorization: TOKEN },
    });
    request.headers.set("authorization", "Bearer stolen");
    await expectProblem(await send(request, env), "signature_invalid", { signature_error: "invalid_signature" });
  });

  it("a signed POST with a body and Authorization: Content-Digest and Authorization both covered", async () => {
    const request = await signed("https://signet.example/api/orders", {
      key: key.privateJwk,
      agent: AGENT,
      method: "POST",
      headers: { authorization: TOKEN, "content-type": "application/json" },
      body: '{"sku":"42"}',
    });
    expect(request.headers.get("signature-input")).toMatch(/"authorization" "content-digest"/);
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)?.agent).toBe(identityOf(AGENT));
    expect(echo.body).toBe('{"sku":"42"}');
  });
});
