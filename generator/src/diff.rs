//! Diff: what a spec change costs the people and hosts who depend on the server.
//!
//! Two specs go through parse, validate and model; the models are compared and every change
//! gets exactly one [`Kind`], the most severe that applies. The kinds, from the reviewer's
//! side (`oasdiff` and `buf breaking` are the models for how this should feel):
//!
//! - [`Kind::Breaking`]: a caller written for the old server fails on the new one (a tool
//!   removed or renamed, an argument added as required, an argument narrowed, an output
//!   property removed, the MCP URL moved).
//! - [`Kind::Reconsent`]: tokens granted before the change no longer cover a tool, or what is
//!   asked for at connect changes, so people must approve again.
//! - [`Kind::Safety`]: an annotation moves toward destructive, non-idempotent, open-world or
//!   not read-only (hosts use them to decide when to ask the user).
//! - [`Kind::Review`]: text a model or a reviewing host reads changes (names, titles,
//!   descriptions, schema text): directories that review tools, such as OpenAI's, freeze the
//!   reviewed `tools/list` and need a new review.
//! - [`Kind::Compatible`]: additions and relaxations old callers do not notice.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{AnnotationsModel, Model, ToolModel};
use crate::parse::push_pointer;

/// What a change costs. Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Breaking,
    Reconsent,
    Safety,
    Review,
    Compatible,
}

impl Kind {
    /// Every kind, most severe first.
    pub const ALL: [Kind; 5] = [
        Kind::Breaking,
        Kind::Reconsent,
        Kind::Safety,
        Kind::Review,
        Kind::Compatible,
    ];

    /// The name used in output and by `--fail-on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Breaking => "breaking",
            Kind::Reconsent => "reconsent",
            Kind::Safety => "safety",
            Kind::Review => "review",
            Kind::Compatible => "compatible",
        }
    }

    /// The kind named `name` (as [`Kind::as_str`] prints it).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change between two specs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: Kind,
    /// The tool it concerns, by its name in the new spec (the old one when removed); `None`
    /// for the server's own settings.
    pub tool: Option<String>,
    /// JSON Pointer to what changed: inside the tool's entry (`/input/properties/limit`) when
    /// `tool` is set, else inside the spec (`/auth/default_scopes`).
    pub pointer: String,
    /// What changed, for a person: short, lowercase, naming the values.
    pub message: String,
}

/// The whole comparison: the changes in a stable order (spec-level first, then tools by
/// name; within one place, in the order they were found) and the version bump they call for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub changes: Vec<Change>,
    /// `major` with a breaking or reconsent change, `minor` with a safety or compatible one,
    /// `patch` with only review changes, `none` when the specs are equivalent.
    pub semver: &'static str,
}

impl Report {
    /// Whether any change is of one of `kinds`.
    pub fn has_any(&self, kinds: &[Kind]) -> bool {
        self.changes.iter().any(|c| kinds.contains(&c.kind))
    }

    /// How many changes are of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }

    /// The human report: one line per change, then a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let place = match &c.tool {
                Some(t) => format!("tool `{t}`"),
                None => "server".to_owned(),
            };
            out.push_str(&format!(
                "{:<10} {place}: {} ({})\n",
                c.kind.as_str(),
                c.message,
                if c.pointer.is_empty() {
                    "/"
                } else {
                    &c.pointer
                }
            ));
        }
        let counts: Vec<String> = Kind::ALL
            .into_iter()
            .filter(|k| self.count(*k) > 0)
            .map(|k| format!("{} {k}", self.count(k)))
            .collect();
        if counts.is_empty() {
            out.push_str("no changes\n");
        } else {
            out.push_str(&format!(
                "semver: {} ({})\n",
                self.semver,
                counts.join(", ")
            ));
        }
        out
    }
}

