//! What the doctor can find, and the pure checks that find it: no network here.
//!
//! Every finding id is in [`RULES`] with its severity, the rule or client behaviour behind it
//! and the usual fix; the README lists them with examples. Checks reuse the generator's own
//! rules ([`crate::validate::scope_problem`], [`crate::validate::valid_tool_name`],
//! [`crate::clients::step_up_gaps`]).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::clients::{self, ClientProfile};
use crate::validate;

/// How bad a finding is for the client being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; no client fails because of it.
    Info,
    /// Some clients, or this client some of the time, will fail.
    Warning,
    /// This client will fail.
    Error,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One kind of finding: its stable id and what the doctor says about every instance of it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, `area.problem` (tests and scripts rely on it).
    pub id: &'static str,
    /// Severity when the client this run impersonates meets it on a hosted server.
    pub severity: Severity,
    /// The rule or client behaviour behind it: RFC or spec section, or public issues.
    pub reference: &'static str,
    /// What to change on the server.
    pub fix: &'static str,
}

/// Every finding id the doctor reports.
pub const RULES: &[Rule] = &[
    Rule {
        id: "challenge.missing",
        severity: Severity::Error,
        reference: "RFC 9728 §5.1; MCP 2025-06-18 Authorization §2.3.1; anthropics/claude-code#61376",
        fix: "answer an unauthenticated request with 401 and `WWW-Authenticate: Bearer resource_metadata=\"https://<host>/.well-known/oauth-protected-resource/<path>\"`",
    },
    Rule {
        id: "challenge.status",
        severity: Severity::Error,
        reference: "MCP 2025-11-25 Transports §Backwards Compatibility (400/404/405 mean the old HTTP+SSE transport); anthropics/claude-ai-mcp#299",
        fix: "answer an unauthenticated POST to the MCP endpoint with 401 before any other check, and serve the endpoint without redirects",
    },
    Rule {
        id: "origin.refused",
        severity: Severity::Error,
        reference: "MCP 2025-11-25 Transports §Security Warning (403 only for origins that are not allowed); SocketDev/socket-mcp PR#214, chrisdoc/hevy-mcp PR#727",
        fix: "allow the hosted client's browser origin (e.g. `https://claude.ai`, `https://chatgpt.com`) in the server's origin allowlist",
    },
    Rule {
        id: "waf.blocked",
        severity: Severity::Error,
        reference: "anthropics/claude-ai-mcp#968, #1061, #430 (a WAF or bot rule refuses `Claude-User` / `python-httpx`)",
        fix: "allow the client's User-Agent (and Anthropic's egress range 160.79.104.0/21) in the CDN or WAF rules in front of the server",
    },
    Rule {
        id: "discovery.prm_missing",
        severity: Severity::Error,
        reference: "RFC 9728 §3; MCP 2025-06-18 Authorization §2.3 (servers MUST publish protected resource metadata)",
        fix: "serve the protected resource metadata, unauthenticated, at `/.well-known/oauth-protected-resource/<path>` and `/.well-known/oauth-protected-resource`",
    },
    Rule {
        id: "discovery.prm_path_missing",
        severity: Severity::Warning,
        reference: "RFC 9728 §3.1; MCP 2025-11-25 Authorization §Protected Resource Metadata Discovery (path-inserted, then root); anthropics/claude-code#83681",
        fix: "serve the same protected resource metadata at both the path-inserted and the root well-known URL",
    },
    Rule {
        id: "discovery.as_missing",
        severity: Severity::Error,
        reference: "RFC 8414 §3; MCP 2025-11-25 Authorization §Authorization Server Metadata Discovery",
        fix: "serve authorization server metadata at `/.well-known/oauth-authorization-server` (path-inserted after it when the issuer has a path)",
    },
    Rule {
        id: "discovery.as_path_missing",
        severity: Severity::Warning,
        reference: "RFC 8414 §3.1; ChatGPT and Claude Code derive it from the MCP URL (adcontextprotocol/adcp PR#1081, taylorwilsdon/google_workspace_mcp#382)",
        fix: "serve the authorization server metadata at the root well-known URL and with the MCP path inserted",
    },
    Rule {
        id: "issuer.mismatch",
        severity: Severity::Error,
        reference: "RFC 8414 §3.3; RFC 9728 §3 (`authorization_servers`); MCP 2026-07-28 authorization-server-discovery (MUST be identical)",
        fix: "make the metadata's `issuer` byte-identical to the entry of `authorization_servers` and to the URL the metadata is derived from",
    },
    Rule {
        id: "resource.mismatch",
        severity: Severity::Error,
        reference: "RFC 9728 §3.3; microsoft/vscode#259251; stormkit-io/stormkit-io#363",
        fix: "set the metadata's `resource` to the MCP URL exactly as users enter it (scheme, host, path, no trailing slash)",
    },
    Rule {
        id: "scope.malformed",
        severity: Severity::Error,
        reference: "RFC 6749 §3.3 scope-token grammar; clients join `scopes_supported` with spaces, so `[\"claudeai\", \"\"]` becomes `\"claudeai \"` (the mcpgen seed incident)",
        fix: "list only valid scope-tokens (printable ASCII, no spaces, quotes or backslashes) in metadata and challenges; never an empty entry",
    },
    Rule {
        id: "as.pkce_missing",
        severity: Severity::Error,
        reference: "MCP 2025-11-25 Authorization §Authorization Code Protection; forcedotcom/mcp-hosted#47",
        fix: "advertise `code_challenge_methods_supported: [\"S256\"]` and verify PKCE",
    },
    Rule {
        id: "registration.failed",
        severity: Severity::Error,
        reference: "RFC 7591 §3; MCP 2025-11-25 Authorization §Dynamic Client Registration",
        fix: "accept this client's registration body (its redirect URIs, grant types and `token_endpoint_auth_method`) and answer 201 with a `client_id`",
    },
    Rule {
        id: "authorize.failed",
        severity: Severity::Error,
        reference: "RFC 6749 §4.1; OAuth 2.1 §4.1; RFC 8707 §2",
        fix: "accept the client's authorization request (redirect URI, PKCE S256, `scope`, `resource`) and redirect back with `code` and `state`",
    },
    Rule {
        id: "token.failed",
        severity: Severity::Error,
        reference: "RFC 6749 §5.1, §5.2",
        fix: "answer the token request 200 with JSON `access_token`, `token_type: \"Bearer\"` and integer `expires_in`",
    },
    Rule {
        id: "token.scope_malformed",
        severity: Severity::Error,
        reference: "RFC 6749 §3.3, §5.1; the mcpgen seed incident (`\"scope\": \"claudeai \"` and Claude never called the server)",
        fix: "return the granted scope normalised: tokens split on whitespace, empty ones dropped, joined with single spaces",
    },
    Rule {
        id: "token.no_refresh",
        severity: Severity::Warning,
        reference: "RFC 6749 §1.5, §6; anthropics/claude-ai-mcp#840, #702 (connectors die when the access token expires)",
        fix: "issue a refresh token to clients registered for the `refresh_token` grant",
    },
    Rule {
        id: "refresh.failed",
        severity: Severity::Error,
        reference: "RFC 6749 §6; anthropics/claude-ai-mcp#680 (Claude refreshes on a schedule)",
        fix: "accept the refresh token the server issued and answer with a new access token",
    },
    Rule {
        id: "refresh.dead_token",
        severity: Severity::Error,
        reference: "OAuth 2.1 §4.3.1 (rotation); PrefectHQ/fastmcp#4264, #4901 (clients refresh in parallel and keep the last answer)",
        fix: "keep every token returned in a 200 usable: allow a short grace for a refresh token retried or raced, and do not revoke what a concurrent refresh returned",
    },
    Rule {
        id: "mcp.failed",
        severity: Severity::Error,
        reference: "MCP 2025-11-25 Lifecycle §Initialization, Transports §Sending Messages",
        fix: "answer `initialize` and `tools/list` with a JSON-RPC result (application/json or text/event-stream)",
    },
    Rule {
        id: "transport.sse_buffered",
        severity: Severity::Warning,
        reference: "MCP 2026-07-28 Streamable HTTP §Receiving Messages (`X-Accel-Buffering: no`); long calls time out behind a buffering proxy",
        fix: "turn response buffering off for the MCP endpoint in the proxy (nginx `proxy_buffering off`, `X-Accel-Buffering: no`)",
    },
    Rule {
        id: "tools.name_invalid",
        severity: Severity::Error,
        reference: "Claude accepts `^[a-zA-Z0-9_-]{1,64}$` and drops every tool of a server when one name fails (evoila/meho#2745, modelcontextprotocol/modelcontextprotocol#1063)",
        fix: "rename the tool to 1 to 64 letters, digits, `_` or `-`",
    },
    Rule {
        id: "tools.schema_no_properties",
        severity: Severity::Warning,
        reference: "MCP schema `Tool.inputSchema` (`type: \"object\"`); OpenAI-backed clients reject an object schema without `properties` (github/copilot-cli#1825, mark3labs/mcp-go#224)",
        fix: "give the input schema `\"type\": \"object\"` and a `properties` object (`{}` for no arguments)",
    },
    Rule {
        id: "tools.annotations_missing",
        severity: Severity::Warning,
        reference: "MCP schema `ToolAnnotations`; OpenAI app review and Claude's directory require the hints (Teamwork/mcp#420)",
        fix: "set `readOnlyHint`, `destructiveHint` and `openWorldHint` explicitly on every tool",
    },
    Rule {
        id: "stepup.required",
        severity: Severity::Error,
        reference: "MCP 2025-11-25 Authorization §Scope Challenge Handling; clients that do not step up: anthropics/claude-ai-mcp#931 (Claude), anthropics/claude-code#19066, #44652, #68720 (Claude Code)",
        fix: "grant at connect what the tools need: ask for it in the 401 challenge's `scope` (in a generated server, `auth.default_scopes`)",
    },
    Rule {
        id: "call.failed",
        severity: Severity::Error,
        reference: "MCP 2025-11-25 Tools §Calling Tools, §Error Handling",
        fix: "answer `tools/call` with a result; report tool failures as `isError: true` results",
    },
    Rule {
        id: "revocation.failed",
        severity: Severity::Warning,
        reference: "RFC 7009 §2.2 (200 for a valid or an unknown token)",
        fix: "answer revocation requests from the registered client with 200",
    },
    Rule {
        id: "auth.none",
        severity: Severity::Info,
        reference: "MCP 2025-11-25 Authorization §1.2 (authorization is optional)",
        fix: "nothing, if the server is meant to be public",
    },
];

