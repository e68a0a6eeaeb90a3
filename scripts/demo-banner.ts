/**
 * Printed by `npm start` before the local Worker starts: what the demo does and how to send it a signed request.
 *
 * @module
 */
const BASE = "http://127.0.0.1:8787";

process.stdout.write(`
Signet demo: ${BASE} in front of a built-in echo origin (no account, no network).
Routes under /agents/* require a verified agent; the demo agent https://signature-agent.test is pinned, and its
key demo/agent-key.json is the published RFC 9421 test key (accepted only because the dev policy allows test keys).

  curl -i ${BASE}/hello                        # anonymous: passes, no Verified-Agent
  curl -i ${BASE}/agents/hello                 # 401 signature_required, with Accept-Signature
  npx signet sign --key demo/agent-key.json --agent https://signature-agent.test ${BASE}/agents/hello
                                               # 200: the echo shows Verified-Agent and Signet's attestation

The site-owner console: ${BASE}/.signet/console (dev-only secret: signet-dev-console-secret)
  npx signet stats --url ${BASE}/.signet/console --token signet-dev-console-secret

`);
