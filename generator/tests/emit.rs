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
    assert_eq!(n, 8);
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
