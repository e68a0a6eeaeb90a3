import { describe, expect, it } from "vitest";
import { type AAuthVerification, toLabelVerdict, verifyAAuthLabels } from "../../../worker/aauth/index.ts";
import { createContentDigest, importSigningKey, signMessage } from "../../../worker/rfc9421/index.ts";
import { hwkOf, NOW, newKey, REQUIRED, signed, testOptions } from "./helpers.ts";

function only(result: AAuthVerification) {
  expect(result.fieldError).toBeUndefined();
  expect(result.labels).toHaveLength(1);
  return result.labels[0] as NonNullable<AAuthVerification["labels"][number]>;
}

describe("covered components", () => {
  it("refuses a signature lacking required components with invalid_input listing them", async () => {
    const key = await newKey();
    const message = await signed({ key, signatureKey: hwkOf(key), components: ['"@method"', '"@authority"'] });
    const verdict = only(await verifyAAuthLabels(message, testOptions().options));
    expect(verdict).toMatchObject({
      outcome: "invalid",
      code: "invalid_input",
      requiredInput: ['"@path"', '"signature-key"'],
    });
  });

  it("requires authorization when an Authorization header is sent, and reports the coverage", async () => {
    const key = await newKey();
    const headers = { authorization: "AAuth session-token" };
    const bare = await signed({ key, signatureKey: hwkOf(key), headers });
    expect(only(await verifyAAuthLabels(bare, testOptions().options)).requiredInput).toEqual(['"authorization"']);
    const covered = await signed({
      key,
      signatureKey: hwkOf(key),
      headers,
      components: [...REQUIRED, '"authorization"'],
    });
    const verdict = only(await verifyAAuthLabels(covered, testOptions().options));
    expect(verdict.outcome).toBe("verified");
    expect(verdict.coversAuthorization).toBe(true);
  });

  it("requires content-digest and content-type on bodies when bodyIntegrity is on", async () => {
    const key = await newKey();
    const body = '{"a":1}';
    const headers = {
      "content-type": "application/json",
      "content-digest": await createContentDigest(new TextEncoder().encode(body)),
      "content-length": String(body.length),
    };
    const unsigned = await signed({ key, signatureKey: hwkOf(key), method: "POST", body, headers });
    expect(only(await verifyAAuthLabels(unsigned, testOptions({ bodyIntegrity: true }).options)).requiredInput).toEqual(
      ['"content-digest"', '"content-type"'],
    );
    expect(only(await verifyAAuthLabels(unsigned, testOptions().options)).outcome).toBe("verified");
    const components = [...REQUIRED, '"content-digest"', '"content-type"'];
    const good = await signed({ key, signatureKey: hwkOf(key), method: "POST", body, headers, components });
    expect(only(await verifyAAuthLabels(good, testOptions({ bodyIntegrity: true }).options)).outcome).toBe("verified");
    const noBody = await signed({ key, signatureKey: hwkOf(key) });
    expect(only(await verifyAAuthLabels(noBody, testOptions({ bodyIntegrity: true }).options)).outcome).toBe(
      "verified",
    );
  });

  it("requires additional components from options", async () => {
    const key = await newKey();
    const message = await signed({ key, signatureKey: hwkOf(key) });
    const verdict = only(
      await verifyAAuthLabels(message, testOptions({ additionalComponents: ["@query", "content-type"] }).options),
    );
    expect(verdict.requiredInput).toEqual(['"@query"', '"content-type"']);
  });
});

