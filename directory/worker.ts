/**
 * A standalone Worker that serves an agent's signed key directory. Deploy it on the agent's own domain with
 * `directory/wrangler.toml`; the private keys come from the `DIRECTORY_KEYS` secret.
 *
 * @module
 */
import { Hono } from "hono";
import type { DirectoryKey } from "./build-directory.ts";
import { directoryRoute } from "./directory-route.ts";

/** Bindings of the directory Worker. */
export interface DirectoryEnv {
  /**
   * A JSON array: private JWKs, or `{ "jwk": {...}, "exp": 1767225600 }` entries for keys being rotated out.
   * Set it with `npx wrangler secret put DIRECTORY_KEYS -c directory/wrangler.toml`.
   */
  readonly DIRECTORY_KEYS: string;
}

/**
 * Reads `DIRECTORY_KEYS`.
 *
 * @throws {TypeError} when the secret is missing or not a JSON array of keys
 *
 * @example
 * ```ts
 * directoryKeysFromEnv({ DIRECTORY_KEYS: '[{"kty":"OKP","crv":"Ed25519","x":"...","d":"..."}]' });
 * ```
 */
export function directoryKeysFromEnv(env: DirectoryEnv): DirectoryKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(env.DIRECTORY_KEYS ?? "");
  } catch {
    throw new TypeError("DIRECTORY_KEYS must be a JSON array of JWKs");
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new TypeError("DIRECTORY_KEYS must be a non-empty array");
  return parsed.map((entry) => {
    if (typeof entry !== "object" || entry === null) throw new TypeError("DIRECTORY_KEYS entries must be objects");
    return "jwk" in entry ? (entry as DirectoryKey) : { jwk: entry };
  });
}

const app = new Hono<{ Bindings: DirectoryEnv }>();
app.route("/", directoryRoute({ keys: (env) => directoryKeysFromEnv(env as DirectoryEnv) }));
app.notFound((c) => c.text("Not found", 404));
app.onError((err, c) => {
  console.error("directory: cannot serve keys:", err.message);
  return c.text("Key directory unavailable", 503);
});

export default app;
