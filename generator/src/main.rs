//! The `mcpgen` command: arguments, files and exit codes; the library does the rest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcpgen::emit::{self, Options, RuntimeDep};
use mcpgen::model::Model;
use mcpgen::write::{self, Action};

/// Generates MCP servers with OAuth from a YAML spec.
#[derive(Debug, Parser)]
#[command(name = "mcpgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check specs; exits 0 when all are valid, 1 when any is not, 2 when one cannot be read.
    ///
    /// Warnings (a valid spec that some clients will not use as intended, e.g. tools that need
    /// a step-up Claude does not complete) are printed and leave the exit code 0.
    Check {
        /// Spec files (YAML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// Treat warnings as errors (exit 1), for CI.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Generate the server crate of a spec (or, with --check, compare it with what is on disk).
    Build {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The crate's own folder. Default: `./<name>-mcp`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Depend on a local checkout of mcpgen-runtime instead of crates.io (needed until
        /// mcpgen-runtime is published there).
        #[arg(long, value_name = "PATH")]
        runtime_path: Option<PathBuf>,
        /// Write nothing; print a diff and exit 1 if the crate on disk differs.
        #[arg(long)]
        check: bool,
    },
    /// Classify what a spec change costs: breaking, reconsent, safety, review or compatible.
    ///
    /// What it costs the server's callers, the people who consented and the hosts that
    /// reviewed its tools (see the README, "Reviewing a change").
    ///
    /// Exits 1 when a change of a kind named by --fail-on is present, 0 otherwise, 2 when a
    /// spec cannot be read or is invalid.
    Diff {
        /// The old spec: a file, or `git:REV:PATH` to read PATH at REV with `git show`
        /// (PATH from the repository's root, or `./PATH` from the current directory).
        old: String,
        /// The new spec: a file, or `git:REV:PATH`.
        new: String,
        /// `text` (one line per change, then a summary) or `json`
        /// (`{"changes": [{"kind", "tool", "pointer", "message"}], "semver"}`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Kinds that make the command exit 1, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "breaking", value_parser = parse_kind)]
        fail_on: Vec<mcpgen::diff::Kind>,
    },
    /// Print the JSON Schema of the spec format, for editors.
    Schema,
    /// Check a deployed MCP server as Claude, ChatGPT, VS Code or Cursor will use it; exits 0
    /// when that client will not fail, 1 when it will, 2 when the URL cannot be reached
    ///
    /// The doctor walks the client's sequence: unauthenticated POST, 401 challenge, protected
    /// resource metadata, authorization server metadata, registration, authorization, token,
    /// initialize, tools/list, an optional tools/call, refresh (twice in a row and two at
    /// once) and revocation. It changes nothing on the server beyond registering one client
    /// and obtaining and revoking its own tokens. When the server asks a person to approve,
    /// it prints the authorization URL and waits for the redirect on a loopback port.
    #[command(verbatim_doc_comment)]
    Doctor {
        /// The MCP endpoint URL, as users enter it in the client (e.g. https://host/mcp).
        url: String,
        /// The client to check as.
        #[arg(long = "as", value_name = "CLIENT", default_value = "claude", value_parser = client_ids())]
        client: String,
        /// Start from this access token instead of registering and authorizing.
        #[arg(long)]
        token: Option<String>,
        /// Call this tool once (with --args).
        #[arg(long, value_name = "TOOL")]
        call: Option<String>,
        /// The tool's arguments, a JSON object.
        #[arg(long, value_name = "JSON", default_value = "{}", requires = "call")]
        args: String,
        /// `text` (a readable report) or `json`.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        /// Seconds each request may take.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        timeout: u64,
        /// Do not open a browser when the server asks a person to approve.
        #[arg(long)]
        no_browser: bool,
    },
}

fn client_ids() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(mcpgen::clients::CLIENTS.iter().map(|c| c.id))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            specs,
            deny_warnings,
        } => check(&specs, deny_warnings),
        Command::Build {
            spec,
            out,
            runtime_path,
            check,
        } => build(&spec, out, runtime_path, check),
        Command::Diff {
            old,
            new,
            format,
            fail_on,
        } => diff(&old, &new, format, &fail_on),
        Command::Doctor {
            url,
            client,
            token,
            call,
            args,
            format,
            timeout,
            no_browser,
        } => doctor(
            url, &client, token, call, &args, &format, timeout, no_browser,
        ),
        Command::Schema => {
            println!("{}", mcpgen::schema_text().trim_end());
            ExitCode::SUCCESS
        }
    }
}

/// How `diff` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

fn parse_kind(name: &str) -> Result<mcpgen::diff::Kind, String> {
    mcpgen::diff::Kind::parse(name).ok_or_else(|| {
        format!("unknown kind `{name}`: expected breaking, reconsent, safety, review or compatible")
    })
}