describe("signature parameters", () => {
  it("needs created within the window: old → invalid_signature, ahead → clock_skew", async () => {
    const key = await newKey();
    const cases: Array<[Record<string, number | string | undefined>, string | undefined]> = [
      [{ created: NOW - 61 }, "invalid_signature"],
      [{ created: NOW + 61 }, "clock_skew"],
      [{ created: NOW - 60 }, undefined],
      [{ created: NOW + 60 }, undefined],
      [{ keyid: "x" }, "invalid_signature"],
      [{ created: NOW - 5, expires: NOW - 1 }, "invalid_signature"],
      [{ created: NOW - 5, expires: NOW + 100 }, undefined],
    ];
    for (const [params, code] of cases) {
      const verdict = only(
        await verifyAAuthLabels(await signed({ key, signatureKey: hwkOf(key), params }), testOptions().options),
      );
      expect([params, verdict.code]).toEqual([params, code]);
    }
    const wide = await signed({ key, signatureKey: hwkOf(key), params: { created: NOW - 200 } });
    expect(only(await verifyAAuthLabels(wide, testOptions({ signatureWindow: 300 }).options)).outcome).toBe("verified");
  });

  it("ignores the alg parameter and accepts a keyid naming the key, refuses one that does not", async () => {
    const key = await newKey();
    const withAlg = await signed({
      key,
      signatureKey: hwkOf(key),
      params: { created: NOW, alg: "rsa-pss-sha512" },
      claimAlgorithm: "rsa-pss-sha512",
    });
    const verdict = only(await verifyAAuthLabels(withAlg, testOptions().options));
    expect(verdict.outcome).toBe("verified");
    expect(verdict.base).toContain(';alg="rsa-pss-sha512"');
    for (const keyid of [key.thumbprint, `urn:jkt:sha-256:${key.thumbprint}`]) {
      const ok = await signed({ key, signatureKey: hwkOf(key), params: { created: NOW, keyid } });
      expect(only(await verifyAAuthLabels(ok, testOptions().options)).outcome).toBe("verified");
    }
    const wrong = await signed({ key, signatureKey: hwkOf(key), params: { created: NOW, keyid: "someone-else" } });
    expect(only(await verifyAAuthLabels(wrong, testOptions().options)).code).toBe("invalid_key");
  });
});

describe("labels and fields", () => {
  it("judges only the AAuth label when a Web Bot Auth label is present too", async () => {
    const key = await newKey();
    const bot = await newKey();
    const message = await signed({ key, signatureKey: `${hwkOf(key)}, wba=hwk;kty="OKP"` });
    const { alg: _a, kid: _k, ...material } = bot.privateJwk;
    const wba = await signMessage(message, {
      key: await importSigningKey(material),
      components: ['"@authority"'],
      params: { created: NOW, expires: NOW + 60, keyid: bot.thumbprint, tag: "web-bot-auth" },
      label: "wba",
    });
    const headers = message.headers as Headers;
    headers.append("signature-input", wba.signatureInput);
    headers.append("signature", wba.signature);
    headers.set("signature-agent", 'wba="https://bot.example"');
    const result = await verifyAAuthLabels(message, testOptions().options);
    expect(result.labels.map((l) => [l.label, l.outcome])).toEqual([["sig", "verified"]]);
    expect(result.otherLabels).toEqual(["wba"]);
    const converted = toLabelVerdict(result.labels[0] as never);
    expect(converted).toMatchObject({ label: "sig", outcome: "verified", algorithm: "Ed25519", keyid: key.thumbprint });
  });

  it("leaves labels without a Signature-Key member to others, and says nothing for an unsigned request", async () => {
    const key = await newKey();
    const message = await signed({ key, signatureKey: hwkOf(key, "other") });
    const result = await verifyAAuthLabels(message, testOptions().options);
    expect(result).toEqual({ labels: [], otherLabels: ["sig"] });
    const unsigned = await verifyAAuthLabels({
      kind: "request",
      method: "GET",
      targetUri: "https://a.example/",
      headers: new Headers(),
    });
    expect(unsigned).toEqual({ labels: [], otherLabels: [] });
  });

  it("refuses malformed fields as a whole with invalid_signature", async () => {
    const key = await newKey();
    for (const signatureKey of ["sig=hwk, sig=jwt", "sig=(a b)x", "%%%"]) {
      const result = await verifyAAuthLabels(await signed({ key, signatureKey }), testOptions().options);
      expect([signatureKey, result.fieldError?.code]).toEqual([signatureKey, "invalid_signature"]);
    }
    const onlyKey = await verifyAAuthLabels(
      {
        kind: "request",
        method: "GET",
        targetUri: "https://a.example/",
        headers: new Headers({ "signature-key": hwkOf(key) }),
      },
      testOptions().options,
    );
    expect(onlyKey.fieldError?.code).toBe("invalid_signature");
    const duplicateParam = await signed({ key, signatureKey: `${hwkOf(key)};alg="Ed25519"` });
    expect(only(await verifyAAuthLabels(duplicateParam, testOptions().options)).code).toBe("invalid_signature");
  });
});
