//! The administrative subcommands (`clients`, `grants`, `tokens revoke`) of a generated server,
//! run as their own process against the store a serving process (or two replicas) uses: what
//! they revoke is refused by the very next request to the server. The test binary re-runs
//! itself as the server and admin processes: the `child` test runs the app when
//! `MCPGEN_APP_CHILD_ARGS` is set and is a no-op otherwise.

mod app_common;
mod redis_common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use app_common::*;
use mcpgen_runtime::app::run_with;

const CHILD_ARGS: &str = "MCPGEN_APP_CHILD_ARGS";
const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const OWNER_PASSWORD: &str = "the owner's long password";

#[test]
fn child() {
    let Ok(args) = std::env::var(CHILD_ARGS) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("child args");
    let argv = std::iter::once("medtainer-mcp".to_owned()).chain(args);
    let code = run_with(app(), Handler::new(), argv, |k| std::env::var(k).ok());
    let _ = std::io::stdout().flush();
    let code = [0u8, 1, 2]
        .into_iter()
        .find(|c| std::process::ExitCode::from(*c) == code)
        .expect("a known exit code");
    std::process::exit(i32::from(code));
}

/// Starts this test binary as the program with `args` and the given environment (nothing
/// else from the parent's environment).
fn spawn(args: &[&str], vars: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
        .env_clear()
        .env(CHILD_ARGS, serde_json::to_string(args).expect("json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn the process")
}

/// Runs an administrative command to its end: exit code, stdout, stderr.
fn admin(args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let out = spawn(args, vars).wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // The test harness prints its own lines around the child's output.
    let stdout = stdout
        .lines()
        .filter(|l| !l.starts_with("running ") && !l.starts_with("test result") && !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Lines of the child's stderr, as they come.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?}; saw {seen:#?}");
}

/// A password-consent server on https://mcp.example.org with the store `store`; it and its
/// address.
fn server(store: &str) -> (Child, String) {
    let hash = mcpgen_runtime::oauth::hash_password(OWNER_PASSWORD);
    let mut child = spawn(
        &["--bind", "127.0.0.1:0", "--store", store],
        &[
            ("MCPGEN_PUBLIC_URL", "https://mcp.example.org"),
            ("MCPGEN_PASSWORD_HASH", &hash),
        ],
    );
    let lines = stderr_lines(&mut child);
    let line = wait_for(&lines, "listening");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("addr in the log line")
        .to_owned();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || while lines.recv().is_ok() {});
    (child, addr)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn body_json(reply: &str) -> serde_json::Value {
    serde_json::from_str(reply.split_once("\r\n\r\n").expect("body").1).expect("json")
}

/// Registers a client named `name` and signs in through it: its id and an access token.
fn sign_in(addr: &str, name: &str) -> (String, String) {
    let (client_id, tokens) = sign_in_tokens(addr, name);
    let access = tokens["access_token"].as_str().expect("access token");
    (client_id, access.to_owned())
}

/// Refreshes with `refresh_token` for the public client `client_id`: the new tokens.
fn refresh(addr: &str, client_id: &str, refresh_token: &str) -> serde_json::Value {
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ]);
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, reply) = socket_request(addr, "POST", "/token", &ct, &body);
    assert_eq!(status, 200, "{reply}");
    body_json(&reply)
}

/// [`sign_in`], answering the whole token response.
fn sign_in_tokens(addr: &str, name: &str) -> (String, serde_json::Value) {
    let body = serde_json::json!({
        "client_name": name,
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let json = [("Content-Type", "application/json")];
    let (status, reply) = socket_request(addr, "POST", "/register", &json, &body.to_string());
    assert_eq!(status, 201, "{reply}");
    let client_id = body_json(&reply)["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    let consent = form(&[
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", CALLBACK),
        ("state", "s"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("csrf", "c"),
        ("password", OWNER_PASSWORD),
        ("action", "approve"),
    ]);
    let (status, reply) = socket_request(
        addr,
        "POST",
        "/authorize",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", "__Host-mcpgen_csrf=c"),
        ],
        &consent,
    );
    assert_eq!(status, 302, "{reply}");
    let location = reply
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("location");
    let code = url::Url::parse(location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let token = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("client_id", &client_id),
        ("code_verifier", VERIFIER),
    ]);
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, reply) = socket_request(addr, "POST", "/token", &ct, &token);
    assert_eq!(status, 200, "{reply}");
    (client_id, body_json(&reply))
}

