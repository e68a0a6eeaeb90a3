/**
 * Mutation testing of a valid signed request through the whole Worker. The base request is a Web Bot Auth POST
 * with a dictionary `Signature-Agent` naming a pinned agent, a body with `Content-Digest`, and `Authorization`,
 * `@query` and two plain fields covered. The mutations are enumerated, not sampled:
 *
 * - every covered component (read back from the base's own `Signature-Input`, so a newly covered component
 *   without mutations fails the coverage check): changed, and for fields also removed, doubled and re-cased;
 * - every signature parameter the base carries: changed and removed, and `alg` added;
 * - the label in one field only (`Signature-Input`, `Signature`, the `Signature-Agent` member name);
 * - every byte of the signature (one bit flipped), and its length;
 * - the `Signature-Agent` member value and parameters;
 * - things the signature does not cover, which must still pass.
 *
 * Each case signs a fresh request, sends the mutated copy (expecting the given refusal, or 200), and then the
 * unmutated original (expecting 200): a refusal must neither be caused by anything but the mutation nor use up
 * the signature's nonce.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentKey, type GeneratedKey, generateAgentKey, loadAgentKey } from "../../../agent/index.ts";
import type { RejectionReason } from "../../../worker/reasons.ts";
import { parseSignatureInput, type SignatureInput } from "../../../worker/rfc9421/index.ts";
import { echoOf, expectProblem, gatewayEnv, identityOf, send, signed, verifiedAgentOf } from "../gateway/gateway.ts";

// `.internal` names: pinned ones verify, unpinned ones are never fetched (egress_refused).
const AGENT = "https://mutation-agent.internal";
const OTHER_PINNED = "https://mutation-other.internal";
const UNPINNED = "https://mutation-unpinned.internal";
const URL_BASE = "https://signet.example/agents/orders?sort=asc&page=2";
const BODY = '{"order":42,"items":["a","b"]}';

let key: AgentKey;
let other: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;

beforeAll(async () => {
  const generated = await generateAgentKey();
  key = await loadAgentKey(generated.privateJwk);
  other = await generateAgentKey();
  env = gatewayEnv({
    rules: [{ path: "/agents/*", require: "verified-agent" }],
    pinned: { [AGENT]: [generated.publicJwk], [OTHER_PINNED]: [other.publicJwk] },
  });
});

/** A request as plain data, so a mutation is a small change followed by a rebuild. */
interface Spec {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: string | undefined;
}

async function baseSpec(): Promise<Spec> {
  const request = await signed(URL_BASE, {
    key,
    agent: AGENT,
    method: "POST",
    body: BODY,
    headers: {
      authorization: "Bearer tok-123",
      "content-type": "application/json",
      "x-tenant": "acme",
      "x-uncovered": "free",
      accept: "application/json",
    },
    cover: ['"@query"', '"x-tenant"', '"content-type"'],
  });
  return { method: request.method, url: request.url, headers: [...request.headers], body: await request.text() };
}

function build(spec: Spec): Request {
  const headers = new Headers();
  for (const [name, value] of spec.headers) headers.append(name, value);
  return new Request(spec.url, { method: spec.method, headers, body: spec.body });
}

const header = (spec: Spec, name: string) => spec.headers.find(([n]) => n === name)?.[1] as string;
const setHeader = (spec: Spec, name: string, value: string) => {
  spec.headers = spec.headers.map(([n, v]) => [n, n === name ? value : v]);
};
const dropHeader = (spec: Spec, name: string) => {
  spec.headers = spec.headers.filter(([n]) => n !== name);
};
const editHeader = (name: string, edit: (value: string) => string) => (spec: Spec) =>
  setHeader(spec, name, edit(header(spec, name)));
const withUrl = (edit: (url: URL) => void) => (spec: Spec) => {
  const url = new URL(spec.url);
  edit(url);
  spec.url = url.href;
};
/** Rewrites the `;name=value` signature parameter of the base `Signature-Input` (`undefined` removes it). */
const param = (name: string, value: string | undefined) =>
  editHeader("signature-input", (input) => {
    const pattern = new RegExp(`;${name}=("[^"]*"|[^;,]*)`);
    expect(input).toMatch(pattern);
    return input.replace(pattern, value === undefined ? "" : `;${name}=${value}`);
  });
