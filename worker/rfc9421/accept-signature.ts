/**
 * `Accept-Signature` (RFC 9421 §5.1): how a verifier tells a client what to sign.
 *
 * @module
 */
import { type BareItem, isInnerList, serializeInnerList } from "structured-headers";
import { componentFromItem, componentKey, parseComponent, serializeComponent } from "./component.ts";
import { SignatureError } from "./errors.ts";
import { parseWholeDictionary } from "./structured-field.ts";

/**
 * One requested signature. In `params`, `created: true` and `expires: true` ask the signer to include those
 * parameters; `keyid`, `alg`, `nonce` and `tag` ask for those exact values.
 */
export interface SignatureRequest {
  readonly label: string;
  /** Component identifiers as text, e.g. `"@authority"` or `"signature-agent";key="sig1"`. */
  readonly components: readonly string[];
  readonly params?: Readonly<Record<string, string | number | boolean | undefined>> | undefined;
}

/**
 * Serialises signature requests as an `Accept-Signature` field value.
 *
 * @throws {SignatureError} `invalid_signing_input` or a component error for a request that cannot be expressed
 *
 * @example
 * ```ts
 * buildAcceptSignature([{ label: "sig1", components: ["@authority", "authorization"], params: { created: true, tag: "web-bot-auth" } }]);
 * // 'sig1=("@authority" "authorization");created;tag="web-bot-auth"'
 * ```
 */
export function buildAcceptSignature(requests: readonly SignatureRequest[]): string {
  const labels = new Set<string>();
  return requests
    .map((request) => {
      if (!/^[a-z*][a-z0-9_\-.*]*$/.test(request.label) || labels.has(request.label)) {
        throw new SignatureError("invalid_signing_input", `"${request.label}" is not a valid, unique label`);
      }
      labels.add(request.label);
      const items = request.components.map((text) => {
        const id = parseComponent(text);
        return [id.name, new Map(id.params)] as [string, Map<string, BareItem>];
      });
      const params = new Map<string, BareItem>();
      for (const [name, value] of Object.entries(request.params ?? {}))
        if (value !== undefined) params.set(name, value);
      return `${request.label}=${serializeInnerList([items, params])}`;
    })
    .join(", ");
}

/**
 * Parses an `Accept-Signature` field value, with the same strictness as `Signature-Input`.
 *
 * @throws {SignatureError} `malformed_accept_signature`, `duplicate_label`, `duplicate_parameter`,
 *   `duplicate_component` or a component error
 *
 * @example
 * ```ts
 * const [request] = parseAcceptSignature(response.headers.get("accept-signature") ?? "");
 * ```
 */
export function parseAcceptSignature(value: string): SignatureRequest[] {
  const { members } = parseWholeDictionary(value, "malformed_accept_signature", "Accept-Signature");
  const requests: SignatureRequest[] = [];
  for (const [label, member] of members) {
    if (!isInnerList(member)) {
      throw new SignatureError("malformed_accept_signature", `Accept-Signature "${label}" must be an Inner List`, {
        label,
      });
    }
    const seen = new Set<string>();
    const components = member[0].map((item) => {
      const id = componentFromItem(item);
      const key = componentKey(id);
      if (seen.has(key)) {
        throw new SignatureError("duplicate_component", `Accept-Signature "${label}" asks for ${key} twice`, { label });
      }
      seen.add(key);
      return serializeComponent(id);
    });
    const params: Record<string, string | number | boolean> = {};
    for (const [name, v] of member[1]) {
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
        throw new SignatureError("malformed_accept_signature", `Accept-Signature "${label}" ;${name} has a bad type`, {
          label,
        });
      }
      params[name] = v;
    }
    requests.push({ label, components, params });
  }
  return requests;
}
