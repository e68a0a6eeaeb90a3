import { describe, expect, it } from "vitest";
import { checkEgress, MAX_KEY_SET_URL_LENGTH } from "../../../worker/discovery/index.ts";

const WELL_KNOWN = "/.well-known/http-message-signatures-directory";

/** [URL, allowed by default, allowed with unsafeAllowLoopback] */
const TABLE: ReadonlyArray<readonly [string, boolean, boolean]> = [
  // Allowed
  [`https://agent.example${WELL_KNOWN}`, true, true],
  [`https://chatgpt.com${WELL_KNOWN}`, true, true],
  ["https://agent.bot.goog/keys.json", true, true],
  ["https://Agent.Example/jwks?version=2", true, true],
  [`https://agent.example:443${WELL_KNOWN}`, true, true], // the default port, normalised away
  ["https://xn--bcher-kva.example/jwks", true, true],
  ["https://bücher.example/jwks", true, true], // IDN, parsed to punycode
  ["https://my-agent.co.uk/jwks", true, true],
  // Scheme
  [`http://agent.example${WELL_KNOWN}`, false, false],
  ["ftp://agent.example/keys", false, false],
  ["data:application/json,{}", false, false],
  ["file:///etc/passwd", false, false],
  ["javascript:alert(1)", false, false],
  ["ws://agent.example/keys", false, false],
  // Not a URL
  ["", false, false],
  ["agent.example/keys", false, false],
  ["/.well-known/http-message-signatures-directory", false, false],
  ["https://", false, false],
  // Userinfo
  ["https://user@agent.example/keys", false, false],
  ["https://user:pass@agent.example/keys", false, false],
  ["https://:pass@agent.example/keys", false, false],
  ["https://agent.example@evil.example/keys", false, false],
  // Ports
  ["https://agent.example:8443/keys", false, false],
  ["https://agent.example:80/keys", false, false],
  ["https://agent.example:0/keys", false, false],
  // Fragments
  ["https://agent.example/keys#frag", false, false],
  ["https://agent.example/keys#", false, false],
  // IPv4 literals in every spelling (the loopback ones pass only with unsafeAllowLoopback, as 127.0.0.1)
  ["https://127.0.0.1/keys", false, true],
  ["https://10.0.0.1/keys", false, false],
  ["https://192.168.1.1/keys", false, false],
  ["https://169.254.169.254/latest/meta-data", false, false],
  ["https://8.8.8.8/keys", false, false], // public, still a literal
  ["https://0x7f.1/keys", false, true],
  ["https://0x7f000001/keys", false, true],
  ["https://2130706433/keys", false, true],
  ["https://017700000001/keys", false, true],
  ["https://127.1/keys", false, true],
  ["https://0/keys", false, false],
  ["https://127%2E0%2E0%2E1/keys", false, true],
  ["https://１２７.０.０.１/keys", false, true], // full-width digits
  // IPv6 literals
  ["https://[::1]/keys", false, true],
  ["https://[::ffff:127.0.0.1]/keys", false, false],
  ["https://[::ffff:7f00:1]/keys", false, false],
  ["https://[fe80::1]/keys", false, false],
  ["https://[2001:db8::1]/keys", false, false],
  ["https://[::]/keys", false, false],
  // Local names
  ["https://localhost/keys", false, true],
  ["https://LOCALHOST/keys", false, true],
  ["https://localhost./keys", false, false],
  ["https://api.localhost/keys", false, false],
  ["https://printer.local/keys", false, false],
  ["https://metadata.google.internal/keys", false, false],
  ["https://router.home.arpa/keys", false, false],
  ["https://box.localdomain/keys", false, false],
  ["https://intranet/keys", false, false],
  ["https://agent.example./keys", false, false],
  // Loopback exceptions (only with unsafeAllowLoopback, any port, http or https)
  ["http://127.0.0.1:8787/keys", false, true],
  ["https://127.0.0.1:8443/keys", false, true],
  ["http://localhost:3000/keys", false, true],
  ["http://[::1]:9000/keys", false, true],
  ["http://0x7f.1:9000/keys", false, true], // parsed to 127.0.0.1
  ["http://127.0.0.2:8787/keys", false, false], // only exactly 127.0.0.1
  ["http://api.localhost:8787/keys", false, false],
  ["http://user@127.0.0.1:8787/keys", false, false],
  ["http://127.0.0.1:8787/keys#x", false, false],
  ["ftp://127.0.0.1/keys", false, false],
  [`https://agent.example/${"a".repeat(MAX_KEY_SET_URL_LENGTH)}`, false, false],
];

describe("checkEgress", () => {
  it.each(TABLE)("%s → default %s, loopback %s", (url, byDefault, withLoopback) => {
    const plain = checkEgress(url);
    const loose = checkEgress(url, { unsafeAllowLoopback: true });
    expect(plain.allowed).toBe(byDefault);
    expect(loose.allowed).toBe(withLoopback);
    if (!plain.allowed) expect(plain.reason).toMatch(/^Signet does not fetch this key set URL: .+/);
  });

  it("names the reason", () => {
    const reasons = (url: string) => {
      const decision = checkEgress(url);
      return decision.allowed ? "allowed" : decision.reason;
    };
    expect(reasons("https://0x7f.1/keys")).toContain("127.0.0.1 is an IP address literal");
    expect(reasons("https://[::ffff:127.0.0.1]/keys")).toContain("IPv6 address literal");
    expect(reasons("http://agent.example/keys")).toContain("scheme http:");
    expect(reasons("https://agent.example:8443/keys")).toContain("port 8443");
    expect(reasons("https://u@agent.example/")).toContain("userinfo");
    expect(reasons("https://agent.example/#")).toContain("fragment");
    expect(reasons("https://intranet/")).toContain("single label");
    expect(reasons("https://a.localhost/")).toContain("local-only");
  });

  it("returns the parsed URL of an allowed target, and accepts URL objects", () => {
    const decision = checkEgress(new URL("https://Agent.Example:443/jwks"));
    expect(decision.allowed && decision.url.href).toBe("https://agent.example/jwks");
  });
});
