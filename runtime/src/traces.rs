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

use std::time::Duration;

#[cfg(not(feature = "otlp"))]
mod off;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(not(feature = "otlp"))]
pub use off::Traces;
#[cfg(not(feature = "otlp"))]
pub(crate) use off::{MessageSpan, RequestTrace, Tracing};
#[cfg(feature = "otlp")]
pub use otlp::Traces;
#[cfg(feature = "otlp")]
pub(crate) use otlp::{MessageSpan, RequestTrace, Tracing};

/// The default OTLP export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`): 10 s.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for the last spans to reach the collector: 3 s.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

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
}
