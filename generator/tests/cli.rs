//! The `mcpgen` command as users and scripts see it: output streams and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn mcpgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("mcpgen runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_valid_specs_exits_0() {
    let out = mcpgen(&[
        "check",
        "--deny-warnings",
        "specs/medtainer.yaml",
        "specs/forge.yaml",
        "specs/local-notes.yaml",
        "specs/conformance-fixture.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("specs/medtainer.yaml: ok (7 tools)"));
    assert!(stderr(&out).is_empty());
}

#[test]
fn check_reports_every_invalid_file_and_exits_1() {
    let out = mcpgen(&[
        "check",
        "specs/medtainer.yaml",
        "tests/invalid/scope-trailing-space.yaml",
        "tests/invalid/tool-name-dot.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--> tests/invalid/scope-trailing-space.yaml:9:5"),
        "{err}"
    );
    assert!(
        err.contains("--> tests/invalid/tool-name-dot.yaml:11:11"),
        "{err}"
    );
    assert!(stdout(&out).contains("specs/medtainer.yaml: ok"));
}

/// A spec whose write tool needs a scope beyond `default_scopes`, in a fresh folder.
fn step_up_spec(name: &str, allow: bool) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpgen-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notes.yaml");
    let spec = format!(
        "mcpgen: 1
name: notes
version: 0.1.0
server: {{ public_url: https://notes.example.com }}
auth:
  scopes:
    notes.read: {{ description: Read notes }}
    notes.write: {{ description: Write notes }}
  default_scopes: [notes.read]
{}tools:
  - name: list_notes
    description: Every note.
    input: {{ type: object }}
  - name: save_note
    description: Save a note.
    scopes: [notes.read, notes.write]
    input: {{ type: object }}
",
        if allow { "allow: [step_up]\n" } else { "" }
    );
    std::fs::write(&path, spec).unwrap();
    path
}

/// claude.ai and Claude Code never complete a step-up (anthropics/claude-ai-mcp#931): a tool
/// that needs more than the connect-time scopes is a located warning naming them, exit 0; with
/// `--deny-warnings`, exit 1; `allow: [step_up]` silences it.
#[test]
fn check_warns_about_tools_clients_cannot_reach_without_step_up() {
    let spec = step_up_spec("warn", false);
    let spec = spec.to_str().unwrap();
    let out = mcpgen(&["check", spec]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "warning: tool `save_note` needs scope `notes.write`, which clients are not granted at connect\n"
        ),
        "{err}"
    );
    assert!(err.contains(&format!("--> {spec}:16:26")), "{err}");
    assert!(err.contains("Claude Code"), "{err}");
    assert!(err.contains("anthropics/claude-ai-mcp#931"), "{err}");
    assert!(
        err.contains("add `notes.write` to `auth.default_scopes`"),
        "{err}"
    );
    assert!(
        err.ends_with(&format!("warning: `{spec}` has 1 warning\n")),
        "{err}"
    );
    assert_eq!(stdout(&out), format!("{spec}: ok (2 tools, 1 warning)\n"));

    let out = mcpgen(&["check", "--deny-warnings", spec]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!(
        "error: `{spec}` has 1 warning, denied by --deny-warnings"
    )));
    assert_eq!(stdout(&out), "");

    // `build` reports the warning and still builds.
    let out_dir = std::path::Path::new(spec).parent().unwrap().join("crate");
    let out = mcpgen(&["build", spec, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: tool `save_note`"));

    let allowed = step_up_spec("allow", true);
    let out = mcpgen(&["check", "--deny-warnings", allowed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// `--check` in CI must not depend on how the command was typed: the spec's path, relative,
/// with `./` or absolute, from the repository or from inside the crate, and `--runtime-path`
/// spelled differently, all describe the same files.
#[test]
fn build_check_passes_from_any_directory_with_any_spelling() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = std::fs::canonicalize(repo).unwrap();
    let dir = std::env::temp_dir().join(format!("mcpgen-cli-{}-paths", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out_dir = dir.join("notes-mcp");
    let out_str = out_dir.to_str().unwrap();
    let run = |args: &[&str], cwd: &Path| {
        Command::new(env!("CARGO_BIN_EXE_mcpgen"))
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    let built = run(
        &[
            "build",
            "specs/local-notes.yaml",
            "--out",
            out_str,
            "--runtime-path",
            "runtime",
        ],
        &repo,
    );
    assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
    let header = std::fs::read_to_string(out_dir.join("src/main.rs")).unwrap();
    let expected = format!(
        "from {}/specs/local-notes.yaml;",
        mcpgen::write::relative_path(&std::fs::canonicalize(&out_dir).unwrap(), &repo)
    );
    assert!(
        header.lines().next().unwrap().contains(&expected),
        "{header}"
    );

    let abs_spec = repo.join("specs/local-notes.yaml");
    let abs_runtime = repo.join("runtime");
    let spellings: [(&[&str], &Path); 4] = [
        (
            &["./specs/local-notes.yaml", "--runtime-path", "./runtime/"],
            &repo,
        ),
        (
            &[
                abs_spec.to_str().unwrap(),
                "--runtime-path",
                abs_runtime.to_str().unwrap(),
            ],
            &dir,
        ),
        (
            &[
                "../runtime/../specs/local-notes.yaml",
                "--runtime-path",
                "../runtime",
            ],
            &repo.join("specs"),
        ),
        (
            &["../specs/local-notes.yaml", "--runtime-path", "."],
            &repo.join("runtime"),
        ),
    ];
    for (args, cwd) in spellings {
        let mut full = vec!["build", args[0], "--out", out_str, "--check"];
        full.extend_from_slice(&args[1..]);
        let out = run(&full, cwd);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{full:?} from {}: {}{}",
            cwd.display(),
            stdout(&out),
            stderr(&out)
        );
    }
}

/// The generated Cargo.toml depends on the runtime by version, as a registry serves it; with
/// `--runtime-path`, however spelled (absolute here), by a path relative to the crate, never
/// an absolute one, so the crate and the checkout it points into can move together.
#[test]
fn runtime_dependency_is_by_version_or_relative_path() {
    let repo = std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap();
    let dir = std::env::temp_dir().join(format!("mcpgen-cli-{}-runtime-dep", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::fs::canonicalize(&dir).unwrap();
    let spec = repo.join("specs/local-notes.yaml");
    let dependency = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "build",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let built = Command::new(env!("CARGO_BIN_EXE_mcpgen"))
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(built.status.code(), Some(0), "{}", stderr(&built));
        let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
        manifest
            .lines()
            .find(|l| l.starts_with("mcpgen-runtime ="))
            .expect("the runtime dependency")
            .to_owned()
    };
    let version = env!("CARGO_PKG_VERSION");
    // By version, with the features the spec uses (tests/features.rs checks the list).
    let line = dependency(&dir.join("registry"), &[]);
    assert!(
        line.starts_with(&format!(
            "mcpgen-runtime = {{ version = \"{version}\", default-features = false, features = ["
        )),
        "{line}"
    );
    let runtime = repo.join("runtime");
    let out = dir.join("deep/er/crate");
    let line = dependency(&out, &["--runtime-path", runtime.to_str().unwrap()]);
    let relative = mcpgen::write::relative_path(&out, &runtime);
    assert!(relative.starts_with("../"), "{relative}");
    assert!(
        line.starts_with(&format!(
            "mcpgen-runtime = {{ path = \"{relative}\", version = \"{version}\", default-features"
        )),
        "{line}"
    );
    assert!(
        std::fs::canonicalize(out.join(&relative)).unwrap() == runtime,
        "{relative} from {} is not the runtime",
        out.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unreadable_file_exits_2() {
    let out = mcpgen(&["check", "specs/medtainer.yaml", "specs/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error: cannot read `specs/no-such-file.yaml`"));
    // A directory cannot be read as a spec either.
    assert_eq!(mcpgen(&["check", "specs"]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(mcpgen(&[]).status.code(), Some(2));
    assert_eq!(mcpgen(&["check"]).status.code(), Some(2));
    assert_eq!(mcpgen(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let out = mcpgen(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let on_disk = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcpgen.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout(&out), on_disk);
    let schema: serde_json::Value = serde_json::from_str(&on_disk).unwrap();
    assert_eq!(
        schema["$defs"]["ScopeName"]["pattern"],
        r"^[\x21\x23-\x5B\x5D-\x7E]+$"
    );
}

#[test]
fn help_and_version() {
    let out = mcpgen(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("help", stdout(&out));
    let out = mcpgen(&["--version"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("mcpgen {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Builds `specs/medtainer.yaml` into a fresh temporary crate; returns the crate's folder.
fn fresh_medtainer(tag: &str) -> std::path::PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("mcpgen-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo.join("specs/medtainer.yaml"),
        dir.join("medtainer.yaml"),
    )
    .unwrap();
    let out = build_in(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    dir
}

fn build_in(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args(["build", "medtainer.yaml", "--out", "medtainer-mcp"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A hand edit to a generated file is refused, naming the file and what to do, instead of
/// being overwritten; deleting the file regenerates it.
#[test]
fn build_refuses_generated_files_edited_by_hand() {
    let dir = fresh_medtainer("edited");
    let main = dir.join("medtainer-mcp/src/main.rs");
    let generated = std::fs::read_to_string(&main).unwrap();
    let edited = generated.replace("fn main()", "// set up the pool here\nfn main()");
    std::fs::write(&main, &edited).unwrap();
    for extra in [&[][..], &["--check"][..]] {
        let out = build_in(&dir, extra);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "error: `medtainer-mcp/src/main.rs` was edited by hand, and mcpgen would overwrite \
             the edit: move your change to src/handlers.rs or the spec, or delete the file to \
             regenerate it\n"
        );
        assert_eq!(
            std::fs::read_to_string(&main).unwrap(),
            edited,
            "the edit was kept"
        );
    }
    std::fs::remove_file(&main).unwrap();
    let out = build_in(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&main).unwrap(), generated);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `handlers.rs` written before handlers were built by `Handlers::new` gets the exact code
/// to add; missing methods are found from the parsed file, not from its text.
#[test]
fn build_says_what_an_old_handlers_file_lacks() {
    let dir = fresh_medtainer("old-handlers");
    let path = dir.join("medtainer-mcp/src/handlers.rs");
    let stub = std::fs::read_to_string(&path).unwrap();
    // Today's stub without the constructor, as older mcpgen wrote it, and with
    // `get_inventory` removed but still named in a comment.
    let start = stub.find("impl Handlers {").unwrap();
    let end = start + stub[start..].find("\n}\n").unwrap() + 3;
    let mut old = stub.clone();
    old.replace_range(start..end, "");
    let start = old.find("    async fn get_inventory(").unwrap();
    let end = start + old[start..].find("\n    }\n").unwrap() + 7;
    old.replace_range(start..end, "    // TODO: fn get_inventory(&self, ...)\n");
    std::fs::write(&path, &old).unwrap();

    let out = build_in(&dir, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: `medtainer-mcp/src/handlers.rs` lacks `Handlers::new`, which `src/main.rs` \
             now calls to build your handlers at start; add:\n\nimpl Handlers {\n    pub async \
             fn new(\n        config: &mcpgen_runtime::config::Config,\n    ) -> Result<Self, \
             Box<dyn std::error::Error + Send + Sync>> {\n        let _ = config;\n        \
             Ok(Self)\n    }\n}\n"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "    async fn get_inventory(&self, input: GetInventoryInput, ctx: ToolContext) -> \
             Result<GetInventoryOutput, ToolError>\n"
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        old,
        "user code untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A property renamed in `properties` but not in `required` (or the reverse typo) leaves a
/// tool no call can satisfy and no Rust field to read: `check` refuses it, located at the
/// name in `required`, also inside nested objects.
#[test]
fn check_refuses_required_names_missing_from_properties() {
    let dir = std::env::temp_dir().join(format!("mcpgen-cli-{}-required", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shop.yaml");
    std::fs::write(
        &path,
        "mcpgen: 1
name: shop
version: 0.1.0
server: { public_url: https://shop.example.com }
auth:
  scopes: { shop: { description: Use the shop } }
tools:
  - name: find_items
    description: Find items.
    input:
      type: object
      properties:
        q: { type: string }
        filter: { type: object, properties: { color: { type: string } }, required: [colour] }
      required: [query]
      additionalProperties: false
",
    )
    .unwrap();
    let spec = path.to_str().unwrap();
    let out = mcpgen(&["check", spec]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: `required` names `query`, which is not in `properties`\n"),
        "{err}"
    );
    assert!(err.contains(&format!("--> {spec}:15:18")), "{err}");
    assert!(
        err.contains("error: `required` names `colour`, which is not in `properties`\n"),
        "{err}"
    );
    assert!(err.contains("did you mean `color`?"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// After the spec gains a tool, the note names every type the new method uses, so pasting
/// what it says into `src/handlers.rs` compiles.
#[test]
fn build_note_for_a_new_tool_names_the_types_to_import() {
    let dir = fresh_medtainer("new-tool");
    let spec = dir.join("medtainer.yaml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let text = text.replace(
        "  - name: get_customer\n",
        "  - name: list_orders
    description: Recent orders of a customer.
    scopes: [claudeai, orders.read]
    input: { type: object, properties: { customer_id: { type: string } }, required: [customer_id] }
  - name: get_customer\n",
    );
    std::fs::write(&spec, text).unwrap();
    let out = build_in(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "    async fn list_orders(&self, input: ListOrdersInput, ctx: ToolContext) -> \
             Result<ToolResult, ToolError>\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("and import what it uses: `use crate::tools::ListOrdersInput;`\n"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
