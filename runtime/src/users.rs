//! The `users` subcommands of a generated server: the accounts people sign in with under
//! `login: users`, kept in the configured store (`--store`, `MCPGEN_STORE`), so on a running
//! deployment they act on every replica at once. The `memory` store (inside each server
//! process) is refused, and so is a SQLite file that does not exist, except by `users add`,
//! which creates it and says so.
//!
//! - `users add NAME [--email E] --password-stdin`: a new user; the password is the first line
//!   of stdin, stored as an Argon2id PHC string.
//! - `users list [--json]`: name, email and creation date; never the hashes.
//! - `users remove NAME`: removes the user and revokes every grant of theirs
//!   ([`Store::revoke_subject`]): their tokens are refused by the next request on every
//!   replica, since the bearer check reads the store on every request. Safe to run again.
//! - `users passwd NAME --password-stdin`: a new password. Grants already made are kept
//!   (clients stay connected); `users remove` ends them.
//!
//! Exit codes: 0 done; 1 the user exists (`add`) or does not (`remove`, `passwd`); 2 a bad
//! name, email or password, or a store that cannot be opened or written.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use crate::app::App;
use crate::config::{UsersAction, UsersCommand};
use crate::oauth::Login;
use crate::store::{self, Store, UserRecord, is_user_name};

/// The longest password read, in bytes (line ending excluded).
#[cfg(feature = "password")]
const MAX_PASSWORD: usize = 1024;

/// Reads the first line of stdin without its line ending: a password, kept out of argv,
/// shell history and `ps`. `prompt` is shown when stdin is a terminal. At most
/// [`MAX_PASSWORD`] bytes are read: a longer line is an error, not read whole.
#[cfg(feature = "password")]
pub(crate) fn read_password_line(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _, Read as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("{prompt} (it is echoed; end with enter):");
    }
    let mut line = String::new();
    // Room for the password and a `\r\n`, and one byte more to tell a longer line.
    let limit = (MAX_PASSWORD + 3) as u64;
    stdin.lock().take(limit).read_line(&mut line)?;
    if line.trim_end_matches(['\r', '\n']).len() > MAX_PASSWORD {
        return Err(std::io::Error::other(format!(
            "the password is longer than {MAX_PASSWORD} bytes"
        )));
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

/// Whether `email` looks like an address: one `@` with text on both sides, no spaces or
/// control characters, at most 254 bytes (RFC 5321's limit on a path).
fn is_email(email: &str) -> bool {
    email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && email.matches('@').count() == 1
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || mcpgen_rules::is_unsafe_char(c))
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Runs one `users` subcommand for `app` and answers the process's exit code.
pub(crate) fn run(app: &App, cmd: UsersCommand) -> ExitCode {
    let Some(auth) = &app.auth else {
        return fail(
            2,
            "this server has no auth (auth: none): users are for servers with login: users",
        );
    };
    if auth.login != Login::Users {
        eprintln!(
            "warning: this server's spec has login: {}; users sign in only when it runs with \
             --login users (MCPGEN_LOGIN=users) or its spec says login: users",
            auth.login
        );
    }
    // Grants revoked now stay revoked until every token they issued has expired.
    let keep_for = auth.refresh_ttl.max(auth.access_ttl).as_secs();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(2, format!("cannot start the async runtime: {e}")),
    };
    // Opening a SQLite file that does not exist creates an empty store, likely not where the
    // servers look: only `users add` may (the first user before the first start).
    let missing = crate::admin::missing_sqlite_file(&cmd.store);
    if let Some(path) = &missing
        && !matches!(cmd.action, UsersAction::Add { .. })
    {
        return fail(
            2,
            format!("store file {path:?} does not exist: point --store at the servers' store"),
        );
    }
    runtime.block_on(async move {
        let store = match store::open(&cmd.store).await {
            Ok(s) => s,
            Err(e) => {
                return fail(
                    2,
                    format!(
                        "cannot open store {}: {}: check --store",
                        crate::config::redact_store(&cmd.store),
                        e.detail()
                    ),
                );
            }
        };
        // Names are case-insensitive: every command acts on the canonical form.
        let canonical = |name: &str| store::canonical_user_name(name);
        match cmd.action {
            UsersAction::Add { name, email } => {
                add(app.name, &store, canonical(&name), email, missing).await
            }
            UsersAction::List { json } => list(&store, json).await,
            UsersAction::Remove { name } => remove(&store, &canonical(&name), keep_for).await,
            UsersAction::Passwd { name } => passwd(app.name, &store, &canonical(&name)).await,
        }
    })
}

fn check_name(name: &str) -> Result<(), ExitCode> {
    if is_user_name(name) {
        return Ok(());
    }
    let shown = crate::oauth::clip(name);
    Err(fail(
        2,
        format!(
            "{shown:?} is not a user name: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`, \
             starting with a letter or digit (`operator` and `local` are taken by the other \
             login modes)"
        ),
    ))
}

/// Without Argon2 (the cargo feature `password`) no password can be stored: an error naming
/// the feature, before stdin is read.
#[cfg(not(feature = "password"))]
fn new_password_hash(_bin: &str, usage: &str) -> Result<String, ExitCode> {
    Err(crate::app::start_error(
        &crate::config::StartError::NotCompiled {
            what: usage.split(' ').take(2).collect::<Vec<_>>().join(" "),
            feature: "password",
        },
    ))
}

