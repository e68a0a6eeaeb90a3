import { describe, expect, it } from "vitest";
import { createAAuthKeyCache, verifyAAuthLabels } from "../../../worker/aauth/index.ts";
import type { HttpRequestMessage } from "../../../worker/rfc9421/index.ts";
import vectorFile from "../../vectors/aauth-requests.json";

type Vector = Omit<(typeof vectorFile.vectors)[number], "headers"> & {
  headers: Record<string, string>;
  body?: string;
  documents?: Record<string, unknown>;
};
const vectors = vectorFile.vectors as unknown as Vector[];

function messageOf(vector: Vector, headers: Record<string, string> = vector.headers): HttpRequestMessage {
  return {
    kind: "request",
    method: vector.method,
    targetUri: vector.target_uri,
    headers: new Headers(headers),
    body: vector.body === undefined ? undefined : new TextEncoder().encode(vector.body),
  };
}

/** Serves the vector's documents for their https URLs; anything else is a 404. */
function fetchFor(vector: Vector, seen: string[]) {
  return async (url: string) => {
    seen.push(url);
    const document = vector.documents?.[url];
    return document === undefined
      ? new Response("not found", { status: 404 })
      : Response.json(document, { headers: { "cache-control": "max-age=600" } });
  };
}

describe("aauth.md §5 vectors (derived, RFC 9421 B.1.4 and RFC 8037 A.1 test keys)", () => {
  for (const vector of vectors) {
    it(`${vector.name} verifies byte for byte at created`, async () => {
      const seen: string[] = [];
      const cache = createAAuthKeyCache({
        fetch: fetchFor(vector, seen),
        cache: null,
        now: () => vector.created * 1000,
      });
      const result = await verifyAAuthLabels(messageOf(vector), {
        resource: "https://resource.example",
        allowTestKeys: true,
        cache,
        bodyIntegrity: true,
        now: () => vector.created,
      });
      expect(result.fieldError).toBeUndefined();
      const [verdict] = result.labels;
      expect(verdict?.message).toBeUndefined();
      expect(verdict?.outcome).toBe("verified");
      expect(verdict?.base).toBe(vector.expected_signature_base);
      expect(verdict?.algorithm).toBe(vector.expected.algorithm);
      expect(verdict?.scheme).toBe(vector.expected.scheme);
      const identity = verdict?.identity;
      expect(identity?.level).toBe(vector.expected.level);
      expect(identity?.thumbprint).toBe(vector.expected.thumbprint);
      if (vector.expected.scheme === "jwt") {
        expect(identity).toMatchObject({
          agentProvider: vector.expected.agentProvider,
          agentId: vector.expected.agentId,
          ps: vector.expected.ps,
          jti: vector.expected.jti,
          exp: vector.expected.exp,
          tokenType: "agent",
        });
        expect(seen).toEqual([
          "https://agent-provider.example/.well-known/aauth-agent.json",
          "https://agent-provider.example/.well-known/jwks.json",
        ]);
      } else {
        expect(identity?.subject).toBe(`urn:jkt:sha-256:${vector.expected.thumbprint}`);
      }
    });

    it(`${vector.name} fails outside the window and with a changed byte`, async () => {
      const cache = createAAuthKeyCache({ fetch: fetchFor(vector, []), cache: null, now: () => vector.created * 1000 });
      const late = await verifyAAuthLabels(messageOf(vector), {
        resource: "https://resource.example",
        allowTestKeys: true,
        cache,
        now: () => vector.created + 61,
      });
      expect(late.labels[0]?.code).toBe("invalid_signature");
      const early = await verifyAAuthLabels(messageOf(vector), {
        resource: "https://resource.example",
        allowTestKeys: true,
        cache,
        now: () => vector.created - 61,
      });
      expect(early.labels[0]?.code).toBe("clock_skew");
      const changed = { ...(vector as Vector), target_uri: vector.target_uri.replace("/api/", "/apj/") };
      const result = await verifyAAuthLabels(messageOf(changed, vector.headers), {
        resource: "https://resource.example",
        allowTestKeys: true,
        cache,
        now: () => vector.created,
      });
      expect(result.labels[0]?.outcome).toBe("invalid");
      expect(result.labels[0]?.code).toBe("invalid_signature");
    });
  }

  // The agent key of every vector is RFC 9421 B.1.4 (an hwk key, and V2's cnf.jwk): anyone can sign with it.
  it.each(vectors.map((v) => [v.name, v] as const))(
    "%s is refused as invalid_key without allowTestKeys (the key is a published test key)",
    async (_name, vector) => {
      const cache = createAAuthKeyCache({ fetch: fetchFor(vector, []), cache: null, now: () => vector.created * 1000 });
      const result = await verifyAAuthLabels(messageOf(vector), {
        resource: "https://resource.example",
        cache,
        bodyIntegrity: true,
        now: () => vector.created,
      });
      expect(result.labels[0]).toMatchObject({ outcome: "invalid", code: "invalid_key" });
      expect(result.labels[0]?.message).toMatch(/published RFC 9421 test key/);
    },
  );

  it("V3 without its body fails the digest check", async () => {
    const vector = vectors[2] as Vector;
    const message = { ...messageOf(vector), body: new TextEncoder().encode('{"hello":"World"}') };
    const result = await verifyAAuthLabels(message, { allowTestKeys: true, now: () => vector.created });
    expect(result.labels[0]?.code).toBe("invalid_signature");
  });
});
