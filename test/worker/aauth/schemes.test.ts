import { describe, expect, it } from "vitest";
import { type AAuthVerification, jktUri, verifyAAuthLabels } from "../../../worker/aauth/index.ts";
import { count, hwkOf, mint, NOW, newKey, publishIssuer, register, server, signed, testOptions } from "./helpers.ts";

function only(result: AAuthVerification) {
  expect(result.fieldError).toBeUndefined();
  expect(result.labels).toHaveLength(1);
  return result.labels[0] as NonNullable<AAuthVerification["labels"][number]>;
}

describe("hwk", () => {
  it("verifies Ed25519 and ES256 keys, pseudonymously", async () => {
    for (const alg of ["Ed25519", "ES256"] as const) {
      const key = await newKey(alg);
      const verdict = only(
        await verifyAAuthLabels(await signed({ key, signatureKey: hwkOf(key) }), testOptions().options),
      );
      expect(verdict.outcome).toBe("verified");
      expect(verdict.algorithm).toBe(alg);
      expect(verdict.identity).toMatchObject({
        level: "pseudonymous",
        scheme: "hwk",
        thumbprint: key.thumbprint,
        subject: `urn:jkt:sha-256:${key.thumbprint}`,
      });
    }
  });

  it("refuses EdDSA, none, HS256, a kty/crv mismatch, a missing alg and a kid", async () => {
    const key = await newKey();
    const x = key.publicJwk.x as string;
    const cases: Array<[string, string]> = [
      [`sig=hwk;kty="OKP";crv="Ed25519";x="${x}";alg="EdDSA"`, "unsupported_algorithm"],
      [`sig=hwk;kty="OKP";crv="Ed25519";x="${x}";alg="none"`, "unsupported_algorithm"],
      [`sig=hwk;kty="oct";alg="HS256"`, "unsupported_algorithm"],
      [`sig=hwk;kty="OKP";crv="Ed25519";x="${x}";alg="ES256"`, "invalid_key"],
      [`sig=hwk;kty="EC";crv="P-384";x="${x}";y="${x}";alg="ES256"`, "invalid_key"],
      [`sig=hwk;kty="OKP";crv="Ed25519";x="${x}"`, "unsupported_algorithm"],
      [`sig=hwk;kty="OKP";crv="Ed25519";x="${x}";alg="Ed25519";kid="k1"`, "invalid_key"],
      [`sig=hwk;kty="OKP";crv="Ed25519";alg="Ed25519"`, "invalid_key"],
      [`sig=hwk;kty="AKP";alg="ML-DSA-44";pub="AAAA"`, "unsupported_algorithm"],
      [`sig=hwk;kty=OKP;crv="Ed25519";x="${x}";alg="Ed25519"`, "invalid_key"],
    ];
    for (const [signatureKey, code] of cases) {
      const verdict = only(await verifyAAuthLabels(await signed({ key, signatureKey }), testOptions().options));
      expect([signatureKey, verdict.code]).toEqual([signatureKey, code]);
      expect(verdict.outcome).toBe("invalid");
    }
  });

  it("refuses an algorithm outside the accepted list, and a signature by another key", async () => {
    const key = await newKey("ES256");
    const { options } = testOptions({ algorithms: ["Ed25519"] });
    expect(only(await verifyAAuthLabels(await signed({ key, signatureKey: hwkOf(key) }), options)).code).toBe(
      "unsupported_algorithm",
    );
    const other = await newKey();
    const verdict = only(
      await verifyAAuthLabels(await signed({ key: other, signatureKey: hwkOf(await newKey()) }), testOptions().options),
    );
    expect(verdict.code).toBe("invalid_signature");
    expect(verdict.base).toContain('"@signature-params": ');
  });
});

