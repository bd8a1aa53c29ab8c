//! The administrative subcommands of a generated server: `clients list`, `clients revoke`,
//! `grants list` and `tokens revoke`. They act on the store the servers share (`--store`,
//! `MCPGEN_STORE`): a SQLite file or a Redis, so on a running deployment and on every replica
//! at once, since each replica reads token state from the store on every request. The
//! `memory` store lives inside one server process and is refused.
//!
//! Text output is an aligned table for people, every value a client supplied (its name, its
//! redirect URIs) with control and bidirectional-text characters escaped. `--json` prints
//! one JSON object for programs, in the shapes documented on [`ClientJson`] and
//! [`GrantJson`]; characters a terminal would act on are `\u` escapes there too.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use crate::config::StartError;
use crate::store::{self, ClientSummary, GrantFilter, GrantSummary, Store};

/// An administrative command and the store it acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The store URL (`sqlite:PATH` or `redis://...`; never `memory`). May carry a password:
    /// never print it whole.
    pub store: String,
    pub command: AdminCommand,
}

/// What an administrative command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `clients list [--json]`.
    ClientsList { json: bool },
    /// `clients revoke CLIENT_ID`: delete the client and revoke its grants.
    ClientsRevoke { client_id: String },
    /// `grants list [--client ID] [--subject S] [--json]`.
    GrantsList { filter: GrantFilter, json: bool },
    /// `tokens revoke (--client ID | --subject S | --all)`; an empty filter is `--all`.
    TokensRevoke { filter: GrantFilter },
}

impl AdminCommand {
    /// The command as typed (`clients list`), for messages.
    pub fn name(&self) -> &'static str {
        match self {
            AdminCommand::ClientsList { .. } => "clients list",
            AdminCommand::ClientsRevoke { .. } => "clients revoke",
            AdminCommand::GrantsList { .. } => "grants list",
            AdminCommand::TokensRevoke { .. } => "tokens revoke",
        }
    }
}

/// `clients ...` on the command line.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClientsCli {
    /// List registered clients: id, name, redirect hosts, registration, last token issued or
    /// refreshed, live grants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and revoke all its grants: its tokens are refused at once, and it must
    /// register again.
    Revoke {
        /// The client's id, as `clients list` shows it.
        #[arg(value_name = "CLIENT_ID")]
        client_id: String,
    },
}

/// `grants ...` on the command line.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum GrantsCli {
    /// List live grants (a grant: the tokens one authorization issued, with their refreshes).
    List {
        /// Only the grants of this client.
        #[arg(long, value_name = "CLIENT_ID")]
        client: Option<String>,
        /// Only the grants of this person (their subject, as the SUBJECT column shows it).
        #[arg(long, value_name = "SUBJECT")]
        subject: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `tokens ...` on the command line.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum TokensCli {
    /// Revoke grants, and with them every token they issued; prints how many.
    Revoke(TokensRevokeArgs),
}

/// Which grants `tokens revoke` revokes: exactly one of the flags.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct TokensRevokeArgs {
    /// The grants of this client (the client stays registered).
    #[arg(long, value_name = "CLIENT_ID")]
    client: Option<String>,
    /// The grants of this person, with every client, and their authorization codes not yet
    /// exchanged.
    #[arg(long, value_name = "SUBJECT")]
    subject: Option<String>,
    /// Every grant: every user of every client signs in again.
    #[arg(long)]
    all: bool,
}

impl From<ClientsCli> for AdminCommand {
    fn from(c: ClientsCli) -> Self {
        match c {
            ClientsCli::List { json } => AdminCommand::ClientsList { json },
            ClientsCli::Revoke { client_id } => AdminCommand::ClientsRevoke { client_id },
        }
    }
}

impl From<GrantsCli> for AdminCommand {
    fn from(c: GrantsCli) -> Self {
        match c {
            GrantsCli::List {
                client,
                subject,
                json,
            } => AdminCommand::GrantsList {
                filter: GrantFilter {
                    client_id: client,
                    subject,
                },
                json,
            },
        }
    }
}

