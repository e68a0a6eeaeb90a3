/**
 * Red team, issue 11 class (e): unbounded cost from one request. A signature that covers `content-digest` makes
 * Signet hash the body to check the digest. Before: the middleware read a clone of the whole body, however
 * large, once per label that covered it, before judging anything else; a verified agent (or anyone with an AAuth
 * `hwk` key, which needs no registration) could make Signet pull any number of bytes. Now the body is read once,
 * at most 16 MiB (the attester's largest digest limit); beyond it the label is refused with `signature_error=missing_body`
 * and the rest of the stream is never pulled. Counted on the attacker's own stream, through the whole Worker.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import { DEFAULT_VERIFY_BODY_BYTES } from "../../../worker/verification/bounded-body.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "../gateway/gateway.ts";

const AGENT = "https://redteam-cost-agent.example";
const CHUNK = 64 * 1024;
/** The attacker's body: 64 MiB, produced lazily (before the fix, 20 labels made Signet hold it 20 times). */
const TOTAL = 64 * 1024 * 1024;

let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;

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

/** A lazy body of `total` bytes that counts how many bytes were pulled from it. */
function countingBody(total: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let produced = 0;
  const chunk = new Uint8Array(CHUNK).fill(0x61);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (produced >= total) return controller.close();
      produced += CHUNK;
      controller.enqueue(chunk.slice());
    },
  });
  return { stream, pulled: () => produced };
}

/** The agent's signed POST (covering content-digest of a small body), re-sent with another body and `labels` copies. */
async function attack(path: string, body: ReadableStream<Uint8Array>, labels = 1): Promise<Request> {
  const request = await signed(`https://signet.example${path}`, {
    key: key.privateJwk,
    agent: AGENT,
    method: "POST",
    body: "small",
    nonce: null,
  });
  const headers = new Headers(request.headers);
  // Extra labels: the same signature under other names (the base does not name the label, so each verifies).
  const input = headers.get("signature-input") as string;
  const signature = headers.get("signature") as string;
  const agent = headers.get("signature-agent") as string;
  for (let i = 2; i <= labels; i++) {
    headers.append("signature-input", input.replace(/^sig1=/, `sig${i}=`).replace(/key="sig1"/, `key="sig${i}"`));
    headers.append("signature", signature.replace(/^sig1=/, `sig${i}=`));
    headers.append("signature-agent", agent.replace(/^sig1=/, `sig${i}=`));
  }
  return new Request(request.url, { method: "POST", headers, body, duplex: "half" } as RequestInit);
}

describe("a signed body larger than Signet reads", () => {
  it("is refused with missing_body after at most the limit (plus a chunk) is pulled", async () => {
    const { stream, pulled } = countingBody(TOTAL);
    const problem = await expectProblem(await send(await attack("/agents/upload", stream), env), "signature_invalid");
    expect(problem.signature_error).toBe("missing_body");
    expect(pulled()).toBeLessThanOrEqual(DEFAULT_VERIFY_BODY_BYTES + 4 * CHUNK);
  }, 120_000);

  it("twenty labels covering content-digest still read the body once, within the same bound", async () => {
    const { stream, pulled } = countingBody(TOTAL);
    const response = await send(await attack("/agents/upload", stream, 20), env);
    expect(response.status).toBe(401);
    await response.body?.cancel();
    expect(pulled()).toBeLessThanOrEqual(DEFAULT_VERIFY_BODY_BYTES + 4 * CHUNK);
  }, 120_000);

  it("on a none route the request still reaches the origin whole (the clone Signet gave up on is not the body)", async () => {
    const total = 3 * 1024 * 1024;
    const { stream, pulled } = countingBody(total);
    const response = await send(await attack("/public/upload", stream), env);
    const echo = await echoOf(response);
    expect(echo.body.length).toBe(total);
    expect(pulled()).toBe(total);
    expect(verifiedAgentOf(echo)).toBeUndefined();
  }, 120_000);

  it("a body within the limit is still verified, digest checked, and forwarded as the agent (the control)", async () => {
    const body = "x".repeat(2 * 1024 * 1024);
    const request = await signed("https://signet.example/agents/upload", {
      key: key.privateJwk,
      agent: AGENT,
      method: "POST",
      body,
    });
    const echo = await echoOf(await send(request, env));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT) });
    expect(echo.body.length).toBe(body.length);
  }, 120_000);
});
