//! OAuth error responses (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 7009 §2.2.1) and the JSON 404
//! served under every OAuth path, since clients parse any body there as JSON.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// Longest text taken from a request that is logged, or echoed in an error description, in
/// bytes: 512. Longer values (a 60 KB redirect URI) are cut, so one request writes log lines
/// of bounded length, which Docker (16 KiB) and journald (48 KiB) never split into records
/// of their own.
pub(crate) const MAX_ECHOED: usize = 512;

/// `s` cut to at most [`MAX_ECHOED`] bytes at a character boundary, ending in `…` when cut.
pub(crate) fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_ECHOED {
        return s.into();
    }
    let mut end = MAX_ECHOED - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into()
}

/// An error answered as JSON `{"error", "error_description"}` with `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// The client tried HTTP Basic: RFC 6749 §5.2 requires a `WWW-Authenticate: Basic` then.
    pub basic_challenge: bool,
    /// Whose grant the refused request was about, when a stored code or token said so: for
    /// the log line of the refusal, never sent.
    pub subject: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: clip(&description.into()).into_owned(),
            basic_challenge: false,
            subject: None,
        }
    }

    /// The same error, logged as about the grant of `subject`.
    pub fn about(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Always 401: clients such as Claude re-register when they see it.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the authorization store is unavailable; try again",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge && self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth\", charset=\"UTF-8\""),
            );
        }
        res
    }
}

pub(crate) async fn not_found() -> Response {
    OAuthError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such oauth endpoint or document",
    )
    .into_response()
}
