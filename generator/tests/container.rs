//! The generated container files, without a container engine (none can run here): the
//! Dockerfile's build stage is replayed from exactly the files its `COPY` lines and
//! `.dockerignore` send into a clean folder, with the same `RUN` script; `compose.yaml` is
//! checked against the Compose Specification's JSON Schema.
//!
//! mcpgen-runtime is a registry dependency of the generated crate, as in a real build. Here
//! the registry's copy is this checkout's: a `[patch.crates-io]` in a cargo config file of the
//! folder *above* the build folder (cargo reads the config of every ancestor), so the crate's
//! files and the `RUN` script stay exactly as the Dockerfile has them. The script honours
//! `CARGO_TARGET_DIR`, which points at the shared `target/generated` so dependencies are
//! compiled once per run; `CARGO_PROFILE_RELEASE_OPT_LEVEL=0` keeps the release build as quick
//! as a debug one (optimisation does not change what compiles).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo, target_dir};

/// One Dockerfile instruction: its keyword (upper case) and its arguments, continuation lines
/// joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn instructions(dockerfile: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let (keyword, args) = current.trim().split_once(' ').expect("an argument");
                out.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_owned(),
                });
                current.clear();
            }
        }
    }
    assert!(current.is_empty(), "a continued last line: {current}");
    out
}

/// The stages, each its instructions after its `FROM` (which is first).
fn stages(dockerfile: &str) -> Vec<Vec<Instruction>> {
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for i in instructions(dockerfile) {
        if i.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages.last_mut().expect("FROM first").push(i);
    }
    stages
}

/// `*` matches any run of characters (not `/`); nothing else is special.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| !rest[..i].contains('/') && glob(tail, &rest[i..]))
        }
    }
}

/// The `.dockerignore` patterns, each checked to be of the one form this test matches as
/// Docker does: a name or `*` glob of an entry at the context's root.
fn ignore_patterns(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let p = l.trim_end_matches('/');
            assert!(
                !p.contains('/') && !p.starts_with('!') && !p.contains(['?', '[']),
                "a .dockerignore pattern this test cannot match like Docker: {l}"
            );
            p.to_owned()
        })
        .collect()
}

