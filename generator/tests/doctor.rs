//! `mcpgen doctor` against a fixture server that reproduces one fault at a time (each fault
//! must yield exactly its finding, at its documented severity, and nothing else), and against
//! a generated server (no error or warning).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use mcpgen::doctor::{self, Options, Report, Severity};
use serde_json::{Value, json};
use sha2::Digest;

/// One fault the fixture reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// `scopes_supported: ["notes", ""]` in the protected resource metadata.
    EmptyScope,
    /// The token response's `scope` ends with a space.
    TokenScopeSpace,
    /// The seed incident: an empty scope listed, no scope in the challenge, the requested scope
    /// echoed as it came (`"notes "`).
    Seed,
    /// No protected resource metadata at the path-inserted URL.
    NoPathPrm,
    /// The AS metadata's `issuer` has a trailing slash `authorization_servers` lacks.
    IssuerMismatch,
    /// No refresh token.
    NoRefresh,
    /// A refresh token redeemed twice revokes what the first redemption returned.
    RefreshKills,
    /// 403 to `Origin: https://claude.ai` before any 401.
    OriginRefused,
    /// SSE answers held back until the stream ends (a buffering proxy).
    SseBuffered,
    /// 403 to the `Claude-User` User-Agent.
    UaBlocked,
    /// 401 without `WWW-Authenticate`.
    NoChallenge,
    /// No protected resource metadata anywhere.
    NoPrm,
    /// No authorization server metadata anywhere.
    NoAs,
    /// AS metadata at the root only, not with the MCP path inserted.
    NoAsPath,
    /// `resource` with a trailing slash the URL lacks.
    ResourceSlash,
    /// A tool named `notes.read`.
    ToolName,
    /// A tool whose input schema is `{"type": "object"}`.
    ToolNoProperties,
    /// A tool without annotations.
    ToolNoAnnotations,
    /// Not a fault: a person approves on a consent page (the `approve=yes` query parameter
    /// stands for pressing the button).
    Consent,
    /// Not a fault: the challenge asks for `notes notes.write`, so clients hold both at connect.
    WideChallenge,
    /// The SSE answers start with a comment that is not UTF-8 (clients decode leniently).
    SseNotUtf8,
    /// The token endpoint answers 200 with an HTML page (a login wall in front of it).
    TokenHtml,
    /// Hostile: the first revocation is answered, every later one never is.
    StallRevocations,
    /// Hostile: terminal escape sequences (C0 and C1 controls, a newline) in every string
    /// the doctor may print: the protocol version, a tool's name, the error bodies.
    Escapes,
    /// Hostile: registration refused with a body of escape sequences and invalid UTF-8.
    EscapesInError,
    /// Hostile: every `tools/list` page holds thousands of empty tools and points to another.
    ManyTools,
    /// Hostile: `scopes_supported` lists tens of thousands of invalid scopes.
    ManyScopes,
    /// Hostile: the authorization endpoint has this scheme (`javascript:`, `file:`).
    AuthorizeScheme(&'static str),
    /// Hostile: a request to this path is read and never answered.
    Stall(&'static str),
    /// Hostile: a request to this path gets its answer one byte a second.
    Drip(&'static str),
    /// Hostile: `tools/list` answers with an SSE stream of comments that never ends.
    EndlessSse,
    /// Hostile: `initialize` answers with a 1 GB body, written as fast as it is read.
    HugeBody,
    /// Hostile: `tools/list` answers with JSON nested 100 000 deep.
    Nested,
    /// Hostile: the protected resource metadata redirects to itself, the root one to `file:`.
    Redirects,
    /// Hostile: non-JSON where JSON is expected (authorization server metadata at the root
    /// form, the token endpoint), and a registration answer without `client_id`.
    NotJson,
}

#[derive(Default)]
struct State {
    next: u64,
    clients: BTreeMap<String, Value>,
    /// code → (client_id, scope, code_challenge)
    codes: BTreeMap<String, (String, String, String)>,
    /// access token → scope
    access: BTreeMap<String, String>,
    /// refresh token → (scope, what its redemption returned: (access, refresh))
    refresh: BTreeMap<String, (String, Option<(String, String)>)>,
    /// Revocation requests received.
    revocations: usize,
}

struct Fixture {
    base: String,
    fault: Fault,
    state: Mutex<State>,
}

struct Req {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: String,
}

fn form(s: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

fn read_req(stream: &TcpStream) -> Option<Req> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    Some(Req {
        method,
        path: path.to_string(),
        query: form(query),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &str) {
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let _ = stream.write_all(out.as_bytes());
}

fn json_reply(stream: &mut TcpStream, status: u16, v: &Value) {
    respond(
        stream,
        status,
        &[
            ("Content-Type", "application/json".into()),
            ("Cache-Control", "no-store".into()),
        ],
        &v.to_string(),
    );
}

impl Fixture {
    fn start(fault: Fault) -> Arc<Fixture> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let fx = Arc::new(Fixture {
            base,
            fault,
            state: Mutex::new(State::default()),
        });
        let server = fx.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let fx = server.clone();
                std::thread::spawn(move || fx.serve(stream));
            }
        });
        fx
    }

    fn url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    fn new_secret(&self, st: &mut State, prefix: &str) -> String {
        st.next += 1;
        format!("{prefix}-{}", st.next)
    }

    fn serve(&self, mut s: TcpStream) {
        let Some(req) = read_req(&s) else { return };
        if self.hostile(&mut s, &req) {
            return;
        }
        let base = &self.base;
        let prm = json!({
            "resource": if self.fault == Fault::ResourceSlash { format!("{}/", self.url()) } else { self.url() },
            "authorization_servers": [base],
            "scopes_supported": if matches!(self.fault, Fault::EmptyScope | Fault::Seed) {
                json!(["notes", ""])
            } else if self.fault == Fault::ManyScopes {
                json!(std::iter::repeat_n("bad scope", 50_000).collect::<Vec<_>>())
            } else {
                json!(["notes", "notes.write"])
            },
            "bearer_methods_supported": ["header"],
        });
        let asm = json!({
            "issuer": if self.fault == Fault::IssuerMismatch { format!("{base}/") } else { base.clone() },
            "authorization_endpoint": match self.fault {
                Fault::AuthorizeScheme(scheme) => format!("{scheme}//127.0.0.1/authorize?x=%0aalert(1)"),
                _ => format!("{base}/authorize"),
            },
            "token_endpoint": format!("{base}/token"),
            "registration_endpoint": format!("{base}/register"),
            "revocation_endpoint": format!("{base}/revoke"),
            "scopes_supported": if self.fault == Fault::Seed {
                json!(["notes", ""])
            } else {
                json!(["notes", "notes.write", "offline_access"])
            },
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        });
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/.well-known/oauth-protected-resource/mcp")
                if !matches!(self.fault, Fault::NoPathPrm | Fault::NoPrm) =>
            {
                json_reply(&mut s, 200, &prm)
            }
            ("GET", "/.well-known/oauth-protected-resource") if self.fault != Fault::NoPrm => {
                json_reply(&mut s, 200, &prm)
            }
            ("GET", "/.well-known/oauth-authorization-server") if self.fault != Fault::NoAs => {
                json_reply(&mut s, 200, &asm)
            }
            ("GET", "/.well-known/oauth-authorization-server/mcp")
                if !matches!(self.fault, Fault::NoAs | Fault::NoAsPath) =>
            {
                json_reply(&mut s, 200, &asm)
            }
            ("POST", "/register") => self.register(&mut s, &req),
            ("GET", "/authorize") => self.authorize(&mut s, &req),
            ("POST", "/token") => self.token(&mut s, &req),
            ("POST", "/revoke") => {
                let f = form(&req.body);
                let mut st = self.state.lock().unwrap();
                st.revocations += 1;
                if self.fault == Fault::StallRevocations && st.revocations > 1 {
                    drop(st);
                    let mut buf = [0u8; 1];
                    let _ = s.set_read_timeout(Some(Duration::from_secs(300)));
                    let _ = s.read(&mut buf);
                    return;
                }
                if let Some(t) = f.get("token") {
                    st.access.remove(t);
                    st.refresh.remove(t);
                }
                json_reply(&mut s, 200, &json!({}))
            }
            ("POST", "/mcp") => self.mcp(s, &req),
            _ => json_reply(&mut s, 404, &json!({"error": "not_found"})),
        }
    }

    fn register(&self, s: &mut TcpStream, req: &Req) {
        let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
        let mut st = self.state.lock().unwrap();
        let id = self.new_secret(&mut st, "client");
        let mut out = body.clone();
        out["client_id"] = json!(id);
        if body["token_endpoint_auth_method"] != "none" {
            out["client_secret"] = json!(format!("{id}-secret"));
            out["client_secret_expires_at"] = json!(0);
        }
        st.clients.insert(id, out.clone());
        json_reply(s, 201, &out)
    }

    fn authorize(&self, s: &mut TcpStream, req: &Req) {
        let q = &req.query;
        let mut st = self.state.lock().unwrap();
        let client = q.get("client_id").and_then(|c| st.clients.get(c)).cloned();
        let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
        let allowed = client.is_some_and(|c| {
            c["redirect_uris"]
                .as_array()
                .is_some_and(|a| a.iter().any(|u| u == redirect.as_str()))
        });
        if !allowed || q.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return json_reply(s, 400, &json!({"error": "invalid_request"}));
        }
        if self.fault == Fault::Consent && q.get("approve").map(String::as_str) != Some("yes") {
            return respond(
                s,
                200,
                &[("Content-Type", "text/html".into())],
                "<form>Allow?</form>",
            );
        }
        let requested = q.get("scope").cloned().unwrap_or_else(|| "notes".into());
        let scope = if self.fault == Fault::Seed {
            requested
        } else {
            requested
                .split_whitespace()
                .filter(|t| ["notes", "notes.write", "offline_access"].contains(t))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let code = self.new_secret(&mut st, "code");
        st.codes.insert(
            code.clone(),
            (
                q["client_id"].clone(),
                scope,
                q.get("code_challenge").cloned().unwrap_or_default(),
            ),
        );
        let mut loc = url::Url::parse(&redirect).unwrap();
        loc.query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", q.get("state").map_or("", String::as_str));
        respond(s, 302, &[("Location", loc.to_string())], "");
    }

    fn issue(&self, st: &mut State, scope: &str) -> (String, String) {
        let access = self.new_secret(st, "at");
        let refresh = self.new_secret(st, "rt");
        st.access.insert(access.clone(), scope.to_string());
        st.refresh
            .insert(refresh.clone(), (scope.to_string(), None));
        (access, refresh)
    }

    fn token_reply(&self, s: &mut TcpStream, scope: &str, access: &str, refresh: &str) {
        let mut body = json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 3600,
            "scope": if self.fault == Fault::TokenScopeSpace { format!("{scope} ") } else { scope.to_string() },
        });
        if self.fault != Fault::NoRefresh {
            body["refresh_token"] = json!(refresh);
        }
        json_reply(s, 200, &body)
    }

    fn token(&self, s: &mut TcpStream, req: &Req) {
        let f = form(&req.body);
        let mut st = self.state.lock().unwrap();
        match f.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let Some((client, scope, challenge)) =
                    f.get("code").and_then(|c| st.codes.remove(c))
                else {
                    return json_reply(s, 400, &json!({"error": "invalid_grant"}));
                };
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if computed != challenge || f.get("client_id") != Some(&client) {
                    return json_reply(s, 400, &json!({"error": "invalid_grant"}));
                }
                let (a, r) = self.issue(&mut st, &scope);
                drop(st);
                self.token_reply(s, &scope, &a, &r)
            }
            Some("refresh_token") => {
                let rt = f.get("refresh_token").cloned().unwrap_or_default();
                let Some((scope, earlier)) = st.refresh.get(&rt).cloned() else {
                    return json_reply(s, 400, &json!({"error": "invalid_grant"}));
                };
                // Redeemed before: a healthy server answers again inside a grace period and
                // keeps what it answered first; the faulty one revokes that.
                if let Some((a, r)) = earlier
                    && self.fault == Fault::RefreshKills
                {
                    st.access.remove(&a);
                    st.refresh.remove(&r);
                }
                let (a, r) = self.issue(&mut st, &scope);
                st.refresh
                    .insert(rt, (scope.clone(), Some((a.clone(), r.clone()))));
                drop(st);
                self.token_reply(s, &scope, &a, &r)
            }
            _ => json_reply(s, 400, &json!({"error": "unsupported_grant_type"})),
        }
    }

    fn challenge(&self) -> Vec<(&'static str, String)> {
        if self.fault == Fault::NoChallenge {
            return Vec::new();
        }
        vec![("WWW-Authenticate", self.challenge_value())]
    }

    fn challenge_value(&self) -> String {
        let mut c = format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            self.base
        );
        if self.fault == Fault::WideChallenge {
            c.push_str(", scope=\"notes notes.write\"");
        } else if self.fault != Fault::Seed {
            c.push_str(", scope=\"notes\"");
        }
        c
    }

    fn mcp(&self, mut s: TcpStream, req: &Req) {
        let header = |k: &str| req.headers.get(k).map(String::as_str);
        if self.fault == Fault::OriginRefused
            && header("origin").is_some_and(|o| o != self.base.as_str())
        {
            return json_reply(&mut s, 403, &json!({"error": "origin not allowed"}));
        }
        if self.fault == Fault::UaBlocked && header("user-agent") == Some("Claude-User") {
            return respond(&mut s, 403, &[], "blocked");
        }
        let token = header("authorization").and_then(|a| a.strip_prefix("Bearer "));
        let scope = token.and_then(|t| self.state.lock().unwrap().access.get(t).cloned());
        let Some(scope) = scope else {
            return respond(&mut s, 401, &self.challenge(), "");
        };
        let msg: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
        let id = msg["id"].clone();
        let result = match msg["method"].as_str().unwrap_or_default() {
            "initialize" if self.fault == Fault::HugeBody => return huge_body(s),
            "initialize" if self.fault == Fault::Escapes => {
                json!({"protocolVersion": "2025-11-25\u{1b}[2J\u{9b}31m\nok   fake",
                "capabilities": {"tools": {}}, "serverInfo": {"name": "fixture", "version": "1"}})
            }
            "initialize" => json!({"protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}}, "serverInfo": {"name": "fixture", "version": "1"}}),
            "tools/list" => {
                let annotations =
                    json!({"readOnlyHint": true, "destructiveHint": false, "openWorldHint": false});
                let mut read = json!({"name": "read_note", "inputSchema": {"type": "object", "properties": {}}, "annotations": annotations});
                match self.fault {
                    Fault::ToolName => read["name"] = json!("notes.read"),
                    Fault::ToolNoProperties => read["inputSchema"] = json!({"type": "object"}),
                    Fault::ToolNoAnnotations => read["annotations"] = json!({"title": "Read"}),
                    Fault::Escapes => {
                        read["name"] = json!("evil\u{1b}]0;pwned\u{7}\u{202e}");
                        read["inputSchema"] = json!({"type": "object"});
                    }
                    Fault::ManyTools => {
                        let page = msg["params"]["cursor"].as_str().unwrap_or("0");
                        let next = page.parse::<u32>().unwrap_or(0) + 1;
                        let tools = vec![json!({}); 5_000];
                        return json_reply(
                            &mut s,
                            200,
                            &json!({"jsonrpc": "2.0", "id": id,
                            "result": {"tools": tools, "nextCursor": next.to_string()}}),
                        );
                    }
                    Fault::EndlessSse => return endless_sse(s),
                    Fault::Nested => {
                        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
                        return respond(
                            &mut s,
                            200,
                            &[("Content-Type", "application/json".into())],
                            &deep,
                        );
                    }
                    _ => {}
                }
                let tools = json!({"tools": [
                    read,
                    {"name": "write_note", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}, "annotations": annotations},
                ]});
                return self.sse(s, json!({"jsonrpc": "2.0", "id": id, "result": tools}));
            }
            "tools/call" => {
                let tool = msg["params"]["name"].as_str().unwrap_or_default();
                let granted: BTreeSet<&str> = scope.split(' ').collect();
                if tool == "write_note" && !granted.contains("notes.write") {
                    let c = format!(
                        "Bearer error=\"insufficient_scope\", scope=\"notes notes.write\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
                        self.base
                    );
                    return respond(&mut s, 403, &[("WWW-Authenticate", c)], "");
                }
                if tool == "broken" {
                    json!({"content": [{"type": "text", "text": "boom: the notes store is down"}], "isError": true})
                } else {
                    json!({"content": [{"type": "text", "text": "done"}]})
                }
            }
            _ if id.is_null() => return respond(&mut s, 202, &[], ""),
            _ => json!({}),
        };
        json_reply(
            &mut s,
            200,
            &json!({"jsonrpc": "2.0", "id": id, "result": result}),
        )
    }

    /// An SSE answer: a keep-alive comment at once and the response a moment later; behind
    /// the "buffering proxy" both come together when the stream ends.
    fn sse(&self, mut s: TcpStream, response: Value) {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
        let ping = ": keep-alive\n\n";
        let event = format!("event: message\ndata: {response}\n\n");
        let _ = s.write_all(head.as_bytes());
        let _ = s.flush();
        if self.fault == Fault::SseNotUtf8 {
            let _ = s.write_all(b": \xff\xfe keep-alive\n\n");
            let _ = s.write_all(event.as_bytes());
            return;
        }
        if self.fault == Fault::SseBuffered {
            std::thread::sleep(Duration::from_millis(400));
            let _ = s.write_all(format!("{ping}{event}").as_bytes());
        } else {
            let _ = s.write_all(ping.as_bytes());
            let _ = s.flush();
            std::thread::sleep(Duration::from_millis(400));
            let _ = s.write_all(event.as_bytes());
        }
    }
}

