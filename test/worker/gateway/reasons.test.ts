/**
 * Every reason code the edge can give, each triggered through the whole Worker and answered with its status, an
 * `application/problem+json` body (`type`, `title`, `reason`, and `signature_error` / `discovery_error` where they
 * apply) and, on 401s, the `Accept-Signature` challenge. The last test fails when a reason is added to
 * `worker/reasons.ts` without a test here.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type GeneratedKey, generateAgentKey } from "../../../agent/index.ts";
import {
  problemType,
  REJECTION_REASON_CODES,
  REJECTION_REASONS,
  type RejectionReason,
} from "../../../worker/reasons.ts";
import { parseAcceptSignature } from "../../../worker/rfc9421/index.ts";
import { mint, NOW, newKey, publishIssuer, RESOURCE, signed as signedAAuth } from "../aauth/helpers.ts";
import {
  attestationKey,
  directory,
  echoOf,
  expectProblem,
  gatewayEnv,
  identityOf,
  keySetUrl,
  type Problem,
  send,
  signed,
} from "./gateway.ts";

const AGENT = "https://reasons-agent.example";
const MEMBER = "https://reasons-member.example";
const BANNED = "https://reasons-banned.example";

let agentKey: GeneratedKey;
let memberKey: GeneratedKey;
let bannedKey: GeneratedKey;
let env: ReturnType<typeof gatewayEnv>;

const triggered = new Set<RejectionReason>();

/** {@link expectProblem}, recording the reason as covered. */
async function refused(response: Response, reason: RejectionReason, members: Partial<Problem> = {}) {
  const body = await expectProblem(response, reason, members);
  triggered.add(reason);
  return body;
}

beforeAll(async () => {
  [agentKey, memberKey, bannedKey] = await Promise.all([generateAgentKey(), generateAgentKey(), generateAgentKey()]);
  env = gatewayEnv({
    aauth: { resource: RESOURCE },
    rules: [
      { path: "/docs/*", require: "signature", aauth: "auth-token", scope: ["data.read"] },
      { path: "/api/*", require: "none", bearer: "require-proof", credentialHeaders: ["x-api-key"] },
      { path: "/agents/*", require: "verified-agent" },
      { path: "/members/*", require: "verified-agent", allow: [MEMBER] },
    ],
    deny: [BANNED],
    pinned: { [AGENT]: [agentKey.publicJwk], [MEMBER]: [memberKey.publicJwk], [BANNED]: [bannedKey.publicJwk] },
    discovery: { unsafeAllowLoopback: true },
  });
});

