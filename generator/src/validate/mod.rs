//! Validate: the JSON Schema check, then the checks a schema cannot express.
//!
//! Every problem in a file is collected (none stops the others), located by JSON Pointer and
//! turned into a [`Diagnostic`] with the message a person needs.
//!
//! One module per concern: [`schema`] (the JSON Schema check), [`scopes`], [`server`]
//! (URLs and settings), [`tools`] (names, templates, schemas) and [`text`] (characters);
//! this module holds the entry point, the diagnostics collector they share, and the order
//! they run in.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use mcpgen_rules::base_url::{self, BaseUrlError, check_base_url};
use mcpgen_rules::{is_loopback_host, is_loopback_url, is_scope_token};
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::naming;
use crate::parse::{Document, Positions, describe, push_pointer};
use crate::spec::{self, Spec};

mod login;
mod schema;
mod scopes;
mod server;
mod text;
mod tools;

pub use scopes::scope_problem;
pub use server::parse_duration;
pub use tools::valid_tool_name;

// Shared between the concerns.
use schema::backticked;
use server::percent_decode;

/// Validates a parsed spec. `Ok` only when the spec is free of every known problem.
pub fn validate(doc: &Document) -> Result<Spec, Vec<Diagnostic>> {
    let mut v = Checker {
        pos: &doc.positions,
        diags: Vec::new(),
    };
    v.schema(&doc.value);
    v.semantics(&doc.value);
    v.text(&doc.value);
    if !v.diags.is_empty() {
        return Err(v.diags);
    }
    // The schema was generated from these types, so this only fails if they drift apart.
    serde_json::from_value(doc.value.clone()).map_err(|e| {
        vec![Diagnostic::new(
            format!("internal error: the spec passed validation but does not load: {e}"),
            0..0,
        )]
    })
}

/// `tools[2].input.properties.type`: a pointer as a person reads it.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    if out.is_empty() {
        "the spec".into()
    } else {
        out
    }
}

/// The closest candidate to `word`, when it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

struct Checker<'a> {
    pos: &'a Positions,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at_value(&mut self, pointer: &str, message: impl Into<String>) -> &mut Diagnostic {
        let span = self.pos.value(pointer);
        self.push(Diagnostic::new(message, span))
    }

    fn at_key(&mut self, pointer: &str, message: impl Into<String>) -> &mut Diagnostic {
        let span = self.pos.key(pointer);
        self.push(Diagnostic::new(message, span))
    }

    /// The first line of a node: where "this mapping is missing a key" points.
    fn head(&self, pointer: &str) -> Range<usize> {
        if pointer.is_empty() {
            // The whole file would be one huge span; its first character says "the spec".
            0..0
        } else {
            self.pos.key(pointer)
        }
    }

    fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.diags.push(d);
        self.diags.last_mut().expect("just pushed")
    }

    fn help(&mut self, help: impl Into<String>) {
        if let Some(d) = self.diags.last_mut() {
            d.help = Some(help.into());
        }
    }

    fn semantics(&mut self, spec: &Value) {
        let public_url = spec.pointer("/server/public_url").and_then(Value::as_str);
        let public_loopback = public_url.is_some_and(is_loopback_url);
        if let Some(url) = public_url {
            self.origin_url("/server/public_url", url);
        }
        if let Some(endpoint) = spec.pointer("/server/endpoint").and_then(Value::as_str) {
            self.endpoint(endpoint);
        }
        if let Some(bind) = spec.pointer("/server/bind").and_then(Value::as_str) {
            self.bind(bind);
        }
        if let Some(origins) = spec
            .pointer("/server/allowed_origins")
            .and_then(Value::as_array)
        {
            for (i, o) in origins.iter().enumerate() {
                if let Some(o) = o.as_str() {
                    self.allowed_origin(&format!("/server/allowed_origins/{i}"), o);
                }
            }
        }
        if let Some(origins) = spec
            .pointer("/server/hosted_client_origins")
            .and_then(Value::as_array)
        {
            for (i, o) in origins.iter().enumerate() {
                if let Some(o) = o.as_str() {
                    self.allowed_origin(&format!("/server/hosted_client_origins/{i}"), o);
                }
            }
        }
        self.unique_strings("/server/protocol_versions", spec, "protocol version");

        let auth = spec.get("auth");
        let auth_none = auth.and_then(Value::as_str) == Some("none");
        if auth_none && public_url.is_some() && !public_loopback {
            self.at_value("/auth", "`auth: none` needs a loopback public URL");
            self.help("a server on the internet must authenticate its clients; remove `auth: none`, or use `http://127.0.0.1:PORT` for a local server");
        }
        let declared: Vec<String> = spec
            .pointer("/auth/scopes")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if declared.iter().any(|s| s == "offline_access") {
            self.at_key(
                "/auth/scopes/offline_access",
                "`offline_access` is not a scope to declare",
            );
            self.help("mcpgen offers `offline_access` for refresh tokens itself; remove it here");
        }
        // A misspelt `scopes` key is reported as such, not as a missing scope.
        let scopes_misspelt = auth.and_then(Value::as_object).is_some_and(|a| {
            a.keys()
                .any(|k| k != "scopes" && nearest(k, ["scopes"]).is_some())
        });
        if !auth_none
            && declared.is_empty()
            && !scopes_misspelt
            && auth.is_none_or(Value::is_object)
        {
            let at = if auth.is_some() { "/auth" } else { "" };
            let span = self.head(at);
            self.push(Diagnostic::new(
                "an OAuth server needs at least one scope",
                span,
            ));
            self.help("declare one under `auth.scopes`, e.g. `mcp: { description: Use this server }`; or write `auth: none` for a loopback server");
        }
        if let Some(Value::Array(defaults)) = spec.pointer("/auth/default_scopes")
            && defaults.is_empty()
        {
            self.at_value(
                "/auth/default_scopes",
                "`auth.default_scopes` must not be empty",
            );
            self.help("list the scopes a client gets when it asks for none, or remove the key to use every declared scope");
        }
        if let Some(auth) = auth.and_then(Value::as_object) {
            if let Some(issuer) = auth.get("issuer").and_then(Value::as_str) {
                self.origin_url("/auth/issuer", issuer);
            }
            for key in ["login", "consent"] {
                if auth.get(key).and_then(Value::as_str) == Some("auto")
                    && public_url.is_some()
                    && !public_loopback
                {
                    self.at_value(
                        &format!("/auth/{key}"),
                        format!("`{key}: auto` needs a loopback public URL"),
                    );
                    self.help("with `auto`, anyone who reaches the server gets a token; use `password`, `users` or `oidc` on a public server");
                }
            }
            self.login(auth);
            self.scope_refs("/auth/default_scopes", spec, &declared, auth_none);
            self.unique_strings("/auth/default_scopes", spec, "scope");
            self.ttls(auth);
            if let Some(uris) = spec
                .pointer("/auth/registration/redirect_uris")
                .and_then(Value::as_array)
            {
                for (i, u) in uris.iter().enumerate() {
                    if let Some(u) = u.as_str() {
                        self.redirect_uri(&format!("/auth/registration/redirect_uris/{i}"), u);
                    }
                }
            }
        }
        if let Some(tools) = spec.get("tools").and_then(Value::as_array) {
            self.tools(tools, spec, &declared, auth_none);
        }
    }
}
