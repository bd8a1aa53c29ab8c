//! JSON-RPC 2.0 framing: parsing one incoming message, error codes, and writing responses
//! straight to bytes (no intermediate `Value` on the hot path).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Error codes the endpoint emits.
pub mod code {
    pub const PARSE_ERROR: i32 = -32700;
    pub const INVALID_REQUEST: i32 = -32600;
    pub const METHOD_NOT_FOUND: i32 = -32601;
    pub const INVALID_PARAMS: i32 = -32602;
    pub const INTERNAL_ERROR: i32 = -32603;
    /// 2026-07-28: headers do not match the body, or a required header is missing.
    pub const HEADER_MISMATCH: i32 = -32020;
    /// 2026-07-28: the requested protocol version is not supported.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
}

/// One message as it arrives. Strings borrow from the body when they have no escapes.
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming<'a> {
    #[serde(borrow, default)]
    pub jsonrpc: Option<Cow<'a, str>>,
    /// `Some(Value::Null)` for `"id": null`, which is not the same as no id (a notification).
    #[serde(default, deserialize_with = "present")]
    pub id: Option<Value>,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default, deserialize_with = "present_ignored")]
    pub result: Option<()>,
    #[serde(default, deserialize_with = "present_ignored")]
    pub error: Option<()>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn present_ignored<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| Some(()))
}

/// What kind of message a well-formed [`Incoming`] is.
pub(crate) enum Kind {
    Request,
    Notification,
    Response,
}

/// A message that is JSON but not a valid JSON-RPC message: answer -32600 with this id.
pub(crate) struct Invalid {
    pub id: Option<Value>,
    pub message: &'static str,
}

impl<'a> Incoming<'a> {
    /// Classifies the message, or says why it is not a valid JSON-RPC message.
    pub fn kind(&self) -> Result<Kind, Invalid> {
        let id = match &self.id {
            Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
            Some(_) => {
                return Err(Invalid {
                    id: None,
                    message: "id must be a string or a number",
                });
            }
            None => None,
        };
        let invalid = |message| Invalid {
            id: id.cloned(),
            message,
        };
        if self.jsonrpc.as_deref() != Some("2.0") {
            return Err(invalid("jsonrpc must be \"2.0\""));
        }
        match (&self.method, id) {
            (Some(_), Some(_)) => Ok(Kind::Request),
            (Some(_), None) => Ok(Kind::Notification),
            (None, Some(_)) if self.result.is_some() || self.error.is_some() => Ok(Kind::Response),
            (None, _) => Err(invalid("method is missing")),
        }
    }
}

/// Why a body could not be read as one message.
pub(crate) enum ParseFailure {
    /// Not JSON at all (-32700).
    Syntax,
    /// JSON, but not a message (-32600), with the id when one could be read.
    Shape(Option<Value>),
}

/// Parses one message object, telling a syntax error from a wrong shape.
pub(crate) fn parse_one(body: &[u8]) -> Result<Incoming<'_>, ParseFailure> {
    serde_json::from_slice::<Incoming<'_>>(body).map_err(|e| {
        if e.is_data() {
            ParseFailure::Shape(salvage_id(body))
        } else {
            ParseFailure::Syntax
        }
    })
}

/// Best effort: the id of a message that failed to deserialise, so the error can echo it.
fn salvage_id(body: &[u8]) -> Option<Value> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<Value>,
    }
    serde_json::from_slice::<IdOnly>(body)
        .ok()
        .and_then(|m| m.id)
        .filter(|id| id.is_string() || id.is_number())
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: i32,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
}

#[derive(Serialize)]
struct ErrorResponse<'a> {
    jsonrpc: &'static str,
    /// Left out when the request's id is unknown (the transport spec: "a JSON-RPC error
    /// response that has no id").
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ResultResponse<'a, R> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: &'a R,
}

/// A complete error response.
pub(crate) fn error_bytes(
    id: Option<&Value>,
    code: i32,
    message: &str,
    data: Option<&Value>,
) -> Vec<u8> {
    // Every JSON-RPC error the endpoint answers is built here: the one place that sees them all.
    super::exchange::mark(crate::metrics::Outcome::ProtocolError);
    let resp = ErrorResponse {
        jsonrpc: "2.0",
        id,
        error: ErrorObject {
            code,
            message,
            data,
        },
    };
    // Serialising these types cannot fail: string keys, no maps with non-string keys.
    serde_json::to_vec(&resp).unwrap_or_default()
}

/// A complete result response.
pub(crate) fn result_bytes<R: Serialize>(id: &Value, result: &R) -> Vec<u8> {
    let resp = ResultResponse {
        jsonrpc: "2.0",
        id,
        result,
    };
    serde_json::to_vec(&resp).unwrap_or_default()
}

/// A complete result response around an already serialised result.
pub(crate) fn raw_result_bytes(id: &Value, raw_result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw_result.len() + 48);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    // Writing a string or number into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, id);
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(raw_result);
    out.push(b'}');
    out
}
