//! The hosted MCP clients mcpgen knows, and the step-up rule that depends on them.
//!
//! One definition, used by `mcpgen check` (a warning on a spec whose tools need scopes a client
//! is not granted at connect) and by `mcpgen doctor` (the `stepup.required` finding, and the
//! headers, registration body and protocol version each client is impersonated with).
//!
//! Sources: `mcp-requirements.md` §4 (observed flows) and §8 (later reports), and the public
//! issues named in each profile.

use std::collections::BTreeSet;

/// How one MCP client talks to a remote server: what it sends, and what it does not do.
///
/// The header and body values are those seen in public traces of the client; where a client
/// uses two User-Agents (Claude discovers with one and calls with another), both are here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientProfile {
    /// Short id used on the command line (`--as claude`): `claude`, `chatgpt`, `vscode`,
    /// `cursor`, `claude-code`, `generic`.
    pub id: &'static str,
    /// The name people know the client by.
    pub name: &'static str,
    /// Whether the client, on a `403` with `WWW-Authenticate: Bearer error="insufficient_scope"`
    /// (MCP 2025-11-25 §Scope Challenge Handling), re-authorizes with the wider scope and retries.
    pub completes_step_up: bool,
    /// The public report behind `completes_step_up` (`owner/repo#N`), or `""` when the client
    /// follows the spec.
    pub step_up_reference: &'static str,
    /// `User-Agent` of discovery, registration and token requests.
    pub user_agent: &'static str,
    /// `User-Agent` of authenticated MCP requests (Claude: `Claude-User`, which WAFs block:
    /// anthropics/claude-ai-mcp#968).
    pub mcp_user_agent: &'static str,
    /// `Origin` the client's browser-side connector may send on `POST /mcp`, if any
    /// (SocketDev/socket-mcp PR#214, chrisdoc/hevy-mcp PR#727).
    pub origin: Option<&'static str>,
    /// The redirect URI the client registers and authorizes with. `{port}` stands for a loopback
    /// port the client picks (VS Code: 33418 when free, else any: microsoft/vscode#278512).
    pub redirect_uri: &'static str,
    /// Every redirect URI in the client's registration body (RFC 7591 §2), `{port}` as above.
    pub registered_redirect_uris: &'static [&'static str],
    /// `client_name` in the registration body.
    pub client_name: &'static str,
    /// `token_endpoint_auth_method` in the registration body (RFC 7591 §2).
    pub token_endpoint_auth_method: &'static str,
    /// `protocolVersion` the client sends in `initialize` (and as `MCP-Protocol-Version`).
    pub protocol_version: &'static str,
    /// Whether the client compares the metadata's `resource` with the URL byte for byte,
    /// trailing slash included (microsoft/vscode#259251, RFC 9728 §3.3).
    pub exact_resource: bool,
}

/// The known clients, `generic` last (a spec-following client with no quirks).
pub const CLIENTS: &[ClientProfile] = &[
    ClientProfile {
        id: "claude",
        name: "Claude (claude.ai, Desktop, Cowork)",
        completes_step_up: false,
        step_up_reference: "anthropics/claude-ai-mcp#931",
        user_agent: "python-httpx/0.28.1",
        mcp_user_agent: "Claude-User",
        origin: Some("https://claude.ai"),
        redirect_uri: "https://claude.ai/api/mcp/auth_callback",
        registered_redirect_uris: &["https://claude.ai/api/mcp/auth_callback"],
        client_name: "Claude",
        token_endpoint_auth_method: "client_secret_post",
        protocol_version: "2025-11-25",
        exact_resource: false,
    },
    ClientProfile {
        id: "claude-code",
        name: "Claude Code",
        completes_step_up: false,
        step_up_reference: "anthropics/claude-code#19066, #44652, #68720",
        user_agent: "claude-code",
        mcp_user_agent: "claude-code",
        origin: None,
        redirect_uri: "http://localhost:{port}/callback",
        registered_redirect_uris: &["http://localhost:{port}/callback"],
        client_name: "Claude Code",
        token_endpoint_auth_method: "none",
        protocol_version: "2025-11-25",
        exact_resource: false,
    },
    ClientProfile {
        id: "chatgpt",
        name: "ChatGPT (developer mode, Apps)",
        completes_step_up: true,
        step_up_reference: "",
        user_agent: "openai-mcp/1.0.0",
        mcp_user_agent: "openai-mcp/1.0.0",
        origin: Some("https://chatgpt.com"),
        redirect_uri: "https://chatgpt.com/connector_platform_oauth_redirect",
        registered_redirect_uris: &["https://chatgpt.com/connector_platform_oauth_redirect"],
        client_name: "ChatGPT",
        token_endpoint_auth_method: "client_secret_post",
        protocol_version: "2025-06-18",
        exact_resource: false,
    },
    ClientProfile {
        id: "vscode",
        name: "VS Code (GitHub Copilot)",
        completes_step_up: true,
        step_up_reference: "",
        user_agent: "Visual Studio Code",
        mcp_user_agent: "Visual Studio Code",
        origin: None,
        redirect_uri: "http://127.0.0.1:{port}/",
        registered_redirect_uris: &[
            "https://insiders.vscode.dev/redirect",
            "https://vscode.dev/redirect",
            "http://127.0.0.1/",
            "http://127.0.0.1:{port}/",
        ],
        client_name: "Visual Studio Code",
        token_endpoint_auth_method: "none",
        protocol_version: "2025-11-25",
        exact_resource: true,
    },
    ClientProfile {
        id: "cursor",
        name: "Cursor",
        completes_step_up: true,
        step_up_reference: "",
        user_agent: "Cursor",
        mcp_user_agent: "Cursor",
        origin: None,
        redirect_uri: "http://localhost:{port}/callback",
        registered_redirect_uris: &[
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:{port}/callback",
        ],
        client_name: "Cursor",
        token_endpoint_auth_method: "none",
        protocol_version: "2025-06-18",
        exact_resource: false,
    },
    ClientProfile {
        id: "generic",
        name: "a spec-following client (MCP 2025-11-25)",
        completes_step_up: true,
        step_up_reference: "",
        user_agent: "mcpgen-doctor",
        mcp_user_agent: "mcpgen-doctor",
        origin: None,
        redirect_uri: "http://127.0.0.1:{port}/callback",
        registered_redirect_uris: &["http://127.0.0.1:{port}/callback"],
        client_name: "mcpgen doctor",
        token_endpoint_auth_method: "none",
        protocol_version: "2025-11-25",
        exact_resource: true,
    },
];

