//! Lint: what a valid spec builds but some clients will not use as its author expects.
//!
//! Runs after validate and model, on a spec that is already known to be valid, and only ever
//! produces warnings ([`Severity::Warning`](crate::diag::Severity)): `mcpgen check` reports
//! them and exits 0 unless `--deny-warnings`.

use std::collections::BTreeSet;

use crate::clients::{self, ClientProfile};
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::parse::Document;
use crate::spec::Lint;

/// Every warning for a valid spec, in spec order.
pub fn lint(doc: &Document, model: &Model) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    step_up(doc, model, &mut warnings);
    warnings
}

/// A tool that needs scopes beyond `auth.default_scopes` answers `403 insufficient_scope` to a
/// token granted at connect. The 401 challenge and the metadata ask for the default scopes, so
/// that is what every client is granted when it connects; clients that do not complete the
/// step-up (claude.ai, Claude Code: see [`clients::clients_without_step_up`]) then never call
/// the tool. One warning per missing scope of a tool, at that scope in the tool's `scopes`;
/// none when the spec says `allow: [step_up]`.
fn step_up(doc: &Document, model: &Model, warnings: &mut Vec<Diagnostic>) {
    let Some(auth) = &model.auth else { return };
    if model.allow.contains(&Lint::StepUp) {
        return;
    }
    let connect: BTreeSet<String> = auth.default_scopes.iter().cloned().collect();
    let gaps = clients::step_up_gaps(
        &connect,
        model
            .tools
            .iter()
            .map(|t| (t.name.as_str(), t.scopes.as_slice())),
    );
    if gaps.is_empty() {
        return;
    }
    let stuck: Vec<&ClientProfile> = clients::clients_without_step_up().collect();
    let names = join_names(stuck.iter().map(|c| c.name));
    // The first report of each client is enough to look the behaviour up.
    let references = stuck
        .iter()
        .filter_map(|c| c.step_up_reference.split(',').next())
        .collect::<Vec<_>>()
        .join(", ");
    for gap in gaps {
        let Some(index) = model.tools.iter().position(|t| t.name == gap.tool) else {
            continue;
        };
        let listed = doc
            .value
            .pointer(&format!("/tools/{index}/scopes"))
            .and_then(|v| v.as_array());
        for scope in &gap.missing {
            // A tool without `scopes` has the default scopes, so a gap always names listed ones.
            let at = listed
                .and_then(|l| l.iter().position(|s| s.as_str() == Some(scope)))
                .map_or_else(
                    || format!("/tools/{index}"),
                    |j| format!("/tools/{index}/scopes/{j}"),
                );
            warnings.push(
                Diagnostic::warning(
                    format!(
                        "tool `{}` needs scope `{scope}`, which clients are not granted at connect",
                        gap.tool
                    ),
                    doc.positions.value(&at),
                )
                .with_label("not in `auth.default_scopes`")
                .with_help(format!(
                    "{names} do not complete a step-up ({references}) and never call `{}`; add \
                     `{scope}` to `auth.default_scopes`, or `allow: [step_up]` if only clients \
                     that step up should call it",
                    gap.tool
                )),
            );
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
