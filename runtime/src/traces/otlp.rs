//! The trace pipeline (the `otlp` feature): the OpenTelemetry SDK's batch processor, the
//! OTLP/HTTP protobuf exporter, and a hyper client on the server's runtime.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider};
use serde_json::Value;

use super::{ParentRoot, SHUTDOWN_TIMEOUT, SamplerChoice, TracesConfig};
use crate::metrics::Outcome;

/// The largest collector response read (OTLP answers are a few bytes): 64 KiB.
const MAX_RESPONSE: usize = 64 * 1024;

/// Longest client-chosen string put in an attribute, in bytes.
const MAX_ATTRIBUTE: usize = 128;

impl SamplerChoice {
    fn sampler(self) -> Sampler {
        let root = |r: ParentRoot| match r {
            ParentRoot::AlwaysOn => Sampler::AlwaysOn,
            ParentRoot::AlwaysOff => Sampler::AlwaysOff,
            ParentRoot::Ratio(r) => Sampler::TraceIdRatioBased(r),
        };
        match self {
            Self::AlwaysOn => Sampler::AlwaysOn,
            Self::AlwaysOff => Sampler::AlwaysOff,
            Self::Ratio(r) => Sampler::TraceIdRatioBased(r),
            Self::ParentBased(r) => Sampler::ParentBased(Box::new(root(r))),
        }
    }
}

/// The exporter's HTTP client: hyper on the server's tokio runtime (HTTP/1.1, TLS by
/// rustls with the webpki roots). The batch processor exports from its own thread; each
/// request is spawned onto the runtime, so no blocking client and no second runtime.
#[derive(Debug)]
struct RuntimeClient {
    handle: tokio::runtime::Handle,
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let sent = self.handle.spawn(async move {
            let (parts, body) = request.into_parts();
            let request = Request::from_parts(parts, Full::new(body));
            let exchange = async {
                let response = client.request(request).await?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_RESPONSE).collect().await?.to_bytes();
                Ok::<_, HttpError>(Response::from_parts(parts, body))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} ms", timeout.as_millis()).into()),
            }
        });
        sent.await?
    }
}

/// The trace pipeline of one server: the provider (owns the batch processor's thread) and
/// the tracer spans are made with.
pub struct Traces {
    provider: SdkTracerProvider,
    tracing: Tracing,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces").finish_non_exhaustive()
    }
}

impl Traces {
    /// Builds the exporter and the batch processor. Must run inside the tokio runtime that
    /// will carry the exports (it is captured with [`tokio::runtime::Handle::current`]).
    pub fn start(config: &TracesConfig) -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = RuntimeClient {
            handle: tokio::runtime::Handle::current(),
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build(https),
            timeout: config.timeout,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_timeout(config.timeout)
            .with_headers(config.headers.iter().cloned().collect())
            .build()
            .map_err(|e| e.to_string())?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter).build())
            .with_sampler(config.sampler.sampler())
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer_with_scope(
            opentelemetry::InstrumentationScope::builder("mcpgen-runtime")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        Ok(Self {
            provider,
            tracing: Tracing { tracer },
        })
    }

    /// What the endpoint makes spans with.
    pub(crate) fn tracing(&self) -> Tracing {
        self.tracing.clone()
    }

    /// Sends what is queued and stops the processor's thread, waiting at most
    /// [`SHUTDOWN_TIMEOUT`]; a collector that does not answer by then loses those spans.
    pub fn shutdown(self) {
        let provider = self.provider;
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        // On a thread of its own: the processor's shutdown blocks, and the exports it waits
        // for run on the runtime this may be called from.
        let spawned = std::thread::Builder::new()
            .name("otlp-shutdown".into())
            .spawn(move || {
                let r = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
                let _ = done_tx.send(r);
            });
        if spawned.is_err() {
            return;
        }
        match done_rx.recv_timeout(SHUTDOWN_TIMEOUT + Duration::from_millis(500)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "mcpgen::traces", error = %e, "traces: the last spans were not all sent");
            }
            Err(_) => {
                tracing::warn!(target: "mcpgen::traces", "traces: the collector did not take the last spans in time");
            }
        }
    }
}

/// Makes the endpoint's spans; cheap to clone.
#[derive(Clone)]
pub(crate) struct Tracing {
    tracer: SdkTracer,
}

