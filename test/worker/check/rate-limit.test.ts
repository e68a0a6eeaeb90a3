/** The check endpoint's rate limiter: per window, no client gets more than its limit, and the table stays bounded. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRateLimiter } from "../../../worker/check/rate-limit.ts";

describe("createRateLimiter", () => {
  it("never allows a client more than `limit` per window nor tracks more than `maxClients`", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2999 })), { maxLength: 200 }),
        (limit, maxClients, steps) => {
          const limiter = createRateLimiter({ limit, maxClients, windowMs: 1000 });
          const allowed = new Map<string, number>();
          let last = 0;
          for (const [client, delta] of steps.sort((a, b) => a[1] - b[1])) {
            last = Math.max(last, delta);
            const window = Math.floor(last / 1000);
            const decision = limiter.take(`c${client}`, last);
            if (decision.allowed) {
              const k = `${window} c${client}`;
              allowed.set(k, (allowed.get(k) ?? 0) + 1);
            } else expect(decision.retryAfter).toBeGreaterThanOrEqual(1);
            expect(limiter.size).toBeLessThanOrEqual(maxClients);
          }
          for (const count of allowed.values()) expect(count).toBeLessThanOrEqual(limit);
          const perWindow = new Map<string, number>();
          for (const k of allowed.keys())
            perWindow.set(k.split(" ")[0] as string, (perWindow.get(k.split(" ")[0] as string) ?? 0) + 1);
          for (const clients of perWindow.values()) expect(clients).toBeLessThanOrEqual(maxClients);
        },
      ),
    );
  });

  it("starts a fresh count each window", () => {
    const limiter = createRateLimiter({ limit: 1, maxClients: 1, windowMs: 60_000 });
    expect(limiter.take("a", 0).allowed).toBe(true);
    expect(limiter.take("a", 59_999)).toEqual({ allowed: false, retryAfter: 1 });
    expect(limiter.take("b", 1)).toMatchObject({ allowed: false });
    expect(limiter.take("a", 60_000).allowed).toBe(true);
  });
});