describe("400: the request's signature fields are unusable", () => {
  it("malformed_signature_fields: Signature-Input that is not a Structured Field", async () => {
    const response = await send(
      new Request("https://signet.example/agents/a", {
        headers: { "signature-input": "sig1=(((", signature: "sig1=:AAAA:" },
      }),
      env,
    );
    const body = await refused(response, "malformed_signature_fields", { instance: "/agents/a" });
    expect(body.signature_error).toBe("malformed_signature_input");
  });

  it("on a route that requires nothing, unusable signature fields are dropped and the request passes anonymous", async () => {
    const response = await send(
      new Request("https://signet.example/open", {
        headers: { "signature-input": "sig1=(((", signature: "sig1=:AAAA:" },
      }),
      env,
    );
    const echo = await echoOf(response);
    expect(echo.headers["verified-agent"]).toBeUndefined();
    expect(echo.headers["signature-input"]).toMatch(/^signet=\(/);
  });

  it("malformed_signature_agent: a covered Signature-Agent that is not a Structured Field", async () => {
    const request = await signed("https://signet.example/agents/a", { key: agentKey.privateJwk, agent: AGENT });
    request.headers.set("signature-agent", 'sig1="https://reasons-agent.example');
    const body = await refused(await send(request, env), "malformed_signature_agent");
    expect(body.signature_error).toBe("malformed_signature_agent");
  });
});

describe("400: the request path has no single meaning", () => {
  it("path_ambiguous: an escaped slash, refused before any signature is looked at, without echoing the path", async () => {
    const body = await refused(await send(new Request("https://signet.example/agents%2Fa"), env), "path_ambiguous");
    expect(body.instance).toBeUndefined();
    expect(body.detail).not.toContain("agents");
  });

  it("path_ambiguous: a spelling that falls under another rule in another letter case", async () => {
    const request = await signed("https://signet.example/AGENTS/a", { key: agentKey.privateJwk, agent: AGENT });
    await refused(await send(request, env), "path_ambiguous");
  });
});

describe("400: the request would be re-targeted at the origin", () => {
  it("target_override: X-Original-URL, refused before any signature is looked at, without echoing its value", async () => {
    const request = new Request("https://signet.example/open", { headers: { "x-original-url": "/agents/secret" } });
    const body = await refused(await send(request, env), "target_override", { instance: "/open" });
    expect(body.detail).not.toContain("/agents/secret");
  });
});

describe("401: the request is not signed as the route requires", () => {
  it("signature_required: no signature on a verified-agent route, with a challenge that says what to sign", async () => {
    const response = await send(new Request("https://signet.example/agents/a"), env);
    const challenge = response.headers.get("accept-signature") ?? "";
    const body = await refused(response, "signature_required");
    expect(body.signature_error).toBeUndefined();
    const [wanted] = parseAcceptSignature(challenge);
    expect(wanted?.components).toEqual(['"@method"', '"@authority"', '"@path"', '"signature-agent";key="sig1"']);
    expect(wanted?.params).toMatchObject({ tag: "web-bot-auth" });
  });

  it("signature_invalid: a signature over another path", async () => {
    const request = await signed("https://signet.example/agents/a", { key: agentKey.privateJwk, agent: AGENT });
    const moved = new Request("https://signet.example/agents/b", request);
    const body = await refused(await send(moved, env), "signature_invalid", {
      signature_error: "invalid_signature",
      label: "sig1",
    });
    expect(body.discovery_error).toBeUndefined();
  });

  it("signature_expired: expires long past", async () => {
    const created = Math.floor(Date.now() / 1000) - 7200;
    const request = await signed("https://signet.example/agents/a", {
      key: agentKey.privateJwk,
      agent: AGENT,
      created,
      validity: 60,
    });
    await refused(await send(request, env), "signature_expired", { signature_error: "signature_expired" });
  });

  it("signature_from_future: created an hour ahead (skew 60 s)", async () => {
    const created = Math.floor(Date.now() / 1000) + 3600;
    const request = await signed("https://signet.example/agents/a", {
      key: agentKey.privateJwk,
      agent: AGENT,
      created,
    });
    await refused(await send(request, env), "signature_from_future", { signature_error: "created_in_future" });
  });

  it("agent_unverified: the agent's key directory answers 404 (discovery_error)", async () => {
    const { url } = keySetUrl("nope");
    const request = await signed("https://signet.example/agents/a", { key: agentKey.privateJwk, agent: url });
    const body = await refused(await send(request, env), "agent_unverified", { discovery_error: "directory_rejected" });
    expect(body.signature_error).toBeUndefined();
    // Signet's own words: the directory's status is not repeated.
    expect(body.detail).toContain("was not served as a usable key set");
    // (The URL's random token may itself contain "404": judge the words after it.)
    expect(body.detail.replace(url, "")).not.toContain("404");
  });

  it("agent_unverified: no Signature-Agent at all (signature_error)", async () => {
    const request = await signed("https://signet.example/agents/a", { key: agentKey.privateJwk });
    const body = await refused(await send(request, env), "agent_unverified", {
      signature_error: "missing_signature_agent",
    });
    expect(body.discovery_error).toBeUndefined();
  });
});

describe("403: the agent verified and the lists refuse it", () => {
  it("agent_not_allowed: a verified agent outside the route's allow list", async () => {
    const request = await signed("https://signet.example/members/a", { key: agentKey.privateJwk, agent: AGENT });
    const body = await refused(await send(request, env), "agent_not_allowed", { agent: identityOf(AGENT) });
    expect(blamesNoSignature(body)).toBe(true);
  });

  it("agent_denied: a verified agent on the deny list", async () => {
    const request = await signed("https://signet.example/agents/a", { key: bannedKey.privateJwk, agent: BANNED });
    const body = await refused(await send(request, env), "agent_denied", { agent: identityOf(BANNED), label: "sig1" });
    expect(blamesNoSignature(body)).toBe(true);
  });
});

/** 403 bodies name the agent and carry no signature or discovery code: the signature was fine. */
function blamesNoSignature(body: Problem): boolean {
  return body.signature_error === undefined && body.discovery_error === undefined;
}

describe("502 and 503: Signet or the origin cannot serve", () => {
  let logged: ReturnType<typeof vi.spyOn>;
  beforeAll(() => {
    logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
  });
  afterAll(() => {
    logged.mockRestore();
  });

  it("misconfigured: SIGNET_POLICY that is not JSON refuses everything, even what no rule covers", async () => {
    const broken = { ...env, SIGNET_POLICY: "{" };
    const body = await refused(await send(new Request("https://signet.example/open"), broken), "misconfigured");
    expect(body.detail).not.toContain("SIGNET_POLICY"); // the cause is logged, not told to clients
    expect(logged).toHaveBeenCalledWith(expect.stringContaining("SIGNET_POLICY"));
  });

  it("misconfigured: a real origin without SIGNET_ATTESTATION_KEY", async () => {
    const unkeyed = { ...env, ORIGIN_URL: "https://origin.example" };
    await refused(await send(new Request("https://signet.example/open"), unkeyed), "misconfigured");
    expect(logged).toHaveBeenCalledWith(expect.stringContaining("SIGNET_ATTESTATION_KEY"));
  });

  it("origin_unreachable: ORIGIN_URL on a local port where nothing listens", async () => {
    const { secret } = await attestationKey();
    const closed = { ...env, ORIGIN_URL: directory.closedUrl, SIGNET_ATTESTATION_KEY: secret };
    const request = await signed("https://signet.example/agents/a", { key: agentKey.privateJwk, agent: AGENT });
    const body = await refused(await send(request, closed), "origin_unreachable");
    expect(body.detail).toBe("the origin could not be reached");
  });
});

describe("replay protection and bearer credentials", () => {
  it("signature_replayed: the same signed request a second time", async () => {
    const request = await signed("https://signet.example/agents/replay", { key: agentKey.privateJwk, agent: AGENT });
    const first = await send(request.clone(), env);
    expect(first.status).toBe(200);
    await refused(await send(request, env), "signature_replayed", { agent: identityOf(AGENT), label: "sig1" });
  });

  it("bearer_without_proof: an Authorization header no verified signature covers", async () => {
    const request = await signed("https://signet.example/api/orders", {
      key: agentKey.privateJwk,
      agent: AGENT,
      headers: { authorization: "Bearer secret-token" },
      coverAuthorization: false,
    });
    const body = await refused(await send(request, env), "bearer_without_proof");
    expect(body.detail).toContain("authorization");
    const [wanted] = parseAcceptSignature((await send(request, env)).headers.get("accept-signature") ?? "");
    expect(wanted?.components).toContain('"authorization"');
  });

  it("bearer_without_proof: an API key header named by the rule, on an unsigned request", async () => {
    const request = new Request("https://signet.example/api/orders", { headers: { "x-api-key": "k-123" } });
    const response = await send(request, env);
    const [wanted] = parseAcceptSignature(response.headers.get("accept-signature") ?? "");
    expect(wanted?.components).toContain('"x-api-key"');
    await refused(response, "bearer_without_proof");
  });

  it("replay_store_unavailable: the replay store throws, and the route fails closed", async () => {
    const failing = {
      ...env,
      REPLAY_STORE: {
        getByName: () => ({
          claimBatch: () => Promise.reject(new Error("overloaded")),
        }),
      },
    };
    const request = await signed("https://signet.example/agents/store", { key: agentKey.privateJwk, agent: AGENT });
    await refused(await send(request, failing), "replay_store_unavailable");
  });
});

describe("403 insufficient_scope (AAuth)", () => {
  it("insufficient_scope: an auth token that does not grant the route's scope", async () => {
    const agent = await newKey();
    const ps = await publishIssuer("aauth-person.json");
    const claims = {
      iss: ps.iss,
      dwk: "aauth-person.json",
      aud: RESOURCE,
      sub: "p-1",
      jti: crypto.randomUUID(),
      cnf: { jwk: agent.publicJwk },
      iat: NOW - 5,
      exp: NOW + 600,
      scope: "profile",
    };
    const token = await mint(ps.key, { typ: "aa-auth+jwt", kid: "k1" }, claims);
    const message = await signedAAuth({
      key: agent,
      signatureKey: `sig=jwt;jwt="${token}"`,
      url: "https://signet.example/docs/1",
    });
    const request = new Request(message.targetUri, { headers: message.headers as Headers });
    await refused(await send(request, env), "insufficient_scope");
  });
});

describe("401 insufficient_coverage", () => {
  it("insufficient_coverage: a POST with a body whose signature does not cover content-digest", async () => {
    // Signed as a GET (no body, no digest), sent as a POST with a body: unsafe methods need the digest covered.
    const bare = await signed("https://signet.example/agents/post", {
      key: agentKey.privateJwk,
      agent: AGENT,
      method: "POST",
    });
    const post = new Request(bare.url, { method: "POST", headers: bare.headers, body: "{}" });
    const response = await send(post, env);
    expect(response.headers.get("accept-signature")).toContain('"content-digest"');
    await refused(response, "insufficient_coverage");
  });
});

describe("400 identity_unattachable", () => {
  it("identity_unattachable: an identity with no faithful Verified-Agent form (a lone surrogate in the person sub)", async () => {
    const agent = await newKey();
    const ps = await publishIssuer("aauth-person.json");
    const claims = {
      iss: ps.iss,
      dwk: "aauth-person.json",
      aud: RESOURCE,
      sub: "p-\ud800",
      jti: crypto.randomUUID(),
      cnf: { jwk: agent.publicJwk },
      iat: NOW - 5,
      exp: NOW + 600,
      scope: "data.read",
    };
    const token = await mint(ps.key, { typ: "aa-auth+jwt", kid: "k1" }, claims);
    const message = await signedAAuth({
      key: agent,
      signatureKey: `sig=jwt;jwt="${token}"`,
      url: "https://signet.example/docs/2",
    });
    const request = new Request(message.targetUri, { headers: message.headers as Headers });
    await refused(await send(request, env), "identity_unattachable");
  });
});

describe("400 body_unreadable", () => {
  it("body_unreadable: a body stream that fails while Signet reads it to digest", async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 0) controller.enqueue(new TextEncoder().encode("first part"));
        else controller.error(new Error("client went away"));
      },
    });
    const request = new Request("https://signet.example/api/upload", { method: "POST", body });
    const problem = await refused(await send(request, env), "body_unreadable");
    expect(problem.detail).not.toContain("client went away");
  });
});

