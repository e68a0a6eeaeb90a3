/**
 * The README's quick start as written: `npm start` (node_modules is already installed here) serves the demo, and
 * the walk in its banner and in the site-owner guide works: an anonymous request passes, `/agents/*` without a
 * signature is 401 `signature_required`, and the demo agent signed with `npm run -s signet -- sign` reaches the
 * echo origin with `Verified-Agent`. The server runs on free ports with its own local state.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
let server: ChildProcess | undefined;
let output = "";
let base = "";
let state = "";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  expect(readme).toContain("```sh\nnpm install && npm start\n```");
  const [port, inspector] = [await freePort(), await freePort()];
  state = await mkdtemp(join(tmpdir(), "signet-quick-start-"));
  const args = ["start", "--", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state];
  server = spawn("npm", [...args, "--show-interactive-dev-session=false"], {
    cwd: ROOT,
    env: { ...process.env, CI: "1" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout?.setEncoding("utf8").on("data", (chunk) => {
    output += chunk;
  });
  server.stderr?.setEncoding("utf8").on("data", (chunk) => {
    output += chunk;
  });
  base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 150_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/.signet/console/api/summary`);
      await response.arrayBuffer();
      if (response.status === 401) break;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`npm start did not serve:\n${output}`);
    if (server.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}, 180_000);

afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once("exit", resolve));
    process.kill(-server.pid, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  await rm(state, { recursive: true, force: true });
}, 60_000);

describe("the README quick start", { timeout: 120_000 }, () => {
  it("prints the banner with the demo's own commands", () => {
    expect(output).toContain(`Signet demo: ${base}`);
  });

  it("passes an anonymous request and refuses /agents/* without a signature", async () => {
    const anonymous = await fetch(`${base}/hello`);
    expect(anonymous.status).toBe(200);
    const echo = (await anonymous.json()) as { headers: Record<string, string> };
    expect(echo.headers["verified-agent"]).toBeUndefined();
    const refused = await fetch(`${base}/agents/hello`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ reason: "signature_required" });
    expect(refused.headers.get("accept-signature")).not.toBeNull();
  });

  it("lets the demo agent through, signed with npm run -s signet -- sign", async () => {
    const agent = ["--key", "demo/agent-key.json", "--agent", "https://signature-agent.test"];
    const result = await run("npm", ["run", "-s", "signet", "--", "sign", ...agent, `${base}/agents/hello`]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toContain("verified-agent");
    expect(result.stdout).toContain("signature-agent.test");
  });
});
