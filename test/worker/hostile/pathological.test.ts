/**
 * Oversized and pathological input through the whole Worker: 1 MB values of each signature field and of a
 * covered field, 10,000 labels, 10,000 nested parentheses, non-ASCII and control characters. Each case must get
 * its exact 4xx problem (400 for unparseable fields, or for more than `MAX_DICTIONARY_MEMBERS` members in one
 * field) or a 200 where the input is legitimate, and never a 5xx. What bounds Signet's work is asserted as an
 * outcome, not a time: a field over the member cap is refused whole (`too_many_members`, so no label goes
 * unjudged beside an accepted one), and at the cap only `budget.maxLabels` labels are judged (`label_limit` on
 * the first one past it). Tests never assert speed; each case has a generous timeout instead.
 *
 * What the runtime refuses before Signet sees it (asserted below, so a runtime change shows up here):
 *
 * - `Headers` throws `TypeError: Invalid header value.` for a value containing NUL, CR or LF: a request with
 *   one cannot be built inside a Worker, and an HTTP/1.1 front end never delivers one. NUL reaches Signet's core
 *   only from raw text (`signet explain`), where it is a SignatureError like any other bad character.
 * - Other C0 controls (U+0001, TAB, DEL) pass through unchanged.
 * - Non-ASCII values are accepted and stored as UTF-8 (workerd logs a warning for each); they read back
 *   unchanged. A lone surrogate becomes U+FFFD. Leading and trailing whitespace is trimmed.
 * - 1 MB header values pass in-process (`app.fetch` and the Worker's own `fetch` entry point). Cloudflare's edge
 *   limits the size of request headers far below that, so such requests never reach a deployed Signet: these
 *   tests prove Signet stays bounded without relying on that limit.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentKey, type GeneratedKey, generateAgentKey, loadAgentKey } from "../../../agent/index.ts";
import type { KeySource } from "../../../worker/discovery/key-source.ts";
import { parsePolicy } from "../../../worker/policy/parse-policy.ts";
import type { RejectionReason } from "../../../worker/reasons.ts";
import { MAX_DICTIONARY_MEMBERS } from "../../../worker/rfc9421/index.ts";
import { verifyRequest } from "../../../worker/verification/verify-request.ts";
import { echoOf, expectProblem, gatewayEnv, type Problem, send, signed } from "../gateway/gateway.ts";

const AGENT = "https://pathological-agent.internal";
const MB = 1024 * 1024;
/** A generous timeout per case: a busy machine must never fail a case (the cases assert outcomes only). */
const TIMEOUT = 60_000;
/** The most members Signet parses in one field. */
const MAX = MAX_DICTIONARY_MEMBERS;

let generated: GeneratedKey;
let key: AgentKey;
let env: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  generated = await generateAgentKey();
  key = await loadAgentKey(generated.privateJwk);
  env = gatewayEnv({
    rules: [
      { path: "/agents/*", require: "verified-agent" },
      { path: "/open/*", require: "none" },
    ],
    pinned: { [AGENT]: [generated.publicJwk] },
  });
});

const url = (path = "/agents/x") => `https://signet.example${path}`;
const NOW = () => Math.floor(Date.now() / 1000);

/** A valid signed request (covering `x-covered`) with one header then replaced. */
async function signedThen(name: string, value: string): Promise<Request> {
  const request = await signed(url(), { key, agent: AGENT, headers: { "x-covered": "ok" }, cover: ['"x-covered"'] });
  request.headers.set(name, value);
  return request;
}

/** `n` well-formed Web Bot Auth labels, each with its own junk signature, naming the pinned agent. */
function labels(n: number): { input: string; signature: string } {
  const created = NOW();
  const names = Array.from({ length: n }, (_, i) => `l${i}`);
  const params = `;created=${created};expires=${created + 60};keyid="${key.thumbprint}";tag="web-bot-auth"`;
  return {
    input: names.map((l) => `${l}=("@authority" "signature-agent")${params}`).join(", "),
    signature: names.map((l) => `${l}=:${btoa("x".repeat(64))}:`).join(", "),
  };
}

