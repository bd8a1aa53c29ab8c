//! Template tools: compiled once with semi-strict undefined (optional arguments testable,
//! never printed as empty) and trailing newlines kept; render failures are tool errors the
//! model can act on; `caller` says who calls. Also checks that the re-exports are enough for
//! generated code.

use mcpgen_runtime::auth::{Person, Principal};
use mcpgen_runtime::template::Template;
use mcpgen_runtime::tools::{Content, ToolContext, ToolResult};
use serde_json::json;

fn text(r: &ToolResult) -> &str {
    match r.content.as_slice() {
        [Content::Text { text, .. }] => text,
        other => panic!("one text block expected, got {other:?}"),
    }
}

#[test]
fn renders_arguments_and_keeps_the_trailing_newline() {
    let t = Template::new("status", "Order {{ id }}: {{ items | length }} items\n").unwrap();
    assert_eq!(t.name(), "status");
    let r = t.render(&json!({"id": "A1", "items": [1, 2, 3]})).unwrap();
    assert_eq!(text(&r), "Order A1: 3 items\n");
    assert!(!r.is_error);
    assert_eq!(r.structured_content, None);
}

#[test]
fn output_is_not_html_escaped() {
    let t = Template::new("raw", "{{ q }}").unwrap();
    let r = t.render(&json!({"q": "<b>&\"'"})).unwrap();
    assert_eq!(text(&r), "<b>&\"'");
}

#[test]
fn control_flow_and_json() {
    let t = Template::new(
        "list",
        "{% for o in orders %}{{ loop.index }}. {{ o.id }}{% if not loop.last %}, {% endif %}{% endfor %}\
         {% if note is defined %} ({{ note }}){% endif %} {{ orders | tojson }}",
    )
    .unwrap();
    let r = t
        .render(&json!({"orders": [{"id": "a"}, {"id": "b"}]}))
        .unwrap();
    assert_eq!(text(&r), "1. a, 2. b [{\"id\": \"a\"}, {\"id\": \"b\"}]");
    let r = t
        .render(&json!({"orders": [], "note": "none yet"}))
        .unwrap();
    assert_eq!(text(&r), " (none yet) []");
    let t = Template::new("d", "{{ note | default('no note') }}").unwrap();
    assert_eq!(text(&t.render(&json!({})).unwrap()), "no note");
}

#[test]
fn a_missing_argument_is_named() {
    let t = Template::new(
        "greet",
        "Hello {{ name }} from {{ city }}, {{ range(2) | list }}",
    )
    .unwrap();
    let e = t.render(&json!({"city": "Oslo"})).unwrap_err();
    assert_eq!(
        e.message(),
        "missing argument `name`: call the tool again with `name` set"
    );
    let e = t.render(&json!({})).unwrap_err();
    assert_eq!(
        e.message(),
        "missing arguments `city`, `name`: call the tool again with `city`, `name` set"
    );
}

/// The project's own `local-notes` example: `format_note` without the optional `tags` must
/// render (it used to answer "missing argument `tags`"), and printing an optional argument
/// that was left out still names it.
#[test]
fn optional_arguments_left_out_are_testable_not_missing() {
    let t = Template::new(
        "format_note",
        "# {{ title }}\n{{ body }}\n{% if tags %}tags: {{ tags | join(\", \") }}{% endif %}",
    )
    .unwrap();
    let r = t.render(&json!({"title": "T", "body": "B"})).unwrap();
    assert_eq!(text(&r), "# T\nB\n");
    let r = t
        .render(&json!({"title": "T", "body": "B", "tags": ["a", "b"]}))
        .unwrap();
    assert_eq!(text(&r), "# T\nB\ntags: a, b");
    let t = Template::new("p", "{{ title }} {{ tags }}").unwrap();
    let e = t.render(&json!({"title": "T"})).unwrap_err();
    assert_eq!(
        e.message(),
        "missing argument `tags`: call the tool again with `tags` set"
    );
}

