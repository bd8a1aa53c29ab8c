//! Claude's observed connection flow (reference/mcp-requirements.md §4.1), replayed request by
//! request against the generated MedTainer server: the headers, bodies and parameter shapes
//! Claude's hosted connector sends, including `scope=claudeai+`, a bare-origin `resource` and
//! `prompt=consent`. Once per login mode: `auto`, `users`, and `oidc` against a real OpenID
//! provider (`tests/clients/oidc_provider.mjs`, from `tests/clients/install.sh`; without it
//! that case fails when `CI` is set, and otherwise skips with one line saying so).

mod common;
#[path = "../../tests/clients/oidc_provider.rs"]
mod oidc_provider;

use base64::Engine;
use common::{
    Reply, Server, USER, agent, free_port, get, oidc_callback, query_param, reply, repo, start,
    start_with_oidc, start_with_users,
};
use serde_json::{Value, json};
use sha2::Digest;

const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";
/// RFC 6749 §3.3: space-separated scope-tokens, nothing else.
fn is_scope(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ').all(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        })
}

/// Claude's backend (discovery, registration, token) identifies as python-httpx.
fn httpx(
    req: ureq::RequestBuilder<ureq::typestate::WithBody>,
) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
    req.header("user-agent", "python-httpx/0.28.1")
        .header("accept", "*/*")
}

/// A JSON-RPC POST to /mcp as Claude sends it: `accept: */*`, the 2025-11-25 header.
fn post_mcp(server: &Server, user_agent: &str, token: Option<&str>, body: Value) -> Reply {
    let mut req = agent()
        .post(&format!("{}/mcp", server.base))
        .header("user-agent", user_agent)
        .header("accept", "*/*")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(t) = token {
        req = req.header("authorization", &format!("Bearer {t}"));
    }
    reply(req.send(body.to_string()))
}

fn form(url: &str, fields: &[(&str, &str)]) -> Reply {
    reply(httpx(agent().post(url)).send_form(fields.iter().copied()))
}

struct Client {
    id: String,
    secret: String,
}

fn register(base: &str, method: &str) -> (Reply, Value) {
    let r = reply(
        httpx(agent().post(&format!("{base}/register")))
            .header("content-type", "application/json")
            .send(
                json!({
                    "client_name": "Claude",
                    "redirect_uris": [CALLBACK],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": method
                })
                .to_string(),
            ),
    );
    let body = r.json();
    (r, body)
}

/// Who is at the browser, and how the server signs them in.
#[derive(Clone, Copy)]
enum Person<'a> {
    /// `--login auto`: approved at once.
    Auto,
    /// `--login users`: a user (name, password) fills in the sign-in form.
    User(&'a str, &'a str),
    /// `--login oidc`: a browser (`agent`, with its cookies) goes to the OpenID provider at
    /// `issuer`, which signs the person in, comes back, and approves the consent page.
    Oidc {
        issuer: &'a str,
        agent: &'a ureq::Agent,
    },
}

/// A browser for [`Person::Oidc`]: keeps cookies, follows no redirect on its own.
fn browser() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into()
}

/// The browser part: /authorize with Claude's parameters; returns the code and the URLs the
/// browser visited on the way. With [`Person::User`] the page that answers is the sign-in form,
/// which the person fills in and approves, as a browser submits it (CSRF cookie included);
/// with [`Person::Oidc`] see [`through_the_provider`].
fn authorize(
    base: &str,
    client: &Client,
    scope: &str,
    verifier: &str,
    person: Person,
) -> (String, Vec<String>) {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    // Built by hand: Claude sends `scope=claudeai+` (a trailing encoded space) and the bare
    // origin with a slash as `resource`.
    let url = format!(
        "{base}/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=claude-state-1&scope={scope}&resource={}&prompt=consent",
        client.id,
        encode(CALLBACK),
        encode(&format!("{base}/")),
    );
    let mut visited = Vec::new();
    let mut r = match person {
        Person::Oidc { agent, .. } => through_the_provider(agent, &url, &mut visited),
        _ => reply(agent().get(&url).header("user-agent", "Mozilla/5.0").call()),
    };
    if let Person::User(name, password) = person {
        assert_eq!(r.status, 200, "the sign-in form: {}", r.body);
        assert!(r.body.contains("name=\"username\""), "{}", r.body);
        let cookie = r
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("the form's csrf cookie")
            .to_owned();
        let csrf = cookie.split_once('=').expect("name=value").1.to_owned();
        let resource = format!("{base}/");
        let scope = scope.replace('+', " ");
        let fields = [
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "claude-state-1"),
            ("scope", scope.as_str()),
            ("resource", resource.as_str()),
            ("csrf", csrf.as_str()),
            ("username", name),
            ("password", password),
            ("action", "approve"),
        ];
        r = reply(
            agent()
                .post(&format!("{base}/authorize"))
                .header("user-agent", "Mozilla/5.0")
                .header("cookie", &cookie)
                .send_form(fields),
        );
    }
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").unwrap().to_owned();
    assert!(location.starts_with(CALLBACK), "{location}");
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let keys: Vec<&str> = query
        .split('&')
        .filter_map(|p| p.split('=').next())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["code", "iss", "state"],
        "exactly one code, state and iss"
    );
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("claude-state-1")
    );
    assert_eq!(query_param(&location, "iss").as_deref(), Some(base));
    (query_param(&location, "code").unwrap(), visited)
}

