/**
 * Red team, issue 11 class (f): Signet as in-process Hono middleware (`signet-edge/middleware`) behind an app
 * middleware that already read the body. The verification must still answer with a refusal, never throw: a
 * signed body it cannot read is not a body it verified.
 */
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { keyCacheFor } from "../../../worker/configuration.ts";
import { parsePolicy, type SignetVariables, signetMiddleware } from "../../../worker/embed.ts";
import { signed } from "../gateway/gateway.ts";

const AGENT = "https://redteam-embedded-agent.example";
let key: GeneratedKey;
let app: Hono<{ Variables: SignetVariables }>;

beforeAll(async () => {
  key = await generateAgentKey();
  app = new Hono<{ Variables: SignetVariables }>();
  // An app middleware that consumes the body before Signet's.
  app.use("*", async (c, next) => {
    await c.req.raw.text();
    await next();
  });
  const policy = parsePolicy(
    JSON.stringify({ rules: [{ path: "/agents/*", require: "verified-agent" }], pinned: { [AGENT]: [key.publicJwk] } }),
  );
  app.use("*", signetMiddleware({ policy, keys: keyCacheFor(policy) }));
  app.all("*", (c) => c.json({ agent: c.get("signetAgent")?.agent ?? null }));
});

describe("a body read before Signet's middleware", () => {
  for (const contentLength of [undefined, "0"]) {
    it(`is refused, never a throw (Content-Length ${contentLength ?? "absent"})`, async () => {
      const request = await signed("https://signet.example/agents/upload", {
        key: key.privateJwk,
        agent: AGENT,
        method: "POST",
        body: "payload",
      });
      const headers = new Headers(request.headers);
      if (contentLength !== undefined) headers.set("content-length", contentLength);
      const response = await app.fetch(new Request(request.url, { method: "POST", headers, body: "payload" }));
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    });
  }
});
