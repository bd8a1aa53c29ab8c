//! Prometheus metrics of one server, served in the Prometheus text format (version 0.0.4) on a
//! listener of their own (`--metrics-bind`), never on the public one.
//!
//! Built on `prometheus-client` (the Prometheus project's Rust client): a registry per server
//! rather than a process-global recorder, so two servers in one process (tests) never mix
//! their counts, and label sets are typed, so every label value is one of a fixed set or a
//! tool name from the spec, never a string a client sent.
//!
//! Series (all names start with `mcpgen_`):
//!
//! | series | labels | what |
//! |---|---|---|
//! | `mcp_requests_total` | `method`, `tool`, `outcome` | JSON-RPC requests answered on the MCP endpoint |
//! | `mcp_request_duration_seconds` | `method`, `tool` | histogram of the time to answer them |
//! | `oauth_codes_issued_total` | | authorization codes issued (consent approved) |
//! | `oauth_tokens_issued_total` | `grant_type` | token responses: `authorization_code`, `refresh_token` (refreshes) |
//! | `oauth_refresh_reuse_total` | | refresh tokens used again after rotation (grant revoked, RFC 9700 §4.14.2) |
//! | `oauth_refusals_total` | `endpoint`, `reason` | refused OAuth and bearer requests |
//! | `oauth_registrations_total` | | clients registered (RFC 7591) |
//! | `store_errors_total` | | store operations that failed |
//! | `open_connections` | | HTTP connections open on the public listener |
//!
//! `method` is one of the MCP methods the server knows (`initialize`, `ping`, `tools/list`,
//! `tools/call`, `logging/setLevel`, `server/discover`) or `other`; `tool` is a spec tool name
//! on `tools/call` and empty otherwise (also for a call of an unknown tool); `outcome` is
//! [`Outcome::as_str`].

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How one JSON-RPC request to the MCP endpoint ended: the `outcome` of its log line and
/// metrics. Ordered from best to worst: a request line that covers several messages (a batch)
/// shows the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Outcome {
    /// Answered with a result; for `tools/call`, one without `isError`.
    Ok = 1,
    /// A JSON-RPC error other than the ones below (unknown method, header mismatch, bad
    /// cursor, unsupported version).
    ProtocolError = 2,
    /// The tool ran and reported a failure (`isError: true` from the handler).
    ToolError = 3,
    /// `tools/call` with arguments that do not match the input schema, no tool name, or an
    /// unknown tool.
    InvalidArguments = 4,
    /// `tools/call` refused because the token lacks a scope the tool requires (403).
    Forbidden = 5,
    /// The client went away before the tool finished (a streamed call's response dropped).
    Cancelled = 6,
    /// The handler panicked or broke its output schema: a server bug.
    Internal = 7,
}

impl Outcome {
    /// The label value and log field: `ok`, `protocol_error`, `tool_error`,
    /// `invalid_arguments`, `forbidden`, `cancelled`, `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ProtocolError => "protocol_error",
            Self::ToolError => "tool_error",
            Self::InvalidArguments => "invalid_arguments",
            Self::Forbidden => "forbidden",
            Self::Cancelled => "cancelled",
            Self::Internal => "internal",
        }
    }

    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Ok,
            2 => Self::ProtocolError,
            3 => Self::ToolError,
            4 => Self::InvalidArguments,
            5 => Self::Forbidden,
            6 => Self::Cancelled,
            7 => Self::Internal,
            _ => return None,
        })
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// An MCP method as a label value: the methods this server answers, every other name `other`
/// (a client chooses the method string; it never becomes a label as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum McpMethod {
    /// `initialize`.
    Initialize,
    /// `ping`.
    Ping,
    /// `tools/list`.
    ToolsList,
    /// `tools/call`.
    ToolsCall,
    /// `logging/setLevel`.
    LoggingSetLevel,
    /// `server/discover` (2026-07-28).
    ServerDiscover,
    /// Any other method name.
    Other,
}

impl McpMethod {
    /// The method for a name a client sent.
    pub fn from_name(name: &str) -> Self {
        match name {
            "initialize" => Self::Initialize,
            "ping" => Self::Ping,
            "tools/list" => Self::ToolsList,
            "tools/call" => Self::ToolsCall,
            "logging/setLevel" => Self::LoggingSetLevel,
            "server/discover" => Self::ServerDiscover,
            _ => Self::Other,
        }
    }

    /// The method's name (`other` for any other).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::Ping => "ping",
            Self::ToolsList => "tools/list",
            Self::ToolsCall => "tools/call",
            Self::LoggingSetLevel => "logging/setLevel",
            Self::ServerDiscover => "server/discover",
            Self::Other => "other",
        }
    }
}

impl EncodeLabelValue for McpMethod {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// A tool name from the spec (shared, not copied per request); empty when there is none.
pub(crate) type ToolName = Option<Arc<str>>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: McpMethod,
    tool: ToolName,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    method: McpMethod,
    tool: ToolName,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    endpoint: &'static str,
    reason: &'static str,
}

