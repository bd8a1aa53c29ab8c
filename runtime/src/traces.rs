//! OpenTelemetry traces over OTLP/HTTP (protobuf), on when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, off (no exporter, no thread, no connection)
//! otherwise.
//!
//! Spans follow the OpenTelemetry semantic conventions for HTTP servers and for the Model
//! Context Protocol (`gen-ai/mcp.md`, status: development):
//!
//! - one span per HTTP request to the endpoint, kind server, named `POST /mcp` (the method and
//!   the route), in the caller's trace when the request carries a W3C `traceparent`, with `http.request.method`, `http.route`, `http.response.status_code`,
//!   `network.protocol.name`/`.version`, `user_agent.original` and `mcpgen.request_id` (the
//!   `X-Request-Id` of the response and the `request_id` of the log line);
//! - under it, one span per JSON-RPC request the HTTP request carries (a 2025-03-26 batch has
//!   several), kind server, named `{mcp.method.name}` or, for a call, `tools/call {tool}`, with
//!   `mcp.method.name`, `jsonrpc.request.id`, and for a call `gen_ai.operation.name` =
//!   `execute_tool`, `gen_ai.tool.name` and `mcp.protocol.version`. A failed message has
//!   `error.type` (the outcome: `tool_error`, `invalid_arguments`, `forbidden`, `internal`,
//!   `cancelled`, `protocol_error`) and status error.
//!
//! Never exported: tokens, arguments, results, the subject. Strings a client chose (method
//! name, request id, User-Agent) are clipped and control characters escaped, as in the logs.
//! The server is stateless, so there is no `mcp.session.id`.
//!
//! The variables are read through the environment [`Config::parse`](crate::config::Config)
//! is given: `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `..._HEADERS`, `..._TIMEOUT`,
//! `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (only `http/protobuf`), `OTEL_SERVICE_NAME`
//! (default: the binary's name), `OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_SDK_DISABLED`,
//! `OTEL_TRACES_EXPORTER=none`. The SDK itself reads `OTEL_BSP_*` (queue and batch sizes)
//! and `OTEL_RESOURCE_ATTRIBUTES` from the process environment.
//!
//! Spans go through the SDK's batch processor: a bounded queue (2048 spans by default,
//! `OTEL_BSP_MAX_QUEUE_SIZE`) on its own thread, so a collector that is down or slow never
//! holds a request; spans that do not fit are dropped and counted (the count is logged at
//! shutdown). Shutdown waits at most [`SHUTDOWN_TIMEOUT`] for the last batch.

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

use crate::metrics::Outcome;

/// The default OTLP export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`): 10 s.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the last spans to reach the collector: 3 s.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest collector response read (OTLP answers are a few bytes): 64 KiB.
const MAX_RESPONSE: usize = 64 * 1024;

/// Longest client-chosen string put in an attribute, in bytes.
const MAX_ATTRIBUTE: usize = 128;

/// Which spans are recorded (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerChoice {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with the ratio (0 to 1).
    Ratio(f64),
    /// `parentbased_always_on` (the default), `parentbased_always_off`,
    /// `parentbased_traceidratio`: the same choice for root spans.
    ParentBased(ParentRoot),
}

/// The root-span choice of a parent-based sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParentRoot {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

// The ratios are checked to lie in 0..=1, so never NaN.
impl Eq for SamplerChoice {}
impl Eq for ParentRoot {}

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

