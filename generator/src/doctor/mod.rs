//! `mcpgen doctor URL`: walks the sequence a hosted MCP client performs against a deployed
//! server, as that client ([`crate::clients::CLIENTS`]), and says which step it fails at and
//! why.
//!
//! The steps: unauthenticated `POST` → 401 challenge → protected resource metadata (RFC 9728)
//! → authorization server metadata (RFC 8414 / OpenID) → registration (RFC 7591) →
//! authorization (PKCE S256) → token → `initialize` → `tools/list` → optionally one
//! `tools/call` → refresh (twice in a row, then two at once) → revocation (RFC 7009).
//!
//! The network code is in [`net`]; the checks and the finding catalogue in [`rules`] are pure.
//! The doctor changes nothing on a server beyond registering one client and obtaining and
//! revoking its own tokens.

pub mod net;
pub mod rules;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use mcpgen_rules::base_url;
use serde_json::{Value, json};
use sha2::Digest;

use crate::clients::ClientProfile;
use net::{Callback, Http, Reply, Request, Unreachable};
pub use rules::{Finding, Severity};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The MCP endpoint URL, as users enter it in the client.
    pub url: String,
    /// The client to impersonate.
    pub client: &'static ClientProfile,
    /// An access token to start from, skipping registration, authorization and token.
    pub token: Option<String>,
    /// One tool to call, with its arguments (a JSON object).
    pub call: Option<(String, Value)>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How long to wait for the user to approve in a browser.
    pub approval_wait: Duration,
    /// What to do with the authorization URL, besides printing it, when the server asks a
    /// person to approve: [`open_browser`] for the CLI, `None` with `--no-browser`.
    pub browser: Option<fn(&str)>,
    /// Judge the server as a hosted one even if the URL is loopback (`None`: from the URL).
    pub hosted: Option<bool>,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; the text says what was seen.
    Passed(String),
    /// The client stops here.
    Failed(String),
    /// Not attempted; the text says why.
    Skipped(String),
}

/// One step of the client's sequence and what it found.
#[derive(Debug, Clone)]
pub struct Step {
    /// Short name (`challenge`, `discovery`, ...): the `step` of its findings.
    pub name: &'static str,
    /// What happened.
    pub outcome: Outcome,
    /// What was found at this step.
    pub findings: Vec<Finding>,
}

/// The doctor's report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The URL checked.
    pub url: String,
    /// The client id impersonated.
    pub client: &'static ClientProfile,
    /// Steps in order.
    pub steps: Vec<Step>,
}

impl Report {
    /// Every finding, in step order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.steps.iter().flat_map(|s| s.findings.iter())
    }

    /// No `error` finding.
    pub fn ok(&self) -> bool {
        self.findings().all(|f| f.severity != Severity::Error)
    }

    /// `{"url", "client", "findings": [{"id", "severity", "step", "message", "fix",
    /// "reference"}], "ok"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "client": self.client.id,
            "findings": self.findings().collect::<Vec<_>>(),
            "ok": self.ok(),
        })
    }

    /// The readable report: one line per step with its findings under it, then a summary.
    pub fn render(&self) -> String {
        let mut out = format!(
            "mcpgen doctor {} as {}\n\n",
            printable(&self.url),
            self.client.name
        );
        for step in &self.steps {
            let (mark, text) = match &step.outcome {
                Outcome::Passed(t) => ("ok  ", t),
                Outcome::Failed(t) => ("FAIL", t),
                Outcome::Skipped(t) => ("skip", t),
            };
            out.push_str(&format!("{mark} {:<12} {}\n", step.name, printable(text)));
            for f in &step.findings {
                out.push_str(&format!(
                    "       {} {}: {}\n         fix: {}\n         see: {}\n",
                    f.severity.as_str(),
                    f.id,
                    printable(&f.message),
                    f.fix,
                    f.reference
                ));
            }
        }
        let count = |s| self.findings().filter(|f| f.severity == s).count();
        let (e, w, i) = (
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
        );
        out.push_str(&format!(
            "\n{e} error{}, {w} warning{}, {i} info: ",
            if e == 1 { "" } else { "s" },
            if w == 1 { "" } else { "s" }
        ));
        match self
            .steps
            .iter()
            .find(|s| s.findings.iter().any(|f| f.severity == Severity::Error))
        {
            Some(s) => out.push_str(&format!(
                "{} will fail at `{}`.\n",
                self.client.name, s.name
            )),
            None => out.push_str(&format!(
                "nothing found that makes {} fail.\n",
                self.client.name
            )),
        }
        out
    }
}

/// `text` safe to print on a terminal: control characters (C0, DEL, C1: escape sequences,
/// newlines that would fake a line of the report) and the bidirectional formatting characters
/// that reorder what a reader sees are written as `\u{..}` escapes. A server's strings reach
/// the report in messages and step outcomes; this is applied to all of them.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = mcpgen_rules::is_unsafe_char;
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// The URL could not be reached at all (exit code 2).
#[derive(Debug)]
pub struct NotReached(pub String);

