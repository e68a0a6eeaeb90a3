/**
 * `signet stats` as a real subprocess against a local HTTP server that answers like the console's JSON
 * endpoint (the browser test runs it against the real Worker too): text and `--json` output, the bearer token
 * sent, refusals and usage errors as one line and an exit status, and terminal control characters in
 * server-sent text neutralised.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsoleSummary } from "../../scripts/cli/stats.ts";
import { runCli } from "./run-cli.ts";

const TOKEN = "stats-test-secret-0123456789";
const AGENT = "https://agent.example/.well-known/http-message-signatures-directory";

const BODY: ConsoleSummary = {
  summary: {
    range: "1h",
    generatedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    traffic: [],
    outcomes: { verified: 7, invalid: 2, unverified: 1, unsigned: 5 },
    reasons: [
      { reason: "signature_required", count: 3 },
      { reason: "signature_replayed", count: 1 },
    ],
    rules: [],
    agents: [{ agent: AGENT, profile: "web-bot-auth", level: null, onBehalfOf: null, count: 7, lastSeen: 1 }],
    replaysBlocked: 1,
    directories: [
      { url: AGENT, lastSeen: 1, status: "ok", pinned: true, keyCount: 1, fetchedAt: null, freshUntil: null },
    ],
    refusals: [
      {
        time: Date.UTC(2026, 0, 2, 3, 4, 0),
        id: "r1",
        method: "GET",
        path: "/agents/\u001b[31mred",
        reason: "signature_required",
        status: 401,
        mode: "enforce",
        outcome: "unsigned",
        agent: null,
        label: null,
        rule: "* /agents/*",
      },
    ],
  },
  policy: {
    mode: "enforce",
    rules: [{ path: "/agents/*", require: "verified-agent" }],
    allow: [],
    deny: [],
    pinned: [],
    sampleAccepted: 1,
  },
};

let server: Server;
let url: string;
const seen: { authorization?: string; path?: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push({ authorization: request.headers.authorization, path: request.url });
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      response.writeHead(401, { "content-type": "application/problem+json" }).end('{"reason":"console_unauthorized"}');
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(BODY));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.signet/console`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("signet stats", { timeout: 30_000 }, () => {
  it("prints the summary: totals, agents, reasons with their meaning, directories, refusals, policy", async () => {
    const { code, stdout, stderr } = await runCli(["stats", "--url", url, "--token", TOKEN, "--range", "24h"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(seen.at(-1)).toEqual({ authorization: `Bearer ${TOKEN}`, path: "/.signet/console/api/summary?range=24h" });
    expect(stdout).toMatch(/Requests\s+15/);
    expect(stdout).toMatch(/verified\s+7/);
    expect(stdout).toMatch(/Replays blocked 1/);
    expect(stdout).toContain(AGENT);
    expect(stdout).toMatch(/signature_required\s+This resource requires a signed request/);
    expect(stdout).toMatch(/ok\s+https:\/\/agent\.example.* \(pinned, 1 key\)/);
    expect(stdout).toContain("Policy: enforce mode, 1 rule");
    // No escape sequence from the server reaches the terminal.
    expect(stdout).not.toContain("\u001b");
    expect(stdout).toContain("/agents/?[31mred");
  });

  it("--json prints the endpoint's JSON", async () => {
    const { code, stdout } = await runCli(["stats", "--url", `${url}/`, "--token", TOKEN, "--json"]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(BODY);
  });

  it("a wrong token is one line on stderr and exit 1", async () => {
    const { code, stdout, stderr } = await runCli(["stats", "--url", url, "--token", "wrong"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe("signet: the console refused the token (401): check --token\n");
  });

  it("usage errors exit 2", async () => {
    const [noUrl, noToken, badRange, help] = await Promise.all([
      runCli(["stats", "--token", TOKEN]),
      runCli(["stats", "--url", url]),
      runCli(["stats", "--url", url, "--token", TOKEN, "--range", "1y"]),
      runCli(["stats", "--help"]),
    ]);
    expect([noUrl.code, noToken.code, badRange.code]).toEqual([2, 2, 2]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: signet stats");
  }, 60_000);

  it("an unreachable console is one line and exit 1", async () => {
    const { code, stderr } = await runCli(["stats", "--url", "http://127.0.0.1:9/.signet/console", "--token", TOKEN]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^signet: cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
