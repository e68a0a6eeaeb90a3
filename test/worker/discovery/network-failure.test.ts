/** A failed key set fetch is described in Signet's words: the runtime's error text never reaches a message. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { networkFailure } from "../../../worker/discovery/fetch-key-set.ts";

const OWN = new Set([
  "the TLS handshake failed (is its certificate trusted?)",
  "the connection was refused or closed",
  "the connection or TLS handshake failed",
  "the host name could not be resolved",
]);

describe("networkFailure", () => {
  it.each([
    ["internal error; reference = 9k2b1vq3c0", "the connection or TLS handshake failed"],
    [
      "TLS peer's certificate is not trusted; reason = self signed certificate",
      "the TLS handshake failed (is its certificate trusted?)",
    ],
    ["Network connection lost.", "the connection or TLS handshake failed"],
    ["connect ECONNREFUSED 127.0.0.1:9", "the connection was refused or closed"],
  ])("%s → %s", (message, words) => {
    expect(networkFailure(new Error(message))).toBe(words);
  });

  it("answers one of its own sentences for any error and any thrown value", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string().map((m) => new Error(m)),
          fc.anything(),
        ),
        (thrown) => {
          expect(OWN.has(networkFailure(thrown))).toBe(true);
        },
      ),
    );
  });
});
