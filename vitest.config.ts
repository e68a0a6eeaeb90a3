import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

/** The Wrangler file that gives the workerd projects their compatibility date, flags and bindings. */
const wrangler = { configPath: "./wrangler.toml" };

/**
 * A throwaway attestation key for the workerd projects, so the secret `wrangler.toml` declares as required is
 * present (tests that need a known key pass their own).
 */
const attestationPair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
  "sign",
  "verify",
])) as CryptoKeyPair;
const SIGNET_ATTESTATION_KEY = JSON.stringify(await crypto.subtle.exportKey("jwk", attestationPair.privateKey));
// Wrangler checks required secrets against the process environment before the bindings below apply.
process.env.SIGNET_ATTESTATION_KEY ??= SIGNET_ATTESTATION_KEY;

/**
 * The RFC 9421 core and the agent signer run unchanged in Node and in workerd; `*.node.test.ts` files (which
 * start local servers) run in Node only.
 */
const coreTests = ["test/rfc9421/**/*.test.ts", "test/agent/**/*.test.ts"];
const nodeOnlyTests = "test/**/*.node.test.ts";

export default defineConfig({
  test: {
    globals: true,
    // The Worker writes one decision log line per request; tests that check them capture them with spies.
    onConsoleLog: (log) => !log.includes("signet.decision"),
    projects: [
      {
        extends: true,
        test: { name: "core-node", environment: "node", include: coreTests },
      },
      {
        extends: true,
        plugins: [cloudflareTest({ wrangler, miniflare: { bindings: { SIGNET_ATTESTATION_KEY } } })],
        test: { name: "core-workerd", include: coreTests, exclude: [...configDefaults.exclude, nodeOnlyTests] },
      },
      {
        // Peer implementations (node:crypto based) checked against the core, in Node only.
        extends: true,
        test: { name: "interop-node", environment: "node", include: ["test/interop/**/*.test.ts"] },
      },
      {
        // The signet command line, run as a real subprocess: each run starts a Node, slow on a busy machine.
        extends: true,
        test: { name: "cli-node", environment: "node", include: ["test/cli/**/*.test.ts"], testTimeout: 60_000 },
      },
      {
        // Signet embedded in a Hono app on Node: the documented examples under docs/examples/, run as written
        // (their `signet-edge/middleware` import is the package's own entry, `worker/embed.ts`).
        extends: true,
        resolve: { alias: { "signet-edge/middleware": new URL("./worker/embed.ts", import.meta.url).pathname } },
        test: { name: "embed-node", environment: "node", include: ["test/embed/**/*.test.ts"] },
      },
      {
        // The site-owner console in headless Chromium against `wrangler dev --env dev` (see .ci/run).
        extends: true,
        test: {
          name: "browser",
          environment: "node",
          include: ["test/browser/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest({
            wrangler,
            // The tests talk to the built-in echo origin unless a test passes its own env.
            miniflare: { bindings: { ORIGIN_URL: "demo:echo", SIGNET_ATTESTATION_KEY } },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts", "test/directory/**/*.test.ts"],
          globalSetup: [
            "test/worker/origin-server.ts",
            "test/worker/directory-server.ts",
            "test/worker/aauth-server.ts",
          ],
        },
      },
    ],
  },
});