describe("jkt-jwt", () => {
  async function jktToken(
    device: Awaited<ReturnType<typeof newKey>>,
    http: Awaited<ReturnType<typeof newKey>>,
    extra: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
  ) {
    const iss = await jktUri(device.publicJwk, "SHA-256");
    return mint(
      device,
      { typ: "jkt-s256+jwt", jwk: device.publicJwk, ...header },
      { iss, cnf: { jwk: http.publicJwk }, iat: NOW, exp: NOW + 600, ...extra },
    );
  }

  it("verifies with cnf.jwk and names the device thumbprint URI", async () => {
    const device = await newKey("ES256");
    const http = await newKey();
    const jwt = await jktToken(device, http);
    const verdict = only(
      await verifyAAuthLabels(
        await signed({ key: http, signatureKey: `sig=jkt-jwt;jwt="${jwt}"` }),
        testOptions().options,
      ),
    );
    expect(verdict.outcome).toBe("verified");
    expect(verdict.identity).toMatchObject({
      level: "pseudonymous",
      scheme: "jkt-jwt",
      thumbprint: http.thumbprint,
      subject: `urn:jkt:sha-256:${device.thumbprint}`,
    });
  });

  it("refuses a wrong iss, a wrong typ, an expired token, a future iat and a bad signature", async () => {
    const device = await newKey();
    const http = await newKey();
    const cases: Array<[string, string]> = [
      [
        await jktToken(device, http, { iss: "urn:jkt:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" }),
        "invalid_jwt",
      ],
      [await jktToken(device, http, {}, { typ: "jwt" }), "invalid_jwt"],
      [await jktToken(device, http, { exp: NOW - 1 }), "expired_jwt"],
      [await jktToken(device, http, { exp: undefined }), "invalid_jwt"],
      [await jktToken(device, http, { iat: NOW + 3600, exp: NOW + 7200 }), "clock_skew"],
      [`${(await jktToken(device, http)).slice(0, -4)}AAAA`, "invalid_jwt"],
      ["not-a-jwt", "invalid_jwt"],
    ];
    for (const [jwt, code] of cases) {
      const verdict = only(
        await verifyAAuthLabels(
          await signed({ key: http, signatureKey: `sig=jkt-jwt;jwt="${jwt}"` }),
          testOptions().options,
        ),
      );
      expect(verdict.code).toBe(code);
    }
  });
});