/// The rule of a finding id. Panics on an unknown id: ids are constants of this module.
pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no doctor rule `{id}`"))
}

/// One thing the doctor saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id from [`RULES`].
    pub id: &'static str,
    /// How bad it is for the client checked.
    pub severity: Severity,
    /// The step it was seen at (`challenge`, `discovery`, ...).
    pub step: &'static str,
    /// What was seen, with the values involved.
    pub message: String,
    /// What to change.
    pub fix: String,
    /// The rule or client behaviour behind it.
    pub reference: String,
}

impl Finding {
    /// A finding of rule `id` at its default severity.
    pub fn new(id: &'static str, step: &'static str, message: impl Into<String>) -> Self {
        let r = rule(id);
        Finding {
            id,
            severity: r.severity,
            step,
            message: message.into(),
            fix: r.fix.to_string(),
            reference: r.reference.to_string(),
        }
    }

    /// The same finding at another severity.
    pub fn at(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

/// `scope.malformed` findings for each invalid scope-token of `scopes`, found in `place`
/// (e.g. "the protected resource metadata's `scopes_supported`").
pub fn scope_tokens(step: &'static str, place: &str, scopes: &[String]) -> Vec<Finding> {
    capped(scopes.iter().filter_map(|s| {
        validate::scope_problem(s).map(|why| {
            Finding::new(
                "scope.malformed",
                step,
                format!("{place} lists {:?}, which {why}", short(s)),
            )
        })
    }))
}

/// Most findings with one id that a report keeps; the rest are counted in one more finding.
pub const MAX_SAME: usize = 5;

/// At most [`MAX_SAME`] findings per id, in order, then for each id with more, one finding
/// saying how many more there were. A server that lists a million bad tools or scopes gets a
/// report of a few lines (the findings are made and dropped one at a time).
pub fn capped(findings: impl IntoIterator<Item = Finding>) -> Vec<Finding> {
    let mut kept: Vec<Finding> = Vec::new();
    let mut more: Vec<(&'static str, &'static str, usize)> = Vec::new();
    for f in findings {
        if kept.iter().filter(|k| k.id == f.id).count() < MAX_SAME {
            kept.push(f);
        } else if let Some(m) = more.iter_mut().find(|m| m.0 == f.id) {
            m.2 += 1;
        } else {
            more.push((f.id, f.step, 1));
        }
    }
    for (id, step, n) in more {
        let severity = kept.iter().find(|k| k.id == id).map(|k| k.severity);
        let mut f = Finding::new(id, step, format!("and {n} more like the above"));
        if let Some(s) = severity {
            f = f.at(s);
        }
        kept.push(f);
    }
    kept
}

/// At most 100 characters of a server's string, for a message.
pub fn short(s: &str) -> String {
    if s.chars().count() <= 100 {
        return s.to_string();
    }
    let mut out: String = s.chars().take(100).collect();
    out.push('…');
    out
}

/// Why a `scope` value (space-separated scope-tokens, RFC 6749 §3.3) is not normalised, if it
/// is not: empty tokens, leading, trailing or doubled spaces, other whitespace, bad tokens.
pub fn scope_string_problem(scope: &str) -> Option<String> {
    if mcpgen_rules::is_scope(scope) {
        return None;
    }
    if scope.is_empty() {
        return Some("is empty".into());
    }
    for token in scope.split(' ') {
        if token.is_empty() {
            return Some(if scope.starts_with(' ') {
                "starts with a space".into()
            } else if scope.ends_with(' ') {
                "ends with a space".into()
            } else {
                "has two spaces in a row".into()
            });
        }
        if let Some(why) = validate::scope_problem(token) {
            return Some(format!("has the token {token:?}, which {why}"));
        }
    }
    Some("is not a scope value".into())
}

/// The scopes of a string list in a JSON document (`scopes_supported`), as strings; entries
/// that are not strings are kept as their JSON text so they are reported.
pub fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect()
    })
}

