import { describe, expect, it } from "vitest";
import { checkEd25519PublicKey, decodeBase64Url, importVerificationKey } from "../../worker/rfc9421/index.ts";
import weakKeys from "../vectors/ed25519-weak-keys.json";

function hex(text: string): Uint8Array {
  return new Uint8Array(text.match(/../g)?.map((b) => Number.parseInt(b, 16)) ?? []);
}

describe("Ed25519 keys refused at import (test/vectors/ed25519-weak-keys.json)", () => {
  it.each(weakKeys.vectors.map((v) => [`${v.hex.slice(0, 8)}… ${v.name}`, v] as const))("%s", async (_n, v) => {
    expect(decodeBase64Url(v.x)).toEqual(hex(v.hex));
    await expect(importVerificationKey({ kty: "OKP", crv: "Ed25519", x: v.x })).rejects.toMatchObject({
      code: v.expected_code,
    });
    expect(() => checkEd25519PublicKey(hex(v.hex))).toThrow();
  });

  it("the forgery the check prevents: R = identity, S = 0 against the identity key", async () => {
    // workerd's WebCrypto calls this forged signature valid (workers-platform notes §3.4); Node's refuses it.
    // Signet's import check refuses the key before any runtime is asked.
    const identity = weakKeys.vectors[0] as (typeof weakKeys.vectors)[number];
    const raw = await crypto.subtle
      .importKey("jwk", { kty: "OKP", crv: "Ed25519", x: identity.x }, { name: "Ed25519" }, false, ["verify"])
      .then((key) =>
        crypto.subtle.verify("Ed25519", key, hex(weakKeys.identity_forgery_signature_hex), new Uint8Array([1, 2, 3])),
      )
      .catch(() => "refused by the runtime");
    const workerd = typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers";
    expect(raw).toBe(workerd);
    await expect(importVerificationKey({ kty: "OKP", crv: "Ed25519", x: identity.x })).rejects.toMatchObject({
      code: "weak_key",
    });
  });
});
