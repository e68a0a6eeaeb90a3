/**
 * Signet inside a Hono app on Node (or Bun), in one process: the whole example of embedding. The test
 * `test/embed/hono-node.test.ts` imports this file and runs it, so what you read here is what is tested.
 *
 * - Keys: no `keys` option, so the middleware builds its key sources from the policy: the pinned demo key below
 *   (and key discovery for every other agent).
 * - Replay: `createProcessLocalReplayStore()` keeps replay records in this process's memory. It is NOT global:
 *   run two processes and a copy sent to the other one is accepted there. On Cloudflare Workers pass the
 *   `REPLAY_STORE` Durable Object namespace instead (`replayStore: env.REPLAY_STORE`).
 * - The demo key is a published test key: `allowTestKeys: true` lets it verify. Never set that in production.
 *
 * Install `signet-edge` and `hono`, then serve `app` with `@hono/node-server` (`serve(app)`) on Node, or
 * `export default app` on Bun.
 *
 * @module
 */
import { Hono } from "hono";
import { createProcessLocalReplayStore, type SignetVariables, signetMiddleware } from "signet-edge/middleware";

/** The demo agent's identity (its `Signature-Agent`); sign with `demo/agent-key.json`. */
export const DEMO_AGENT = "https://demo-agent.signet.example";

/** The policy: `/api/*` needs a verified agent, everything else is open. */
export const policy = {
  rules: [
    { path: "/api/*", require: "verified-agent" },
    { path: "/*", require: "none" },
  ],
  pinned: {
    [DEMO_AGENT]: [{ kty: "OKP", crv: "Ed25519", x: "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" }],
  },
  allowTestKeys: true,
};

/** The app: Signet in front of every route, the verified agent read from `c.get("signetAgent")`. */
export const app = new Hono<{ Variables: SignetVariables }>();

app.use(
  "*",
  signetMiddleware({
    policy: JSON.stringify(policy),
    replayStore: createProcessLocalReplayStore(),
  }),
);

app.get("/api/hello", (c) => c.json({ hello: c.get("signetAgent")?.agent ?? null }));
app.get("/", (c) => c.text("open to everyone"));
