/**
 * A key set held in the key directory cache stops yielding a key from the moment its `exp` passes, without
 * waiting for the set to be refetched (issue 11, item 9: the verifier ignored `exp`).
 */
import { describe, expect, it } from "vitest";
import { generateAgentKey } from "../../../agent/index.ts";
import { createKeyDirectoryCache, DIRECTORY_MEDIA_TYPE } from "../../../worker/discovery/index.ts";
import { ManualClock } from "./server.ts";

const a = await generateAgentKey();
const b = await generateAgentKey();
const AGENT = {
  keySetUrl: "https://agent.example/.well-known/http-message-signatures-directory",
  kind: "directory",
  declared: "https://agent.example",
} as const;

describe("key expiry in the key directory cache (injected clock and fetch)", () => {
  it("a held key is found until its exp, refused from then on, the set held and fetched once", async () => {
    const clock = new ManualClock();
    const nowSeconds = () => Math.floor(clock.now() / 1000);
    const exp = nowSeconds() + 120;
    let fetches = 0;
    const keys = createKeyDirectoryCache({
      cache: null,
      now: clock.now,
      random: () => 0,
      clockSkewSeconds: 0,
      fetch: async () => {
        fetches++;
        return new Response(JSON.stringify({ keys: [{ ...a.publicJwk, exp }, b.publicJwk] }), {
          headers: { "content-type": DIRECTORY_MEDIA_TYPE, "cache-control": "max-age=3600" },
        });
      },
    });
    expect((await keys.findKey(AGENT, a.thumbprint)).ok).toBe(true);
    clock.advance(119);
    expect((await keys.findKey(AGENT, a.thumbprint)).ok).toBe(true);
    clock.advance(1);
    const expired = await keys.findKey(AGENT, a.thumbprint);
    expect(expired).toMatchObject({ ok: false, code: "key_not_found" });
    // Signet's own wording per code (no member of the fetched set is quoted back).
    expect(!expired.ok && expired.message).toMatch(/has no such key/);
    expect((await keys.findKey(AGENT, b.thumbprint)).ok).toBe(true);
    expect(fetches).toBe(1);
  });

  it("a pinned key with an exp in the past (beyond the clock skew) is refused", async () => {
    const keys = createKeyDirectoryCache({
      cache: null,
      pinned: new Map([
        [AGENT.keySetUrl, [{ ...a.publicJwk, exp: Math.floor(Date.now() / 1000) - 3600 }, b.publicJwk]],
      ]),
    });
    expect(await keys.findKey(AGENT, a.thumbprint)).toMatchObject({ ok: false, code: "key_not_found" });
    expect((await keys.findKey(AGENT, b.thumbprint)).ok).toBe(true);
  });
});
