#!/usr/bin/env bash
# Packs signet-edge, installs the tarball into a fresh temporary project (the npm registry is the only network it
# needs), checks every entry point's types with tsc (strict, Node's own module resolution, the emitted .d.ts files
# not skipped), imports every Node-loadable entry point at run time, and runs the installed `signet` command.
# Deploys nothing. Exit status non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/signet-package.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

cd "${root}"
tarball="$(npm pack --silent --pack-destination "${work}" | tail -n 1)"
echo "packed ${tarball} ($(du -k "${work}/${tarball}" | cut -f1) KiB, $(tar -tzf "${work}/${tarball}" | wc -l) files)"
if tar -tzf "${work}/${tarball}" | grep -E '^package/(test|bench|types)/|\.ts$' | grep -v '\.d\.ts$'; then
  echo "the package ships files it should not (above)" >&2
  exit 1
fi

typescript="$(node -p "require('./node_modules/typescript/package.json').version")"
types_node="$(node -p "require('./node_modules/@types/node/package.json').version")"
workers_types="$(node -p "require('./node_modules/@cloudflare/workers-types/package.json').version" 2>/dev/null || true)"

cd "${work}"
cat >package.json <<'JSON'
{ "name": "signet-edge-consumer", "private": true, "type": "module" }
JSON
npm install --no-audit --no-fund --silent "./${tarball}" "typescript@${typescript}" "@types/node@${types_node}" \
  ${workers_types:+"@cloudflare/workers-types@${workers_types}"}

cat >tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "target": "es2024",
    "lib": ["es2024", "dom"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": false,
    "types": ["node"]
  },
  "include": ["check.ts"]
}
JSON
cat >check.ts <<'TS'
import { createSignedFetch, generateAgentKey, webBotAuthProfile } from "signet-edge/agent";
import { buildDirectory } from "signet-edge/directory";
import { createKeyDirectoryCache, parsePolicy, type SignetVariables, signetMiddleware } from "signet-edge/middleware";
import { verifySignetRequest } from "signet-edge/origin";
import { signetOrigin } from "signet-edge/origin/hono";
import { verifyNodeRequest } from "signet-edge/origin/node";
import { parseSignatures, verifySignatures } from "signet-edge/rfc9421";

const used: unknown[] = [createSignedFetch, generateAgentKey, webBotAuthProfile, buildDirectory,
  createKeyDirectoryCache, parsePolicy, signetMiddleware, verifySignetRequest, signetOrigin, verifyNodeRequest,
  parseSignatures, verifySignatures];
const variables: Partial<SignetVariables> = {};
export { used, variables };
TS
npx tsc -p tsconfig.json
echo "types: every entry point checks with tsc ${typescript}"

cat >run.mjs <<'JS'
const entries = ["agent", "directory", "middleware", "origin", "origin/hono", "origin/node", "rfc9421"];
for (const entry of entries) {
  const module = await import(`signet-edge/${entry}`);
  if (Object.keys(module).length === 0) throw new Error(`signet-edge/${entry} exports nothing`);
}
const { generateAgentKey } = await import("signet-edge/agent");
const key = await generateAgentKey("ed25519");
if (typeof key.thumbprint !== "string") throw new Error("generateAgentKey gave no keyid");
console.log(`runtime: ${entries.length} entry points import in Node ${process.version}`);
JS
node run.mjs

npx --no-install signet --version
npx --no-install signet keygen --out agent.jwk >/dev/null
test -s agent.jwk
echo "cli: signet --version and signet keygen work from the installed package"
