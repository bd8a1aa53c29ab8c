//! The Streamable HTTP endpoint's HTTP side: checks in their required order (Host and Origin,
//! then authentication, then method, media types and size), CORS, and turning a [`Reply`] into
//! a response. One JSON-RPC message goes to [`era`](super::era), a 2025-03-26 batch to
//! [`batch`](super::batch).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tracing::Instrument as _;
use tracing::field::Empty;

use super::batch::batch;
use super::call;
use super::endpoint::{Accept, Endpoint, Reply};
use super::era::single;
use super::exchange::{Exchange, RequestId};
use super::jsonrpc::{self, ParseFailure, code};
use crate::auth::Principal;
use crate::oauth::clip;

/// Headers a browser client may read: the challenge and the MCP response headers.
const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, X-Request-Id";

/// The response header that carries the request's id (the `request_id` of its log line).
static X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// Axum handler for every HTTP method on the endpoint path.
///
/// One log line per request, written when the request is over (for a streamed `tools/call`,
/// when the stream ends): the span carries `request_id`, `method`, `tool`, `client_id`,
/// `subject` and `user_agent` (and gives them to every event inside it), the closing event
/// `status`, `outcome` (see [`Outcome`](crate::metrics::Outcome); the worst of a batch's
/// messages) and `duration_ms`. The outcome is recorded on the event only: recording it on
/// the span as well printed each field twice and cost about a tenth of the whole request in
/// formatting (callgrind, `bench/run`). The request id is sent back in `X-Request-Id`, the
/// header proxies and frameworks commonly use for it, so a user can quote the line to find.
pub(crate) async fn handle(State(ep): State<Arc<Endpoint>>, req: Request) -> Response {
    let id = RequestId::random();
    let span = tracing::info_span!(
        "mcp",
        request_id = %id,
        method = Empty,
        tool = Empty,
        client_id = Empty,
        subject = Empty,
        user_agent = Empty
    );
    let (parts, body) = req.into_parts();
    let trace = ep
        .traces
        .as_ref()
        .map(|t| t.request(&parts, &ep.route, &id.to_string()));
    let exchange = Arc::new(Exchange::new(
        span.clone(),
        Instant::now(),
        ep.metrics.clone(),
        trace,
    ));
    let mut resp = exchange
        .clone()
        .scope(process(&ep, Request::from_parts(parts, body)))
        .instrument(span)
        .await;
    exchange.set_status(resp.status().as_u16());
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        resp.headers_mut().insert(&X_REQUEST_ID, v);
    }
    resp
}

async fn process(ep: &Arc<Endpoint>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(ua) = parts.headers.get(header::USER_AGENT) {
        let ua = String::from_utf8_lossy(ua.as_bytes());
        tracing::Span::current().record("user_agent", tracing::field::debug(clip(&ua)));
    }

    // 1. Host and Origin: a rebinding page or a foreign site learns nothing, not even 401.
    // The 403 carries CORS headers and says which origin was refused and how to allow it.
    let cors = match ep.origins.check(&parts.headers) {
        Ok(cors) => cors,
        Err(refused) => {
            let data = json!({ refused.what: refused.value });
            let body =
                jsonrpc::error_bytes(None, code::INVALID_REQUEST, &refused.message, Some(&data));
            return refused.response(body);
        }
    };
    if parts.method == Method::OPTIONS {
        // A preflight carries no credentials by design: answering it before authentication
        // is what lets a browser send the real request with them.
        return preflight(cors.as_ref(), &parts.headers);
    }

    // 2. Authentication, before anything that could answer 400, 405, 406, 413 or 415.
    let principal = match ep.auth.authenticate(&parts).await {
        Ok(p) => Arc::new(p),
        Err(mut resp) => {
            // The body is left unread, so hyper closes the connection after this answer; say
            // so, or a client that sent the body after the head (Python's httpx does) may
            // reuse the connection and see it close under its next request.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return with_cors(resp, cors.as_ref());
        }
    };
    if let Some(client) = &principal.client_id {
        tracing::Span::current().record("client_id", tracing::field::debug(clip(client)));
    }
    if let Some(person) = &principal.person {
        tracing::Span::current().record("subject", tracing::field::debug(&person.subject));
    }

    // 3. Everything else.
    let resp = serve_post(ep, &parts, body, &principal).await;
    with_cors(resp, cors.as_ref())
}

