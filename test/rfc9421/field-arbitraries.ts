/**
 * fast-check generators of hostile values for the signature fields (`Signature-Input`, `Signature`,
 * `Signature-Agent`, `Accept-Signature`) and a text mutator, shared by the parser fuzzing in
 * `fuzz-fields.test.ts` (Node and workerd) and the whole-Worker fuzzing in `test/worker/hostile/`.
 *
 * @module
 */
import fc from "fast-check";
import { encodeBase64 } from "../../worker/rfc9421/index.ts";

// ---------------------------------------------------------------------------------------------------------------
// Generic text mutation: the edits a fuzzer makes to a valid value.

/** Characters that mean something to a Structured Field parser, and some that never should appear. */
export const SF_CHARS = [
  ..."\"();=,:*?.-_\\/ \t@%&#!$^~`|+{}[]<>'",
  ..."09azAZ",
  "\u0000",
  "\u007f",
  "é",
  "\u2028",
  "ÿ",
  "😀",
];

export const editArb = fc.record({
  op: fc.constantFrom("insert", "delete", "replace", "duplicate", "truncate", "swap"),
  at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  length: fc.integer({ min: 1, max: 12 }),
  text: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...SF_CHARS) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...SF_CHARS), maxLength: 6 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("99999999999999999", "-0", "1.5", "?1", ":AAAA:", '""', "(((", ")))", ",,", ";;"),
    },
  ),
});

export type Edit = typeof editArb extends fc.Arbitrary<infer E> ? E : never;

export function applyEdits(text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const edit of edits) {
    const at = Math.floor(edit.at * (out.length + 1));
    const end = Math.min(out.length, at + edit.length);
    switch (edit.op) {
      case "insert":
        out = out.slice(0, at) + edit.text + out.slice(at);
        break;
      case "delete":
        out = out.slice(0, at) + out.slice(end);
        break;
      case "replace":
        out = out.slice(0, at) + edit.text + out.slice(end);
        break;
      case "duplicate":
        out = out.slice(0, end) + out.slice(at, end) + out.slice(end);
        break;
      case "truncate":
        out = out.slice(0, at);
        break;
      case "swap": {
        const other = Math.floor(((edit.at * 7919) % 1) * out.length);
        const chars = [...out];
        if (chars.length > 1) {
          const i = Math.min(at, chars.length - 1);
          const j = Math.min(other, chars.length - 1);
          [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
        }
        out = chars.join("");
        break;
      }
    }
  }
  return out;
}

/** Values from `base`, each changed by one to five random edits. */
export const mutatedArb = (base: fc.Arbitrary<string>) =>
  fc.tuple(base, fc.array(editArb, { minLength: 1, maxLength: 5 })).map(([text, edits]) => applyEdits(text, edits));

export const arbitraryTextArb = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(...SF_CHARS), maxLength: 80 }),
);

// ---------------------------------------------------------------------------------------------------------------
// Grammar pieces shared by the signature fields.

export const NOW = 1_700_000_000;
export const labelArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("sig1", "sig2", "a", "b*", "x-y.z", "*") },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,6}$/) },
  { weight: 1, arbitrary: fc.constantFrom("Sig1", "1a", "", "-x", "sig 1", "sïg") },
);
export const componentArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      '"@method"',
      '"@authority"',
      '"@path"',
      '"@query"',
      '"@target-uri"',
      '"@scheme"',
      '"@request-target"',
      '"@status"',
      '"@query-param";name="a"',
      '"@query-param"',
      '"signature-agent";key="sig1"',
      '"signature-agent"',
      '"content-digest"',
      '"authorization"',
      '"accept";bs',
      '"x-dict";sf',
      '"x-dict";key="a"',
      '"x";req',
      '"x";tr',
      '"@signature-params"',
      '"Upper"',
      '""',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'abcz-@;=\\"é'), maxLength: 10 }).map((s) => `"${s}"`) },
  { weight: 1, arbitrary: fc.constantFrom("tok", "1", "?1", ":AAAA:", "(", "()", '("@method")', "@method") },
);
const sigParamArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      `;created=${NOW}`,
      `;expires=${NOW + 300}`,
      ';keyid="poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U"',
      ';nonce="n-1"',
      ';tag="web-bot-auth"',
      ';alg="ed25519"',
      ';alg="hmac-sha256"',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ";created=1.5",
      ";created=-1",
      `;created=${"9".repeat(16)}`,
      `;created=${"9".repeat(20)}`,
      ";created",
      ';created="1"',
      ";expires=?1",
      ";keyid=tok",
      ';alg="none"',
      ";tag=:AAAA:",
      ";created=@1",
      ';x=%"a"',
      ";=1",
    ),
  },
);
const separatorArb = fc.constantFrom(", ", ",", " ,  ", "\t,\t", ",, ", " ");

