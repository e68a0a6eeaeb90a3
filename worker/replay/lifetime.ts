/**
 * How long a verified signature can be accepted: one function for both profiles, which the replay check uses both
 * to refuse anything past it and to size the signature's replay record.
 *
 * @module
 */
import type { Policy } from "../policy/policy.ts";

/** What the lifetime of a signature depends on. */
export interface LifetimeInput {
  /** The profile that verified the signature. */
  readonly profile?: "web-bot-auth" | "aauth" | undefined;
  /** The signature's `created` and `expires`, Unix seconds. */
  readonly params?: { readonly created?: number | undefined; readonly expires?: number | undefined } | undefined;
}

/**
 * The last Unix second at which a verified signature can be accepted under the policy, or `undefined` when
 * nothing bounds it (such a signature cannot be made single-use, and is refused).
 *
 * - Web Bot Auth (RFC 9421 checks): `expires + clockSkew`, and `created + maxAge + clockSkew` when `maxAge` is set.
 * - AAuth: `created + aauth.signatureWindow`, `expires` when present, and `created + maxAge + clockSkew` when
 *   `maxAge` is set (a policy whose window is longer than `maxAge` is refused at load).
 *
 * The replay record of the signature lives strictly beyond this second, so no second exists at which the
 * signature verifies and its record is gone.
 *
 * @example
 * ```ts
 * lastAcceptableSecond({ profile: "web-bot-auth", params: { created: 100, expires: 400 } }, policy); // 460
 * ```
 */
export function lastAcceptableSecond(signature: LifetimeInput, policy: Policy): number | undefined {
  const { created, expires } = signature.params ?? {};
  const { clockSkew, maxAge } = policy.freshness;
  const bounds: number[] = [];
  if (signature.profile === "aauth") {
    if (created !== undefined) bounds.push(created + policy.aauth.signatureWindow);
    if (expires !== undefined) bounds.push(expires);
  } else if (expires !== undefined) {
    bounds.push(expires + clockSkew);
  }
  if (created !== undefined && maxAge !== undefined) bounds.push(created + maxAge + clockSkew);
  return bounds.length === 0 ? undefined : Math.min(...bounds);
}
