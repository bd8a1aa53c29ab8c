//! Golden crates: for every spec in `specs/`, the generated crate is checked in under
//! `tests/golden/<name>/`, and this test fails if regenerating changes a byte.
//! `UPDATE_GOLDEN=1 cargo test -p mcpgen --test golden` rewrites them (then review the diff).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mcpgen::emit::{self, Options, RuntimeDep};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files under `dir`, relative, skipping what building a crate leaves behind.
fn files_in(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "Cargo.lock" || rel == "target" || rel.ends_with(".sqlite3") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

#[test]
fn golden_crates_match_the_generator() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut specs: Vec<PathBuf> = std::fs::read_dir(repo().join("specs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    let mut drift = Vec::new();
    for spec in specs {
        let stem = spec.file_stem().unwrap().to_string_lossy().into_owned();
        // As `mcpgen build` records it: relative to the crate, tests/golden/<stem>.
        let spec_path = format!("../../../specs/{stem}.yaml");
        let model = mcpgen::load(&std::fs::read(&spec).unwrap()).expect("example specs are valid");
        let options = Options {
            spec_path,
            runtime: RuntimeDep::Path("../../../runtime".into()),
        };
        let files = emit::generate(&model, &options);
        // Same input, same bytes: generating twice must agree before comparing with disk.
        assert_eq!(
            files,
            emit::generate(&model, &options),
            "{stem}: output is not deterministic"
        );
        let dir = repo().join("tests/golden").join(&stem);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
        }
        for (rel, file) in &files {
            let path = dir.join(rel);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &file.contents).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(file.contents.as_str())
            {
                drift.push(format!("tests/golden/{stem}/{rel}"));
            }
        }
        let expected: BTreeSet<String> = files.keys().cloned().collect();
        for extra in files_in(&dir).difference(&expected) {
            drift.push(format!("tests/golden/{stem}/{extra} (not generated)"));
        }
    }
    assert!(
        drift.is_empty(),
        "golden crates differ from what the generator writes:\n  {}\nrun `UPDATE_GOLDEN=1 cargo test -p mcpgen --test golden` and review the diff",
        drift.join("\n  ")
    );
}

#[test]
fn build_check_agrees_with_the_golden_crate() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args([
            "build",
            "specs/medtainer.yaml",
            "--out",
            "tests/golden/medtainer",
            "--runtime-path",
            "runtime",
            "--check",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every generated Rust file, and the `handlers.rs` stub, is as `rustfmt --edition 2024` would
/// leave it: a team's `cargo fmt --check` passes on the crate, and `cargo fmt` does not make
/// `mcpgen build --check` fail.
#[test]
fn golden_crates_are_left_unchanged_by_rustfmt() {
    let mut changed = Vec::new();
    let golden = repo().join("tests/golden");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    assert!(!crates.is_empty());
    for dir in crates {
        let rust: Vec<String> = files_in(&dir)
            .into_iter()
            .filter(|f| f.ends_with(".rs"))
            .collect();
        assert!(rust.iter().any(|f| f == "src/handlers.rs"), "{dir:?}");
        for rel in rust {
            let out = std::process::Command::new("rustfmt")
                .args(["--edition", "2024", "--check"])
                .arg(dir.join(&rel))
                .current_dir(&dir)
                .output()
                .expect("rustfmt runs (rustup component add rustfmt)");
            if !out.status.success() {
                changed.push(format!(
                    "{}/{rel}:\n{}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stdout)
                ));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "rustfmt changes generated files:\n{}",
        changed.join("\n")
    );
}