/// Reads a spec for `diff`: a file, or `git:REV:PATH` through `git show`. The display name and
/// the bytes, or the message of why not.
fn read_spec_source(source: &str) -> Result<(String, Vec<u8>), String> {
    let Some(rev_path) = source.strip_prefix("git:") else {
        let name = source.replace('\\', "/");
        return std::fs::read(source)
            .map(|b| (name.clone(), b))
            .map_err(|e| format!("cannot read `{name}`: {e}"));
    };
    let Some((rev, path)) = rev_path.split_once(':') else {
        return Err(format!("`{source}` is not `git:REV:PATH`"));
    };
    if rev.is_empty() || path.is_empty() || rev.starts_with('-') {
        return Err(format!("`{source}` is not `git:REV:PATH`"));
    }
    let out = std::process::Command::new("git")
        .args(["show", "--end-of-options", &format!("{rev}:{path}")])
        .output()
        .map_err(|e| format!("cannot run git for `{source}`: {e}"))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(format!("cannot read `{source}`: {}", why.trim()));
    }
    Ok((source.to_owned(), out.stdout))
}

fn diff(old: &str, new: &str, format: Format, fail_on: &[mcpgen::diff::Kind]) -> ExitCode {
    let mut models = Vec::new();
    for source in [old, new] {
        let (name, bytes) = match read_spec_source(source) {
            Ok(read) => read,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        match mcpgen::check(&name, &bytes) {
            Ok(checked) => models.push(checked.model),
            Err(report) => {
                eprint!("{report}");
                return ExitCode::from(2);
            }
        }
    }
    let report = mcpgen::diff::diff(&models[0], &models[1]);
    match format {
        Format::Text => print!("{}", report.render()),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot print the report: {e}");
                return ExitCode::from(2);
            }
        },
    }
    if report.has_any(fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads and checks one spec, printing its problems and warnings: its display name, model and
/// number of warnings, or the exit code it earns (1 for problems in the file, 2 when it cannot
/// be read).
fn load_spec(path: &Path) -> Result<(String, Model, usize), u8> {
    let name = path.display().to_string().replace('\\', "/");
    let bytes = std::fs::read(path).map_err(|e| {
        eprintln!("error: cannot read `{name}`: {e}");
        2
    })?;
    match mcpgen::check(&name, &bytes) {
        Ok(checked) => {
            eprint!("{}", checked.report);
            Ok((name, checked.model, checked.warnings))
        }
        Err(report) => {
            eprint!("{report}");
            Err(1)
        }
    }
}

fn check(paths: &[PathBuf], deny_warnings: bool) -> ExitCode {
    // Every file is checked; the worst outcome decides the exit code.
    let mut worst = 0;
    for path in paths {
        match load_spec(path) {
            Ok((name, _, warnings)) if deny_warnings && warnings > 0 => {
                eprintln!(
                    "error: `{name}` has {warnings} warning{}, denied by --deny-warnings",
                    if warnings == 1 { "" } else { "s" }
                );
                worst = worst.max(1);
            }
            Ok((name, model, warnings)) => {
                let tools = model.tools.len();
                let mut summary = format!("{tools} tool{}", if tools == 1 { "" } else { "s" });
                if warnings > 0 {
                    summary.push_str(&format!(
                        ", {warnings} warning{}",
                        if warnings == 1 { "" } else { "s" }
                    ));
                }
                println!("{name}: ok ({summary})");
            }
            Err(code) => worst = worst.max(code),
        }
    }
    ExitCode::from(worst)
}

fn build(
    spec: &Path,
    out: Option<PathBuf>,
    runtime_path: Option<PathBuf>,
    check: bool,
) -> ExitCode {
    let (name, model, _) = match load_spec(spec) {
        Ok(loaded) => loaded,
        Err(code) => return ExitCode::from(code),
    };
    let out = out.unwrap_or_else(|| PathBuf::from(&model.crate_name));
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot read the current directory: {e}");
            return ExitCode::from(2);
        }
    };
    let out_abs = write::normalise(&cwd.join(&out));
    // The crate's folder with symbolic links resolved (it may not exist yet: its parent is
    // resolved instead), so recorded paths do not depend on how the command was typed.
    let out_real = out_abs
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| out_abs.file_name().map(|f| p.join(f)))
        .unwrap_or_else(|| out_abs.clone());
    let runtime = match runtime_path {
        None => RuntimeDep::Registry,
        Some(path) => match std::fs::canonicalize(&path) {
            Ok(abs) if abs.join("Cargo.toml").is_file() => {
                // Relative to the crate, so the crate can move with the checkout it points into.
                RuntimeDep::Path(write::relative_path(&out_real, &abs))
            }
            Ok(_) | Err(_) => {
                eprintln!(
                    "error: `{}` is not a checkout of mcpgen-runtime (no Cargo.toml there)",
                    path.display()
                );
                return ExitCode::from(2);
            }
        },
    };
    // Headers name the spec relative to the crate: `x.yaml`, `./x.yaml` and an absolute path
    // to the same file, from any directory, generate the same bytes.
    let spec_path = match std::fs::canonicalize(spec) {
        Ok(abs) => write::relative_path(&out_real, &abs),
        Err(_) => name.clone(),
    };
    let options = Options { spec_path, runtime };
    if !emit::rustfmt_available() {
        eprintln!(
            "warning: rustfmt was not found, so the generated Rust is not laid out as `cargo fmt` \
             would: install it with `rustup component add rustfmt` (or set RUSTFMT)"
        );
    }
    let files = emit::generate(&model, &options);
    let read = |rel: &str| std::fs::read_to_string(out.join(rel)).ok();
    let plan = write::plan(&files, read);
    let shown = |rel: &str| out.join(rel).display().to_string();

    let foreign: Vec<&String> = plan
        .iter()
        .filter(|(_, a)| *a == Action::Foreign)
        .map(|(p, _)| p)
        .collect();
    let edited: Vec<&String> = plan
        .iter()
        .filter(|(_, a)| *a == Action::Edited)
        .map(|(p, _)| p)
        .collect();
    for path in &foreign {
        eprintln!(
            "error: `{}` was not written by mcpgen; move it away, or build into another --out",
            shown(path)
        );
    }
    for path in &edited {
        eprintln!(
            "error: `{}` was edited by hand, and mcpgen would overwrite the edit: move your \
             change to src/handlers.rs or the spec, or delete the file to regenerate it",
            shown(path)
        );
    }
    if !foreign.is_empty() || !edited.is_empty() {
        return ExitCode::from(1);
    }

    if check {
        let mut differs = false;
        for (path, action) in &plan {
            if matches!(action, Action::Create | Action::Update) {
                differs = true;
                let old = read(path).unwrap_or_default();
                print!("{}", write::diff(path, &old, &files[path].contents));
            }
        }
        if differs {
            eprintln!(
                "error: `{}` is not what `{name}` generates; run `mcpgen build`",
                out.display()
            );
            return ExitCode::from(1);
        }
        return ExitCode::SUCCESS;
    }

    let (mut written, mut unchanged) = (0, 0);
    for (path, action) in &plan {
        match action {
            Action::Create | Action::Update => {
                let target = out.join(path);
                let result = target
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&target, &files[path].contents));
                if let Err(e) = result {
                    eprintln!("error: cannot write `{}`: {e}", target.display());
                    return ExitCode::from(2);
                }
                written += 1;
            }
            Action::Unchanged | Action::Keep => unchanged += 1,
            Action::Foreign | Action::Edited => {}
        }
    }
    println!(
        "{}: {written} file{} written, {unchanged} unchanged",
        out.display(),
        if written == 1 { "" } else { "s" }
    );
    if plan
        .iter()
        .any(|(p, a)| p == "src/handlers.rs" && *a == Action::Keep)
    {
        let handlers = read("src/handlers.rs").unwrap_or_default();
        // A file that does not parse is the compiler's to explain.
        if let Some(user) = emit::read_user_file(&handlers) {
            if !user.has_new {
                eprintln!(
                    "error: `{}` lacks `Handlers::new`, which `src/main.rs` now calls to build \
                     your handlers at start; add:\n\n{}\n",
                    shown("src/handlers.rs"),
                    emit::constructor(user.unit_struct)
                );
            }
            let missing = emit::missing_handlers(&model, &user);
            let missing_len = missing.len();
            if !missing.is_empty() {
                eprintln!(
                    "note: `{}` lacks {} method{} of the spec's tools; add to `impl Tools for Handlers`:",
                    shown("src/handlers.rs"),
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" }
                );
                for sig in missing {
                    eprintln!("    {sig}");
                }
                let types = emit::missing_handler_types(&model, &user);
                let used = match types.as_slice() {
                    [one] => one.clone(),
                    many => format!("{{{}}}", many.join(", ")),
                };
                let what = if missing_len == 1 {
                    "it uses"
                } else {
                    "they use"
                };
                eprintln!("and import what {what}: `use crate::tools::{used};`");
            }
            if !user.has_new {
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

#[allow(clippy::too_many_arguments)]
fn doctor(
    url: String,
    client: &str,
    token: Option<String>,
    call: Option<String>,
    args: &str,
    format: &str,
    timeout: u64,
    no_browser: bool,
) -> ExitCode {
    let Some(client) = mcpgen::clients::client(client) else {
        eprintln!("error: unknown client {client:?}");
        return ExitCode::from(2);
    };
    let call = match call {
        None => None,
        Some(tool) => match serde_json::from_str::<serde_json::Value>(args) {
            Ok(v) if v.is_object() => Some((tool, v)),
            Ok(_) | Err(_) => {
                eprintln!(
                    "error: --args {args:?} is not a JSON object; pass e.g. '{{\"sku\": \"MT-1042\"}}'"
                );
                return ExitCode::from(2);
            }
        },
    };
    let opts = mcpgen::doctor::Options {
        url,
        client,
        token,
        call,
        timeout: std::time::Duration::from_secs(timeout.max(1)),
        approval_wait: std::time::Duration::from_secs(300),
        browser: (!no_browser).then_some(mcpgen::doctor::open_browser as fn(&str)),
        hosted: None,
    };
    match mcpgen::doctor::run(&opts) {
        Ok(report) => {
            if format == "json" {
                println!("{:#}", report.to_json());
            } else {
                print!("{}", report.render());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!(
                "error: cannot reach the server: {}",
                mcpgen::doctor::printable(&e.0)
            );
            ExitCode::from(2)
        }
    }
}
