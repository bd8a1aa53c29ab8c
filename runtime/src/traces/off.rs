//! Without the `otlp` feature: the same types, none of which can exist, so an endpoint set in
//! the environment is a start-up error rather than silently ignored.

use serde_json::Value;

use super::TracesConfig;
use crate::metrics::Outcome;

/// Uninhabited: no value of these types is ever made.
#[derive(Debug, Clone, Copy)]
enum Never {}

/// The trace pipeline; this build has none (see [`Traces::start`]).
#[derive(Debug)]
pub struct Traces(Never);

impl Traces {
    /// Always fails: this build was made without the `otlp` feature.
    pub fn start(_config: &TracesConfig) -> Result<Self, String> {
        Err("this server was built without the `otlp` feature: unset \
             OTEL_EXPORTER_OTLP_ENDPOINT, or build it with the feature"
            .into())
    }

    pub(crate) fn tracing(&self) -> Tracing {
        match self.0 {}
    }

    /// Nothing to send.
    pub fn shutdown(self) {
        match self.0 {}
    }
}

#[derive(Clone)]
pub(crate) struct Tracing(Never);

impl Tracing {
    pub fn request(
        &self,
        _parts: &http::request::Parts,
        _route: &str,
        _request_id: &str,
    ) -> RequestTrace {
        match self.0 {}
    }
}

pub(crate) struct RequestTrace(Never);

impl RequestTrace {
    pub fn begin_message(&self, _method: &str, _id: &Value) {
        match self.0 {}
    }

    pub fn take_message(&self) -> Option<MessageSpan> {
        match self.0 {}
    }

    pub fn end(&self, _status: u16) {
        match self.0 {}
    }
}

pub(crate) struct MessageSpan(Never);

impl MessageSpan {
    pub fn tool(&mut self, _name: &str) {
        match self.0 {}
    }

    pub fn protocol_version(&mut self, _version: &'static str) {
        match self.0 {}
    }

    pub fn end(self, _outcome: Outcome) {
        match self.0 {}
    }
}