/** A `sig1` Web Bot Auth `Signature-Input` member over `components`. */
function webBotAuthMember(components: string, keyid: string = key.thumbprint): string {
  const created = NOW();
  return `sig1=(${components});created=${created};expires=${created + 60};keyid="${keyid}";tag="web-bot-auth"`;
}

function plain(headers: Array<[string, string]>, path = "/agents/x"): Request {
  const request = new Request(url(path));
  for (const [name, value] of headers) request.headers.append(name, value);
  return request;
}

type Case = readonly [
  what: string,
  make: () => Promise<Request>,
  reason: RejectionReason | 200,
  members: Partial<Problem>,
];

const CASES: ReadonlyArray<Case> = [
  // 1 MB Signature-Input
  [
    "Signature-Input: 1 MB of '('",
    async () => signedThen("signature-input", `sig1=${"(".repeat(MB)}`),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "Signature-Input: a Web Bot Auth member with a 1 MB keyid",
    async () =>
      signedThen("signature-input", webBotAuthMember('"@authority" "signature-agent";key="sig1"', "k".repeat(MB))),
    "agent_unverified",
    { discovery_error: "key_not_found" },
  ],
  [
    "Signature-Input: a Web Bot Auth member covering 1 MB of absent fields",
    async () =>
      signedThen(
        "signature-input",
        webBotAuthMember(
          `"@authority" "signature-agent";key="sig1" ${Array.from({ length: MB / 16 }, (_, i) => `"x-h${i}"`).join(" ")}`,
        ),
      ),
    "signature_invalid",
    { signature_error: "missing_field" },
  ],
  // 1 MB Signature
  [
    "Signature: 1 MB of base64 for the real label",
    async () => signedThen("signature", `sig1=:${btoa("x".repeat((3 * MB) / 4))}:`),
    "signature_invalid",
    { signature_error: "invalid_signature_length" },
  ],
  [
    "Signature: 1 MB of junk",
    async () => signedThen("signature", "=".repeat(MB)),
    "malformed_signature_fields",
    { signature_error: "malformed_signature" },
  ],
  // 1 MB Signature-Agent
  [
    "Signature-Agent: the covered member is a 1 MB URL",
    async () => signedThen("signature-agent", `sig1="${AGENT}/${"a".repeat(MB)}"`),
    "agent_unverified",
    { discovery_error: "egress_refused" },
  ],
  [
    "Signature-Agent: 1 MB of '('",
    async () => signedThen("signature-agent", `sig1=${"(".repeat(MB)}`),
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "Signature-Agent: 1 MB of other members (more than Signet parses)",
    async () => {
      const request = await signed(url(), { key, agent: AGENT });
      const members = Array.from({ length: MB / 16 }, (_, i) => `m${i}="x"`).join(", ");
      request.headers.set("signature-agent", `${members}, ${request.headers.get("signature-agent")}`);
      return request;
    },
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "Signature-Agent: 63 other members and the covered one (at the cap)",
    async () => {
      const request = await signed(url(), { key, agent: AGENT });
      const members = Array.from({ length: MAX - 1 }, (_, i) => `m${i}="x"`).join(", ");
      request.headers.set("signature-agent", `${members}, ${request.headers.get("signature-agent")}`);
      return request;
    },
    200,
    {},
  ],
  // 1 MB covered field
  [
    "a covered field replaced by 1 MB after signing",
    async () => signedThen("x-covered", "v".repeat(MB)),
    "signature_invalid",
    { signature_error: "invalid_signature" },
  ],
  [
    "a covered field of 1 MB, signed as it is (legitimate, accepted)",
    async () => signed(url(), { key, agent: AGENT, headers: { "x-covered": "v".repeat(MB) }, cover: ['"x-covered"'] }),
    200,
    {},
  ],
  // Many labels: over the member cap the fields are refused whole; at it, only budget.maxLabels are judged
  [
    "10,000 labels naming the pinned agent, all junk (refused whole: more than Signet parses)",
    async () => {
      const { input, signature } = labels(10_000);
      return plain([
        ["signature-input", input],
        ["signature", signature],
        ["signature-agent", `"${AGENT}"`],
      ]);
    },
    "malformed_signature_fields",
    { signature_error: "too_many_members" },
  ],
  [
    "64 labels naming the pinned agent, all junk (only budget.maxLabels are judged)",
    async () => {
      const { input, signature } = labels(MAX);
      return plain([
        ["signature-input", input],
        ["signature", signature],
        ["signature-agent", `"${AGENT}"`],
      ]);
    },
    "agent_unverified",
    { discovery_error: "label_limit", label: "l8" },
  ],
  [
    "64 labels without Signature-Agent",
    async () => {
      const { input, signature } = labels(MAX);
      return plain([
        ["signature-input", input],
        ["signature", signature],
      ]);
    },
    "agent_unverified",
    { signature_error: "missing_signature_agent", label: "l0" },
  ],
  [
    "one valid signature, then 10,000 junk labels: refused whole, the valid one is not accepted beside them",
    async () => {
      const request = await signed(url(), { key, agent: AGENT, form: "string" });
      const { input, signature } = labels(10_000);
      request.headers.set("signature-input", `${request.headers.get("signature-input")}, ${input}`);
      request.headers.set("signature", `${request.headers.get("signature")}, ${signature}`);
      return request;
    },
    "malformed_signature_fields",
    { signature_error: "too_many_members" },
  ],
  [
    "one valid signature, then 62 junk labels (63, leaving room for Signet's own member)",
    async () => {
      const request = await signed(url(), { key, agent: AGENT, form: "string" });
      const { input, signature } = labels(MAX - 2);
      request.headers.set("signature-input", `${request.headers.get("signature-input")}, ${input}`);
      request.headers.set("signature", `${request.headers.get("signature")}, ${signature}`);
      return request;
    },
    200,
    {},
  ],
  [
    "63 junk labels, then one valid signature: beyond budget.maxLabels, not judged",
    async () => {
      const request = await signed(url(), { key, agent: AGENT, form: "string" });
      const { input, signature } = labels(MAX - 1);
      request.headers.set("signature-input", `${input}, ${request.headers.get("signature-input")}`);
      request.headers.set("signature", `${signature}, ${request.headers.get("signature")}`);
      return request;
    },
    "agent_unverified",
    { discovery_error: "label_limit", label: "l8" },
  ],
  [
    "10,000 labels, each on its own field line (counted once the lines are combined)",
    async () => {
      const { input, signature } = labels(10_000);
      return plain([
        ...input.split(", ").map((v): [string, string] => ["signature-input", v]),
        ...signature.split(", ").map((v): [string, string] => ["signature", v]),
        ["signature-agent", `"${AGENT}"`],
      ]);
    },
    "malformed_signature_fields",
    { signature_error: "too_many_members" },
  ],
  [
    "64 labels, each on its own field line",
    async () => {
      const { input, signature } = labels(MAX);
      return plain([
        ...input.split(", ").map((v): [string, string] => ["signature-input", v]),
        ...signature.split(", ").map((v): [string, string] => ["signature", v]),
        ["signature-agent", `"${AGENT}"`],
      ]);
    },
    "agent_unverified",
    { discovery_error: "label_limit", label: "l8" },
  ],
  // Deep nesting
  [
    "Signature-Input: 10,000 nested parentheses",
    async () => signedThen("signature-input", `sig1=${"(".repeat(10_000)}${")".repeat(10_000)}`),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "Signature: 10,000 nested parentheses",
    async () => signedThen("signature", `sig1=${"(".repeat(10_000)}${")".repeat(10_000)}`),
    "malformed_signature_fields",
    { signature_error: "malformed_signature" },
  ],
  [
    "Signature-Agent: 10,000 nested parentheses",
    async () => signedThen("signature-agent", `sig1=${"(".repeat(10_000)}${")".repeat(10_000)}`),
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "a covered Dictionary member (;key) whose field is 10,000 nested parentheses",
    async () => {
      const request = await signed(url(), {
        key,
        agent: AGENT,
        headers: { "x-dict": "a=1" },
        cover: ['"x-dict";key="a"'],
      });
      request.headers.set("x-dict", `a=${"(".repeat(10_000)}`);
      return request;
    },
    "signature_invalid",
    { signature_error: "invalid_structured_field" },
  ],
  // Non-ASCII and control characters that the runtime lets through
  [
    "Signature-Input with an emoji label",
    async () => signedThen("signature-input", `😀=("@authority");created=${NOW()}`),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "Signature with U+2028 inside the base64",
    async () => signedThen("signature", "sig1=:AA\u2028AA:"),
    "malformed_signature_fields",
    { signature_error: "malformed_signature" },
  ],
  [
    "Signature-Agent with a lone surrogate (the runtime makes it U+FFFD)",
    async () => signedThen("signature-agent", 'sig1="https://a\ud800.example"'),
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "a covered field changed to an emoji after signing",
    async () => signedThen("x-covered", "ok 😀"),
    "signature_invalid",
    { signature_error: "non_ascii_base" },
  ],
  [
    "Signature-Input with U+0001",
    async () => signedThen("signature-input", `sig1=("@authority"\u0001);created=${NOW()}`),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "Signature with DEL",
    async () => signedThen("signature", "sig1=:AAAA\u007f:"),
    "malformed_signature_fields",
    { signature_error: "malformed_signature" },
  ],
  [
    "a covered field with U+0001, changed after signing (outside printable ASCII)",
    async () => signedThen("x-covered", "o\u0001k"),
    "signature_invalid",
    { signature_error: "non_ascii_base" },
  ],
  // A control character in the path has no canonical form (worker/policy/canonical-path.ts): refused, signed or not.
  [
    "a signed path with an encoded NUL (%00)",
    async () => signed(url("/agents/a%00b"), { key, agent: AGENT }),
    "path_ambiguous",
    {},
  ],
];