/// A client-chosen string as an attribute: clipped, control characters escaped.
fn text(s: &str) -> String {
    let clipped = if s.len() <= MAX_ATTRIBUTE {
        s
    } else {
        let mut end = MAX_ATTRIBUTE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        &s[..end]
    };
    let mut out = String::with_capacity(clipped.len());
    for c in clipped.chars() {
        if mcpgen_rules::is_unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if clipped.len() < s.len() {
        out.push('…');
    }
    out
}

fn http_version(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

impl Tracing {
    /// Starts the span of one HTTP request to the endpoint; the context carries it, as the
    /// parent of the message spans.
    pub fn request(
        &self,
        parts: &http::request::Parts,
        route: &str,
        request_id: &str,
    ) -> RequestTrace {
        let method = match parts.method {
            http::Method::POST => "POST",
            http::Method::GET => "GET",
            http::Method::OPTIONS => "OPTIONS",
            http::Method::DELETE => "DELETE",
            http::Method::PUT => "PUT",
            http::Method::HEAD => "HEAD",
            http::Method::PATCH => "PATCH",
            _ => "_OTHER",
        };
        let version = http_version(parts.version);
        let mut attributes = vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route.to_owned()),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("network.protocol.name", "http"),
            KeyValue::new("network.protocol.version", version),
            KeyValue::new("mcpgen.request_id", request_id.to_owned()),
        ];
        if let Some(ua) = parts.headers.get(http::header::USER_AGENT) {
            let ua = String::from_utf8_lossy(ua.as_bytes());
            attributes.push(KeyValue::new("user_agent.original", text(&ua)));
        }
        // A caller that is traced itself names its span in `traceparent` (W3C Trace
        // Context); the request's span joins that trace. Without one, a new trace starts.
        let caller = opentelemetry::propagation::TextMapPropagator::extract(
            &opentelemetry_sdk::propagation::TraceContextPropagator::new(),
            &opentelemetry_http::HeaderExtractor(&parts.headers),
        );
        let span = self
            .tracer
            .span_builder(format!("{method} {route}"))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &caller);
        RequestTrace {
            tracing: self.clone(),
            cx: Context::current_with_span(span),
            version,
            message: Mutex::new(None),
        }
    }
}

/// The trace of one HTTP request: its span, and the span of the message being handled.
pub(crate) struct RequestTrace {
    tracing: Tracing,
    cx: Context,
    version: &'static str,
    message: Mutex<Option<MessageSpan>>,
}

/// The span of one JSON-RPC request.
pub(crate) struct MessageSpan(opentelemetry_sdk::trace::Span);

impl RequestTrace {
    /// Starts the span of a JSON-RPC request of `method` with `id`, as the current message.
    pub fn begin_message(&self, method: &str, id: &Value) {
        let known = crate::metrics::McpMethod::from_name(method);
        // A method the server does not know is the client's string: it goes into the
        // attribute (clipped, escaped), never into the span name.
        let (name, method_attr) = match known {
            crate::metrics::McpMethod::Other => ("mcp".to_owned(), text(method)),
            m => (m.as_str().to_owned(), m.as_str().to_owned()),
        };
        let mut attributes = vec![
            KeyValue::new("mcp.method.name", method_attr),
            KeyValue::new("network.transport", "tcp"),
            KeyValue::new("network.protocol.name", "http"),
            KeyValue::new("network.protocol.version", self.version),
        ];
        match id {
            Value::String(s) => attributes.push(KeyValue::new("jsonrpc.request.id", text(s))),
            Value::Number(n) => {
                attributes.push(KeyValue::new("jsonrpc.request.id", text(&n.to_string())));
            }
            _ => {}
        }
        if known == crate::metrics::McpMethod::ToolsCall {
            attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        }
        let tracer = &self.tracing.tracer;
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(tracer, &self.cx);
        if let Ok(mut slot) = self.message.lock() {
            *slot = Some(MessageSpan(span));
        }
    }

    /// Takes the current message's span (a `tools/call` ends it itself, maybe later, when
    /// its stream ends).
    pub fn take_message(&self) -> Option<MessageSpan> {
        self.message.lock().ok().and_then(|mut s| s.take())
    }

    /// Ends the request's span with the response status (`error.type` for a 5xx, as HTTP
    /// server spans have it).
    pub fn end(&self, status: u16) {
        let span = self.cx.span();
        if status != 0 {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        if status >= 500 {
            span.set_attribute(KeyValue::new("error.type", status.to_string()));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}

impl MessageSpan {
    /// The tool called (a spec tool's name: low cardinality, goes into the span name).
    pub fn tool(&mut self, name: &str) {
        self.0.update_name(format!("tools/call {name}"));
        self.0
            .set_attribute(KeyValue::new("gen_ai.tool.name", name.to_owned()));
    }

    /// The protocol version the message was served in.
    pub fn protocol_version(&mut self, version: &'static str) {
        self.0
            .set_attribute(KeyValue::new("mcp.protocol.version", version));
    }

    /// Ends the span; an outcome other than `ok` is its `error.type` and an error status.
    pub fn end(mut self, outcome: Outcome) {
        if outcome != Outcome::Ok {
            self.0
                .set_attribute(KeyValue::new("error.type", outcome.as_str()));
            self.0.set_status(Status::error(outcome.as_str()));
        }
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_strings_are_clipped_and_escaped() {
        assert_eq!(text("a\nb"), "a\\u{a}b");
        let long = "é".repeat(200);
        let t = text(&long);
        assert!(t.len() <= MAX_ATTRIBUTE + '…'.len_utf8() && t.ends_with('…'));
    }
}