/// Latency buckets in seconds: 1 ms to 10 s.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    codes: Counter,
    tokens: Family<GrantLabels, Counter>,
    refresh_reuse: Counter,
    refusals: Family<RefusalLabels, Counter>,
    registrations: Counter,
    store_errors: Counter,
    connections: Gauge,
}

/// The metrics of one server. Cheap to clone (all clones count into the same series).
/// [`Metrics::default`] is off: recording does nothing and [`Metrics::render`] is `None`.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Metrics")
            .field(&if self.0.is_some() { "on" } else { "off" })
            .finish()
    }
}

impl Metrics {
    /// Metrics that record, every series registered (see the [module docs](self)).
    pub fn enabled() -> Self {
        let mut registry = Registry::with_prefix("mcpgen");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations =
            Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let codes = Counter::default();
        let tokens = Family::<GrantLabels, Counter>::default();
        let refresh_reuse = Counter::default();
        let refusals = Family::<RefusalLabels, Counter>::default();
        let registrations = Counter::default();
        let store_errors = Counter::default();
        let connections = Gauge::default();
        registry.register(
            "mcp_requests",
            "JSON-RPC requests answered on the MCP endpoint",
            requests.clone(),
        );
        registry.register(
            "mcp_request_duration_seconds",
            "Time to answer a JSON-RPC request on the MCP endpoint, in seconds",
            durations.clone(),
        );
        registry.register(
            "oauth_codes_issued",
            "Authorization codes issued",
            codes.clone(),
        );
        registry.register(
            "oauth_tokens_issued",
            "Token responses, by grant type (refresh_token: refreshes)",
            tokens.clone(),
        );
        registry.register(
            "oauth_refresh_reuse",
            "Refresh tokens used again after rotation; each revoked its grant",
            refresh_reuse.clone(),
        );
        registry.register(
            "oauth_refusals",
            "Refused OAuth and bearer-token requests, by endpoint and reason",
            refusals.clone(),
        );
        registry.register(
            "oauth_registrations",
            "Clients registered through dynamic client registration",
            registrations.clone(),
        );
        registry.register(
            "store_errors",
            "Store operations that failed",
            store_errors.clone(),
        );
        registry.register(
            "open_connections",
            "HTTP connections open on the public listener",
            connections.clone(),
        );
        Self(Some(Arc::new(Inner {
            registry,
            requests,
            durations,
            codes,
            tokens,
            refresh_reuse,
            refusals,
            registrations,
            store_errors,
            connections,
        })))
    }

    /// Whether this records anything.
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Every series in the Prometheus text format (version 0.0.4); `None` when off.
    pub fn render(&self) -> Option<String> {
        let inner = self.0.as_ref()?;
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &inner.registry);
        Some(out)
    }

    /// One JSON-RPC request answered: `tool` only on `tools/call` of a spec tool.
    pub(crate) fn request(
        &self,
        method: McpMethod,
        tool: Option<&Arc<str>>,
        outcome: Outcome,
        elapsed: Duration,
    ) {
        let Some(inner) = &self.0 else { return };
        let tool = tool.cloned();
        inner
            .durations
            .get_or_create(&DurationLabels {
                method,
                tool: tool.clone(),
            })
            .observe(elapsed.as_secs_f64());
        inner
            .requests
            .get_or_create(&RequestLabels {
                method,
                tool,
                outcome,
            })
            .inc();
    }

    /// An authorization code issued.
    pub(crate) fn code_issued(&self) {
        if let Some(inner) = &self.0 {
            inner.codes.inc();
        }
    }

    /// A token response for `grant_type` (`authorization_code` or `refresh_token`).
    pub(crate) fn tokens_issued(&self, grant_type: &'static str) {
        if let Some(inner) = &self.0 {
            inner
                .tokens
                .get_or_create(&GrantLabels { grant_type })
                .inc();
        }
    }

    /// A refresh token used again after rotation.
    pub(crate) fn refresh_reused(&self) {
        if let Some(inner) = &self.0 {
            inner.refresh_reuse.inc();
        }
    }

    /// A refusal at `endpoint` (`bearer`, `tool`, `token`, `authorize`, `consent`,
    /// `register`) for `reason` (an OAuth error code or a fixed phrase of this crate).
    pub(crate) fn refused(&self, endpoint: &'static str, reason: &'static str) {
        if let Some(inner) = &self.0 {
            inner
                .refusals
                .get_or_create(&RefusalLabels { endpoint, reason })
                .inc();
        }
    }

    /// A client registered.
    pub(crate) fn registered(&self) {
        if let Some(inner) = &self.0 {
            inner.registrations.inc();
        }
    }

    /// A store operation failed.
    pub(crate) fn store_error(&self) {
        if let Some(inner) = &self.0 {
            inner.store_errors.inc();
        }
    }

    /// A connection opened; the guard counts it closed when dropped.
    pub(crate) fn connection(&self) -> ConnectionGuard {
        if let Some(inner) = &self.0 {
            inner.connections.inc();
        }
        ConnectionGuard(self.clone())
    }
}

/// Counts an open connection until dropped.
pub(crate) struct ConnectionGuard(Metrics);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(inner) = &self.0.0 {
            inner.connections.dec();
        }
    }
}
