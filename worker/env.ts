/**
 * Bindings and variables that the Signet Worker receives from its Wrangler configuration.
 *
 * @module
 */

import type { AnalyticsDataset, MetricsNamespace } from "./observability/metrics.ts";
import type { ReplayStoreNamespace } from "./replay/durable-object-store.ts";

/**
 * The environment of the Signet Worker (`vars`, secrets and bindings from `wrangler.toml`).
 *
 * Every field here must also be declared in `wrangler.toml`; `npm run cf-typegen` regenerates the
 * matching `Cloudflare.Env` in `worker-configuration.d.ts`, which tests see through `cloudflare:workers`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import type { Env } from "./env.ts";
 *
 * const app = new Hono<{ Bindings: Env }>();
 * app.get("/origin", (c) => c.text(c.env.ORIGIN_URL || "(route mode)"));
 * ```
 */
export interface Env {
  /**
   * Where accepted requests go.
   *
   * - `""` (production default): route mode, the request continues to the origin from the zone's DNS.
   * - `"https://origin.example:8443"`: an origin (scheme, host and optional port only); the request's path and
   *   query are kept.
   * - `"demo:echo"`: the built-in echo origin from `demo-origin.ts`, used by `npm start` and the tests.
   */
  readonly ORIGIN_URL: string;
  /** The policy as JSON (see `worker/policy/policy.ts`); empty for the defaults. */
  readonly SIGNET_POLICY?: string | undefined;
  /**
   * Secret: Signet's private JWK (Ed25519 recommended), which signs the attestation of every forwarded request.
   * Required in production; with the demo origin an ephemeral key is made when it is missing.
   */
  readonly SIGNET_ATTESTATION_KEY?: string | undefined;
  /** The replay store: a SQLite-backed Durable Object namespace of `ReplayStore` shards. */
  readonly REPLAY_STORE?: ReplayStoreNamespace | undefined;
  /** The metrics store: the `SignetMetrics` Durable Object namespace (one object, named `metrics`). */
  readonly SIGNET_METRICS?: MetricsNamespace | undefined;
  /** Optional: a Workers Analytics Engine dataset that also receives one data point per decision. */
  readonly SIGNET_ANALYTICS?: AnalyticsDataset | undefined;
  /** Secret: the console's secret (16 characters or more). The console is off without it. */
  readonly SIGNET_CONSOLE_SECRET?: string | undefined;
  /** Where the console answers. Default `/.signet/console`. */
  readonly SIGNET_CONSOLE_PATH?: string | undefined;
  /** Optional: the Cloudflare Access team domain (`myteam.cloudflareaccess.com`) the console also requires. */
  readonly SIGNET_CONSOLE_ACCESS_TEAM?: string | undefined;
  /** Optional: the Access application's audience tag (with `SIGNET_CONSOLE_ACCESS_TEAM`). */
  readonly SIGNET_CONSOLE_ACCESS_AUD?: string | undefined;
}
