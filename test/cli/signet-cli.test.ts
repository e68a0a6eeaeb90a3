import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type HttpRequestMessage,
  type HttpResponseMessage,
  importVerificationKey,
  type Jwk,
  parseHttpMessage,
  verifyMessage,
  verifySignatures,
} from "../../worker/rfc9421/index.ts";
import { runCli } from "./run-cli.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "signet-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A failed run: exactly one line on stderr, starting "signet: ", and no stack trace. */
function expectOneLineError(result: { code: number | null; stderr: string }, code: number, pattern: RegExp) {
  expect(result.code).toBe(code);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^signet: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

async function keygen(
  name: string,
  extra: string[] = [],
): Promise<{ file: string; publicJwk: Jwk; thumbprint: string }> {
  const file = join(dir, name);
  const result = await runCli(["keygen", "--out", file, "--json", ...extra]);
  expect(result.code, result.stderr).toBe(0);
  const printed = JSON.parse(result.stdout) as { thumbprint: string; publicJwk: Jwk };
  return { file, ...printed };
}

describe("signet keygen", () => {
  it("writes the private JWK with mode 0600 and prints the public JWK and its thumbprint", async () => {
    const file = join(dir, "agent.jwk");
    const result = await runCli(["keygen", "--out", file]);
    expect(result.code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const privateJwk = JSON.parse(await readFile(file, "utf8")) as Jwk;
    expect(privateJwk).toMatchObject({ kty: "OKP", crv: "Ed25519" });
    expect(privateJwk.d).toBeTypeOf("string");
    expect(result.stdout).toContain(`keyid (RFC 7638 thumbprint): ${privateJwk.kid}`);
    expect(result.stdout).not.toContain(privateJwk.d as string);
  });

  it("refuses to overwrite without --force, and keeps mode 0600 with --force", async () => {
    const file = join(dir, "exists.jwk");
    await writeFile(file, "{}", { mode: 0o644 });
    expectOneLineError(await runCli(["keygen", "--out", file]), 1, /exists; use --force/);
    expect(await readFile(file, "utf8")).toBe("{}");
    expect((await runCli(["keygen", "--out", file, "--force"])).code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ["ecdsa-p256-sha256", { kty: "EC", crv: "P-256", alg: "ES256" }],
    ["rsa-pss-sha512", { kty: "RSA", alg: "PS512" }],
  ])("makes %s keys on request", async (alg, shape) => {
    const key = await keygen(`${alg}.jwk`, ["--alg", alg]);
    expect(key.publicJwk).toMatchObject({ ...shape, kid: key.thumbprint });
    expect(key.publicJwk).not.toHaveProperty("d");
  });

  it("rejects an unknown algorithm as a usage error", async () => {
    expectOneLineError(await runCli(["keygen", "--alg", "hmac-sha256", "--out", join(dir, "x.jwk")]), 2, /--alg/);
  });
});

describe("signet sign", () => {
  it("--dry-run prints a signed request that Signet's core verifies under the Web Bot Auth profile", async () => {
    const agent = await keygen("dry.jwk");
    const result = await runCli([
      "sign",
      "--key",
      agent.file,
      "--agent",
      "https://agent.example",
      "-X",
      "PUT",
      "-H",
      "Authorization: Bearer token-123",
      "-H",
      "Content-Type: application/json",
      "-d",
      '{"item":42}',
      "--dry-run",
      "https://shop.example/cart/7?coupon=x",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const message = parseHttpMessage(result.stdout) as HttpRequestMessage;
    expect(message.method).toBe("PUT");
    const key = await importVerificationKey(agent.publicJwk);
    const verified = await verifyMessage(message, {
      keys: ({ keyid }) => (keyid === agent.thumbprint ? key : undefined),
      tag: "web-bot-auth",
      requiredParameters: ["created", "expires", "keyid", "nonce"],
      requiredComponents: [
        ["@authority", "@target-uri"],
        "@method",
        "@path",
        '"signature-agent";key="sig1"',
        "authorization",
        "content-digest",
      ],
      maxValidity: 300,
    });
    expect(verified.params.nonce).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(result.stdout).toContain('Signature-Agent: sig1="https://agent.example"');
  });

  it("--legacy-agent sends the string form, covered as plain signature-agent", async () => {
    const agent = await keygen("legacy.jwk");
    const result = await runCli([
      "sign",
      "--key",
      agent.file,
      "--agent",
      "https://agent.example",
      "--legacy-agent",
      "--dry-run",
      "https://shop.example/",
    ]);
    expect(result.stdout).toContain('Signature-Agent: "https://agent.example"');
    expect(result.stdout).toMatch(/Signature-Input: sig1=\([^)]*"signature-agent"[ )]/);
  });

  describe("sending to a real local server", () => {
    let server: Server;
    let url: string;
    const received: Array<{ request: IncomingMessage; body: string }> = [];

    beforeAll(async () => {
      server = createServer((request, response) => {
        let body = "";
        request.setEncoding("utf8").on("data", (c) => {
          body += c;
        });
        request.on("end", () => {
          received.push({ request, body });
          if (request.url === "/hang") return; // never answers
          if (request.url === "/refuse") {
            response
              .writeHead(401, { "content-type": "application/problem+json" })
              .end('{"type":"urn:signet:problem:signature_required","reason":"signature_required"}');
            return;
          }
          response.writeHead(201, { "x-origin": "local" }).end("created");
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("signs, sends, and prints the status, headers and body", async () => {
      const agent = await keygen("send.jwk");
      const result = await runCli([
        "sign",
        "--key",
        agent.file,
        "--agent",
        "https://agent.example",
        "-d",
        "hello",
        `${url}/items`,
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^HTTP\/1\.1 201 Created\n/);
      expect(result.stdout).toContain("x-origin: local");
      expect(result.stdout.trimEnd().endsWith("created")).toBe(true);

      const last = received.at(-1);
      if (!last) throw new Error("the server saw no request");
      const headers = Object.entries(last.request.headers).map(([n, v]) => [n, String(v)] as [string, string]);
      const message: HttpRequestMessage = {
        kind: "request",
        method: last.request.method as string,
        targetUri: `${url}${last.request.url}`,
        headers,
        body: new TextEncoder().encode(last.body),
      };
      const key = await importVerificationKey(agent.publicJwk);
      await expect(verifyMessage(message, { keys: () => key, tag: "web-bot-auth" })).resolves.toMatchObject({
        keyid: agent.thumbprint,
      });
    });

    it("--fail exits 1 on a status of 400 or above, naming the problem's reason, and 0 below", async () => {
      const agent = await keygen("fail.jwk");
      const args = ["sign", "--key", agent.file, "--agent", "https://agent.example"];
      const refused = await runCli([...args, "--fail", `${url}/refuse`]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/^HTTP\/1\.1 401 /);
      expect(refused.stderr).toMatch(/^signet: .* answered 401 \(signature_required\)\n$/);
      // Without --fail a refusal is still a response: exit 0, like curl.
      expect((await runCli([...args, `${url}/refuse`])).code).toBe(0);
      expect((await runCli([...args, "-f", `${url}/items`])).code).toBe(0);
    });

    it("--timeout gives up on a server that never answers, with one line and exit 1", async () => {
      const agent = await keygen("timeout.jwk");
      const result = await runCli([
        "sign",
        "--key",
        agent.file,
        "--agent",
        "https://agent.example",
        "--timeout",
        "1",
        `${url}/hang`,
      ]);
      expectOneLineError(result, 1, /timed out after 1 s/);
    }, 20_000);

    it("--json prints the response, and with --dry-run the signed request, as one JSON object", async () => {
      const agent = await keygen("json.jwk");
      const args = ["sign", "--key", agent.file, "--agent", "https://agent.example", "--json"];
      const sent = await runCli([...args, `${url}/items`]);
      expect(sent.code, sent.stderr).toBe(0);
      expect(JSON.parse(sent.stdout)).toMatchObject({ status: 201, headers: { "x-origin": "local" }, body: "created" });
      const dry = await runCli([...args, "--dry-run", "-d", "x", `${url}/items`]);
      const request = JSON.parse(dry.stdout) as {
        method: string;
        url: string;
        headers: Record<string, string>;
        body: string;
      };
      expect(request).toMatchObject({ method: "POST", url: `${url}/items`, body: "x" });
      expect(request.headers["signature-input"]).toMatch(/tag="web-bot-auth"/);
    });

    it("reports a refused connection as one line and exit 1", async () => {
      const agent = await keygen("refused.jwk");
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const result = await runCli([
        "sign",
        "--key",
        agent.file,
        "--agent",
        "https://agent.example",
        `http://127.0.0.1:${port}/`,
      ]);
      expectOneLineError(result, 1, /request to .* failed/);
    });
  });

  it.each([
    [["sign", "--agent", "https://a.example", "https://b.example/"], 2, /--key FILE is required/],
    [["sign", "--key", "k.jwk", "https://b.example/"], 2, /--agent URL is required/],
    [["sign", "--key", "k.jwk", "--agent", "https://a.example"], 2, /exactly one URL/],
    [["sign", "--key", "k.jwk", "--agent", "http://a.example", "https://b.example/"], 2, /https URL/],
    [["sign", "--key", "k.jwk", "--agent", "https://a.example", "--nope", "https://b.example/"], 2, /Unknown option/],
    [["sign", "--key", "missing.jwk", "--agent", "https://a.example", "https://b.example/"], 1, /cannot read key file/],
    [
      ["sign", "--key", "k.jwk", "--agent", "https://a.example", "-H", "bad header", "https://b.example/"],
      2,
      /Name: value/,
    ],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    [["directory"], 2, /did you mean "signet directory build"/],
    [
      ["directory", "build", "--key", "k.jwk", "--authority", "http://a.example"],
      2,
      /host\[:port\] or an https origin/,
    ],
    [
      ["directory", "build", "--key", "k.jwk", "--authority", "https://a.example/path"],
      2,
      /host\[:port\] or an https origin/,
    ],
    [["directory", "build", "--key", "k.jwk", "--authority", "a.example/path"], 2, /host\[:port\] or an https origin/],
    [
      ["sign", "--key", "k.jwk", "--agent", "https://a.example", "--timeout", "soon", "https://b.example/"],
      2,
      /--timeout must be a whole number/,
    ],
  ])("bad arguments %j exit %i with one line", async (args, code, pattern) => {
    expectOneLineError(await runCli(args as string[], { cwd: dir }), code as number, pattern as RegExp);
  });

  it("reports a key that cannot sign with its reason code", async () => {
    const file = join(dir, "public-only.jwk");
    const agent = await keygen("for-public.jwk");
    await writeFile(file, JSON.stringify(agent.publicJwk));
    const result = await runCli([
      "sign",
      "--key",
      file,
      "--agent",
      "https://a.example",
      "--dry-run",
      "https://b.example/",
    ]);
    expectOneLineError(result, 1, /invalid_key: a signing key needs its private part/);
  });
});

describe("signet directory build", () => {
  it("writes the directory file and prints headers whose signatures verify against it", async () => {
    const current = await keygen("dir-current.jwk");
    const old = await keygen("dir-old.jwk");
    const out = join(dir, "site");
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    const result = await runCli([
      "directory",
      "build",
      "--key",
      current.file,
      "--key",
      `${old.file}@${expiry}`,
      "--authority",
      "agent.example",
      "--out",
      out,
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    const { file, headers, validUntil } = JSON.parse(result.stdout) as {
      file: string;
      headers: Array<[string, string]>;
      validUntil: number;
    };
    // The old key's exp bounds the signatures: none vouches for it after its exp.
    expect(validUntil).toBe(expiry);
    expect(headers.find(([n]) => n === "Signature-Input")?.[1]).toMatch(
      new RegExp(`expires=${expiry};.*expires=${expiry};`),
    );
    expect(file).toBe(join(out, ".well-known/http-message-signatures-directory"));
    const body = await readFile(file, "utf8");
    const listed = JSON.parse(body).keys as Jwk[];
    expect(listed.map((k) => k.kid)).toEqual([current.thumbprint, old.thumbprint]);
    expect(listed[1]).toMatchObject({ exp: expiry });

    const response: HttpResponseMessage = {
      kind: "response",
      status: 200,
      headers,
      body: new TextEncoder().encode(body),
      request: { kind: "request", method: "GET", targetUri: "https://agent.example/.well-known/x", headers: [] },
    };
    const keys = await Promise.all(listed.map((jwk) => importVerificationKey(jwk)));
    const outcomes = await verifySignatures(response, {
      keys: ({ keyid }) => keys.find((k) => k.keyid === keyid),
      tag: "http-message-signatures-directory",
    });
    expect(outcomes.map((o) => o.verified)).toEqual([true, true]);
  });

  it("prints every subcommand's --help", async () => {
    for (const args of [["keygen"], ["sign"], ["directory", "build"]]) {
      const result = await runCli([...args, "--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: signet ${args.join(" ")}`));
    }
    expect((await runCli(["--help"])).stdout).toContain("directory build");
  });

  it("takes an https origin as --authority and builds for its host", async () => {
    const key = await keygen("dir-origin.jwk");
    const result = await runCli([
      "directory",
      "build",
      "--key",
      key.file,
      "--authority",
      "https://agent.example:8443",
      "--out",
      join(dir, "origin-site"),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("https://agent.example:8443/.well-known/http-message-signatures-directory");
  });

  it("lists a command group's subcommands on --help", async () => {
    const result = await runCli(["directory", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: signet directory <subcommand>/);
    expect(result.stdout).toContain("signet directory build");
  });

  it("prints the package version on --version", async () => {
    const manifest = JSON.parse(await readFile(join(import.meta.dirname, "../../package.json"), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-V"]) {
      const result = await runCli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`signet ${manifest.version}\n`);
    }
  });
});

describe("signet sign --profile aauth", () => {
  it("hwk: a Signature-Key request covering signature-key, with created only", async () => {
    const agent = await keygen("aauth-hwk.jwk");
    const result = await runCli([
      "sign",
      "--key",
      agent.file,
      "--profile",
      "aauth",
      "--dry-run",
      "https://resource.example/api",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Signature-Key: sig1=hwk;kty="OKP";crv="Ed25519";x="[^"]+";alg="Ed25519"\r$/m);
    expect(result.stdout).toMatch(
      /^Signature-Input: sig1=\("@method" "@authority" "@path" "signature-key"\);created=\d+\r$/m,
    );
    expect(result.stdout).not.toContain("Signature-Agent");
  });

  it("jwt: carries the agent token from --token", async () => {
    const agent = await keygen("aauth-jwt.jwk");
    const tokenFile = join(dir, "agent-token.jwt");
    await writeFile(tokenFile, "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJhIn0.c2ln\n");
    const result = await runCli([
      "sign",
      "--key",
      agent.file,
      "--profile",
      "aauth",
      "--scheme",
      "jwt",
      "--token",
      tokenFile,
      "--dry-run",
      "https://resource.example/api",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Signature-Key: sig1=jwt;jwt="eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJhIn0.c2ln"');
  });

  it.each([
    [["--profile", "oauth"], /--profile must be/],
    [["--profile", "aauth", "--scheme", "x509"], /--scheme must be hwk or jwt/],
    [["--profile", "aauth", "--scheme", "jwt"], /needs --token FILE/],
  ])("refuses %j as a usage error", async (extra, pattern) => {
    const agent = await keygen(`aauth-bad-${Math.random().toString(36).slice(2)}.jwk`);
    const result = await runCli(["sign", "--key", agent.file, ...(extra as string[]), "https://resource.example/"]);
    expectOneLineError(result, 2, pattern as RegExp);
  });
});
