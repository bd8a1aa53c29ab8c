//! The server's static answers, prepared once when the router is built: compiled argument and
//! output validators, and pre-serialised `initialize`, `server/discover` and `tools/list`
//! results for every protocol version.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::version::ProtocolVersion;
use crate::tools::{ServerInfo, ToolDef};

/// Why a server description cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two tools share a name.
    #[error("tool `{tool}` is defined twice")]
    DuplicateTool { tool: String },
    /// A tool's input schema is not a JSON Schema.
    #[error("tool `{tool}`: invalid input schema: {source}")]
    InputSchema {
        tool: String,
        #[source]
        source: Box<jsonschema::ValidationError<'static>>,
    },
    /// A tool's output schema is not a JSON Schema.
    #[error("tool `{tool}`: invalid output schema: {source}")]
    OutputSchema {
        tool: String,
        #[source]
        source: Box<jsonschema::ValidationError<'static>>,
    },
    /// The endpoint path does not start with `/`.
    #[error("endpoint path must start with '/': {path}")]
    EndpointPath { path: String },
}

pub(crate) struct CompiledTool {
    pub def: ToolDef,
    pub input: jsonschema::Validator,
    pub output: Option<jsonschema::Validator>,
    /// The input schema states a `default` somewhere (see `mcp::defaults`).
    pub fills_defaults: bool,
    /// The tool's name as a metrics label, shared by every request rather than copied.
    pub label: std::sync::Arc<str>,
}

pub(crate) struct Catalog {
    pub tools: Vec<CompiledTool>,
    by_name: HashMap<String, usize>,
    /// `initialize` results, indexed by legacy version.
    init: Vec<Vec<u8>>,
    discover: Vec<u8>,
    /// `tools/list` pages, indexed by version then page.
    pages: Vec<Vec<Vec<u8>>>,
    /// `_meta` of every 2026-07-28 result.
    pub result_meta: Value,
    pub supported_modern: Value,
}

/// Settings that shape the prepared answers.
pub(crate) struct CatalogOptions {
    pub page_size: usize,
    pub ttl_ms: u64,
    pub versions: super::version::Versions,
}

impl Catalog {
    pub fn build(
        info: &ServerInfo,
        tools: Vec<ToolDef>,
        opts: &CatalogOptions,
    ) -> Result<Self, BuildError> {
        let mut by_name = HashMap::with_capacity(tools.len());
        let mut compiled = Vec::with_capacity(tools.len());
        for (i, def) in tools.into_iter().enumerate() {
            if by_name.insert(def.name.clone(), i).is_some() {
                return Err(BuildError::DuplicateTool { tool: def.name });
            }
            let input = jsonschema::validator_for(&def.input_schema).map_err(|e| {
                BuildError::InputSchema {
                    tool: def.name.clone(),
                    source: Box::new(e),
                }
            })?;
            let output = match &def.output_schema {
                Some(schema) => Some(jsonschema::validator_for(schema).map_err(|e| {
                    BuildError::OutputSchema {
                        tool: def.name.clone(),
                        source: Box::new(e),
                    }
                })?),
                None => None,
            };
            let fills_defaults = super::defaults::any(&def.input_schema);
            compiled.push(CompiledTool {
                label: def.name.as_str().into(),
                def,
                input,
                output,
                fills_defaults,
            });
        }

        let supported_modern = Value::from(
            opts.versions
                .iter()
                .filter(|v| v.is_modern())
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
        );
        let result_meta = json!({
            "io.modelcontextprotocol/serverInfo": server_info(info, ProtocolVersion::V2026_07_28)
        });
        let capabilities = json!({ "logging": {}, "tools": {} });

        let init = ProtocolVersion::LEGACY
            .iter()
            .map(|&v| {
                let mut r = Map::new();
                r.insert("protocolVersion".into(), v.as_str().into());
                r.insert("capabilities".into(), capabilities.clone());
                r.insert("serverInfo".into(), server_info(info, v));
                if let Some(i) = &info.instructions {
                    r.insert("instructions".into(), i.as_str().into());
                }
                to_vec(&Value::Object(r))
            })
            .collect();

        let mut d = Map::new();
        d.insert("resultType".into(), "complete".into());
        d.insert("supportedVersions".into(), supported_modern.clone());
        d.insert("capabilities".into(), capabilities);
        if let Some(i) = &info.instructions {
            d.insert("instructions".into(), i.as_str().into());
        }
        d.insert("ttlMs".into(), opts.ttl_ms.into());
        d.insert("cacheScope".into(), "public".into());
        d.insert("_meta".into(), result_meta.clone());
        let discover = to_vec(&Value::Object(d));

        let page_size = opts.page_size.max(1);
        let pages = ProtocolVersion::ALL
            .iter()
            .map(|&v| {
                let listed: Vec<Value> = compiled.iter().map(|t| tool_json(&t.def, v)).collect();
                let chunks: Vec<&[Value]> = if listed.is_empty() {
                    vec![&[]]
                } else {
                    listed.chunks(page_size).collect()
                };
                let last = chunks.len() - 1;
                chunks
                    .iter()
                    .enumerate()
                    .map(|(i, chunk)| {
                        let mut r = Map::new();
                        r.insert("tools".into(), Value::Array(chunk.to_vec()));
                        if i < last {
                            r.insert("nextCursor".into(), encode_cursor(i + 1).into());
                        }
                        if v.is_modern() {
                            r.insert("resultType".into(), "complete".into());
                            r.insert("ttlMs".into(), opts.ttl_ms.into());
                            // The list is the same for every caller.
                            r.insert("cacheScope".into(), "public".into());
                            r.insert("_meta".into(), result_meta.clone());
                        }
                        to_vec(&Value::Object(r))
                    })
                    .collect()
            })
            .collect();

        Ok(Self {
            tools: compiled,
            by_name,
            init,
            discover,
            pages,
            result_meta,
            supported_modern,
        })
    }

