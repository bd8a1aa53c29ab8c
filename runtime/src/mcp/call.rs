//! `tools/call`: lookup, the per-tool scope check, argument validation, running the handler,
//! and answering with plain JSON or, when the handler sent notifications, an SSE stream.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::stream::{self, Stream, StreamExt as _};
use http::{StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::endpoint::{Endpoint, Reply};
use super::exchange::ToolCall;
use super::jsonrpc::{self, code};
use super::version::ProtocolVersion;
use crate::auth::Principal;
use crate::metrics::Outcome;
use crate::tools::{Content, LogLevel, Sink, ToolContext, ToolResult};

/// How notifications may reach the client for this request.
pub(crate) struct Notify {
    /// The client listed `text/event-stream` and this is not a batch.
    pub sse: bool,
    /// Minimum level for `notifications/message`; `None` turns logging off.
    pub log_level: Option<LogLevel>,
}

/// Room for notifications a slow client has not read yet; beyond it they are dropped.
const NOTIFY_QUEUE: usize = 64;

pub(crate) async fn call_tool(
    ep: &Arc<Endpoint>,
    principal: &Arc<Principal>,
    id: Value,
    params: Option<Value>,
    version: ProtocolVersion,
    notify: Notify,
) -> Reply {
    let mut call = ToolCall::begin(version);
    let Some(Value::Object(mut params)) = params else {
        call.end(Outcome::InvalidArguments);
        return invalid_params(&id, "params must be an object with the tool name");
    };
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        call.end(Outcome::InvalidArguments);
        return invalid_params(&id, "params.name must be a string");
    };
    let Some(idx) = ep.catalog.tool(name) else {
        call.end(Outcome::InvalidArguments);
        return invalid_params(&id, &format!("unknown tool: {name}"));
    };
    let tool = &ep.catalog.tools[idx];
    tracing::Span::current().record("tool", tool.def.name.as_str());
    call.tool(&tool.def.name, &tool.label);

    // Scopes before arguments: a caller without the scope learns nothing about the schema,
    // and a client sees the 403 that drives step-up authorization.
    let required: Vec<&str> = tool.def.scopes.iter().map(String::as_str).collect();
    if let Err(resp) = ep.auth.authorize_tool(principal, &required) {
        call.end(Outcome::Forbidden);
        return Reply::Http(resp);
    }

    let mut args = match params.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v,
    };
    if !tool.input.is_valid(&args) {
        let problems: Vec<String> = tool
            .input
            .iter_errors(&args)
            .take(5)
            .map(|e| {
                let path = e.instance_path().as_str();
                let at = if path.is_empty() { "arguments" } else { path };
                format!("{at}: {e}")
            })
            .collect();
        let message = format!(
            "invalid arguments for tool `{}`: {}. fix the arguments to match the tool's input schema and call it again",
            tool.def.name,
            problems.join("; ")
        );
        call.end(Outcome::InvalidArguments);
        return Reply::json(result_response(
            &id,
            &error_result(message),
            version,
            &ep.catalog.result_meta,
        ));
    }

    if tool.fills_defaults {
        super::defaults::apply(&tool.def.input_schema, &mut args);
    }

    let progress_token = params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .filter(|t| t.is_string() || t.is_number())
        .cloned();
    let wants_notes = notify.sse && (progress_token.is_some() || notify.log_level.is_some());
    let (sink, rx) = if wants_notes {
        let (tx, rx) = mpsc::channel(NOTIFY_QUEUE);
        let sink = Sink {
            tx,
            progress_token,
            log_level: notify.log_level,
            progress_message: version >= ProtocolVersion::V2025_03_26,
        };
        (Some(Arc::new(sink)), Some(rx))
    } else {
        (None, None)
    };
    let ctx = ToolContext::new(principal.clone(), sink);

    let ep2 = ep.clone();
    let run = async move {
        let tool = &ep2.catalog.tools[idx];
        let outcome = AssertUnwindSafe(ep2.handler.call(&tool.def.name, args, ctx))
            .catch_unwind()
            .await;
        let (result, ended) = match outcome {
            Ok(Ok(result)) => check_output(tool, result),
            Ok(Err(e)) => (error_result(e.message().to_owned()), Outcome::ToolError),
            Err(_) => {
                tracing::error!(tool = %tool.def.name, "tool handler panicked");
                (
                    error_result("the tool failed unexpectedly; try again later".to_owned()),
                    Outcome::Internal,
                )
            }
        };
        call.end(ended);
        result_response(&id, &result, version, &ep2.catalog.result_meta)
    };
    let mut run = Box::pin(run);

    let Some(mut rx) = rx else {
        return Reply::json(run.await);
    };
    // Whatever the handler sends before it finishes decides the shape: nothing means JSON,
    // anything means an SSE stream that carries it and then the response.
    tokio::select! {
        biased;
        note = rx.recv() => match note {
            Some(first) => Reply::Stream(sse_response(live_stream(first, run, rx))),
            // The handler dropped its context; only the result is left.
            None => Reply::json(run.await),
        },
        done = &mut run => {
            let mut notes = Vec::new();
            while let Ok(n) = rx.try_recv() {
                notes.push(frame(n.as_bytes()));
            }
            if notes.is_empty() {
                Reply::json(done)
            } else {
                notes.push(frame(&done));
                Reply::Stream(sse_response(stream::iter(notes.into_iter().map(Ok))))
            }
        }
    }
}

