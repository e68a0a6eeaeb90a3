/**
 * The published RFC 9421 Appendix B.1 test keys: anyone can sign with them, so no verifier should trust them as
 * anyone's key, and no signer should use them as its own.
 *
 * @module
 */

/**
 * RFC 7638 thumbprints of the five published RFC 9421 Appendix B.1 test keys (B.1.1 RSA, B.1.2 RSA-PSS,
 * B.1.3 ECDSA P-256, B.1.4 Ed25519, B.1.5 the shared HMAC secret). Anyone can sign with them.
 *
 * @example
 * ```ts
 * RFC9421_TEST_KEY_THUMBPRINTS.has("poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"); // true
 * ```
 */
export const RFC9421_TEST_KEY_THUMBPRINTS: ReadonlySet<string> = new Set([
  "BHj8s0GPnMEQtkaULIM-PLgEhLBbuGUQ1vMxmBWZzEo",
  "oD0HwocPBSfpNy5W3bpJeyFGY_IQ_YpqxSjQ3Yd-CLA",
  "ydQXMtvbsOsZyFir-Y7A8t7fKEM1gbKPvyFkdpu4fvI",
  "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
  "CB3RFzX-1pAtHPl7fOKnQgQV1gnrFFXGXoObwmcm4rY",
]);
