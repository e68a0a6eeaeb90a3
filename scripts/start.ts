/**
 * `npm start`: prints what the demo does, then runs `wrangler dev --env dev` on 127.0.0.1:8787 (extra arguments
 * are passed on, e.g. `npm start -- --port 9000`). When neither the environment nor `.dev.vars` sets
 * `SIGNET_ATTESTATION_KEY`, it makes a throwaway attestation key for this run, so a fresh clone starts with no
 * set-up; an origin developer who wants a stable key puts one in `.dev.vars` (see `.dev.vars.example`).
 *
 * `npm start -- --trust-loopback` also lets this local run fetch key directories from loopback
 * (`http://127.0.0.1:PORT`, as `signet directory serve` offers): it passes the dev policy (from `.dev.vars`, else
 * `[env.dev.vars]` in wrangler.toml) with `discovery.unsafeAllowLoopback` set, as a `--var` of this one
 * `wrangler dev` run. Nothing is written to any file and no deployed configuration changes, so a deployment cannot
 * inherit it; it is refused together with `--remote`, where the Worker would run on Cloudflare.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const trustLoopback = process.argv.includes("--trust-loopback");
const args = process.argv.slice(2).filter((a) => a !== "--trust-loopback");
if (trustLoopback && args.some((a) => a === "--remote" || a.startsWith("--remote="))) {
  process.stderr.write("npm start: --trust-loopback is for local runs only; it cannot go with --remote\n");
  process.exit(2);
}
const port = portOf(args) ?? "8787";
const base = `http://127.0.0.1:${port}`;

process.stdout.write(`
Signet demo: ${base} in front of a built-in echo origin (no account, no network).
Routes under /agents/* require a verified agent; the demo agent https://signature-agent.test is pinned, and its
key demo/agent-key.json is the published RFC 9421 test key (accepted only because the dev policy allows test keys).

  curl -i ${base}/hello                        # anonymous: passes, no Verified-Agent
  curl -i ${base}/agents/hello                 # 401 signature_required, with Accept-Signature
  npx signet sign --key demo/agent-key.json --agent https://signature-agent.test ${base}/agents/hello
                                               # 200: the echo shows Verified-Agent and Signet's attestation

The site-owner console: ${base}/.signet/console (dev-only secret: signet-dev-console-secret)
  npx signet stats --url ${base}/.signet/console --token signet-dev-console-secret

`);

const env: NodeJS.ProcessEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false" };
if (env.SIGNET_ATTESTATION_KEY === undefined && !(await devVarsSetKey())) {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  env.SIGNET_ATTESTATION_KEY = JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey));
  process.stdout.write("No SIGNET_ATTESTATION_KEY in .dev.vars: this run attests with a throwaway key.\n\n");
}

const extra: string[] = [];
if (trustLoopback) {
  const policy = await devPolicy();
  const discovery = (policy.discovery ?? {}) as Record<string, unknown>;
  const trusting = { ...policy, discovery: { ...discovery, unsafeAllowLoopback: true } };
  extra.push("--var", `SIGNET_POLICY:${JSON.stringify(trusting)}`);
  process.stdout.write(`--trust-loopback: this run fetches key directories from 127.0.0.1, localhost and [::1] too.
  npx signet keygen --out agent.jwk
  npx signet directory serve --key agent.jwk --port 9000          # in another terminal
  npx signet sign --key agent.jwk --agent http://127.0.0.1:9000 --allow-loopback-agent ${base}/agents/hello

`);
}

const wrangler = join(root, "node_modules", ".bin", "wrangler");
const hasIp = args.includes("--ip");
const child = spawn(
  wrangler,
  [
    "dev",
    "--env",
    "dev",
    ...(hasIp ? [] : ["--ip", "127.0.0.1"]),
    ...(portOf(args) ? [] : ["--port", port]),
    ...extra,
    ...args,
  ],
  { cwd: root, env, stdio: "inherit" },
);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});

/** The value of `--port N` or `--port=N` among the arguments. */
function portOf(argv: readonly string[]): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === "--port") return argv[i + 1];
    if (arg.startsWith("--port=")) return arg.slice("--port=".length);
  }
  return undefined;
}

/** Whether `.dev.vars` assigns `SIGNET_ATTESTATION_KEY`. */
async function devVarsSetKey(): Promise<boolean> {
  try {
    const text = await readFile(join(root, ".dev.vars"), "utf8");
    return /^\s*SIGNET_ATTESTATION_KEY\s*=/m.test(text);
  } catch {
    return false;
  }
}

/**
 * The policy this local run would use: `SIGNET_POLICY` from `.dev.vars` when set there, else the one in
 * wrangler.toml's `[env.dev.vars]`, else the defaults (`{}`).
 */
async function devPolicy(): Promise<Record<string, unknown>> {
  let text = "{}";
  const devVars = await readFile(join(root, ".dev.vars"), "utf8").catch(() => "");
  const fromVars = /^\s*SIGNET_POLICY\s*=\s*(?:'(.*)'|"(.*)"|(.*))\s*$/m.exec(devVars);
  if (fromVars !== null) text = fromVars[1] ?? fromVars[2]?.replace(/\\"/g, '"') ?? fromVars[3] ?? "{}";
  else {
    const toml = await readFile(join(root, "wrangler.toml"), "utf8");
    const fromToml = /^\[env\.dev\.vars\][\s\S]*?^SIGNET_POLICY\s*=\s*'''([\s\S]*?)'''/m.exec(toml);
    if (fromToml !== null) text = fromToml[1] as string;
  }
  try {
    const policy = JSON.parse(text.trim() === "" ? "{}" : text) as unknown;
    if (typeof policy === "object" && policy !== null && !Array.isArray(policy)) {
      return policy as Record<string, unknown>;
    }
  } catch {
    // Reported below.
  }
  process.stderr.write("npm start: the dev SIGNET_POLICY is not a JSON object; cannot add --trust-loopback to it\n");
  process.exit(2);
}