/// Files under `dir`, relative, with `/` separators.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy();
                out.push(rel.replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// What `COPY SRC... DEST` lines of the build stage send from `context` into the stage's
/// `WORKDIR`, here `dest_root`, with `.dockerignore` applied. Returns the copied paths.
fn copy_context(stage: &[Instruction], context: &Path, dest_root: &Path) -> Vec<String> {
    let ignore = ignore_patterns(&std::fs::read_to_string(context.join(".dockerignore")).unwrap());
    let ignored = |rel: &str| {
        let root = rel.split('/').next().unwrap();
        ignore.iter().any(|p| glob(p, root))
    };
    let mut copied = Vec::new();
    for i in stage.iter().filter(|i| i.keyword == "COPY") {
        assert!(!i.args.starts_with("--"), "a COPY with flags: {i:?}");
        let words: Vec<&str> = i.args.split_whitespace().collect();
        let (dest, sources) = words.split_last().expect("COPY SRC DEST");
        for src in sources {
            let src = src.trim_start_matches("./").trim_end_matches('/');
            for rel in walk(context) {
                let inside = src == "." || rel == src || rel.starts_with(&format!("{src}/"));
                if !inside || ignored(&rel) {
                    continue;
                }
                let to = dest_root.join(dest.trim_start_matches("./")).join(&rel);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(context.join(&rel), &to).unwrap();
                copied.push(rel);
            }
        }
    }
    copied
}

/// The build stage's `RUN` script as `/bin/sh -c` gets it: flags (`--mount=...`) removed.
fn run_script(stage: &[Instruction]) -> String {
    let runs: Vec<&Instruction> = stage.iter().filter(|i| i.keyword == "RUN").collect();
    assert_eq!(runs.len(), 1, "one RUN in the build stage: {runs:?}");
    let mut script = runs[0].args.as_str();
    while let Some(rest) = script.strip_prefix("--") {
        script = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    script.to_owned()
}

fn mcpgen_build(spec: &str, out: &Path) {
    let built = Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args(["build", spec, "--out", out.to_str().unwrap()])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpgen-container-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Dockerfile builds the crate as generated, from the crate folder alone: `COPY` brings
/// the sources and a committed Cargo.lock but not `target/`, databases, `.env` or `.git`; the
/// `RUN` script builds with `--locked` and leaves the binary where the run stage copies it
/// from; both stages are Debian bookworm; the server runs as a non-root user with its SQLite
/// file on a volume, and `HEALTHCHECK` uses the binary's own `healthcheck`.
#[test]
fn dockerfile_builds_from_exactly_what_it_copies() {
    let tmp = scratch("build");
    let context = tmp.join("medtainer-mcp");
    mcpgen_build("specs/medtainer.yaml", &context);
    let manifest = std::fs::read_to_string(context.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!(
            "mcpgen-runtime = {{ version = \"{}\", ",
            env!("CARGO_PKG_VERSION")
        )),
        "the runtime by version, as a registry serves it: {manifest}"
    );

    // The registry: this checkout's runtime, configured above the build folder.
    std::fs::create_dir_all(tmp.join(".cargo")).unwrap();
    std::fs::write(
        tmp.join(".cargo/config.toml"),
        format!(
            "[patch.crates-io]\nmcpgen-runtime = {{ path = {:?} }}\n",
            repo().join("runtime").to_str().unwrap()
        ),
    )
    .unwrap();
    let cargo = |dir: &Path, args: &[&str]| {
        let out = Command::new(env!("CARGO"))
            .args(args)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The committed lock the README asks for: the versions the runtime was tested with, cut
    // down to this crate's by cargo.
    std::fs::copy(repo().join("Cargo.lock"), context.join("Cargo.lock")).unwrap();
    cargo(&context, &["metadata", "--format-version", "1"]);
    // What a working folder holds besides the sources.
    for junk in [
        "target/release/stale",
        "medtainer-mcp.sqlite3",
        "medtainer-mcp.sqlite3-wal",
        ".git/HEAD",
        ".env",
    ] {
        let p = context.join(junk);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "not for the image").unwrap();
    }

    let dockerfile = std::fs::read_to_string(context.join("Dockerfile")).unwrap();
    let stages = stages(&dockerfile);
    assert_eq!(stages.len(), 2, "a build and a run stage");
    let (build, run) = (&stages[0], &stages[1]);
    let image = |stage: &[Instruction]| stage[0].args.split_whitespace().next().unwrap().to_owned();
    assert!(
        image(build).starts_with("rust:1.95-slim-bookworm"),
        "{build:?}"
    );
    assert_eq!(image(run), "debian:bookworm-slim");
    let workdir = |stage: &[Instruction]| {
        stage
            .iter()
            .rfind(|i| i.keyword == "WORKDIR")
            .map(|i| i.args.clone())
            .expect("a WORKDIR")
    };
    assert_eq!(workdir(build), "/src");

    let build_dir = tmp.join("build").join("src");
    std::fs::create_dir_all(&build_dir).unwrap();
    let copied = copy_context(build, &context, &build_dir);
    for wanted in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/handlers.rs"] {
        assert!(copied.iter().any(|c| c == wanted), "{wanted} in {copied:?}");
    }
    for unwanted in ["target/", "medtainer-mcp.sqlite3", ".git/", ".env"] {
        assert!(
            !copied.iter().any(|c| c.starts_with(unwanted)),
            "{unwanted} sent to the build: {copied:?}"
        );
    }

    let script = run_script(build);
    let out = Command::new("sh")
        .args(["-c", &script])
        .current_dir(&build_dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env(
            "PATH",
            path_with(Path::new(env!("CARGO")).parent().unwrap()),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script}\n{stderr}");
    assert!(!stderr.contains("no Cargo.lock"), "{stderr}");

    // The run stage copies the binary from where the script left it, and it runs.
    let from_build = run
        .iter()
        .find(|i| i.keyword == "COPY" && i.args.starts_with("--from=build "))
        .expect("COPY --from=build");
    let binary = from_build.args.split_whitespace().nth(1).unwrap();
    let binary = build_dir.join(binary.strip_prefix("/src/").expect("under WORKDIR /src"));
    let version = Command::new(&binary).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        "medtainer-mcp 0.1.0\n"
    );

    // Not root; the SQLite file on the volume; the binary checks its own health.
    let user = run.iter().rfind(|i| i.keyword == "USER").expect("USER");
    assert!(!["root", "0"].contains(&user.args.as_str()), "{user:?}");
    let env: Vec<&str> = run
        .iter()
        .filter(|i| i.keyword == "ENV")
        .map(|i| i.args.as_str())
        .collect();
    let store = env
        .iter()
        .find_map(|e| e.strip_prefix("MCPGEN_STORE=sqlite:"))
        .expect("a default SQLite store");
    let volume = run.iter().find(|i| i.keyword == "VOLUME").expect("VOLUME");
    let volume: Vec<String> = serde_json::from_str(&volume.args).unwrap();
    assert!(
        volume.iter().any(|v| store.starts_with(&format!("{v}/"))),
        "{store} on {volume:?}"
    );
    let health = run
        .iter()
        .find(|i| i.keyword == "HEALTHCHECK")
        .expect("HEALTHCHECK");
    assert!(
        health
            .args
            .ends_with("CMD [\"/usr/local/bin/medtainer-mcp\", \"healthcheck\"]"),
        "{health:?}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

/// Without a committed Cargo.lock the build still works, warns and resolves afresh; with one
/// it is `--locked`. A stand-in `cargo` records what the script runs.
#[test]
fn the_build_is_locked_exactly_when_a_lock_is_committed() {
    let tmp = scratch("lock");
    let context = tmp.join("notes");
    mcpgen_build("specs/local-notes.yaml", &context);
    let dockerfile = std::fs::read_to_string(context.join("Dockerfile")).unwrap();
    let script = run_script(&stages(&dockerfile)[0]);
    let bin = tmp.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("cargo");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"$@\" > cargo-args\nmkdir -p target/release\n: > target/release/local-notes-mcp\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let run = |lock: bool| {
        let dir = tmp.join(if lock { "with" } else { "without" });
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(context.join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
        if lock {
            std::fs::write(dir.join("Cargo.lock"), "version = 4\n").unwrap();
        }
        let out = Command::new("sh")
            .args(["-c", &script])
            .current_dir(&dir)
            .env_remove("CARGO_TARGET_DIR")
            .env("PATH", path_with(&bin))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(dir.join("dist/local-notes-mcp").is_file());
        (
            std::fs::read_to_string(dir.join("cargo-args")).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (args, stderr) = run(true);
    assert_eq!(args, "build --release --locked\n");
    assert_eq!(stderr, "");
    let (args, stderr) = run(false);
    assert_eq!(args, "build --release\n");
    assert!(
        stderr.contains("warning: no Cargo.lock") && stderr.contains("cargo generate-lockfile"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `.dockerignore` keeps build output, local databases and local secrets out of the context,
/// whatever the crate: the build stage's layers hold all of `COPY . .`, and build caches
/// exported with every stage (`--cache-to ...,mode=max`) carry them off the machine.
#[test]
fn dockerignore_excludes_target() {
    for (stem, _) in common::CRATES {
        let text =
            std::fs::read_to_string(repo().join("tests/golden").join(stem).join(".dockerignore"))
                .unwrap();
        let patterns = ignore_patterns(&text);
        for name in [
            "target",
            ".git",
            "x.sqlite3",
            "x.sqlite3-wal",
            ".env",
            ".env.local",
            ".env.production",
            "server.key",
            "cert.pem",
        ] {
            assert!(
                patterns.iter().any(|p| glob(p, name)),
                "{stem}: {name} not ignored"
            );
        }
    }
}

/// `compose.yaml` is a valid Compose file (the Compose Specification's schema,
/// `tests/compose-spec/compose-spec.json`), and it runs two replicas on one Redis behind one
/// published port, the proxy being the one trusted for forwarded addresses.
#[test]
fn compose_file_runs_two_replicas_on_one_redis_behind_one_port() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/compose-spec/compose-spec.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).expect("the compose schema compiles");
    for (stem, _) in common::CRATES {
        let text =
            std::fs::read_to_string(repo().join("tests/golden").join(stem).join("compose.yaml"))
                .unwrap();
        let doc = mcpgen::parse::parse(&text).unwrap_or_else(|e| panic!("{stem}: {e:?}"));
        let compose = doc.value;
        let errors: Vec<String> = validator
            .iter_errors(&compose)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{stem}: {errors:#?}");

        let services = compose["services"].as_object().unwrap();
        let published: Vec<&str> = services
            .values()
            .filter_map(|s| s["ports"].as_array())
            .flatten()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(published, ["8080:8080"], "{stem}: one published port");
        let replicas: Vec<(&String, &serde_json::Value)> =
            services.iter().filter(|(_, s)| s["build"] == ".").collect();
        assert_eq!(replicas.len(), 2, "{stem}: two replicas of this crate");
        let proxy = &services["proxy"];
        let command: Vec<&str> = proxy["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        for (name, _) in &replicas {
            assert!(
                command
                    .windows(2)
                    .any(|w| w == ["--to", &format!("{name}:8080")]),
                "{stem}: the proxy does not reach {name}: {command:?}"
            );
        }
        // Redis holds OAuth state: only servers with auth (not the conformance fixture) have it.
        let has_auth = *stem != "conformance-fixture";
        assert_eq!(services.contains_key("redis"), has_auth, "{stem}");
        if !has_auth {
            continue;
        }
        let proxy_ip = proxy["networks"]["mcp"]["ipv4_address"].as_str().unwrap();
        for (name, s) in &replicas {
            let env = &s["environment"];
            assert_eq!(env["MCPGEN_STORE"], "redis://redis:6379/0", "{stem} {name}");
            assert_eq!(env["MCPGEN_TRUSTED_PROXIES"], proxy_ip, "{stem} {name}");
            assert_eq!(
                s["depends_on"]["redis"]["condition"], "service_healthy",
                "{stem} {name}"
            );
        }
        assert!(
            services["redis"]["image"]
                .as_str()
                .unwrap()
                .starts_with("redis:")
        );
    }
}

/// `compose.yaml` runs the replicas with the spec's login: a `login: users` server keeps its
/// accounts (no shared password forced on it, no password hash asked for), `password` asks
/// for the hash, and `auto` (loopback only) becomes `password` in a container.
#[test]
fn compose_file_keeps_the_specs_login() {
    let replica_env = |crate_dir: &Path| {
        let text = std::fs::read_to_string(crate_dir.join("compose.yaml")).unwrap();
        let compose = mcpgen::parse::parse(&text).unwrap().value;
        let env = compose["services"]["server-1"]["environment"].clone();
        assert_eq!(env, compose["services"]["server-2"]["environment"]);
        (text, env)
    };
    let dir = scratch("users-login");
    let spec = std::fs::read_to_string(repo().join("specs/medtainer.yaml"))
        .unwrap()
        .replace("  login: password\n", "  login: users\n");
    assert!(spec.contains("  login: users\n"));
    let spec_path = dir.join("medtainer.yaml");
    std::fs::write(&spec_path, spec).unwrap();
    let out = dir.join("medtainer-mcp");
    mcpgen_build(spec_path.to_str().unwrap(), &out);
    let (text, env) = replica_env(&out);
    for key in ["MCPGEN_CONSENT", "MCPGEN_LOGIN", "MCPGEN_PASSWORD_HASH"] {
        assert!(env.get(key).is_none(), "users login with {key}: {env:#}");
    }
    assert!(text.contains("users add NAME --password-stdin"), "{text}");
    assert!(!text.contains("MCPGEN_PASSWORD_HASH"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);

    let (_, env) = replica_env(&repo().join("tests/golden/medtainer"));
    assert!(env.get("MCPGEN_LOGIN").is_none() && env.get("MCPGEN_CONSENT").is_none());
    assert!(
        env["MCPGEN_PASSWORD_HASH"]
            .as_str()
            .unwrap()
            .starts_with("${MCPGEN_PASSWORD_HASH:?")
    );
    let (_, env) = replica_env(&repo().join("tests/golden/local-notes"));
    assert_eq!(env["MCPGEN_LOGIN"], "password");
    assert!(
        env["MCPGEN_PASSWORD_HASH"]
            .as_str()
            .unwrap()
            .starts_with("${MCPGEN_PASSWORD_HASH:?")
    );
}
