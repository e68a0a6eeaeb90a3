import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import keyFile from "../vectors/rfc9421-keys.json";
import requestFile from "../vectors/web-bot-auth-requests.json";
import { runCli } from "./run-cli.ts";

let dir: string;
let jwks: string;
let policy: string;

const byName = (name: string) => {
  const v = requestFile.vectors.find((x) => x.name === name);
  if (!v) throw new Error(name);
  return v;
};

/** A vector as the raw HTTP/1.1 request it describes. */
function rawRequest(name: string, change: (text: string) => string = (t) => t): string {
  const v = byName(name);
  const url = new URL(v.target_uri);
  const headers = Object.entries(v.headers).map(([n, value]) => `${n}: ${value}\r\n`);
  return change(`${v.method} ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n${headers.join("")}\r\n`);
}

async function requestFileOf(name: string, change?: (text: string) => string): Promise<string> {
  const path = join(dir, `${name}-${Math.random().toString(36).slice(2)}.http`);
  await writeFile(path, rawRequest(name, change), "latin1");
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "signet-explain-"));
  const { d: _d, kid: _kid, ...ed25519 } = keyFile.keys["test-key-ed25519"].jwk;
  jwks = join(dir, "keys.json");
  await writeFile(jwks, JSON.stringify({ keys: [ed25519] }));
  policy = join(dir, "policy.json");
  await writeFile(
    policy,
    JSON.stringify({
      rules: [{ path: "/path/*", require: "verified-agent" }],
      pinned: { "https://signature-agent.test": [ed25519] },
      allowTestKeys: true,
      freshness: { maxValidity: 4_000_000_000 },
    }),
  );
});

afterAll(() => rm(dir, { recursive: true, force: true }));

const CREATED = "1735689600";