/// The auth-params of a `WWW-Authenticate: Bearer …` challenge (RFC 6750 §3, RFC 9110
/// §11.2), keys lowercased. `None` when the header is not a Bearer challenge.
pub fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.push((key, value));
    }
    Some(out)
}

/// One auth-param of a challenge, by (lowercase) name.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The findings about one tool of `tools/list`: its name, input schema and annotations.
pub fn tool(t: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let name = &short(t["name"].as_str().unwrap_or_default());
    if !validate::valid_tool_name(name) {
        out.push(Finding::new(
            "tools.name_invalid",
            "tools",
            format!(
                "tool name {name:?} does not match {}",
                crate::spec::TOOL_NAME_PATTERN
            ),
        ));
    }
    let schema = &t["inputSchema"];
    if schema["type"] != "object" || !schema["properties"].is_object() {
        let what = if schema["type"] != "object" {
            format!("has type {}", schema["type"])
        } else {
            "has no `properties`".to_string()
        };
        out.push(Finding::new(
            "tools.schema_no_properties",
            "tools",
            format!("`{name}`'s input schema {what}"),
        ));
    }
    let missing: Vec<&str> = ["readOnlyHint", "destructiveHint", "openWorldHint"]
        .into_iter()
        .filter(|h| !t["annotations"][h].is_boolean())
        .collect();
    if !missing.is_empty() {
        out.push(Finding::new(
            "tools.annotations_missing",
            "tools",
            format!("`{name}` does not set {}", missing.join(", ")),
        ));
    }
    out
}