/// The profile with this id (`claude`, `chatgpt`, ...), if known.
pub fn client(id: &str) -> Option<&'static ClientProfile> {
    CLIENTS.iter().find(|c| c.id == id)
}

/// The known clients that do not complete a step-up (see [`ClientProfile::completes_step_up`]).
pub fn clients_without_step_up() -> impl Iterator<Item = &'static ClientProfile> {
    CLIENTS.iter().filter(|c| !c.completes_step_up)
}

/// A tool a client cannot call when it keeps the scopes it was granted at connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpGap {
    /// The tool's name.
    pub tool: String,
    /// Its required scopes not granted at connect, in the order the tool lists them.
    pub missing: Vec<String>,
}

/// The step-up rule: each tool whose required scopes are not all among `connect_scopes`, the
/// scopes a client is granted when it connects (what the server's 401 challenge `scope` or its
/// metadata's `scopes_supported` ask for; in a generated server, `auth.default_scopes`).
///
/// Such a tool answers `403 insufficient_scope` (MCP 2025-11-25 §Runtime Insufficient Scope
/// Errors); a client that does not step up (see [`clients_without_step_up`]) never gets to call
/// it. Tools are returned in the order given; tools with no gap are left out.
pub fn step_up_gaps<'a>(
    connect_scopes: &BTreeSet<String>,
    tools: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Vec<StepUpGap> {
    tools
        .into_iter()
        .filter_map(|(tool, required)| {
            let mut missing: Vec<String> = Vec::new();
            for s in required {
                if !connect_scopes.contains(s) && !missing.contains(s) {
                    missing.push(s.clone());
                }
            }
            (!missing.is_empty()).then(|| StepUpGap {
                tool: tool.to_string(),
                missing,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_tool_needing_more_than_connect_scopes_is_a_gap() {
        let read = strings(&["notes:read"]);
        let write = strings(&["notes:read", "notes:write", "notes:write"]);
        let gaps = step_up_gaps(
            &set(&["notes:read"]),
            [("list", read.as_slice()), ("save", write.as_slice())],
        );
        assert_eq!(
            gaps,
            vec![StepUpGap {
                tool: "save".into(),
                missing: strings(&["notes:write"])
            }]
        );
    }

    #[test]
    fn tools_covered_at_connect_or_needing_nothing_are_no_gap() {
        let both = strings(&["a", "b"]);
        let none: Vec<String> = Vec::new();
        let gaps = step_up_gaps(
            &set(&["a", "b", "c"]),
            [("both", both.as_slice()), ("none", none.as_slice())],
        );
        assert!(gaps.is_empty());
    }

    #[test]
    fn nothing_granted_at_connect_leaves_every_scoped_tool_a_gap() {
        let a = strings(&["b", "a"]);
        let gaps = step_up_gaps(&BTreeSet::new(), [("t", a.as_slice())]);
        assert_eq!(gaps[0].missing, strings(&["b", "a"]));
    }

    #[test]
    fn claude_and_claude_code_do_not_step_up() {
        let ids: Vec<&str> = clients_without_step_up().map(|c| c.id).collect();
        assert_eq!(ids, ["claude", "claude-code"]);
        for c in clients_without_step_up() {
            assert!(!c.step_up_reference.is_empty(), "{} needs a source", c.id);
        }
    }

    #[test]
    fn profiles_are_found_by_id_and_ids_are_unique() {
        assert_eq!(
            client("claude").map(|c| c.user_agent),
            Some("python-httpx/0.28.1")
        );
        assert!(client("nope").is_none());
        let ids: BTreeSet<&str> = CLIENTS.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CLIENTS.len());
        for c in CLIENTS {
            assert!(
                c.registered_redirect_uris.contains(&c.redirect_uri),
                "{}",
                c.id
            );
        }
    }
}
