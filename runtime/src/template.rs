//! Text results of `handler: template` tools: a minijinja template compiled once, rendered
//! with the call's arguments in scope, and `caller`.
//!
//! What a template sees:
//! - every argument of the call by its name, after the input schema's defaults were filled in
//!   (see `mcp::defaults`); an optional argument the caller left out, without a default, is
//!   undefined: `{% if tags %}` tests it, printing it is an error naming it;
//! - `caller`: who is calling: `caller.subject` (who the person is to this server, see
//!   [`Person`](crate::auth::Person)), `caller.name` and `caller.email` (when known, else
//!   none: `{% if caller.email %}` tests them), `caller.client_id` (the OAuth client) and
//!   `caller.scopes` (a list of the token's scopes). Without authentication (`auth: none`),
//!   `subject` and `client_id` are the text `none`, `name` and `email` are none.
//!
//! The environment matches the generator's: semi-strict undefined (printing, iterating or
//! reading an attribute of an undefined value is an error, not an empty string; testing it is
//! false) and trailing newlines kept, so what `mcpgen build` accepted renders the same way
//! here. Nothing is HTML-escaped: the output is text for a model.

use std::collections::BTreeSet;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

use crate::tools::{ToolContext, ToolError, ToolResult};

/// The name under which a template sees who is calling; no argument may use it.
pub const CALLER: &str = "caller";

/// One compiled tool template. Cheap to render from many tasks at once (`Send + Sync`).
///
/// ```
/// # use mcpgen_runtime::template::Template;
/// let t = Template::new("greet", "Hello {{ name }}!\n").unwrap();
/// let r = t.render(&serde_json::json!({"name": "Ada"})).unwrap();
/// assert_eq!(r, mcpgen_runtime::tools::ToolResult::text("Hello Ada!\n"));
/// ```
pub struct Template {
    env: Environment<'static>,
    name: String,
    /// Top-level variables the template reads that no global provides: the arguments it
    /// needs. Used to turn "undefined value" into a message naming them.
    needs: BTreeSet<String>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// A template that does not compile. Generated servers only see this for a template edited
/// by hand after `mcpgen build` validated it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template engine could not be set up for the tool, or could not load its template.
    #[error("template of tool {tool}: {source}")]
    Engine {
        tool: String,
        #[source]
        source: minijinja::Error,
    },
    /// The template's syntax is wrong.
    #[error("template of tool {tool} does not compile: {source}")]
    Compile {
        tool: String,
        #[source]
        source: minijinja::Error,
    },
}

impl Template {
    /// Compiles `source` as the template of tool `name`.
    pub fn new(name: &str, source: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // Optional arguments are undefined when left out: `{% if x %}` must work on them.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // Auto-escaping is chosen by the template name's extension; tool names have none, but
        // the output is never HTML, so turn it off outright.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        let syntax = SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .map_err(|source| TemplateError::Engine {
                tool: name.to_owned(),
                source,
            })?;
        env.set_syntax(syntax);
        env.add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|source| TemplateError::Compile {
                tool: name.to_owned(),
                source,
            })?;
        let needs = {
            let tmpl = env
                .get_template(name)
                .map_err(|source| TemplateError::Engine {
                    tool: name.to_owned(),
                    source,
                })?;
            let globals: BTreeSet<&str> = env.globals().map(|(k, _)| k).collect();
            tmpl.undeclared_variables(false)
                .into_iter()
                .filter(|v| !globals.contains(v.as_str()) && v != CALLER)
                .collect()
        };
        Ok(Self {
            env,
            name: name.to_owned(),
            needs,
        })
    }

    /// The tool's name, as given to [`Template::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders the template with the arguments' members as variables (and no `caller`) and
    /// returns the text as a one-block result. A failure is a [`ToolError`] the model can act
    /// on: a missing argument is named, anything else carries minijinja's message and line.
    pub fn render(&self, args: &Value) -> Result<ToolResult, ToolError> {
        self.render_value(args, args)
    }

    /// [`Template::render`], with `caller` describing who calls (see the module docs).
    pub fn render_for(&self, args: &Value, ctx: &ToolContext) -> Result<ToolResult, ToolError> {
        let principal = ctx.principal();
        let mut scope = match args {
            Value::Object(members) => members.clone(),
            _ => serde_json::Map::new(),
        };
        scope.insert(
            CALLER.to_owned(),
            serde_json::json!({
                "subject": ctx.subject().unwrap_or("none"),
                "name": ctx.name(),
                "email": ctx.email(),
                "client_id": principal.client_id.as_deref().unwrap_or("none"),
                "scopes": principal.scopes.iter().collect::<Vec<_>>(),
            }),
        );
        self.render_value(&Value::Object(scope), args)
    }

    fn render_value(&self, scope: &Value, args: &Value) -> Result<ToolResult, ToolError> {
        let tmpl = self
            .env
            .get_template(&self.name)
            .map_err(|e| ToolError::new(format!("cannot render the result: {e}")))?;
        match tmpl.render(minijinja::value::Serde(scope)) {
            Ok(text) => Ok(ToolResult::text(text)),
            Err(e) => Err(self.explain(args, &e)),
        }
    }

    fn explain(&self, args: &Value, e: &minijinja::Error) -> ToolError {
        if e.kind() == ErrorKind::UndefinedError {
            let given = args.as_object();
            let missing: Vec<&str> = self
                .needs
                .iter()
                .filter(|v| given.is_none_or(|o| !o.contains_key(v.as_str())))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                let list = missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let noun = if missing.len() == 1 {
                    "argument"
                } else {
                    "arguments"
                };
                return ToolError::new(format!(
                    "missing {noun} {list}: call the tool again with {list} set"
                ));
            }
        }
        // minijinja's own message already names the construct ("undefined value", "cannot
        // perform a containment check on this value"); add where it happened.
        let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
        let line = e
            .line()
            .map(|l| format!(" (template line {l})"))
            .unwrap_or_default();
        ToolError::new(format!(
            "cannot render the result: {}{detail}{line}",
            e.kind()
        ))
    }
}