describe("the site-owner console (worker/observability/console-route.ts)", () => {
  /** A console refusal: status, problem body, no Accept-Signature (signing would not help). */
  async function consoleRefused(response: Response, reason: RejectionReason) {
    expect(response.status).toBe(REJECTION_REASONS[reason].status);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(response.headers.get("accept-signature")).toBeNull();
    expect(await response.json()).toMatchObject({
      type: problemType(reason),
      reason,
      title: REJECTION_REASONS[reason].title,
    });
    triggered.add(reason);
  }
  const secret = "reasons-console-secret-0123";

  it("console_disabled: the console path while no SIGNET_CONSOLE_SECRET is set", async () => {
    await consoleRefused(await send(new Request("https://signet.example/.signet/console"), env), "console_disabled");
  });

  it("console_unauthorized: the console's JSON without the secret, with a Bearer challenge", async () => {
    const response = await send(new Request("https://signet.example/.signet/console/api/summary"), {
      ...env,
      SIGNET_CONSOLE_SECRET: secret,
    });
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="signet-console"');
    await consoleRefused(response, "console_unauthorized");
  });

  it("console_not_found: a console page that does not exist", async () => {
    const response = await send(
      new Request("https://signet.example/.signet/console/nope", { headers: { authorization: `Bearer ${secret}` } }),
      { ...env, SIGNET_CONSOLE_SECRET: secret },
    );
    await consoleRefused(response, "console_not_found");
  });
});

