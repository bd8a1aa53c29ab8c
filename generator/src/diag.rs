//! Diagnostics: what is wrong with a spec, where, and how to fix it, rendered rustc-style.

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

use crate::text::shown;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The spec is refused: `mcpgen check` exits 1 and nothing is built.
    #[default]
    Error,
    /// The spec is valid but some clients will not work as its author expects: reported, exit
    /// code 0 unless `--deny-warnings`.
    Warning,
}

/// One problem in a spec, located by byte range in the spec's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Short, lowercase, no trailing period; names the offending value.
    pub message: String,
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// Text under the caret, when it adds something to the message.
    pub label: Option<String>,
    /// Other places that explain the problem (the first of two duplicates, ...).
    pub related: Vec<(Range<usize>, String)>,
    /// How to fix it, when known.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error.
    pub fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// A warning (see [`Severity::Warning`]).
    pub fn warning(message: impl Into<String>, span: Range<usize>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::new(message, span)
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn with_related(mut self, span: Range<usize>, note: impl Into<String>) -> Self {
        self.related.push((span, note.into()));
        self
    }
}

/// Sorts diagnostics by position (then message) and drops exact repeats, so output is stable.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| {
        (a.span.start, a.span.end, &a.message).cmp(&(b.span.start, b.span.end, &b.message))
    });
    diags.dedup();
}

/// Renders diagnostics for one file as plain text (no colour), in the order given. Control
/// and bidirectional characters of the spec are printed as visible stand-ins
/// ([`crate::text::shown`]), so a hostile spec cannot drive the terminal that checks it.
pub fn render(diags: &[Diagnostic], file_name: &str, source: &str) -> String {
    let shown_source = shown(source);
    let source: &str = &shown_source;
    let file = SimpleFile::new(file_name, source);
    // ASCII art: `-->` as rustc prints it, and the same bytes in every terminal and log.
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = String::new();
    for d in diags {
        let span = clamp(&d.span, source);
        let mut label = Label::primary((), span);
        if let Some(text) = &d.label {
            label = label.with_message(shown(text));
        }
        let mut labels = vec![label];
        for (span, note) in &d.related {
            labels.push(Label::secondary((), clamp(span, source)).with_message(shown(note)));
        }
        let report = match d.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
        };
        let mut report = report.with_message(shown(&d.message)).with_labels(labels);
        if let Some(help) = &d.help {
            report = report.with_notes(vec![format!("help: {}", shown(help))]);
        }
        match term::emit_into_string(&config, &file, &report) {
            Ok(text) => out.push_str(&text),
            // Only reachable with a span outside the file, which `clamp` prevents; still, a
            // message without its snippet beats a panic.
            Err(_) => {
                let word = match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                out.push_str(&format!(
                    "{word}: {}\n  --> {file_name}\n\n",
                    shown(&d.message)
                ));
            }
        }
    }
    out
}

/// Keeps a span inside the source and on character boundaries.
fn clamp(span: &Range<usize>, source: &str) -> Range<usize> {
    let mut start = span.start.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}