/// The `stepup.required` finding for a tool that answered `403 insufficient_scope` asking for
/// `challenged` when the client holds `granted`: an error for a client that does not step up,
/// info for one that does. `None` when the challenge asks for nothing the client lacks.
pub fn step_up(
    client: &ClientProfile,
    tool: &str,
    granted: &BTreeSet<String>,
    challenged: &[String],
) -> Option<Finding> {
    let gap = clients::step_up_gaps(granted, [(tool, challenged)])
        .into_iter()
        .next()?;
    let missing = gap.missing.join(" ");
    let f = Finding::new(
        "stepup.required",
        "call",
        format!(
            "`{tool}` needs {missing:?}, which {} is not granted at connect; {}",
            client.name,
            if client.completes_step_up {
                "this client re-authorizes with the wider scope"
            } else {
                "this client does not step up, so the call never succeeds"
            }
        ),
    );
    let mut f = if client.completes_step_up {
        f.at(Severity::Info)
    } else {
        f
    };
    if !client.step_up_reference.is_empty() {
        f.reference = format!(
            "MCP 2025-11-25 Authorization §Scope Challenge Handling; {} does not step up: {}",
            client.name, client.step_up_reference
        );
    }
    Some(f)
}

/// The scope a client asks for at authorization: the challenge's `scope` when present (MCP
/// 2025-11-25 §Scope Selection Strategy), else the metadata's `scopes_supported` joined with
/// single spaces exactly as clients join them (empty entries included: the seed incident),
/// plus `offline_access` when the authorization server lists it. `None`: no scope parameter.
pub fn requested_scope(
    challenge: Option<&str>,
    prm_scopes: Option<&[String]>,
    as_scopes: Option<&[String]>,
) -> Option<String> {
    let mut scope = match (challenge, prm_scopes) {
        (Some(c), _) => c.to_string(),
        (None, Some(list)) if !list.is_empty() => list.join(" "),
        _ => String::new(),
    };
    let offline = as_scopes.is_some_and(|l| l.iter().any(|s| s == "offline_access"));
    if offline && !scope.split(' ').any(|s| s == "offline_access") {
        if !scope.is_empty() {
            scope.push(' ');
        }
        scope.push_str("offline_access");
    }
    (!scope.is_empty()).then_some(scope)
}