fn invalid_params(id: &Value, message: &str) -> Reply {
    Reply::json(jsonrpc::error_bytes(
        Some(id),
        code::INVALID_PARAMS,
        message,
        None,
    ))
}

fn error_result(message: String) -> ToolResult {
    ToolResult {
        content: vec![Content::text(message)],
        structured_content: None,
        is_error: true,
    }
}

/// Holds the server to its output schema: a result that breaks it is a server bug, reported
/// to the model as a failed call rather than sent as data the client would reject. Also says
/// how the call ended.
fn check_output(tool: &super::catalog::CompiledTool, result: ToolResult) -> (ToolResult, Outcome) {
    if result.is_error {
        return (result, Outcome::ToolError);
    }
    let Some(validator) = &tool.output else {
        return (result, Outcome::Ok);
    };
    match &result.structured_content {
        Some(v) if validator.is_valid(v) => (result, Outcome::Ok),
        Some(_) => {
            tracing::error!(tool = %tool.def.name, "tool output does not match its output schema");
            (
                error_result(
                    "the tool produced output that does not match its output schema".into(),
                ),
                Outcome::Internal,
            )
        }
        None => {
            tracing::error!(tool = %tool.def.name, "tool returned no structured content");
            (
                error_result("the tool produced no structured output".into()),
                Outcome::Internal,
            )
        }
    }
}

#[derive(Serialize)]
struct CallResultOut<'a> {
    content: &'a [Content],
    #[serde(rename = "structuredContent", skip_serializing_if = "Option::is_none")]
    structured_content: Option<&'a Value>,
    #[serde(rename = "isError", skip_serializing_if = "std::ops::Not::not")]
    is_error: bool,
    #[serde(rename = "resultType", skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<&'a Value>,
}

/// Content a client of `version` can read: blocks newer than its version become text blocks
/// that carry the same information (audio arrived in 2025-03-26, resource links in 2025-06-18),
/// so a client never meets a block type its schema rejects.
fn content_for(content: &[Content], version: ProtocolVersion) -> Cow<'_, [Content]> {
    let unknown = |c: &Content| match c {
        Content::Audio { .. } => version < ProtocolVersion::V2025_03_26,
        Content::ResourceLink { .. } => version < ProtocolVersion::V2025_06_18,
        _ => false,
    };
    if !content.iter().any(unknown) {
        return Cow::Borrowed(content);
    }
    let downgraded = content
        .iter()
        .map(|c| match c {
            Content::Audio { mime_type, .. } if unknown(c) => Content::text(format!(
                "[{mime_type} audio, not shown to this client version]"
            )),
            Content::ResourceLink {
                uri, name, title, ..
            } if unknown(c) => Content::text(format!("{}: {uri}", title.as_ref().unwrap_or(name))),
            other => other.clone(),
        })
        .collect();
    Cow::Owned(downgraded)
}

fn result_response(id: &Value, r: &ToolResult, version: ProtocolVersion, meta: &Value) -> Vec<u8> {
    let modern = version.is_modern();
    let content = content_for(&r.content, version);
    let out = CallResultOut {
        content: &content,
        // structuredContent arrived in 2025-06-18; older clients get the text block only.
        structured_content: r
            .structured_content
            .as_ref()
            .filter(|_| version >= ProtocolVersion::V2025_06_18),
        is_error: r.is_error,
        result_type: modern.then_some("complete"),
        meta: modern.then_some(meta),
    };
    jsonrpc::result_bytes(id, &out)
}

/// One SSE event carrying one JSON message on one `data:` line (serde_json never writes raw
/// newlines), never an empty priming event.
pub(crate) fn frame(json: &[u8]) -> Bytes {
    let mut b = Vec::with_capacity(json.len() + 24);
    b.extend_from_slice(b"event: message\ndata: ");
    b.extend_from_slice(json);
    b.extend_from_slice(b"\n\n");
    Bytes::from(b)
}

pub(crate) fn sse_response<S>(body: S) -> Response
where
    S: Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
{
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    // Keeps nginx-style proxies from holding events back.
    h.insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    resp
}

enum Live<F> {
    Running(std::pin::Pin<Box<F>>, mpsc::Receiver<String>),
    Draining(mpsc::Receiver<String>, Vec<u8>),
    Done,
}

/// Frames notifications as they come, then the response. Dropping the stream (the client
/// went away) drops the handler's future: on HTTP that is the cancellation signal.
fn live_stream<F>(
    first: String,
    run: std::pin::Pin<Box<F>>,
    rx: mpsc::Receiver<String>,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static
where
    F: std::future::Future<Output = Vec<u8>> + Send + 'static,
{
    let rest = stream::unfold(Live::Running(run, rx), |state| async move {
        match state {
            Live::Running(mut run, mut rx) => {
                tokio::select! {
                    biased;
                    Some(n) = rx.recv() => Some((frame(n.as_bytes()), Live::Running(run, rx))),
                    done = &mut run => Some(drain(rx, done)),
                }
            }
            Live::Draining(rx, done) => Some(drain(rx, done)),
            Live::Done => None,
        }
    });
    stream::once(async move { frame(first.as_bytes()) })
        .chain(rest)
        .map(Ok)
}

fn drain<F>(mut rx: mpsc::Receiver<String>, done: Vec<u8>) -> (Bytes, Live<F>) {
    match rx.try_recv() {
        Ok(n) => (frame(n.as_bytes()), Live::Draining(rx, done)),
        Err(_) => (frame(&done), Live::Done),
    }
}
