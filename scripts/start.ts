/**
 * `npm start`: prints what the demo does, then runs `wrangler dev --env dev` on 127.0.0.1:8787 (extra arguments
 * are passed on, e.g. `npm start -- --port 9000`). When neither the environment nor `.dev.vars` sets
 * `SIGNET_ATTESTATION_KEY`, it makes a throwaway attestation key for this run, so a fresh clone starts with no
 * set-up; an origin developer who wants a stable key puts one in `.dev.vars` (see `.dev.vars.example`).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
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

const wrangler = join(root, "node_modules", ".bin", "wrangler");
const hasIp = args.includes("--ip");
const child = spawn(
  wrangler,
  ["dev", "--env", "dev", ...(hasIp ? [] : ["--ip", "127.0.0.1"]), ...(portOf(args) ? [] : ["--port", port]), ...args],
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