/// `--login oidc` in a browser: follows the redirects from `url` (to the provider, whose test
/// interactions sign the person in without a page, and back through the server's callback)
/// and submits the consent page with `action=approve`; returns the response that redirects
/// to Claude, and appends every URL fetched to `visited`.
fn through_the_provider(agent: &ureq::Agent, url: &str, visited: &mut Vec<String>) -> Reply {
    let mut url = url.to_owned();
    let mut r = reply(agent.get(&url).header("user-agent", "Mozilla/5.0").call());
    visited.push(url.clone());
    for _ in 0..20 {
        if let Some(location) = r.header("location") {
            let next = join(&url, location);
            if next.starts_with(CALLBACK) {
                return r;
            }
            url = next;
            r = reply(agent.get(&url).header("user-agent", "Mozilla/5.0").call());
            visited.push(url.clone());
            continue;
        }
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let (action, mut fields) = form_of(&r.body);
        fields.push(("action".into(), "approve".into()));
        url = join(&url, &action);
        r = reply(
            agent
                .post(&url)
                .header("user-agent", "Mozilla/5.0")
                .send_form(fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        visited.push(format!("POST {url}"));
    }
    panic!("too many redirects: {visited:?}");
}

/// `location` resolved against `base` (absolute, or a path on `base`'s origin).
fn join(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let origin_end = base
        .match_indices('/')
        .nth(2)
        .map_or(base.len(), |(i, _)| i);
    assert!(location.starts_with('/'), "relative location {location:?}");
    format!("{}{location}", &base[..origin_end])
}

/// The first form of a page: its `action` and its hidden fields, unescaped.
fn form_of(html: &str) -> (String, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let len = tag[start..].find('"')?;
        Some(unescape(&tag[start..start + len]))
    };
    let form = html.find("<form").expect("a form on the page");
    let end = html[form..]
        .find("</form>")
        .map_or(html.len(), |e| form + e);
    let action = attr(&html[form..end], "action").unwrap_or_default();
    let fields = html[form..end]
        .split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = &tag[..tag.find('>')?];
            (attr(tag, "type")? == "hidden").then_some(())?;
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect();
    (action, fields)
}

/// HTML character references as minijinja writes them in attribute values.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn token_for_code(base: &str, client: &Client, code: &str, verifier: &str) -> Value {
    let r = form(
        &format!("{base}/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("resource", &format!("{base}/")),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].is_u64(), "integer expires_in: {t}");
    assert!(
        t["refresh_token"].is_string(),
        "Claude needs refresh tokens: {t}"
    );
    let scope = t["scope"].as_str().expect("scope is always present");
    assert!(
        is_scope(scope),
        "token response scope {scope:?} is not an RFC 6749 scope"
    );
    t
}

/// `auth.default_scopes` of specs/medtainer.yaml: the 401 challenge asks for them.
const CONNECT_SCOPES: &str = "claudeai catalog.read orders.read customers.read";
/// The same, as a token response states them (in the server's scope order).
const GRANTED_AT_CONNECT: &str = "catalog.read claudeai customers.read orders.read";
/// What `cancel_order`'s 403 asks for: its own scopes, then the ones the token holds.
const STEP_UP_CHALLENGE: &str = "claudeai orders.write catalog.read customers.read orders.read";
/// The same, as a token response states them (in the server's scope order).
const STEPPED_UP: &str = "catalog.read claudeai customers.read orders.read orders.write";

#[test]
fn claude_connects_authorizes_and_calls() {
    let server = start("medtainer-mcp", &["--login", "auto"]);
    replay(&server, Person::Auto);
}

/// The same replay against `--login users`: the person signs in on the form with an account
/// the binary's `users add` made, and everything after is as with automatic approval.
#[test]
fn claude_connects_with_a_user_signing_in() {
    let (server, _store) = start_with_users("medtainer-mcp");
    let (name, _, password) = USER;
    replay(&server, Person::User(name, password));
}

/// The same replay against `--login oidc` with a real OpenID provider (`oidc-provider`, which
/// signs in `alice@example.com`): Claude's `prompt=consent` shows the consent page after the
/// sign-in and again at the step-up, which needs no second trip to the provider. Then Claude
/// connects to local-notes the same way, and its template tool names alice as the caller.
#[test]
fn claude_connects_with_a_person_signing_in_at_an_openid_provider() {
    let clients = repo().join("tests/clients");
    if !oidc_provider::installed(&clients, "claude_flow") {
        return;
    }
    let (medtainer_port, notes_port) = (free_port(), free_port());
    let callbacks = [oidc_callback(medtainer_port), oidc_callback(notes_port)];
    let provider = oidc_provider::Providers::start(&clients, &[&callbacks[0], &callbacks[1]]);
    let env = provider.env_a();
    let server = start_with_oidc("medtainer-mcp", medtainer_port, &env);
    let medtainer_browser = browser();
    replay(
        &server,
        Person::Oidc {
            issuer: &provider.a,
            agent: &medtainer_browser,
        },
    );

    let notes = start_with_oidc("local-notes-mcp", notes_port, &env);
    let base = notes.base.clone();
    let (r, registered) = register(&base, "client_secret_post");
    assert_eq!(r.status, 201, "{}", r.body);
    let client = Client {
        id: registered["client_id"].as_str().unwrap().to_owned(),
        secret: registered["client_secret"].as_str().unwrap().to_owned(),
    };
    let verifier = "claude-verifier-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let fresh = browser();
    let person = Person::Oidc {
        issuer: &provider.a,
        agent: &fresh,
    };
    let (code, _) = authorize(&base, &client, "notes+", verifier, person);
    let tokens = token_for_code(&base, &client, &code, verifier);
    let access = tokens["access_token"].as_str().unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}}});
    let r = post_mcp(&notes, "Claude-User", Some(access), call);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["result"]["content"][0]["text"],
        format!("alice <alice@example.com> via {}", client.id),
        "{}",
        r.body
    );
}

