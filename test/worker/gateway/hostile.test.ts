/**
 * Never a 500: hostile signature fields through the whole Worker get 4xx problem responses on a route that
 * requires a verified agent, and nothing worse than a 4xx on a route that requires nothing.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import type { RejectionReason } from "../../../worker/reasons.ts";
import { echoOf, expectProblem, gatewayEnv, type Problem, send, signed } from "./gateway.ts";

// A `.internal` name: pinned here, and never fetched (the egress guard refuses it) where it is not pinned, as
// under the deployed entry point's default policy.
const AGENT = "https://hostile-test-agent.internal";
const NOW = Math.floor(Date.now() / 1000);

let key: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  key = await generateAgentKey();
  env = gatewayEnv({ rules: [{ path: "/agents/*", require: "verified-agent" }], pinned: { [AGENT]: [key.publicJwk] } });
});

/** `n` well-formed Web Bot Auth labels with junk signatures. */
function manyLabels(n: number, components = '"@authority"'): { input: string; signature: string } {
  const labels = Array.from({ length: n }, (_, i) => `l${i}`);
  return {
    input: labels
      .map(
        (l) => `${l}=(${components});created=${NOW};expires=${NOW + 60};keyid="${key.thumbprint}";tag="web-bot-auth"`,
      )
      .join(", "),
    signature: labels.map((l) => `${l}=:${btoa("x".repeat(64))}:`).join(", "),
  };
}

/** A request for `path` with the hostile headers, signed first when the case needs a real signature. */
type Make = (url: string) => Promise<Request>;

/** Unsigned, with the headers (made at send time) appended in order. */
const plain =
  (headers: () => Array<[string, string]>): Make =>
  async (url) => {
    const request = new Request(url);
    for (const [name, value] of headers()) request.headers.append(name, value);
    return request;
  };

/** A valid signature, then one header replaced (or added) after signing. */
const signedThen =
  (name: string, value: string, cover: string[] = []): Make =>
  async (url) => {
    const headers = { "x-note": "plain" };
    const request = await signed(url, { key: key.privateJwk, agent: AGENT, cover, headers });
    request.headers.set(name, value);
    return request;
  };

/** A valid signature, then a value appended to one of its fields after signing (a member riding along). */
const signedThenAppend =
  (name: string, member: string): Make =>
  async (url) => {
    const request = await signed(url, { key: key.privateJwk, agent: AGENT });
    request.headers.set(name, `${request.headers.get(name)}, ${member}`);
    return request;
  };

const TEN_KB = 10 * 1024;

type Case = readonly [what: string, make: Make, reason: RejectionReason, members: Partial<Problem>];

