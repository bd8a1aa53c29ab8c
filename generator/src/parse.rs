//! Parse: YAML text to a JSON value, with the source position of every node and key.
//!
//! Works on saphyr's event stream rather than its document loader, because a spec must be
//! refused, not loaded, when it has duplicate keys, runaway alias expansion or nesting that
//! would exhaust memory or the stack.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use saphyr::Scalar;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Value};

use crate::diag::Diagnostic;

/// Specs are hand-written; anything larger is a mistake (or an attack), not a spec.
pub const MAX_SPEC_BYTES: usize = 4 * 1024 * 1024;
/// Deeper nesting than this is never a real spec, and would cost stack elsewhere.
pub const MAX_DEPTH: usize = 64;
/// How many nodes aliases may add in total: enough for any honest reuse, far below a
/// "billion laughs" expansion.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// How large a document may become once its aliases are expanded, in bytes: the text, plus
/// the size of every copy an alias or anchor makes (a node's size is its scalar or key text
/// plus [`NODE_BYTES`]). Counts bytes, not nodes, so one long string aliased many times is
/// refused as surely as many nested aliases.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;
/// What one node costs towards [`MAX_EXPANDED_BYTES`] besides its text: its punctuation
/// and place in the tree.
pub const NODE_BYTES: usize = 8;

/// Where each node of a parsed document came from.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    nodes: BTreeMap<String, NodePos>,
}

#[derive(Debug, Clone)]
struct NodePos {
    value: Range<usize>,
    key: Option<Range<usize>>,
}

impl Positions {
    /// Byte range of the value at `pointer`, or of its nearest located ancestor (nodes that came
    /// from an alias are located at the alias).
    pub fn value(&self, pointer: &str) -> Range<usize> {
        let mut p = pointer;
        loop {
            if let Some(node) = self.nodes.get(p) {
                return node.value.clone();
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return 0..0,
            }
        }
    }

    /// Byte range of the key of the member at `pointer`, or of its value when it has no key.
    pub fn key(&self, pointer: &str) -> Range<usize> {
        match self.nodes.get(pointer) {
            Some(NodePos { key: Some(k), .. }) => k.clone(),
            _ => self.value(pointer),
        }
    }

    fn insert(&mut self, pointer: &str, value: Range<usize>, key: Option<Range<usize>>) {
        self.nodes
            .insert(pointer.to_owned(), NodePos { value, key });
    }
}

/// A parsed spec: its JSON value and where each node is in the text.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub positions: Positions,
}

/// Appends one reference token to a JSON Pointer (RFC 6901 escaping).
pub fn push_pointer(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes the bytes of a spec file; the text is what diagnostics are rendered against.
pub fn decode(bytes: &[u8]) -> Result<&str, Diagnostic> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(Diagnostic::new(
            format!(
                "spec is {} bytes, over the limit of {} bytes",
                bytes.len(),
                MAX_SPEC_BYTES
            ),
            0..0,
        )
        .with_help("a spec is hand-written YAML; split large input schemas or check the file"));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        Diagnostic::new(
            format!("spec is not valid UTF-8 (byte 0x{:02x})", bytes[at]),
            at..at,
        )
        .with_help("save the file as UTF-8")
    })
}

/// Parses YAML text into a JSON value and its positions. All problems found before the parser
/// gives up are returned.
pub fn parse(text: &str) -> Result<Document, Vec<Diagnostic>> {
    Builder::new(text).run()
}

