//! A generated crate compiles only the parts of `mcpgen-runtime` its spec uses: the runtime
//! dependency in the generated `Cargo.toml` has `default-features = false` and exactly the
//! features the spec needs, and what cargo resolves for it leaves the rest out (checked with
//! `cargo tree`, a resolve without a build; `generated_crates` builds each of these feature
//! sets).

mod common;

use std::process::Command;

use common::*;

/// The `features = [...]` of the `mcpgen-runtime` dependency in a golden crate's Cargo.toml.
fn runtime_features(stem: &str) -> Vec<String> {
    let path = repo().join("tests/golden").join(stem).join("Cargo.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let line = toml
        .lines()
        .find(|l| l.starts_with("mcpgen-runtime = "))
        .unwrap_or_else(|| panic!("{}: no mcpgen-runtime dependency", path.display()));
    assert!(line.contains("default-features = false"), "{line}");
    let list = line
        .split_once("features = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .unwrap_or_else(|| panic!("no features list: {line}"))
        .0;
    list.split(',')
        .map(|f| f.trim().trim_matches('"').to_owned())
        .filter(|f| !f.is_empty())
        .collect()
}

/// The names of the packages cargo resolves for a golden crate's normal build.
fn resolved_packages(stem: &str) -> Vec<String> {
    let dir = repo().join("tests/golden").join(stem);
    // The workspace's lock, as `generated_crates` builds them: the same versions, and no
    // network to resolve.
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(repo().join("Cargo.lock"), &lock).unwrap();
    }
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn example_specs_turn_on_exactly_the_runtime_features_they_use() {
    let expected: &[(&str, &[&str])] = &[
        // auth: none, template tools.
        ("conformance-fixture", &["templates", "otlp"]),
        // login: auto (password is still a run-time choice), no client ID metadata documents;
        // auth.oidc for `--login oidc`.
        (
            "local-notes",
            &[
                "oauth",
                "sqlite",
                "redis",
                "templates",
                "password",
                "oidc",
                "otlp",
            ],
        ),
        // No template tools; auth still needs the pages; auth.oidc for `--login oidc`.
        (
            "medtainer",
            &["oauth", "sqlite", "redis", "password", "oidc", "otlp"],
        ),
        // client_id_metadata_documents: true.
        (
            "forge",
            &[
                "oauth",
                "sqlite",
                "redis",
                "cimd",
                "templates",
                "password",
                "otlp",
            ],
        ),
    ];
    for (stem, features) in expected {
        assert_eq!(runtime_features(stem), *features, "{stem}");
    }
}

#[test]
fn a_crate_compiles_only_the_heavy_dependencies_its_spec_uses() {
    // (crate, the heavy dependency, whether the spec needs it). rustls and the Mozilla roots
    // are in every crate: `otlp` (always on) exports traces over https.
    let cases: &[(&str, &[(&str, bool)])] = &[
        (
            "conformance-fixture",
            &[
                ("rusqlite", false),
                ("redis", false),
                ("argon2", false),
                ("minijinja", true),
                ("openidconnect", false),
                ("opentelemetry_sdk", true),
            ],
        ),
        (
            "local-notes",
            &[
                ("rusqlite", true),
                ("redis", true),
                ("argon2", true),
                // auth.oidc, for `--login oidc`.
                ("openidconnect", true),
            ],
        ),
        (
            "medtainer",
            &[
                ("argon2", true),
                // The sign-in and consent pages, though no tool is a template.
                ("minijinja", true),
                ("openidconnect", true),
            ],
        ),
        (
            "forge",
            &[
                ("tokio-rustls", true),
                ("webpki-roots", true),
                ("openidconnect", false),
            ],
        ),
    ];
    for (stem, deps) in cases {
        let resolved = resolved_packages(stem);
        for (dep, wanted) in *deps {
            assert_eq!(
                resolved.iter().any(|p| p == dep),
                *wanted,
                "{stem}: {dep} resolved: {}",
                !wanted
            );
        }
    }
}

/// The runtime features in the generated Cargo.toml of a spec with `auth` as given.
fn features_for_auth(auth: serde_json::Value) -> Vec<String> {
    let yaml = serde_json::json!({
        "mcpgen": 1,
        "name": "staff",
        "version": "0.1.0",
        "server": {"public_url": "https://mcp.example.com"},
        "auth": auth,
        "tools": [{"name": "t", "description": "T.", "input": {"type": "object"}}]
    })
    .to_string();
    let model = mcpgen::load(yaml.as_bytes()).unwrap_or_else(|d| panic!("{d:?}"));
    let options = mcpgen::emit::Options {
        spec_path: "specs/staff.yaml".into(),
        runtime: mcpgen::emit::RuntimeDep::Registry,
    };
    let toml = mcpgen::emit::generate(&model, &options)["Cargo.toml"]
        .contents
        .clone();
    let line = toml
        .lines()
        .find(|l| l.starts_with("mcpgen-runtime = "))
        .unwrap_or_else(|| panic!("no mcpgen-runtime dependency:\n{toml}"));
    line.split_once("features = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .unwrap_or_else(|| panic!("no features list: {line}"))
        .0
        .split(',')
        .map(|f| f.trim().trim_matches('"').to_owned())
        .filter(|f| !f.is_empty())
        .collect()
}

#[test]
fn login_oidc_turns_on_the_openid_side_and_other_logins_do_not() {
    let scopes = serde_json::json!({"staff": {"description": "Use it"}});
    let oidc = features_for_auth(serde_json::json!({
        "scopes": scopes, "login": "oidc",
        "oidc": {"allow": {"domains": ["example.com"]}}
    }));
    assert_eq!(
        oidc,
        ["oauth", "sqlite", "redis", "password", "oidc", "otlp"],
        "login: oidc"
    );
    for login in ["password", "users"] {
        let f = features_for_auth(serde_json::json!({"scopes": scopes, "login": login}));
        assert_eq!(
            f,
            ["oauth", "sqlite", "redis", "password", "otlp"],
            "login: {login}"
        );
    }
}
