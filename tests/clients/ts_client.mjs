// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) as a client of a generated server,
// headless, through the whole OAuth flow with an OAuthClientProvider: 401 -> metadata ->
// dynamic registration -> authorize (S256 PKCE) -> token -> initialize -> tools/list ->
// tools/call. A 403 insufficient_scope on a call makes the SDK authorize again with the scope
// the challenge names (upscoping); that surfaces as UnauthorizedError, as at connect.
//
//   node ts_client.mjs URL [--scope 'S1 S2'] [--call NAME JSON]...
//
// --scope authorizes up front with those scopes (the SDK's exported `auth()`), the way an
// application that knows which tools it will call does. It is needed for a tool whose scope the
// 401 challenge does not name: SDK 1.x answers a later 403 insufficient_scope by refreshing the
// token (which cannot widen its scope) and then gives up with "403 after trying upscoping"
// (typescript-sdk issue 2255, fixed only in the 2.x line).
//
// Prints one line `RESULT {json}` and exits 0; any failure exits non-zero. The SDK is loaded
// from tests/clients/.deps/npm (tests/clients/install.sh), or from $MCPGEN_CLIENT_NPM.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const npmDir = process.env.MCPGEN_CLIENT_NPM
  ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '.deps', 'npm');
const require = createRequire(path.join(npmDir, 'package.json'));
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { UnauthorizedError, auth } = require('@modelcontextprotocol/sdk/client/auth.js');
const sdkVersion = JSON.parse(readFileSync(
  path.join(npmDir, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'), 'utf8')).version;

const url = new URL(process.argv[2]);
const calls = [];
let upfrontScope;
for (let i = 3; i < process.argv.length; i++) {
  if (process.argv[i] === '--scope') {
    upfrontScope = process.argv[++i];
  } else if (process.argv[i] === '--call') {
    calls.push([process.argv[i + 1], JSON.parse(process.argv[i + 2])]);
    i += 2;
  } else {
    throw new Error(`unknown argument ${process.argv[i]}`);
  }
}
const REDIRECT = 'http://127.0.0.1:33419/callback'; // never contacted

class HeadlessProvider { // implements OAuthClientProvider
  _client; _tokens; _verifier; _state; authorizeUrls = []; pendingCode;
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: 'mcpgen-e2e-ts', redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { this._state = randomBytes(16).toString('hex'); return this._state; }
  clientInformation() { return this._client; }
  saveClientInformation(c) { this._client = c; }
  tokens() { return this._tokens; }
  saveTokens(t) { this._tokens = t; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
  // The browser: GET authorize without following; the server approves at once (--consent auto)
  // and redirects to REDIRECT?code=..&state=..&iss=..
  async redirectToAuthorization(authUrl) {
    this.authorizeUrls.push(authUrl.href);
    const r = await fetch(authUrl, { redirect: 'manual' });
    const loc = r.headers.get('location');
    if (!loc) throw new Error(`authorize did not redirect: ${r.status} ${await r.text()}`);
    const q = new URL(loc).searchParams;
    if (q.get('error')) throw new Error(`authorization error ${loc}`);
    if (q.get('state') !== this._state) throw new Error(`state not returned: ${loc}`);
    this.pendingCode = q.get('code');
    this.iss = q.get('iss');
  }
}

const provider = new HeadlessProvider();
let transport;
const client = new Client({ name: 'mcpgen-e2e-ts', version: '0' });

// Runs `step`; when the SDK had to send the user to authorize, finishes the exchange and retries.
async function authorized(step) {
  try {
    return await step();
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    await transport.finishAuth(provider.pendingCode);
    return await step();
  }
}

if (upfrontScope) {
  if (await auth(provider, { serverUrl: url, scope: upfrontScope }) !== 'REDIRECT') {
    throw new Error('expected to be sent to authorize');
  }
  if (await auth(provider, { serverUrl: url, authorizationCode: provider.pendingCode }) !== 'AUTHORIZED') {
    throw new Error('code exchange failed');
  }
}
await authorized(async () => {
  transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await client.connect(transport);
});
const tools = (await client.listTools()).tools.map((t) => t.name);
const results = [];
for (const [name, args] of calls) {
  const r = await authorized(() => client.callTool({ name, arguments: args }));
  results.push({
    name, is_error: Boolean(r.isError),
    text: (r.content ?? []).map((c) => c.text ?? '').join(''),
  });
}
console.log('RESULT ' + JSON.stringify({
  sdk: `@modelcontextprotocol/sdk ${sdkVersion}`,
  protocol_version: transport.protocolVersion,
  server_name: client.getServerVersion()?.name,
  tools, calls: results,
  authorize_urls: provider.authorizeUrls,
  iss: provider.iss,
  token_scope: provider._tokens?.scope,
}));
await client.close();