/// Character index (what saphyr reports) to byte offset (what diagnostics use).
struct Offsets {
    /// `None` when the text is ASCII, so both are the same.
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        Self {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn span(&self, span: &Span) -> Range<usize> {
        let start = self.byte(span.start.index());
        start..self.byte(span.end.index()).max(start)
    }
}

enum Frame {
    Seq {
        items: Vec<Value>,
    },
    Map {
        map: Map<String, Value>,
        /// Key positions, to point at the first of two duplicates.
        keys: HashMap<String, Range<usize>>,
        pending_key: Option<PendingKey>,
    },
}

/// A key whose value has not been seen yet.
struct PendingKey {
    key: String,
    /// A repeated key: already reported; its value is dropped so the first one stands.
    duplicate: bool,
}

struct Open {
    frame: Frame,
    pointer: String,
    start: Range<usize>,
    key_span: Option<Range<usize>>,
    anchor: usize,
    nodes: usize,
    /// Expanded size so far, as [`MAX_EXPANDED_BYTES`] counts it.
    bytes: usize,
}

struct Builder<'t> {
    text: &'t str,
    offsets: Offsets,
    positions: Positions,
    stack: Vec<Open>,
    /// Anchored nodes by id, with their node counts and expanded sizes.
    anchors: HashMap<usize, (Value, usize, usize)>,
    alias_nodes: usize,
    /// The text's length plus every copy made by an alias or anchor, in bytes.
    expanded_bytes: usize,
    root: Option<Value>,
    documents: usize,
    diags: Vec<Diagnostic>,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            offsets: Offsets::new(text),
            positions: Positions::default(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            expanded_bytes: text.len(),
            root: None,
            documents: 0,
            diags: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Document, Vec<Diagnostic>> {
        let mut parser = Parser::new_from_str(self.text);
        while let Some(event) = parser.next_event() {
            let (event, span) = match event {
                Ok(ok) => ok,
                Err(e) => {
                    let at = self.offsets.byte(e.marker().index());
                    self.diags.push(Diagnostic::new(
                        format!("invalid YAML: {}", e.info()),
                        at..at,
                    ));
                    return Err(self.diags);
                }
            };
            let span = self.offsets.span(&span);
            if let Err(d) = self.event(event, span) {
                self.diags.push(d);
                return Err(self.diags);
            }
        }
        if !self.diags.is_empty() {
            return Err(self.diags);
        }
        match self.root {
            None | Some(Value::Null) => {
                Err(vec![Diagnostic::new("spec is empty", 0..0).with_help(
                    "a spec needs at least `mcpgen: 1`, `name`, `version` and `server.public_url`",
                )])
            }
            Some(Value::Object(map)) => Ok(Document {
                value: Value::Object(map),
                positions: self.positions,
            }),
            Some(other) => Err(vec![Diagnostic::new(
                format!(
                    "the top level of a spec must be a mapping, found {}",
                    describe(&other)
                ),
                self.positions.value(""),
            )]),
        }
    }

    fn event(&mut self, event: Event<'t>, span: Range<usize>) -> Result<(), Diagnostic> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Diagnostic::new("a spec is a single YAML document", span)
                        .with_help("remove the second `---` and what follows it, or merge them"));
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Open {
                    frame:
                        Frame::Map {
                            pending_key: pending @ None,
                            map,
                            keys,
                        },
                    pointer,
                    bytes,
                    ..
                }) = self.stack.last_mut()
                {
                    // A scalar in key position: JSON keys are strings, so keep the source text.
                    if tag.is_some() {
                        return Err(Diagnostic::new("tagged keys are not supported", span));
                    }
                    let key = text.into_owned();
                    *bytes += key.len();
                    if let Some(first) = keys.get(&key) {
                        self.diags.push(
                            Diagnostic::new(format!("duplicate key `{key}`"), span.clone())
                                .with_label("second definition")
                                .with_related(first.clone(), "first defined here")
                                .with_help("keep one of them"),
                        );
                    } else {
                        keys.insert(key.clone(), span.clone());
                    }
                    let duplicate = map.contains_key(&key);
                    if !duplicate {
                        let child = push_pointer(pointer, &key);
                        self.positions.insert(&child, span.clone(), Some(span));
                    }
                    *pending = Some(PendingKey { key, duplicate });
                    return Ok(());
                }
                let size = text.len() + NODE_BYTES;
                let value = self.scalar(text, style, tag.as_ref(), &span)?;
                self.add(value, 1, size, anchor, span, None)
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if let Some(tag) = tag
                    && !tag.is_yaml_core_schema()
                {
                    return Err(unsupported_tag(tag, span));
                }
                let pointer = self.child_pointer(&span)?;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(Diagnostic::new(
                        format!("nesting is deeper than {MAX_DEPTH} levels"),
                        span,
                    )
                    .with_help("flatten the structure; clients handle deep schemas badly too"));
                }
                let frame = if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq { items: Vec::new() }
                } else {
                    Frame::Map {
                        map: Map::new(),
                        keys: HashMap::new(),
                        pending_key: None,
                    }
                };
                let key_span = self
                    .positions
                    .nodes
                    .get(&pointer)
                    .and_then(|n| n.key.clone());
                self.stack.push(Open {
                    frame,
                    pointer,
                    start: span,
                    key_span,
                    anchor,
                    nodes: 1,
                    bytes: NODE_BYTES,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else {
                    return Ok(());
                };
                let value = match open.frame {
                    Frame::Seq { items } => Value::Array(items),
                    Frame::Map { map, .. } => Value::Object(map),
                };
                let whole = open.start.start..span.end.max(open.start.start);
                // `add` computes the pointer again from the parent, which is the same one.
                self.add(
                    value,
                    open.nodes,
                    open.bytes,
                    open.anchor,
                    whole,
                    open.key_span,
                )
            }
            Event::Alias(id) => {
                // Sizes are checked before the copy is made, so a refused copy costs nothing.
                let Some(&(_, nodes, bytes)) = self.anchors.get(&id) else {
                    return Err(Diagnostic::new("alias to an unknown anchor", span));
                };
                self.alias_nodes += nodes;
                if self.alias_nodes > MAX_ALIAS_NODES {
                    return Err(Diagnostic::new(
                        format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                        span,
                    )
                    .with_help("write the values out, or reuse fewer of them"));
                }
                self.grow(bytes, &span)?;
                if matches!(
                    self.stack.last(),
                    Some(Open {
                        frame: Frame::Map {
                            pending_key: None,
                            ..
                        },
                        ..
                    })
                ) {
                    return Err(Diagnostic::new("aliases cannot be used as keys", span));
                }
                let value = self.anchors[&id].0.clone();
                self.add(value, nodes, bytes, 0, span, None)
            }
        }
    }

    /// Counts a copy of `bytes` towards [`MAX_EXPANDED_BYTES`]; `span` is what made it.
    fn grow(&mut self, bytes: usize, span: &Range<usize>) -> Result<(), Diagnostic> {
        self.expanded_bytes = self.expanded_bytes.saturating_add(bytes);
        if self.expanded_bytes > MAX_EXPANDED_BYTES {
            return Err(Diagnostic::new(
                format!(
                    "aliases expand the spec to more than {} MiB",
                    MAX_EXPANDED_BYTES / (1024 * 1024)
                ),
                span.clone(),
            )
            .with_label("this copy crosses the limit")
            .with_help("write the values out, or reuse large values fewer times"));
        }
        Ok(())
    }

    /// The pointer a new node gets in the current parent.
    fn child_pointer(&self, span: &Range<usize>) -> Result<String, Diagnostic> {
        match self.stack.last() {
            None => Ok(String::new()),
            Some(Open {
                frame: Frame::Seq { items },
                pointer,
                ..
            }) => Ok(push_pointer(pointer, &items.len().to_string())),
            Some(Open {
                frame: Frame::Map { pending_key, .. },
                pointer,
                ..
            }) => match pending_key {
                // A pointer no lookup can produce, so a dropped duplicate's nodes never move
                // the positions of the value that stands.
                Some(PendingKey {
                    key,
                    duplicate: true,
                }) => Ok(format!("\u{0}{}", push_pointer(pointer, key))),
                Some(PendingKey { key, .. }) => Ok(push_pointer(pointer, key)),
                None => Err(Diagnostic::new(
                    "keys must be plain strings, not sequences or mappings",
                    span.clone(),
                )),
            },
        }
    }

    /// Puts a finished node into its parent (or makes it the root).
    fn add(
        &mut self,
        value: Value,
        nodes: usize,
        bytes: usize,
        anchor: usize,
        span: Range<usize>,
        key_span: Option<Range<usize>>,
    ) -> Result<(), Diagnostic> {
        let pointer = self.child_pointer(&span)?;
        if anchor != 0 {
            // The anchor keeps a copy of its node: nested anchors would otherwise multiply a
            // large value without a single alias.
            self.grow(bytes, &span)?;
            self.anchors.insert(anchor, (value.clone(), nodes, bytes));
        }
        let key_span = key_span.or_else(|| {
            self.positions
                .nodes
                .get(&pointer)
                .and_then(|n| n.key.clone())
        });
        self.positions.insert(&pointer, span, key_span);
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(parent) => {
                parent.nodes += nodes;
                parent.bytes = parent.bytes.saturating_add(bytes);
                match &mut parent.frame {
                    Frame::Seq { items } => items.push(value),
                    Frame::Map {
                        map, pending_key, ..
                    } => {
                        if let Some(PendingKey {
                            key,
                            duplicate: false,
                        }) = pending_key.take()
                        {
                            map.insert(key, value);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn scalar(
        &self,
        text: Cow<'t, str>,
        style: ScalarStyle,
        tag: Option<&Cow<'t, Tag>>,
        span: &Range<usize>,
    ) -> Result<Value, Diagnostic> {
        if let Some(tag) = tag
            && !tag.is_yaml_core_schema()
        {
            return Err(unsupported_tag(tag, span.clone()));
        }
        let shown = text.to_string();
        match Scalar::parse_from_cow_and_metadata(text, style, tag) {
            Some(Scalar::Null) => Ok(Value::Null),
            Some(Scalar::Boolean(b)) => Ok(Value::Bool(b)),
            Some(Scalar::Integer(i)) => Ok(Value::from(i)),
            Some(Scalar::FloatingPoint(f)) => serde_json::Number::from_f64(f.into_inner())
                .map(Value::Number)
                .ok_or_else(|| {
                    Diagnostic::new(format!("`{shown}` is not a finite number"), span.clone())
                        .with_help("quote it to make it a string")
                }),
            Some(Scalar::String(s)) => Ok(Value::String(s.into_owned())),
            None => Err(Diagnostic::new(
                format!("`{shown}` does not fit its tag"),
                span.clone(),
            )),
        }
    }
}

fn unsupported_tag(tag: &Tag, span: Range<usize>) -> Diagnostic {
    Diagnostic::new(
        format!("YAML tag `{}{}` is not supported", tag.handle, tag.suffix),
        span,
    )
    .with_help("remove the tag; quote the value if it must be a string")
}

/// "a string", "a mapping": for messages.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
