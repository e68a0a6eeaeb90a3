import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

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

/** The RFC 9421 core and the agent signer run unchanged in Node and in workerd. */
const coreTests = ["test/rfc9421/**/*.test.ts", "test/agent/**/*.test.ts"];

export default defineConfig({
  test: {
    globals: true,
    projects: [
      {
        extends: true,
        test: { name: "core-node", environment: "node", include: coreTests },
      },
      {
        extends: true,
        plugins: [cloudflareTest({ wrangler, miniflare: { bindings: { SIGNET_ATTESTATION_KEY } } })],
        test: { name: "core-workerd", include: coreTests },
      },
      {
        // Peer implementations (node:crypto based) checked against the core, in Node only.
        extends: true,
        test: { name: "interop-node", environment: "node", include: ["test/interop/**/*.test.ts"] },
      },
      {
        // The signet command line, run as a real subprocess.
        extends: true,
        // Each test spawns Node processes; on a loaded machine that alone can take seconds, so no 5 s default.
        test: { name: "cli-node", environment: "node", include: ["test/cli/**/*.test.ts"], testTimeout: 60_000 },
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