impl Fixture {
    /// The hostile behaviours that replace a whole answer; `true` when this request was
    /// answered (or deliberately not) here.
    fn hostile(&self, s: &mut TcpStream, req: &Req) -> bool {
        let path = req.path.as_str();
        match self.fault {
            Fault::Stall(p) if p == path => {
                // Hold the connection open, answering nothing, until the client gives up.
                let mut buf = [0u8; 1];
                let _ = s.set_read_timeout(Some(Duration::from_secs(300)));
                let _ = s.read(&mut buf);
            }
            Fault::Drip(p) if p == path => {
                let body = json!({"issuer": self.base}).to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len() + 1_000
                );
                let _ = s.write_all(head.as_bytes());
                for b in body
                    .bytes()
                    .chain(std::iter::repeat(b' '))
                    .take(body.len() + 1_000)
                {
                    if s.write_all(&[b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Fault::EscapesInError if path == "/register" => {
                let mut out =
                    b"HTTP/1.1 400 X\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                        .to_vec();
                out.extend_from_slice(
                    b"\x1b[2J\x1b]0;pwned\x07 \xff\xfe bad\r\nFAIL fake line \xc2\x9b31m",
                );
                let _ = s.write_all(&out);
            }
            Fault::Redirects if path == "/.well-known/oauth-protected-resource/mcp" => {
                respond(s, 302, &[("Location", format!("{}{path}", self.base))], "")
            }
            Fault::Redirects if path == "/.well-known/oauth-protected-resource" => {
                respond(s, 307, &[("Location", "file:///etc/passwd".into())], "")
            }
            Fault::NotJson if path == "/.well-known/oauth-authorization-server/mcp" => respond(
                s,
                200,
                &[("Content-Type", "application/json".into())],
                "<html>not json</html>",
            ),
            Fault::NotJson if path == "/register" => {
                json_reply(s, 201, &json!({"client_name": "x"}))
            }
            Fault::TokenHtml if path == "/token" => respond(
                s,
                200,
                &[("Content-Type", "text/html".into())],
                "<html><body>Please log in</body></html>",
            ),
            _ => return false,
        }
        true
    }
}

/// A 1 GB JSON body, written as fast as the client reads it.
fn huge_body(mut s: TcpStream) {
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n";
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < 1_000_000_000 && s.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
}

/// An SSE answer of keep-alive comments that never ends (until the client hangs up).
fn endless_sse(mut s: TcpStream) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
    if s.write_all(head.as_bytes()).is_err() {
        return;
    }
    while s.write_all(b": keep-alive\n\n").is_ok() {}
}

fn options(url: String, client: &str) -> Options {
    Options {
        url,
        client: mcpgen::clients::client(client).unwrap(),
        token: None,
        call: None,
        timeout: Duration::from_secs(10),
        approval_wait: Duration::from_secs(60),
        browser: None,
        hosted: Some(true),
    }
}

/// The error and warning findings of a report, as (id, severity).
fn problems(report: &Report) -> Vec<(&'static str, Severity)> {
    report
        .findings()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| (f.id, f.severity))
        .collect()
}

fn check_fault(fault: Fault) -> Report {
    let fx = Fixture::start(fault);
    doctor::run(&options(fx.url(), "claude")).expect("the fixture answers")
}

#[test]
fn a_healthy_server_has_no_error_or_warning() {
    let report = check_fault(Fault::None);
    assert_eq!(problems(&report), [], "{}", report.render());
    assert!(report.ok());
    // Every step ran, in the order the client performs them.
    let steps: Vec<&str> = report.steps.iter().map(|s| s.name).collect();
    assert_eq!(
        steps,
        [
            "challenge",
            "discovery",
            "metadata",
            "registration",
            "authorize",
            "token",
            "initialize",
            "tools",
            "call",
            "refresh",
            "revocation"
        ]
    );
}

#[test]
fn each_fault_yields_exactly_its_finding() {
    use Severity::{Error, Warning};
    let cases = [
        (Fault::EmptyScope, vec![("scope.malformed", Error)]),
        (
            Fault::TokenScopeSpace,
            vec![("token.scope_malformed", Error)],
        ),
        (
            Fault::Seed,
            vec![("scope.malformed", Error), ("token.scope_malformed", Error)],
        ),
        (
            Fault::NoPathPrm,
            vec![("discovery.prm_path_missing", Warning)],
        ),
        (Fault::IssuerMismatch, vec![("issuer.mismatch", Error)]),
        (Fault::NoRefresh, vec![("token.no_refresh", Warning)]),
        (Fault::RefreshKills, vec![("refresh.dead_token", Error)]),
        (Fault::OriginRefused, vec![("origin.refused", Error)]),
        (
            Fault::SseBuffered,
            vec![("transport.sse_buffered", Warning)],
        ),
        (Fault::UaBlocked, vec![("waf.blocked", Error)]),
        (Fault::NoChallenge, vec![("challenge.missing", Error)]),
        (Fault::NoPrm, vec![("discovery.prm_missing", Error)]),
        (Fault::NoAs, vec![("discovery.as_missing", Error)]),
        (
            Fault::NoAsPath,
            vec![("discovery.as_path_missing", Warning)],
        ),
        (Fault::ResourceSlash, vec![("resource.mismatch", Warning)]),
        (Fault::ToolName, vec![("tools.name_invalid", Error)]),
        (
            Fault::ToolNoProperties,
            vec![("tools.schema_no_properties", Warning)],
        ),
        (
            Fault::ToolNoAnnotations,
            vec![("tools.annotations_missing", Warning)],
        ),
    ];
    for (fault, expected) in cases {
        let report = check_fault(fault);
        let mut got = problems(&report);
        got.dedup();
        assert_eq!(got, expected, "{fault:?}:\n{}", report.render());
        let json = report.to_json();
        assert_eq!(json["ok"], !expected.iter().any(|(_, s)| *s == Error));
    }
}

#[test]
fn a_resource_differing_by_a_trailing_slash_is_an_error_for_clients_that_compare_exactly() {
    let fx = Fixture::start(Fault::ResourceSlash);
    let report = doctor::run(&options(fx.url(), "vscode")).unwrap();
    assert_eq!(
        problems(&report),
        [("resource.mismatch", Severity::Error)],
        "{}",
        report.render()
    );
}

/// A person at a browser: opens the authorization URL, approves, and the browser follows the
/// redirect to the doctor's loopback listener.
fn person_approves(url: &str) {
    let url = format!("{url}&approve=yes");
    std::thread::spawn(move || {
        let agent = common::agent();
        let approved = common::reply(agent.get(&url).call());
        let location = approved.header("location").expect("a redirect").to_owned();
        common::reply(agent.get(&location).call());
    });
}

#[test]
fn when_a_person_must_approve_the_doctor_waits_for_the_redirect_on_loopback() {
    let fx = Fixture::start(Fault::Consent);
    let mut opts = options(fx.url(), "claude");
    opts.browser = Some(person_approves);
    let report = doctor::run(&opts).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
    let authorize = report.steps.iter().find(|s| s.name == "authorize").unwrap();
    assert!(
        matches!(&authorize.outcome, doctor::Outcome::Passed(t) if t.starts_with("code received")),
        "{}",
        report.render()
    );
    assert!(
        report.steps.iter().any(|s| s.name == "tools"
            && matches!(&s.outcome, doctor::Outcome::Passed(t) if t == "2 tools"))
    );

    // Nobody approves: the doctor gives up after its wait, and says so.
    let fx = Fixture::start(Fault::Consent);
    let mut opts = options(fx.url(), "claude");
    opts.approval_wait = Duration::from_millis(100);
    let report = doctor::run(&opts).unwrap();
    assert_eq!(
        problems(&report),
        [("authorize.failed", Severity::Error)],
        "{}",
        report.render()
    );
}

#[test]
fn the_seed_incident_is_named_with_the_scope_claude_built() {
    let report = check_fault(Fault::Seed);
    let token = report
        .findings()
        .find(|f| f.id == "token.scope_malformed")
        .unwrap();
    assert_eq!(token.step, "token");
    assert!(
        token.message.contains("\"notes \"") && token.message.contains("ends with a space"),
        "{}",
        token.message
    );
    assert!(!token.fix.is_empty() && token.reference.contains("RFC 6749 §3.3"));
}

#[test]
fn loopback_servers_are_not_held_to_what_hosted_clients_cannot_reach() {
    for fault in [Fault::OriginRefused, Fault::UaBlocked] {
        let fx = Fixture::start(fault);
        let mut opts = options(fx.url(), "claude");
        opts.hosted = None;
        let report = doctor::run(&opts).unwrap();
        assert_eq!(problems(&report), [], "{}", report.render());
        let f = report
            .findings()
            .find(|f| matches!(f.id, "origin.refused" | "waf.blocked"))
            .expect("still reported");
        assert_eq!(f.severity, Severity::Info);
    }
}

#[test]
fn a_tool_needing_more_than_connect_scopes_fails_only_for_clients_that_do_not_step_up() {
    let fx = Fixture::start(Fault::None);
    let mut opts = options(fx.url(), "claude");
    opts.call = Some(("write_note".into(), json!({"text": "x"})));
    let report = doctor::run(&opts).unwrap();
    assert_eq!(
        problems(&report),
        [("stepup.required", Severity::Error)],
        "{}",
        report.render()
    );
    let f = report
        .findings()
        .find(|f| f.id == "stepup.required")
        .unwrap();
    assert!(f.message.contains("\"notes.write\""), "{}", f.message);
    assert!(f.reference.contains("anthropics/claude-ai-mcp#931"));

    opts.client = mcpgen::clients::client("vscode").unwrap();
    let report = doctor::run(&opts).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
    assert!(report.findings().any(|f| f.id == "stepup.required"));

    opts.call = Some(("read_note".into(), json!({})));
    opts.client = mcpgen::clients::client("claude").unwrap();
    let report = doctor::run(&opts).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
}

fn mcpgen_doctor(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .arg("doctor")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_command_exits_0_1_or_2_and_prints_json() {
    let healthy = Fixture::start(Fault::None);
    let (code, out) = mcpgen_doctor(&[&healthy.url(), "--no-browser"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing found that makes Claude"), "{out}");

    let faulty = Fixture::start(Fault::EmptyScope);
    let (code, out) = mcpgen_doctor(&[&faulty.url(), "--as", "claude", "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["url"], faulty.url());
    assert_eq!(v["client"], "claude");
    assert_eq!(v["ok"], false);
    let f = &v["findings"][0];
    assert_eq!(f["id"], "scope.malformed");
    assert_eq!(f["severity"], "error");
    for k in ["step", "message", "fix", "reference"] {
        assert!(f[k].is_string(), "{k} in {f}");
    }

    let port = common::free_port();
    let (code, _) = mcpgen_doctor(&[&format!("http://127.0.0.1:{port}/mcp")]);
    assert_eq!(code, 2);
}

#[test]
fn a_generated_server_has_no_error_or_warning() {
    let server = common::start("medtainer-mcp", &["--consent", "auto"]);
    let mut opts = options(format!("{}/mcp", server.base), "claude");
    opts.hosted = None;
    let report = doctor::run(&opts).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
    for step in &report.steps {
        assert!(
            matches!(step.outcome, doctor::Outcome::Passed(_)) || step.name == "call",
            "{}",
            report.render()
        );
    }
    // On loopback the browser origin Claude may send is refused, which is right there.
    let origin = report.findings().find(|f| f.id == "origin.refused");
    assert!(origin.is_none_or(|f| f.severity == Severity::Info));
}

#[test]
fn help_says_what_the_doctor_changes_on_a_server() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args(["doctor", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("changes nothing on the server beyond registering one client and obtaining and revoking its own tokens"),
        "{help}"
    );
    for id in ["claude", "chatgpt", "vscode", "cursor", "generic"] {
        assert!(help.contains(id), "{id} in {help}");
    }
}

#[test]
fn the_readme_lists_every_finding_id_with_an_example() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    for rule in mcpgen::doctor::rules::RULES {
        assert!(
            readme.contains(&format!("| `{}` |", rule.id)),
            "README.md does not list `{}`",
            rule.id
        );
    }
}

#[test]
fn the_generated_readme_tells_the_operator_to_run_the_doctor_after_each_deploy() {
    let readme =
        std::fs::read_to_string(common::repo().join("tests/golden/medtainer/README.md")).unwrap();
    assert!(readme.contains("After each deploy"), "{readme}");
    assert!(
        readme.contains("`mcpgen doctor https://medtainer.aijesusbro.com/mcp --as claude`"),
        "{readme}"
    );
}

/// Runs the doctor on a thread and fails the test, instead of hanging it, if the doctor does
/// not finish within `limit` (far beyond what its per-request timeouts allow).
fn run_or_hang(opts: Options, limit: Duration) -> Result<Report, doctor::NotReached> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(doctor::run(&opts));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the doctor did not finish within {limit:?}"))
}

/// A character that must not reach a terminal raw: C0 and C1 controls, DEL, and the
/// bidirectional overrides that reorder what a reader sees.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[test]
fn escape_sequences_from_a_hostile_server_are_escaped_in_the_text_report() {
    for fault in [Fault::Escapes, Fault::EscapesInError] {
        let fx = Fixture::start(fault);
        let report = doctor::run(&options(fx.url(), "claude")).unwrap();
        let text = report.render();
        let raw: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && unsafe_char(*c))
            .collect();
        assert!(raw.is_empty(), "{fault:?}: raw {raw:?} in:\n{text}");
        // A newline in a server's string does not start a line of its own in the report.
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("ok   fake") || l.starts_with("FAIL fake")),
            "{fault:?}:\n{text}"
        );
        // What was escaped is still shown.
        assert!(text.contains("[2J"), "{fault:?}:\n{text}");
    }
}

#[test]
fn a_flood_of_tools_or_scopes_yields_a_bounded_report() {
    for (fault, id) in [
        (Fault::ManyTools, "tools.name_invalid"),
        (Fault::ManyScopes, "scope.malformed"),
    ] {
        let fx = Fixture::start(fault);
        let report = run_or_hang(options(fx.url(), "claude"), Duration::from_secs(120)).unwrap();
        let same = report.findings().filter(|f| f.id == id).count();
        assert!(same > 0, "{fault:?}:\n{}", report.render());
        assert!(
            report.findings().count() <= 40,
            "{fault:?}: {} findings",
            report.findings().count()
        );
        // The findings left out are counted, not silently dropped.
        assert!(
            report
                .findings()
                .any(|f| f.id == id && f.message.contains("more")),
            "{fault:?}"
        );
        assert!(report.render().len() < 64 * 1024, "{fault:?}");
    }
}

static OPENED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_browser(url: &str) {
    OPENED.lock().unwrap().push(url.to_string());
}

#[test]
fn a_browser_is_never_opened_on_an_authorization_url_that_is_not_http() {
    for scheme in ["javascript:", "file:", "data:"] {
        let fx = Fixture::start(Fault::AuthorizeScheme(scheme));
        let mut opts = options(fx.url(), "claude");
        opts.browser = Some(record_browser);
        opts.approval_wait = Duration::from_secs(1);
        let report = run_or_hang(opts, Duration::from_secs(120)).unwrap();
        assert_eq!(
            problems(&report),
            [("authorize.failed", Severity::Error)],
            "{scheme}:\n{}",
            report.render()
        );
    }
    assert_eq!(*OPENED.lock().unwrap(), Vec::<String>::new());
}

#[test]
fn a_server_that_stalls_or_drips_is_given_up_on_at_the_timeout() {
    let cases = [
        (Fault::Stall("/register"), "registration.failed"),
        (
            Fault::Drip("/.well-known/oauth-authorization-server"),
            "discovery.as_missing",
        ),
        (Fault::Stall("/token"), "token.failed"),
    ];
    for (fault, id) in cases {
        let fx = Fixture::start(fault);
        let mut opts = options(fx.url(), "claude");
        opts.timeout = Duration::from_secs(1);
        let report = run_or_hang(opts, Duration::from_secs(120)).unwrap();
        assert_eq!(
            problems(&report),
            [(id, Severity::Error)],
            "{fault:?}:\n{}",
            report.render()
        );
    }
    // The MCP endpoint itself never answering: the URL cannot be reached (exit 2).
    let fx = Fixture::start(Fault::Stall("/mcp"));
    let mut opts = options(fx.url(), "claude");
    opts.timeout = Duration::from_secs(1);
    assert!(run_or_hang(opts, Duration::from_secs(120)).is_err());
}

#[test]
fn endless_huge_or_deeply_nested_answers_fail_their_step_without_hanging() {
    for (fault, step) in [
        (Fault::EndlessSse, "tools"),
        (Fault::HugeBody, "initialize"),
        (Fault::Nested, "tools"),
    ] {
        let fx = Fixture::start(fault);
        let mut opts = options(fx.url(), "claude");
        opts.timeout = Duration::from_secs(5);
        let report = run_or_hang(opts, Duration::from_secs(120)).unwrap();
        let f = report
            .findings()
            .find(|f| f.id == "mcp.failed")
            .unwrap_or_else(|| panic!("{fault:?}:\n{}", report.render()));
        assert_eq!(f.step, step, "{fault:?}");
        assert!(report.render().len() < 64 * 1024, "{fault:?}");
    }
}

#[test]
fn redirects_and_answers_that_are_not_json_are_findings() {
    let report = check_fault(Fault::Redirects);
    assert_eq!(
        problems(&report),
        [("discovery.prm_missing", Severity::Error)],
        "{}",
        report.render()
    );
    let report = check_fault(Fault::NotJson);
    assert_eq!(
        problems(&report),
        [
            ("discovery.as_path_missing", Severity::Warning),
            ("registration.failed", Severity::Error)
        ],
        "{}",
        report.render()
    );
}

/// An access token the fixture accepts, with this scope, as if issued earlier.
fn given_token(fx: &Fixture, scope: &str) -> String {
    fx.state
        .lock()
        .unwrap()
        .access
        .insert("given".into(), scope.into());
    "given".into()
}

#[test]
fn a_given_token_lacking_a_scope_the_client_gets_at_connect_is_not_a_step_up_failure() {
    // Claude asks for `notes notes.write` at connect; the token given has `notes` only.
    let fx = Fixture::start(Fault::WideChallenge);
    let mut opts = options(fx.url(), "claude");
    opts.token = Some(given_token(&fx, "notes"));
    opts.call = Some(("write_note".into(), json!({"text": "x"})));
    let report = doctor::run(&opts).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
    let call = report.steps.iter().find(|s| s.name == "call").unwrap();
    assert!(
        matches!(&call.outcome, doctor::Outcome::Skipped(t) if t.contains("--token lacks") && t.contains("notes.write")),
        "{}",
        report.render()
    );

    // Where the client does not ask for it at connect, the step-up failure stands.
    let fx = Fixture::start(Fault::None);
    let mut opts = options(fx.url(), "claude");
    opts.token = Some(given_token(&fx, "notes"));
    opts.call = Some(("write_note".into(), json!({"text": "x"})));
    let report = doctor::run(&opts).unwrap();
    assert_eq!(
        problems(&report),
        [("stepup.required", Severity::Error)],
        "{}",
        report.render()
    );
}

#[test]
fn a_refused_given_token_is_named_as_the_token_at_fault() {
    let fx = Fixture::start(Fault::None);
    let mut opts = options(fx.url(), "claude");
    opts.token = Some("expired".into());
    let report = doctor::run(&opts).unwrap();
    let f = report
        .findings()
        .find(|f| f.id == "mcp.failed")
        .expect("initialize fails");
    assert!(f.message.contains("--token is refused"), "{}", f.message);
    assert!(f.fix.contains("--token"), "{}", f.fix);
}

#[test]
fn on_loopback_a_refused_origin_asks_for_no_change() {
    let fx = Fixture::start(Fault::OriginRefused);
    let mut opts = options(fx.url(), "claude");
    opts.hosted = None;
    let report = doctor::run(&opts).unwrap();
    let f = report
        .findings()
        .find(|f| f.id == "origin.refused")
        .unwrap();
    assert_eq!(f.severity, Severity::Info);
    assert!(f.fix.starts_with("nothing to change"), "{}", f.fix);
}

#[test]
fn a_tool_error_is_shown_with_its_text() {
    let fx = Fixture::start(Fault::None);
    let mut opts = options(fx.url(), "claude");
    opts.call = Some(("broken".into(), json!({})));
    let report = doctor::run(&opts).unwrap();
    let call = report.steps.iter().find(|s| s.name == "call").unwrap();
    assert!(
        matches!(&call.outcome, doctor::Outcome::Passed(t) if t.contains("isError: true") && t.contains("the notes store is down")),
        "{}",
        report.render()
    );
}

#[test]
fn a_url_without_the_mcp_path_is_pointed_to_it() {
    let fx = Fixture::start(Fault::None);
    for url in [fx.base.clone(), format!("{}/", fx.base)] {
        let report = doctor::run(&options(url, "claude")).unwrap();
        let f = report
            .findings()
            .find(|f| f.id == "challenge.status")
            .unwrap();
        assert!(
            f.message
                .contains(&format!("a POST to \"{}\" gets 401", fx.url())),
            "{}",
            f.message
        );
    }
}

#[test]
fn the_doctor_leaves_no_refresh_token_of_its_own_usable() {
    let fx = Fixture::start(Fault::None);
    let report = doctor::run(&options(fx.url(), "claude")).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
    // Refresh tokens the fixture issued and that were neither redeemed nor revoked.
    let st = fx.state.lock().unwrap();
    let live: Vec<&String> = st
        .refresh
        .iter()
        .filter(|(_, (_, redeemed))| redeemed.is_none())
        .map(|(t, _)| t)
        .collect();
    assert_eq!(live, Vec::<&String>::new(), "{}", report.render());
    assert_eq!(st.access.len(), 0, "{}", report.render());
}

#[test]
fn a_revocation_endpoint_that_stalls_costs_one_timeout_not_one_per_token() {
    let fx = Fixture::start(Fault::StallRevocations);
    let mut opts = options(fx.url(), "claude");
    opts.timeout = Duration::from_secs(1);
    let report = run_or_hang(opts, Duration::from_secs(120)).unwrap();
    assert_eq!(problems(&report), [], "{}", report.render());
    let step = report
        .steps
        .iter()
        .find(|s| s.name == "revocation")
        .unwrap();
    assert!(
        matches!(&step.outcome, doctor::Outcome::Passed(t) if t.contains("refused or not tried")),
        "{}",
        report.render()
    );
    assert_eq!(fx.state.lock().unwrap().revocations, 2);
}

#[test]
fn a_token_answer_that_is_not_json_is_shown_as_it_came() {
    let report = check_fault(Fault::TokenHtml);
    assert_eq!(
        problems(&report),
        [("token.failed", Severity::Error)],
        "{}",
        report.render()
    );
    let f = report.findings().find(|f| f.id == "token.failed").unwrap();
    assert!(f.message.contains("Please log in"), "{}", f.message);
}

#[test]
fn an_sse_comment_that_is_not_utf8_does_not_fail_the_answer() {
    let report = check_fault(Fault::SseNotUtf8);
    assert_eq!(problems(&report), [], "{}", report.render());
}
