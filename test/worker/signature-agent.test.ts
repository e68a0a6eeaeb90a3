import { describe, expect, it } from "vitest";
import { parseComponent } from "../../worker/rfc9421/index.ts";
import {
  agentIdentityOf,
  MalformedSignatureAgentError,
  resolveSignatureAgent,
} from "../../worker/verification/signature-agent.ts";

const DIRECTORY = "/.well-known/http-message-signatures-directory";
const keyed = (key: string) => parseComponent(`"signature-agent";key="${key}"`);
const plain = parseComponent('"signature-agent"');
const authority = parseComponent('"@authority"');

describe("Signature-Agent resolution (draft-ietf-webbotauth-httpsig-protocol, three forms)", () => {
  it("dictionary form: an origin member resolves to its well-known directory", () => {
    const r = resolveSignatureAgent('sig1="https://agent.example"', [authority, keyed("sig1")], "sig1");
    expect(r).toEqual({
      ok: true,
      agent: { keySetUrl: `https://agent.example${DIRECTORY}`, kind: "directory", declared: "https://agent.example" },
    });
  });

  it("follows the component's key, not the label (the official vectors use sig2 with member agent2)", () => {
    const r = resolveSignatureAgent('agent2="https://signature-agent.test"', [keyed("agent2")], "sig2");
    expect(r.ok && r.agent.keySetUrl).toBe(`https://signature-agent.test${DIRECTORY}`);
  });

  it("type=directory and type=jwks_uri members (PROTO-02)", () => {
    const dir = resolveSignatureAgent('a="https://agent.example/";type=directory', [keyed("a")], "a");
    expect(dir.ok && dir.agent.kind).toBe("directory");
    const jwks = resolveSignatureAgent('a="https://agent.example/keys.json?v=1";type=jwks_uri', [keyed("a")], "a");
    expect(jwks.ok && jwks.agent).toMatchObject({ keySetUrl: "https://agent.example/keys.json", kind: "jwks" });
  });

  it("newest form: a member with a path is itself the JWK Set URL", () => {
    const r = resolveSignatureAgent('sig1="https://agent.example/jwks.json"', [keyed("sig1")], "sig1");
    expect(r.ok && r.agent).toMatchObject({ keySetUrl: "https://agent.example/jwks.json", kind: "jwks" });
  });

  it("legacy string form, covered as plain signature-agent", () => {
    const r = resolveSignatureAgent('"https://chatgpt.com"', [authority, plain], "sig1");
    expect(r.ok && r.agent.keySetUrl).toBe(`https://chatgpt.com${DIRECTORY}`);
  });

  it("picks the member keyed by the label when a signature covers several", () => {
    const field = 'agent="https://agent.alice.example", browser="https://browser.example"';
    const r = resolveSignatureAgent(field, [keyed("browser"), keyed("agent")], "browser");
    expect(r.ok && r.agent.declared).toBe("https://browser.example");
    const ambiguous = resolveSignatureAgent(field, [keyed("browser"), keyed("agent")], "sig9");
    expect(ambiguous).toMatchObject({ ok: false, outcome: "invalid", code: "ambiguous_signature_agent" });
  });

  it.each([
    [undefined, [authority], "unverified", "missing_signature_agent"],
    ['sig1="https://agent.example"', [authority], "invalid", "signature_agent_not_covered"],
    ['sig1="https://agent.example"', [keyed("other")], "invalid", "signature_agent_member_missing"],
    ['sig1="https://agent.example"', [plain], "invalid", "ambiguous_signature_agent"],
    ["sig1=agent", [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1=("https://a.example")', [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1="https://a.example";type=cimd', [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1="https://a.example";v=1', [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1="https://a.example/x";type=directory', [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1="ftp://a.example"', [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1="https://user:pw@a.example"', [keyed("sig1")], "unverified", "unusable_signature_agent"],
    ['sig1="not a url"', [keyed("sig1")], "unverified", "unusable_signature_agent"],
  ])("%s covered by %j: %s (%s)", (field, components, outcome, code) => {
    expect(resolveSignatureAgent(field, components, "sig1")).toMatchObject({ ok: false, outcome, code });
  });

  it("refuses a field that is no Structured Field at all, as a request-level error", () => {
    expect(() => resolveSignatureAgent("sig1=(((", [keyed("sig1")], "sig1")).toThrow(MalformedSignatureAgentError);
    expect(() => resolveSignatureAgent("{not sf}", [plain], "sig1")).toThrow(MalformedSignatureAgentError);
  });

  it("maps configured agent URLs the same way", () => {
    expect(agentIdentityOf("https://agent.example")).toBe(`https://agent.example${DIRECTORY}`);
    expect(agentIdentityOf("https://agent.example/keys.json")).toBe("https://agent.example/keys.json");
    expect(agentIdentityOf("mailto:a@b")).toBeUndefined();
  });
});
