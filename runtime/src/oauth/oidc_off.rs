//! Stands in for `oidc` in a build without the cargo feature `oidc` (no openidconnect, no
//! https client): the settings are the same, the OpenID side cannot exist. Start-up refuses
//! `login: oidc` on such a build, naming the feature, so nothing here decides a request.

use axum::response::Response;
use http::HeaderMap;

use super::Inner;
pub use super::login::{
    OIDC_CLIENT_ID_ENV, OIDC_CLIENT_SECRET_ENV, OIDC_ISSUER_ENV, OidcConfig, OidcConfigError,
};

/// The path of the redirect URI to register at the provider, under the public URL.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// Uninhabited: no value of [`Oidc`] is ever made.
enum Never {}

/// The OpenID side; this build has none (see [`Oidc::new`]).
pub(crate) struct Oidc(Never);

impl Oidc {
    /// Always fails: this build was made without the `oidc` feature.
    pub(crate) fn new(_config: OidcConfig, _callback_url: &str) -> Result<Self, String> {
        Err(
            "login oidc needs the mcpgen-runtime feature \"oidc\", which this build was \
             compiled without"
                .into(),
        )
    }

    pub(crate) fn warm_up(self: &std::sync::Arc<Self>) {
        match self.0 {}
    }

    pub(crate) async fn begin(
        &self,
        _inner: &Inner,
        _headers: &HeaderMap,
        _query: &str,
        _login: bool,
    ) -> Response {
        match self.0 {}
    }
}
