//! The invalid-spec corpus (`tests/invalid/`): each file's full diagnostic text is a snapshot,
//! so a changed message, a moved caret or a lost error shows up in review.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus() -> Vec<PathBuf> {
    let dir = repo().join("tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/invalid exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_large_enough() {
    assert!(
        corpus().len() >= 40,
        "the issue asks for at least 40 invalid specs"
    );
}

#[test]
fn every_invalid_spec_is_rejected_with_located_diagnostics() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/invalid");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for path in corpus() {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let display = format!("tests/invalid/{stem}.yaml");
            let bytes = std::fs::read(&path).unwrap();
            let report = match mcpgen::check(&display, &bytes) {
                Ok(_) => panic!("{display} should be invalid"),
                Err(report) => report,
            };
            // Every diagnostic names its place as `file:line:col`.
            let errors =
                report.matches("\nerror: ").count() + usize::from(report.starts_with("error: "));
            let located = report.matches(&format!("{display}:")).count();
            assert!(
                errors >= 2,
                "{display}: at least one diagnostic and the summary"
            );
            assert!(
                located >= errors - 1,
                "{display}: a diagnostic without a location:\n{report}"
            );
            insta::assert_snapshot!(stem, report);
        }
    });
}

#[test]
fn example_specs_are_valid() {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(repo().join("specs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 4);
    for path in specs {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../mcpgen.schema.json\n"),
            "{} lacks the schema modeline editors use",
            path.display()
        );
        if let Err(report) = mcpgen::check(&path.display().to_string(), &bytes) {
            panic!("{report}");
        }
    }
}

#[test]
fn checked_in_schema_is_current() {
    let on_disk = std::fs::read_to_string(repo().join("mcpgen.schema.json")).unwrap();
    assert!(
        on_disk == mcpgen::schema_text(),
        "mcpgen.schema.json is stale: run `cargo run -p mcpgen -- schema > mcpgen.schema.json`"
    );
}

/// The schema editors validate a scope with accepts exactly the scope-tokens the generator's
/// checks and the generated server accept (RFC 6749 §3.3), byte for byte.
#[test]
fn the_schemas_scope_pattern_is_the_scope_token_grammar() {
    let schema: serde_json::Value = serde_json::from_str(&mcpgen::schema_text()).unwrap();
    let mut patterns = Vec::new();
    collect_patterns(&schema, &mut patterns);
    let scope_patterns: Vec<&str> = patterns
        .iter()
        .copied()
        .filter(|p| p.contains(r"\x21"))
        .collect();
    assert!(!scope_patterns.is_empty(), "the schema has a scope pattern");
    for pattern in scope_patterns {
        let v = jsonschema::validator_for(&serde_json::json!({"pattern": pattern})).unwrap();
        let mut samples: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
        samples.extend(["", "orders.read", "a b", "é", "a\u{7f}", "x\"y"].map(str::to_owned));
        for s in samples {
            assert_eq!(
                v.is_valid(&serde_json::json!(s)),
                mcpgen_rules::is_scope_token(&s),
                "{s:?} against {pattern}"
            );
        }
    }
}

fn collect_patterns<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(p) = m.get("pattern").and_then(serde_json::Value::as_str) {
                out.push(p);
            }
            m.values().for_each(|x| collect_patterns(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_patterns(x, out)),
        _ => {}
    }
}
