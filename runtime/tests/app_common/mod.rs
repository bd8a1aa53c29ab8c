//! Shared fixtures of the application-layer tests: an app description like a generated
//! `main.rs` fills in (one template tool, one Rust tool), its handler, an injectable
//! environment, and in-process request helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use mcpgen_runtime::app::{App, AuthSpec};
use mcpgen_runtime::config::{Command, Config, StartError};
use mcpgen_runtime::oauth::Login;
use mcpgen_runtime::template::Template;
use mcpgen_runtime::tools::{
    Annotations, BoxFuture, ServerInfo, ToolContext, ToolDef, ToolError, ToolHandler, ToolResult,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const PUBLIC: &str = "https://medtainer.example.com";

/// RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub const GREETING: &str = "Order {{ order_id }} for {{ name }} is on its way.\n";

fn tool(name: &str, scopes: &[&str], input: Value) -> ToolDef {
    ToolDef {
        name: name.into(),
        title: None,
        description: format!("the {name} tool"),
        input_schema: input,
        output_schema: None,
        annotations: Annotations {
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: false,
        },
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// A production-shaped app: https public URL, password consent, issuer equal to the public
/// URL, a template tool (`greet`) and a Rust tool (`echo`).
pub fn app() -> App {
    App {
        name: "medtainer-mcp",
        info: ServerInfo {
            name: "medtainer".into(),
            version: "0.3.1".into(),
            title: Some("MedTainer".into()),
            ..Default::default()
        },
        tools: vec![
            tool(
                "greet",
                &["claudeai"],
                json!({"type": "object", "properties": {"order_id": {"type": "string"}, "name": {"type": "string"}}, "required": ["order_id"]}),
            ),
            tool(
                "echo",
                &["orders.read"],
                json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
            ),
        ],
        public_url: PUBLIC.into(),
        endpoint: "/mcp".into(),
        bind: "0.0.0.0:8080".into(),
        allowed_origins: vec!["https://claude.ai".into()],
        hosted_client_origins: None,
        protocol_versions: vec![],
        auth: Some(AuthSpec {
            issuer: Some(format!("{PUBLIC}/")),
            scopes: vec![
                ("claudeai".into(), "Use MedTainer from Claude".into()),
                ("orders.read".into(), "Read orders".into()),
            ],
            default_scopes: vec!["claudeai".into()],
            login: Login::Password,
            oidc: None,
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(120),
            dynamic_registration: true,
            client_id_metadata_documents: false,
            extra_redirect_uris: vec![],
        }),
    }
}

/// The handler a generated `tools.rs` would write: templates compiled once, Rust tools
/// dispatched by name.
pub struct Handler {
    greet: Template,
}

impl Handler {
    pub fn new() -> Self {
        Self::with_greeting(GREETING)
    }

    /// A handler whose `greet` renders `template` instead (it sees `caller`, as every
    /// template tool does).
    pub fn with_greeting(template: &str) -> Self {
        Self {
            greet: Template::new("greet", template).expect("template compiles"),
        }
    }
}

impl ToolHandler for Handler {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: Value,
        ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>> {
        Box::pin(async move {
            match tool {
                "greet" => self.greet.render_for(&args, &ctx),
                "echo" => Ok(ToolResult::text(args["text"].as_str().unwrap_or_default())),
                other => Err(ToolError::new(format!("no tool {other}"))),
            }
        })
    }
}

/// An environment made of the given pairs.
pub fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// Parses a command line (without the program name) and environment for `app`.
pub fn parse_for(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Result<Command, StartError> {
    let argv = std::iter::once(app.name).chain(args.iter().copied());
    Config::parse(app, argv, env(vars))
}

/// Like [`parse_for`], expecting a configuration to serve with.
pub fn config_for(app: &App, args: &[&str], vars: &[(&str, &str)]) -> Config {
    match parse_for(app, args, vars) {
        Ok(Command::Serve(c)) => c,
        other => panic!("expected a serve configuration, got {other:?}"),
    }
}

/// Like [`parse_for`], expecting a start-up error; returns its message.
pub fn error_for(app: &App, args: &[&str], vars: &[(&str, &str)]) -> String {
    match parse_for(app, args, vars) {
        Err(e) => e.to_string(),
        other => panic!("expected a start-up error, got {other:?}"),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not json ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// A GET with the `Host` header a client of `origin` would send.
pub async fn get(router: &Router, host: &str, uri: &str) -> Reply {
    send(
        router,
        Request::get(uri)
            .header(header::HOST, host)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A JSON-RPC POST to `uri` with a bearer token, in the 2025-11-25 era.
pub async fn rpc(
    router: &Router,
    host: &str,
    uri: &str,
    token: Option<&str>,
    body: Value,
) -> Reply {
    let mut req = Request::post(uri)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    send(
        router,
        req.body(Body::from(body.to_string())).expect("request"),
    )
    .await
}

/// One HTTP/1.1 request on its own TCP connection to `addr`, with `Host: HOST` (the public
/// host the process tests serve): the status and the whole response (head and body).
pub fn socket_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {PROCESS_HOST}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    (status, out)
}

/// The public host of the servers the process tests start (`https://mcp.example.org`).
pub const PROCESS_HOST: &str = "mcp.example.org";
