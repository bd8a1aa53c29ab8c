//! mcpgen: from a YAML spec to an MCP server crate.
//!
//! Stages, in the order data flows: [`parse`] (YAML to JSON with positions), [`validate`]
//! (JSON Schema and the checks a schema cannot express), [`model`] (the resolved spec). The
//! library does no file I/O; the binary reads and writes files and picks exit codes. The
//! exception is [`doctor`], an HTTP client by nature, whose network code stays in
//! [`doctor::net`]; [`clients`] holds the hosted clients both `check` and `doctor` judge for.

pub mod clients;
pub mod diag;
pub mod doctor;
pub mod emit;
pub mod model;
pub mod naming;
pub mod parse;
pub mod spec;
pub mod validate;
pub mod write;

use diag::Diagnostic;
use model::Model;

/// Runs parse, validate and model on a spec file's bytes. On failure, every problem found,
/// sorted by position. The text to render diagnostics against is
/// `String::from_utf8_lossy(bytes)` (identical for valid UTF-8).
pub fn load(bytes: &[u8]) -> Result<Model, Vec<Diagnostic>> {
    let text = parse::decode(bytes).map_err(|d| vec![d])?;
    let doc = parse::parse(text).map_err(sorted)?;
    let spec = validate::validate(&doc).map_err(sorted)?;
    Ok(Model::new(&spec))
}

fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diag::sort(&mut diags);
    diags
}

/// `load`, with the diagnostics rendered rustc-style against the file's name and text.
pub fn check(file_name: &str, bytes: &[u8]) -> Result<Model, String> {
    load(bytes).map_err(|diags| {
        let text = String::from_utf8_lossy(bytes);
        let mut out = diag::render(&diags, file_name, &text);
        let n = diags.len();
        out.push_str(&format!(
            "error: `{file_name}` has {n} problem{}\n",
            if n == 1 { "" } else { "s" }
        ));
        out
    })
}

/// The JSON Schema of the spec format as `mcpgen schema` prints it and `mcpgen.schema.json`
/// holds it: pretty-printed, with a final newline.
pub fn schema_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&spec::json_schema()).unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}