impl From<TokensCli> for AdminCommand {
    fn from(c: TokensCli) -> Self {
        match c {
            TokensCli::Revoke(a) => AdminCommand::TokensRevoke {
                // The flags exclude each other (clap's group): neither client nor subject is all.
                filter: GrantFilter {
                    client_id: a.client.filter(|_| !a.all),
                    subject: a.subject.filter(|_| !a.all),
                },
            },
        }
    }
}

/// A failure of an administrative command once its store is open. Exit code 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The store failed.
    #[error("{}", .0.detail())]
    Store(#[from] store::StoreError),
    /// `clients revoke` of a client that is neither registered nor holds grants.
    #[error("no client {client_id:?} in the store: list them with `{name} clients list`")]
    UnknownClient { client_id: String, name: String },
    /// The SQLite file the store names does not exist (opening it would create an empty
    /// one, and the command would report on that instead of the servers' store).
    #[error("store file {path:?} does not exist: point --store at the servers' store")]
    NoStoreFile { path: String },
}

/// What the commands need to know of the server: its program name (for messages) and how
/// long a grant revoked now must stay revoked.
#[derive(Debug, Clone, Copy)]
pub struct ServerTerms<'a> {
    pub name: &'a str,
    /// The longest life of a token or code issued from now on (the longer of the access
    /// and refresh token lifetimes, plus an authorization code's): a person's code not yet
    /// exchanged may still become tokens.
    pub keep_revoked: std::time::Duration,
}

impl<'a> From<&'a crate::app::App> for ServerTerms<'a> {
    fn from(app: &'a crate::app::App) -> Self {
        let longest = app.auth.as_ref().map_or(std::time::Duration::ZERO, |a| {
            a.refresh_ttl.max(a.access_ttl)
        });
        Self {
            name: app.name,
            keep_revoked: longest + crate::oauth::CODE_TTL,
        }
    }
}

/// Runs `admin` for the server `terms` describes: prints its output to stdout and answers
/// the exit code (0 done, 1 failed, 2 the store does not open).
pub fn run(admin: &Admin, terms: ServerTerms<'_>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return crate::app::start_error(&StartError::Runtime(e)),
    };
    runtime.block_on(async {
        if let Some(path) = missing_sqlite_file(&admin.store) {
            return fail(&AdminError::NoStoreFile { path });
        }
        let store = match store::open(&admin.store).await {
            Ok(s) => s,
            Err(source) => {
                return crate::app::start_error(&StartError::OpenStore {
                    store: crate::config::redact_store(&admin.store),
                    source,
                });
            }
        };
        match execute(&*store, &admin.command, terms, now()).await {
            Ok(text) => {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is the reader's choice, not a failure to report.
                match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(_) => ExitCode::FAILURE,
                }
            }
            Err(e) => fail(&e),
        }
    })
}