/// The trace export settings, from the `OTEL_*` variables.
#[derive(Clone, PartialEq, Eq)]
pub struct TracesConfig {
    /// The full URL spans are POSTed to (`.../v1/traces`).
    pub endpoint: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`); often carry an API key, so
    /// `Debug` shows only their names.
    pub headers: Vec<(String, String)>,
    /// How long one export may take.
    pub timeout: Duration,
    pub sampler: SamplerChoice,
    /// `service.name`.
    pub service_name: String,
}

impl std::fmt::Debug for TracesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TracesConfig")
            .field("endpoint", &self.endpoint)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("sampler", &self.sampler)
            .field("service_name", &self.service_name)
            .finish()
    }
}

/// A trace variable with a value this server cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={value:?} is not valid: {why}")]
pub struct TracesConfigError {
    pub variable: &'static str,
    pub value: String,
    pub why: &'static str,
}

impl TracesConfig {
    /// Reads the `OTEL_*` variables through `env`; `Ok(None)` when no OTLP endpoint is set
    /// (or `OTEL_SDK_DISABLED=true`, or `OTEL_TRACES_EXPORTER=none`): nothing is exported.
    pub fn from_env(
        default_service: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TracesConfigError> {
        let var = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
        {
            return Ok(None);
        }
        // The signal's own URL is used as it is; the general one gets `/v1/traces` added
        // (OTLP exporter specification, "Endpoint URLs for OTLP/HTTP").
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(e), _) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e),
            (None, Some(e)) => {
                let full = format!("{}/v1/traces", e.trim_end_matches('/'));
                ("OTEL_EXPORTER_OTLP_ENDPOINT", full)
            }
            (None, None) => return Ok(None),
        };
        let (endpoint_var, endpoint) = endpoint;
        match url::Url::parse(&endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(TracesConfigError {
                    variable: endpoint_var,
                    value: endpoint,
                    why: "use an http:// or https:// URL, such as http://localhost:4318",
                });
            }
        }
        let pick = |signal: &'static str, general: &'static str| {
            var(signal)
                .map(|v| (signal, v))
                .or_else(|| var(general).map(|v| (general, v)))
        };
        if let Some((variable, value)) = pick(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ) && value != "http/protobuf"
        {
            return Err(TracesConfigError {
                variable,
                value,
                why: "this server exports OTLP over http/protobuf only (port 4318); \
                      set http/protobuf or leave it unset",
            });
        }
        let headers = match pick(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ) {
            None => Vec::new(),
            Some((variable, value)) => parse_headers(&value).ok_or(TracesConfigError {
                variable,
                // Header values are often API keys: never echo them.
                value: "<hidden>".into(),
                why: "use comma-separated key=value pairs with URL-encoded values",
            })?,
        };
        let timeout = match pick(
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ) {
            None => DEFAULT_EXPORT_TIMEOUT,
            Some((variable, value)) => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    return Err(TracesConfigError {
                        variable,
                        value,
                        why: "use a whole number of milliseconds above 0, such as 10000",
                    });
                }
            },
        };
        let sampler = parse_sampler(
            var("OTEL_TRACES_SAMPLER").as_deref(),
            var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?;
        let service_name = var("OTEL_SERVICE_NAME")
            .or_else(|| {
                var("OTEL_RESOURCE_ATTRIBUTES").and_then(|attrs| {
                    attrs.split(',').find_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        (k.trim() == "service.name").then(|| v.trim().to_owned())
                    })
                })
            })
            .unwrap_or_else(|| default_service.to_owned());
        Ok(Some(Self {
            endpoint,
            headers,
            timeout,
            sampler,
            service_name,
        }))
    }
}

impl TracesConfig {
    /// The endpoint for logs: without a user, password or query, which may hold a key.
    pub fn endpoint_display(&self) -> String {
        match url::Url::parse(&self.endpoint) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.to_string()
            }
            Err(_) => "?".to_owned(),
        }
    }
}

/// `key=value,key2=value2` with percent-encoded values (W3C Baggage-like, as the OTLP
/// exporter specification says); `None` when a pair has no `=` or an empty key.
fn parse_headers(s: &str) -> Option<Vec<(String, String)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            if k.is_empty() {
                return None;
            }
            let v = percent_encoding::percent_decode_str(v.trim())
                .decode_utf8()
                .ok()?;
            Some((k.to_owned(), v.into_owned()))
        })
        .collect()
}

fn parse_sampler(
    name: Option<&str>,
    arg: Option<&str>,
) -> Result<SamplerChoice, TracesConfigError> {
    let ratio = || match arg {
        None => Ok(1.0),
        Some(a) => a
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or(TracesConfigError {
                variable: "OTEL_TRACES_SAMPLER_ARG",
                value: a.to_owned(),
                why: "use a ratio from 0 to 1, such as 0.25",
            }),
    };
    Ok(match name {
        None | Some("parentbased_always_on") => SamplerChoice::ParentBased(ParentRoot::AlwaysOn),
        Some("always_on") => SamplerChoice::AlwaysOn,
        Some("always_off") => SamplerChoice::AlwaysOff,
        Some("traceidratio") => SamplerChoice::Ratio(ratio()?),
        Some("parentbased_always_off") => SamplerChoice::ParentBased(ParentRoot::AlwaysOff),
        Some("parentbased_traceidratio") => SamplerChoice::ParentBased(ParentRoot::Ratio(ratio()?)),
        Some(other) => {
            return Err(TracesConfigError {
                variable: "OTEL_TRACES_SAMPLER",
                value: other.to_owned(),
                why: "use always_on, always_off, traceidratio, parentbased_always_on, \
                      parentbased_always_off or parentbased_traceidratio",
            });
        }
    })
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

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        let none = TracesConfig::from_env("svc", &env(&[("OTEL_SERVICE_NAME", "x")])).unwrap();
        assert!(none.is_none());
        let disabled = TracesConfig::from_env(
            "svc",
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_SDK_DISABLED", "true"),
            ]),
        )
        .unwrap();
        assert!(disabled.is_none());
    }

    #[test]
    fn the_general_endpoint_gets_the_traces_path_and_the_signal_one_wins() {
        let c = TracesConfig::from_env(
            "svc",
            &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "http://c:4318/v1/traces");
        let keyed = TracesConfig {
            endpoint: "https://u:p@c.example/v1/traces?key=k".into(),
            ..c.clone()
        };
        assert_eq!(keyed.endpoint_display(), "https://c.example/v1/traces");
        assert_eq!(c.service_name, "svc");
        assert_eq!(c.sampler, SamplerChoice::ParentBased(ParentRoot::AlwaysOn));
        let c = TracesConfig::from_env(
            "svc",
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t.example/x"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x-team=7"),
                ("OTEL_SERVICE_NAME", "named"),
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "https://t.example/x");
        assert_eq!(
            c.headers,
            vec![
                ("api-key".to_owned(), "a b".to_owned()),
                ("x-team".to_owned(), "7".to_owned())
            ]
        );
        assert_eq!(c.service_name, "named");
        assert_eq!(c.sampler, SamplerChoice::Ratio(0.5));
        assert!(
            !format!("{c:?}").contains("a b"),
            "header values stay out of Debug"
        );
    }

    #[test]
    fn unusable_values_name_the_variable() {
        let e = TracesConfig::from_env(
            "svc",
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.variable, "OTEL_EXPORTER_OTLP_PROTOCOL");
        let e = TracesConfig::from_env(
            "svc",
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_TRACES_SAMPLER", "sometimes"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.variable, "OTEL_TRACES_SAMPLER");
        let e = TracesConfig::from_env(
            "svc",
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "secret-no-equals"),
            ]),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = TracesConfig::from_env("svc", &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318")]))
            .unwrap_err();
        assert_eq!(e.variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
    }

    #[test]
    fn client_strings_are_clipped_and_escaped() {
        assert_eq!(text("a\nb"), "a\\u{a}b");
        let long = "é".repeat(200);
        let t = text(&long);
        assert!(t.len() <= MAX_ATTRIBUTE + '…'.len_utf8() && t.ends_with('…'));
    }
}
