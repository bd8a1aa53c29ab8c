//! What a server is made of: its static description, the tool-handler trait generated code
//! implements, the context a handler runs with, and the results and errors it returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::auth::{Person, Principal};

/// A boxed, sendable future: what [`ToolHandler::call`] returns, so the trait stays
/// dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who the server is. Fields a protocol version does not know are left out of its answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// Machine name (`serverInfo.name`).
    pub name: String,
    /// Version of the server software (`serverInfo.version`).
    pub version: String,
    /// Human-readable name (2025-06-18 and later).
    pub title: Option<String>,
    /// What the server does (2025-11-25 and later).
    pub description: Option<String>,
    /// Guidance for the model on how to use the tools (`instructions`).
    pub instructions: Option<String>,
    /// Home page of the server (2025-11-25 and later).
    pub website_url: Option<String>,
}

/// Behaviour hints of a tool. Every hint is always emitted, because clients (and the Anthropic
/// directory) treat a missing hint differently from its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// `readOnlyHint`: the tool does not modify its environment.
    pub read_only: bool,
    /// `destructiveHint`: updates may be destructive (meaningful when not read-only).
    pub destructive: bool,
    /// `idempotentHint`: repeating a call with the same arguments has no further effect.
    pub idempotent: bool,
    /// `openWorldHint`: the tool interacts with external entities.
    pub open_world: bool,
}

impl Default for Annotations {
    /// The MCP defaults: not read-only, destructive, not idempotent, open world.
    fn default() -> Self {
        Self {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: true,
        }
    }
}

