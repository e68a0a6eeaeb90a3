/**
 * The console in a real browser: headless Chromium (the system's `/usr/bin/chromium`, driven by playwright-core)
 * against the Worker as `npm start` runs it (`wrangler dev --env dev`, fresh local state). Known traffic goes
 * in (verified agents signed with `signet sign` and the agent signer, a replay, invalid and unverified
 * signatures, unsigned requests), then the test opens the console: refused without the secret and with a wrong
 * one, signed in with the dev secret, and the page must show exactly those counts and the agent. A screenshot
 * is saved to test/artifacts/console.png on every run; `signet stats` must print the same counts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAgentKey, signRequest, webBotAuthProfile } from "../../agent/index.ts";
import { runCli } from "../cli/run-cli.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The dev secret from wrangler.toml's [env.dev.vars] (documented in the README; dev only). */
const SECRET = "signet-dev-console-secret";
const DEMO_AGENT = "https://signature-agent.test";
const DEMO_IDENTITY = `${DEMO_AGENT}/.well-known/http-message-signatures-directory`;
const SCREENSHOT = join(ROOT, "test/artifacts/console.png");

let wrangler: ChildProcess | undefined;
let state: string;
let base: string;
let browser: Browser | undefined;
let output = "";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForWorker(url: string): Promise<void> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    try {
      // The console path: Signet answers it without counting it as traffic.
      const response = await fetch(`${url}/.signet/console/api/summary`);
      await response.arrayBuffer();
      if (response.status === 401) return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not start:\n${output}`);
    if (wrangler?.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

beforeAll(async () => {
  const port = await freePort();
  state = await mkdtemp(join(tmpdir(), "signet-console-"));
  // `npm start` without the banner: wrangler dev --env dev, no account, no network, fresh state.
  wrangler = spawn(
    join(ROOT, "node_modules/.bin/wrangler"),
    [
      "dev",
      "--env",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      state,
      "--show-interactive-dev-session=false",
    ],
    {
      cwd: ROOT,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  wrangler.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  wrangler.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  base = `http://127.0.0.1:${port}`;
  await waitForWorker(base);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (wrangler?.pid !== undefined && wrangler.exitCode === null) {
    const exited = new Promise((resolve) => wrangler?.once("exit", resolve));
    process.kill(-wrangler.pid, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  await rm(state, { recursive: true, force: true });
}, 60_000);

/** The known traffic, and what the console must show for it. */
const EXPECTED = { verified: 3, invalid: 3, unverified: 1, unsigned: 4, replays: 1 };

async function sendTraffic(): Promise<void> {
  // Two verified agents' requests through the command line, as a site owner would try it.
  for (const path of ["/agents/one", "/agents/two"]) {
    const { code, stdout, stderr } = await runCli(
      ["sign", "--key", "demo/agent-key.json", "--agent", DEMO_AGENT, `${base}${path}`],
      {
        cwd: ROOT,
      },
    );
    expect({ code, stderr, status: stdout.split("\n")[0] }).toEqual({ code: 0, stderr: "", status: "HTTP/1.1 200 OK" });
  }
  const key = await loadAgentKey(
    (await import("../../demo/agent-key.json", { with: { type: "json" } })).default as never,
  );
  const profile = webBotAuthProfile({ agent: DEMO_AGENT });
  // A third verified request, then its replay.
  const once = await signRequest(new Request(`${base}/agents/three`), { key, profile });
  expect((await fetch(once.clone())).status).toBe(200);
  expect((await fetch(once)).status).toBe(401);
  // Two invalid signatures: the right fields, the wrong bytes.
  for (const path of ["/agents/bad1", "/agents/bad2"]) {
    const good = await signRequest(new Request(`${base}${path}`), { key, profile });
    const headers = new Headers(good.headers);
    headers.set("signature", `sig1=:${btoa("x".repeat(64))}:`);
    expect((await fetch(new Request(good.url, { headers }))).status).toBe(401);
  }
  // An agent whose keys cannot be had (no network): unverified.
  const stranger = await signRequest(new Request(`${base}/agents/stranger`), {
    key,
    profile: webBotAuthProfile({ agent: "https://unknown-agent.invalid" }),
  });
  expect((await fetch(stranger)).status).toBe(401);
  // Unsigned: two refused, two forwarded.
  for (const path of ["/agents/x", "/agents/y"]) expect((await fetch(`${base}${path}`)).status).toBe(401);
  for (const path of ["/hello", "/about"]) expect((await fetch(`${base}${path}`)).status).toBe(200);
}

async function metric(page: Page, name: string): Promise<string> {
  return (await page.locator(`[data-metric="${name}"] b`).textContent()) ?? "";
}

describe("the console in headless Chromium against wrangler dev", { timeout: 180_000 }, () => {
  it("refuses without the secret, signs in, shows the traffic sent, and saves a screenshot", async () => {
    await sendTraffic();
    const context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // Without the secret: the login form, and the JSON refused.
    const first = await page.goto(`${base}/.signet/console`);
    expect(first?.status()).toBe(401);
    await expect.poll(() => page.getByLabel("Console secret").isVisible()).toBe(true);
    expect(await page.locator("text=Top verified agents").count()).toBe(0);
    const api = await page.request.get(`${base}/.signet/console/api/summary`);
    expect(api.status()).toBe(401);

    // A wrong secret: refused, told so, no cookie.
    await page.getByLabel("Console secret").fill("not-the-secret-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    expect(await page.getByRole("alert").textContent()).toContain("That secret is not right.");
    expect(await context.cookies()).toEqual([]);

    // The dev secret, typed and submitted with the keyboard.
    await page.getByLabel("Console secret").fill(SECRET);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/.signet/console`);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Signet console");
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({
      name: "signet_console",
      httpOnly: true,
      secure: true,
      sameSite: "Strict",
      path: "/.signet/console",
    });

    // The counts of the traffic sent.
    expect(await metric(page, "verified")).toBe(String(EXPECTED.verified));
    expect(await metric(page, "invalid")).toBe(String(EXPECTED.invalid));
    expect(await metric(page, "unverified")).toBe(String(EXPECTED.unverified));
    expect(await metric(page, "unsigned")).toBe(String(EXPECTED.unsigned));
    expect(await metric(page, "replays blocked")).toBe(String(EXPECTED.replays));
    expect(await metric(page, "requests")).toBe(
      String(EXPECTED.verified + EXPECTED.invalid + EXPECTED.unverified + EXPECTED.unsigned),
    );

    // The agent, the reasons with their meaning, the refusals, the directory, the policy.
    const agents = page.locator("section", { has: page.locator("#agents-h") });
    await expect.poll(() => agents.locator("tbody tr").count()).toBe(1);
    expect(await agents.locator("tbody tr td").first().textContent()).toBe(DEMO_IDENTITY);
    expect(await agents.locator("tbody tr td").nth(4).textContent()).toBe(String(EXPECTED.verified));
    const reasons = await page
      .locator("section", { has: page.locator("#reasons-h") })
      .locator("tbody")
      .textContent();
    expect(reasons).toContain("signature_replayed");
    expect(reasons).toContain("The request signature was already used");
    expect(reasons).toContain("signature_required");
    expect(reasons).toContain("signature_invalid");
    expect(reasons).toContain("agent_unverified");
    const refusals = page.locator("section", { has: page.locator("#refusals-h") }).locator("tbody tr");
    expect(await refusals.count()).toBe(EXPECTED.invalid + EXPECTED.unverified + 2);
    const directories = await page
      .locator("section", { has: page.locator("#dirs-h") })
      .locator("tbody")
      .textContent();
    expect(directories).toContain(DEMO_IDENTITY);
    expect(directories).toContain("pinned");
    expect(await page.locator("section", { has: page.locator("#policy-h") }).textContent()).toContain("/agents/*");
    // The chart: an accessible image with bars.
    const chart = page.getByRole("img", { name: /Requests over the last 1h by outcome/ });
    expect(await chart.count()).toBe(1);
    expect(await chart.locator("rect").count()).toBeGreaterThan(0);

    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Keyboard: the first Tab reaches the skip link.
    await page.keyboard.press("Tab");
    expect(await page.locator(":focus").textContent()).toBe("Skip to content");

    // The same summary from the terminal.
    const stats = await runCli(["stats", "--url", `${base}/.signet/console`, "--token", SECRET], { cwd: ROOT });
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(new RegExp(`verified\\s+${EXPECTED.verified}\\n`));
    expect(stats.stdout).toMatch(new RegExp(`unsigned\\s+${EXPECTED.unsigned}\\n`));
    expect(stats.stdout).toContain(DEMO_IDENTITY);

    // Signing out ends the session.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForLoadState();
    expect(await context.cookies()).toEqual([]);
    expect(await page.getByLabel("Console secret").isVisible()).toBe(true);
    await context.close();
  });
});