/// Compares two resolved specs.
pub fn diff(old: &Model, new: &Model) -> Report {
    let mut d = Differ::default();
    d.server(old, new);
    d.tools(old, new);
    let changes = d.changes;
    let has = |k: Kind| changes.iter().any(|c| c.kind == k);
    let semver = if has(Kind::Breaking) || has(Kind::Reconsent) {
        "major"
    } else if has(Kind::Safety) || has(Kind::Compatible) {
        "minor"
    } else if has(Kind::Review) {
        "patch"
    } else {
        "none"
    };
    Report { changes, semver }
}

#[derive(Default)]
struct Differ {
    changes: Vec<Change>,
    /// The tool being compared, if any.
    tool: Option<String>,
}

/// Schemas are compared through `$ref`s at most this deep, so recursive definitions end.
const MAX_REF_DEPTH: usize = 16;

/// Whose data a schema describes: what callers send narrows badly, what the server returns
/// loses badly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Input,
    Output,
}

impl Differ {
    fn push(&mut self, kind: Kind, pointer: impl Into<String>, message: impl Into<String>) {
        self.changes.push(Change {
            kind,
            tool: self.tool.clone(),
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn server(&mut self, old: &Model, new: &Model) {
        if old.resource != new.resource {
            self.push(
                Kind::Breaking,
                "/server",
                format!(
                    "the MCP URL moves from `{}` to `{}`: every client must be reconfigured",
                    old.resource, new.resource
                ),
            );
        }
        let old_v: BTreeSet<&str> = old.protocol_versions.iter().map(|v| v.as_str()).collect();
        let new_v: BTreeSet<&str> = new.protocol_versions.iter().map(|v| v.as_str()).collect();
        for v in old_v.difference(&new_v) {
            self.push(
                Kind::Breaking,
                "/server/protocol_versions",
                format!("protocol version {v} is no longer served"),
            );
        }
        for v in new_v.difference(&old_v) {
            self.push(
                Kind::Compatible,
                "/server/protocol_versions",
                format!("protocol version {v} is now served"),
            );
        }
        for (pointer, what, o, n) in [
            ("/title", "title", Some(&old.title), Some(&new.title)),
            (
                "/description",
                "description",
                old.description.as_ref(),
                new.description.as_ref(),
            ),
            (
                "/instructions",
                "instructions",
                old.instructions.as_ref(),
                new.instructions.as_ref(),
            ),
        ] {
            if o != n {
                self.push(
                    Kind::Review,
                    pointer,
                    format!("the server's {what} changes"),
                );
            }
        }
        match (&old.auth, &new.auth) {
            (None, None) => {}
            (None, Some(_)) => self.push(
                Kind::Breaking,
                "/auth",
                "the server now requires OAuth: clients without a token get 401",
            ),
            (Some(_), None) => self.push(
                Kind::Breaking,
                "/auth",
                "the server no longer has OAuth (`auth: none`): clients lose their connection",
            ),
            (Some(o), Some(n)) => {
                if o.issuer != n.issuer {
                    self.push(
                        Kind::Breaking,
                        "/auth/issuer",
                        format!(
                            "the issuer changes from `{}` to `{}`: clients registered and tokens \
                             issued by the old one are lost",
                            o.issuer, n.issuer
                        ),
                    );
                }
                if o.default_scopes != n.default_scopes {
                    self.push(
                        Kind::Reconsent,
                        "/auth/default_scopes",
                        format!(
                            "the scopes granted at connect change from `{}` to `{}`",
                            o.default_scopes.join(" "),
                            n.default_scopes.join(" ")
                        ),
                    );
                }
                let old_s: BTreeSet<&str> = o.scopes.iter().map(|s| s.name.as_str()).collect();
                let new_s: BTreeSet<&str> = n.scopes.iter().map(|s| s.name.as_str()).collect();
                for s in old_s.difference(&new_s) {
                    self.push(
                        Kind::Reconsent,
                        push_pointer("/auth/scopes", s),
                        format!("scope `{s}` is removed: tokens holding it lose it"),
                    );
                }
                for s in new_s.difference(&old_s) {
                    self.push(
                        Kind::Compatible,
                        push_pointer("/auth/scopes", s),
                        format!("scope `{s}` is added"),
                    );
                }
                for os in &o.scopes {
                    let Some(ns) = n.scopes.iter().find(|s| s.name == os.name) else {
                        continue;
                    };
                    if os.description != ns.description {
                        self.push(
                            Kind::Review,
                            push_pointer("/auth/scopes", &os.name) + "/description",
                            format!(
                                "the description of scope `{}` on the consent page changes",
                                os.name
                            ),
                        );
                    }
                }
            }
        }
    }

    fn tools(&mut self, old: &Model, new: &Model) {
        let mut names: Vec<&str> = old
            .tools
            .iter()
            .chain(&new.tools)
            .map(|t| t.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            self.tool = Some(name.to_owned());
            let o = old.tools.iter().find(|t| t.name == name);
            let n = new.tools.iter().find(|t| t.name == name);
            match (o, n) {
                (Some(_), None) => self.push(
                    Kind::Breaking,
                    "",
                    "tool removed (or renamed): callers of it fail",
                ),
                (None, Some(_)) => self.push(Kind::Compatible, "", "tool added"),
                (Some(o), Some(n)) => self.tool_pair(o, n),
                (None, None) => {}
            }
        }
        self.tool = None;
    }

    fn tool_pair(&mut self, o: &ToolModel, n: &ToolModel) {
        for s in &n.scopes {
            if !o.scopes.contains(s) {
                self.push(
                    Kind::Reconsent,
                    "/scopes",
                    format!("now needs scope `{s}`: tokens granted before get 403"),
                );
            }
        }
        for s in &o.scopes {
            if !n.scopes.contains(s) {
                self.push(
                    Kind::Compatible,
                    "/scopes",
                    format!("no longer needs scope `{s}`"),
                );
            }
        }
        self.annotations(&o.annotations, &n.annotations);
        if o.title != n.title {
            self.push(
                Kind::Review,
                "/title",
                format!("title changes from {:?} to {:?}", o.title, n.title),
            );
        }
        if o.description != n.description {
            self.push(Kind::Review, "/description", "description changes");
        }
        self.schema(
            Flow::Input,
            (&o.input, &o.input),
            (&n.input, &n.input),
            "/input",
            0,
        );
        match (&o.output, &n.output) {
            (None, None) => {}
            (Some(_), None) => self.push(
                Kind::Breaking,
                "/output",
                "output schema removed: structured results are no longer promised",
            ),
            (None, Some(_)) => self.push(Kind::Compatible, "/output", "output schema added"),
            (Some(os), Some(ns)) => self.schema(Flow::Output, (os, os), (ns, ns), "/output", 0),
        }
    }

    fn annotations(&mut self, o: &AnnotationsModel, n: &AnnotationsModel) {
        // (hint, pointer, old, new, the value that is the riskier one)
        let hints = [
            (
                "read-only",
                "/annotations/read_only",
                o.read_only,
                n.read_only,
                false,
            ),
            (
                "destructive",
                "/annotations/destructive",
                o.destructive,
                n.destructive,
                true,
            ),
            (
                "idempotent",
                "/annotations/idempotent",
                o.idempotent,
                n.idempotent,
                false,
            ),
            (
                "open-world",
                "/annotations/open_world",
                o.open_world,
                n.open_world,
                true,
            ),
        ];
        for (hint, pointer, old, new, risky) in hints {
            if old == new {
                continue;
            }
            let now = if new {
                hint.to_owned()
            } else {
                format!("not {hint}")
            };
            if new == risky {
                self.push(
                    Kind::Safety,
                    pointer,
                    format!("now {now}: hosts may stop calling it without asking"),
                );
            } else {
                self.push(Kind::Review, pointer, format!("now {now}"));
            }
        }
    }

    /// Compares two schemas; `(schema, root)` pairs, so `$ref`s resolve against their document.
    fn schema(
        &mut self,
        flow: Flow,
        (o, oroot): (&Value, &Value),
        (n, nroot): (&Value, &Value),
        at: &str,
        depth: usize,
    ) {
        if o == n && oroot == nroot {
            return;
        }
        let (o, n) = match (resolve(o, oroot), resolve(n, nroot)) {
            (Some(o), Some(n)) => (o, n),
            _ => {
                self.push(Kind::Review, at, "a `$ref` changes");
                return;
            }
        };
        if o == n && !has_ref(o) {
            return;
        }
        let (Some(om), Some(nm)) = (o.as_object(), n.as_object()) else {
            // `true`/`false` schemas, or one side changed shape entirely.
            if o != n {
                self.push(Kind::Breaking, at, "schema replaced");
            }
            return;
        };
        let before = self.changes.len();
        self.types(flow, om, nm, at);
        self.enums(flow, om, nm, at);
        self.bounds(flow, om, nm, at);
        self.properties(flow, (om, oroot), (nm, nroot), at, depth);
        if let (Some(oi), Some(ni)) = (om.get("items"), nm.get("items"))
            && depth < MAX_REF_DEPTH
        {
            self.schema(
                flow,
                (oi, oroot),
                (ni, nroot),
                &format!("{at}/items"),
                depth + 1,
            );
        }
        for key in ["description", "title", "default", "examples"] {
            if om.get(key) != nm.get(key) {
                self.push(
                    Kind::Review,
                    format!("{at}/{key}"),
                    format!("{key} of {} changes", describe(at)),
                );
            }
        }
        // Whatever else differs (combinators, `$defs` text, unknown to this comparison) is
        // at least a change reviewers see.
        const HANDLED: [&str; 26] = [
            "type",
            "enum",
            "const",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
            "pattern",
            "format",
            "multipleOf",
            "uniqueItems",
            "additionalProperties",
            "properties",
            "required",
            "items",
            "description",
            "title",
            "default",
            "examples",
            "$defs",
        ];
        let keys: BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
        let unhandled_changed = keys
            .iter()
            .any(|k| !HANDLED.contains(&k.as_str()) && om.get(*k) != nm.get(*k));
        if unhandled_changed && self.changes.len() == before {
            self.push(
                Kind::Review,
                at,
                format!("schema of {} changes", describe(at)),
            );
        }
    }

    fn types(&mut self, flow: Flow, o: &Map<String, Value>, n: &Map<String, Value>, at: &str) {
        let (ot, nt) = (types_of(o), types_of(n));
        if ot == nt {
            return;
        }
        let show = |t: &Option<BTreeSet<String>>| match t {
            None => "any".to_owned(),
            Some(t) => t.iter().cloned().collect::<Vec<_>>().join(" | "),
        };
        let message = |verb: &str| {
            format!(
                "type of {} {verb} from {} to {}",
                describe(at),
                show(&ot),
                show(&nt)
            )
        };
        let widened = accepts_all(&nt, &ot);
        let narrowed = accepts_all(&ot, &nt);
        let (kind, verb) = match (flow, widened, narrowed) {
            (Flow::Input, true, _) => (Kind::Compatible, "widened"),
            (Flow::Input, _, true) => (Kind::Breaking, "narrowed"),
            (Flow::Output, _, true) => (Kind::Compatible, "narrowed"),
            (Flow::Output, true, _) => (Kind::Breaking, "widened"),
            _ => (Kind::Breaking, "changed"),
        };
        self.push(kind, format!("{at}/type"), message(verb));
    }

    fn enums(&mut self, flow: Flow, o: &Map<String, Value>, n: &Map<String, Value>, at: &str) {
        let (oe, ne) = (o.get("enum"), n.get("enum"));
        if oe == ne {
            return;
        }
        let (lose, gain) = match flow {
            Flow::Input => (Kind::Breaking, Kind::Compatible),
            Flow::Output => (Kind::Compatible, Kind::Breaking),
        };
        let pointer = format!("{at}/enum");
        match (oe.and_then(Value::as_array), ne.and_then(Value::as_array)) {
            (Some(oe), Some(ne)) => {
                for v in oe.iter().filter(|v| !ne.contains(v)) {
                    self.push(
                        lose,
                        &pointer,
                        format!("value {v} of {} removed", describe(at)),
                    );
                }
                for v in ne.iter().filter(|v| !oe.contains(v)) {
                    self.push(
                        gain,
                        &pointer,
                        format!("value {v} of {} added", describe(at)),
                    );
                }
            }
            (None, Some(_)) => self.push(
                lose,
                pointer,
                format!("{} is now limited to a list of values", describe(at)),
            ),
            (Some(_), None) => self.push(
                gain,
                pointer,
                format!("{} is no longer limited to a list of values", describe(at)),
            ),
            (None, None) => {}
        }
    }

    /// Numeric and length bounds, `pattern`, `format`, `const`, `multipleOf`, `uniqueItems`.
    fn bounds(&mut self, flow: Flow, o: &Map<String, Value>, n: &Map<String, Value>, at: &str) {
        let (tighter, looser) = match flow {
            Flow::Input => (Kind::Breaking, Kind::Compatible),
            Flow::Output => (Kind::Compatible, Kind::Breaking),
        };
        // (keyword, whether a larger value is tighter)
        const BOUNDS: [(&str, bool); 10] = [
            ("minimum", true),
            ("exclusiveMinimum", true),
            ("minLength", true),
            ("minItems", true),
            ("minProperties", true),
            ("maximum", false),
            ("exclusiveMaximum", false),
            ("maxLength", false),
            ("maxItems", false),
            ("maxProperties", false),
        ];
        for (key, larger_is_tighter) in BOUNDS {
            let (ov, nv) = (
                o.get(key).and_then(Value::as_f64),
                n.get(key).and_then(Value::as_f64),
            );
            let tightened = match (ov, nv) {
                (None, None) => continue,
                (Some(a), Some(b)) if a == b => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => (b > a) == larger_is_tighter,
            };
            let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
            self.push(
                if tightened { tighter } else { looser },
                format!("{at}/{key}"),
                format!(
                    "{key} of {} {} from {} to {}",
                    describe(at),
                    if tightened { "tightened" } else { "relaxed" },
                    show(ov),
                    show(nv)
                ),
            );
        }
        for key in ["pattern", "format", "const", "multipleOf"] {
            match (o.get(key), n.get(key)) {
                (a, b) if a == b => {}
                (Some(_), None) => self.push(
                    looser,
                    format!("{at}/{key}"),
                    format!("{key} of {} removed", describe(at)),
                ),
                _ => self.push(
                    tighter,
                    format!("{at}/{key}"),
                    format!("{key} of {} added or changed", describe(at)),
                ),
            }
        }
        let unique = |m: &Map<String, Value>| m.get("uniqueItems") == Some(&Value::Bool(true));
        if unique(o) != unique(n) {
            self.push(
                if unique(n) { tighter } else { looser },
                format!("{at}/uniqueItems"),
                format!(
                    "items of {} {} be unique",
                    describe(at),
                    if unique(n) {
                        "must now"
                    } else {
                        "need no longer"
                    }
                ),
            );
        }
    }

    fn properties(
        &mut self,
        flow: Flow,
        (o, oroot): (&Map<String, Value>, &Value),
        (n, nroot): (&Map<String, Value>, &Value),
        at: &str,
        depth: usize,
    ) {
        let empty = Map::new();
        let op = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let np = n
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required = |m: &Map<String, Value>| -> BTreeSet<String> {
            m.get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (or, nr) = (required(o), required(n));
        let closed =
            |m: &Map<String, Value>| m.get("additionalProperties") == Some(&Value::Bool(false));
        let noun = match flow {
            Flow::Input => "argument",
            Flow::Output => "output property",
        };
        for (name, _) in op.iter().filter(|(k, _)| !np.contains_key(*k)) {
            let pointer = push_pointer(&format!("{at}/properties"), name);
            let kind = match flow {
                // Calls that still send it are refused by a closed schema, ignored otherwise.
                Flow::Input if closed(n) => Kind::Breaking,
                Flow::Input => Kind::Review,
                Flow::Output => Kind::Breaking,
            };
            let effect = match (flow, kind) {
                (Flow::Input, Kind::Breaking) => ": calls that still send it are refused",
                (Flow::Input, _) => ": calls that still send it are answered as if it were absent",
                (Flow::Output, _) => "",
            };
            self.push(kind, pointer, format!("{noun} `{name}` removed{effect}"));
        }
        for (name, _) in np.iter().filter(|(k, _)| !op.contains_key(*k)) {
            let pointer = push_pointer(&format!("{at}/properties"), name);
            if flow == Flow::Input && nr.contains(name) {
                self.push(
                    Kind::Breaking,
                    pointer,
                    format!("{noun} `{name}` added as required"),
                );
            } else {
                self.push(
                    Kind::Compatible,
                    pointer,
                    format!(
                        "{noun} `{name}` added{}",
                        if flow == Flow::Input {
                            " as optional"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
        for (name, ov) in op {
            let Some(nv) = np.get(name) else { continue };
            let pointer = push_pointer(&format!("{at}/properties"), name);
            match (or.contains(name), nr.contains(name)) {
                (false, true) => self.push(
                    if flow == Flow::Input {
                        Kind::Breaking
                    } else {
                        Kind::Compatible
                    },
                    format!("{at}/required"),
                    format!("{noun} `{name}` is now required"),
                ),
                (true, false) => self.push(
                    if flow == Flow::Input {
                        Kind::Compatible
                    } else {
                        Kind::Breaking
                    },
                    format!("{at}/required"),
                    format!("{noun} `{name}` is no longer required"),
                ),
                _ => {}
            }
            if depth < MAX_REF_DEPTH {
                self.schema(flow, (ov, oroot), (nv, nroot), &pointer, depth + 1);
            }
        }
        if closed(o) != closed(n) {
            let kind = match (flow, closed(n)) {
                (Flow::Input, true) => Kind::Breaking,
                (Flow::Input, false) => Kind::Compatible,
                (Flow::Output, true) => Kind::Compatible,
                (Flow::Output, false) => Kind::Review,
            };
            self.push(
                kind,
                format!("{at}/additionalProperties"),
                format!(
                    "{} {} properties it does not list",
                    describe(at),
                    if closed(n) {
                        "now refuses"
                    } else {
                        "now accepts"
                    }
                ),
            );
        }
    }
}

/// Follows a local `$ref` (`#/$defs/x`, `#/definitions/x`) to its target, a bounded number of
/// times; `None` for a reference that does not resolve.
fn resolve<'a>(mut schema: &'a Value, root: &'a Value) -> Option<&'a Value> {
    for _ in 0..MAX_REF_DEPTH {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => schema = root.pointer(r.strip_prefix('#')?)?,
            None => return Some(schema),
        }
    }
    None
}

/// Whether a schema refers elsewhere, so that equal text may still mean a changed schema.
fn has_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("$ref") || m.values().any(has_ref),
        Value::Array(a) => a.iter().any(has_ref),
        _ => false,
    }
}

/// The JSON types a schema admits (`integer` counted inside `number`), `None` for any.
fn types_of(m: &Map<String, Value>) -> Option<BTreeSet<String>> {
    match m.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Whether every value of types `b` is a value of types `a` (`None` is any type).
fn accepts_all(a: &Option<BTreeSet<String>>, b: &Option<BTreeSet<String>>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => b
            .iter()
            .all(|t| a.contains(t) || (t == "integer" && a.contains("number"))),
    }
}

/// `argument `limit``, `the input`, `output property `sku``: the schema at `at`, for messages.
fn describe(at: &str) -> String {
    let leaf = at.rsplit('/').next().unwrap_or("");
    match at {
        "/input" => "the input".to_owned(),
        "/output" => "the output".to_owned(),
        _ if at.ends_with("/items") => format!("the items of `{}`", parent_name(at)),
        _ => format!("`{}`", leaf.replace("~1", "/").replace("~0", "~")),
    }
}

fn parent_name(at: &str) -> String {
    at.trim_end_matches("/items")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~")
}
