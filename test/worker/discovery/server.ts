/**
 * Helpers for the discovery tests: unique URLs on the directory server of `test/worker/directory-server.ts`, its
 * per-path statistics, and a hand-driven clock.
 *
 * @module
 */
import { inject } from "vitest";
import type { AgentReference } from "../../../worker/discovery/index.ts";

/** The directory server's URL and keys. */
export const server = inject("directoryServer");

/** A key set URL on the server for one scenario, unique to the caller. */
export interface ScenarioUrl {
  /** The full URL (with the scenario's query). */
  readonly url: string;
  /** Its path, for {@link stats}. */
  readonly path: string;
}

/**
 * A fresh URL for a scenario: `/s/<scenario>/<uuid>/.well-known/http-message-signatures-directory?<query>`.
 *
 * @example
 * ```ts
 * const { url, path } = scenarioUrl("valid", { cc: "max-age=120" });
 * ```
 */
export function scenarioUrl(scenario: string, query: Record<string, string> = {}): ScenarioUrl {
  const path = `/s/${scenario}/${crypto.randomUUID()}/.well-known/http-message-signatures-directory`;
  const search = new URLSearchParams(query).toString();
  return { url: `${server.url}${path}${search ? `?${search}` : ""}`, path };
}

/** The server's statistics for a path. */
export interface PathStats {
  count: number;
  bytesSent: number;
  aborted: number;
}

/**
 * How often the server was asked for a path, how many bytes it sent, how many clients went away early.
 *
 * @example
 * ```ts
 * expect((await stats(path)).count).toBe(1);
 * ```
 */
export async function stats(path: string): Promise<PathStats> {
  const response = await fetch(`${server.url}/count?path=${encodeURIComponent(path)}`);
  return (await response.json()) as PathStats;
}

/**
 * Polls the statistics until `check` holds or `ms` pass (the server sees a client go away a little later). The
 * default wait is generous (10 s): it only bounds how long a failing check is retried, never what is asserted.
 *
 * @example
 * ```ts
 * const seen = await statsEventually(path, (s) => s.aborted > 0);
 * ```
 */
export async function statsEventually(path: string, check: (s: PathStats) => boolean, ms = 10_000): Promise<PathStats> {
  const until = Date.now() + ms;
  let current = await stats(path);
  while (!check(current) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    current = await stats(path);
  }
  return current;
}

/**
 * An agent reference for a URL.
 *
 * @example
 * ```ts
 * await keys.findKey(agentFor(url), keyid);
 * ```
 */
export function agentFor(keySetUrl: string, kind: AgentReference["kind"] = "directory"): AgentReference {
  return { keySetUrl, kind, declared: keySetUrl };
}

/**
 * A clock that moves only when told, starting at the real time (directory signatures are made with real time).
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * createKeyDirectoryCache({ now: clock.now });
 * clock.advance(61);
 * ```
 */
export class ManualClock {
  private ms = Date.now();
  /** The current time in milliseconds. */
  readonly now = (): number => this.ms;
  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
