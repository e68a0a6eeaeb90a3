/**
 * Signet for agent builders: keys, a signing `fetch`, and the profiles that say what to sign.
 *
 * @module
 */

export { PRIVATE_JWK_MEMBERS, publicJwkOf } from "../worker/rfc9421/index.ts";
export { type AAuthProfileOptions, aauthProfile } from "./aauth-profile.ts";
export {
  AGENT_KEY_ALGORITHMS,
  type AgentKeyAlgorithm,
  type GeneratedKey,
  generateAgentKey,
} from "./generate-key.ts";
export { type AgentKey, loadAgentKey, type SignRequestOptions, signRequest } from "./sign-request.ts";
export { createSignedFetch, DEFAULT_MAX_REDIRECTS, type SignedFetchOptions } from "./signed-fetch.ts";
export type { ProfileContext, ProfilePlan, SigningProfile } from "./signing-profile.ts";
export { randomNonce, type WebBotAuthProfileOptions, webBotAuthProfile } from "./web-bot-auth-profile.ts";
