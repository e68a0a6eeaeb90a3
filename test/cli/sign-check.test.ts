/**
 * `signet sign --check` against stand-in servers on 127.0.0.1: what it sends (the check path, the signed target in
 * Signet-Check-Target), its exit codes, and that a server's answer cannot put control characters on the terminal.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./local-loop.ts";
import { runCli } from "./run-cli.ts";

let server: Server;
let base: string;
let answer: { status: number; body: string } = { status: 200, body: "{}" };
const seen: IncomingMessage[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
  server.closeAllConnections();
});

const key = join(ROOT, "demo/agent-key.json");
const check = (...extra: string[]) =>
  runCli([
    "sign",
    "--key",
    key,
    "--agent",
    "https://signature-agent.test",
    "--check",
    ...extra,
    `${base}/agents/x?q=1`,
  ]);

describe("signet sign --check", () => {
  it("sends to the check path with the signed target in Signet-Check-Target; exit 0 on forward", async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        check: true,
        action: "forward",
        agent: "a",
        rule: "/agents/*",
        requires: "verified-agent",
        labels: [],
        replay: "not checked",
      }),
    };
    const result = await check();
    expect(result.code).toBe(0);
    const request = seen.at(-1) as IncomingMessage;
    expect(request.url).toBe("/.signet/check");
    expect(request.headers["signet-check-target"]).toBe("/agents/x?q=1");
    expect(request.headers["signature-input"]).toContain('"@path"');
    expect(result.stdout).toContain("check of GET /agents/x?q=1: the edge would forward it as a");
  });

  it("--check-path changes the path", async () => {
    await check("--check-path", "/other/check");
    expect(seen.at(-1)?.url).toBe("/other/check");
  });

  it("exit 1 on a refusal, and control characters from the server never reach the terminal", async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        check: true,
        action: "refuse",
        status: 401,
        reason: "signature_invalid",
        detail: "x\u001b[31mred\u0007",
        fix: "f\u009b2J",
        labels: [],
      }),
    };
    const result = await check();
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("refuse it: 401 signature_invalid");
    const controls = [...result.stdout].filter((c) => {
      const code = c.codePointAt(0) as number;
      return c !== "\n" && (code < 0x20 || (code >= 0x7f && code <= 0x9f));
    });
    expect(controls).toEqual([]);
  });

  it("exit 1 with a hint when the site does not answer checks (404 check_disabled)", async () => {
    answer = { status: 404, body: JSON.stringify({ reason: "check_disabled" }) };
    const result = await check();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("answered 404 (check_disabled); the site does not answer checks");
  });

  it("exit 1 for an answer that is not a verdict", async () => {
    answer = { status: 200, body: "<html>hello</html>" };
    const result = await check();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is this a Signet site with the check endpoint on?");
    expect(result.stderr).not.toContain("html");
  });

  it("exit 2 for a bad --check-path", async () => {
    expect((await check("--check-path", "no-slash")).code).toBe(2);
  });
});
