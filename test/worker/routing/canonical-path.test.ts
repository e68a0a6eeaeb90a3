/**
 * The canonical path form and the route a path gets, as functions: the spelling table of
 * `test/vectors/canonical-paths.json` (the same table runs through the whole Worker in
 * `test/worker/gateway/routing.test.ts`), the steps one by one, rule paths at load, and properties: the form is
 * idempotent, every spelling of a path (escapes, repeated slashes, dot-segment detours) has that path's form and
 * rule, and a forwarded path is routed to exactly the rule its raw form was.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalPath } from "../../../worker/policy/canonical-path.ts";
import { matchRule } from "../../../worker/policy/match-rule.ts";
import { type PolicyError, parsePolicy } from "../../../worker/policy/parse-policy.ts";
import { routeRequest } from "../../../worker/policy/route.ts";
import table from "../../vectors/canonical-paths.json";

const policy = parsePolicy(JSON.stringify(table.policy));

/** The path part of a spelling as the WHATWG URL parser leaves it (what the Worker sees as `URL.pathname`). */
const pathnameOf = (raw: string) => new URL(`https://signet.example${raw}`).pathname;

describe("the spelling table (test/vectors/canonical-paths.json)", () => {
  it("has at least 40 spellings", () => {
    expect(table.cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(table.cases)("$raw ($note)", (c) => {
    const route = routeRequest(policy, "GET", pathnameOf(c.raw));
    if ("reject" in c) {
      expect(route).toMatchObject({ reject: c.reject });
      return;
    }
    expect(route).toMatchObject({ path: c.forwarded });
    if (!("rule" in route)) throw new Error("unreachable");
    expect(route.rule.path === "*" && route.rule.require === "none" ? "(none)" : route.rule.path).toBe(c.rule);
    // The forwarded path is routed to the same rule again.
    expect(routeRequest(policy, "GET", route.path)).toEqual(route);
  });
});

describe("canonicalPath, step by step", () => {
  it.each([
    ["", "/"],
    ["/", "/"],
    ["//", "/"],
    ["/a//b/", "/a/b/"],
    ["/a/./b/../c", "/a/c"],
    ["/a/b/..", "/a/"],
    ["/..", "/"],
    ["/%7E%2D%2E%5F", "/~-._"],
    ["/%c3%a9", "/%C3%A9"],
    ["/é", "/%C3%A9"],
    ["/a b".replace(" ", "%20"), "/a%20b"],
    ["/[x]^{y}", "/%5Bx%5D%5E%7By%7D"],
    ["/a;b=c,d", "/a;b=c,d"],
    ["/100%25", "/100%25"],
    ["/%25zz", "/%25zz"],
    ["/A/B", "/A/B"],
  ])("%s -> %s", (raw, path) => {
    expect(canonicalPath(raw)).toEqual({ path });
  });

  it.each([
    ["a/b", "not_absolute"],
    ["/a%2Fb", "escaped_slash"],
    ["/a%5cb", "escaped_slash"],
    ["/a\\b", "escaped_slash"],
    ["/a%3bb", "escaped_semicolon"],
    ["/a%00", "control_character"],
    ["/a%7F", "control_character"],
    ["/a%20".replace("%20", " "), "control_character"],
    ["/a\tb", "control_character"],
    ["/a%2", "bad_escape"],
    ["/a%g0", "bad_escape"],
    ["/a%2541", "double_encoding"],
    ["/a%25%34%31", "double_encoding"],
    ["/a%C0%AF", "overlong_utf8"],
    ["/a%e0%80%af", "overlong_utf8"],
    ["/a%F0%80%80%AF", "overlong_utf8"],
    ["/a?b", "not_a_path"],
    ["/a#b", "not_a_path"],
  ])("%j is refused (%s)", (raw, reject) => {
    expect(canonicalPath(raw)).toEqual({ reject });
  });

  it("refuses a lone surrogate, which has no UTF-8 form", () => {
    expect(canonicalPath(`/${String.fromCharCode(0xd800)}`)).toEqual({ reject: "bad_escape" });
  });

  it("decodes escaped slashes and backslashes when told to, then merges and resolves", () => {
    expect(canonicalPath("/a%2F%2Fb", { escapedSlashes: "decode" })).toEqual({ path: "/a/b" });
    expect(canonicalPath("/a%2F..%2Fb", { escapedSlashes: "decode" })).toEqual({ path: "/b" });
    expect(canonicalPath("/a\\b%5c", { escapedSlashes: "decode" })).toEqual({ path: "/a/b/" });
  });
});

describe("rule paths are canonicalised (or refused) at load", () => {
  it("stores rule paths in canonical form, exact paths without a trailing slash", () => {
    const loaded = parsePolicy(
      JSON.stringify({
        rules: [
          { path: "/%61dmin/", require: "verified-agent" },
          { path: "//agents/./*", require: "verified-agent" },
          { path: "/caf%c3%a9*", require: "signature" },
          { path: "/", require: "none" },
          { path: "*", require: "none" },
        ],
      }),
    );
    expect(loaded.rules.map((r) => r.path)).toEqual(["/admin", "/agents/*", "/caf%C3%A9*", "/", "*"]);
  });

  it.each(["/a%2Fb", "/a\\b", "/a%zz", "/a%00", "/a?b", "/a*b", "a"])("refuses %s, naming the field", (path) => {
    expect(() => parsePolicy(JSON.stringify({ rules: [{ path, require: "none" }] }))).toThrowError(
      expect.objectContaining({ field: "rules[0].path" }) as unknown as PolicyError,
    );
  });

  it("reads paths.escapedSlashes (default reject) and refuses other values", () => {
    expect(parsePolicy("{}").paths.escapedSlashes).toBe("reject");
    expect(parsePolicy('{"paths":{"escapedSlashes":"decode"}}').paths.escapedSlashes).toBe("decode");
    expect(() => parsePolicy('{"paths":{"escapedSlashes":"keep"}}')).toThrowError(/paths\.escapedSlashes/);
    expect(() => parsePolicy('{"paths":{"mergeSlashes":false}}')).toThrowError(/paths\.mergeSlashes/);
  });
});

describe("rule matching on the canonical path", () => {
  it("an exact rule covers its path with a trailing slash; a prefix rule covers its bare prefix", () => {
    const p = parsePolicy(
      JSON.stringify({
        rules: [
          { path: "/admin", require: "verified-agent" },
          { path: "/agents/*", require: "signature" },
        ],
      }),
    );
    expect(matchRule(p, "GET", "/admin/").path).toBe("/admin");
    expect(matchRule(p, "GET", "/agents").path).toBe("/agents/*");
    expect(matchRule(p, "GET", "/agentsx").path).toBe("*");
    expect(matchRule(p, "GET", "/administrator").path).toBe("*");
  });

  it("a rule for GET also covers HEAD, and nothing else", () => {
    const p = parsePolicy(JSON.stringify({ rules: [{ path: "/a", methods: ["GET"], require: "verified-agent" }] }));
    expect(matchRule(p, "HEAD", "/a").path).toBe("/a");
    expect(matchRule(p, "OPTIONS", "/a").path).toBe("*");
    const head = parsePolicy(JSON.stringify({ rules: [{ path: "/a", methods: ["HEAD"], require: "none" }] }));
    expect(matchRule(head, "GET", "/a").path).toBe("*");
  });
});

describe("methods", () => {
  const p = parsePolicy(
    JSON.stringify({
      rules: [
        { path: "/agents/*", methods: ["PATCH"], require: "verified-agent" },
        { path: "/items/*", require: "signature" },
      ],
    }),
  );

  it("a lower-case method that another rule would govern upper-cased is refused", () => {
    expect(routeRequest(p, "patch", "/agents/x")).toMatchObject({ reject: "ambiguous_rule" });
    expect(routeRequest(p, "PATCH", "/agents/x")).toMatchObject({ rule: { require: "verified-agent" } });
  });

  it("a lower-case method that changes no rule passes", () => {
    expect(routeRequest(p, "patch", "/items/x")).toMatchObject({ path: "/items/x", rule: { path: "/items/*" } });
    expect(routeRequest(p, "purge", "/agents/x")).toMatchObject({ rule: { require: "none" } });
  });
});

// --- Properties ---

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const segmentArb = fc
  .array(fc.constantFrom(...UNRESERVED), { minLength: 1, maxLength: 6 })
  .map((chars) => chars.join(""))
  .filter((s) => s !== "." && s !== "..");
/** A canonical path of unreserved segments, with or without a trailing slash. */
const canonicalArb = fc
  .tuple(fc.array(segmentArb, { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([segments, slash]) => (segments.length === 0 ? "/" : `/${segments.join("/")}${slash ? "/" : ""}`));

/** One spelling of a canonical path: escapes in either hex case, repeated slashes, `.` and `x/..` detours. */
function spellingArb(path: string) {
  const chars = [...path];
  return fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: chars.length, maxLength: chars.length }),
      fc.array(segmentArb, { minLength: chars.length, maxLength: chars.length }),
    )
    .map(([choices, detours]) =>
      chars
        .map((char, i) => {
          const choice = choices[i] as number;
          if (char === "/") {
            if (choice === 1) return "//";
            if (choice === 2) return "/./";
            if (choice === 3) return `/${detours[i]}/../`;
            if (choice === 4) return "/%2E/";
            return "/";
          }
          const hex = (char.codePointAt(0) as number).toString(16).padStart(2, "0");
          if (choice === 1) return `%${hex.toUpperCase()}`;
          if (choice === 2) return `%${hex.toLowerCase()}`;
          return char;
        })
        .join(""),
    );
}

/** Any string a client could put in a path, weighted towards the characters that matter. */
const hostileArb = fc
  .array(
    fc.oneof(
      fc.constantFrom("/", "//", ".", "..", "%", "%2e", "%2E", "%2f", "%5C", "\\", ";", "%3B", "%25", "%41", "a", "A"),
      fc.constantFrom("%00", "%20", "%c3%a9", "é", "|", "?", " ", "x", "agents", "admin", "AGENTS", "%61"),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => `/${parts.join("")}`);

const propertyPolicy = parsePolicy(
  JSON.stringify({
    rules: [
      { path: "/admin", require: "verified-agent" },
      { path: "/agents/*", require: "verified-agent" },
      { path: "/Mixed/*", require: "signature" },
      { path: "/public/*", require: "none" },
      { path: "/a*", methods: ["POST"], require: "signature" },
    ],
  }),
);

describe("properties", () => {
  it("canonicalPath is idempotent and never throws, on any input and either escaped-slash action", () => {
    fc.assert(
      fc.property(hostileArb, fc.constantFrom("reject" as const, "decode" as const), (raw, escapedSlashes) => {
        const once = canonicalPath(raw, { escapedSlashes });
        if ("reject" in once) return;
        expect(canonicalPath(once.path, { escapedSlashes })).toEqual(once);
        expect(canonicalPath(once.path)).toEqual(once);
      }),
      { numRuns: 3000 },
    );
  });

  it("every spelling of a path has that path's canonical form and its route", () => {
    fc.assert(
      fc.property(
        canonicalArb.chain((path) => fc.tuple(fc.constant(path), spellingArb(path))),
        fc.constantFrom("GET", "POST"),
        ([path, spelling], method) => {
          expect(canonicalPath(spelling)).toEqual({ path });
          expect(routeRequest(propertyPolicy, method, spelling)).toEqual(routeRequest(propertyPolicy, method, path));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("the forwarded path is routed to exactly the rule its raw form was matched on, under every reading", () => {
    fc.assert(
      fc.property(hostileArb, fc.constantFrom("GET", "POST"), (raw, method) => {
        const route = routeRequest(propertyPolicy, method, raw);
        if ("reject" in route) return;
        expect(routeRequest(propertyPolicy, method, route.path)).toEqual(route);
        expect(matchRule(propertyPolicy, method, route.path)).toBe(route.rule);
        // Whatever the origin makes of case, the rule is the same.
        expect(matchRule(propertyPolicy, method, route.path, { foldCase: true })).toBe(route.rule);
        expect(matchRule(propertyPolicy, method, route.path.toLowerCase(), { foldCase: true })).toBe(route.rule);
      }),
      { numRuns: 3000 },
    );
  });
});
