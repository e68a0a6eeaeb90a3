/**
 * "One signature decides" (issue 11, mixed labels) as a property of `decide()`: for random requests carrying
 * several verified labels of both profiles (levels, coverage, nonces, attribution, scopes) and random rules, a
 * forwarded identity comes from one label that would be forwarded alone, with the same identity, AAuth level and
 * bearer binding; the other labels contribute nothing. The replay claim is made on that same label
 * (`worker/middleware.ts` claims `decision.verdict`). The whole-Worker attack is in `gateway/replay.test.ts`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AAuthIdentity } from "../../worker/aauth/index.ts";
import { parsePolicy } from "../../worker/policy/parse-policy.ts";
import type { Rule } from "../../worker/policy/policy.ts";
import { decide } from "../../worker/verification/decide.ts";
import type { LabelVerdict } from "../../worker/verification/verify-request.ts";

const policy = parsePolicy(JSON.stringify({ allow: [], deny: ["https://denied.example"] }));
const COMPONENTS = ['"@method"', '"@authority"', '"@path"', '"content-digest"', '"authorization"'] as const;
const AGENTS = ["https://a.example", "https://b.example", "https://denied.example", "https://c.example"];

const label = fc
  .record({
    profile: fc.constantFrom("web-bot-auth", "aauth"),
    agent: fc.constantFrom(...AGENTS),
    components: fc.subarray([...COMPONENTS]),
    nonce: fc.option(fc.constantFrom("n1", "n2"), { nil: undefined }),
    level: fc.constantFrom("pseudonymous", "agent", "person", "authorized"),
    scope: fc.option(fc.constantFrom("data.read", "data.write", "data.read data.write"), { nil: undefined }),
  })
  .map(({ profile, agent, components, nonce, level, scope }): Omit<LabelVerdict, "label"> => {
    const aauth: AAuthIdentity | undefined =
      profile === "aauth"
        ? ({
            level,
            scheme: level === "pseudonymous" ? "hwk" : "jwt",
            thumbprint: `t-${agent}`,
            scope,
          } as AAuthIdentity)
        : undefined;
    return {
      profile,
      outcome: "verified",
      agent,
      identities: [agent],
      keyid: `k-${agent}`,
      algorithm: "ed25519",
      params: { created: 1000, expires: 1300, keyid: `k-${agent}`, nonce },
      components: [...components, ...(profile === "aauth" ? ['"signature-key"'] : [])],
      coversAuthorization: components.includes('"authorization"'),
      base: `base-${agent}-${components.join()}`,
      aauth,
    };
  });

const rule = fc.record(
  {
    path: fc.constant("/*"),
    require: fc.constantFrom("none", "signature", "verified-agent"),
    nonce: fc.constantFrom("required", "optional"),
    bearer: fc.constantFrom("require-proof", "allow"),
    aauth: fc.constantFrom("agent-token", "person-token", "auth-token"),
    scope: fc.constant(["data.read"]),
    allow: fc.subarray(AGENTS.slice(0, 2), { minLength: 1 }),
    cover: fc.constant([['"authorization"']]),
  },
  { requiredKeys: ["path", "require"] },
) as fc.Arbitrary<Rule>;

const context = fc.record({
  credentials: fc.subarray(["authorization"]),
  method: fc.constantFrom("GET", "POST", "DELETE"),
  hasBody: fc.boolean(),
});

describe("one signature decides", () => {
  it("a forwarded identity, its level and its bearer binding come from one label that suffices alone", () => {
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), rule, context, (labels, r, ctx) => {
        const verification = { labels: labels.map((l, i) => ({ ...l, label: `s${i}` })), otherLabels: [] };
        const decision = decide(verification, r, policy, ctx);
        if (decision.action !== "forward" || decision.verdict === undefined) return;
        const decider = decision.verdict;
        expect(decision.identity?.label).toBe(decider.label);
        expect(decision.identity?.extra?.level).toBe(decider.aauth?.level);
        if (decision.identity?.extra?.bearer === "bound") expect(decider.coversAuthorization).toBe(true);
        const alone = decide({ labels: [decider], otherLabels: [] }, r, policy, ctx);
        expect(alone).toEqual(decision);
      }),
      { numRuns: 3000 },
    );
  });

  it("a label that is refused alone is not lifted by a label that adds what it lacks", () => {
    // The person-token level comes from one label, the coverage and identity would come from the other.
    const person: LabelVerdict = {
      label: "aauth",
      profile: "aauth",
      outcome: "verified",
      agent: "https://a.example",
      identities: ["https://a.example"],
      params: { created: 1000 },
      components: ['"@authority"', '"signature-key"'],
      coversAuthorization: false,
      aauth: { level: "person", scheme: "jwt", thumbprint: "t" } as AAuthIdentity,
    };
    const wba: LabelVerdict = {
      label: "wba",
      profile: "web-bot-auth",
      outcome: "verified",
      agent: "https://b.example",
      identities: ["https://b.example"],
      params: { created: 1000, expires: 1300 },
      components: ['"@method"', '"@authority"', '"@path"'],
      coversAuthorization: false,
    };
    const r: Rule = { path: "/*", require: "signature", aauth: "person-token" };
    const decision = decide({ labels: [wba, person], otherLabels: [] }, r, policy, { method: "DELETE" });
    expect(decision.action).toBe("reject");
    // The only label with the level lacks the coverage: the person-token challenge, as if it were alone.
    expect(decision.action === "reject" && decision.rejection.reason).toBe("signature_required");
    expect(decision.action === "reject" && decision.rejection.aauth?.requirement).toBe("person-token");
  });
});