/// One tool as `tools/list` shows it, plus the scopes a caller needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    /// Unique tool name (`^[a-zA-Z0-9_-]{1,64}$` for Claude).
    pub name: String,
    /// Human-readable name; also `annotations.title`.
    pub title: Option<String>,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments; root `type: object`. Compiled once when the router is built.
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`, when the tool returns structured output.
    pub output_schema: Option<Value>,
    /// Behaviour hints.
    pub annotations: Annotations,
    /// OAuth scopes a caller must hold; checked before the arguments are validated.
    pub scopes: Vec<String>,
}

/// Implemented by generated code: runs a tool by name.
///
/// The endpoint has already checked that `tool` names a listed tool, that the caller holds its
/// scopes, and that `args` matches its input schema.
pub trait ToolHandler: Send + Sync + 'static {
    /// Runs `tool` with `args` (a JSON object).
    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: Value,
        ctx: ToolContext,
    ) -> BoxFuture<'a, Result<ToolResult, ToolError>>;
}

/// Severity of a log message, as in RFC 5424 (ordered from least to most severe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    /// Parses the wire name (`"debug"`, ..., `"emergency"`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "notice" => Self::Notice,
            "warning" => Self::Warning,
            "error" => Self::Error,
            "critical" => Self::Critical,
            "alert" => Self::Alert,
            "emergency" => Self::Emergency,
            _ => return None,
        })
    }
}

/// How a running tool talks back to the client before it finishes.
///
/// Progress and log messages turn the answer into an SSE stream; they are dropped (cheaply)
/// when the client cannot receive them: no `progressToken` for progress, no
/// `text/event-stream` in `Accept`, a 2026-07-28 request without a log level, a batch.
#[derive(Clone, Default)]
pub struct ToolContext {
    principal: Arc<Principal>,
    sink: Option<Arc<Sink>>,
}

/// Where notifications go while a tool runs. Messages are serialised in the handler's task so
/// the response stream only frames them.
pub(crate) struct Sink {
    pub(crate) tx: tokio::sync::mpsc::Sender<String>,
    pub(crate) progress_token: Option<Value>,
    /// Minimum level to forward; `None` when logging is off for this request.
    pub(crate) log_level: Option<LogLevel>,
    /// 2024-11-05 progress notifications have no `message`.
    pub(crate) progress_message: bool,
}

impl ToolContext {
    pub(crate) fn new(principal: Arc<Principal>, sink: Option<Arc<Sink>>) -> Self {
        Self { principal, sink }
    }

    /// A context that sends nothing; for calling handlers outside the endpoint (tests, tools).
    pub fn detached(principal: Principal) -> Self {
        Self {
            principal: Arc::new(principal),
            sink: None,
        }
    }

    /// Who the call acts for (client, person and scopes), as established by the
    /// authenticator.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The person the caller's token was issued for (subject, and name and email when
    /// known); `None` without authentication (`auth: none`).
    pub fn person(&self) -> Option<&Person> {
        self.principal.person.as_ref()
    }

    /// The caller's subject: who the person is to this server (see [`Person`]); `None`
    /// without authentication.
    pub fn subject(&self) -> Option<&str> {
        self.person().map(|p| p.subject.as_str())
    }

    /// The caller's display name, when known.
    pub fn name(&self) -> Option<&str> {
        self.person().and_then(|p| p.name.as_deref())
    }

    /// The caller's email address, when known.
    pub fn email(&self) -> Option<&str> {
        self.person().and_then(|p| p.email.as_deref())
    }

    /// The OAuth client the caller's token was issued to; `None` without authentication.
    pub fn client_id(&self) -> Option<&str> {
        self.principal.client_id.as_deref()
    }

    /// The scopes the caller's token carries.
    pub fn scopes(&self) -> &std::collections::BTreeSet<String> {
        &self.principal.scopes
    }

    /// Whether [`progress`](Self::progress) reaches the client, so a handler can skip
    /// computing expensive progress messages.
    pub fn wants_progress(&self) -> bool {
        self.sink
            .as_ref()
            .is_some_and(|s| s.progress_token.is_some())
    }

    /// Reports progress (`notifications/progress`). `current` should grow with every call.
    pub fn progress(&self, current: f64, total: Option<f64>, message: Option<&str>) {
        let Some(sink) = &self.sink else { return };
        let Some(token) = &sink.progress_token else {
            return;
        };
        #[derive(Serialize)]
        struct Params<'a> {
            #[serde(rename = "progressToken")]
            token: &'a Value,
            progress: f64,
            #[serde(skip_serializing_if = "Option::is_none")]
            total: Option<f64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            message: Option<&'a str>,
        }
        let params = Params {
            token,
            progress: current,
            total,
            message: message.filter(|_| sink.progress_message),
        };
        send(sink, "notifications/progress", &params);
    }

    /// Sends a log message (`notifications/message`) with arbitrary JSON `data`.
    pub fn log(&self, level: LogLevel, data: impl Into<Value>) {
        let Some(sink) = &self.sink else { return };
        if sink.log_level.is_none_or(|min| level < min) {
            return;
        }
        #[derive(Serialize)]
        struct Params {
            level: LogLevel,
            data: Value,
        }
        let params = Params {
            level,
            data: data.into(),
        };
        send(sink, "notifications/message", &params);
    }
}

/// Queues one notification. A full queue drops it: notifications are advisory and a slow
/// client must not stall the tool.
fn send(sink: &Sink, method: &str, params: &impl Serialize) {
    #[derive(Serialize)]
    struct Notification<'a, P> {
        jsonrpc: &'static str,
        method: &'a str,
        params: &'a P,
    }
    let msg = Notification {
        jsonrpc: "2.0",
        method,
        params,
    };
    if let Ok(text) = serde_json::to_string(&msg) {
        let _ = sink.tx.try_send(text);
    }
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("principal", &self.principal)
            .field("streaming", &self.sink.is_some())
            .finish()
    }
}

/// Who a piece of content is meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// Optional hints on a content block.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContentAnnotations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<Role>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// ISO 8601 timestamp.
    #[serde(rename = "lastModified", skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The contents of an embedded resource: text or base64 bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResourceContents {
    Text {
        uri: String,
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        text: String,
    },
    Blob {
        uri: String,
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Base64.
        blob: String,
    },
}

/// One content block of a tool result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<ContentAnnotations>,
    },
    Image {
        /// Base64.
        data: String,
        #[serde(rename = "mimeType")]
        mime_type: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<ContentAnnotations>,
    },
    Audio {
        /// Base64.
        data: String,
        #[serde(rename = "mimeType")]
        mime_type: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<ContentAnnotations>,
    },
    ResourceLink {
        uri: String,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(rename = "mimeType", skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<ContentAnnotations>,
    },
    Resource {
        resource: ResourceContents,
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<ContentAnnotations>,
    },
}

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            annotations: None,
        }
    }

    /// An image block from base64 `data`.
    pub fn image(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::Image {
            data: data.into(),
            mime_type: mime_type.into(),
            annotations: None,
        }
    }

    /// An audio block from base64 `data`.
    pub fn audio(data: impl Into<String>, mime_type: impl Into<String>) -> Self {
        Self::Audio {
            data: data.into(),
            mime_type: mime_type.into(),
            annotations: None,
        }
    }

    /// A link to a resource the client may fetch.
    pub fn resource_link(uri: impl Into<String>, name: impl Into<String>) -> Self {
        Self::ResourceLink {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: None,
            size: None,
            annotations: None,
        }
    }

    /// An embedded text resource.
    pub fn embedded_text(
        uri: impl Into<String>,
        mime_type: Option<String>,
        text: impl Into<String>,
    ) -> Self {
        Self::Resource {
            resource: ResourceContents::Text {
                uri: uri.into(),
                mime_type,
                text: text.into(),
            },
            annotations: None,
        }
    }

    /// An embedded binary resource from base64 `blob`.
    pub fn embedded_blob(
        uri: impl Into<String>,
        mime_type: Option<String>,
        blob: impl Into<String>,
    ) -> Self {
        Self::Resource {
            resource: ResourceContents::Blob {
                uri: uri.into(),
                mime_type,
                blob: blob.into(),
            },
            annotations: None,
        }
    }
}

/// What a tool returns on success.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolResult {
    /// Content blocks, in order.
    pub content: Vec<Content>,
    /// Structured output; must match the tool's output schema when it has one.
    pub structured_content: Option<Value>,
    /// A result the tool itself marks as failed (the model sees it and may retry).
    pub is_error: bool,
}

impl ToolResult {
    /// A result of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::content(vec![Content::text(text)])
    }

    /// A result of the given content blocks.
    pub fn content(content: Vec<Content>) -> Self {
        Self {
            content,
            structured_content: None,
            is_error: false,
        }
    }

    /// A structured result, with the same JSON as a text block for clients that predate
    /// `structuredContent`.
    pub fn structured(value: Value) -> Self {
        let text = value.to_string();
        Self {
            content: vec![Content::text(text)],
            structured_content: Some(value),
            is_error: false,
        }
    }

    /// A structured result from any serialisable value (see [`ToolResult::structured`]).
    pub fn json<T: Serialize>(value: &T) -> Result<Self, ToolError> {
        serde_json::to_value(value)
            .map(Self::structured)
            .map_err(|e| ToolError::new(format!("cannot serialise the result: {e}")))
    }
}

/// A failed tool call. The message goes to the model as an `isError: true` result, so it
/// should say what went wrong and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    message: String,
}

impl ToolError {
    /// An error with a message for the model.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message the model sees.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(e: E) -> Self {
        Self::new(e.to_string())
    }
}
