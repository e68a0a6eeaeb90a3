/**
 * The one lifetime function (`worker/replay/lifetime.ts`), as a table: for each profile and policy, the last
 * second a verified signature can be accepted. The sweep through the whole Worker that shows the replay record
 * outlives it is in `test/worker/gateway/replay.test.ts`.
 */
import { describe, expect, it } from "vitest";
import { PolicyError, parsePolicy } from "../../worker/policy/parse-policy.ts";
import { lastAcceptableSecond } from "../../worker/replay/lifetime.ts";

const policy = (freshness: object, aauth: object = {}) => parsePolicy(JSON.stringify({ freshness, aauth }));

describe("lastAcceptableSecond", () => {
  it.each([
    ["web-bot-auth: expires + skew", "web-bot-auth", { created: 1000, expires: 1300 }, {}, {}, 1360],
    ["web-bot-auth: maxAge sooner", "web-bot-auth", { created: 1000, expires: 1300 }, { maxAge: 100 }, {}, 1160],
    ["web-bot-auth: expires sooner", "web-bot-auth", { created: 1000, expires: 1030 }, { maxAge: 100 }, {}, 1090],
    ["web-bot-auth: no skew", "web-bot-auth", { created: 1000, expires: 1030 }, { clockSkew: 0 }, {}, 1030],
    ["aauth: created + window", "aauth", { created: 1000 }, {}, {}, 1060],
    ["aauth: own window", "aauth", { created: 1000 }, {}, { signatureWindow: 10 }, 1010],
    ["aauth: expires sooner", "aauth", { created: 1000, expires: 1005 }, {}, {}, 1005],
    ["aauth: window within maxAge", "aauth", { created: 1000 }, { maxAge: 60, clockSkew: 0 }, {}, 1060],
    ["web-bot-auth: nothing bounds it", "web-bot-auth", { created: 1000 }, {}, {}, undefined],
    ["aauth: nothing bounds it", "aauth", {}, {}, {}, undefined],
  ] as const)("%s", (_name, profile, params, freshness, aauth, expected) => {
    expect(lastAcceptableSecond({ profile, params }, policy(freshness, aauth))).toBe(expected);
  });

  it("a policy whose AAuth window is longer than maxAge is refused at load, naming the window", () => {
    let error: unknown;
    try {
      policy({ maxAge: 30 }, { signatureWindow: 31 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).field).toBe("aauth.signatureWindow");
    expect(() => policy({ maxAge: 30 }, { signatureWindow: 30 })).not.toThrow();
  });
});

describe("rule.cover", () => {
  it("stores names and alternatives serialised", () => {
    const parsed = parsePolicy(
      JSON.stringify({ rules: [{ path: "/*", require: "signature", cover: ["@method", ["@path", "@target-uri"]] }] }),
    );
    expect(parsed.rules[0]?.cover).toEqual([['"@method"'], ['"@path"', '"@target-uri"']]);
  });

  it.each([
    [{ cover: "@method" }, "rules[0].cover"],
    [{ cover: [[]] }, "rules[0].cover[0]"],
    [{ cover: ["Content-Digest"] }, "rules[0].cover[0]"],
    [{ cover: [["@path", 3]] }, "rules[0].cover[0][1]"],
    [{ cover: ['"@path"'] }, "rules[0].cover[0]"],
  ])("refuses %j naming %s", (extra, field) => {
    let error: unknown;
    try {
      parsePolicy(JSON.stringify({ rules: [{ path: "/*", require: "signature", ...extra }] }));
    } catch (err) {
      error = err;
    }
    expect((error as PolicyError).field).toBe(field);
  });
});