/// Whether `resource` is the URL being checked, and if not, why in words.
pub fn resource_problem(resource: Option<&str>, url: &str) -> Option<String> {
    match resource {
        None => Some("has no `resource`".into()),
        Some(r) if r == url => None,
        Some(r) if r.trim_end_matches('/') == url.trim_end_matches('/') => Some(format!(
            "says `resource` {r:?}, which differs from {url:?} by a trailing slash"
        )),
        Some(r) => Some(format!("says `resource` {r:?}, not {url:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_rule_id_is_unique_and_has_a_reference_and_fix() {
        let ids: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), RULES.len());
        assert!(
            RULES
                .iter()
                .all(|r| !r.reference.is_empty() && !r.fix.is_empty())
        );
    }

    #[test]
    fn the_seed_scope_strings_are_malformed_and_normal_ones_are_not() {
        assert_eq!(
            scope_string_problem("claudeai ").as_deref(),
            Some("ends with a space")
        );
        assert_eq!(
            scope_string_problem(" offline_access").as_deref(),
            Some("starts with a space")
        );
        assert!(scope_string_problem("a  b").is_some());
        assert!(scope_string_problem("a\tb").is_some());
        assert!(scope_string_problem("").is_some());
        assert_eq!(scope_string_problem("claudeai offline_access"), None);
        let found = scope_tokens("discovery", "x", &["claudeai".into(), "".into()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "scope.malformed");
    }

    #[test]
    fn clients_join_scopes_supported_as_they_are() {
        let prm = vec!["claudeai".to_string(), String::new()];
        assert_eq!(
            requested_scope(None, Some(&prm), None).as_deref(),
            Some("claudeai ")
        );
        let asm = vec!["offline_access".to_string()];
        assert_eq!(
            requested_scope(Some("notes"), Some(&prm), Some(&asm)).as_deref(),
            Some("notes offline_access")
        );
        assert_eq!(requested_scope(None, None, None), None);
    }

    #[test]
    fn bearer_challenges_are_parsed_with_quotes_and_escapes() {
        let p = bearer_params(
            r#"Bearer error="insufficient_scope", scope="a b", resource_metadata="https://h/x", realm=r\"#,
        )
        .unwrap();
        assert_eq!(param(&p, "scope"), Some("a b"));
        assert_eq!(param(&p, "resource_metadata"), Some("https://h/x"));
        assert_eq!(param(&p, "realm"), Some("r\\"));
        assert!(bearer_params("Basic realm=\"x\"").is_none());
        assert_eq!(bearer_params("Bearer").unwrap(), vec![]);
    }

    #[test]
    fn tools_are_checked_for_name_schema_and_annotations() {
        let good = json!({"name": "ok_tool", "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": true, "destructiveHint": false, "openWorldHint": false}});
        assert!(tool(&good).is_empty());
        let bad = json!({"name": "bad.name", "inputSchema": {"type": "object"}});
        let ids: Vec<&str> = tool(&bad).iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            [
                "tools.name_invalid",
                "tools.schema_no_properties",
                "tools.annotations_missing"
            ]
        );
    }

    #[test]
    fn step_up_is_an_error_only_for_clients_that_do_not_step_up() {
        let granted: BTreeSet<String> = ["notes".to_string()].into();
        let needed = vec!["notes".to_string(), "notes.write".to_string()];
        let claude = clients::client("claude").unwrap();
        let vscode = clients::client("vscode").unwrap();
        let f = step_up(claude, "save", &granted, &needed).unwrap();
        assert_eq!((f.id, f.severity), ("stepup.required", Severity::Error));
        assert!(f.message.contains("\"notes.write\""), "{}", f.message);
        let f = step_up(vscode, "save", &granted, &needed).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(step_up(claude, "save", &granted, &needed[..1]).is_none());
    }

    #[test]
    fn resource_must_be_the_url_exactly() {
        assert_eq!(
            resource_problem(Some("https://h/mcp"), "https://h/mcp"),
            None
        );
        assert!(
            resource_problem(Some("https://h/mcp/"), "https://h/mcp")
                .unwrap()
                .contains("trailing slash")
        );
        assert!(resource_problem(Some("https://h"), "https://h/mcp").is_some());
        assert!(resource_problem(None, "https://h/mcp").is_some());
    }
}
