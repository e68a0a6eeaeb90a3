/**
 * A policy kept in its own file reaches the Worker as `SIGNET_POLICY` text (`wrangler deploy --var
 * SIGNET_POLICY:"$(cat policy.json)"`): the `$schema` member editors use is accepted and ignored, the rules are
 * enforced, and a file `signet policy check` refuses (a `null` field, say) makes the Worker refuse everything with
 * 503 `misconfigured` rather than run with a half-read policy. Until the schema work, `null` in a top-level or
 * block field was read as "absent": `{"rules": null}` ran with no rules (every route `none`) and `{"deny": null}`
 * with an empty deny list; now `null` is refused anywhere (property and table in test/cli/policy-schema.test.ts).
 */
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../worker/policy/parse-policy.ts";
import { expectProblem, gatewayEnv, send } from "./gateway/gateway.ts";

const POLICY_FILE = `{
  "$schema": "./policy.schema.json",
  "rules": [{ "path": "/agents/*", "require": "verified-agent" }]
}
`;

function envFromFile(text: string) {
  return { ...gatewayEnv({}), SIGNET_POLICY: text };
}

describe("a policy file deployed as SIGNET_POLICY", () => {
  it("with $schema: enforced as written", async () => {
    expect(parsePolicy(POLICY_FILE).rules).toHaveLength(1);
    const env = envFromFile(POLICY_FILE);
    expect((await send(new Request("https://signet.example/open"), env)).status).toBe(200);
    await expectProblem(await send(new Request("https://signet.example/agents/x"), env), "signature_required");
  });

  it.each([
    ["a null mode", '{"mode": null, "rules": [{"path": "/agents/*", "require": "verified-agent"}]}'],
    // Before, null read as absent: no rules at all (every route none), and an empty deny list.
    ["null rules", '{"rules": null}'],
    ["a null deny list", '{"deny": null, "rules": [{"path": "/agents/*", "require": "verified-agent"}]}'],
    ["a null rule field", '{"rules": [{"path": "/agents/*", "require": "verified-agent", "replay": null}]}'],
    ["an empty $schema", '{"$schema": "", "rules": []}'],
  ])("with %s: every request refused as misconfigured", async (_what, text) => {
    expect(() => parsePolicy(text)).toThrow();
    const env = envFromFile(text);
    for (const path of ["/open", "/agents/x"]) {
      await expectProblem(await send(new Request(`https://signet.example${path}`), env), "misconfigured");
    }
  });
});
