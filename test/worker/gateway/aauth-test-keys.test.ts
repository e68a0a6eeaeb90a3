/**
 * The published RFC 9421 test keys through the whole Worker on the AAuth path: an `hwk` signature by one of them
 * is refused (`invalid_key`) unless the policy sets `allowTestKeys`, as on the Web Bot Auth path (issue 11,
 * item 10: they were accepted as `hwk` pseudonyms).
 */
import { describe, expect, it } from "vitest";
import { type Jwk, jwkThumbprint } from "../../../worker/rfc9421/index.ts";
import keyFile from "../../vectors/rfc9421-keys.json";
import { hwkOf, RESOURCE, signed, type TestKey } from "../aauth/helpers.ts";
import { echoOf, gatewayEnv, send } from "./gateway.ts";

const policy = (allowTestKeys: boolean) =>
  gatewayEnv({
    rules: [{ path: "/any/*", require: "signature" }],
    aauth: { resource: RESOURCE, name: "Example Data Service" },
    discovery: { unsafeAllowLoopback: true },
    allowTestKeys,
  });

/** The RFC 9421 B.1.3 (P-256) and B.1.4 (Ed25519) test keys as AAuth keys (with the `alg` SK-09 requires). */
async function rfcTestKey(name: "test-key-ecc-p256" | "test-key-ed25519"): Promise<TestKey> {
  const { jwk } = keyFile.keys[name] as { jwk: Jwk };
  const alg = name === "test-key-ed25519" ? "Ed25519" : "ES256";
  const { d: _d, ...publicMembers } = jwk;
  const publicJwk = { ...publicMembers, alg } as Jwk;
  return { publicJwk, privateJwk: { ...jwk, alg } as Jwk, alg, thumbprint: await jwkThumbprint(publicJwk) } as TestKey;
}

describe("RFC 9421 test keys on the AAuth hwk path", () => {
  it.each(["test-key-ed25519", "test-key-ecc-p256"] as const)(
    "%s: refused 401 invalid_key by default, accepted as a pseudonym only with allowTestKeys",
    async (name) => {
      const key = await rfcTestKey(name);
      const request = async (path: string) => {
        const message = await signed({ key, signatureKey: hwkOf(key), url: `${RESOURCE}${path}` });
        return new Request(message.targetUri, { method: message.method, headers: message.headers as Headers });
      };
      const refused = await send(await request(`/any/${name}-refused`), policy(false));
      expect(refused.status).toBe(401);
      expect(refused.headers.get("signature-error")).toBe("error=invalid_key");
      const problem = (await refused.json()) as { reason: string; type: string };
      expect(problem).toMatchObject({ reason: "signature_invalid", type: "urn:ietf:params:sig-error:invalid_key" });

      const allowed = await send(await request(`/any/${name}-allowed`), policy(true));
      expect(allowed.status).toBe(200);
      const echo = await echoOf(allowed);
      expect(echo.headers["verified-agent"]).toContain(key.thumbprint);
    },
  );
});