describe("check endpoint refusals", () => {
  const checkEnv = () =>
    gatewayEnv({
      rules: [{ path: "/agents/*", require: "verified-agent" }],
      check: { enabled: true, ratePerMinute: 1 },
    });
  const probe = (headers: Record<string, string>) =>
    new Request("https://signet.example/.signet/check", { headers: { "cf-connecting-ip": "192.0.2.200", ...headers } });

  it("check_disabled: the check path while the policy does not enable it", async () => {
    await refused(await send(probe({ "signet-check-target": "/agents/a" }), env), "check_disabled");
  });

  it("check_target_invalid: a check without Signet-Check-Target", async () => {
    await refused(await send(probe({ "cf-connecting-ip": "192.0.2.201" }), checkEnv()), "check_target_invalid");
  });

  it("check_rate_limited: a client's second check in a minute where the policy allows one", async () => {
    const limited = checkEnv();
    const headers = { "cf-connecting-ip": "192.0.2.202", "signet-check-target": "/agents/a" };
    const first = await send(probe(headers), limited);
    await first.body?.cancel();
    let response = await send(probe(headers), limited);
    if (response.status !== 429) {
      // The minute turned between the two: the next one is the second of the new minute.
      await response.body?.cancel();
      response = await send(probe(headers), limited);
    }
    await refused(response, "check_rate_limited");
  });
});

describe("coverage", () => {
  it("every reason code of worker/reasons.ts was triggered above", () => {
    expect([...triggered].sort()).toEqual([...REJECTION_REASON_CODES].sort());
  });
});
