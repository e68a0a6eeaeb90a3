/**
 * No secret ever reaches a log line or the console: requests carrying random bearer tokens, API keys,
 * cookies, signatures, `Signature-Key` tokens, bodies and query strings (signed and unsigned, accepted and
 * refused, enforce and monitor) go through the whole Worker, and every line written to the console, and the
 * console's JSON summary, are scanned for each secret and its base64 form.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { send, signed } from "../gateway/gateway.ts";
import { CONSOLE_SECRET, captureLogs, decisionsIn, observedEnv, summaryOf } from "./helpers.ts";

const AGENT = "https://secretive-agent.example";

let agentKey: GeneratedKey;
let enforce: ReturnType<typeof observedEnv>;
let monitor: ReturnType<typeof observedEnv>;

beforeAll(async () => {
  agentKey = await generateAgentKey();
  const policy = {
    rules: [
      { path: "/agents/*", require: "verified-agent", bearer: "require-proof", credentialHeaders: ["x-api-key"] },
      { path: "/api/*", require: "none", bearer: "require-proof" },
    ],
    pinned: { [AGENT]: [agentKey.publicJwk] },
  };
  enforce = observedEnv(policy);
  monitor = observedEnv({ ...policy, mode: "monitor" });
});

/** A distinctive secret: a marker no log field could produce by chance, then random base64url. */
const secretArb = fc.stringMatching(/^[A-Za-z0-9_-]{12,40}$/).map((s) => `Zq${s}Zq`);

const where = fc.constantFrom("authorization", "cookie", "x-api-key", "signature", "signature-key", "body", "query");
const route = fc.constantFrom("/agents/x", "/api/y", "/open");

function base64(text: string): string {
  return btoa(text);
}

/** A request carrying `secret` in one place, signed by the agent or not. */
async function carrying(secret: string, place: string, path: string, sign: boolean): Promise<Request> {
  const headers: Record<string, string> = {};
  let url = `https://signet.example${path}`;
  let body: string | undefined;
  if (place === "authorization") headers.authorization = `Bearer ${secret}`;
  if (place === "cookie") headers.cookie = `session=${secret}; other=1`;
  if (place === "x-api-key") headers["x-api-key"] = secret;
  if (place === "body") body = `{"password":"${secret}"}`;
  if (place === "query") url += `?access_token=${secret}`;
  if (sign && place !== "signature" && place !== "signature-key") {
    return signed(url, { key: agentKey.privateJwk, agent: AGENT, headers, body, method: body ? "POST" : "GET" });
  }
  if (place === "signature") {
    headers["signature-input"] =
      `sig1=("@method");created=${Math.floor(Date.now() / 1000)};keyid="k";tag="web-bot-auth"`;
    headers.signature = `sig1=:${base64(secret)}:`;
  }
  if (place === "signature-key") {
    headers["signature-input"] = `sig=("@method" "signature-key");created=${Math.floor(Date.now() / 1000)}`;
    headers.signature = "sig=:AAAA:";
    headers["signature-key"] = `sig=jwt;jwt="${secret}.${secret}.${secret}"`;
  }
  return new Request(url, { method: body ? "POST" : "GET", headers, body });
}

function expectAbsent(text: string, secret: string): void {
  expect(text.includes(secret), `secret found in: ${text.slice(0, 300)}`).toBe(false);
  expect(text.includes(base64(secret)), `base64 secret found in: ${text.slice(0, 300)}`).toBe(false);
}

describe("no secret in any log line or in the console", () => {
  it("fuzz: secrets in credentials, cookies, signatures, tokens, bodies and queries never show", async () => {
    const seen: string[] = [];
    let decisions = 0;
    await fc.assert(
      fc.asyncProperty(secretArb, where, route, fc.boolean(), fc.boolean(), async (secret, place, path, sign, mon) => {
        seen.push(secret);
        const request = await carrying(secret, place, path, sign);
        const { lines } = await captureLogs(async () => {
          const response = await send(request, mon ? monitor : enforce);
          await response.arrayBuffer();
          expect(response.status).toBeLessThan(500);
        });
        decisions += decisionsIn(lines).length;
        expect(decisionsIn(lines)).toHaveLength(1);
        for (const line of lines) expectAbsent(line, secret);
      }),
      { numRuns: 150 },
    );
    expect(decisions).toBe(150);
    // The console's summary (refusal ring, agents, directories) holds none of them either.
    const summary = JSON.stringify(await summaryOf(enforce)) + JSON.stringify(await summaryOf(monitor));
    for (const secret of seen) expectAbsent(summary, secret);
    expect(summary.includes(CONSOLE_SECRET)).toBe(false);
  }, 120_000);
});
