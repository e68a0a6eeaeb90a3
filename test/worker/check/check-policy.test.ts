/** The policy's `check` block: off by default, and every field checked when the policy is parsed. */
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../worker/policy/parse-policy.ts";

describe("policy check block", () => {
  it("is off by default, at /.signet/check, 60 a minute, 4096 clients", () => {
    expect(parsePolicy("{}").check).toEqual({
      enabled: false,
      path: "/.signet/check",
      ratePerMinute: 60,
      maxClients: 4096,
    });
  });

  it("takes its fields", () => {
    const policy = parsePolicy(
      JSON.stringify({ check: { enabled: true, path: "/_check", ratePerMinute: 5, maxClients: 10 } }),
    );
    expect(policy.check).toEqual({ enabled: true, path: "/_check", ratePerMinute: 5, maxClients: 10 });
  });

  it.each([
    [{ enabled: "yes" }, "check.enabled"],
    [{ path: "check" }, "check.path"],
    [{ path: "//x" }, "check.path"],
    [{ path: "/a b" }, "check.path"],
    [{ path: "/a?x" }, "check.path"],
    [{ ratePerMinute: 0 }, "check.ratePerMinute"],
    [{ ratePerMinute: 1.5 }, "check.ratePerMinute"],
    [{ maxClients: 0 }, "check.maxClients"],
    [{ header: "x" }, "check"],
  ])("refuses %j (%s)", (check, field) => {
    expect(() => parsePolicy(JSON.stringify({ check }))).toThrow(field);
  });
});