/** One `Signature-Input` (or `Accept-Signature`, with `params`) member. */
const inputMemberArb = (params: fc.Arbitrary<string>) =>
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc
        .tuple(labelArb, fc.array(componentArb, { maxLength: 8 }), fc.array(params, { maxLength: 6 }))
        .map(([label, components, ps]) => `${label}=(${components.join(" ")})${ps.join("")}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(labelArb, fc.constantFrom('"@method"', "1", "tok", ":AAAA:", "?0", '("a" ("b"))'))
        .map(([l, v]) => `${l}=${v}`),
    },
    { weight: 1, arbitrary: labelArb },
  );

const fieldOf = (member: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.array(member, { minLength: 1, maxLength: 5 }), fc.array(separatorArb, { minLength: 5, maxLength: 5 }))
    .map(([members, seps]) => members.map((m, i) => (i === 0 ? m : `${seps[i] ?? ", "}${m}`)).join(""));

export const signatureInputArb = fieldOf(inputMemberArb(sigParamArb));

const base64Arb = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 80 }).map(encodeBase64) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((b) => encodeBase64(b).replace(/=+$/, "")) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(..."AZaz09+/=-_ .:"), maxLength: 40 }) },
);
export const signatureArb = fieldOf(
  fc.oneof(
    { weight: 8, arbitrary: fc.tuple(labelArb, base64Arb).map(([l, b]) => `${l}=:${b}:`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(labelArb, base64Arb, fc.constantFrom(";x=1", ";alg", '("@method")', " :AAAA:"))
        .map(([l, b, extra]) => `${l}=:${b}:${extra}`),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(labelArb, fc.constantFrom("1", "tok", '"str"', "()", "?1")).map((p) => p.join("=")),
    },
  ),
);

const acceptParamArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(";created", ";expires", ";nonce", ';tag="web-bot-auth"', ';keyid="k"') },
  { weight: 1, arbitrary: fc.constantFrom(";created=?0", ";alg=:AAAA:", ";keyid=tok", ";x=1.5", ";created;created") },
);
export const acceptSignatureArb = fieldOf(inputMemberArb(acceptParamArb));

// Signature-Agent: dictionary members and legacy Strings with every URL shape the resolver distinguishes.
const agentUrlArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "https://agent.example",
      "https://agent.example/",
      "https://agent.example/keys.json",
      "https://agent.example/.well-known/http-message-signatures-directory",
      "https://agent.example:8443",
      "https://agent.example?x=1",
      "https://agent.example/#frag",
      "http://agent.example",
      "https://user:pw@agent.example",
      "https://[::1]/k",
      "https://127.0.0.1",
      "https://xn--agnt-bpa.example",
      "ftp://agent.example",
      "javascript:alert(1)",
      "data:,{}",
      "relative/path",
      "//agent.example",
      "",
      "https://",
      "https://a b.example",
      "https://agent.example/%00",
      "https://agent.example/..%2F..%2Fetc",
    ),
  },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(..."https:/.agent-xé%?#@[]"), maxLength: 30 }) },
);
const sfStringOf = (text: string) => `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
const agentParamArb = fc.constantFrom(
  "",
  "",
  "",
  ";type=directory",
  ";type=jwks_uri",
  ";type=other",
  ';type="directory"',
  ";x=1",
  ";type=directory;type=jwks_uri",
);
const agentValueArb = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(agentUrlArb, agentParamArb).map(([u, p]) => `${sfStringOf(u)}${p}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("tok", "1", "?1", ":aHR0cHM6Ly9hLmV4YW1wbGU=:", '("https://a.example")', "()"),
  },
);
export const signatureAgentArb = fc.oneof(
  { weight: 6, arbitrary: fieldOf(fc.tuple(labelArb, agentValueArb).map(([l, v]) => `${l}=${v}`)) },
  { weight: 2, arbitrary: agentValueArb },
);

/** `Signature-Key` members (HTTP Signature Keys -09): a label, a scheme Token, String (and odd) parameters. */
export const signatureKeyArb = fieldOf(
  fc
    .tuple(
      labelArb,
      fc.constantFrom("hwk", "jwt", "jkt-jwt", "jwks_uri", "jwks", "x509", "cached", "self-jwt", "other", "HWK"),
      fc.array(
        fc.tuple(
          fc.constantFrom(
            "kty",
            "crv",
            "x",
            "y",
            "n",
            "e",
            "alg",
            "kid",
            "jwt",
            "id",
            "dwk",
            "url",
            "cid",
            "x5u",
            "cache",
          ),
          fc.oneof(
            fc.constantFrom(
              '"OKP"',
              '"Ed25519"',
              '"EdDSA"',
              '"ES256"',
              '"https://a.example"',
              '"eyJ.eyJ.c2ln"',
              "?1",
              "1",
              ":AAAA:",
            ),
            fc.stringMatching(/^[A-Za-z0-9_\-.]{0,12}$/).map((v) => `"${v}"`),
          ),
        ),
        { maxLength: 6 },
      ),
    )
    .map(([label, scheme, params]) => `${label}=${scheme}${params.map(([k, v]) => `;${k}=${v}`).join("")}`),
);
