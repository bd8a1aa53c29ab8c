//! The authentication hook between the MCP endpoint and whatever guards it.
//!
//! The endpoint calls [`Authenticator::authenticate`] after the Origin check and before any
//! other check, so an unauthenticated client always sees 401 first; and
//! [`Authenticator::authorize_tool`] once a `tools/call` names a known tool, before its
//! arguments are validated, so a missing scope is a 403 rather than a validation error.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// The person an authorization was granted by: carried by every authorization code, access
/// and refresh token issued for them, and handed to tools as the caller.
///
/// `subject` identifies the person for the server (stable, unique within the server):
/// - with `login: users`, the user's name as given to `users add`;
/// - with `login: password`, [`Person::OPERATOR`]: the shared password stands for one
///   operator, so every grant it approves belongs to that one subject;
/// - with `login: auto`, [`Person::LOCAL`]: whoever uses the loopback machine;
/// - with `login: oidc`, the subject the OpenID provider asserts (see `oauth::oidc`).
///
/// Records written before people were stored decode as [`Person::operator`]: they were all
/// approved with the shared password (or automatically on a loopback server).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    /// Who the person is to this server; never empty.
    pub subject: String,
    /// A display name, when known (a user's name, the OpenID `name` claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An email address, when known (`users add --email`, the OpenID `email` claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Person {
    /// The subject of grants approved with the shared password (`login: password`).
    pub const OPERATOR: &'static str = "operator";
    /// The subject of grants approved automatically (`login: auto`, loopback only).
    pub const LOCAL: &'static str = "local";

    /// A person known only by `subject`.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            name: None,
            email: None,
        }
    }

    /// The one operator the shared password stands for ([`Person::OPERATOR`]).
    pub fn operator() -> Self {
        Self::new(Self::OPERATOR)
    }

    /// Whoever uses a loopback server with automatic consent ([`Person::LOCAL`]).
    pub fn local() -> Self {
        Self::new(Self::LOCAL)
    }
}

/// Who a request acts for, as established by the authenticator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// The OAuth client the token was issued to (`None` without authentication).
    pub client_id: Option<String>,
    /// The person the token was issued for (`None` without authentication).
    pub person: Option<Person>,
    /// The scopes the token carries.
    pub scopes: BTreeSet<String>,
    /// The protected resource metadata URL (RFC 9728) of the URL form the request used
    /// (`/mcp` or `/mcp/`), which a step-up challenge points to; `None` without OAuth.
    pub resource_metadata: Option<String>,
}

/// A future returned by [`Authenticator::authenticate`].
pub type AuthFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Principal, axum::response::Response>> + Send + 'a>>;

/// Guards the MCP endpoint. `Err` carries the complete HTTP response to send (401, 403, 503).
// A refused request's response is the error itself, built once and sent as is; boxing it
// would only move the same bytes.
#[allow(clippy::result_large_err)]
pub trait Authenticator: Send + Sync + 'static {
    /// Establishes who the request acts for from its head (the body is not read yet).
    fn authenticate<'a>(&'a self, parts: &'a http::request::Parts) -> AuthFuture<'a>;

    /// Checks that `principal` may call a tool that requires `required` scopes.
    fn authorize_tool(
        &self,
        principal: &Principal,
        required: &[&str],
    ) -> Result<(), axum::response::Response>;
}

/// No authentication: every request is allowed. Only for `auth: none` on loopback servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[allow(clippy::result_large_err)]
impl Authenticator for NoAuth {
    fn authenticate<'a>(&'a self, _parts: &'a http::request::Parts) -> AuthFuture<'a> {
        Box::pin(async { Ok(Principal::default()) })
    }

    fn authorize_tool(
        &self,
        _principal: &Principal,
        _required: &[&str],
    ) -> Result<(), axum::response::Response> {
        Ok(())
    }
}