/** Changes the decoded signature bytes. */
const signatureBytes = (edit: (bytes: Uint8Array) => Uint8Array) =>
  editHeader("signature", (value) => {
    const [, label, b64] = /^([^=]+)=:([^:]*):$/.exec(value) as RegExpExecArray;
    const bytes = edit(Uint8Array.from(atob(b64 as string), (c) => c.charCodeAt(0)));
    return `${label}=:${btoa(String.fromCharCode(...bytes))}:`;
  });

/** What a mutation must lead to: a refusal with its `signature_error` / `discovery_error`, or 200. */
type Expected =
  | { readonly status: 200 }
  | {
      readonly reason: RejectionReason;
      readonly signature_error?: string | undefined;
      readonly discovery_error?: string | undefined;
    };

const invalid = (code = "invalid_signature"): Expected => ({ reason: "signature_invalid", signature_error: code });
const unverified = (members: { signature_error?: string; discovery_error?: string }): Expected => ({
  reason: "agent_unverified",
  ...members,
});
const passes: Expected = { status: 200 };

interface Mutation {
  readonly what: string;
  /** The covered component or signature parameter it targets (for the coverage checks). */
  readonly target?: string | undefined;
  readonly mutate: (spec: Spec) => void;
  readonly expected: Expected;
}

/** Mutations of one covered field: changed, removed, a second field line, and re-cased. */
function fieldMutations(name: string, target = `"${name}"`): Mutation[] {
  // Without Content-Type, the runtime gives a string body `text/plain;charset=UTF-8`: a changed value, not a
  // missing field.
  const removed = name === "content-type" ? invalid() : invalid("missing_field");
  return [
    { what: `${name}: value changed`, target, mutate: editHeader(name, (v) => `${v}x`), expected: invalid() },
    { what: `${name}: removed`, target, mutate: (s) => dropHeader(s, name), expected: removed },
    {
      what: `${name}: a second field line`,
      target,
      mutate: (s) => s.headers.push([name, "extra"]),
      expected: invalid(),
    },
    {
      what: `${name}: value re-cased`,
      target,
      mutate: editHeader(name, (v) => (v === v.toUpperCase() ? v.toLowerCase() : v.toUpperCase())),
      expected: invalid(),
    },
  ];
}

const COMPONENT_MUTATIONS: Mutation[] = [
  {
    what: "@method POST → PUT",
    target: '"@method"',
    mutate: (s) => {
      s.method = "PUT";
    },
    expected: invalid(),
  },
  {
    what: "@method POST → PATCH",
    target: '"@method"',
    mutate: (s) => {
      s.method = "PATCH";
    },
    expected: invalid(),
  },
  {
    what: "@authority → another host",
    target: '"@authority"',
    mutate: withUrl((u) => {
      u.host = "evil.example";
    }),
    expected: invalid(),
  },
  {
    what: "@authority → same host, another port",
    target: '"@authority"',
    mutate: withUrl((u) => {
      u.port = "8443";
    }),
    expected: invalid(),
  },
  {
    what: "@path → another path under the same rule",
    target: '"@path"',
    mutate: withUrl((u) => {
      u.pathname = "/agents/refunds";
    }),
    expected: invalid(),
  },
  {
    what: "@path → trailing slash",
    target: '"@path"',
    mutate: withUrl((u) => {
      u.pathname += "/";
    }),
    expected: invalid(),
  },
  {
    what: "@path → re-cased",
    target: '"@path"',
    mutate: withUrl((u) => {
      u.pathname = "/agents/Orders";
    }),
    expected: invalid(),
  },
  {
    what: "@path → percent-encoded letter",
    target: '"@path"',
    mutate: withUrl((u) => {
      u.pathname = "/agents/%6Frders";
    }),
    expected: invalid(),
  },
  {
    what: "@query → a value changed",
    target: '"@query"',
    mutate: withUrl((u) => {
      u.search = "?sort=desc&page=2";
    }),
    expected: invalid(),
  },
  {
    what: "@query → parameters reordered",
    target: '"@query"',
    mutate: withUrl((u) => {
      u.search = "?page=2&sort=asc";
    }),
    expected: invalid(),
  },
  {
    what: "@query → a parameter added",
    target: '"@query"',
    mutate: withUrl((u) => {
      u.search += "&admin=1";
    }),
    expected: invalid(),
  },
  {
    what: "@query → removed",
    target: '"@query"',
    mutate: withUrl((u) => {
      u.search = "";
    }),
    expected: invalid(),
  },
  ...fieldMutations("authorization"),
  ...fieldMutations("x-tenant"),
  ...fieldMutations("content-type"),
  {
    // The signature covers the digest value, and it is checked first.
    what: "content-digest: digest of another body",
    target: '"content-digest"',
    mutate: editHeader("content-digest", () => "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"),
    expected: invalid(),
  },
  {
    what: "content-digest: removed",
    target: '"content-digest"',
    mutate: (s) => dropHeader(s, "content-digest"),
    expected: invalid("missing_field"),
  },
  {
    what: "content-digest: a second field line",
    target: '"content-digest"',
    mutate: (s) => s.headers.push(["content-digest", "sha-512=:AAAA:"]),
    expected: invalid(),
  },
  {
    what: "body changed, Content-Digest kept",
    target: '"content-digest"',
    mutate: (s) => {
      s.body = BODY.replace("42", "43");
    },
    expected: invalid("content_digest_mismatch"),
  },
  {
    what: "body removed, Content-Digest kept",
    target: '"content-digest"',
    mutate: (s) => {
      s.body = undefined;
    },
    expected: invalid("content_digest_mismatch"),
  },
  {
    what: "Signature-Agent member value: same identity, other bytes (trailing slash)",
    target: '"signature-agent";key="sig1"',
    mutate: editHeader("signature-agent", () => `sig1="${AGENT}/"`),
    expected: invalid(),
  },
];