/// The status of an MCP `tools/list` with `access` as the bearer token.
fn mcp_status(addr: &str, access: &str) -> u16 {
    let bearer = format!("Bearer {access}");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    socket_request(
        addr,
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", "2025-06-18"),
            ("Authorization", &bearer),
        ],
        body,
    )
    .0
}

/// Sets the client's last use straight in the store at `url`.
fn set_last_used(url: &str, client_id: &str, at: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = mcpgen_runtime::store::open(url).await.expect("store");
        store.client_used(client_id, at).await.expect("client_used");
    });
}

/// The client's `last_used_at` as `clients list --json` shows it.
fn last_used(env: &[(&str, &str)], client_id: &str) -> serde_json::Value {
    let (code, out, err) = admin(&["clients", "list", "--json"], env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["client_id"] == client_id)
        .expect("the client")["last_used_at"]
        .clone()
}

/// "Last used" moves when a token is refreshed (and not on MCP requests): the token endpoint
/// writes it once per response.
#[test]
fn a_refresh_moves_the_clients_last_use() {
    let db = temp_db();
    let store = format!("sqlite:{}", db.0.display());
    let (server, addr) = server(&store);
    let (client_id, tokens) = sign_in_tokens(&addr, "Claude");
    let env = [("MCPGEN_STORE", store.as_str())];
    let signed_in = last_used(&env, &client_id)
        .as_u64()
        .expect("set at sign-in");
    set_last_used(&store, &client_id, 1);
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(mcp_status(&addr, access), 200);
    assert_eq!(last_used(&env, &client_id), 1, "not on MCP requests");
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");
    refresh(&addr, &client_id, refresh_token);
    let refreshed = last_used(&env, &client_id).as_u64().expect("a time");
    assert!(refreshed >= signed_in, "{refreshed} < {signed_in}");
    stop(server);
}

/// Stores a client named `name` straight into the store at `url`.
fn put_client_named(url: &str, id: &str, name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = mcpgen_runtime::store::open(url).await.expect("store");
        let client = mcpgen_runtime::store::ClientRecord {
            client_id: id.into(),
            secret_hash: None,
            token_endpoint_auth_method: "none".into(),
            redirect_uris: vec![CALLBACK.into()],
            grant_types: vec!["authorization_code".into()],
            client_name: Some(name.into()),
            client_id_issued_at: 1,
            metadata: Default::default(),
        };
        store.put_client(&client, None).await.expect("put");
    });
}

struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

fn temp_db() -> TempDb {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    TempDb(std::env::temp_dir().join(format!("mcpgen-admin-{}-{nanos}.db", std::process::id())))
}