const CASES: ReadonlyArray<Case> = [
  [
    "garbage Signature-Input",
    plain(() => [
      ["signature-input", "sig1=((("],
      ["signature", "sig1=:AAAA:"],
    ]),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "Signature-Input of random punctuation",
    plain(() => [["signature-input", '=;,()"\\:*&^%$#@!']]),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "Signature without Signature-Input",
    plain(() => [["signature", "sig1=:AAAA:"]]),
    "malformed_signature_fields",
    { signature_error: "missing_signature_input" },
  ],
  [
    "Signature-Input without Signature",
    plain(() => [["signature-input", manyLabels(1).input]]),
    "malformed_signature_fields",
    { signature_error: "label_mismatch" },
  ],
  [
    "an integer too large for a Structured Field",
    plain(() => [
      ["signature-input", `sig1=("@authority");created=${"9".repeat(40)}`],
      ["signature", "sig1=:AAAA:"],
    ]),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "one label on two field lines (duplicate label)",
    plain(() => [
      ["signature-input", manyLabels(1).input],
      ["signature-input", manyLabels(1).input],
      ["signature", manyLabels(1).signature],
    ]),
    "malformed_signature_fields",
    { signature_error: "duplicate_label" },
  ],
  [
    "Signature-Input with non-ASCII",
    plain(() => [
      ["signature-input", 'sig1=("@authority");keyid="ключ"'],
      ["signature", "sig1=:AAAA:"],
    ]),
    "malformed_signature_fields",
    { signature_error: "malformed_signature_input" },
  ],
  [
    "a valid signature plus a Signature member with no Signature-Input member",
    signedThenAppend("signature", `stray=:${btoa("x".repeat(64))}:`),
    "malformed_signature_fields",
    { signature_error: "label_mismatch" },
  ],
  [
    "a valid signature plus a Signature-Input member with no Signature member",
    signedThenAppend("signature-input", `stray=("@authority");created=${NOW};keyid="k";tag="web-bot-auth"`),
    "malformed_signature_fields",
    { signature_error: "label_mismatch" },
  ],
  [
    "Signature with non-ASCII",
    signedThen("signature", "sig1=:ÄÖÜ:"),
    "malformed_signature_fields",
    { signature_error: "malformed_signature" },
  ],
  [
    "Signature-Agent of 10 KB that is not a Structured Field",
    signedThen("signature-agent", `sig1=${"(".repeat(TEN_KB)}`),
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "Signature-Agent of 10 KB (a URL too long to fetch)",
    signedThen("signature-agent", `sig1="${AGENT}/${"a".repeat(TEN_KB)}"`),
    "agent_unverified",
    { discovery_error: "egress_refused" },
  ],
  [
    "Signature-Agent of 64 members, none the covered one",
    signedThen("signature-agent", Array.from({ length: 64 }, (_, i) => `m${i}=1`).join(", ")),
    "signature_invalid",
    { signature_error: "signature_agent_member_missing" },
  ],
  [
    "Signature-Agent of 10 KB of members (more than Signet parses)",
    signedThen("signature-agent", Array.from({ length: 1400 }, (_, i) => `m${i}=1`).join(", ")),
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "Signature-Agent with non-ASCII",
    signedThen("signature-agent", 'sig1="https://agént.example"'),
    "malformed_signature_agent",
    { signature_error: "malformed_signature_agent" },
  ],
  [
    "a covered header with non-ASCII, changed after signing",
    signedThen("x-note", "naïve ✓", ['"x-note"']),
    "signature_invalid",
    { signature_error: "non_ascii_base" },
  ],
  [
    "500 labels (more than Signet parses in a field)",
    plain(() => {
      const { input, signature } = manyLabels(500, '"@authority" "signature-agent"');
      return [
        ["signature-input", input],
        ["signature", signature],
        ["signature-agent", `"${AGENT}"`],
      ];
    }),
    "malformed_signature_fields",
    { signature_error: "too_many_members" },
  ],
  [
    "64 labels without Signature-Agent",
    plain(() => {
      const { input, signature } = manyLabels(64);
      return [
        ["signature-input", input],
        ["signature", signature],
      ];
    }),
    "agent_unverified",
    { signature_error: "missing_signature_agent", label: "l0" },
  ],
  [
    "64 labels that name a pinned agent, none of them valid (only the first budget.maxLabels are judged)",
    plain(() => {
      const { input, signature } = manyLabels(64, '"@authority" "signature-agent"');
      return [
        ["signature-input", input],
        ["signature", signature],
        ["signature-agent", `"${AGENT}"`],
      ];
    }),
    "agent_unverified",
    { discovery_error: "label_limit", label: "l8" },
  ],
  [
    "one label covering 1000 absent fields",
    plain(() => {
      const absent = Array.from({ length: 1000 }, (_, i) => `"x-h${i}"`).join(" ");
      const { input, signature } = manyLabels(1, `"@authority" "signature-agent" ${absent}`);
      return [
        ["signature-input", input],
        ["signature", signature],
        ["signature-agent", `"${AGENT}"`],
      ];
    }),
    "signature_invalid",
    { signature_error: "missing_field" },
  ],
];

describe("hostile inputs on a verified-agent route get a 4xx problem", () => {
  it.each(CASES)(
    "%s",
    async (_what, make, reason, members) => {
      const response = await send(await make("https://signet.example/agents/x"), env);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      await expectProblem(response, reason, members);
    },
    60_000,
  );
});

describe("label sets that differ", () => {
  it("the signature alone is forwarded; with a stray member in either field the message is refused", async () => {
    const alone = await send(
      await signed("https://signet.example/agents/x", { key: key.privateJwk, agent: AGENT }),
      env,
    );
    expect(alone.status).toBe(200);
    for (const make of [
      signedThenAppend("signature", "stray=:AAAA:"),
      signedThenAppend("signature-input", 'stray=("@authority");created=1'),
    ]) {
      const response = await send(await make("https://signet.example/agents/x"), env);
      const problem = await expectProblem(response, "malformed_signature_fields", {
        signature_error: "label_mismatch",
      });
      expect(JSON.stringify(problem)).not.toContain("stray");
      // Where nothing is required, the unusable fields are dropped and the request goes on attested, anonymous.
      const open = await echoOf(await send(await make("https://signet.example/open"), env));
      expect(open.headers["signature-input"]).toMatch(/^signet=\(/);
      expect(open.headers["signature-input"]).not.toContain("stray");
      expect(open.headers["verified-agent"]).toBeUndefined();
    }
  });
});

describe("the same inputs on a route that requires nothing never get a 5xx", () => {
  it.each(CASES)("%s", async (_what, make) => {
    const response = await send(await make("https://signet.example/open"), env);
    expect(response.status, await response.clone().text()).toBeLessThan(500);
    if (response.status >= 400) {
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it.each(CASES)("%s, through the deployed entry point with the default policy", async (_what, make) => {
    const response = await exports.default.fetch(await make("https://signet.example/open"));
    expect(response.status, await response.clone().text()).toBeLessThan(500);
  });
});
