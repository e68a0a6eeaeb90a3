/** webBotAuthProfile's loopback switch: loopback agent URLs only when asked, and nothing else through it. */
import { describe, expect, it } from "vitest";
import { webBotAuthProfile } from "../../agent/index.ts";

describe("webBotAuthProfile({ unsafeAllowLoopback })", () => {
  it.each([
    ["http://127.0.0.1:9000", true],
    ["http://localhost:9000", true],
    ["https://127.0.0.1:9443", true],
    ["http://[::1]:9000", true],
    ["http://agent.example", false],
    ["http://10.0.0.1:9000", false],
    ["http://127.0.0.2:9000", false],
    ["http://user:pw@127.0.0.1:9000", false],
    ["ftp://127.0.0.1/", false],
  ])("%s with the switch: accepted %s", (agent, accepted) => {
    const make = () => webBotAuthProfile({ agent, unsafeAllowLoopback: true });
    if (accepted) expect(make).not.toThrow();
    else expect(make).toThrow(TypeError);
  });

  it("refuses every loopback URL without the switch", () => {
    for (const agent of ["http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"]) {
      expect(() => webBotAuthProfile({ agent })).toThrow(TypeError);
    }
  });
});