async fn serve_post(
    ep: &Arc<Endpoint>,
    parts: &http::request::Parts,
    body: Body,
    principal: &Arc<Principal>,
) -> Response {
    if parts.method != Method::POST {
        let mut resp = plain_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use POST",
            None,
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE)
        && !is_json_media_type(ct)
    {
        return plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type must be application/json",
            None,
        );
    }
    let Some(accept) = accept_mode(&parts.headers) else {
        return plain_error(
            StatusCode::NOT_ACCEPTABLE,
            "accept must allow application/json or text/event-stream",
            None,
        );
    };
    let too_large = || {
        plain_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
            None,
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > ep.max_body as u64) {
        return too_large();
    }
    let bytes = match http_body_util::Limited::new(body, ep.max_body)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                "cannot read the request body",
                None,
            );
        }
    };

    let reply = if first_byte(&bytes) == Some(b'[') {
        batch(ep, parts, principal, &bytes).await
    } else {
        match jsonrpc::parse_one(&bytes) {
            Ok(msg) => single(ep, parts, principal, msg, accept).await,
            Err(ParseFailure::Syntax) => Reply::error(
                StatusCode::BAD_REQUEST,
                None,
                code::PARSE_ERROR,
                "parse error: the body is not valid JSON",
            ),
            Err(ParseFailure::Shape(id)) => Reply::error(
                StatusCode::BAD_REQUEST,
                id.as_ref(),
                code::INVALID_REQUEST,
                "invalid request: not a JSON-RPC 2.0 message",
            ),
        }
    };
    into_response(reply, accept)
}

fn into_response(reply: Reply, accept: Accept) -> Response {
    match reply {
        Reply::Accepted => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::ACCEPTED;
            r
        }
        // A client that only takes SSE gets its answer as a one-event stream.
        Reply::Json(StatusCode::OK, body) if accept == Accept::Sse => {
            let event = call::frame(&body);
            call::sse_response(futures_util::stream::once(async move { Ok(event) }))
        }
        Reply::Json(status, body) => json_response(status, body),
        Reply::Http(resp) | Reply::Stream(resp) => resp,
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An HTTP-level refusal with a JSON-RPC error body that has no id.
fn plain_error(status: StatusCode, message: &str, id: Option<&Value>) -> Response {
    json_response(
        status,
        jsonrpc::error_bytes(id, code::INVALID_REQUEST, message, None),
    )
}

fn preflight(cors: Option<&HeaderValue>, headers: &HeaderMap) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    if let Some(origin) = cors {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        // Echo what the browser asks for: Authorization and the Mcp-Param-* headers vary by
        // tool and are not covered by a `*` wildcard.
        let asked = headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| {
                HeaderValue::from_static(
                    "Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Method, Mcp-Name",
                )
            });
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    h.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    r
}

fn with_cors(mut resp: Response, cors: Option<&HeaderValue>) -> Response {
    if let Some(origin) = cors {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

fn is_json_media_type(v: &HeaderValue) -> bool {
    let Ok(s) = v.to_str() else { return false };
    let essence = s
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `None` when the client accepts neither JSON nor SSE (406).
fn accept_mode(headers: &HeaderMap) -> Option<Accept> {
    let mut json = false;
    let mut sse = false;
    let mut any = false;
    for value in headers.get_all(header::ACCEPT) {
        any = true;
        let Ok(s) = value.to_str() else { continue };
        for item in s.split(',') {
            let media = item.split(';').next().unwrap_or("").trim();
            if media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/*")
                || media == "*/*"
            {
                json = true;
            } else if media.eq_ignore_ascii_case("text/event-stream")
                || media.eq_ignore_ascii_case("text/*")
            {
                sse = true;
            }
        }
    }
    match (any, json, sse) {
        (false, _, _) => Some(Accept::Json),
        (true, true, false) => Some(Accept::Json),
        (true, true, true) => Some(Accept::Both),
        (true, false, true) => Some(Accept::Sse),
        (true, false, false) => None,
    }
}

fn first_byte(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}
