/**
 * The signature base (RFC 9421 §2.5): one line per covered component, then `@signature-params`.
 *
 * @module
 */
import { type ComponentIdentifier, componentKey, serializeComponent } from "./component.ts";
import { type ComponentContext, componentValue } from "./component-value.ts";
import { SignatureError } from "./errors.ts";
import type { HttpMessage } from "./message.ts";

/**
 * Builds the signature base for the given components and `@signature-params` value. No trailing newline.
 *
 * @param signatureParams the serialised inner list, exactly as it stands in `Signature-Input` for the label
 * @throws {SignatureError} any component failure of RFC 9421 §2.5 (see {@link componentValue}), or
 *   `duplicate_component`
 *
 * @example
 * ```ts
 * const base = signatureBase(message, input.components, input.signatureParams);
 * ```
 */
export function signatureBase(
  message: HttpMessage,
  components: readonly ComponentIdentifier[],
  signatureParams: string,
  context?: ComponentContext,
): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const id of components) {
    const name = serializeComponent(id);
    const key = componentKey(id);
    if (seen.has(key)) throw new SignatureError("duplicate_component", `${name} is covered twice`);
    seen.add(key);
    lines.push(`${name}: ${componentValue(message, id, context)}`);
  }
  lines.push(`"@signature-params": ${signatureParams}`);
  return lines.join("\n");
}
