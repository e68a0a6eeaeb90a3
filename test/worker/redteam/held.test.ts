/**
 * Red team, issue 11: attacks tried through the whole Worker (real Durable Object replay store) that already
 * failed before this branch, kept so that they keep failing. Each names the promise it attacks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "../gateway/gateway.ts";

const AGENT = "https://redteam-held-agent.example";
let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;
let created = Math.floor(Date.now() / 1000) - 200;

beforeAll(async () => {
  key = await generateAgentKey();
  env = gatewayEnv({
    rules: [
      { path: "/agents/*", require: "verified-agent" },
      { path: "/public/*", require: "none" },
    ],
    pinned: { [AGENT]: [key.publicJwk] },
  });
});

/** A nonce-less signed GET (the replay key is then the signature base). */
function capture(path: string): Promise<Request> {
  created += 1;
  return signed(`https://signet.example${path}`, { key: key.privateJwk, agent: AGENT, nonce: null, created });
}

/** The request with its label renamed in Signature-Input, Signature and Signature-Agent. */
function relabelled(request: Request, label: string, init: RequestInit = {}): Request {
  const headers = new Headers(request.headers);
  for (const name of ["signature-input", "signature", "signature-agent"]) {
    headers.set(
      name,
      (headers.get(name) as string).replace(/^sig1=/, `${label}=`).replace('key="sig1"', `key="${label}"`),
    );
  }
  return new Request(request.url, { ...init, headers });
}

describe("a captured signature works once (class a)", () => {
  it("renaming its label does not make it new: the base names the member key, so it no longer verifies", async () => {
    const captured = await capture("/agents/report");
    expect(verifiedAgentOf(await echoOf(await send(captured.clone(), env)))).toMatchObject({
      agent: identityOf(AGENT),
    });
    const response = await send(relabelled(captured, "sig2"), env);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { reason: string }).reason).toMatch(/^signature_(invalid|replayed)$/);
  });

  it("the same signature twice in one request under two labels is one use, and a later copy is a replay", async () => {
    const captured = await capture("/agents/twice");
    const headers = new Headers(captured.headers);
    headers.append("signature-input", (captured.headers.get("signature-input") as string).replace(/^sig1=/, "sig9="));
    headers.append("signature", (captured.headers.get("signature") as string).replace(/^sig1=/, "sig9="));
    const both = new Request(captured.url, { headers });
    // Forwarded once: both labels have the same signature base, so whichever decides claims the same record ...
    expect(verifiedAgentOf(await echoOf(await send(both, env)))).toMatchObject({ agent: identityOf(AGENT) });
    // ... and the plain copy afterwards is refused.
    await expectProblem(await send(captured, env), "signature_replayed");
  });

  it("HEAD with a captured GET signature does not verify (@method is covered)", async () => {
    const captured = await capture("/agents/head");
    const response = await send(new Request(captured.url, { method: "HEAD", headers: captured.headers }), env);
    expect(response.status).toBe(401);
  });

  it("a captured signature first spent on a none route is refused on a protected one", async () => {
    const captured = await capture("/public/page");
    await echoOf(await send(captured.clone(), env));
    await expectProblem(await send(captured, env), "signature_replayed");
  });
});
