//! The resolved model: defaults a generated server relies on.

use mcpgen::model::Model;
use mcpgen::model::OidcModel;
use mcpgen::spec::{Handler, Login, ProtocolVersion};

fn load(yaml: &str) -> Model {
    match mcpgen::check("test.yaml", yaml.as_bytes()) {
        Ok(checked) => checked.model,
        Err(report) => panic!("{report}"),
    }
}

const MINIMAL: &str = "mcpgen: 1
name: order-desk
version: 0.1.0
server:
  public_url: https://MCP.Example.com/
auth:
  scopes:
    read: { description: Read }
    write: { description: Write }
  default_scopes: [read]
tools:
  - name: get-order
    description: Get an order.
    input: { type: object }
  - name: put_order
    description: Put an order.
    scopes: [write]
    title: Store
    annotations: { read_only: false }
    input: { type: object }
    handler: template
    template: ok
";

#[test]
fn defaults_are_filled_in() {
    let m = load(MINIMAL);
    assert_eq!(m.crate_name, "order-desk-mcp");
    assert_eq!(m.title, "Order desk");
    // The origin is normalised once, so every document the server emits agrees byte for byte.
    assert_eq!(m.public_url, "https://mcp.example.com");
    assert_eq!(m.endpoint, "/mcp");
    assert_eq!(m.resource, "https://mcp.example.com/mcp");
    assert_eq!(m.bind, "0.0.0.0:8080");
    assert_eq!(m.protocol_versions, ProtocolVersion::ALL.to_vec());
    let auth = m.auth.as_ref().unwrap();
    assert_eq!(auth.issuer, "https://mcp.example.com");
    assert_eq!(auth.login, Login::Password);
    assert_eq!(auth.oidc, None);
    assert_eq!(
        (auth.access_ttl_secs, auth.refresh_ttl_secs),
        (3600, 30 * 86400)
    );
    assert_eq!(auth.refresh_reuse_grace_secs, 120);
    assert!(auth.dynamic_registration);
    assert!(!auth.client_id_metadata_documents);

    let get = &m.tools[0];
    assert_eq!(
        (get.ident.as_str(), get.type_name.as_str()),
        ("get_order", "GetOrder")
    );
    assert_eq!(get.title, "Get order");
    assert_eq!(
        get.scopes,
        ["read"],
        "a tool without scopes needs the default scopes"
    );
    assert_eq!(get.handler, Handler::Rust);
    let a = &get.annotations;
    assert_eq!(
        (a.read_only, a.destructive, a.idempotent, a.open_world),
        (false, true, false, true),
        "the MCP defaults, stated"
    );

    let put = &m.tools[1];
    assert_eq!(put.scopes, ["write"]);
    assert_eq!(put.title, "Store");
    assert_eq!(put.handler, Handler::Template);
}

#[test]
fn refresh_reuse_grace_is_read_from_the_spec() {
    let yaml = MINIMAL.replace("auth:\n", "auth:\n  tokens: { refresh_reuse_grace: 90s }\n");
    assert_ne!(yaml, MINIMAL);
    let m = load(&yaml);
    assert_eq!(m.auth.unwrap().refresh_reuse_grace_secs, 90);
}

/// `auth.login` picks how people sign in; the former `consent` key still works as its alias;
/// `auth.oidc` carries its provider and rules into the model, with `login: oidc` or beside
/// another login.
#[test]
fn login_modes_and_the_former_consent_key() {
    let with = |lines: &str| load(&MINIMAL.replace("auth:\n", &format!("auth:\n{lines}")));
    assert_eq!(with("  login: users\n").auth.unwrap().login, Login::Users);
    let loopback = |yaml: String| yaml.replace("https://MCP.Example.com/", "http://127.0.0.1:8000");
    let m = load(&loopback(
        MINIMAL.replace("auth:\n", "auth:\n  consent: auto\n"),
    ));
    assert_eq!(m.auth.unwrap().login, Login::Auto);
    let m = with("  consent: password\n");
    assert_eq!(m.auth.unwrap().login, Login::Password);
    let m = with(
        "  login: oidc\n  oidc:\n    issuer: https://idp.example.com/realms/staff\n    allow:\n      domains: [example.com]\n      claim: { name: groups, value: mcp-users }\n",
    );
    let auth = m.auth.unwrap();
    assert_eq!(auth.login, Login::Oidc);
    assert_eq!(
        auth.oidc,
        Some(OidcModel {
            issuer: Some("https://idp.example.com/realms/staff".into()),
            emails: vec![],
            domains: vec!["example.com".into()],
            claim: Some(("groups".into(), "mcp-users".into())),
        })
    );
    // Beside another login, `auth.oidc` is kept for `--login oidc` (as `--login users` needs
    // nothing from the spec, `--login oidc` needs the rule from it).
    let m = with(
        "  login: users
  oidc:
    allow: { emails: [ada@example.com] }
",
    );
    let auth = m.auth.unwrap();
    assert_eq!(auth.login, Login::Users);
    assert_eq!(
        auth.oidc.map(|o| o.emails),
        Some(vec!["ada@example.com".to_owned()])
    );
}

#[test]
fn loopback_servers_bind_loopback_on_their_port() {
    let m = load(
        "mcpgen: 1\nname: local\nversion: 0.1.0\nserver: { public_url: 'http://127.0.0.1:8787' }\nauth: none\n",
    );
    assert!(m.public_url_is_loopback);
    assert_eq!(m.bind, "127.0.0.1:8787");
    assert!(m.auth.is_none());
}

