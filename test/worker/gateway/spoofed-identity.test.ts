/**
 * Identity headers are Signet's alone: a client-sent `Verified-Agent` or `Signet-Monitor` never reaches the
 * origin as sent. Anonymous requests arrive without either; verified ones carry Signet's `Verified-Agent`; in
 * monitor mode `Signet-Monitor` is Signet's verdict.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { echoOf, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "./gateway.ts";

const AGENT = "https://spoof-test-agent.example";
const FORGED_AGENT =
  'agent="https://trusted-partner.example/.well-known/http-message-signatures-directory", keyid="forged", profile=web-bot-auth, alg=ed25519, label="sig1"';
const FORGED_MONITOR = "reason=none, status=200";

let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;
let monitorEnv: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  key = await generateAgentKey();
  const policy = {
    rules: [{ path: "/agents/*", require: "verified-agent" }],
    pinned: { [AGENT]: [key.publicJwk] },
  };
  env = gatewayEnv(policy);
  monitorEnv = gatewayEnv({ ...policy, mode: "monitor" });
});

/** Client headers that claim an identity, in the spellings a client might try. */
const SPOOFS: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ["canonical names", { "Verified-Agent": FORGED_AGENT, "Signet-Monitor": FORGED_MONITOR }],
  ["lower case", { "verified-agent": FORGED_AGENT, "signet-monitor": FORGED_MONITOR }],
  ["upper case", { "VERIFIED-AGENT": FORGED_AGENT, "SIGNET-MONITOR": FORGED_MONITOR }],
  ["non-ASCII values", { "Verified-Agent": 'agent="https://ägent.example"', "Signet-Monitor": "reason=ok✓" }],
];

/** A request carrying the spoofed headers; repeated lines too (`append`), so no single line slips through. */
function withSpoof(url: string, headers: Record<string, string>, init: RequestInit = {}): Request {
  const request = new Request(url, init);
  for (const [name, value] of Object.entries(headers)) {
    request.headers.append(name, value);
    request.headers.append(name, value);
  }
  return request;
}

describe("anonymous requests arrive with no identity header at all", () => {
  it.each(SPOOFS)("%s", async (_what, headers) => {
    const echo = await echoOf(await send(withSpoof("https://signet.example/public/page", headers), env));
    expect(echo.headers["verified-agent"]).toBeUndefined();
    expect(echo.headers["signet-monitor"]).toBeUndefined();
    // The attestation covers no identity header either.
    expect(echo.headers["signature-input"]).not.toMatch(/verified-agent|signet-monitor/);
  });

  it("through the deployed entry point with the default policy too", async () => {
    const response = await exports.default.fetch(
      withSpoof("https://signet.example/", { "Verified-Agent": FORGED_AGENT, "Signet-Monitor": FORGED_MONITOR }),
    );
    const echo = await echoOf(response);
    expect(echo.headers["verified-agent"]).toBeUndefined();
    expect(echo.headers["signet-monitor"]).toBeUndefined();
  });
});

describe("verified requests arrive with Signet's Verified-Agent in place of the client's", () => {
  it.each(SPOOFS)("%s", async (_what, headers) => {
    const request = await signed("https://signet.example/agents/data", { key: key.privateJwk, agent: AGENT, headers });
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT), keyid: key.thumbprint, label: "sig1" });
    expect(echo.headers["verified-agent"]).not.toContain("trusted-partner");
    expect(echo.headers["verified-agent"]?.match(/agent=/g)).toHaveLength(1); // not the client's value joined to it
    expect(echo.headers["signet-monitor"]).toBeUndefined();
  });

  it("even when the client's own signature covers its forged Verified-Agent", async () => {
    const request = await signed("https://signet.example/agents/data", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { "Verified-Agent": FORGED_AGENT },
      cover: ['"verified-agent"'],
    });
    expect(request.headers.get("signature-input")).toContain('"verified-agent"');
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)?.agent).toBe(identityOf(AGENT));
  });
});

describe("monitor mode: Signet-Monitor is Signet's verdict, never the client's", () => {
  it("an unsigned request on a verified-agent route carries Signet's would-be refusal", async () => {
    const request = withSpoof("https://signet.example/agents/data", {
      "Verified-Agent": FORGED_AGENT,
      "Signet-Monitor": FORGED_MONITOR,
    });
    const echo = await echoOf(await send(request, monitorEnv));
    expect(echo.headers["signet-monitor"]).toBe("reason=signature_required, status=401");
    expect(echo.headers["verified-agent"]).toBeUndefined();
  });

  it("a verified request in monitor mode carries Signet's Verified-Agent and no Signet-Monitor", async () => {
    const request = await signed("https://signet.example/agents/data", {
      key: key.privateJwk,
      agent: AGENT,
      headers: { "Verified-Agent": FORGED_AGENT, "Signet-Monitor": FORGED_MONITOR },
    });
    const echo = await echoOf(await send(request, monitorEnv));
    expect(verifiedAgentOf(echo)?.agent).toBe(identityOf(AGENT));
    expect(echo.headers["signet-monitor"]).toBeUndefined();
  });
});