const PARAMETER_MUTATIONS: Mutation[] = [
  { what: "created + 1", target: "created", mutate: (s) => bump(s, "created", 1), expected: invalid() },
  { what: "created - 1", target: "created", mutate: (s) => bump(s, "created", -1), expected: invalid() },
  {
    what: "created removed",
    target: "created",
    mutate: param("created", undefined),
    expected: invalid("missing_required_parameter"),
  },
  { what: "expires + 1", target: "expires", mutate: (s) => bump(s, "expires", 1), expected: invalid() },
  {
    what: "expires before created",
    target: "expires",
    mutate: (s) => bump(s, "expires", -301),
    expected: invalid("invalid_validity"),
  },
  {
    what: "expires two days on (longer than the policy's maxValidity)",
    target: "expires",
    mutate: (s) => bump(s, "expires", 2 * 86_400),
    expected: invalid("validity_too_long"),
  },
  {
    what: "expires removed",
    target: "expires",
    mutate: param("expires", undefined),
    expected: invalid("missing_required_parameter"),
  },
  {
    what: "keyid → another pinned agent's key",
    target: "keyid",
    mutate: (s) => param("keyid", `"${other.thumbprint}"`)(s),
    expected: unverified({ discovery_error: "key_not_found" }),
  },
  {
    what: "keyid → one character changed",
    target: "keyid",
    mutate: editHeader("signature-input", (v) =>
      v.replace(/;keyid="(.)/, (_m, c) => `;keyid="${c === "A" ? "B" : "A"}`),
    ),
    expected: unverified({ discovery_error: "key_not_found" }),
  },
  {
    what: "keyid removed",
    target: "keyid",
    mutate: param("keyid", undefined),
    expected: invalid("missing_required_parameter"),
  },
  { what: "nonce changed", target: "nonce", mutate: param("nonce", '"another-nonce"'), expected: invalid() },
  { what: "nonce removed", target: "nonce", mutate: param("nonce", undefined), expected: invalid() },
  {
    what: "tag changed (no Web Bot Auth signature left)",
    target: "tag",
    mutate: param("tag", '"other-profile"'),
    expected: { reason: "signature_required" },
  },
  {
    what: "tag removed (no Web Bot Auth signature left)",
    target: "tag",
    mutate: param("tag", undefined),
    expected: { reason: "signature_required" },
  },
  {
    what: "alg added (the right one: the covered parameters still change)",
    target: "alg",
    mutate: editHeader("signature-input", (v) => `${v};alg="ed25519"`),
    expected: invalid(),
  },
  {
    what: "alg added (another algorithm)",
    target: "alg",
    mutate: editHeader("signature-input", (v) => `${v};alg="rsa-pss-sha512"`),
    expected: invalid("algorithm_mismatch"),
  },
  {
    what: "a parameter Signet does not know added",
    target: "other",
    mutate: editHeader("signature-input", (v) => `${v};x-extra=1`),
    expected: invalid(),
  },
];

function bump(spec: Spec, name: "created" | "expires", by: number): void {
  const value = Number(new RegExp(`;${name}=(\\d+)`).exec(header(spec, "signature-input"))?.[1]);
  param(name, String(value + by))(spec);
}

const LABEL_MUTATIONS: Mutation[] = [
  {
    what: "label renamed in Signature-Input only",
    mutate: editHeader("signature-input", (v) => v.replace(/^sig1=/, "sig2=")),
    expected: { reason: "malformed_signature_fields", signature_error: "label_mismatch" },
  },
  {
    what: "label renamed in Signature only",
    mutate: editHeader("signature", (v) => v.replace(/^sig1=/, "sig2=")),
    expected: { reason: "malformed_signature_fields", signature_error: "label_mismatch" },
  },
  {
    what: "Signature-Agent member renamed only",
    mutate: editHeader("signature-agent", (v) => v.replace(/^sig1=/, "sig2=")),
    expected: invalid("signature_agent_member_missing"),
  },
];

const SIGNATURE_AGENT_MUTATIONS: Mutation[] = [
  {
    what: "member → another pinned agent (its keys do not have this keyid)",
    mutate: editHeader("signature-agent", () => `sig1="${OTHER_PINNED}"`),
    expected: unverified({ discovery_error: "key_not_found" }),
  },
  {
    what: "member → an agent Signet may not fetch",
    mutate: editHeader("signature-agent", () => `sig1="${UNPINNED}"`),
    expected: unverified({ discovery_error: "egress_refused" }),
  },
  {
    what: "member → http: instead of https:",
    mutate: editHeader("signature-agent", () => `sig1="${AGENT.replace("https:", "http:")}"`),
    expected: unverified({ discovery_error: "egress_refused" }),
  },
  {
    what: "member gains ;type=jwks_uri (another identity)",
    mutate: editHeader("signature-agent", (v) => `${v};type=jwks_uri`),
    expected: unverified({ discovery_error: "egress_refused" }),
  },
  {
    what: "member gains an unknown parameter",
    mutate: editHeader("signature-agent", (v) => `${v};x=1`),
    expected: unverified({ signature_error: "unusable_signature_agent" }),
  },
  {
    what: "member becomes a Token",
    mutate: editHeader("signature-agent", () => "sig1=agent"),
    expected: unverified({ signature_error: "unusable_signature_agent" }),
  },
  {
    what: "Signature-Agent removed",
    mutate: (s) => dropHeader(s, "signature-agent"),
    expected: unverified({ signature_error: "missing_signature_agent" }),
  },
  {
    what: "Signature-Agent unparseable",
    mutate: editHeader("signature-agent", (v) => `${v}, (`),
    expected: { reason: "malformed_signature_agent", signature_error: "malformed_signature_agent" },
  },
  {
    what: "the member given twice (the last one wins, and it is another agent)",
    mutate: editHeader("signature-agent", (v) => `${v}, sig1="${OTHER_PINNED}"`),
    expected: unverified({ discovery_error: "key_not_found" }),
  },
];

const SIGNATURE_BYTE_MUTATIONS: Mutation[] = [
  ...Array.from(
    { length: 64 },
    (_, i): Mutation => ({
      what: `signature byte ${i}: one bit flipped`,
      mutate: signatureBytes((b) => b.map((x, j) => (j === i ? x ^ (1 << (i % 8)) : x))),
      expected: invalid(),
    }),
  ),
  {
    what: "signature truncated by one byte",
    mutate: signatureBytes((b) => b.slice(0, -1)),
    expected: invalid("invalid_signature_length"),
  },
  {
    what: "signature with one byte appended",
    mutate: signatureBytes((b) => Uint8Array.from([...b, 0])),
    expected: invalid("invalid_signature_length"),
  },
  {
    what: "signature base64 made unparseable",
    mutate: editHeader("signature", (v) => v.replace(/=:(.)/, "=:!")),
    expected: { reason: "malformed_signature_fields", signature_error: "malformed_signature" },
  },
];

/** Things the signature does not cover: the request must still pass. */
const UNCOVERED_MUTATIONS: Mutation[] = [
  { what: "an uncovered header changed", mutate: editHeader("x-uncovered", () => "changed"), expected: passes },
  { what: "an uncovered header removed", mutate: (s) => dropHeader(s, "x-uncovered"), expected: passes },
  { what: "an uncovered header added", mutate: (s) => s.headers.push(["x-new", "1"]), expected: passes },
  { what: "Accept changed", mutate: editHeader("accept", () => "text/html"), expected: passes },
  { what: "User-Agent added", mutate: (s) => s.headers.push(["user-agent", "curl/8"]), expected: passes },
  {
    what: "another Signature-Agent member added (the covered one is unchanged)",
    mutate: editHeader("signature-agent", (v) => `${v}, sig9="${UNPINNED}"`),
    expected: passes,
  },
  {
    what: "a covered field padded with whitespace (the runtime trims it: same value)",
    mutate: editHeader("x-tenant", (v) => `  ${v}\t`),
    expected: passes,
  },
  {
    what: "a fragment added to the URL (never sent)",
    mutate: withUrl((u) => {
      u.hash = "#top";
    }),
    expected: passes,
  },
];

const ALL: ReadonlyArray<readonly [group: string, mutations: readonly Mutation[]]> = [
  ["covered components", COMPONENT_MUTATIONS],
  ["signature parameters", PARAMETER_MUTATIONS],
  ["labels", LABEL_MUTATIONS],
  ["the Signature-Agent member", SIGNATURE_AGENT_MUTATIONS],
  ["signature bytes", SIGNATURE_BYTE_MUTATIONS],
  ["uncovered parts", UNCOVERED_MUTATIONS],
];

describe("the base request and the enumeration", () => {
  let input: SignatureInput;
  beforeAll(async () => {
    const spec = await baseSpec();
    input = parseSignatureInput(header(spec, "signature-input"), "request").get("sig1") as SignatureInput;
  });

  it("the base request verifies, with the bearer token bound, and is accepted once", async () => {
    const spec = await baseSpec();
    const echo = await echoOf(await send(build(spec), env));
    expect(verifiedAgentOf(echo)).toMatchObject({ agent: identityOf(AGENT), extra: { bearer: "bound" } });
    expect(echo.body).toBe(BODY);
    await expectProblem(await send(build(spec), env), "signature_replayed");
  });

  it("every covered component of the base signature has mutations", () => {
    const covered = input.components.map((c) => (typeof c === "string" ? c : JSON.stringify(c)));
    expect(input.signatureParams).toContain('"authorization"');
    const targets = new Set(COMPONENT_MUTATIONS.map((m) => m.target));
    const raw = /^\(([^)]*)\)/.exec(input.signatureParams)?.[1]?.split(" ") ?? [];
    expect(raw.length).toBe(covered.length);
    expect(raw.filter((c) => !targets.has(c))).toEqual([]);
  });

  it("every signature parameter of the base signature has mutations", () => {
    const targets = new Set(PARAMETER_MUTATIONS.map((m) => m.target));
    const params = input.signatureParams.slice(input.signatureParams.indexOf(")") + 1);
    const names = [...params.matchAll(/;([a-z-]+)=/g)].map((m) => m[1]);
    expect(names.sort()).toEqual(["created", "expires", "keyid", "nonce", "tag"]);
    expect(names.filter((n) => !targets.has(n))).toEqual([]);
  });
});

describe.each(ALL)("mutations of %s", (_group, mutations) => {
  it.each(mutations.map((m) => [m.what, m] as const))("%s", async (_what, mutation) => {
    const spec = await baseSpec();
    const original = build(spec);
    const mutated: Spec = { ...spec, headers: spec.headers.map(([n, v]) => [n, v]) };
    mutation.mutate(mutated);
    const response = await send(build(mutated), env);
    if ("status" in mutation.expected) {
      expect(verifiedAgentOf(await echoOf(response))?.agent).toBe(identityOf(AGENT));
      // Accepted once: the original is now a replay.
      await expectProblem(await send(original, env), "signature_replayed");
      return;
    }
    const { reason, ...members } = mutation.expected;
    await expectProblem(response, reason, members);
    // The refusal was the mutation's doing, and it did not use up the signature.
    expect((await send(original, env)).status).toBe(200);
  });
});
