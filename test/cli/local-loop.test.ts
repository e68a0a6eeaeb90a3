/**
 * The agent builder's local loop as the docs walk it, with the real processes: `npm start -- --trust-loopback`
 * (scripts/start.ts, so wrangler dev --env dev), `signet keygen`, `signet directory serve`, `signet sign`. The
 * request is verified by real discovery of the loopback directory, not by a pinned key.
 *
 * The https case uses a throwaway self-signed certificate for 127.0.0.1 (test/cli/fixtures/loopback-tls-*.pem,
 * made for this test with openssl, valid for 100 years, trusted by nothing).
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, ROOT, type Running, start } from "./local-loop.ts";
import { runCli } from "./run-cli.ts";

let signet: Running;
let base: string;
let dir: string;
const running: Running[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "signet-loop-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  signet = start("scripts/start.ts", ["--trust-loopback", "--port", String(port)]);
  running.push(signet);
  await signet.waitFor(/Ready on http:\/\/127\.0\.0\.1:\d+/);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
}, 60_000);

describe("agent builder: keygen, directory serve, sign against npm start -- --trust-loopback", () => {
  it("is verified by discovery of the loopback directory: 200 and Verified-Agent naming it", async () => {
    const key = join(dir, "agent.jwk");
    const made = await runCli(["keygen", "--out", key, "--json"]);
    expect(made.code).toBe(0);
    const { thumbprint } = JSON.parse(made.stdout) as { thumbprint: string };

    const directory = start("scripts/signet.ts", ["directory", "serve", "--key", key, "--port", "0"]);
    running.push(directory);
    const agent = (await directory.waitFor(/agent URL: (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;

    const sent = await runCli([
      "sign",
      "--key",
      key,
      "--agent",
      agent,
      "--allow-loopback-agent",
      "--fail",
      "--json",
      `${base}/agents/hello`,
    ]);
    expect(sent.stderr).toBe("");
    expect(sent.code).toBe(0);
    const response = JSON.parse(sent.stdout) as { status: number; body: string };
    expect(response.status).toBe(200);
    const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
    expect(echoed.headers["verified-agent"]).toContain(
      `agent="${agent}/.well-known/http-message-signatures-directory"`,
    );
    expect(echoed.headers["verified-agent"]).toContain(`keyid="${thumbprint}"`);

    // signet sign --check asks the check endpoint: the verdict, exit 0, nothing forwarded, signature not spent.
    const checked = await runCli([
      "sign",
      "--key",
      key,
      "--agent",
      agent,
      "--allow-loopback-agent",
      "--check",
      `${base}/agents/check-me`,
    ]);
    expect(checked.stderr).toBe("");
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(
      `check of GET /agents/check-me: the edge would forward it as ${agent}/.well-known/http-message-signatures-directory`,
    );
    expect(checked.stdout).toMatch(/sig1: verified \[web-bot-auth\]/);
    expect(checked.stdout).toContain("replay: not checked");

    // A key the directory does not list: refused as an unknown key, with what to fix; exit 1.
    const stranger = join(dir, "stranger.jwk");
    expect((await runCli(["keygen", "--out", stranger])).code).toBe(0);
    const refused = await runCli([
      "sign",
      "--key",
      stranger,
      "--agent",
      agent,
      "--allow-loopback-agent",
      "--check",
      "--json",
      `${base}/agents/check-me`,
    ]);
    expect(refused.code).toBe(1);
    const verdict = JSON.parse(refused.stdout) as {
      action: string;
      reason: string;
      fix: string;
      labels: Array<{ reason: string }>;
    };
    expect(verdict).toMatchObject({ action: "refuse", reason: "agent_unverified" });
    expect(verdict.labels[0]?.reason).toBe("key_not_found");
    expect(verdict.fix).toMatch(/key/);
    await directory.stop();
  }, 120_000);

  it("AAuth: an agent token from signet aauth serve-provider, signed with --scheme jwt, is verified (200)", async () => {
    const key = join(dir, "aauth-agent.jwk");
    expect((await runCli(["keygen", "--out", key])).code).toBe(0);
    const tokenFile = join(dir, "agent-token.jwt");
    const provider = start("scripts/signet.ts", [
      "aauth",
      "serve-provider",
      "--key",
      key,
      "--out",
      tokenFile,
      "--port",
      "0",
      "--json",
    ]);
    running.push(provider);
    const line = (await provider.waitFor(/^\{.*\}$/m))[0];
    const { issuer, sub } = JSON.parse(line) as { issuer: string; sub: string };
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const url = `${base}/agents/hello`;
    const sent = await runCli([
      "sign",
      "--key",
      key,
      "--profile",
      "aauth",
      "--scheme",
      "jwt",
      "--token",
      tokenFile,
      "--json",
      url,
    ]);
    expect(sent.stderr).toBe("");
    const response = JSON.parse(sent.stdout) as { status: number; body: string };
    expect(response.status).toBe(200);
    const echoed = JSON.parse(response.body) as { headers: Record<string, string> };
    expect(echoed.headers["verified-agent"]).toContain("profile=aauth");
    expect(echoed.headers["verified-agent"]).toContain(sub);

    // The same key without the token is a pseudonym, which /agents/* does not accept.
    const hwk = await runCli(["sign", "--key", key, "--profile", "aauth", "--json", url]);
    expect((JSON.parse(hwk.stdout) as { status: number }).status).toBe(403);
    await provider.stop();
  }, 120_000);

  it("npm start refuses --trust-loopback with --remote (exit 2), before starting anything", async () => {
    const remote = start("scripts/start.ts", ["--trust-loopback", "--remote"]);
    running.push(remote);
    await new Promise<void>((resolve) => remote.child.once("close", () => resolve()));
    expect(remote.child.exitCode).toBe(2);
    expect(remote.output()).toContain("--trust-loopback is for local runs only");
  }, 60_000);

  it("refuses a loopback agent URL unless --allow-loopback-agent is given (usage error, exit 2)", async () => {
    const result = await runCli([
      "sign",
      "--key",
      join(ROOT, "demo/agent-key.json"),
      "--agent",
      "http://127.0.0.1:9",
      `${base}/agents/hello`,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--allow-loopback-agent");
  });

  it("an https loopback directory with a self-signed certificate is refused in Signet's own words", async () => {
    const tls: Server = createServer(
      {
        key: await readFile(join(ROOT, "test/cli/fixtures/loopback-tls-key.pem")),
        cert: await readFile(join(ROOT, "test/cli/fixtures/loopback-tls-cert.pem")),
      },
      (_req, res) => res.end("{}"),
    );
    await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
    try {
      const agent = `https://127.0.0.1:${(tls.address() as { port: number }).port}`;
      const sent = await runCli([
        "sign",
        "--key",
        join(ROOT, "demo/agent-key.json"),
        "--agent",
        agent,
        "--allow-loopback-agent",
        "--json",
        `${base}/agents/hello`,
      ]);
      expect(sent.code).toBe(0);
      const response = JSON.parse(sent.stdout) as { status: number; body: string };
      expect(response.status).toBe(401);
      const problem = JSON.parse(response.body) as Record<string, unknown>;
      expect(problem.reason).toBe("agent_unverified");
      // wrangler dev's workerd may or may not check the certificate: either way the words are Signet's own.
      expect(["directory_unreachable", "directory_invalid"]).toContain(problem.discovery_error);
      expect(problem.detail).toMatch(
        /^the key set at https:\/\/127\.0\.0\.1:\d+\/\.well-known\/http-message-signatures-directory (could not be fetched|is not a valid key set)/,
      );
      expect(response.body).not.toMatch(/internal error|reference =|certificate|SSL|TLS/i);
    } finally {
      tls.close();
      tls.closeAllConnections();
    }
  }, 60_000);
});
