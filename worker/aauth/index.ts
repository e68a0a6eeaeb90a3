/**
 * AAuth and HTTP Signature Keys verification: `Signature-Key` parsing, the five implemented key schemes, the
 * metadata/JWKS cache, per-label verification under the AAuth profile, and the response fields.
 *
 * @example
 * ```ts
 * import { verifyAAuthLabels } from "./aauth/index.ts";
 * const result = await verifyAAuthLabels(message, { resource: "https://resource.example" });
 * ```
 *
 * @module
 */
export { type AAuthFailure, fail, isSkErrorCode, SK_ERROR_CODES, type SkErrorCode } from "./error-codes.ts";
export { isAgentIdentifier, isServerIdentifier, type ServerIdentifierOptions } from "./identifiers.ts";
export {
  DEFAULT_AAUTH_ALGORITHMS,
  type ImportAAuthJwkOptions,
  type ImportedJwk,
  importAAuthJwk,
  incompleteJwk,
} from "./jwk.ts";
export { type DecodedJwt, decodeUntrustedJwt, MAX_JWT_LENGTH, type VerifyJwtOptions, verifyJwt } from "./jwt.ts";
export {
  AAUTH_MAX_CACHE_SECONDS,
  AAUTH_MAX_ENTRIES,
  AAUTH_MAX_JWKS_KEYS,
  AAUTH_NEGATIVE_TTL_SECONDS,
  AAUTH_REFETCH_FLOOR_SECONDS,
  type AAuthKeyCache,
  type AAuthKeyCacheOptions,
  createAAuthKeyCache,
  type MetadataDocument,
} from "./key-cache.ts";
export { buildResourceMetadata, type ResourceMetadataOptions } from "./resource-metadata.ts";
export {
  type AAuthRequirement,
  aauthRequirementHeader,
  acceptSignatureAlgHeader,
  acceptSignatureSchemeHeader,
  type SignatureErrorResponseOptions,
  signatureErrorHeader,
  signatureErrorProblemType,
  signatureErrorResponse,
} from "./responses.ts";
export type {
  AAuthIdentity,
  AAuthTokenType,
  IdentityLevel,
  ResolvedSignatureKey,
  SchemeContext,
  SchemeResolver,
} from "./scheme.ts";
export { resolveHwk } from "./scheme-hwk.ts";
export { jktUri, keyIdsOf, resolveJktJwt } from "./scheme-jkt-jwt.ts";
export { resolveJwks, resolveJwksUri } from "./scheme-jwks.ts";
export {
  AAUTH_TOKEN_TYPES,
  DEFAULT_MAX_AGENT_TOKEN_LIFETIME,
  MAX_PERSON_TOKEN_LIFETIME,
  resolveAAuthJwt,
} from "./scheme-jwt.ts";
export {
  IMPLEMENTED_SCHEMES,
  type ImplementedScheme,
  parseSignatureKey,
  SIGNATURE_KEY_SCHEMES,
  type SignatureKeyField,
  type SignatureKeyMember,
  type SignatureKeyParam,
  selectSignatureKey,
  stringParam,
} from "./signature-key.ts";
export {
  AAUTH_REQUIRED_COMPONENTS,
  type AAuthLabelVerdict,
  type AAuthVerification,
  DEFAULT_SIGNATURE_WINDOW,
  toLabelVerdict,
  type VerifyAAuthOptions,
  verifyAAuthLabels,
} from "./verify-aauth.ts";
