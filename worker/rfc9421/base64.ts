/**
 * Base64 (RFC 4648 §4, for Structured Field Byte Sequences) and base64url (§5, for JWKs and nonces) without
 * depending on `Buffer`, so the core runs the same in workerd, Node and browsers.
 *
 * @module
 */

/**
 * Standard base64 with padding.
 *
 * @example
 * ```ts
 * encodeBase64(new TextEncoder().encode("hi")); // "aGk="
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes standard base64 (padding optional).
 *
 * @throws {TypeError} on characters outside the base64 alphabet
 *
 * @example
 * ```ts
 * decodeBase64("aGk="); // Uint8Array [104, 105]
 * ```
 */
export function decodeBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new TypeError("not base64");
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * base64url without padding.
 *
 * @example
 * ```ts
 * encodeBase64Url(new Uint8Array([251, 255])); // "-_8"
 * ```
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes base64url; padding is refused, as JOSE (RFC 7515 §2) requires.
 *
 * @throws {TypeError} on characters outside the base64url alphabet
 *
 * @example
 * ```ts
 * decodeBase64Url("-_8"); // Uint8Array [251, 255]
 * ```
 */
export function decodeBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new TypeError("not base64url");
  return decodeBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
}