describe("jwks_uri and jwks", () => {
  it("jwks_uri: metadata → jwks_uri → kid; pseudonymous unless allow-listed", async () => {
    const client = await publishIssuer("example-configuration");
    const signatureKey = `sig=jwks_uri;id="${client.iss}";dwk="example-configuration";kid="k1"`;
    const message = await signed({ key: client.key, signatureKey });
    const plain = only(await verifyAAuthLabels(message, testOptions().options));
    expect(plain.outcome).toBe("verified");
    expect(plain.identity).toMatchObject({ level: "pseudonymous", keySet: client.iss, trustedKeySet: false });
    const trusted = only(await verifyAAuthLabels(message, testOptions({ trustedKeySets: [client.iss] }).options));
    expect(trusted.identity).toMatchObject({ level: "agent", keySet: client.iss, trustedKeySet: true });
  });

  it("jwks_uri: issuer missing, mismatched (trailing slash), unknown kid, missing parameters", async () => {
    const missing = await publishIssuer("cfg", { metadata: { issuer: undefined } });
    const slash = await publishIssuer("cfg");
    await register(slash.metadataPath, [{ body: { issuer: `${slash.iss}/`, jwks_uri: `${slash.iss}/jwks.json` } }]);
    const cases: Array<[typeof missing, string, string]> = [
      [missing, `sig=jwks_uri;id="${missing.iss}";dwk="cfg";kid="k1"`, "issuer_missing"],
      [slash, `sig=jwks_uri;id="${slash.iss}";dwk="cfg";kid="k1"`, "issuer_mismatch"],
      [slash, `sig=jwks_uri;id="${slash.iss}/";dwk="cfg";kid="k1"`, "invalid_key"],
      [missing, `sig=jwks_uri;id="${missing.iss}";kid="k1"`, "invalid_key"],
    ];
    for (const [issuer, signatureKey, code] of cases) {
      const verdict = only(
        await verifyAAuthLabels(await signed({ key: issuer.key, signatureKey }), testOptions().options),
      );
      expect([signatureKey, verdict.code]).toEqual([signatureKey, code]);
    }
    const good = await publishIssuer("cfg");
    const verdict = only(
      await verifyAAuthLabels(
        await signed({ key: good.key, signatureKey: `sig=jwks_uri;id="${good.iss}";dwk="cfg";kid="nope"` }),
        testOptions().options,
      ),
    );
    expect(verdict.code).toBe("unknown_key");
  });

  it("jwks: direct URL, kid selection that ignores unusable other members, byte-exact allow list", async () => {
    const other = { kty: "AKP", alg: "ML-DSA-44", kid: "pq", pub: "AAAA" };
    const set = await publishIssuer("unused", { extraKeys: [other as never] });
    const url = `${set.iss}/jwks.json`;
    const message = await signed({ key: set.key, signatureKey: `sig=jwks;url="${url}";kid="k1"` });
    const verdict = only(
      await verifyAAuthLabels(message, testOptions({ trustedKeySets: [url.toUpperCase()] }).options),
    );
    expect(verdict.outcome).toBe("verified");
    expect(verdict.identity).toMatchObject({ scheme: "jwks", level: "pseudonymous", keySet: url });
    const pq = only(
      await verifyAAuthLabels(
        await signed({ key: set.key, signatureKey: `sig=jwks;url="${url}";kid="pq"` }),
        testOptions().options,
      ),
    );
    expect(pq.code).toBe("unsupported_algorithm");
  });

  it("jwks: egress refusal is invalid, an unreachable set is unverified", async () => {
    const key = await newKey();
    const refused = only(
      await verifyAAuthLabels(
        await signed({ key, signatureKey: 'sig=jwks;url="https://10.0.0.1/keys";kid="k1"' }),
        testOptions().options,
      ),
    );
    expect(refused).toMatchObject({ outcome: "invalid", code: "invalid_key", discoveryCode: "egress_refused" });
    const path = `/i/${crypto.randomUUID()}/jwks.json`;
    await register(path, [{ status: 503 }]);
    const down = only(
      await verifyAAuthLabels(
        await signed({ key, signatureKey: `sig=jwks;url="${server.url}${path}";kid="k1"` }),
        testOptions().options,
      ),
    );
    expect(down).toMatchObject({ outcome: "unverified", code: "invalid_key", discoveryCode: "directory_rejected" });
    expect(await count(path)).toBe(1);
  });
});

describe("scheme selection", () => {
  it("refuses x509, cached, self-jwt, unknown and unaccepted schemes on the selected member only", async () => {
    const key = await newKey();
    for (const member of [
      'sig=x509;x5u="https://a.example/c.pem";x5t=:AAAA:',
      'sig=cached;cid="x"',
      'sig=self-jwt;jwt="a.b.c"',
      "sig=quantum",
    ]) {
      const verdict = only(await verifyAAuthLabels(await signed({ key, signatureKey: member }), testOptions().options));
      expect([member, verdict.code]).toEqual([member, "unsupported_scheme"]);
    }
    const jwtOnly = only(
      await verifyAAuthLabels(
        await signed({ key, signatureKey: hwkOf(key) }),
        testOptions({ schemes: ["jwt"] }).options,
      ),
    );
    expect(jwtOnly.code).toBe("unsupported_scheme");
    const unselected = `${hwkOf(key)}, other=quantum;x="1"`;
    expect(
      only(await verifyAAuthLabels(await signed({ key, signatureKey: unselected }), testOptions().options)).outcome,
    ).toBe("verified");
  });
});
