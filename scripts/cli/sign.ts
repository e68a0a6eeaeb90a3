/**
 * `signet sign`: sign a request as an agent and send it, curl-like (or print it with `--dry-run`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { aauthProfile, loadAgentKey, type SigningProfile, signRequest, webBotAuthProfile } from "../../agent/index.ts";
import { parseCommandLine, readJwkFile, wholeNumber } from "./arguments.ts";
import { CliError, EXIT_FAILURE, EXIT_USAGE } from "./cli-error.ts";
import { DEFAULT_CHECK_PATH, sendCheck } from "./sign-check.ts";

/** Help text of `signet sign`. */
export const SIGN_HELP = `Usage: signet sign --key FILE --agent URL [options] URL
       signet sign --key FILE --profile aauth [--scheme hwk | --scheme jwt --token FILE] [options] URL

Signs a request with the agent's key and sends it; prints the response status line, headers and body. With
--dry-run, prints the signed request as HTTP/1.1 text instead of sending it.

  --key FILE          the agent's private JWK (from signet keygen)
  --profile P         web-bot-auth (default) or aauth
  --agent URL         web-bot-auth: the agent's https origin, which serves its key directory (Signature-Agent)
  --allow-loopback-agent
                      also accept an http(s) agent URL on 127.0.0.1, localhost or [::1] (signet directory serve),
                      for a local Signet started with npm start -- --trust-loopback
  --scheme S          aauth: hwk (the key itself, pseudonymous; default) or jwt (an agent token)
  --token FILE        aauth with --scheme jwt: a file holding the agent token (a compact JWT)
  -X, --request M     method (default GET, or POST with --data)
  -H, --header H      a request header "Name: value" (repeatable)
  -d, --data DATA     request body; @FILE reads the body from FILE
  --expires-in S      signature validity in seconds (default 300)
  --target-uri        cover @target-uri instead of @authority and @path
  --legacy-agent      send Signature-Agent in the legacy string form ("https://...") for older verifiers
  --label L           signature label (default sig1)
  --dry-run           print the signed request; send nothing
  --check             ask the site's check endpoint instead: the request is signed for URL but sent to the check
                      path with URL's path in Signet-Check-Target; prints Signet's verdict (label by label, reason,
                      what to fix). Never reaches the origin, does not spend the signature. Exit 0 when the edge
                      would forward it, 1 when it would refuse it (or the site answers no checks)
  --check-path P      the site's check path (default ${DEFAULT_CHECK_PATH})
  --timeout S         give up on the request after S seconds (default 30; 0 waits for ever)
  -f, --fail          exit 1 when the response status is 400 or above (the response is still printed)
  --json              print the response (or, with --dry-run, the signed request) as one JSON object
  -h, --help          this help

Exit status: 0 when a response came back (with --fail, a status below 400; with --check, the edge would forward
the request), 1 when the request failed, timed out, (with --fail) was refused or (with --check) would be refused,
2 for a bad command line.`;

/**
 * Runs `signet sign`.
 *
 * @example
 * ```ts
 * await sign(["--key", "agent.jwk", "--agent", "https://agent.example", "--dry-run", "https://shop.example/"], process.stdout);
 * ```
 */
