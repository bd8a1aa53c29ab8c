// Two real OpenID providers (the oidc-provider package) on loopback, for the login: oidc tests
// (runtime/tests/oauth_oidc.rs, generator/tests/real_clients.rs and claude_flow.rs, which
// start it through oidc_provider.rs beside this file). Sign-in needs no UI: the login interaction signs in the
// current test account and the consent interaction grants what was asked.
//
//     node oidc_provider.mjs MODULE_DIR CALLBACK_URL...
//
// MODULE_DIR is tests/clients/.deps/oidc/node_modules/oidc-provider. Provider A and provider B
// each listen on a free loopback port with one confidential client (id "mcpgen-test", secret
// "mcpgen-test-secret", redirect URIs the CALLBACK_URLs). A also serves a "mix-up" discovery
// document at A/mixup/.well-known/openid-configuration: B's document with the issuer changed
// to A/mixup, so a server configured with that issuer receives ID tokens whose `iss` is B.
//
// Prints one line `READY {"a": ISSUER_A, "b": ISSUER_B}`, then reads commands on stdin, one a
// line, answering each with `OK <command>` once it applies:
//   account ID     sign in as ID from now on (alice, bob, carol)
//   nonce VALUE    replace the nonce of the next authorization request A receives
//   iss off        B leaves `iss` (RFC 9207) out of its authorization responses
import http from "node:http";
import { pathToFileURL } from "node:url";
import path from "node:path";
import readline from "node:readline";

const [moduleDir, ...callbacks] = process.argv.slice(2);
const { default: Provider } = await import(
  pathToFileURL(path.join(moduleDir, "lib/index.js")).href
);

// The people the providers know. carol's address is not verified.
const ACCOUNTS = {
  alice: { email: "alice@example.com", email_verified: true, name: "Alice Example", groups: ["staff"] },
  bob: { email: "bob@other.example", email_verified: true, name: "Bob Other", groups: ["guests"] },
  carol: { email: "carol@example.com", email_verified: false, name: "Carol Unverified", groups: [] },
};

let account = "alice";
let nextNonce = null;
let issInResponses = true;

function configuration() {
  return {
    clients: [
      {
        client_id: "mcpgen-test",
        client_secret: "mcpgen-test-secret",
        redirect_uris: callbacks,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    // The ID token carries the scope's claims (email, name), as Google, Entra and Okta do.
    conformIdTokenClaims: false,
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
      groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups"],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      const who = ACCOUNTS[id];
      if (!who) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...who }) };
    },
    // Quiet: no cookie signing warnings, fixed keys per run are fine for a test.
    cookies: { keys: ["mcpgen-test-cookie-key"] },
  };
}

// Signs in without UI: login as the current account, consent to what was asked.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "login") {
    await provider.interactionFinished(req, res, { login: { accountId: account } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  const grant = new provider.Grant({
    accountId: details.session.accountId,
    clientId: details.params.client_id,
  });
  grant.addOIDCScope(details.params.scope);
  const missing = details.prompt.details.missingOIDCClaims;
  if (missing) grant.addOIDCClaims(missing);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

async function listen(server) {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${server.address().port}`;
}

function start(issuer, server, { tamper, mixupOf, dropIss }) {
  const provider = new Provider(issuer, configuration());
  const handle = provider.callback();
  server.on("request", async (req, res) => {
    try {
      if (req.url.startsWith("/interaction/")) {
        await interaction(provider, req, res);
        return;
      }
      if (mixupOf && req.url === "/mixup/.well-known/openid-configuration") {
        const doc = await (await fetch(`${mixupOf}/.well-known/openid-configuration`)).json();
        doc.issuer = `${issuer}/mixup`;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(doc));
        return;
      }
      if (tamper && nextNonce !== null && req.url.startsWith("/auth?")) {
        const u = new URL(req.url, issuer);
        u.searchParams.set("nonce", nextNonce);
        nextNonce = null;
        req.url = `${u.pathname}${u.search}`;
      }
      if (dropIss && !issInResponses) {
        // Rewrites the redirect to a callback so it carries no `iss`.
        const setHeader = res.setHeader.bind(res);
        res.setHeader = (name, value) => {
          if (String(name).toLowerCase() === "location" && callbacks.some((c) => String(value).startsWith(c))) {
            const u = new URL(String(value));
            u.searchParams.delete("iss");
            value = u.href;
          }
          return setHeader(name, value);
        };
      }
      handle(req, res);
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  });
}

const serverA = http.createServer();
const serverB = http.createServer();
const issuerA = await listen(serverA);
const issuerB = await listen(serverB);
start(issuerA, serverA, { tamper: true, mixupOf: issuerB });
start(issuerB, serverB, { tamper: false, dropIss: true });

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [cmd, value] = line.trim().split(/\s+/, 2);
  if (cmd === "account" && ACCOUNTS[value]) account = value;
  else if (cmd === "nonce" && value) nextNonce = value;
  else if (cmd === "iss" && value === "off") issInResponses = false;
  else {
    process.stdout.write(`ERROR ${line}\n`);
    return;
  }
  process.stdout.write(`OK ${line.trim()}\n`);
});
// The test closes stdin (or dies): stop.
lines.on("close", () => process.exit(0));

process.stdout.write(`READY ${JSON.stringify({ a: issuerA, b: issuerB })}\n`);
