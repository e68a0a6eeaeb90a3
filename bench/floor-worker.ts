/**
 * The floor Worker of the HTTP benchmark: the least a gateway can do for one of the benchmark's signed requests
 * and still verify it and attest it. Per request it reads the signature headers, builds the signature base of the
 * one request shape the benchmark sends (`"@method" "@authority" "@path" "signature-agent";key="sig1"`) by string
 * concatenation, does exactly one Ed25519 WebCrypto verify and one Ed25519 WebCrypto sign, and hands the request
 * with the attestation header to the same built-in echo origin Signet forwards to. Nothing else: no Structured
 * Field parsing, no policy, no freshness or key lookup, no replay check, no Hono routing of its own.
 *
 * A request of any other shape, or whose signature does not verify, gets a bare 401, so a load run that sends the
 * wrong requests shows up as non-2xx responses instead of flattering the floor.
 *
 * Bindings: `FLOOR_AGENT_JWK`, the agent's public Ed25519 JWK (JSON text).
 *
 * @example
 * ```ts
 * // bench/run.ts bundles it and starts it in Miniflare with the agent's public key:
 * await startWorker({ name: "floor", script, bindings: { FLOOR_AGENT_JWK: JSON.stringify(agent.publicJwk) } });
 * ```
 *
 * @module
 */
import { demoOrigin } from "../worker/demo-origin.ts";

/** The component list every benchmark request signs, as it appears in `Signature-Input`. */
const COMPONENTS = '("@method" "@authority" "@path" "signature-agent";key="sig1")';
const LABEL = "sig1=";

interface FloorEnv {
  readonly FLOOR_AGENT_JWK: string;
}

interface Keys {
  readonly verify: CryptoKey;
  readonly sign: CryptoKey;
}

let keys: Promise<Keys> | undefined;

/** The agent's key and a fresh signing key, imported or made once per isolate. */
function keysFor(env: FloorEnv): Promise<Keys> {
  keys ??= (async () => {
    const { x } = JSON.parse(env.FLOOR_AGENT_JWK) as JsonWebKey;
    const verify = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, { name: "Ed25519" }, false, [
      "verify",
    ]);
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
    return { verify, sign: pair.privateKey };
  })();
  return keys;
}

const encoder = new TextEncoder();
const refuse = () => new Response(null, { status: 401 });

/** Decodes standard base64 into bytes; `undefined` if it is not base64. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

/** Standard base64 of bytes. */
function toBase64(bytes: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const input = request.headers.get("signature-input");
    const signature = request.headers.get("signature");
    const agent = request.headers.get("signature-agent");
    if (input === null || signature === null || agent === null) return refuse();
    if (!input.startsWith(LABEL + COMPONENTS) || !signature.startsWith(`${LABEL}:`) || !agent.startsWith(LABEL)) {
      return refuse();
    }
    const params = input.slice(LABEL.length);
    const bytes = fromBase64(signature.slice(LABEL.length + 1, -1));
    if (bytes === undefined) return refuse();
    const url = new URL(request.url);
    const base =
      `"@method": ${request.method}\n"@authority": ${url.host}\n"@path": ${url.pathname}\n` +
      `"signature-agent";key="sig1": ${agent.slice(LABEL.length)}\n"@signature-params": ${params}`;
    const { verify, sign } = await keysFor(env);
    if (!(await crypto.subtle.verify("Ed25519", verify, bytes, encoder.encode(base)))) return refuse();

    // The attestation: one signature over what is forwarded, in a header the origin could check.
    const created = Math.floor(Date.now() / 1000);
    const attested =
      `"@method": ${request.method}\n"@authority": ${url.host}\n"@path": ${url.pathname}\n` +
      `"verified-agent": ${agent.slice(LABEL.length)}\n"@signature-params": ("@method" "@authority" "@path" ` +
      `"verified-agent");created=${created};keyid="floor"`;
    const attestation = await crypto.subtle.sign("Ed25519", sign, encoder.encode(attested));
    const headers = new Headers(request.headers);
    headers.set("verified-agent", agent.slice(LABEL.length));
    headers.set("x-floor-attestation", `:${toBase64(attestation)}:`);
    return demoOrigin.fetch(new Request(request.url, { method: request.method, headers }));
  },
};
