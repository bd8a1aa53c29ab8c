//! Emitting never fails on a valid spec: odd names, keywords, non-ASCII, quotes and the line
//! breaks and tabs descriptions and templates may hold all come out as Rust that parses (and
//! the golden tests show it compiles).

use mcpgen::emit::{self, Options, RuntimeDep};
use proptest::prelude::*;
use serde_json::{Value, json};

fn spec(tools: Vec<Value>) -> String {
    // JSON is YAML: the spec is written as JSON so any string survives unescaped by hand.
    json!({
        "mcpgen": 1,
        "name": "odd",
        "version": "0.1.0",
        "server": {"public_url": "http://127.0.0.1:9000"},
        "auth": "none",
        "tools": tools
    })
    .to_string()
}

/// `s` without the characters `mcpgen check` refuses (control characters, but tab and line
/// breaks where `lines`; bidirectional controls), so the spec stays valid.
fn allowed(s: &str, lines: bool) -> String {
    s.chars()
        .filter(|c| mcpgen::text::first_forbidden(c.encode_utf8(&mut [0; 4]), lines).is_none())
        .collect()
}

fn emitted_rust_parses(yaml: &str) -> Result<usize, String> {
    let model = mcpgen::load(yaml.as_bytes()).map_err(|d| format!("{d:?}"))?;
    let options = Options {
        spec_path: "specs/odd.yaml".into(),
        runtime: RuntimeDep::Registry,
    };
    let files = emit::generate(&model, &options);
    for (path, file) in &files {
        if path.ends_with(".rs") {
            syn::parse_file(&file.contents)
                .map_err(|e| format!("{path} does not parse: {e}\n{}", file.contents))?;
        }
    }
    Ok(files.len())
}

#[test]
fn odd_names_become_valid_rust() {
    let tools = vec![
        json!({"name": "-", "description": "Dash.", "input": {"type": "object", "properties": {
            "": {"type": "string"}, "type": {"type": "string"}, "self": {"type": "integer"},
            "größe": {"type": "number"}, "123": {"type": "boolean"}, "a b": {"type": "string"},
            "kind": {"type": "string", "enum": ["", "-", "a-b", "A B", "2025-06-18"]},
            "r#x": {"type": "string"}
        }}}),
        json!({"name": "match", "description": "Keyword \"quoted\" */ \\ text.", "input": {"type": "object"},
               "output": {"type": "object", "properties": {"Self": {"type": ["string", "null"]}}}}),
        json!({"name": "tpl", "description": "Template:\n\tindented, on two lines.", "input": {"type": "object", "properties": {"x": {"type": "string"}}},
               "handler": "template", "template": "line\r\nwith\ta \"# and \"## and {{ x | default('-') }}"}),
    ];
    let n = emitted_rust_parses(&spec(tools)).unwrap();
    assert_eq!(n, 10);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_valid_spec_emits_rust_that_parses(
        names in prop::collection::btree_set("[a-zA-Z0-9_-]{1,12}", 1..4),
        props in prop::collection::vec(any::<String>(), 0..5),
        description in any::<String>(),
        template in any::<String>(),
    ) {
        // Names that become distinct Rust identifiers, so every generated spec is valid.
        let mut seen = std::collections::BTreeSet::new();
        let names: Vec<&String> = names.iter().filter(|n| seen.insert(mcpgen::naming::snake(n))).collect();
        let mut seen = std::collections::BTreeSet::new();
        let props: Vec<String> = props.iter().map(|p| allowed(p, false)).filter(|p| seen.insert(mcpgen::naming::snake(p))).collect();
        let description = allowed(&description, true);
        let description = if description.trim().is_empty() { "x".to_string() } else { description };
        let template = allowed(&template, true);
        let tools: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let properties: serde_json::Map<String, Value> = props
                    .iter()
                    .map(|p| (p.to_string(), json!({"type": "string", "description": description})))
                    .collect();
                let mut tool = json!({
                    "name": name,
                    "description": description,
                    "input": {"type": "object", "properties": properties}
                });
                if i == 0 {
                    tool["handler"] = json!("template");
                    let text = template.replace("endraw", "end_raw");
                    tool["template"] = json!(format!("{{% raw %}}{text}{{% endraw %}}"));
                }
                tool
            })
            .collect();
        let yaml = spec(tools);
        let parsed = emitted_rust_parses(&yaml);
        prop_assert!(parsed.is_ok(), "{}", parsed.unwrap_err());
    }
}