/// Runs the doctor. `Err` only when the first request gets no HTTP answer at all.
pub fn run(opts: &Options) -> Result<Report, NotReached> {
    let url = url::Url::parse(&opts.url)
        .map_err(|e| NotReached(format!("{:?} is not a URL: {e}", opts.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NotReached(format!("{:?} is not an http(s) URL", opts.url)));
    }
    let hosted = opts
        .hosted
        .unwrap_or_else(|| !mcpgen_rules::is_loopback_url(&opts.url));
    let mut d = Doctor {
        opts,
        url,
        hosted,
        http: Http::new(opts.timeout),
        steps: Vec::new(),
        session: None,
        ua: opts.client.user_agent,
        mcp_ua: opts.client.mcp_user_agent,
        issued: Vec::new(),
    };
    d.walk()?;
    Ok(Report {
        url: opts.url.clone(),
        client: opts.client,
        steps: d.steps,
    })
}

struct Doctor<'a> {
    opts: &'a Options,
    url: url::Url,
    hosted: bool,
    http: Http,
    steps: Vec<Step>,
    session: Option<String>,
    /// The User-Agent of discovery and OAuth requests: the client's, or [`PLAIN_UA`] once the
    /// client's was found blocked (so the later steps are still checked).
    ua: &'static str,
    /// The User-Agent of authenticated MCP requests, likewise.
    mcp_ua: &'static str,
    /// Tokens the refreshes returned (token, `token_type_hint`), revoked at the end.
    issued: Vec<(String, &'static str)>,
}

/// Most tools the doctor reads from `tools/list` (across pages) and checks.
const MAX_TOOLS: usize = 1000;

/// The User-Agent that tells a WAF rule on the client's from other refusals.
const PLAIN_UA: &str = "curl/8.5.0";

/// What OAuth produced: the tokens and how to use the token endpoint again.
struct Grant {
    access: String,
    refresh: Option<String>,
    /// The scopes the client holds at connect: those granted, or with `--token` those the
    /// client asks for at connect (the challenge's `scope`); `None` when not known.
    scopes: Option<BTreeSet<String>>,
    /// The access token came from `--token`, not from the doctor's own sign-in.
    given: bool,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

const STEPS_AFTER_AUTH: &[&str] = &["initialize", "tools", "call", "refresh", "revocation"];

impl Doctor<'_> {
    fn client(&self) -> &'static ClientProfile {
        self.opts.client
    }

    /// Records a step. Messages and outcome texts are cut to [`MAX_TEXT`] characters, and
    /// findings to [`rules::MAX_SAME`] per id, so no server can make the report unbounded.
    fn push(&mut self, name: &'static str, outcome: Outcome, findings: Vec<Finding>) {
        let outcome = match outcome {
            Outcome::Passed(t) => Outcome::Passed(cut(t)),
            Outcome::Failed(t) => Outcome::Failed(cut(t)),
            Outcome::Skipped(t) => Outcome::Skipped(cut(t)),
        };
        let findings = rules::capped(findings.into_iter().map(|mut f| {
            f.message = cut(f.message);
            f
        }));
        self.steps.push(Step {
            name,
            outcome,
            findings,
        });
    }

    fn skip_rest(&mut self, names: &[&'static str], why: &str) {
        for n in names {
            self.push(n, Outcome::Skipped(why.to_string()), Vec::new());
        }
    }

    /// `origin.refused` and `waf.blocked` cannot happen to a hosted client on a loopback
    /// server it cannot reach; there they are info.
    fn reachability(&self, f: Finding) -> Finding {
        if self.hosted {
            f
        } else {
            let mut f = f.at(Severity::Info);
            f.message
                .push_str(" (loopback server: a hosted client cannot reach it anyway)");
            f.fix = "nothing to change on loopback; run the doctor against the deployed https URL to check what the hosted client gets".into();
            f
        }
    }

    fn origin(&self) -> String {
        base_url::origin(&self.url)
    }

    fn get(&self, url: &str) -> Result<Reply, Unreachable> {
        self.http.send(Request {
            method: "GET",
            url,
            headers: vec![
                ("user-agent", self.ua.to_string()),
                ("accept", "application/json".to_string()),
            ],
            body: None,
        })
    }

    /// A JSON-RPC POST to the MCP endpoint.
    fn mcp(
        &self,
        body: &Value,
        token: Option<&str>,
        user_agent: &str,
        origin: Option<&str>,
    ) -> Result<Reply, Unreachable> {
        let mut headers = vec![
            ("user-agent", user_agent.to_string()),
            ("content-type", "application/json".to_string()),
            ("accept", "application/json, text/event-stream".to_string()),
            (
                "mcp-protocol-version",
                self.client().protocol_version.to_string(),
            ),
        ];
        if let Some(t) = token {
            headers.push(("authorization", format!("Bearer {t}")));
        }
        if let Some(o) = origin {
            headers.push(("origin", o.to_string()));
        }
        if let Some(s) = &self.session {
            headers.push(("mcp-session-id", s.clone()));
        }
        self.http.send(Request {
            method: "POST",
            url: &self.opts.url,
            headers,
            body: Some(body.to_string()),
        })
    }

    fn initialize_body(&self) -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": self.client().protocol_version,
            "capabilities": {},
            "clientInfo": {"name": "mcpgen-doctor", "version": env!("CARGO_PKG_VERSION")}}})
    }

    fn walk(&mut self) -> Result<(), NotReached> {
        let challenge = self.challenge()?;
        let Some(challenge) = challenge else {
            return Ok(());
        };
        let grant = match &self.opts.token {
            Some(t) => {
                self.skip_rest(
                    &[
                        "discovery",
                        "metadata",
                        "registration",
                        "authorize",
                        "token",
                    ],
                    "--token given",
                );
                Grant {
                    access: t.clone(),
                    refresh: None,
                    scopes: rules::param(&challenge, "scope")
                        .map(|s| s.split_whitespace().map(str::to_owned).collect()),
                    given: true,
                    token_endpoint: None,
                    revocation_endpoint: None,
                    client_id: None,
                    client_secret: None,
                }
            }
            None => match self.oauth(&challenge) {
                Some(g) => g,
                None => {
                    self.skip_rest(STEPS_AFTER_AUTH, "no access token");
                    return Ok(());
                }
            },
        };
        self.connect(Some(&grant));
        Ok(())
    }

    /// Step 1: the unauthenticated POST. `Ok(None)` when the walk ends here (no auth: the
    /// MCP steps ran already; or a failure).
    fn challenge(&mut self) -> Result<Option<Vec<(String, String)>>, NotReached> {
        let body = self.initialize_body();
        let ua = self.ua;
        let first = self
            .mcp(&body, None, ua, None)
            .map_err(|e| NotReached(e.0))?;
        let mut findings = Vec::new();
        let mut reply = first.clone();
        if reply.status != 401 && reply.status != 200 {
            // A plain User-Agent getting through where the client's does not is a WAF rule.
            if let Ok(plain) = self.mcp(&body, None, PLAIN_UA, None)
                && matches!(plain.status, 200 | 401)
            {
                findings.push(self.reachability(Finding::new(
                    "waf.blocked",
                    "challenge",
                    format!(
                        "User-Agent {ua:?} gets {} where `{PLAIN_UA}` gets {}",
                        reply.status, plain.status
                    ),
                )));
                reply = plain;
                self.ua = PLAIN_UA;
            }
        }
        if let Some(origin) = self.client().origin
            && matches!(reply.status, 200 | 401)
            && let Ok(with_origin) = self.mcp(&body, None, ua, Some(origin))
            && with_origin.status == 403
        {
            findings.push(self.reachability(Finding::new(
                "origin.refused",
                "challenge",
                format!(
                    "`Origin: {origin}` gets 403 where no Origin gets {}",
                    reply.status
                ),
            )));
        }
        if reply.status == 200 {
            findings.push(Finding::new(
                "auth.none",
                "challenge",
                "the endpoint answers without a token",
            ));
            self.push(
                "challenge",
                Outcome::Passed("200 without a token: no authorization".into()),
                findings,
            );
            self.skip_rest(
                &[
                    "discovery",
                    "metadata",
                    "registration",
                    "authorize",
                    "token",
                ],
                "the server needs no token",
            );
            self.connect(None);
            return Ok(None);
        }
        if reply.status != 401 {
            // Often the URL is not the MCP endpoint: the server's root rather than `/mcp`.
            let guess = format!("{}/mcp", self.opts.url.trim_end_matches('/'));
            let hint = (!self.url.path().trim_end_matches('/').ends_with("/mcp"))
                .then(|| {
                    let r = self.http.send(Request {
                        method: "POST",
                        url: &guess,
                        headers: vec![
                            ("user-agent", self.ua.to_string()),
                            ("content-type", "application/json".to_string()),
                            ("accept", "application/json, text/event-stream".to_string()),
                        ],
                        body: Some(body.to_string()),
                    });
                    r.ok().filter(|r| matches!(r.status, 200 | 401)).map(|r| {
                        format!(
                            "; a POST to {guess:?} gets {}: is that the MCP endpoint?",
                            r.status
                        )
                    })
                })
                .flatten()
                .unwrap_or_default();
            findings.push(Finding::new(
                "challenge.status",
                "challenge",
                format!(
                    "an unauthenticated POST gets {}{}{hint}",
                    reply.status,
                    reply
                        .header("location")
                        .map(|l| format!(" (redirect to {l:?})"))
                        .unwrap_or_default()
                ),
            ));
            self.push(
                "challenge",
                Outcome::Failed(format!("{} instead of 401", reply.status)),
                findings,
            );
            self.skip_rest(
                &[
                    "discovery",
                    "metadata",
                    "registration",
                    "authorize",
                    "token",
                    "initialize",
                    "tools",
                    "call",
                    "refresh",
                    "revocation",
                ],
                "no 401 challenge",
            );
            return Ok(None);
        }
        let params = reply
            .header("www-authenticate")
            .and_then(rules::bearer_params)
            .unwrap_or_default();
        let text = match rules::param(&params, "resource_metadata") {
            Some(prm) => format!("401, resource_metadata {prm:?}"),
            None => {
                findings.push(Finding::new(
                    "challenge.missing",
                    "challenge",
                    match reply.header("www-authenticate") {
                        None => "401 without `WWW-Authenticate`".to_string(),
                        Some(h) => {
                            format!("401 with `WWW-Authenticate: {h}`, no `resource_metadata`")
                        }
                    },
                ));
                "401 without a resource_metadata pointer".to_string()
            }
        };
        if let Some(scope) = rules::param(&params, "scope") {
            let tokens: Vec<String> = scope.split(' ').map(str::to_owned).collect();
            if rules::scope_string_problem(scope).is_some() {
                findings.extend(rules::scope_tokens(
                    "challenge",
                    "the challenge's `scope`",
                    &tokens,
                ));
            }
        }
        self.push("challenge", Outcome::Passed(text), findings);
        Ok(Some(params))
    }

    /// Fetches a JSON object; `None` unless 200 with a JSON object body.
    fn fetch_doc(&self, url: &str) -> Option<Value> {
        let r = self.get(url).ok()?;
        let v: Value = serde_json::from_str(&r.body).ok()?;
        (r.status == 200 && v.is_object()).then_some(v)
    }

    /// Discovery, registration, authorization and token. `None` when the client stops.
    fn oauth(&mut self, challenge: &[(String, String)]) -> Option<Grant> {
        let url = self.opts.url.clone();
        let origin = self.origin();
        let path = base_url::base_path(&self.url).to_string();

        // Protected resource metadata: the challenge's pointer, then path-inserted, then root.
        let mut findings = Vec::new();
        let path_url = format!("{origin}/.well-known/oauth-protected-resource{path}");
        let root_url = format!("{origin}/.well-known/oauth-protected-resource");
        let pointed = rules::param(challenge, "resource_metadata").map(str::to_owned);
        let mut prm = None;
        let mut found_at = String::new();
        for u in pointed.iter().chain([&path_url, &root_url]) {
            if let Some(doc) = self.fetch_doc(u) {
                prm = Some(doc);
                found_at = u.clone();
                break;
            }
        }
        let Some(prm) = prm else {
            findings.push(Finding::new(
                "discovery.prm_missing",
                "discovery",
                format!(
                    "no protected resource metadata at {}",
                    pointed
                        .iter()
                        .chain([&path_url, &root_url])
                        .map(|u| format!("{u:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            self.push(
                "discovery",
                Outcome::Failed("no protected resource metadata".into()),
                findings,
            );
            self.skip_rest(
                &["metadata", "registration", "authorize", "token"],
                "no protected resource metadata",
            );
            return None;
        };
        if !path.is_empty() {
            let at_path = found_at == path_url || self.fetch_doc(&path_url).is_some();
            let at_root = found_at == root_url || self.fetch_doc(&root_url).is_some();
            if at_path != at_root {
                let (has, lacks) = if at_path {
                    (&path_url, &root_url)
                } else {
                    (&root_url, &path_url)
                };
                findings.push(Finding::new(
                    "discovery.prm_path_missing",
                    "discovery",
                    format!("found at {has:?} but not at {lacks:?}"),
                ));
            }
        }
        if let Some(why) = rules::resource_problem(prm["resource"].as_str(), &url) {
            let mut f = Finding::new(
                "resource.mismatch",
                "discovery",
                format!("the protected resource metadata {why}"),
            );
            if why.contains("trailing slash") && !self.client().exact_resource {
                f = f.at(Severity::Warning);
            }
            findings.push(f);
        }
        let prm_scopes = rules::string_list(&prm["scopes_supported"]);
        if let Some(list) = &prm_scopes {
            findings.extend(rules::scope_tokens(
                "discovery",
                "the protected resource metadata's `scopes_supported`",
                list,
            ));
        }
        let issuer = prm["authorization_servers"][0].as_str().map(str::to_owned);
        self.push(
            "discovery",
            Outcome::Passed(format!("protected resource metadata at {found_at}")),
            findings,
        );

        // Authorization server metadata, from the issuer (RFC 8414 §3.1, OpenID forms), and
        // the variant a client derives from the MCP URL (or the root for an issuer with path).
        let mut findings = Vec::new();
        let Some(issuer) = issuer else {
            findings.push(Finding::new(
                "discovery.as_missing",
                "metadata",
                "the protected resource metadata has no `authorization_servers`",
            ));
            self.push(
                "metadata",
                Outcome::Failed("no authorization server".into()),
                findings,
            );
            self.skip_rest(
                &["registration", "authorize", "token"],
                "no authorization server",
            );
            return None;
        };
        let (i_origin, i_path) = match url::Url::parse(&issuer) {
            Ok(u) => (base_url::origin(&u), base_url::base_path(&u).to_string()),
            Err(_) => (issuer.clone(), String::new()),
        };
        let derived = [
            format!("{i_origin}/.well-known/oauth-authorization-server{i_path}"),
            format!("{i_origin}/.well-known/openid-configuration{i_path}"),
            format!("{i_origin}{i_path}/.well-known/openid-configuration"),
        ];
        let mut asm = None;
        let mut as_at = String::new();
        for u in &derived {
            if let Some(doc) = self.fetch_doc(u) {
                asm = Some(doc);
                as_at = u.clone();
                break;
            }
        }
        let other = if i_path.is_empty() {
            (!path.is_empty())
                .then(|| format!("{i_origin}/.well-known/oauth-authorization-server{path}"))
        } else {
            Some(format!("{i_origin}/.well-known/oauth-authorization-server"))
        };
        let Some(asm) = asm else {
            findings.push(Finding::new(
                "discovery.as_missing",
                "metadata",
                format!(
                    "no authorization server metadata for issuer {issuer:?} at {}",
                    derived
                        .iter()
                        .map(|u| format!("{u:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            self.push(
                "metadata",
                Outcome::Failed("no authorization server metadata".into()),
                findings,
            );
            self.skip_rest(
                &["registration", "authorize", "token"],
                "no authorization server metadata",
            );
            return None;
        };
        if let Some(other) = &other
            && self.fetch_doc(other).is_none()
        {
            findings.push(Finding::new(
                "discovery.as_path_missing",
                "metadata",
                format!("found at {as_at:?} but not at {other:?}"),
            ));
        }
        match asm["issuer"].as_str() {
            Some(i) if i == issuer => {}
            got => findings.push(Finding::new(
                "issuer.mismatch",
                "metadata",
                format!(
                    "the metadata at {as_at:?} says `issuer` {}, but `authorization_servers` says {issuer:?}",
                    got.map_or("(none)".to_string(), |g| format!("{g:?}"))
                ),
            )),
        }
        let as_scopes = rules::string_list(&asm["scopes_supported"]);
        if let Some(list) = &as_scopes {
            findings.extend(rules::scope_tokens(
                "metadata",
                "the authorization server metadata's `scopes_supported`",
                list,
            ));
        }
        let pkce = asm["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m == "S256"));
        if !pkce {
            findings.push(Finding::new(
                "as.pkce_missing",
                "metadata",
                "`code_challenge_methods_supported` does not list \"S256\"",
            ));
        }
        let endpoint = |k: &str| asm[k].as_str().map(str::to_owned);
        let (authorization_endpoint, token_endpoint, registration_endpoint) = (
            endpoint("authorization_endpoint"),
            endpoint("token_endpoint"),
            endpoint("registration_endpoint"),
        );
        let revocation_endpoint = endpoint("revocation_endpoint");
        let failed = findings.iter().any(|f| f.severity == Severity::Error);
        self.push(
            "metadata",
            if failed {
                Outcome::Failed(format!("authorization server metadata at {as_at}"))
            } else {
                Outcome::Passed(format!("authorization server metadata at {as_at}"))
            },
            findings,
        );
        let (Some(authorization_endpoint), Some(token_endpoint)) =
            (authorization_endpoint, token_endpoint)
        else {
            self.push(
                "registration",
                Outcome::Failed("the metadata has no authorization or token endpoint".into()),
                vec![Finding::new(
                    "discovery.as_missing",
                    "registration",
                    "the authorization server metadata lacks `authorization_endpoint` or `token_endpoint`",
                )],
            );
            self.skip_rest(&["authorize", "token"], "no endpoints");
            return None;
        };

        // Registration with the client's body; the doctor's loopback listener is added to the
        // redirect URIs when the client's own is not loopback, for servers that ask a person.
        let callback = Callback::bind().ok();
        let port = callback.as_ref().map_or(0, |c| c.port);
        let fill = |u: &str| u.replace("{port}", &port.to_string());
        let mut redirect_uris: Vec<String> = self
            .client()
            .registered_redirect_uris
            .iter()
            .map(|u| fill(u))
            .collect();
        let client_redirect = fill(self.client().redirect_uri);
        let loopback_redirect = if mcpgen_rules::is_loopback_url(&client_redirect) {
            client_redirect.clone()
        } else {
            let u = format!("http://127.0.0.1:{port}/callback");
            redirect_uris.push(u.clone());
            u
        };
        let Some(registration_endpoint) = registration_endpoint else {
            self.push(
                "registration",
                Outcome::Failed("no `registration_endpoint`".into()),
                vec![Finding::new(
                    "registration.failed",
                    "registration",
                    "the authorization server metadata has no `registration_endpoint`",
                )],
            );
            self.skip_rest(&["authorize", "token"], "not registered");
            return None;
        };
        let reg_body = json!({
            "client_name": self.client().client_name,
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": self.client().token_endpoint_auth_method,
        });
        let reg = self.http.send(Request {
            method: "POST",
            url: &registration_endpoint,
            headers: vec![
                ("user-agent", self.ua.to_string()),
                ("content-type", "application/json".to_string()),
                ("accept", "application/json".to_string()),
            ],
            body: Some(reg_body.to_string()),
        });
        let reg_json = reg
            .as_ref()
            .ok()
            .filter(|r| matches!(r.status, 200 | 201))
            .and_then(Reply::json);
        let Some(client_id) = reg_json
            .as_ref()
            .and_then(|j| j["client_id"].as_str().map(str::to_owned))
        else {
            let seen = match &reg {
                Ok(r) => format!("{}: {}", r.status, excerpt(&r.body)),
                Err(e) => e.0.clone(),
            };
            self.push(
                "registration",
                Outcome::Failed(seen.clone()),
                vec![Finding::new(
                    "registration.failed",
                    "registration",
                    format!("registering as {} got {seen}", self.client().client_name),
                )],
            );
            self.skip_rest(&["authorize", "token"], "not registered");
            return None;
        };
        let client_secret = reg_json
            .as_ref()
            .and_then(|j| j["client_secret"].as_str().map(str::to_owned));
        self.push(
            "registration",
            Outcome::Passed(format!(
                "registered, token_endpoint_auth_method {:?}",
                self.client().token_endpoint_auth_method
            )),
            Vec::new(),
        );

        // Authorization: PKCE S256, the client's scope choice, the resource.
        let scope = rules::requested_scope(
            rules::param(challenge, "scope"),
            prm_scopes.as_deref(),
            as_scopes.as_deref(),
        );
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let code_challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        rand::fill(&mut bytes);
        let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..16]);
        let authorize_url = |redirect: &str| -> Option<String> {
            let mut u = url::Url::parse(&authorization_endpoint).ok()?;
            {
                let mut q = u.query_pairs_mut();
                q.append_pair("response_type", "code")
                    .append_pair("client_id", &client_id)
                    .append_pair("redirect_uri", redirect)
                    .append_pair("code_challenge", &code_challenge)
                    .append_pair("code_challenge_method", "S256")
                    .append_pair("state", &state);
                if let Some(s) = &scope {
                    q.append_pair("scope", s);
                }
                q.append_pair("resource", &url);
            }
            Some(u.to_string())
        };
        let (location, redirect_used) = match self.authorize(
            authorize_url(&client_redirect),
            authorize_url(&loopback_redirect),
            &client_redirect,
            &loopback_redirect,
            callback,
        ) {
            Ok(x) => x,
            Err(seen) => {
                self.push(
                    "authorize",
                    Outcome::Failed(seen.clone()),
                    vec![Finding::new("authorize.failed", "authorize", seen)],
                );
                self.skip_rest(&["token"], "no authorization code");
                return None;
            }
        };
        let q = |name: &str| {
            url::Url::parse(&location).ok().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
        };
        let code = match (q("code"), q("error")) {
            (Some(code), _) if q("state").as_deref() == Some(state.as_str()) => code,
            (_, err) => {
                let seen = match err {
                    Some(e) => format!(
                        "the server redirected with error {e:?}: {:?}",
                        q("error_description").unwrap_or_default()
                    ),
                    None => "the redirect lacks `code` or echoes another `state`".to_string(),
                };
                self.push(
                    "authorize",
                    Outcome::Failed(seen.clone()),
                    vec![Finding::new("authorize.failed", "authorize", seen)],
                );
                self.skip_rest(&["token"], "no authorization code");
                return None;
            }
        };
        self.push(
            "authorize",
            Outcome::Passed(format!(
                "code received, scope {}",
                scope
                    .as_deref()
                    .map_or("(none)".into(), |s| format!("{s:?}"))
            )),
            Vec::new(),
        );

        // Token.
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", redirect_used),
            ("code_verifier", verifier),
            ("resource", url.clone()),
        ];
        let auth = ClientAuth {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        };
        auth.add(&mut form);
        let token = self.token_request(&token_endpoint, &form);
        let mut findings = Vec::new();
        let granted = match &token {
            Ok((200, body)) if body["access_token"].is_string() => body.clone(),
            Ok((status, body)) => {
                let seen = format!("{status}: {}", excerpt(&body.to_string()));
                self.push(
                    "token",
                    Outcome::Failed(seen.clone()),
                    vec![Finding::new("token.failed", "token", seen)],
                );
                return None;
            }
            Err(e) => {
                self.push(
                    "token",
                    Outcome::Failed(e.clone()),
                    vec![Finding::new("token.failed", "token", e.clone())],
                );
                return None;
            }
        };
        let mut scopes: BTreeSet<String> = scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if let Some(s) = granted.get("scope") {
            match s.as_str() {
                Some(s) => {
                    if let Some(why) = rules::scope_string_problem(s) {
                        findings.push(Finding::new(
                            "token.scope_malformed",
                            "token",
                            format!("the token response's `scope` is {s:?}, which {why}"),
                        ));
                    }
                    scopes = s.split_whitespace().map(str::to_owned).collect();
                }
                None => findings.push(Finding::new(
                    "token.scope_malformed",
                    "token",
                    format!("the token response's `scope` is {s}, not a string"),
                )),
            }
        }
        let refresh = granted["refresh_token"].as_str().map(str::to_owned);
        if refresh.is_none() {
            findings.push(Finding::new(
                "token.no_refresh",
                "token",
                "no `refresh_token`, though the client registered for the `refresh_token` grant",
            ));
        }
        self.push(
            "token",
            Outcome::Passed(format!(
                "access token{}, {}",
                if refresh.is_some() {
                    " and refresh token"
                } else {
                    ""
                },
                match granted.get("scope") {
                    Some(s) => format!("scope {s}"),
                    None => "no scope in the answer (the requested scope is granted)".into(),
                }
            )),
            findings,
        );
        Some(Grant {
            access: granted["access_token"].as_str().unwrap_or_default().into(),
            refresh,
            scopes: Some(scopes),
            given: false,
            token_endpoint: Some(token_endpoint),
            revocation_endpoint,
            client_id: Some(client_id),
            client_secret,
        })
    }

    /// GETs the authorization URL without following the redirect; when the server asks a
    /// person instead (any answer but a redirect), prints the URL for the loopback redirect,
    /// opens a browser if allowed, and waits for the redirect. The redirect's URL and the
    /// `redirect_uri` used.
    fn authorize(
        &self,
        direct: Option<String>,
        interactive: Option<String>,
        client_redirect: &str,
        loopback_redirect: &str,
        callback: Option<Callback>,
    ) -> Result<(String, String), String> {
        let direct = direct.ok_or("the authorization endpoint is not a URL")?;
        let r = self.get(&direct).map_err(|e| e.0)?;
        if matches!(r.status, 302 | 303 | 307)
            && let Some(l) = r.header("location")
        {
            return Ok((l.to_string(), client_redirect.to_string()));
        }
        if r.status >= 400 {
            return Err(format!(
                "the authorization endpoint answered {}: {}",
                r.status,
                excerpt(&r.body)
            ));
        }
        let (Some(interactive), Some(callback)) = (interactive, callback) else {
            return Err("the server asks a person to approve and no loopback port is free".into());
        };
        eprintln!(
            "The server asks a person to approve. Open this URL and approve:\n\n  {interactive}\n"
        );
        if let Some(browser) = self.opts.browser {
            browser(&interactive);
        }
        let target = callback.wait(self.opts.approval_wait).ok_or_else(|| {
            format!(
                "no approval arrived on {loopback_redirect} within {}s",
                self.opts.approval_wait.as_secs()
            )
        })?;
        Ok((
            format!(
                "http://127.0.0.1:{}{target}",
                callback_port(loopback_redirect)
            ),
            loopback_redirect.to_string(),
        ))
    }

    /// POSTs a form to the token endpoint: the status and the JSON body (if not JSON, an
    /// excerpt of the body as a JSON string, so a report shows what came).
    fn token_request(
        &self,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, Value), String> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .send(Request {
                method: "POST",
                url: endpoint,
                headers: vec![
                    ("user-agent", self.ua.to_string()),
                    (
                        "content-type",
                        "application/x-www-form-urlencoded".to_string(),
                    ),
                    ("accept", "application/json".to_string()),
                ],
                body: Some(body),
            })
            .map_err(|e| e.0)?;
        Ok((
            r.status,
            serde_json::from_str(&r.body).unwrap_or_else(|_| Value::String(excerpt(&r.body))),
        ))
    }

    /// `initialize`, `tools/list`, the optional call, refresh and revocation.
    fn connect(&mut self, grant: Option<&Grant>) {
        let token = grant.map(|g| g.access.clone());
        let ua = self.mcp_ua;
        let body = self.initialize_body();
        let mut findings = Vec::new();
        let mut init = self.mcp(&body, token.as_deref(), ua, None);
        if let Ok(r) = &init
            && r.status == 403
            && let Ok(plain) = self.mcp(&body, token.as_deref(), PLAIN_UA, None)
            && plain.status == 200
        {
            findings.push(self.reachability(Finding::new(
                "waf.blocked",
                "initialize",
                format!("User-Agent {ua:?} gets 403 where `{PLAIN_UA}` gets 200"),
            )));
            init = Ok(plain);
            self.mcp_ua = PLAIN_UA;
        }
        let result = match &init {
            Ok(r) if r.status == 200 => r.json().filter(|j| j["result"].is_object()),
            _ => None,
        };
        let Some(result) = result else {
            let seen = match &init {
                Ok(r) => format!("initialize got {}: {}", r.status, excerpt(&r.body)),
                Err(e) => e.0.clone(),
            };
            let mut f = Finding::new("mcp.failed", "initialize", seen.clone());
            if grant.is_some_and(|g| g.given) && init.as_ref().is_ok_and(|r| r.status == 401) {
                f.message = format!("the access token given with --token is refused: {seen}");
                f.fix = "pass a valid, unexpired access token issued for this URL with --token, or omit --token and let the doctor sign in".into();
            }
            findings.push(f);
            self.push("initialize", Outcome::Failed(seen), findings);
            self.skip_rest(&["tools", "call", "refresh", "revocation"], "no session");
            return;
        };
        if let Ok(r) = &init {
            self.sse_check(r, "initialize", &mut findings);
            self.session = r.header("mcp-session-id").map(str::to_owned);
        }
        let _ = self.mcp(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            token.as_deref(),
            self.mcp_ua,
            None,
        );
        let version = result["result"]["protocolVersion"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        self.push(
            "initialize",
            Outcome::Passed(format!("protocol version {version}")),
            findings,
        );

        // tools/list, following cursors (at most 20 pages).
        let mut findings = Vec::new();
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        let mut failed = None;
        let mut more_tools = false;
        for page in 0..20 {
            let mut params = json!({});
            if let Some(c) = &cursor {
                params["cursor"] = json!(c);
            }
            let r = self.mcp(
                &json!({"jsonrpc": "2.0", "id": 2 + page, "method": "tools/list", "params": params}),
                token.as_deref(),
                self.mcp_ua,
                None,
            );
            if let Ok(reply) = &r {
                self.sse_check(reply, "tools", &mut findings);
            }
            let list = r
                .as_ref()
                .ok()
                .filter(|r| r.status == 200)
                .and_then(Reply::json)
                .filter(|j| j["result"]["tools"].is_array());
            let Some(list) = list else {
                failed = Some(match r {
                    Ok(r) => format!("tools/list got {}: {}", r.status, excerpt(&r.body)),
                    Err(e) => e.0,
                });
                break;
            };
            tools.extend(
                list["result"]["tools"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
            if tools.len() >= MAX_TOOLS {
                more_tools = tools.len() > MAX_TOOLS || list["result"]["nextCursor"].is_string();
                tools.truncate(MAX_TOOLS);
                break;
            }
            match list["result"]["nextCursor"].as_str() {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => break,
            }
        }
        findings.extend(rules::capped(tools.iter().flat_map(rules::tool)));
        match failed {
            Some(seen) => {
                findings.push(Finding::new("mcp.failed", "tools", seen.clone()));
                self.push("tools", Outcome::Failed(seen), findings);
            }
            None => self.push(
                "tools",
                Outcome::Passed(if more_tools {
                    format!("more than {MAX_TOOLS} tools; the first {MAX_TOOLS} checked")
                } else {
                    format!(
                        "{} tool{}",
                        tools.len(),
                        if tools.len() == 1 { "" } else { "s" }
                    )
                }),
                findings,
            ),
        }

        self.call(grant, token.as_deref());
        match grant {
            Some(g) if g.refresh.is_some() => self.refresh(g),
            _ => self.skip_rest(&["refresh"], "no refresh token"),
        }
        match grant {
            Some(g) if g.revocation_endpoint.is_some() && g.token_endpoint.is_some() => {
                self.revoke(g)
            }
            _ => self.skip_rest(&["revocation"], "no revocation endpoint, or --token"),
        }
    }

    fn sse_check(&self, r: &Reply, step: &'static str, findings: &mut Vec<Finding>) {
        if let Some(t) = r.sse
            && t.buffered()
            && !findings.iter().any(|f| f.id == "transport.sse_buffered")
        {
            findings.push(Finding::new(
                "transport.sse_buffered",
                step,
                format!(
                    "{} SSE events arrived together {} ms after the headers, when the stream ended",
                    t.events,
                    t.last.as_millis()
                ),
            ));
        }
    }

    fn call(&mut self, grant: Option<&Grant>, token: Option<&str>) {
        let Some((tool, args)) = self.opts.call.clone() else {
            self.skip_rest(&["call"], "no --call");
            return;
        };
        let ua = self.mcp_ua;
        let r = self.mcp(
            &json!({"jsonrpc": "2.0", "id": 100, "method": "tools/call",
                    "params": {"name": tool, "arguments": args}}),
            token,
            ua,
            None,
        );
        let mut findings = Vec::new();
        let outcome = match &r {
            Ok(r) if r.status == 403 => {
                let params = r
                    .header("www-authenticate")
                    .and_then(rules::bearer_params)
                    .unwrap_or_default();
                let challenged: Vec<String> = rules::param(&params, "scope")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                let granted = grant.map_or(Some(BTreeSet::new()), |g| g.scopes.clone());
                let given = grant.is_some_and(|g| g.given);
                let step_up = granted
                    .as_ref()
                    .and_then(|g| rules::step_up(self.client(), &tool, g, &challenged));
                match step_up {
                    Some(f) => {
                        let failed = f.severity == Severity::Error;
                        findings.push(f);
                        if failed {
                            Outcome::Failed(format!("403 insufficient_scope for `{tool}`"))
                        } else {
                            Outcome::Passed(format!(
                                "403 insufficient_scope for `{tool}`; the client steps up"
                            ))
                        }
                    }
                    // The token given lacks the scope, but it is not the one the client
                    // would hold: that one is not held against the server.
                    None if given && !challenged.is_empty() => Outcome::Skipped(format!(
                        "`{tool}` needs {:?}, which the --token lacks; {}",
                        challenged.join(" "),
                        if granted.is_some() {
                            format!(
                                "{} asks for it at connect, so pass a token with it (or omit --token) to check the call",
                                self.client().name
                            )
                        } else {
                            "omit --token to check what the client is granted at connect".into()
                        }
                    )),
                    None => {
                        let seen = format!("`{tool}` got 403: {}", excerpt(&r.body));
                        findings.push(Finding::new("call.failed", "call", seen.clone()));
                        Outcome::Failed(seen)
                    }
                }
            }
            Ok(r) => match r.json() {
                Some(j) if r.status == 200 && j["result"].is_object() => {
                    self.sse_check(r, "call", &mut findings);
                    Outcome::Passed(format!(
                        "`{tool}` answered{}",
                        if j["result"]["isError"] == true {
                            let text = j["result"]["content"]
                                .as_array()
                                .and_then(|c| c.iter().find_map(|part| part["text"].as_str()));
                            format!(
                                " with isError: true{}",
                                text.map(|t| format!(": {:?}", excerpt(t)))
                                    .unwrap_or_default()
                            )
                        } else {
                            String::new()
                        }
                    ))
                }
                _ => {
                    let seen = format!("`{tool}` got {}: {}", r.status, excerpt(&r.body));
                    findings.push(Finding::new("call.failed", "call", seen.clone()));
                    Outcome::Failed(seen)
                }
            },
            Err(e) => {
                findings.push(Finding::new("call.failed", "call", e.0.clone()));
                Outcome::Failed(e.0.clone())
            }
        };
        self.push("call", outcome, findings);
    }

    /// Whether an access token is accepted (a `tools/list` answered 200).
    fn works(&self, access: &str) -> bool {
        self.mcp(
            &json!({"jsonrpc": "2.0", "id": 200, "method": "tools/list"}),
            Some(access),
            self.mcp_ua,
            None,
        )
        .is_ok_and(|r| r.status == 200)
    }

    /// Refreshes twice in a row, then twice at once, checking every token returned in a 200.
    fn refresh(&mut self, g: &Grant) {
        let endpoint = g.token_endpoint.clone().unwrap_or_default();
        let auth = ClientAuth {
            client_id: g.client_id.clone().unwrap_or_default(),
            client_secret: g.client_secret.clone(),
        };
        let form = |rt: &str| {
            let mut f = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt.to_string()),
                ("resource", self.opts.url.clone()),
            ];
            auth.add(&mut f);
            f
        };
        let mut findings = Vec::new();
        let mut rt = g.refresh.clone().unwrap_or_default();
        let fail = |this: &mut Self, seen: String, mut findings: Vec<Finding>| {
            findings.push(Finding::new("refresh.failed", "refresh", seen.clone()));
            this.push("refresh", Outcome::Failed(seen), findings);
        };
        // Twice in a row: each answer's access token must work, and its refresh token too.
        for n in 1..=2 {
            match self.token_request(&endpoint, &form(&rt)) {
                Ok((200, body)) if body["access_token"].is_string() => {
                    self.keep(&body);
                    let access = body["access_token"].as_str().unwrap_or_default();
                    if !self.works(access) {
                        findings.push(Finding::new(
                            "refresh.dead_token",
                            "refresh",
                            format!("the access token from refresh {n} is refused"),
                        ));
                    }
                    if let Some(s) = body["scope"].as_str()
                        && let Some(why) = rules::scope_string_problem(s)
                        && !findings.iter().any(|f| f.id == "token.scope_malformed")
                    {
                        findings.push(Finding::new(
                            "token.scope_malformed",
                            "refresh",
                            format!("the refresh response's `scope` is {s:?}, which {why}"),
                        ));
                    }
                    if let Some(next) = body["refresh_token"].as_str() {
                        rt = next.to_string();
                    }
                }
                Ok((status, body)) => {
                    return fail(
                        self,
                        format!("refresh {n} got {status}: {}", excerpt(&body.to_string())),
                        findings,
                    );
                }
                Err(e) => return fail(self, e, findings),
            }
        }
        // Two at once with the same refresh token, twice: a client keeps whichever answer
        // arrives, so every access token in a 200 must work, and so must the refresh token of
        // the answer it keeps. Only one of the two refresh tokens is used each round: once one
        // is, presenting the other is a reuse that revokes the grant (RFC 9700 §4.14.2). The
        // first round keeps the answer that arrived last, the second the one that arrived
        // first, so a server that kills either is caught.
        for (round, keep_last) in [(1, true), (2, false)] {
            let mut ok = self.concurrent_refreshes(&endpoint, &form(&rt));
            for b in &ok {
                self.keep(b);
            }
            if ok.is_empty() {
                return fail(
                    self,
                    format!("both of two concurrent refreshes failed (round {round})"),
                    findings,
                );
            }
            let dead = ok
                .iter()
                .filter(|b| !self.works(b["access_token"].as_str().unwrap_or_default()))
                .count();
            if dead > 0 {
                findings.push(Finding::new(
                    "refresh.dead_token",
                    "refresh",
                    format!(
                        "{dead} of the {} access tokens returned by two concurrent refreshes is refused",
                        ok.len()
                    ),
                ));
                break;
            }
            let kept = if keep_last {
                ok.pop()
            } else {
                Some(ok.remove(0))
            };
            let Some(next) = kept.as_ref().and_then(|b| b["refresh_token"].as_str()) else {
                break;
            };
            let which = if keep_last { "last" } else { "first" };
            let answer = self.token_request(&endpoint, &form(next));
            if let Ok((200, body)) = &answer {
                self.keep(body);
            }
            match answer {
                Ok((200, body)) => match body["refresh_token"].as_str() {
                    Some(r) => rt = r.to_string(),
                    None => break,
                },
                Ok((status, _)) => {
                    findings.push(Finding::new(
                        "refresh.dead_token",
                        "refresh",
                        format!(
                            "of two concurrent refreshes, the refresh token of the answer that \
                             arrived {which} is refused ({status})"
                        ),
                    ));
                    break;
                }
                Err(_) => break,
            }
        }
        let failed = findings.iter().any(|f| f.severity == Severity::Error);
        self.push(
            "refresh",
            if failed {
                Outcome::Failed("a token returned by a refresh does not work".into())
            } else {
                Outcome::Passed(
                    "two in a row, then two at once twice; every token kept works".into(),
                )
            },
            findings,
        );
    }

    /// Sends two refresh requests with the same form at once; the 200 answers that carry an
    /// access token, in the order they arrived.
    fn concurrent_refreshes(&self, endpoint: &str, form: &[(&str, String)]) -> Vec<Value> {
        let this = self;
        let mut answers: Vec<(std::time::Instant, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(move || {
                        let answer = this.token_request(endpoint, form);
                        (std::time::Instant::now(), answer)
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join() {
                    Ok((at, Ok((200, b)))) if b["access_token"].is_string() => Some((at, b)),
                    _ => None,
                })
                .collect()
        });
        answers.sort_by_key(|(at, _)| *at);
        answers.into_iter().map(|(_, b)| b).collect()
    }

    /// Notes the tokens of a token response, to revoke them at the end.
    fn keep(&mut self, body: &Value) {
        for (key, hint) in [
            ("access_token", "access_token"),
            ("refresh_token", "refresh_token"),
        ] {
            if let Some(t) = body[key].as_str()
                && !self.issued.iter().any(|(k, _)| k == t)
            {
                self.issued.push((t.to_string(), hint));
            }
        }
    }

    /// Revokes the first access token (the check), then every other token the doctor
    /// obtained, refresh tokens first (RFC 7009 §2.1: that ends their grants), so it leaves
    /// nothing usable on the server.
    fn revoke(&mut self, g: &Grant) {
        let endpoint = g.revocation_endpoint.clone().unwrap_or_default();
        let auth = ClientAuth {
            client_id: g.client_id.clone().unwrap_or_default(),
            client_secret: g.client_secret.clone(),
        };
        let revoke = |this: &Self, token: &str, hint: &str| {
            let mut form = vec![
                ("token", token.to_string()),
                ("token_type_hint", hint.to_string()),
            ];
            auth.add(&mut form);
            this.token_request(&endpoint, &form)
        };
        let outcome = revoke(self, &g.access, "access_token");
        let mut others: Vec<(String, &'static str)> = g
            .refresh
            .iter()
            .map(|r| (r.clone(), "refresh_token"))
            .chain(std::mem::take(&mut self.issued))
            .filter(|(t, _)| *t != g.access)
            .collect();
        others.sort_by_key(|(_, hint)| *hint != "refresh_token");
        others.dedup();
        // One refusal or timeout ends it: a server that stalls every revocation must not
        // cost a timeout per token.
        let refused = if matches!(outcome, Ok((200, _))) {
            others
                .iter()
                .position(|(t, hint)| !matches!(revoke(self, t, hint), Ok((200, _))))
                .map_or(0, |done| others.len() - done)
        } else {
            0
        };
        match outcome {
            Ok((200, _)) => self.push(
                "revocation",
                Outcome::Passed(if others.is_empty() {
                    "the doctor's access token was revoked".into()
                } else if refused == 0 {
                    format!(
                        "the doctor's access token was revoked, and the {} other tokens it obtained",
                        others.len()
                    )
                } else {
                    format!(
                        "the doctor's access token was revoked; {refused} of the {} other tokens it obtained were refused or not tried",
                        others.len()
                    )
                }),
                Vec::new(),
            ),
            Ok((status, body)) => {
                let seen = format!("revocation got {status}: {}", excerpt(&body.to_string()));
                self.push(
                    "revocation",
                    Outcome::Failed(seen.clone()),
                    vec![Finding::new("revocation.failed", "revocation", seen)],
                );
            }
            Err(e) => self.push(
                "revocation",
                Outcome::Failed(e.clone()),
                vec![Finding::new("revocation.failed", "revocation", e)],
            ),
        }
    }
}

/// How the doctor authenticates as the registered client at the token endpoint: a secret
/// (when registration issued one) by `client_secret_post`, else `client_id` alone.
struct ClientAuth {
    client_id: String,
    client_secret: Option<String>,
}

impl ClientAuth {
    fn add(&self, form: &mut Vec<(&'static str, String)>) {
        form.push(("client_id", self.client_id.clone()));
        if let Some(s) = &self.client_secret {
            form.push(("client_secret", s.clone()));
        }
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn callback_port(redirect: &str) -> u16 {
    url::Url::parse(redirect)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(80)
}

/// Most characters of a finding's message or a step's outcome text.
const MAX_TEXT: usize = 1000;

/// `text`, cut to [`MAX_TEXT`] characters.
fn cut(text: String) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text;
    }
    let mut s: String = text.chars().take(MAX_TEXT).collect();
    s.push('…');
    s
}

/// At most 200 characters of a body, on one line.
fn excerpt(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(200).collect();
    if one_line.chars().count() > 200 {
        s.push('…');
    }
    if s.is_empty() {
        s.push_str("(empty body)");
    }
    s
}

/// Opens a URL in the desktop's browser (`open` on macOS, `xdg-open` elsewhere); a failure
/// is ignored, as the URL was printed.
pub fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(cmd)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
