/**
 * The AAuth signing profile (draft-hardt-oauth-aauth-protocol, HTTP Message Signatures profile) with HTTP
 * Signature Keys (draft-hardt-httpbis-signature-key-09): `Signature-Key` carries the key (`hwk`) or an agent
 * token that binds it (`jwt`); the signature covers `@method`, `@authority`, `@path` and `signature-key` (plus
 * `content-type` and `content-digest` with a body, and `authorization` when present) with `created` only.
 *
 * @module
 */
import { type BareItem, type Dictionary, serializeDictionary, Token } from "structured-headers";
import { algorithmSpec } from "../worker/rfc9421/index.ts";
import type { ProfileContext, ProfilePlan, SigningProfile } from "./signing-profile.ts";

/** Options of {@link aauthProfile}. */
export type AAuthProfileOptions =
  | {
      /** A pseudonymous inline key (`hwk`): the verifier learns only the key. */
      readonly scheme: "hwk";
    }
  | {
      /** An issuer-signed token (`jwt`), e.g. an AAuth agent token (`aa-agent+jwt`) whose `cnf.jwk` is this key. */
      readonly scheme: "jwt";
      /** The compact JWT. */
      readonly token: string;
    };

/** The JWK members `hwk` carries, per key type (SK-09 §3.4). */
const HWK_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  OKP: ["kty", "crv", "x"],
  EC: ["kty", "crv", "x", "y"],
  RSA: ["kty", "n", "e"],
};

/**
 * The AAuth profile for `signRequest` and `createSignedFetch`.
 *
 * @throws {TypeError} for a `jwt` scheme without a compact JWT
 *
 * @example
 * ```ts
 * const signedFetch = createSignedFetch({ key: privateJwk, profile: aauthProfile({ scheme: "jwt", token: agentToken }) });
 * ```
 */
export function aauthProfile(options: AAuthProfileOptions): SigningProfile {
  if (options.scheme === "jwt" && !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(options.token ?? "")) {
    throw new TypeError("aauthProfile: the jwt scheme needs a compact JWT");
  }
  if (options.scheme !== "hwk" && options.scheme !== "jwt") {
    throw new TypeError(`aauthProfile: scheme must be "hwk" or "jwt"`);
  }
  return {
    name: "aauth",
    plan(context: ProfileContext): ProfilePlan {
      const components = ['"@method"', '"@authority"', '"@path"'];
      if (context.hasBody) components.push('"content-type"', '"content-digest"');
      if (context.request.headers.has("authorization")) components.push('"authorization"');
      components.push('"signature-key"');
      return {
        headers: [["Signature-Key", signatureKey(options, context)]],
        components,
        params: { created: context.now },
      };
    },
  };
}

function signatureKey(options: AAuthProfileOptions, context: ProfileContext): string {
  const params = new Map<string, BareItem>();
  if (options.scheme === "jwt") {
    params.set("jwt", options.token);
  } else {
    const jwk = context.publicJwk as Record<string, unknown>;
    for (const name of HWK_MEMBERS[String(jwk.kty)] ?? []) params.set(name, String(jwk[name]));
    // The fully specified JOSE name of the key's algorithm (SK-09 §3.3), never EdDSA.
    params.set("alg", algorithmSpec(context.algorithm).jwsAlg);
  }
  const members: Dictionary = new Map([[context.label, [new Token(options.scheme), params]]]);
  return serializeDictionary(members);
}