/// The tool a changed line belongs to: the last tool named (in snake or Pascal case) at or
/// before it; lines of punctuation alone belong to no tool.
fn owner<'a>(lines: &[&str], at: usize, tools: &'a [(String, String)]) -> Option<&'a str> {
    lines[..=at].iter().rev().find_map(|line| {
        tools
            .iter()
            .filter(|(snake, pascal)| {
                line.contains(snake.as_str()) || line.contains(pascal.as_str())
            })
            .map(|(snake, _)| snake.as_str())
            .max_by_key(|s| s.len())
    })
}

/// Review diffs stay small: a spec that gains a tool and changes one tool's scopes changes
/// only the lines about those two tools in every generated file (no reflowed neighbours).
#[test]
fn regenerating_after_a_spec_change_touches_only_the_changed_tools() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let old_spec = std::fs::read_to_string(repo.join("specs/medtainer.yaml")).unwrap();
    let cancel = "    scopes: [claudeai, orders.write]\n    annotations: { read_only: false, destructive: true";
    assert!(old_spec.contains(cancel), "cancel_order's scopes moved");
    let new_spec = old_spec.replacen(
        cancel,
        "    scopes: [claudeai, orders.write, customers.read]\n    annotations: { read_only: false, destructive: true",
        1,
    ) + "  - name: check_stock_alerts\n    description: Products below their reorder level.\n    scopes: [claudeai, catalog.read]\n    input:\n      type: object\n      properties:\n        warehouse: { type: string, description: Only this warehouse }\n";
    let options = Options {
        spec_path: "../specs/medtainer.yaml".into(),
        runtime: RuntimeDep::Registry,
    };
    let old_model = mcpgen::load(old_spec.as_bytes()).unwrap();
    let new_model = mcpgen::load(new_spec.as_bytes()).unwrap();
    let old = emit::generate(&old_model, &options);
    let new = emit::generate(&new_model, &options);
    let tools: Vec<(String, String)> = new_model
        .tools
        .iter()
        .map(|t| (t.name.clone(), t.type_name.clone()))
        .collect();
    let changed_tools = ["cancel_order", "check_stock_alerts"];
    let mut stray = Vec::new();
    let mut touched = 0;
    for (path, file) in &new {
        if file.ownership == emit::Ownership::User {
            continue;
        }
        let before = &old[path].contents;
        // The header's checksum changes with any byte of the file.
        let skip_header = |text: &str| {
            text.split_once('\n')
                .map_or(String::new(), |(_, b)| b.to_owned())
        };
        let (before, after) = (skip_header(before), skip_header(&file.contents));
        let before_lines: Vec<&str> = before.lines().collect();
        let after_lines: Vec<&str> = after.lines().collect();
        let diff = similar::TextDiff::from_lines(&before, &after);
        // Runs of consecutive changed lines; a run that names only changed tools is about them
        // (a new tool's doc comment comes before its name).
        let mut runs: Vec<Vec<(similar::ChangeTag, &str, Option<&str>)>> = vec![Vec::new()];
        for change in diff.iter_all_changes() {
            let (lines, index) = match change.tag() {
                similar::ChangeTag::Equal => {
                    runs.push(Vec::new());
                    continue;
                }
                similar::ChangeTag::Delete => (&before_lines, change.old_index().unwrap()),
                similar::ChangeTag::Insert => (&after_lines, change.new_index().unwrap()),
            };
            touched += 1;
            runs.last_mut().unwrap().push((
                change.tag(),
                lines[index],
                owner(lines, index, &tools),
            ));
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let named: Vec<&str> = run
                .iter()
                .flat_map(|(_, line, _)| {
                    tools
                        .iter()
                        .filter(|(snake, pascal)| {
                            line.contains(snake.as_str()) || line.contains(pascal.as_str())
                        })
                        .map(|(snake, _)| snake.as_str())
                })
                .collect();
            let run_is_theirs =
                !named.is_empty() && named.iter().all(|t| changed_tools.contains(t));
            for (tag, line, owner) in run {
                let punctuation = line.trim().chars().all(|c| "{}()[],;".contains(c));
                let ok = punctuation
                    || run_is_theirs
                    || owner.is_some_and(|t| changed_tools.contains(&t));
                if !ok {
                    stray.push(format!("{path}: {tag:?} {line:?}"));
                }
            }
        }
    }
    assert!(touched > 0, "the change shows in the generated files");
    assert!(
        stray.is_empty(),
        "lines about unchanged tools changed:\n{}",
        stray.join("\n")
    );
}

