/**
 * Entry point of the Signet Worker: verify, decide, attest, forward.
 *
 * @module
 */
import { Hono } from "hono";
import { type Dictionary, serializeDictionary, Token } from "structured-headers";
import { buildResourceMetadata } from "./aauth/index.ts";
import { checkMiddleware } from "./check/check-endpoint.ts";
import { configurationFor, type WorkerVariables } from "./configuration.ts";
import type { Env } from "./env.ts";
import { sendToOrigin, toOrigin } from "./forward.ts";
import { BodyUnreadableError } from "./identity/attestation.ts";
import { policyView } from "./observability/console-page.ts";
import { consoleSettings, handleConsole, underConsole } from "./observability/console-route.ts";
import { observeDecision } from "./observability/observe.ts";
import { problemResponse, type Rejection, rejectionStatus } from "./problem-response.ts";
import { isSignatureError } from "./rfc9421/index.ts";

type App = { Bindings: Env; Variables: WorkerVariables };

/**
 * The Signet Worker. Each request is verified against the policy in `SIGNET_POLICY`; refusals are RFC 9457
 * problem responses; accepted requests lose any client-sent identity headers, gain `Verified-Agent` for a
 * verified agent, are attested with Signet's key and forwarded to the origin `ORIGIN_URL` selects.
 *
 * @example
 * ```ts
 * import app from "./index.ts";
 * const response = await app.fetch(new Request("https://signet.example/hello"), { ORIGIN_URL: "demo:echo" });
 * ```
 */
const app = new Hono<App>();

// The configuration, awaited once per request; then the site-owner console: answered here, never forwarded (its
// path is reserved even while it is off).
app.use("*", async (c, next) => {
  const configuration = await configurationFor(c.env);
  c.set("signetConfiguration", configuration);
  const settings = consoleSettings(c.env);
  if (!underConsole(new URL(c.req.url).pathname, settings.path)) return next();
  return handleConsole(c.req.raw, {
    settings,
    metrics: c.env.SIGNET_METRICS,
    policy: "error" in configuration ? undefined : policyView(configuration.policy),
    now: Date.now(),
  });
});

// The decision log and metrics: one observation per request, once its answer is known.
app.use("*", async (c, next) => {
  const start = Date.now();
  await next();
  const configuration = c.get("signetConfiguration");
  const policy = "error" in configuration ? undefined : configuration.policy;
  let waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  try {
    const ctx = c.executionCtx;
    waitUntil = (promise) => ctx.waitUntil(promise);
  } catch {
    // No execution context (tests calling app.fetch directly): batches wait for the console to flush them.
  }
  observeDecision(
    {
      request: c.req.raw,
      start,
      end: Date.now(),
      response: c.res,
      mode: policy?.mode ?? "enforce",
      rule: c.get("signetRule"),
      path: c.get("signetPath"),
      verification: c.get("signetVerification"),
      agent: c.get("signetAgent"),
      rejection: c.get("signetRejection"),
      monitor: c.get("signetMonitor"),
    },
    {
      policy,
      keys: "error" in configuration ? undefined : configuration.keys,
      metrics: c.env.SIGNET_METRICS,
      analytics: c.env.SIGNET_ANALYTICS,
      waitUntil,
    },
  );
});

// Signet's own document, from the policy: what AAuth agents need to know about this site.
app.get("/.well-known/aauth-resource.json", async (c, next) => {
  const configuration = c.get("signetConfiguration");
  if ("error" in configuration || configuration.policy.aauth.resource === undefined) return next();
  const { aauth } = configuration.policy;
  return c.json(
    buildResourceMetadata({
      resource: aauth.resource as string,
      signatureWindow: aauth.signatureWindow,
      additionalSignatureComponents: aauth.additionalComponents,
      acceptSignatureAlgs: aauth.algorithms,
      name: aauth.name,
      scopeDescriptions: aauth.scopeDescriptions,
    }),
    200,
    { "cache-control": "max-age=300" },
  );
});