export async function sign(argv: string[], out: NodeJS.WritableStream): Promise<number | undefined> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      key: { type: "string" },
      agent: { type: "string" },
      "allow-loopback-agent": { type: "boolean" },
      profile: { type: "string" },
      scheme: { type: "string" },
      token: { type: "string" },
      request: { type: "string", short: "X" },
      header: { type: "string", short: "H", multiple: true },
      data: { type: "string", short: "d" },
      "expires-in": { type: "string" },
      "target-uri": { type: "boolean" },
      "legacy-agent": { type: "boolean" },
      label: { type: "string" },
      "dry-run": { type: "boolean" },
      check: { type: "boolean" },
      "check-path": { type: "string" },
      timeout: { type: "string" },
      fail: { type: "boolean", short: "f" },
      json: { type: "boolean" },
    },
    "sign",
  );
  if (values.help) {
    out.write(`${SIGN_HELP}\n`);
    return;
  }
  if (values.key === undefined) throw new CliError("sign: --key FILE is required", EXIT_USAGE);
  const profileName = values.profile ?? "web-bot-auth";
  if (profileName !== "web-bot-auth" && profileName !== "aauth") {
    throw new CliError("sign: --profile must be web-bot-auth or aauth", EXIT_USAGE);
  }
  if (profileName === "web-bot-auth" && values.agent === undefined) {
    throw new CliError("sign: --agent URL is required", EXIT_USAGE);
  }
  if (positionals.length !== 1) throw new CliError("sign: give exactly one URL to request", EXIT_USAGE);
  const target = positionals[0] as string;
  const timeoutSeconds = wholeNumber(values.timeout, "--timeout", DEFAULT_TIMEOUT_SECONDS);
  if (!/^https?:\/\//i.test(target)) throw new CliError(`sign: "${target}" is not an http(s) URL`, EXIT_USAGE);

  let profile: SigningProfile;
  try {
    profile =
      profileName === "aauth"
        ? await aauthProfileFrom(values.scheme, values.token)
        : webBotAuthProfile({
            agent: values.agent as string,
            agentForm: values["legacy-agent"] ? "string" : "dictionary",
            expiresIn: wholeNumber(values["expires-in"], "--expires-in", 300),
            coverTargetUri: values["target-uri"] === true,
            unsafeAllowLoopback: values["allow-loopback-agent"] === true,
          });
  } catch (err) {
    if (err instanceof CliError) throw err;
    const loopbackHint =
      profileName === "web-bot-auth" && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]?/i.test(values.agent ?? "")
        ? " (a loopback agent needs --allow-loopback-agent)"
        : "";
    throw new CliError(`sign: ${(err as Error).message}${loopbackHint}`, EXIT_USAGE);
  }
  const headers = new Headers();
  for (const line of values.header ?? []) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new CliError(`sign: header "${line}" is not "Name: value"`, EXIT_USAGE);
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      throw new CliError(`sign: header "${line}" is not a valid HTTP field`, EXIT_USAGE);
    }
  }
  const body = values.data === undefined ? undefined : await bodyOf(values.data);
  const method = values.request ?? (body === undefined ? "GET" : "POST");
  let request: Request;
  try {
    request = new Request(target, { method, headers, body, redirect: "manual" });
  } catch (err) {
    throw new CliError(`sign: cannot make that request: ${(err as Error).message}`, EXIT_USAGE);
  }
  const key = await loadAgentKey(await readJwkFile(values.key));
  const signed = await signRequest(request, { key, profile, label: values.label });

  if (values["dry-run"]) {
    if (values.json) {
      const body = signed.body === null ? undefined : await signed.text();
      out.write(
        `${JSON.stringify({ method: signed.method, url: signed.url, headers: headerObject(signed.headers), body })}\n`,
      );
    } else {
      out.write(await requestText(signed));
    }
    return;
  }
  if (values.check) {
    const checkPath = values["check-path"] ?? DEFAULT_CHECK_PATH;
    if (!/^\/[^/?#\s][^?#\s]*$/.test(checkPath))
      throw new CliError("sign: --check-path must be a path such as /.signet/check", EXIT_USAGE);
    return sendCheck(signed, { checkPath, json: values.json === true, timeoutSeconds }, out);
  }
  const signal = timeoutSeconds > 0 ? AbortSignal.timeout(timeoutSeconds * 1000) : undefined;
  let response: Response;
  let text: string;
  try {
    response = await fetch(signed, { signal });
    text = await response.text();
  } catch (err) {
    if (signal?.aborted) throw new CliError(`request to ${target} timed out after ${timeoutSeconds} s`);
    const cause = (err as Error & { cause?: Error }).cause;
    throw new CliError(`request to ${target} failed: ${cause?.message ?? (err as Error).message}`);
  }
  if (values.json) {
    out.write(
      `${JSON.stringify({ status: response.status, statusText: response.statusText, headers: headerObject(response.headers), body: text })}\n`,
    );
  } else {
    out.write(`HTTP/1.1 ${response.status} ${response.statusText}\n`);
    for (const [name, value] of response.headers) out.write(`${name}: ${value}\n`);
    out.write(`\n${text}\n`);
  }
  if (values.fail && response.status >= 400) {
    process.stderr.write(`signet: ${target} answered ${response.status}${problemReason(response, text)}\n`);
    return EXIT_FAILURE;
  }
  return undefined;
}

/** How long `signet sign` waits for an answer unless `--timeout` says otherwise. */
const DEFAULT_TIMEOUT_SECONDS = 30;

/** Header fields as one object (repeated fields are already combined by `Headers`). */
function headerObject(headers: Headers): Record<string, string> {
  return Object.fromEntries(headers);
}

/** ` (reason)` when the response is a problem document with a plain `reason` token, else nothing. */
function problemReason(response: Response, text: string): string {
  if (!(response.headers.get("content-type") ?? "").includes("json")) return "";
  try {
    const reason = (JSON.parse(text) as { reason?: unknown }).reason;
    return typeof reason === "string" && /^[a-z_]{1,64}$/.test(reason) ? ` (${reason})` : "";
  } catch {
    return "";
  }
}

async function aauthProfileFrom(scheme: string | undefined, tokenFile: string | undefined): Promise<SigningProfile> {
  if (scheme === undefined || scheme === "hwk") {
    if (tokenFile !== undefined) throw new CliError("sign: --token goes with --scheme jwt", EXIT_USAGE);
    return aauthProfile({ scheme: "hwk" });
  }
  if (scheme !== "jwt") throw new CliError("sign: --scheme must be hwk or jwt", EXIT_USAGE);
  if (tokenFile === undefined) throw new CliError("sign: --scheme jwt needs --token FILE", EXIT_USAGE);
  let token: string;
  try {
    token = (await readFile(tokenFile, "utf8")).trim();
  } catch (err) {
    throw new CliError(`cannot read token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? ""}`);
  }
  return aauthProfile({ scheme: "jwt", token });
}

async function bodyOf(data: string): Promise<Uint8Array> {
  if (!data.startsWith("@")) return new TextEncoder().encode(data);
  try {
    return new Uint8Array(await readFile(data.slice(1)));
  } catch (err) {
    throw new CliError(`cannot read body file ${data.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? ""}`);
  }
}

/**
 * A request as HTTP/1.1 text: request line in origin form, `Host`, the other headers, a blank line, the body.
 *
 * @example
 * ```ts
 * process.stdout.write(await requestText(signed));
 * ```
 */
export async function requestText(request: Request): Promise<string> {
  const url = new URL(request.url);
  const lines = [`${request.method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  for (const [name, value] of request.headers) lines.push(`${headerCase(name)}: ${value}`);
  const body = request.body === null ? "" : await request.text();
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

function headerCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}