describe("pathological input on a verified-agent route: the exact 4xx (or 200)", () => {
  it.each(CASES)(
    "%s",
    async (_what, make, expected, members) => {
      const response = await send(await make(), env);
      if (expected === 200) await echoOf(response);
      else await expectProblem(response, expected, members);
    },
    TIMEOUT,
  );
});

describe("the same input on a route that requires nothing, and through the Worker's own fetch entry point", () => {
  it.each(CASES)(
    "%s",
    async (_what, make) => {
      const open = await make().then((r) => new Request(r.url.replace("/agents/", "/open/"), r));
      const a = await send(open, env);
      const b = await exports.default.fetch(await make());
      await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
      for (const status of [a.status, b.status]) expect(status).toBeLessThan(500);
    },
    TIMEOUT,
  );
});

describe("what the runtime refuses before Signet sees it", () => {
  it.each([
    ["NUL", "a\u0000b"],
    ["CR", "a\rb"],
    ["LF", "a\nb"],
  ])("Headers refuses a value with %s", (_what, value) => {
    expect(() => new Headers([["signature-input", value]])).toThrow(TypeError);
    expect(() => new Request(url(), { headers: { signature: value } })).toThrow(TypeError);
  });

  it.each([
    ["U+0001", "a\u0001b", "a\u0001b"],
    ["TAB", "a\tb", "a\tb"],
    ["DEL", "a\u007fb", "a\u007fb"],
    ["non-ASCII", "naïve ✓", "naïve ✓"],
    // The surrogate's three WTF-8 bytes each become a replacement character.
    ["a lone surrogate", "a\ud800b", "a\ufffd\ufffd\ufffdb"],
    ["surrounding whitespace", "  ab \t", "ab"],
  ])("Headers lets %s through (as Signet then sees it)", (_what, value, seen) => {
    expect(new Headers([["x", value]]).get("x")).toBe(seen);
  });

  it("a NUL that does reach the core (raw field lines) is refused like any bad character, not a crash", async () => {
    const expected = {
      "signature-input": "malformed_signature_input",
      signature: "malformed_signature",
      "signature-agent": "malformed_signature_agent",
    } as const;
    for (const [field, code] of Object.entries(expected)) {
      const request = await signed(url(), { key, agent: AGENT });
      const lines: Array<[string, string]> = [...request.headers].map(([n, v]) =>
        n === field ? [n, `${v.slice(0, 5)}\u0000${v.slice(5)}`] : [n, v],
      );
      const verification = await verifyRequest(
        { kind: "request", method: "GET", targetUri: request.url, headers: lines },
        { policy: parsePolicy(undefined), keys: noKeys },
      );
      expect(verification.fieldError?.code).toBe(code);
    }
  });
});

const noKeys: KeySource = { findKey: async () => ({ ok: false, code: "key_not_found", message: "none" }) };