fn fail(e: &AdminError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The path of a `sqlite:` store whose file does not exist.
pub(crate) fn missing_sqlite_file(url: &str) -> Option<String> {
    let url = url.trim();
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    // URI forms (`file:...`) and in-memory databases are SQLite's to resolve.
    if path.starts_with("file:") || path.contains(":memory:") {
        return None;
    }
    (!std::path::Path::new(path).exists()).then(|| path.to_owned())
}

/// Runs `command` on `store` at `now` (unix seconds) and answers what to print.
pub async fn execute(
    store: &dyn Store,
    command: &AdminCommand,
    terms: ServerTerms<'_>,
    now: u64,
) -> Result<String, AdminError> {
    match command {
        AdminCommand::ClientsList { json } => {
            let clients = store.list_clients(now).await?;
            Ok(if *json {
                clients_json(&clients)
            } else {
                clients_table(&clients)
            })
        }
        AdminCommand::ClientsRevoke { client_id } => {
            let removed = store.remove_client(client_id, now).await?;
            let grants = plural(removed.grants, "grant");
            if removed.found {
                Ok(format!(
                    "removed client {}; revoked {grants}\n",
                    escape(client_id)
                ))
            } else if removed.grants > 0 {
                // A client known by its metadata document URL is never stored.
                Ok(format!(
                    "client {} is not registered; revoked {grants}\n",
                    escape(client_id)
                ))
            } else {
                Err(AdminError::UnknownClient {
                    client_id: client_id.clone(),
                    name: terms.name.to_owned(),
                })
            }
        }
        AdminCommand::GrantsList { filter, json } => {
            let grants = store.list_grants(filter, now).await?;
            Ok(if *json {
                grants_json(&grants)
            } else {
                grants_table(&grants)
            })
        }
        AdminCommand::TokensRevoke { filter } => {
            let n = match filter {
                // A person's codes not yet exchanged too: their tokens are born revoked.
                GrantFilter {
                    client_id: None,
                    subject: Some(subject),
                } => {
                    let keep_until = now.saturating_add(terms.keep_revoked.as_secs());
                    store.revoke_subject(subject, now, keep_until).await?
                }
                _ => store.revoke_grants(filter, now).await?,
            };
            Ok(format!("revoked {}\n", plural(n, "grant")))
        }
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One client in `clients list --json`, which prints `{"clients": [ClientJson, ...]}`, by
/// registration time. Times are unix seconds.
#[derive(Debug, Serialize)]
pub struct ClientJson<'a> {
    pub client_id: &'a str,
    /// `client_name` as registered; `null` if none.
    pub client_name: Option<&'a str>,
    pub redirect_uris: &'a [String],
    /// The hosts (`host[:port]`, or `scheme:` for a URI without a host) of `redirect_uris`,
    /// each once.
    pub redirect_hosts: Vec<String>,
    /// `none`, `client_secret_post` or `client_secret_basic`.
    pub token_endpoint_auth_method: &'a str,
    pub registered_at: u64,
    /// When a token was last issued to the client or refreshed by it; `null` if never.
    pub last_used_at: Option<u64>,
    /// How many live grants it holds.
    pub grants: u64,
}

/// One grant in `grants list --json`, which prints `{"grants": [GrantJson, ...]}`, by issue
/// time. Times are unix seconds.
#[derive(Debug, Serialize)]
pub struct GrantJson<'a> {
    /// The grant's id (its token family): not a credential.
    pub grant_id: &'a str,
    pub client_id: &'a str,
    /// The person it belongs to.
    pub subject: &'a str,
    pub scopes: &'a [String],
    pub issued_at: u64,
    /// When it was last refreshed; `null` if never.
    pub refreshed_at: Option<u64>,
    /// When its last token expires, unless refreshed again.
    pub expires_at: u64,
}

fn clients_json(clients: &[ClientSummary]) -> String {
    let rows: Vec<ClientJson<'_>> = clients
        .iter()
        .map(|c| ClientJson {
            client_id: &c.client.client_id,
            client_name: c.client.client_name.as_deref(),
            redirect_uris: &c.client.redirect_uris,
            redirect_hosts: redirect_hosts(&c.client.redirect_uris),
            token_endpoint_auth_method: &c.client.token_endpoint_auth_method,
            registered_at: c.client.client_id_issued_at,
            last_used_at: c.last_used,
            grants: c.grants,
        })
        .collect();
    json_document("clients", &rows)
}

fn grants_json(grants: &[GrantSummary]) -> String {
    let rows: Vec<GrantJson<'_>> = grants
        .iter()
        .map(|g| GrantJson {
            grant_id: &g.family,
            client_id: &g.client_id,
            subject: &g.subject,
            scopes: &g.scopes,
            issued_at: g.issued_at,
            refreshed_at: g.refreshed_at,
            expires_at: g.expires_at,
        })
        .collect();
    json_document("grants", &rows)
}

/// `{"<key>": rows}`, pretty, with a final newline. serde_json escapes C0 controls; the
/// other characters a terminal acts on (DEL, C1 controls, bidirectional controls) become `\u`
/// escapes too, so `cat`ing the output is as safe as the table. They never occur outside
/// strings (JSON's own syntax is ASCII), and are all in the Basic Multilingual Plane.
fn json_document<T: Serialize>(key: &str, rows: &[T]) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert(
        key.to_owned(),
        serde_json::to_value(rows).unwrap_or_default(),
    );
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if c > '\u{1f}' && mcpgen_rules::is_unsafe_char(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    out
}

/// `host[:port]` of each http(s) redirect URI, `scheme:` of the others, each once.
fn redirect_hosts(uris: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for uri in uris {
        let host = match url::Url::parse(uri) {
            Ok(u) => match u.host_str() {
                Some(h) => match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                },
                None => format!("{}:", u.scheme()),
            },
            Err(_) => uri.clone(),
        };
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// `s` with every character that must not reach a terminal raw (controls, bidirectional
/// controls) written as an escape: `\n`, `\r`, `\t`, else `\u{...}`.
fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(mcpgen_rules::is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if mcpgen_rules::is_unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A time for the table: `2026-11-29 18:30:51Z` (UTC); `-` for none.
fn time_cell(t: Option<u64>) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    t.and_then(|t| i64::try_from(t).ok())
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "-".to_owned())
}

fn clients_table(clients: &[ClientSummary]) -> String {
    let rows = clients
        .iter()
        .map(|c| {
            vec![
                escape(&c.client.client_id).into_owned(),
                c.client
                    .client_name
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |n| escape(n).into_owned()),
                escape(&redirect_hosts(&c.client.redirect_uris).join(",")).into_owned(),
                time_cell(Some(c.client.client_id_issued_at)),
                time_cell(c.last_used),
                c.grants.to_string(),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "CLIENT ID",
            "NAME",
            "REDIRECT HOSTS",
            "REGISTERED",
            "LAST USED",
            "GRANTS",
        ],
        &rows,
    )
}

fn grants_table(grants: &[GrantSummary]) -> String {
    let rows = grants
        .iter()
        .map(|g| {
            vec![
                escape(&g.family).into_owned(),
                escape(&g.client_id).into_owned(),
                escape(&g.subject).into_owned(),
                escape(&mcpgen_rules::scope::join(&g.scopes)).into_owned(),
                time_cell(Some(g.issued_at)),
                time_cell(g.refreshed_at),
                time_cell(Some(g.expires_at)),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "GRANT",
            "CLIENT ID",
            "SUBJECT",
            "SCOPES",
            "ISSUED",
            "REFRESHED",
            "EXPIRES",
        ],
        &rows,
    )
}

/// Columns padded to their widest cell (in terminal columns), two spaces apart, the last one
/// unpadded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    use unicode_width::UnicodeWidthStr as _;
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i < last {
                out.extend(std::iter::repeat_n(' ', w - cell.width() + 2));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_supplied_text_is_escaped_in_tables_and_json() {
        let name = "evil\u{1b}[2J\u{202e}name\n";
        assert_eq!(escape(name), "evil\\u{1b}[2J\\u{202e}name\\n");
        let doc = json_document("x", &[name, "a\u{85}b"]);
        assert!(
            !doc.chars()
                .any(|c| c > '\u{1f}' && mcpgen_rules::is_unsafe_char(c))
        );
        assert!(doc.contains("\\u202e") && doc.contains("\\u0085"), "{doc}");
        let back: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(back["x"][0], name);
    }

    #[test]
    fn tables_align_wide_characters() {
        let t = table(
            &["A", "B"],
            &[
                vec!["日本".into(), "x".into()],
                vec!["abc".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A     B\n日本  x\nabc   y\n");
    }

    #[test]
    fn redirect_hosts_are_listed_once() {
        let uris = [
            "http://127.0.0.1:3000/cb".to_owned(),
            "http://127.0.0.1:3000/other".to_owned(),
            "https://claude.ai/api/mcp/auth_callback".to_owned(),
            "cursor://anysphere.cursor-retrieval/oauth/callback".to_owned(),
            "com.example.app:/cb".to_owned(),
        ];
        assert_eq!(
            redirect_hosts(&uris),
            [
                "127.0.0.1:3000",
                "claude.ai",
                "anysphere.cursor-retrieval",
                "com.example.app:"
            ]
        );
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time_cell(Some(0)), "1970-01-01 00:00:00Z");
        assert_eq!(time_cell(None), "-");
    }
}