/// `clients revoke` run as its own process while a server on the same SQLite file is serving:
/// the server refuses the client's token on the next call. Listing shows the client (its name
/// escaped), its last use and its grant, before; nothing of it after.
#[test]
fn clients_revoke_on_a_shared_sqlite_file_is_refused_by_the_serving_process() {
    let db = temp_db();
    let store = format!("sqlite:{}", db.0.display());
    let (server, addr) = server(&store);
    let (kept_id, kept) = sign_in(&addr, "Kept");
    let (client_id, access) = sign_in(&addr, "Claude");
    assert_eq!(mcp_status(&addr, &access), 200);
    // Registration refuses such a name; a store written otherwise (an older version, a
    // metadata document) may still hold one.
    let evil_name = "Evil\u{1b}[2J\u{202e}Name";
    put_client_named(&store, "evil-client", evil_name);

    // Through the environment, as the servers' own configuration would give it.
    let env = [("MCPGEN_STORE", store.as_str())];
    let (code, out, err) = admin(&["clients", "list"], &env);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&client_id))
        .unwrap_or_else(|| panic!("{client_id} in {out}"));
    assert!(
        line.contains(" Claude ") && line.contains("claude.ai"),
        "{line}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("evil-client"))
        .unwrap_or_else(|| panic!("evil-client in {out}"));
    assert!(line.contains("Evil\\u{1b}[2J\\u{202e}Name"), "{line}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    assert!(out.starts_with("CLIENT ID "), "{out}");

    let (code, out, err) = admin(&["clients", "list", "--json"], &env);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    let rows = v["clients"].as_array().expect("clients");
    let evil = rows.iter().find(|c| c["client_id"] == "evil-client");
    assert_eq!(evil.expect("evil-client")["client_name"], evil_name);
    let row = rows
        .iter()
        .find(|c| c["client_id"] == client_id.as_str())
        .expect("the client");
    assert_eq!(row["client_name"], "Claude");
    assert_eq!(row["redirect_hosts"], serde_json::json!(["claude.ai"]));
    assert_eq!(row["grants"], 1);
    assert!(row["last_used_at"].as_u64().is_some(), "{row}");

    let (code, out, err) = admin(
        &[
            "grants", "list", "--client", &client_id, "--json", "--store", &store,
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let grants = v["grants"].as_array().expect("grants");
    assert_eq!(grants.len(), 1, "{out}");
    assert_eq!(grants[0]["client_id"], client_id.as_str());
    // Password consent: the shared password stands for one person, the operator.
    assert_eq!(grants[0]["subject"], "operator");
    assert_eq!(grants[0]["scopes"], serde_json::json!(["claudeai"]));

    let (code, out, err) = admin(&["clients", "revoke", &client_id], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("removed client {client_id}; revoked 1 grant\n")
    );

    assert_eq!(mcp_status(&addr, &access), 401, "revoked at once");
    assert_eq!(mcp_status(&addr, &kept), 200, "other clients keep working");
    let (code, out, _) = admin(&["clients", "list"], &env);
    assert_eq!(code, 0);
    assert!(!out.contains(&client_id) && out.contains(&kept_id), "{out}");

    // The person's grants, with every client: the one left is refused at once too.
    let (code, out, err) = admin(&["grants", "list", "--subject", "operator"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("GRANT ") && out.contains(" SUBJECT "),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains(&kept_id) && out.contains(" operator "),
        "{out}"
    );
    let (code, out, err) = admin(&["tokens", "revoke", "--subject", "operator"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "revoked 1 grant\n");
    assert_eq!(mcp_status(&addr, &kept), 401, "revoked at once");

    let (code, _, err) = admin(&["clients", "revoke", &client_id], &env);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: no client {client_id:?} in the store: list them with `medtainer-mcp clients list`\n"
        )
    );
    stop(server);
}

/// The commands refuse what they cannot act on: the memory store (inside each server), a
/// SQLite file that does not exist (it would be created empty), and `tokens revoke` without
/// saying which grants.
#[test]
fn admin_commands_refuse_stores_they_cannot_act_on() {
    let (code, _, err) = admin(&["clients", "list", "--store", "memory"], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: clients list acts on a shared store, and --store is memory (inside each server \
         process): use --store sqlite:PATH or --store redis://HOST, as the servers do\n"
    );
    let db = temp_db();
    let store = format!("sqlite:{}", db.0.display());
    let (code, _, err) = admin(&["tokens", "revoke", "--all", "--store", &store], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(!db.0.exists(), "no empty store created");
    let (code, _, err) = admin(&["tokens", "revoke", "--store", &store], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--client <CLIENT_ID>|--subject <SUBJECT>|--all"),
        "{err}"
    );
}

/// `tokens revoke --all` on the Redis two replicas share: both refuse every token at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_revoke_all_on_redis_is_refused_by_every_replica() {
    let Some((url, _redis)) = redis_common::redis_url().await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Redis: set MCPGEN_TEST_REDIS_URL or install redis-server"
        );
        eprintln!("skipped: no MCPGEN_TEST_REDIS_URL and no redis-server on PATH");
        return;
    };
    // `--all` revokes every grant of the database.
    let url = redis_common::own_db(&url, 14);
    let result = tokio::task::spawn_blocking(move || {
        let (a, addr_a) = server(&url);
        let (b, addr_b) = server(&url);
        let (_, on_a) = sign_in(&addr_a, "A");
        let (_, on_b) = sign_in(&addr_b, "B");
        for (addr, token) in [(&addr_a, &on_b), (&addr_b, &on_a)] {
            assert_eq!(mcp_status(addr, token), 200);
        }
        let (code, out, err) = admin(&["tokens", "revoke", "--all", "--store", &url], &[]);
        assert_eq!(code, 0, "{err}");
        let n: u64 = out
            .strip_prefix("revoked ")
            .and_then(|r| r.strip_suffix(" grants\n"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{out:?}"));
        // A shared MCPGEN_TEST_REDIS_URL may hold other runs' grants too.
        assert!(n >= 2, "{out}");
        let statuses: Vec<u16> = [
            (&addr_a, &on_a),
            (&addr_a, &on_b),
            (&addr_b, &on_a),
            (&addr_b, &on_b),
        ]
        .iter()
        .map(|(addr, token)| mcp_status(addr, token))
        .collect();
        stop(a);
        stop(b);
        statuses
    })
    .await
    .expect("join");
    assert_eq!(result, [401, 401, 401, 401]);
}

/// The commands read only the store, from the flag (before or after the command), then
/// `MCPGEN_STORE`, then the default file; nothing else the server needs (a password hash, a
/// public URL) is asked for.
#[test]
fn admin_commands_parse_with_the_store_alone() {
    use mcpgen_runtime::admin::{Admin, AdminCommand};
    use mcpgen_runtime::config::Command as Cmd;
    use mcpgen_runtime::store::GrantFilter;
    let admin = |store: &str, command| {
        Cmd::Admin(Admin {
            store: store.into(),
            command,
        })
    };
    let list = AdminCommand::ClientsList { json: false };
    assert_eq!(
        parse_for(&app(), &["clients", "list"], &[]).expect("parses"),
        admin("sqlite:medtainer-mcp.sqlite3", list.clone())
    );
    assert_eq!(
        parse_for(
            &app(),
            &["clients", "list"],
            &[("MCPGEN_STORE", "redis://r:6379")]
        )
        .expect("parses"),
        admin("redis://r:6379", list)
    );
    assert_eq!(
        parse_for(
            &app(),
            &[
                "--store",
                "sqlite:a.db",
                "grants",
                "list",
                "--client",
                "c1",
                "--json"
            ],
            &[("MCPGEN_STORE", "sqlite:b.db")]
        )
        .expect("parses"),
        admin(
            "sqlite:a.db",
            AdminCommand::GrantsList {
                filter: GrantFilter {
                    client_id: Some("c1".into()),
                    subject: None,
                },
                json: true
            }
        )
    );
    assert_eq!(
        parse_for(
            &app(),
            &["tokens", "revoke", "--all", "--store", "sqlite:a.db"],
            &[]
        )
        .expect("parses"),
        admin(
            "sqlite:a.db",
            AdminCommand::TokensRevoke {
                filter: GrantFilter::default()
            }
        )
    );
    assert_eq!(
        parse_for(
            &app(),
            &["clients", "revoke", "c1"],
            &[("MCPGEN_STORE", "sqlite:a.db")]
        )
        .expect("parses"),
        admin(
            "sqlite:a.db",
            AdminCommand::ClientsRevoke {
                client_id: "c1".into()
            }
        )
    );
    assert_eq!(
        parse_for(
            &app(),
            &[
                "tokens",
                "revoke",
                "--subject",
                "ada",
                "--store",
                "sqlite:a.db"
            ],
            &[]
        )
        .expect("parses"),
        admin(
            "sqlite:a.db",
            AdminCommand::TokensRevoke {
                filter: GrantFilter {
                    client_id: None,
                    subject: Some("ada".into()),
                }
            }
        )
    );
    for args in [
        &["tokens", "revoke", "--subject", "ada", "--all"][..],
        &["tokens", "revoke"],
        &["tokens", "revoke", "--all", "--client", "c1"],
        &["clients", "revoke"],
        &["grants", "list", "--bind", "1:1"],
    ] {
        let e = parse_for(&app(), args, &[]).expect_err("usage error");
        assert!(!e.to_string().is_empty(), "{args:?}");
    }
    let e = error_for(&app(), &["clients", "list"], &[("MCPGEN_STORE", "memory")]);
    assert!(
        e.starts_with("clients list acts on a shared store, and MCPGEN_STORE is memory"),
        "{e}"
    );
    let e = error_for(&app(), &["clients", "list", "--store", "rediss://x"], &[]);
    assert!(e.contains("tls"), "{e}");
}

/// The `users` commands refuse the memory store (a user added there is gone when the command
/// exits, yet `users add` said "added") and, but for `users add`, a SQLite file that does not
/// exist (they would create an empty store where the servers do not look); `users add`
/// creates the file and says so.
#[test]
fn users_commands_refuse_stores_they_cannot_act_on() {
    for args in [
        &[
            "users",
            "add",
            "ada",
            "--password-stdin",
            "--store",
            "memory",
        ][..],
        &["users", "list", "--store", "memory"],
        &["users", "remove", "ada", "--store", "memory"],
        &[
            "users",
            "passwd",
            "ada",
            "--password-stdin",
            "--store",
            "memory",
        ],
    ] {
        let (code, out, err) = admin(args, &[]);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(
            err.contains("--store is memory") && err.contains("sqlite:PATH"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = admin(&["users", "list"], &[("MCPGEN_STORE", "memory")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("MCPGEN_STORE is memory"), "{err}");

    let db = temp_db();
    let store = format!("sqlite:{}", db.0.display());
    for args in [
        &["users", "list", "--store", &store][..],
        &["users", "remove", "ada", "--store", &store],
        &[
            "users",
            "passwd",
            "ada",
            "--password-stdin",
            "--store",
            &store,
        ],
    ] {
        let (code, _, err) = admin(args, &[]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("does not exist") && err.contains(&db.0.display().to_string()),
            "{args:?}: {err}"
        );
        assert!(!db.0.exists(), "{args:?}: no empty store created");
    }
}

/// Runs a command with `stdin` as its input: exit code, stdout, stderr.
fn admin_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1", "-q"])
        .env_clear()
        .env(CHILD_ARGS, serde_json::to_string(args).expect("json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    // The command may stop reading early (a refused password): a closed pipe is its answer.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// User names are case-insensitive: `users add Ada` stores `ada`, `users add ADA` then finds
/// it taken, `users passwd ADA` and `users remove Ada` act on it, and `Operator` is refused
/// like `operator`.
#[test]
fn users_commands_take_names_in_any_case() {
    let db = temp_db();
    let store = format!("sqlite:{}", db.0.display());
    let pw = "a long enough password\n";
    let (code, out, err) = admin_with_stdin(
        &["users", "add", "Ada", "--password-stdin", "--store", &store],
        pw,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added user \"ada\""), "{out}");
    assert!(
        err.contains(&format!(
            "created the store file {:?}",
            db.0.display().to_string()
        )),
        "a new store file is named: {err}"
    );
    let (code, _, err) = admin_with_stdin(
        &["users", "add", "ADA", "--password-stdin", "--store", &store],
        pw,
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("exists"), "{err}");
    let (code, _, err) = admin_with_stdin(
        &[
            "users",
            "add",
            "Operator",
            "--password-stdin",
            "--store",
            &store,
        ],
        pw,
    );
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = admin_with_stdin(
        &[
            "users",
            "passwd",
            "ADA",
            "--password-stdin",
            "--store",
            &store,
        ],
        pw,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("changed the password of \"ada\""), "{out}");
    let (code, out, err) = admin(&["users", "list", "--json", "--store", &store], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"name\":\"ada\""), "{out}");
    assert!(!out.contains("Ada"), "{out}");
    let (code, out, err) = admin(&["users", "remove", "Ada", "--store", &store], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed user \"ada\""), "{out}");
}

/// A password is one line of at most 1024 bytes: a longer one (a file piped in by mistake,
/// or `/dev/zero`) is refused, not read whole into memory.
#[test]
fn users_passwords_are_read_in_bounded_memory() {
    let db = temp_db();
    let store = format!("sqlite:{}", db.0.display());
    let long = "x".repeat(4 * 1024 * 1024);
    let (code, out, err) = admin_with_stdin(
        &["users", "add", "ada", "--password-stdin", "--store", &store],
        &long,
    );
    assert_eq!(code, 2, "{out} {err}");
    assert!(err.contains("longer than 1024 bytes"), "{err}");
    let ok = format!("{}\n", "y".repeat(1024));
    let (code, _, err) = admin_with_stdin(
        &["users", "add", "ada", "--password-stdin", "--store", &store],
        &ok,
    );
    assert_eq!(code, 0, "{err}");
}