    pub fn tool(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn initialize(&self, v: ProtocolVersion) -> &[u8] {
        // Only legacy versions are ever negotiated; fall back to the newest for safety.
        self.init
            .get(v.index())
            .or(self.init.last())
            .map_or(&[][..], Vec::as_slice)
    }

    pub fn discover(&self) -> &[u8] {
        &self.discover
    }

    /// The page a cursor points at, or `None` for a cursor we never issued.
    pub fn tools_page(&self, v: ProtocolVersion, cursor: Option<&str>) -> Option<&[u8]> {
        let pages = self.pages.get(v.index())?;
        let index = match cursor {
            None => 0,
            Some(c) => decode_cursor(c)?,
        };
        pages.get(index).map(Vec::as_slice)
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// `serverInfo` with the fields `v` defines.
fn server_info(info: &ServerInfo, v: ProtocolVersion) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), info.name.as_str().into());
    if v >= ProtocolVersion::V2025_06_18
        && let Some(t) = &info.title
    {
        m.insert("title".into(), t.as_str().into());
    }
    m.insert("version".into(), info.version.as_str().into());
    if v >= ProtocolVersion::V2025_11_25 {
        if let Some(d) = &info.description {
            m.insert("description".into(), d.as_str().into());
        }
        if let Some(w) = &info.website_url {
            m.insert("websiteUrl".into(), w.as_str().into());
        }
    }
    Value::Object(m)
}

/// A tool as `tools/list` shows it in version `v`. Annotations are emitted in every version
/// (older clients ignore them; the Anthropic directory requires them).
fn tool_json(def: &ToolDef, v: ProtocolVersion) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), def.name.as_str().into());
    if v >= ProtocolVersion::V2025_06_18
        && let Some(t) = &def.title
    {
        m.insert("title".into(), t.as_str().into());
    }
    m.insert("description".into(), def.description.as_str().into());
    m.insert("inputSchema".into(), listed_schema(&def.input_schema));
    if v >= ProtocolVersion::V2025_06_18
        && let Some(o) = &def.output_schema
    {
        m.insert("outputSchema".into(), listed_schema(o));
    }
    let mut a = Map::new();
    if let Some(t) = &def.title {
        a.insert("title".into(), t.as_str().into());
    }
    a.insert("readOnlyHint".into(), def.annotations.read_only.into());
    a.insert("destructiveHint".into(), def.annotations.destructive.into());
    a.insert("idempotentHint".into(), def.annotations.idempotent.into());
    a.insert("openWorldHint".into(), def.annotations.open_world.into());
    m.insert("annotations".into(), Value::Object(a));
    Value::Object(m)
}

/// A tool's root schema as `tools/list` shows it: an object schema always states `properties`
/// (`{}` when it has none). Clients backed by OpenAI's function calling (Copilot CLI, Codex)
/// reject a tool whose schema is a bare `{"type":"object"}`, and Copilot then fails every
/// prompt (github/copilot-cli#1825, mark3labs/mcp-go#224). Validation is unaffected: an empty
/// `properties` constrains nothing.
fn listed_schema(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(root) = schema.as_object_mut()
        && root.get("type").and_then(Value::as_str) == Some("object")
        && !root.contains_key("properties")
    {
        root.insert("properties".into(), Value::Object(Map::new()));
    }
    schema
}

/// Cursors are opaque to clients; a prefix keeps arbitrary base64 from decoding to a page.
fn encode_cursor(page: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("page:{page}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("page:")?
        .parse()
        .ok()
}
