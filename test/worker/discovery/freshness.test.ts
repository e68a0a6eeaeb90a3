import { describe, expect, it } from "vitest";
import { type CachingHeaders, keySetFreshness } from "../../../worker/discovery/index.ts";

const NOW = Date.parse("2026-11-23T12:00:00Z");
const at = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toUTCString();

describe("keySetFreshness", () => {
  const cases: ReadonlyArray<readonly [string, CachingHeaders, number, string, boolean]> = [
    ["max-age", { cacheControl: "max-age=3600" }, 3600, "max-age", true],
    ["max-age below the floor", { cacheControl: "max-age=5" }, 60, "max-age", true],
    ["max-age=0", { cacheControl: "max-age=0" }, 60, "max-age", true],
    ["max-age above the ceiling", { cacheControl: "public, max-age=31536000, immutable" }, 86_400, "max-age", true],
    ["s-maxage wins over max-age", { cacheControl: "max-age=60, s-maxage=600" }, 600, "s-maxage", true],
    ["Age is subtracted", { cacheControl: "max-age=3600", age: "3000" }, 600, "max-age", true],
    ["Age beyond the lifetime", { cacheControl: "max-age=3600", age: "7200" }, 60, "max-age", true],
    ["quoted value", { cacheControl: 'max-age="120"' }, 120, "max-age", true],
    ["first of repeated directives", { cacheControl: "max-age=120, max-age=9000" }, 120, "max-age", true],
    ["malformed max-age falls back", { cacheControl: "max-age=soon" }, 60, "default", true],
    ["no-store", { cacheControl: "no-store, max-age=3600" }, 60, "no-store", false],
    ["no-cache", { cacheControl: "No-Cache, max-age=3600" }, 60, "no-cache", true],
    ["private keeps the set out of the shared tier", { cacheControl: "private, max-age=600" }, 600, "max-age", false],
    ["Expires minus Date", { expires: at(7200), date: at(0) }, 7200, "expires", true],
    ["Expires minus now without Date", { expires: at(900) }, 900, "expires", true],
    ["Expires in the past", { expires: at(-60), date: at(0) }, 60, "expires", true],
    ["invalid Expires", { expires: "0" }, 60, "expires", true],
    ["max-age wins over Expires", { cacheControl: "max-age=300", expires: at(7200) }, 300, "max-age", true],
    ["nothing", {}, 60, "default", true],
  ];
  it.each(cases)("%s", (_name, caching, ttl, source, shareable) => {
    expect(keySetFreshness(caching, NOW)).toEqual({ ttlSeconds: ttl, source, shareable });
  });

  it("uses the configured floor, ceiling and default", () => {
    const options = { minTtlSeconds: 10, maxTtlSeconds: 100, defaultTtlSeconds: 50 };
    expect(keySetFreshness({ cacheControl: "max-age=5" }, NOW, options).ttlSeconds).toBe(10);
    expect(keySetFreshness({ cacheControl: "max-age=500" }, NOW, options).ttlSeconds).toBe(100);
    expect(keySetFreshness({}, NOW, options).ttlSeconds).toBe(50);
  });
});