describe("signet explain (subprocess)", () => {
  it("explains a good legacy-form request: every check passes, the base, the key and the decision", async () => {
    const file = await requestFileOf("cloudflare-v1-3-ed25519-sig2");
    const result = await runCli(["explain", "--jwks", jwks, "--allow-test-keys", "--now", CREATED, file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("sig2: verified");
    expect(result.stdout).toContain(
      "agent:      https://signature-agent.test/.well-known/http-message-signatures-directory",
    );
    expect(result.stdout).toContain('"signature-agent": "https://signature-agent.test"');
    expect(result.stdout).not.toContain("FAIL");
    expect(result.stdout).toMatch(
      /decision on GET \/path\/to\/resource .*: forward as https:\/\/signature-agent\.test/,
    );
  });

  it("--json gives one result per label and the decision, for a dictionary-form request judged by a policy", async () => {
    const file = await requestFileOf("cloudflare-v2-3-ed25519-sig2");
    const result = await runCli(["explain", "--policy", policy, "--json", file]);
    expect(result.code, result.stderr).toBe(0);
    const [label, decision, ...rest] = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rest).toEqual([]);
    expect(label).toMatchObject({
      label: "sig2",
      outcome: "verified",
      reason: null,
      agent: "https://signature-agent.test/.well-known/http-message-signatures-directory",
      keyid: "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
      base: byName("cloudflare-v2-3-ed25519-sig2").expected_signature_base,
    });
    expect(decision).toMatchObject({ decision: true, action: "forward", rule: "/path/*", outcome: "verified" });
  });

  it("decides on the canonical path as the edge does: a spelling under another rule in upper case is path_ambiguous", async () => {
    const file = await requestFileOf("cloudflare-v2-3-ed25519-sig2", (text) => text.replace(" /path", " /PATH"));
    const result = await runCli(["explain", "--policy", policy, "--json", file]);
    expect(result.code).toBe(1);
    const decision = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}");
    expect(decision).toMatchObject({ decision: true, action: "refuse", status: 400, reason: "path_ambiguous" });
  });

  it("explains a tampered request: the signature check fails with invalid_signature, and exit 1", async () => {
    const file = await requestFileOf("cloudflare-v1-3-ed25519-sig2", (t) =>
      t.replace("Host: example.com", "Host: example.org"),
    );
    const text = await runCli(["explain", "--jwks", jwks, "--allow-test-keys", "--now", CREATED, file]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("sig2: invalid (invalid_signature)");
    expect(text.stdout).toContain("FAIL the signature verifies: invalid_signature");
    expect(text.stdout).toContain('"@authority": example.org');
    const json = await runCli(["explain", "--jwks", jwks, "--allow-test-keys", "--now", CREATED, "--json", file]);
    const [label, decision] = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(label).toMatchObject({ outcome: "invalid", reason: "invalid_signature" });
    expect(label.checks.find((c: { check: string }) => c.check === "signature")).toEqual({
      check: "signature",
      status: "fail",
      code: "invalid_signature",
    });
    expect(decision).toMatchObject({ action: "refuse", status: 401, reason: "signature_invalid" });
  });

  it("explains an expired request judged at the real time, still showing the base it rebuilt", async () => {
    const file = await requestFileOf("cloudflare-v1-3-ed25519-sig2");
    const text = await runCli(["explain", "--jwks", jwks, "--allow-test-keys", file]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("FAIL within its validity window and the policy's limits: signature_expired");
    expect(text.stdout).toContain("signature base (rebuilt; the pipeline stopped before it):");
    const json = await runCli(["explain", "--jwks", jwks, "--allow-test-keys", "--json", file]);
    const [label, decision] = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(label).toMatchObject({ outcome: "invalid", reason: "signature_expired" });
    expect(label.base).toContain('"@authority": example.com');
    expect(decision).toMatchObject({ action: "refuse", reason: "signature_expired" });
  });

  it("reads standard input, and says unverified when the request names no agent", async () => {
    const result = await runCli(["explain", "--jwks", jwks, "--allow-test-keys", "--now", CREATED, "--json"], {
      stdin: rawRequest("cloudflare-v1-2-ed25519-sig1"),
    });
    expect(result.code).toBe(1);
    const [label] = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(label).toMatchObject({ outcome: "unverified", reason: "missing_signature_agent" });
  });

  it("refuses the test keys unless told to allow them", async () => {
    const file = await requestFileOf("cloudflare-v1-3-ed25519-sig2");
    const result = await runCli(["explain", "--jwks", jwks, "--now", CREATED, "--json", file]);
    const [label] = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(label).toMatchObject({ outcome: "unverified", reason: "test_key_refused", reason_source: "discovery" });
  });

  it("understands Signature-Key: the derived AAuth hwk vector V1 is a verified pseudonym (with --allow-test-keys)", async () => {
    const v1 = [
      "GET /api/data HTTP/1.1",
      "Host: resource.example",
      'Signature-Key: sig=hwk;kty="OKP";crv="Ed25519";x="JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs";alg="Ed25519"',
      'Signature-Input: sig=("@method" "@authority" "@path" "signature-key");created=1732210000',
      "Signature: sig=:u6KBEWdPc9EVHskXlQBQeX0KSVyiPPnxA1lSEnrcSANE2M9s3Fk9NidqCyEbl9Taz7LkcpVmgRdhqCAK4GtaDA==:",
      "",
      "",
    ].join("\r\n");
    // V1 is signed with the RFC 9421 B.1.4 test key: refused as invalid_key unless test keys are allowed.
    const refused = await runCli(["explain", "--now", "1732210000", "--json"], { stdin: v1 });
    expect(JSON.parse(refused.stdout.split("\n")[0] ?? "{}")).toMatchObject({
      outcome: "invalid",
      reason: "invalid_key",
    });
    const result = await runCli(["explain", "--now", "1732210000", "--json", "--allow-test-keys"], { stdin: v1 });
    const [label, decision] = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(label).toMatchObject({
      label: "sig",
      profile: "aauth",
      outcome: "verified",
      level: "pseudonymous",
      agent: "urn:jkt:sha-256:poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U",
    });
    // The default explain policy wants an identified agent: a pseudonym is refused with 403.
    expect(decision).toMatchObject({ action: "refuse", status: 403, reason: "agent_not_allowed" });
    const late = await runCli(["explain", "--now", "1732210100", "--json", "--allow-test-keys"], { stdin: v1 });
    expect(JSON.parse(late.stdout.split("\n")[0] ?? "{}")).toMatchObject({
      outcome: "invalid",
      reason: "invalid_signature",
    });
  });

  it.each([
    [["explain", "--now", "yesterday"], /--now must be Unix seconds/],
    [["explain", "a", "b"], /at most one FILE/],
    [["explain", "--scheme", "ftp"], /--scheme/],
    [["explain", "missing.http"], /cannot read missing.http/],
  ])("bad arguments %j give one line and a non-zero exit", async (args, pattern) => {
    const result = await runCli(args as string[], { cwd: dir });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(pattern as RegExp);
  });
});