/// A described argument with a default: rustdoc joins consecutive `///` lines into one
/// paragraph, so the default is its own paragraph, not glued to the description
/// ("How many to return Default: `5`.").
#[test]
fn a_default_is_documented_in_its_own_paragraph() {
    let yaml = spec(vec![json!({
        "name": "list",
        "description": "List.",
        "input": {"type": "object", "properties": {
            "limit": {"type": "integer", "description": "How many to return", "default": 5}
        }}
    })]);
    let model = mcpgen::load(yaml.as_bytes()).unwrap();
    let options = Options {
        spec_path: "specs/odd.yaml".into(),
        runtime: RuntimeDep::Registry,
    };
    let files = emit::generate(&model, &options);
    let tools = &files["src/tools.rs"].contents;
    assert!(
        tools.contains("    /// How many to return\n    ///\n    /// Default: `5`.\n"),
        "{tools}"
    );
}

/// The generated README of a `login: oidc` server says what to register at the provider (the
/// redirect URI under the public URL), the issuer forms of Google, Entra ID, Okta and
/// Keycloak, and the three environment variables; so does one whose spec has `auth.oidc`
/// beside another login (for `--login oidc`), saying how to switch; one without does not.
#[test]
fn the_readme_of_an_oidc_server_says_how_to_register_it() {
    let readme = |auth: Value| {
        let yaml = json!({
            "mcpgen": 1,
            "name": "staff",
            "version": "0.1.0",
            "server": {"public_url": "https://mcp.example.com"},
            "auth": auth,
            "tools": [{"name": "t", "description": "T.", "input": {"type": "object"}}]
        })
        .to_string();
        let model = mcpgen::load(yaml.as_bytes()).unwrap_or_else(|d| panic!("{d:?}"));
        let options = Options {
            spec_path: "specs/staff.yaml".into(),
            runtime: RuntimeDep::Registry,
        };
        emit::generate(&model, &options)["README.md"]
            .contents
            .clone()
    };
    let scopes = json!({"staff": {"description": "Use it"}});
    let oidc = readme(json!({
        "scopes": scopes, "login": "oidc",
        "oidc": {"allow": {"domains": ["example.com"]}}
    }));
    for needed in [
        "`https://mcp.example.com/oauth/callback`",
        "https://accounts.google.com",
        "https://login.microsoftonline.com/TENANT-ID/v2.0",
        "https://YOUR-ORG.okta.com",
        "https://HOST/realms/REALM",
        "export MCPGEN_OIDC_ISSUER=",
        "| | `MCPGEN_OIDC_CLIENT_ID` |",
        "| | `MCPGEN_OIDC_CLIENT_SECRET` |",
    ] {
        assert!(oidc.contains(needed), "{needed} missing:\n{oidc}");
    }
    let with_issuer = readme(json!({
        "scopes": scopes, "login": "oidc",
        "oidc": {"issuer": "https://idp.example.com/realms/staff", "allow": {"domains": ["example.com"]}}
    }));
    assert!(with_issuer.contains("`https://idp.example.com/realms/staff` (the spec's"));
    assert!(!with_issuer.contains("export MCPGEN_OIDC_ISSUER="));
    let password = readme(json!({"scopes": scopes, "login": "password"}));
    assert!(!password.contains("/oauth/callback"), "{password}");
    // `auth.oidc` beside another login: how to switch to it, and what to register for it.
    let switchable = readme(json!({
        "scopes": scopes, "login": "password",
        "oidc": {"allow": {"domains": ["example.com"]}}
    }));
    for needed in [
        "takes effect when the server runs with `--login oidc`",
        "`https://mcp.example.com/oauth/callback`",
        "| | `MCPGEN_OIDC_CLIENT_ID` |",
    ] {
        assert!(
            switchable.contains(needed),
            "{needed} missing:\n{switchable}"
        );
    }
    assert!(!oidc.contains("takes effect when"), "{oidc}");
}
