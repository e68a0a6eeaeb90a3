/**
 * The site's own AAuth resource metadata, served at `/.well-known/aauth-resource.json` (AAuth "Resource
 * Metadata"): what an agent needs to sign acceptably before its first request.
 *
 * @module
 */

/**
 * Options of {@link buildResourceMetadata}.
 *
 * @example
 * ```ts
 * const options: ResourceMetadataOptions = { resource: "https://resource.example", accessMode: "agent-token" };
 * ```
 */
export interface ResourceMetadataOptions {
  /** The resource identifier: the document's `issuer`. */
  readonly resource: string;
  /** `access_mode`: `agent-token` (the default when absent), `person-token`, `session-token`, `auth-token`. */
  readonly accessMode?: "agent-token" | "person-token" | "session-token" | "auth-token" | undefined;
  /** `signature_window` in seconds; omitted when it is the default 60. */
  readonly signatureWindow?: number | undefined;
  readonly additionalSignatureComponents?: readonly string[] | undefined;
  readonly acceptSignatureAlgs?: readonly string[] | undefined;
  readonly name?: string | undefined;
  readonly scopeDescriptions?: Readonly<Record<string, string>> | undefined;
  /** Only when the site issues resource tokens or signs requests. */
  readonly jwksUri?: string | undefined;
}

/**
 * The metadata document. Members whose option is absent are left out.
 *
 * @example
 * ```ts
 * const doc = buildResourceMetadata({ resource: "https://resource.example", accessMode: "agent-token" });
 * // { issuer: "https://resource.example", access_mode: "agent-token" }
 * return Response.json(doc);
 * ```
 */
export function buildResourceMetadata(options: ResourceMetadataOptions): Record<string, unknown> {
  const doc: Record<string, unknown> = { issuer: options.resource };
  if (options.jwksUri !== undefined) doc.jwks_uri = options.jwksUri;
  if (options.accessMode !== undefined) doc.access_mode = options.accessMode;
  if (options.name !== undefined) doc.name = options.name;
  if (options.signatureWindow !== undefined && options.signatureWindow !== 60) {
    doc.signature_window = options.signatureWindow;
  }
  if (options.additionalSignatureComponents !== undefined && options.additionalSignatureComponents.length > 0) {
    doc.additional_signature_components = [...options.additionalSignatureComponents];
  }
  if (options.acceptSignatureAlgs !== undefined) doc.accept_signature_algs = [...options.acceptSignatureAlgs];
  if (options.scopeDescriptions !== undefined) doc.scope_descriptions = { ...options.scopeDescriptions };
  return doc;
}
