//! mcpgen: from a YAML spec to an MCP server crate.
//!
//! Stages, in the order data flows: [`parse`] (YAML to JSON with positions), [`validate`]
//! (JSON Schema and the checks a schema cannot express), [`model`] (the resolved spec), then
//! [`lint`] (warnings about a valid spec); [`diff`] compares two models. The library does no
//! file I/O; the binary reads and writes files and picks exit codes. The exception is
//! [`doctor`], an HTTP client by nature, whose network code stays in [`doctor::net`];
//! [`clients`] holds the hosted clients both `check` and `doctor` judge for.

pub mod clients;
pub mod diag;
pub mod diff;
pub mod doctor;
pub mod emit;
pub mod lint;
pub mod model;
pub mod naming;
pub mod parse;
pub mod spec;
pub mod text;
pub mod types;
pub mod validate;
pub mod write;

use diag::Diagnostic;
use model::Model;

/// Runs parse, validate and model on a spec file's bytes. On failure, every problem found,
/// sorted by position. The text to render diagnostics against is
/// `String::from_utf8_lossy(bytes)` (identical for valid UTF-8).
pub fn load(bytes: &[u8]) -> Result<Model, Vec<Diagnostic>> {
    load_linted(bytes).map(|(model, _)| model)
}

/// [`load`], plus the warnings of [`lint`] for a valid spec, sorted by position.
pub fn load_linted(bytes: &[u8]) -> Result<(Model, Vec<Diagnostic>), Vec<Diagnostic>> {
    let text = parse::decode(bytes).map_err(|d| vec![d])?;
    let doc = parse::parse(text).map_err(sorted)?;
    let spec = validate::validate(&doc).map_err(sorted)?;
    let model = Model::new(&spec);
    let warnings = sorted(lint::lint(&doc, &model));
    Ok((model, warnings))
}

/// A valid spec as [`check`] returns it.
#[derive(Debug)]
pub struct Checked {
    pub model: Model,
    /// How many warnings [`Checked::report`] holds.
    pub warnings: usize,
    /// The warnings rendered rustc-style, then a summary line; empty when there are none.
    pub report: String,
}

fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diag::sort(&mut diags);
    diags
}

/// [`load_linted`], with the diagnostics rendered rustc-style against the file's name and
/// text: `Err` holds the errors and a summary line.
pub fn check(file_name: &str, bytes: &[u8]) -> Result<Checked, String> {
    let text = String::from_utf8_lossy(bytes);
    match load_linted(bytes) {
        Ok((model, warnings)) => {
            let mut report = String::new();
            if !warnings.is_empty() {
                report = diag::render(&warnings, file_name, &text);
                report.push_str(&format!(
                    "warning: `{file_name}` has {}\n",
                    plural(warnings.len(), "warning")
                ));
            }
            Ok(Checked {
                model,
                warnings: warnings.len(),
                report,
            })
        }
        Err(diags) => {
            let mut out = diag::render(&diags, file_name, &text);
            out.push_str(&format!(
                "error: `{file_name}` has {}\n",
                plural(diags.len(), "problem")
            ));
            Err(out)
        }
    }
}

/// `1 warning`, `2 warnings`.
fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The JSON Schema of the spec format as `mcpgen schema` prints it and `mcpgen.schema.json`
/// holds it: pretty-printed, with a final newline.
pub fn schema_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&spec::json_schema()).unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}
