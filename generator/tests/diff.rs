//! `mcpgen diff`: every kind of change is classified as the people and hosts who depend on the
//! server experience it, and the command's exit codes and JSON shape are what CI relies on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcpgen::diff::{Kind, Report, diff};
use serde_json::Value;

const BASE: &str = "mcpgen: 1
name: shop
version: 1.0.0
title: Shop
server: { public_url: https://shop.example.com }
auth:
  scopes:
    shop: { description: Use the shop }
    orders.write: { description: Place orders }
  default_scopes: [shop]
allow: [step_up]
tools:
  - name: search
    description: Search products.
    scopes: [shop]
    annotations: { read_only: true, destructive: false, idempotent: true, open_world: false }
    input:
      type: object
      properties:
        query: { type: string }
        limit: { type: integer, minimum: 1, maximum: 50 }
        sort: { type: string, enum: [price, name] }
      required: [query]
      additionalProperties: false
    output:
      type: object
      properties:
        total: { type: integer }
        items: { type: array, items: { type: string } }
      required: [total]
  - name: order
    description: Place an order.
    scopes: [shop, orders.write]
    annotations: { read_only: false, destructive: false, idempotent: false, open_world: false }
    input:
      type: object
      properties:
        sku: { type: string }
      required: [sku]
";

fn model(yaml: &str) -> mcpgen::model::Model {
    match mcpgen::check("spec.yaml", yaml.as_bytes()) {
        Ok(checked) => checked.model,
        Err(report) => panic!("{report}"),
    }
}

/// Replacements of text in BASE: (from, to).
type Edits<'a> = &'a [(&'a str, &'a str)];

/// The report of changing BASE by replacing `from` with `to` (each must occur).
fn change(edits: &[(&str, &str)]) -> Report {
    let mut new = BASE.to_owned();
    for (from, to) in edits {
        assert!(new.contains(from), "{from:?} is not in the spec");
        new = new.replacen(from, to, 1);
    }
    diff(&model(BASE), &model(&new))
}

/// The one change of a report, as (kind, tool, pointer).
fn only(report: &Report) -> (Kind, Option<&str>, &str) {
    assert_eq!(report.changes.len(), 1, "{}", report.render());
    let c = &report.changes[0];
    (c.kind, c.tool.as_deref(), c.pointer.as_str())
}

#[test]
fn equal_specs_have_no_changes() {
    let report = diff(&model(BASE), &model(BASE));
    assert!(report.changes.is_empty());
    assert_eq!(report.semver, "none");
    assert_eq!(report.render(), "no changes\n");
}

#[test]
fn breaking_changes() {
    let cases: [(Edits, Option<&str>, &str); 7] = [
        // A tool removed (a rename is a removal and an addition).
        (
            &[("  - name: order\n", "  - name: place_order\n")],
            Some("order"),
            "",
        ),
        // An argument added as required.
        (
            &[(
                "        sku: { type: string }\n      required: [sku]",
                "        sku: { type: string }\n        qty: { type: integer }\n      required: [sku, qty]",
            )],
            Some("order"),
            "/input/properties/qty",
        ),
        // An optional argument made required.
        (
            &[("required: [query]", "required: [query, limit]")],
            Some("search"),
            "/input/required",
        ),
        // A type narrowed.
        (
            &[(
                "query: { type: string }",
                "query: { type: string, maxLength: 100 }",
            )],
            Some("search"),
            "/input/properties/query/maxLength",
        ),
        (
            &[(
                "limit: { type: integer, minimum: 1, maximum: 50 }",
                "limit: { type: integer, minimum: 1, maximum: 20 }",
            )],
            Some("search"),
            "/input/properties/limit/maximum",
        ),
        // An enum value removed.
        (
            &[("enum: [price, name]", "enum: [price]")],
            Some("search"),
            "/input/properties/sort/enum",
        ),
        // An output property removed.
        (
            &[(
                "        items: { type: array, items: { type: string } }\n",
                "",
            )],
            Some("search"),
            "/output/properties/items",
        ),
    ];
    for (edits, tool, pointer) in cases {
        let report = change(edits);
        let breaking: Vec<_> = report
            .changes
            .iter()
            .filter(|c| c.kind == Kind::Breaking)
            .collect();
        assert_eq!(breaking.len(), 1, "{edits:?}: {}", report.render());
        assert_eq!(breaking[0].tool.as_deref(), tool, "{edits:?}");
        assert_eq!(breaking[0].pointer, pointer, "{edits:?}");
        assert_eq!(report.semver, "major");
    }
    // The moved MCP URL breaks every client's configuration.
    let report = change(&[(
        "public_url: https://shop.example.com }",
        "public_url: https://shop.example.com, endpoint: /v2/mcp }",
    )]);
    assert_eq!(only(&report), (Kind::Breaking, None, "/server"));
}

#[test]
fn reconsent_changes() {
    let report = change(&[(
        "    scopes: [shop]\n    annotations: { read_only: true",
        "    scopes: [shop, orders.write]\n    annotations: { read_only: true",
    )]);
    assert_eq!(only(&report), (Kind::Reconsent, Some("search"), "/scopes"));
    assert_eq!(report.semver, "major");
    let report = change(&[(
        "default_scopes: [shop]",
        "default_scopes: [shop, orders.write]",
    )]);
    assert_eq!(
        only(&report),
        (Kind::Reconsent, None, "/auth/default_scopes")
    );
    assert!(
        report.changes[0]
            .message
            .contains("`shop` to `shop orders.write`")
    );
}

#[test]
fn safety_changes_are_moves_toward_risk_and_the_reverse_is_review() {
    for (from, to, pointer) in [
        (
            "read_only: true, destructive: false",
            "read_only: false, destructive: false",
            "/annotations/read_only",
        ),
        (
            "destructive: false, idempotent: true",
            "destructive: true, idempotent: true",
            "/annotations/destructive",
        ),
        (
            "idempotent: true, open_world: false",
            "idempotent: false, open_world: false",
            "/annotations/idempotent",
        ),
        (
            "idempotent: true, open_world: false",
            "idempotent: true, open_world: true",
            "/annotations/open_world",
        ),
    ] {
        let report = change(&[(from, to)]);
        assert_eq!(only(&report), (Kind::Safety, Some("search"), pointer));
        assert_eq!(report.semver, "minor");
    }
    let report = change(&[(
        "read_only: false, destructive: false, idempotent: false",
        "read_only: false, destructive: false, idempotent: true",
    )]);
    assert_eq!(
        only(&report),
        (Kind::Review, Some("order"), "/annotations/idempotent")
    );
}

#[test]
fn review_changes_are_text_hosts_reviewed() {
    let report = change(&[(
        "description: Search products.",
        "description: Search the catalogue.",
    )]);
    assert_eq!(
        only(&report),
        (Kind::Review, Some("search"), "/description")
    );
    assert_eq!(report.semver, "patch");
    let report = change(&[(
        "query: { type: string }",
        "query: { type: string, description: Free text }",
    )]);
    assert_eq!(
        only(&report),
        (
            Kind::Review,
            Some("search"),
            "/input/properties/query/description"
        )
    );
    let report = change(&[("title: Shop", "title: The Shop")]);
    assert_eq!(only(&report), (Kind::Review, None, "/title"));
}

#[test]
fn compatible_changes() {
    let report = change(&[(
        "        sku: { type: string }\n      required: [sku]",
        "        sku: { type: string }\n        note: { type: string }\n      required: [sku]",
    )]);
    assert_eq!(
        only(&report),
        (Kind::Compatible, Some("order"), "/input/properties/note")
    );
    assert_eq!(report.semver, "minor");
    let report = change(&[("maximum: 50", "maximum: 100")]);
    assert_eq!(
        only(&report),
        (
            Kind::Compatible,
            Some("search"),
            "/input/properties/limit/maximum"
        )
    );
    let report = change(&[("enum: [price, name]", "enum: [price, name, date]")]);
    assert_eq!(
        only(&report),
        (
            Kind::Compatible,
            Some("search"),
            "/input/properties/sort/enum"
        )
    );
    let report = change(&[(
        "  - name: order\n",
        "  - name: ping\n    description: Is it up.\n    input: { type: object }\n  - name: order\n",
    )]);
    assert_eq!(only(&report), (Kind::Compatible, Some("ping"), ""));
}

#[test]
fn shared_definitions_are_compared_through_ref() {
    let with_defs = |max: u32| {
        BASE.replace(
            "        sku: { type: string }\n      required: [sku]",
            &format!(
                "        sku: {{ $ref: '#/$defs/sku' }}\n      required: [sku]\n      $defs:\n        sku: {{ type: string, maxLength: {max} }}"
            ),
        )
    };
    let report = diff(&model(&with_defs(20)), &model(&with_defs(10)));
    assert_eq!(
        only(&report),
        (
            Kind::Breaking,
            Some("order"),
            "/input/properties/sku/maxLength"
        )
    );
}

// The command line: exit codes, --fail-on, JSON, git sources.

fn mcpgen(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcpgen"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mcpgen runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcpgen-diff-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn exit_codes_follow_fail_on() {
    let dir = scratch("fail-on");
    std::fs::write(dir.join("old.yaml"), BASE).unwrap();
    // One breaking change (a removed enum value) and one compatible (a relaxed maximum).
    let new = BASE
        .replace("enum: [price, name]", "enum: [price]")
        .replace("maximum: 50", "maximum: 60");
    std::fs::write(dir.join("new.yaml"), &new).unwrap();
    std::fs::write(
        dir.join("review.yaml"),
        BASE.replace("Search products.", "Find products."),
    )
    .unwrap();

    let code = |args: &[&str]| mcpgen(args, &dir).status.code();
    assert_eq!(
        code(&["diff", "old.yaml", "new.yaml"]),
        Some(1),
        "default: breaking"
    );
    assert_eq!(code(&["diff", "old.yaml", "review.yaml"]), Some(0));
    assert_eq!(
        code(&["diff", "old.yaml", "review.yaml", "--fail-on", "review"]),
        Some(1)
    );
    assert_eq!(
        code(&["diff", "old.yaml", "new.yaml", "--fail-on", "safety"]),
        Some(0)
    );
    assert_eq!(
        code(&["diff", "old.yaml", "new.yaml", "--fail-on", "compatible"]),
        Some(1)
    );
    assert_eq!(
        code(&[
            "diff",
            "old.yaml",
            "new.yaml",
            "--fail-on",
            "reconsent,safety"
        ]),
        Some(0)
    );
    assert_eq!(
        code(&[
            "diff",
            "old.yaml",
            "old.yaml",
            "--fail-on",
            "breaking,reconsent,safety,review,compatible"
        ]),
        Some(0)
    );
    // An unknown kind is a usage error; so are unreadable and invalid specs.
    let out = mcpgen(
        &["diff", "old.yaml", "new.yaml", "--fail-on", "major"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown kind `major`"));
    assert_eq!(code(&["diff", "old.yaml", "missing.yaml"]), Some(2));
    std::fs::write(
        dir.join("invalid.yaml"),
        BASE.replace("name: shop", "name: Shop!"),
    )
    .unwrap();
    let out = mcpgen(&["diff", "old.yaml", "invalid.yaml"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--> invalid.yaml:2:7"));

    let out = mcpgen(&["diff", "old.yaml", "new.yaml"], &dir);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "compatible tool `search`: maximum of `limit` relaxed from 50 to 60 (/input/properties/limit/maximum)\n\
         breaking   tool `search`: value \"name\" of `sort` removed (/input/properties/sort/enum)\n\
         semver: major (1 breaking, 1 compatible)\n"
    );
}

#[test]
fn json_report_has_the_documented_shape() {
    let dir = scratch("json");
    std::fs::write(dir.join("old.yaml"), BASE).unwrap();
    std::fs::write(
        dir.join("new.yaml"),
        BASE.replace(
            "default_scopes: [shop]",
            "default_scopes: [shop, orders.write]",
        ),
    )
    .unwrap();
    let out = mcpgen(&["diff", "old.yaml", "new.yaml", "--format", "json"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "reconsent does not fail by default"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({
            "changes": [{
                "kind": "reconsent",
                "tool": null,
                "pointer": "/auth/default_scopes",
                "message": "the scopes granted at connect change from `shop` to `shop orders.write`"
            }],
            "semver": "major"
        })
    );
}

#[test]
fn old_spec_from_git() {
    let dir = scratch("git");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/shop.yaml"), BASE).unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    std::fs::write(
        dir.join("specs/shop.yaml"),
        BASE.replace("  - name: order\n", "  - name: buy\n"),
    )
    .unwrap();

    let out = mcpgen(
        &["diff", "git:HEAD:specs/shop.yaml", "specs/shop.yaml"],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("breaking   tool `order`: tool removed"),
        "{text}"
    );
    assert!(text.contains("compatible tool `buy`: tool added"), "{text}");

    let out = mcpgen(
        &["diff", "git:HEAD:specs/nope.yaml", "specs/shop.yaml"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: cannot read `git:HEAD:specs/nope.yaml`")
    );
    let out = mcpgen(
        &["diff", "git:--output=x:specs/shop.yaml", "specs/shop.yaml"],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an option is never passed to git"
    );
    assert!(!dir.join("x").exists());
}

/// An argument removed from an input schema that accepts other properties is not refused: a
/// caller that still sends it is answered, without it taking effect. The message says so, as
/// `review` is otherwise text only; with `additionalProperties: false` it is breaking.
#[test]
fn an_argument_removed_from_an_open_schema_says_what_callers_see() {
    let report = change(&[(
        "        sku: { type: string }\n      required: [sku]",
        "        sku: { type: string }\n        gift: { type: boolean }\n      required: [sku]",
    )]);
    let new = BASE.replacen(
        "        sku: { type: string }\n      required: [sku]",
        "        sku: { type: string }\n        gift: { type: boolean }\n      required: [sku]",
        1,
    );
    assert_eq!(report.changes.len(), 1);
    let removed = diff(&model(&new), &model(BASE));
    assert_eq!(
        only(&removed),
        (Kind::Review, Some("order"), "/input/properties/gift")
    );
    assert_eq!(
        removed.changes[0].message,
        "argument `gift` removed: calls that still send it are answered as if it were absent"
    );
    let closed = |s: &str| {
        s.replace(
            "      required: [sku]\n",
            "      required: [sku]\n      additionalProperties: false\n",
        )
    };
    let removed = diff(&model(&closed(&new)), &model(&closed(BASE)));
    assert_eq!(
        only(&removed),
        (Kind::Breaking, Some("order"), "/input/properties/gift")
    );
    assert_eq!(
        removed.changes[0].message,
        "argument `gift` removed: calls that still send it are refused"
    );
}