/// Reads and hashes a new password, or explains what is wrong with it.
#[cfg(feature = "password")]
fn new_password_hash(bin: &str, usage: &str) -> Result<String, ExitCode> {
    let password = read_password_line("password")
        .map_err(|e| fail(2, format!("cannot read a password from stdin: {e}")))?;
    if password.is_empty() {
        return Err(fail(
            2,
            format!(
                "no password on stdin: pipe one in, e.g. `printf %s \"$PASSWORD\" | {bin} {usage}`"
            ),
        ));
    }
    if password.chars().count() < 12 {
        eprintln!("warning: a password under 12 characters is easy to guess; use a longer one");
    }
    Ok(crate::oauth::hash_password(&password))
}

fn store_failed(e: &store::StoreError) -> ExitCode {
    fail(2, format!("the store failed: {}", e.detail()))
}

/// `created`: the SQLite file the store was created in, when it did not exist.
async fn add(
    bin: &str,
    store: &Arc<dyn Store>,
    name: String,
    email: Option<String>,
    created: Option<String>,
) -> ExitCode {
    if let Err(code) = check_name(&name) {
        return code;
    }
    if let Some(e) = email.as_deref().filter(|e| !is_email(e)) {
        let shown = crate::oauth::clip(e);
        return fail(
            2,
            format!("--email {shown:?} is not an email address: use e.g. ada@example.com"),
        );
    }
    let usage = format!("users add {name} --password-stdin");
    let password_hash = match new_password_hash(bin, &usage) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let user = UserRecord {
        name,
        email,
        password_hash,
        created_at: crate::oauth::now(),
    };
    match store.add_user(&user).await {
        Ok(true) => {
            if let Some(path) = created {
                eprintln!(
                    "note: created the store file {path:?}; run the server with this --store"
                );
            }
            println!("added user {:?}", user.name);
            ExitCode::SUCCESS
        }
        Ok(false) => fail(
            1,
            format!(
                "user {:?} exists: change the password with `{bin} users passwd {} --password-stdin`",
                user.name, user.name
            ),
        ),
        Err(e) => store_failed(&e),
    }
}

async fn list(store: &Arc<dyn Store>, json: bool) -> ExitCode {
    let users = match store.list_users().await {
        Ok(u) => u,
        Err(e) => return store_failed(&e),
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        let rows: Vec<serde_json::Value> = users
            .iter()
            .map(|u| {
                serde_json::json!({
                    "name": u.name,
                    "email": u.email,
                    "created_at": u.created_at,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))
    } else {
        let width = users.iter().map(|u| u.name.len()).max().unwrap_or(0).max(4);
        let email_width = users
            .iter()
            .map(|u| u.email.as_deref().map_or(1, str::len))
            .max()
            .unwrap_or(0)
            .max(5);
        let mut text = format!("{:width$}  {:email_width$}  CREATED\n", "NAME", "EMAIL");
        for u in &users {
            text.push_str(&format!(
                "{:width$}  {:email_width$}  {}\n",
                u.name,
                u.email.as_deref().unwrap_or("-"),
                date(u.created_at)
            ));
        }
        out.write_all(text.as_bytes())
    };
    if written.and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn remove(store: &Arc<dyn Store>, name: &str, keep_for: u64) -> ExitCode {
    if let Err(code) = check_name(name) {
        return code;
    }
    // The account goes first, so nobody signs in as them while their grants are revoked; the
    // revocation runs even when the account is already gone, so running the command again
    // finishes a removal whose revocation failed.
    let existed = match store.remove_user(name).await {
        Ok(e) => e,
        Err(e) => return store_failed(&e),
    };
    let now = crate::oauth::now();
    let revoked = match store.revoke_subject(name, now, now + keep_for).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!(
                "error: the user is removed, but their grants may still work: run this again"
            );
            return store_failed(&e);
        }
    };
    tracing::info!(
        target: "mcpgen::oauth",
        decision = "user_removed",
        subject = ?name,
        existed,
        revoked,
    );
    let grants = if revoked == 1 { "grant" } else { "grants" };
    if !existed && revoked == 0 {
        return fail(1, format!("no user {name:?}: see `users list`"));
    }
    if existed {
        println!("removed user {name:?}; revoked {revoked} {grants}");
    } else {
        println!("no user {name:?} left; revoked {revoked} {grants} of theirs");
    }
    ExitCode::SUCCESS
}

async fn passwd(bin: &str, store: &Arc<dyn Store>, name: &str) -> ExitCode {
    if let Err(code) = check_name(name) {
        return code;
    }
    let user = match store.get_user(name).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return fail(
                1,
                format!("no user {name:?}: add one with `{bin} users add`"),
            );
        }
        Err(e) => return store_failed(&e),
    };
    let usage = format!("users passwd {name} --password-stdin");
    let password_hash = match new_password_hash(bin, &usage) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let updated = UserRecord {
        password_hash,
        ..user
    };
    match store.update_user(&updated).await {
        Ok(true) => {
            println!(
                "changed the password of {name:?}; the grants they already made are kept \
                 (`{bin} users remove {name}` ends them)"
            );
            ExitCode::SUCCESS
        }
        Ok(false) => fail(1, format!("no user {name:?}: it was removed meanwhile")),
        Err(e) => store_failed(&e),
    }
}

/// `YYYY-MM-DD` (UTC) of Unix seconds, by the civil-from-days algorithm (H. Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms").
fn date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(951_782_400), "2000-02-29");
        assert_eq!(super::date(1_790_000_000), "2026-09-21");
    }

    #[test]
    fn emails() {
        assert!(super::is_email("ada@example.com"));
        for bad in [
            "ada",
            "@example.com",
            "ada@",
            "a@b@c",
            "ada @example.com",
            "a\n@b",
        ] {
            assert!(!super::is_email(bad), "{bad:?}");
        }
    }
}
