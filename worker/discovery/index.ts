/**
 * Key discovery: from an agent's key set URL and a `keyid` to an imported verification key, through the egress
 * guard, one bounded fetch, JWK Set vetting, optional directory response signatures, and a two-tier cache.
 *
 * @example
 * ```ts
 * import { createKeyDirectoryCache } from "./discovery/index.ts";
 * const keys = createKeyDirectoryCache();
 * const lookup = await keys.findKey(agent, keyid);
 * ```
 *
 * @module
 */
export {
  applyDirectoryBinding,
  DEFAULT_DIRECTORY_CLOCK_SKEW_SECONDS,
  DIRECTORY_SIGNATURE_TAG,
  type DirectoryBinding,
  type DirectoryResponseInput,
  type DirectorySignatureCheck,
  verifyDirectorySignatures,
} from "./directory-signature.ts";
export { checkEgress, type EgressDecision, type EgressOptions, MAX_KEY_SET_URL_LENGTH } from "./egress-guard.ts";
export {
  type CachingHeaders,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_KEY_SET_BYTES,
  DIRECTORY_MEDIA_TYPE,
  type FetchedKeySet,
  type FetchFunction,
  type FetchKeySetOptions,
  type FetchKeySetResult,
  fetchKeySet,
  JWK_SET_MEDIA_TYPE,
  KEY_SET_ACCEPT,
  type KeySetFetchFailure,
} from "./fetch-key-set.ts";
export {
  DEFAULT_MAX_TTL_SECONDS,
  DEFAULT_MIN_TTL_SECONDS,
  DEFAULT_TTL_SECONDS,
  type Freshness,
  type FreshnessOptions,
  keySetFreshness,
} from "./freshness.ts";
export {
  createKeyDirectoryCache,
  DEFAULT_FAILURE_BACKOFF_SECONDS,
  DEFAULT_MAX_KEY_SETS,
  DEFAULT_NEGATIVE_TTL_SECONDS,
  DEFAULT_UNKNOWN_KEY_COOLDOWN_SECONDS,
  type KeyDirectoryCache,
  type KeyDirectoryCacheOptions,
} from "./key-directory-cache.ts";
export {
  createKeyLookup,
  DEFAULT_MAX_AGE_SECONDS,
  DEFAULT_MAX_DOCUMENTS,
  DEFAULT_REFETCH_COOLDOWN_SECONDS,
  type DocumentSpec,
  type DocumentState,
  discoveryMessage,
  type KeyLookupLayer,
  type KeyLookupOptions,
  type Loaded,
  type LoadReason,
  type RawDocument,
  type Vetted,
} from "./key-lookup.ts";
export {
  type AgentReference,
  DISCOVERY_ERROR_CODES,
  type DiscoveryErrorCode,
  type KeyLookup,
  type KeySource,
} from "./key-source.ts";
export {
  DEFAULT_MAX_KEYS,
  findInKeySet,
  jwkTime,
  type KeySet,
  type KeySetClock,
  type KeySetKey,
  type KeySetMatch,
  makeKeySet,
  type ParseKeySetOptions,
  type ParseKeySetResult,
  parseKeySet,
  type RefusedKey,
  RFC9421_TEST_KEY_THUMBPRINTS,
} from "./parse-key-set.ts";
export {
  type BudgetLimits,
  type BudgetRefusal,
  createRequestBudget,
  DEFAULT_KEY_WORK_DEADLINE_MS,
  DEFAULT_MAX_FETCHES_PER_REQUEST,
  DEFAULT_MAX_LABELS_PER_REQUEST,
  type RequestBudget,
  unlimitedBudget,
} from "./request-budget.ts";
