/**
 * The passthrough baseline for the HTTP benchmark: a trivial Worker that hands every request to the same
 * built-in echo origin Signet forwards to with `ORIGIN_URL = "demo:echo"` (`worker/forward.ts`), with no
 * verification, no attestation and no Hono routing of its own.
 *
 * @module
 */
import { demoOrigin } from "../worker/demo-origin.ts";

export default {
  fetch(request: Request): Response | Promise<Response> {
    return demoOrigin.fetch(request);
  },
};