#[test]
fn positions_count_characters_not_bytes() {
    // Columns after non-ASCII text are in characters, as editors show them.
    let yaml = "{mcpgen: 1, name: demo, version: 0.1.0, description: \"Ünïcödé — ok\", bogus: 1, server: {public_url: \"https://x.example.com\"}}\n";
    let report = mcpgen::check("t.yaml", yaml.as_bytes()).unwrap_err();
    assert!(report.contains("--> t.yaml:1:70"), "{report}");
}

#[test]
fn the_incident_spec_is_refused_at_both_places() {
    // The failure that started mcpgen: an empty scope, and a scope with a trailing space.
    let yaml = "mcpgen: 1
name: medtainer
version: 0.1.0
server: { public_url: 'https://medtainer.aijesusbro.com' }
auth:
  scopes:
    claudeai: { description: Claude }
    '': { description: nothing }
  default_scopes: ['claudeai ']
";
    let diags = mcpgen::load(yaml.as_bytes()).unwrap_err();
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        ["scope name is empty", "scope `claudeai ` ends with a space"]
    );
}

#[test]
fn hosted_client_origins_default_narrow_or_off() {
    let with = |line: &str| {
        load(&MINIMAL.replace(
            "  public_url: https://MCP.Example.com/\n",
            &format!("  public_url: https://MCP.Example.com/\n{line}"),
        ))
        .hosted_client_origins
    };
    // Absent or `true`: the runtime's list, so a runtime upgrade can extend it.
    assert_eq!(with(""), None);
    assert_eq!(with("  hosted_client_origins: true\n"), None);
    assert_eq!(with("  hosted_client_origins: false\n"), Some(vec![]));
    assert_eq!(
        with("  hosted_client_origins: [https://claude.ai]\n"),
        Some(vec!["https://claude.ai".to_owned()])
    );
}

/// The model names every Rust item the emitters print: tool types, nested types, handler
/// methods and template fields, so no later stage decides a name.
#[test]
fn the_model_carries_every_rust_name() {
    let m = load(MINIMAL);
    let get = &m.tools[0];
    assert_eq!(get.input_type.as_deref(), Some("GetOrderInput"));
    assert_eq!(get.output_type, None);
    assert_eq!(get.template_field, None);
    let put = &m.tools[1];
    assert_eq!(
        put.input_type, None,
        "a template reads its arguments as JSON"
    );
    assert_eq!(put.template_field.as_deref(), Some("put_order_template"));
    let names: Vec<&str> = m.types.defs.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["GetOrderInput"]);
}

const TYPED: &str = r##"mcpgen: 1
name: typed
version: 0.1.0
server: { public_url: "http://127.0.0.1:9000" }
auth: none
tools:
  - name: find
    description: Find.
    input:
      type: object
      $defs:
        prio: { type: string, enum: [low, high] }
      properties:
        limit: { type: integer, default: 10 }
        ratio: { type: number, default: -0.5 }
        exact: { type: boolean, default: false }
        sort: { type: string, enum: [name, date], default: date }
        label: { type: string, default: "any" }
        tags: { type: array, items: { type: string }, default: [] }
        first: { $ref: "#/$defs/prio" }
        second: { $ref: "#/$defs/prio" }
        near:
          type: object
          properties:
            lat: { type: number }
      required: [first]
"##;

/// A property with a default is its plain type, filled by serde with the schema's default
/// (the value the runtime fills into the arguments); a `$ref` used twice is one type; a nested
/// type without a description is documented from where it sits.
#[test]
fn defaults_live_in_the_types_and_each_definition_is_one_type() {
    use mcpgen::types::{DefaultValue, Presence, RustType, TypeDef};
    let m = load(TYPED);
    let names: Vec<&str> = m.types.defs.iter().map(|d| d.name()).collect();
    assert_eq!(
        names,
        [
            "FindInput",
            "FindInputSort",
            "FindInputPrio",
            "FindInputNear"
        ]
    );
    let TypeDef::Struct { fields, .. } = &m.types.defs[0] else {
        panic!("a struct");
    };
    let field = |name: &str| fields.iter().find(|f| f.ident == name).unwrap();
    let default = |name: &str| match &field(name).presence {
        Presence::Default { value, .. } => Some(value.clone()),
        _ => None,
    };
    assert_eq!(field("limit").ty, RustType::I64);
    assert_eq!(default("limit"), Some(DefaultValue::I64(10)));
    assert_eq!(default("ratio"), Some(DefaultValue::F64(-0.5)));
    assert_eq!(default("exact"), Some(DefaultValue::Bool(false)));
    assert_eq!(
        default("sort"),
        Some(DefaultValue::Variant("FindInputSort".into(), "Date".into()))
    );
    assert_eq!(default("label"), Some(DefaultValue::String("any".into())));
    // A default no literal of the type holds stays an `Option`, its default named in the docs.
    assert_eq!(field("tags").presence, Presence::Optional);
    assert!(field("tags").doc.contains(&"Default: `[]`.".to_owned()));
    assert_eq!(field("first").ty, RustType::Named("FindInputPrio".into()));
    assert_eq!(field("second").ty, field("first").ty);
    let TypeDef::Struct { doc, .. } = &m.types.defs[3] else {
        panic!("a struct");
    };
    assert_eq!(doc, &["The `near` property of [`FindInput`]."]);
}
