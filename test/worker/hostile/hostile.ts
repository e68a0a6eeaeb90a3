/**
 * Helpers for the hostile-input, fault and load tests of the whole Worker: the local origin's request counter
 * (`test/worker/origin-server.ts`), an environment that forwards to that origin, and a replay
 * store that fails on schedule.
 *
 * @module
 */
import { inject } from "vitest";
import type { Env } from "../../../worker/env.ts";
import type { ReplayStoreNamespace } from "../../../worker/replay/durable-object-store.ts";
import { attestationKey, gatewayEnv } from "../gateway/gateway.ts";

/** The local HTTP origin (`test/worker/origin-server.ts`). */
export const localOrigin = inject("localOriginUrl");

/** How many requests for exactly `pathAndQuery` reached the local origin. */
export async function originCount(pathAndQuery: string): Promise<number> {
  const response = await fetch(`${localOrigin}/__count?path=${encodeURIComponent(pathAndQuery)}`);
  return ((await response.json()) as { count: number }).count;
}

/** The Worker's environment for a policy, forwarding to the local HTTP origin with a real attestation key. */
export async function localOriginEnv(policy: object, origin: string = localOrigin): Promise<Env> {
  const { secret } = await attestationKey();
  return gatewayEnv(policy, { origin, attestationKey: secret });
}

/** A replay store in front of the real one whose calls fail on schedule, with counters. */
export interface FlakyReplayStore extends ReplayStoreNamespace {
  /** Calls made to the store (a call carries a batch of claims). */
  readonly calls: number;
  /** Claims carried by the calls that were made to fail. */
  readonly failures: number;
}

/**
 * Wraps the real `REPLAY_STORE` so that every `every`-th call fails: `before` the store is asked (its claims are
 * never recorded) or `after` it answered (they are recorded, but Signet never hears back, as when the
 * connection to the Durable Object breaks mid-call). Claims are batched, so a failing call fails each claim in it.
 */
export function flakyReplayStore(
  real: ReplayStoreNamespace,
  every: number,
  when: "before" | "after" = "before",
): FlakyReplayStore {
  let calls = 0;
  let failures = 0;
  return {
    get calls() {
      return calls;
    },
    get failures() {
      return failures;
    },
    getByName(name) {
      const shard = real.getByName(name);
      return {
        async claimBatch(claims) {
          calls += 1;
          const fail = calls % every === 0;
          if (fail) failures += claims.length;
          if (fail && when === "before") throw new Error("injected replay store failure (before the claim)");
          const claimed = await shard.claimBatch(claims);
          if (fail) throw new Error("injected replay store failure (after the claim)");
          return claimed;
        },
      };
    },
  };
}
