/**
 * Signet's RFC 9421 HTTP Message Signatures core: parsing, signature bases, signing and verification,
 * Content-Digest, Accept-Signature and JWK thumbprints. WebCrypto and `structured-headers` only, so it runs
 * unchanged in workerd, Node 22+ and browsers.
 *
 * @module
 */
export { buildAcceptSignature, parseAcceptSignature, type SignatureRequest } from "./accept-signature.ts";
export {
  type AlgorithmSpec,
  algorithmFromJws,
  algorithmSpec,
  type ImportParams,
  isSignatureAlgorithm,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  type SignParams,
} from "./algorithm.ts";
export { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from "./base64.ts";
export {
  assertApplicable,
  type ComponentIdentifier,
  componentFromItem,
  componentKey,
  DERIVED_COMPONENTS,
  type DerivedComponentName,
  type MessageKind,
  parseComponent,
  serializeComponent,
} from "./component.ts";
export {
  type ComponentContext,
  componentValue,
  KNOWN_STRUCTURED_FIELDS,
  type StructuredFieldType,
} from "./component-value.ts";
export { createContentDigest, DIGEST_ALGORITHMS, type DigestAlgorithm, verifyContentDigest } from "./content-digest.ts";
export { isSignatureError, SIGNATURE_ERROR_CODES, SignatureError, type SignatureErrorCode } from "./errors.ts";
export { importJoseVerificationKey, isJoseAlgorithm, JOSE_ALGORITHMS, type JoseAlgorithm } from "./jose-algorithm.ts";
export {
  algorithmForJwk,
  checkEd25519PublicKey,
  type ImportKeyOptions,
  importSigningKey,
  importVerificationKey,
  type Jwk,
  MIN_HMAC_BYTES,
  MIN_RSA_BITS,
  PRIVATE_JWK_MEMBERS,
  privateMembersOf,
  publicJwkOf,
  type SigningKey,
  type VerificationKey,
} from "./key.ts";
export {
  combinedField,
  type FieldLines,
  fieldLineValue,
  fieldValues,
  type HttpMessage,
  type HttpRequestMessage,
  type HttpResponseMessage,
  type MessageBody,
  requestFromFetch,
  responseFromFetch,
} from "./message.ts";
export { encodedQueryPairs, formUrlEncode } from "./query-param.ts";
export { type ParseHttpMessageOptions, parseHttpMessage } from "./raw-http.ts";
export { type ReadUpTo, readUpTo } from "./read-up-to.ts";
export {
  addSignature,
  type SignatureParameterInput,
  type SignedMessage,
  type SignOptions,
  signMessage,
} from "./sign.ts";
export { signatureBase } from "./signature-base.ts";
export {
  type ParsedSignature,
  parseSignatureInput,
  parseSignatures,
  type SignatureEntry,
  type SignatureInput,
  type SignatureParameters,
} from "./signature-fields.ts";
export {
  assertMemberCount,
  countDictionaryMembers,
  MAX_DICTIONARY_MEMBERS,
  parseStrictDictionary,
  parseWholeDictionary,
  type StrictDictionary,
} from "./structured-field.ts";
export { parseTargetUri, type TargetUriParts } from "./target-uri.ts";
export { isRfc9421TestKey, RFC9421_TEST_KEY_THUMBPRINTS } from "./test-keys.ts";
export { jwkThumbprint, jwkThumbprintUri } from "./thumbprint.ts";
export {
  type KeyCandidate,
  type KeyResolution,
  type KeyResolver,
  precheckSignature,
  type SignatureOutcome,
  type VerifiedSignature,
  type VerifyOptions,
  verifyMessage,
  verifySignatures,
} from "./verify.ts";