#[test]
fn caller_names_the_client_and_its_scopes() {
    let t = Template::new(
        "who",
        "{{ caller.client_id }} [{{ caller.scopes | join(' ') }}] {{ n }}",
    )
    .unwrap();
    let ctx = ToolContext::detached(Principal {
        client_id: Some("client-1".into()),
        scopes: ["notes".to_owned(), "a".to_owned()].into(),
        ..Default::default()
    });
    let r = t.render_for(&json!({"n": 1}), &ctx).unwrap();
    assert_eq!(text(&r), "client-1 [a notes] 1");
    let anonymous = ToolContext::detached(Principal::default());
    let r = t.render_for(&json!({"n": 2}), &anonymous).unwrap();
    assert_eq!(text(&r), "none [] 2");
    // `caller` is never reported as a missing argument.
    let e = t.render_for(&json!({}), &ctx).unwrap_err();
    assert_eq!(
        e.message(),
        "missing argument `n`: call the tool again with `n` set"
    );
}

/// A template names the person calling: subject, name and email (tested, since either may be
/// unknown), and says so when nobody signed in.
#[test]
fn caller_names_the_person() {
    let t = Template::new(
        "whoami",
        "{{ caller.subject }}{% if caller.name %} ({{ caller.name }}){% endif %}\
         {% if caller.email %} <{{ caller.email }}>{% endif %} via {{ caller.client_id }}",
    )
    .unwrap();
    let ada = ToolContext::detached(Principal {
        client_id: Some("client-1".into()),
        person: Some(Person {
            subject: "ada".into(),
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.com".into()),
        }),
        ..Default::default()
    });
    let r = t.render_for(&json!({}), &ada).unwrap();
    assert_eq!(
        text(&r),
        "ada (Ada Lovelace) <ada@example.com> via client-1"
    );
    let bare = ToolContext::detached(Principal {
        client_id: Some("client-2".into()),
        person: Some(Person::operator()),
        ..Default::default()
    });
    let r = t.render_for(&json!({}), &bare).unwrap();
    assert_eq!(text(&r), "operator via client-2");
    assert_eq!(bare.subject(), Some("operator"));
    assert_eq!(ada.email(), Some("ada@example.com"));
    let r = t
        .render_for(&json!({}), &ToolContext::detached(Principal::default()))
        .unwrap();
    assert_eq!(text(&r), "none via none");
}

#[test]
fn other_render_errors_say_what_and_where() {
    let t = Template::new("deep", "line one\n{{ order.missing.deeper }}").unwrap();
    let e = t.render(&json!({"order": {}})).unwrap_err();
    assert!(
        e.message().starts_with("cannot render the result: "),
        "{}",
        e.message()
    );
    assert!(e.message().contains("line 2"), "{}", e.message());
    let t = Template::new("bad_op", "{{ n + 'x' }}").unwrap();
    let e = t.render(&json!({"n": 1})).unwrap_err();
    assert!(
        e.message().starts_with("cannot render the result: "),
        "{}",
        e.message()
    );
}

#[test]
fn a_template_that_does_not_compile_is_an_error() {
    let e = Template::new("broken", "{% if x %}unclosed").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("template of tool broken does not compile"),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'), "{e}");
}

#[test]
fn templates_are_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Template>();
}

// What generated code writes: every path through `::mcpgen_runtime`, nothing else.
#[derive(
    ::mcpgen_runtime::serde::Deserialize, ::mcpgen_runtime::serde::Serialize, Debug, PartialEq,
)]
#[serde(crate = "::mcpgen_runtime::serde")]
struct GetOrderInput {
    order_id: String,
    #[serde(default)]
    verbose: Option<bool>,
}

#[test]
fn reexports_serve_generated_code() {
    let v: ::mcpgen_runtime::serde_json::Value =
        ::mcpgen_runtime::serde_json::json!({"order_id": "A1"});
    let input: GetOrderInput = ::mcpgen_runtime::serde_json::from_value(v).unwrap();
    assert_eq!(
        input,
        GetOrderInput {
            order_id: "A1".into(),
            verbose: None
        }
    );
    ::mcpgen_runtime::tracing::info!(order = %input.order_id, "tracing is re-exported");
    let rt = ::mcpgen_runtime::tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async { 1 + 1 }), 2);
}