app.use(
  "*",
  checkMiddleware<App>((c) => Promise.resolve(c.get("signetConfiguration"))),
);

app.use("*", async (c, next) => {
  const configuration = c.get("signetConfiguration");
  if ("error" in configuration) {
    console.error(`signet: refusing all requests: ${configuration.error}`);
    const rejection: Rejection = {
      reason: "misconfigured",
      detail: "Signet's configuration is not usable; see the Worker's logs",
    };
    c.set("signetRejection", rejection);
    return problemResponse(rejection);
  }
  return configuration.verify(c, next);
});

app.all("*", async (c) => {
  const configuration = c.get("signetConfiguration");
  if ("error" in configuration)
    return problemResponse({ reason: "misconfigured", detail: "Signet's configuration is not usable" });
  const { attester, originUrl } = configuration;
  const monitor = c.get("signetMonitor");
  // The origin gets the canonical path the rule was matched on (absent only for a monitored unroutable path).
  const toSend = toOrigin(c.req.raw, originUrl, c.get("signetPath") ?? undefined);
  const identity = c.get("signetAgent") ?? undefined;
  const monitored = monitor === null ? undefined : monitorValue(monitor);
  // The verifier parsed the client's Signature-Input and Signature once; the attester takes the labels it found.
  const fields = c.get("signetVerification")?.signatureFields;
  let outgoing: Request;
  try {
    if (fields !== undefined && "error" in fields) {
      // The client's own Signature-Input/Signature cannot be read as a whole, so no signature can stand beside
      // them. Such a request only gets this far where nothing required a signature (a `none` route, or monitor
      // mode) and no identity was verified: its unusable signature fields go, and it is forwarded anonymous and
      // attested. (An identity here would be a bug upstream: it is refused, never forwarded anonymous.)
      if (identity !== undefined) throw new Error("an identity beside unreadable signature fields");
      outgoing = await attester.attest(withoutSignatureFields(toSend), undefined, monitored, []);
    } else {
      outgoing = await attester.attest(toSend, identity, monitored, fields?.labels);
    }
  } catch (err) {
    if (err instanceof BodyUnreadableError) {
      return problemResponse({ reason: "body_unreadable", detail: "the request body could not be read" });
    }
    if (identity !== undefined) {
      // Never forwarded anonymous: a verified identity that cannot be attached refuses the request.
      console.error(`signet: identity not attachable: ${(err as Error).message}`);
      return problemResponse({
        reason: "identity_unattachable",
        detail: "the verified identity cannot be attached to the forwarded request",
      });
    }
    if (!isSignatureError(err)) throw err;
    // Only without the verifier's parse (a monitored request with no route): the attester's own parse refused
    // the client's fields, so they go, as above.
    outgoing = await attester.attest(withoutSignatureFields(toSend), undefined, monitored, []);
  }
  try {
    return await sendToOrigin(outgoing, originUrl);
  } catch (err) {
    console.error(`signet: origin unreachable: ${(err as Error).message}`);
    const rejection: Rejection = { reason: "origin_unreachable", detail: "the origin could not be reached" };
    c.set("signetRejection", rejection);
    return problemResponse(rejection);
  }
});

/** The request without the client's `Signature-Input` and `Signature`. */
function withoutSignatureFields(request: Request): Request {
  const headers = new Headers(request.headers);
  headers.delete("signature-input");
  headers.delete("signature");
  return new Request(request, { headers });
}

/** The `Signet-Monitor` value: what enforce mode would have answered. */
function monitorValue(rejection: Rejection): string {
  const members: Dictionary = new Map();
  members.set("reason", [new Token(rejection.reason), new Map()]);
  members.set("status", [rejectionStatus(rejection), new Map()]);
  return serializeDictionary(members);
}

export default app;
export { SignetMetrics } from "./observability/metrics-store.ts";
export { ReplayStore } from "./replay/replay-store.ts";
