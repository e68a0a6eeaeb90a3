/**
 * Signing profiles: what a protocol (Web Bot Auth now, AAuth later) adds to a request before it is signed, and
 * which components and parameters its signature carries.
 *
 * @module
 */
import type { Jwk, SignatureAlgorithm, SignatureParameterInput } from "../worker/rfc9421/index.ts";

/** What a profile decides for one request. */
export interface ProfilePlan {
  /** Headers to set on the request before signing (e.g. `Signature-Agent`). */
  readonly headers: ReadonlyArray<readonly [name: string, value: string]>;
  /** Covered components, in order. */
  readonly components: readonly string[];
  /** Signature parameters, in serialisation order. */
  readonly params: SignatureParameterInput;
}

/** What a profile is told about the request it plans for. */
export interface ProfileContext {
  readonly request: Request;
  /** The signature label. */
  readonly label: string;
  /** The key's RFC 7638 thumbprint. */
  readonly thumbprint: string;
  /** The key's RFC 9421 algorithm. */
  readonly algorithm: SignatureAlgorithm;
  /** The public half of the signing key (for profiles that carry the key, like AAuth's `hwk`). */
  readonly publicJwk: Jwk;
  /** Current time, Unix seconds. */
  readonly now: number;
  /** Whether the request has a body (Content-Digest is added and covered when it has). */
  readonly hasBody: boolean;
}

/** A signing profile. */
export interface SigningProfile {
  readonly name: string;
  plan(context: ProfileContext): ProfilePlan;
}