/// Claude's whole flow against `server`; `person` signs in when the server asks.
fn replay(server: &Server, person: Person) {
    let base = server.base.clone();

    // 1. The unauthenticated probe: 401 (never 400/406), pointing at the path-inserted metadata.
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "claude-ai", "version": "0.1.0"}}});
    let probe = post_mcp(server, "python-httpx/0.28.1", None, init.clone());
    assert_eq!(probe.status, 401);
    let www = probe.header("www-authenticate").unwrap();
    let prm_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
    assert_eq!(
        www,
        format!("Bearer resource_metadata=\"{prm_url}\", scope=\"{CONNECT_SCOPES}\""),
        "no `error` without credentials (RFC 6750 §3.1)"
    );

    // 2-3. Protected resource metadata, path-inserted then root: the same document.
    let prm = get(&prm_url);
    assert_eq!(prm.status, 200);
    let root_prm = get(&format!("{base}/.well-known/oauth-protected-resource"));
    assert_eq!(prm.json(), root_prm.json());
    let prm = prm.json();
    assert_eq!(prm["resource"], format!("{base}/mcp"));
    let scopes: Vec<&str> = prm["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(scopes.iter().all(|s| is_scope(s)) && !scopes.contains(&"offline_access"));
    // Clients join scopes_supported with spaces: the result must still be a valid scope.
    assert!(is_scope(&scopes.join(" ")));

    // 4. Authorization server metadata from the issuer.
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    let asm = get(&format!("{issuer}/.well-known/oauth-authorization-server")).json();
    assert_eq!(asm["issuer"], issuer, "byte-identical issuer");
    assert_eq!(asm["authorization_response_iss_parameter_supported"], true);

    // 5. Registration with each of the bodies Claude sends.
    let (r, public) = register(&base, "none");
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        public.get("client_secret").is_none(),
        "no secret for a public client"
    );
    let (r, confidential) = register(&base, "client_secret_post");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        confidential["token_endpoint_auth_method"],
        "client_secret_post"
    );
    assert!(confidential["client_id_issued_at"].is_u64());
    let client = Client {
        id: confidential["client_id"].as_str().unwrap().to_owned(),
        secret: confidential["client_secret"].as_str().unwrap().to_owned(),
    };

    // 6-7. Authorize with the challenge's scopes joined by `+` and a trailing `+` (Claude
    // composes `claudeai+` when a component is empty: the seed incident), then the token: its
    // scope is normalised.
    let verifier = "claude-verifier-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let requested = format!("{}+", CONNECT_SCOPES.replace(' ', "+"));
    let (code, visited) = authorize(&base, &client, &requested, verifier, person);
    if let Person::Oidc { issuer, .. } = person {
        // To the provider (without Claude's `prompt=consent`: passed on, it would make the
        // provider ask its own consent, which tenants that forbid user consent refuse,
        // anthropics/claude-code#94804), back through the callback, then the consent page.
        let to_provider = visited
            .iter()
            .find(|v| v.starts_with(&format!("{issuer}/auth?")))
            .unwrap_or_else(|| panic!("never at the provider: {visited:?}"));
        assert_eq!(query_param(to_provider, "prompt"), None, "{to_provider}");
        let back = visited
            .iter()
            .position(|v| v.starts_with(&format!("{base}/oauth/callback?")));
        let consent = visited
            .iter()
            .rposition(|v| v.starts_with(&format!("POST {base}/authorize")));
        assert!(
            matches!((back, consent), (Some(b), Some(c)) if b < c),
            "{visited:?}"
        );
    }
    let tokens = token_for_code(&base, &client, &code, verifier);
    assert_eq!(tokens["scope"], GRANTED_AT_CONNECT);
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // 8. The session, as `Claude-User`.
    let ok = post_mcp(server, "Claude-User", Some(&access), init);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("content-type"), Some("application/json"));
    assert_eq!(ok.json()["result"]["protocolVersion"], "2025-11-25");
    assert!(
        ok.header("mcp-session-id").is_none(),
        "stateless: no session id"
    );
    let initialized = post_mcp(
        server,
        "Claude-User",
        Some(&access),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    assert_eq!((initialized.status, initialized.body.as_str()), (202, ""));
    let list = post_mcp(
        server,
        "Claude-User",
        Some(&access),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    assert_eq!(list.json()["result"]["tools"].as_array().unwrap().len(), 7);

    // Claude does not complete a step-up (anthropics/claude-ai-mcp#931), so what it is granted
    // at connect must reach every read tool: each answers (the stub's tool error, or invalid
    // arguments), none is refused with 403.
    let tools = list.json()["result"]["tools"].as_array().unwrap().clone();
    let mut read_tools = 0;
    for (id, tool) in tools.iter().enumerate() {
        if tool["annotations"]["readOnlyHint"] != true {
            continue;
        }
        read_tools += 1;
        let call = json!({"jsonrpc": "2.0", "id": 10 + id, "method": "tools/call",
            "params": {"name": tool["name"], "arguments": {}}});
        let r = post_mcp(server, "Claude-User", Some(&access), call);
        assert_eq!(r.status, 200, "{}: {}", tool["name"], r.body);
    }
    assert_eq!(read_tools, 5);

    // A write tool needs `orders.write`: 403 with the complete scope set. claude.ai shows this
    // as "reconnect"; a client that steps up (the SDKs) authorizes again with that set.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "cancel_order", "arguments": {"order_id": "SO-20931", "reason": "duplicate"}}});
    let denied = post_mcp(server, "Claude-User", Some(&access), call.clone());
    assert_eq!(denied.status, 403);
    let www = denied.header("www-authenticate").unwrap();
    assert!(www.contains("error=\"insufficient_scope\""), "{www}");
    assert!(
        www.contains(&format!("scope=\"{STEP_UP_CHALLENGE}\"")),
        "{www}"
    );

    let (code, visited) = authorize(
        &base,
        &client,
        &STEP_UP_CHALLENGE.replace(' ', "+"),
        verifier,
        person,
    );
    if let Person::Oidc { issuer, .. } = person {
        // Signed in already: `prompt=consent` shows the consent page, and only that.
        assert!(
            !visited.iter().any(|v| v.starts_with(&format!("{issuer}/"))),
            "{visited:?}"
        );
        assert!(
            visited
                .iter()
                .any(|v| v.starts_with(&format!("POST {base}/authorize"))),
            "{visited:?}"
        );
    }
    let tokens = token_for_code(&base, &client, &code, verifier);
    assert_eq!(tokens["scope"], STEPPED_UP);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let called = post_mcp(server, "Claude-User", Some(&access), call.clone());
    assert_eq!(called.status, 200);
    let result = &called.json()["result"];
    assert_eq!(
        result["isError"], true,
        "the stub handler answers with its tool error"
    );

    // Claude refreshes on a schedule: rotation gives a working token with the same scope.
    let refreshed = form(
        &format!("{base}/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
        ],
    );
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let refreshed = refreshed.json();
    assert_eq!(refreshed["scope"], STEPPED_UP);
    assert_ne!(
        refreshed["refresh_token"], tokens["refresh_token"],
        "rotated"
    );
    let again = post_mcp(
        server,
        "Claude-User",
        Some(refreshed["access_token"].as_str().unwrap()),
        call,
    );
    assert_eq!(again.status, 200);
}
