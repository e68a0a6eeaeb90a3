import { describe, expect, it } from "vitest";
import { generateAgentKey } from "../../agent/index.ts";
import directoryWorker from "../../directory/worker.ts";

const URL_ = "https://agent.example/.well-known/http-message-signatures-directory";

describe("the standalone directory Worker", () => {
  it("serves the keys from DIRECTORY_KEYS, with rotation entries", async () => {
    const current = await generateAgentKey();
    const old = await generateAgentKey();
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const env = { DIRECTORY_KEYS: JSON.stringify([current.privateJwk, { jwk: old.privateJwk, exp }]) };
    const response = await directoryWorker.fetch(new Request(URL_), env);
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Array<{ kid: string; exp?: number; d?: string }> };
    expect(keys.map((k) => k.kid)).toEqual([current.thumbprint, old.thumbprint]);
    expect(keys[1]?.exp).toBe(exp);
    expect(keys.some((k) => "d" in k)).toBe(false);
  });

  it("answers 503, not 500, when the secret is missing or malformed", async () => {
    // Another host than above: a built directory is kept per authority for the life of the isolate.
    for (const env of [{}, { DIRECTORY_KEYS: "not json" }, { DIRECTORY_KEYS: "[]" }]) {
      const response = await directoryWorker.fetch(new Request(URL_.replace("agent.example", "other.example")), env);
      expect(response.status).toBe(503);
    }
  });
});
