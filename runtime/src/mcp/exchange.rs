//! One HTTP request to the endpoint as the logs and metrics see it: its request id, how its
//! JSON-RPC messages ended, and the log line written when it is over.
//!
//! The [`Exchange`] of the request being served is a task-local: every module the request
//! passes through can mark an outcome ([`mark`]) without each signature carrying it. A
//! streamed `tools/call` keeps a clone, so the request's line is written when the stream ends
//! (with the tool's real outcome and duration), not when its headers are sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU16, Ordering};
use std::time::Instant;

use super::version::ProtocolVersion;
use crate::metrics::{McpMethod, Metrics, Outcome};
use crate::traces::{MessageSpan, RequestTrace};

tokio::task_local! {
    static EXCHANGE: Arc<Exchange>;
}

/// A request's id: 64 random bits, written as 16 hex digits in the log line and the
/// `X-Request-Id` response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestId(pub u64);

impl RequestId {
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What one HTTP request did; its log line is written when the last holder drops it.
pub(crate) struct Exchange {
    span: tracing::Span,
    start: Instant,
    /// The worst outcome of any message of the request (0: none handled).
    worst: AtomicU8,
    /// The outcome of the message being handled (0: none yet).
    message: AtomicU8,
    /// The HTTP status (0 until the response head is ready).
    status: AtomicU16,
    pub metrics: Metrics,
    /// The request's OpenTelemetry span and its current message's (`None`: tracing off).
    trace: Option<RequestTrace>,
}

impl Exchange {
    pub fn new(
        span: tracing::Span,
        start: Instant,
        metrics: Metrics,
        trace: Option<RequestTrace>,
    ) -> Self {
        Self {
            span,
            start,
            worst: AtomicU8::new(0),
            message: AtomicU8::new(0),
            status: AtomicU16::new(0),
            metrics,
            trace,
        }
    }

    /// Runs `fut` with this exchange as the current one.
    pub async fn scope<F: Future>(self: Arc<Self>, fut: F) -> F::Output {
        EXCHANGE.scope(self, fut).await
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    fn mark(&self, outcome: Outcome) {
        self.message.fetch_max(outcome as u8, Ordering::Relaxed);
        self.worst.fetch_max(outcome as u8, Ordering::Relaxed);
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        let status = self.status.load(Ordering::Relaxed);
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        let outcome = Outcome::from_u8(self.worst.load(Ordering::Relaxed)).map(Outcome::as_str);
        self.span.in_scope(|| {
            // The target the line had before it moved here, so log filters keep matching it.
            tracing::info!(target: "mcpgen_runtime::mcp::http", status, outcome, duration_ms = ms, "mcp request");
        });
        if let Some(t) = &self.trace {
            t.end(status);
        }
    }
}

/// The current request's exchange; `None` outside one (unit tests of a module).
pub(crate) fn current() -> Option<Arc<Exchange>> {
    EXCHANGE.try_with(Arc::clone).ok()
}

/// Marks how the current message ended; the worst mark of a message counts.
pub(crate) fn mark(outcome: Outcome) {
    let _ = EXCHANGE.try_with(|e| e.mark(outcome));
}

/// A JSON-RPC message the current request is about to handle; [`Message::done`] records it.
pub(crate) struct Message {
    start: Instant,
}

impl Message {
    /// A JSON-RPC request of `method` with `id` begins: its outcome starts unmarked, and with
    /// tracing on its span starts (a `tools/call`'s is taken over by [`ToolCall`]).
    pub fn begin(method: &str, id: &serde_json::Value) -> Self {
        let _ = EXCHANGE.try_with(|e| {
            e.message.store(0, Ordering::Relaxed);
            if let Some(t) = &e.trace {
                t.begin_message(method, id);
            }
        });
        Self {
            start: Instant::now(),
        }
    }

    /// Records a message of `method` other than `tools/call` (which records itself, see
    /// [`ToolCall`]): its outcome is the worst marked since [`Message::begin`], else `ok`.
    pub fn done(self, method: McpMethod) {
        let _ = EXCHANGE.try_with(|e| {
            // A `tools/call` refused before it reached the tool (a header mismatch, an
            // unsupported version) still has its span here.
            if let Some(span) = e.trace.as_ref().and_then(RequestTrace::take_message) {
                let marked = Outcome::from_u8(e.message.load(Ordering::Relaxed));
                span.end(marked.unwrap_or(Outcome::Ok));
            }
        });
        if method == McpMethod::ToolsCall {
            return;
        }
        let _ = EXCHANGE.try_with(|e| {
            let outcome = match Outcome::from_u8(e.message.load(Ordering::Relaxed)) {
                Some(o) => o,
                None => {
                    e.mark(Outcome::Ok);
                    Outcome::Ok
                }
            };
            e.metrics
                .request(method, None, outcome, self.start.elapsed());
        });
    }
}

/// One `tools/call`: it ends exactly once, with [`ToolCall::end`], or as
/// [`Outcome::Cancelled`] when dropped before (the client went away during a stream).
pub(crate) struct ToolCall {
    exchange: Option<Arc<Exchange>>,
    tool: Option<Arc<str>>,
    start: Instant,
    /// The message's span, ended with the call (with tracing on).
    span: Option<MessageSpan>,
}

impl ToolCall {
    pub fn begin(version: ProtocolVersion) -> Self {
        let exchange = current();
        let mut span = exchange
            .as_ref()
            .and_then(|e| e.trace.as_ref())
            .and_then(RequestTrace::take_message);
        if let Some(s) = &mut span {
            s.protocol_version(version.as_str());
        }
        Self {
            exchange,
            tool: None,
            start: Instant::now(),
            span,
        }
    }

    /// The spec tool called, once known: `name` is the spec's tool name, `label` its metrics
    /// label.
    pub fn tool(&mut self, name: &str, label: &Arc<str>) {
        self.tool = Some(label.clone());
        if let Some(s) = &mut self.span {
            s.tool(name);
        }
    }

    pub fn end(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(s) = self.span.take() {
            s.end(outcome);
        }
        if let Some(e) = self.exchange.take() {
            e.mark(outcome);
            e.metrics.request(
                McpMethod::ToolsCall,
                self.tool.as_ref(),
                outcome,
                self.start.elapsed(),
            );
        }
    }
}

impl Drop for ToolCall {
    fn drop(&mut self) {
        self.finish(Outcome::Cancelled);
    }
}
