/**
 * Whole-Worker fuzzing: random and mutated signature fields, credentials and methods through `app.fetch`, on
 * routes that require a verified agent, a signature with bearer proof, or nothing, in enforce and monitor mode.
 * Whatever arrives, Signet answers 200 (forwarded) or a 4xx RFC 9457 problem with a known reason and matching
 * status, never a 5xx; and a request it refuses in enforce mode never reaches the origin.
 *
 * 3,000 cases (see the count in `test/rfc9421/fuzz-fields.test.ts`). Values are ASCII without CR, LF and NUL:
 * the runtime refuses those three in `Headers` before Signet could see them (see `pathological.test.ts`), and it
 * logs a warning for every non-ASCII value, which the pathological tests cover one by one instead.
 */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentKey, generateAgentKey, loadAgentKey } from "../../../agent/index.ts";
import type { EchoedRequest } from "../../../worker/demo-origin.ts";
import { REJECTION_REASONS } from "../../../worker/reasons.ts";
import {
  applyEdits,
  arbitraryTextArb,
  editArb,
  signatureAgentArb,
  signatureArb,
  signatureInputArb,
} from "../../rfc9421/field-arbitraries.ts";
import { gatewayEnv, send, signed } from "../gateway/gateway.ts";

const AGENT = "https://fuzz-agent.internal";
const RUNS = { enforce: 2000, monitor: 700, deployed: 300 } as const;
const TIMEOUT = 60_000;

let key: AgentKey;
let enforce: ReturnType<typeof gatewayEnv>;
let monitor: ReturnType<typeof gatewayEnv>;

const RULES = [
  { path: "/agents/*", require: "verified-agent" },
  { path: "/api/*", require: "signature", bearer: "require-proof", credentialHeaders: ["x-api-key"] },
  { path: "/open/*", require: "none" },
];

beforeAll(async () => {
  const generated = await generateAgentKey();
  key = await loadAgentKey(generated.privateJwk);
  const pinned = { [AGENT]: [generated.publicJwk] };
  enforce = gatewayEnv({ rules: RULES, pinned });
  monitor = gatewayEnv({ mode: "monitor", rules: RULES, pinned });
});

/** What a header value can carry through Fetch: ASCII, no CR, LF or NUL (leading/trailing space is trimmed). */
const headerSafe = (text: string) =>
  [...text].map((ch) => (ch === "\r" || ch === "\n" || ch === "\0" || ch > "\u007f" ? "?" : ch)).join("");

const FIELDS = ["signature-input", "signature", "signature-agent", "authorization", "x-api-key", "content-digest"];

/** A change to one field of a real signed request. */
const fieldChangeArb = fc.record({
  field: fc.constantFrom(...FIELDS),
  change: fc.oneof(
    { weight: 1, arbitrary: fc.constant<null>(null) }, // drop it
    { weight: 3, arbitrary: fc.array(editArb, { minLength: 1, maxLength: 4 }) },
    { weight: 2, arbitrary: fc.oneof(signatureInputArb, signatureArb, signatureAgentArb) },
    { weight: 1, arbitrary: arbitraryTextArb },
  ),
});

const caseArb = fc.record({
  path: fc.constantFrom("/agents/x", "/api/orders", "/open/page", "/elsewhere"),
  method: fc.constantFrom("GET", "POST", "DELETE", "OPTIONS", "PATCH"),
  body: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  authorization: fc.option(fc.constantFrom("Bearer t", "Basic YTpi", "x"), { nil: undefined }),
  /** Start from a real signature (mutated below) or from nothing. */
  signedFirst: fc.boolean(),
  changes: fc.array(fieldChangeArb, { maxLength: 3 }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

async function requestFor(c: Case): Promise<Request> {
  const url = `https://signet.example${c.path}`;
  const method = c.method;
  const body = method === "GET" || method === "OPTIONS" ? undefined : c.body;
  const headers: Record<string, string> = c.authorization === undefined ? {} : { authorization: c.authorization };
  const base = c.signedFirst
    ? await signed(url, { key, agent: AGENT, method, body, headers })
    : new Request(url, { method, body, headers });
  const out = new Headers(base.headers);
  for (const { field, change } of c.changes) {
    if (change === null) out.delete(field);
    else if (Array.isArray(change)) out.set(field, headerSafe(applyEdits(out.get(field) ?? "", change)));
    else out.set(field, headerSafe(change));
  }
  return new Request(url, { method, headers: out, body });
}

/** The checks every response must pass; returns the status. */
async function judge(response: Response, mode: "enforce" | "monitor"): Promise<number> {
  const text = await response.text();
  const where = `${response.status} ${text.slice(0, 300)}`;
  expect(response.status, where).toBeLessThan(500);
  if (response.status === 200) {
    const echo = JSON.parse(text) as EchoedRequest;
    // Every forwarded request carries Signet's attestation.
    expect(echo.headers["signature-input"], where).toContain('tag="signet-attestation"');
    if (mode === "enforce") expect(echo.headers["signet-monitor"], where).toBeUndefined();
    return 200;
  }
  expect(response.status, where).toBeGreaterThanOrEqual(400);
  expect(response.headers.get("content-type"), where).toBe("application/problem+json");
  const problem = JSON.parse(text) as { reason: keyof typeof REJECTION_REASONS; status: number };
  expect(REJECTION_REASONS[problem.reason]?.status, where).toBe(response.status);
  return response.status;
}

describe("whole-Worker fuzzing: never a 5xx", () => {
  it(
    `enforce mode: ${RUNS.enforce} random and mutated requests`,
    async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const status = await judge(await send(await requestFor(c), enforce), "enforce");
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }),
        { numRuns: RUNS.enforce },
      );
      // The cases reach acceptance, refusals of the signature and refusals of the fields.
      for (const status of [200, 400, 401]) expect(statuses.get(status) ?? 0, `${[...statuses]}`).toBeGreaterThan(20);
    },
    TIMEOUT,
  );

  it(
    `monitor mode: ${RUNS.monitor} cases, every one forwarded`,
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const response = await send(await requestFor(c), monitor);
          // Monitor mode forwards everything; unparseable client signature fields are dropped (worker/index.ts).
          expect(await judge(response, "monitor")).toBe(200);
        }),
        { numRuns: RUNS.monitor },
      );
    },
    TIMEOUT,
  );

  it(
    `the deployed entry point (default policy): ${RUNS.deployed} cases`,
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const response = await exports.default.fetch(await requestFor(c));
          const text = await response.text();
          expect(response.status, text.slice(0, 300)).toBeLessThan(500);
        }),
        { numRuns: RUNS.deployed },
      );
    },
    TIMEOUT,
  );
});
