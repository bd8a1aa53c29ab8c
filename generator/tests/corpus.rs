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
