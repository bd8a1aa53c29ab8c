//! The command line and environment of a generated server: precedence (flag, variable,
//! spec), `--public-url` moving the issuer, and every start-up error, in-process.

mod app_common;

use app_common::*;
use mcpgen_runtime::app::App;
use mcpgen_runtime::config::{Command, LogFormat};
use mcpgen_runtime::oauth::{Login, hash_password};

fn hash() -> String {
    hash_password("correct horse battery staple")
}

/// Asserts the start-up error style: one line, not a capitalised sentence, no trailing dot.
fn assert_style(msg: &str) {
    assert!(!msg.contains('\n'), "more than one line: {msg}");
    assert!(!msg.ends_with('.'), "ends with a dot: {msg}");
    let first = msg.chars().next().expect("non-empty");
    let names_a_variable = msg.starts_with("MCPGEN_") || msg.starts_with("RUST_LOG");
    assert!(
        !first.is_uppercase() || names_a_variable,
        "capitalised: {msg}"
    );
}

#[test]
fn defaults_come_from_the_spec() {
    let h = hash();
    let c = config_for(&app(), &[], &[("MCPGEN_PASSWORD_HASH", &h)]);
    assert_eq!(c.bind, "0.0.0.0:8080");
    assert_eq!(c.public_url, PUBLIC);
    // The spec's issuer is the public URL (with a trailing slash): it follows the public URL.
    assert_eq!(c.issuer, None);
    assert_eq!(c.store, "sqlite:medtainer-mcp.sqlite3");
    assert_eq!(c.login, Some(Login::Password));
    assert_eq!(c.password_hash.as_deref(), Some(h.as_str()));
    assert_eq!(c.log_format, LogFormat::Text);
    assert!(!c.is_loopback());
    // The hash never shows in debug output.
    assert!(!format!("{c:?}").contains(&h));
}

#[test]
fn environment_overrides_the_spec() {
    let c = config_for(
        &app(),
        &[],
        &[
            ("MCPGEN_BIND", "127.0.0.1:9100"),
            ("MCPGEN_PUBLIC_URL", "http://localhost:9100/"),
            ("MCPGEN_ISSUER", "http://127.0.0.1:9100"),
            ("MCPGEN_STORE", "memory"),
            ("MCPGEN_CONSENT", "auto"),
            ("MCPGEN_LOG_FORMAT", "json"),
        ],
    );
    assert_eq!(c.bind, "127.0.0.1:9100");
    assert_eq!(c.public_url, "http://localhost:9100");
    assert_eq!(c.issuer.as_deref(), Some("http://127.0.0.1:9100"));
    assert_eq!(c.store, "memory");
    assert_eq!(c.login, Some(Login::Auto));
    assert_eq!(c.password_hash, None);
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(c.is_loopback());
}

#[test]
fn flags_override_the_environment() {
    let h = hash();
    let c = config_for(
        &app(),
        &[
            "--bind",
            "[::1]:7000",
            "--public-url=https://staging.example.net",
            "--issuer",
            "https://auth.example.net",
            "--store",
            "sqlite:/tmp/x.db",
            "--consent",
            "password",
            "--log-format",
            "text",
        ],
        &[
            ("MCPGEN_BIND", "127.0.0.1:9100"),
            ("MCPGEN_PUBLIC_URL", "http://localhost:9100"),
            ("MCPGEN_ISSUER", "http://127.0.0.1:9100"),
            ("MCPGEN_STORE", "memory"),
            ("MCPGEN_CONSENT", "auto"),
            ("MCPGEN_LOG_FORMAT", "json"),
            ("MCPGEN_PASSWORD_HASH", &h),
        ],
    );
    assert_eq!(c.bind, "[::1]:7000");
    assert_eq!(c.public_url, "https://staging.example.net");
    assert_eq!(c.issuer.as_deref(), Some("https://auth.example.net"));
    assert_eq!(c.store, "sqlite:/tmp/x.db");
    assert_eq!(c.login, Some(Login::Password));
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn empty_variables_count_as_unset() {
    let h = hash();
    let c = config_for(
        &app(),
        &[],
        &[
            ("MCPGEN_BIND", ""),
            ("MCPGEN_PUBLIC_URL", ""),
            ("MCPGEN_ISSUER", ""),
            ("MCPGEN_STORE", ""),
            ("MCPGEN_CONSENT", ""),
            ("MCPGEN_LOG_FORMAT", ""),
            ("MCPGEN_PASSWORD_HASH", &h),
        ],
    );
    assert_eq!(c.bind, "0.0.0.0:8080");
    assert_eq!(c.public_url, PUBLIC);
    assert_eq!(c.store, "sqlite:medtainer-mcp.sqlite3");
}

#[test]
fn public_url_moves_an_issuer_equal_to_it() {
    // Makes a production spec fully local: no password needed with auto consent.
    let c = config_for(
        &app(),
        &["--public-url", "http://127.0.0.1:8123", "--consent", "auto"],
        &[],
    );
    assert_eq!(c.public_url, "http://127.0.0.1:8123");
    assert_eq!(c.issuer, None, "the issuer follows the public url");

    // An issuer written without the slash, or with another case, is still "the public URL".
    let mut a = app();
    a.auth.as_mut().unwrap().issuer = Some("HTTPS://Medtainer.example.com".into());
    let c = config_for(
        &a,
        &["--public-url", "http://localhost:1", "--consent=auto"],
        &[],
    );
    assert_eq!(c.issuer, None);

    // An explicit issuer equal to the new public URL is the same thing.
    let c = config_for(
        &app(),
        &[
            "--public-url",
            "http://127.0.0.1:8123",
            "--issuer",
            "http://127.0.0.1:8123/",
            "--consent",
            "auto",
        ],
        &[],
    );
    assert_eq!(c.issuer, None);
}

#[test]
fn a_different_issuer_stays_unless_overridden() {
    let mut a = app();
    a.auth.as_mut().unwrap().issuer = Some("https://auth.example.com".into());
    let c = config_for(
        &a,
        &["--public-url", "http://127.0.0.1:8123", "--consent", "auto"],
        &[],
    );
    assert_eq!(c.issuer.as_deref(), Some("https://auth.example.com"));
    let c = config_for(
        &a,
        &["--public-url", "http://127.0.0.1:8123", "--consent", "auto"],
        &[("MCPGEN_ISSUER", "http://127.0.0.1:8124")],
    );
    assert_eq!(c.issuer.as_deref(), Some("http://127.0.0.1:8124"));
}

#[test]
fn auto_consent_on_a_public_url_is_refused() {
    let e = error_for(&app(), &["--login", "auto"], &[]);
    assert_style(&e);
    assert!(e.contains("--login auto"), "{e}");
    assert!(e.contains("loopback") && e.contains(PUBLIC), "{e}");
    assert!(e.contains("--login password"), "{e}");
    // `--consent` is the former name of `--login`, and MCPGEN_CONSENT of MCPGEN_LOGIN.
    let e = error_for(&app(), &["--consent", "auto"], &[]);
    assert!(e.contains("--login auto"), "{e}");
    let e = error_for(&app(), &[], &[("MCPGEN_CONSENT", "auto")]);
    assert!(e.contains("MCPGEN_CONSENT auto"), "{e}");
    let e = error_for(&app(), &[], &[("MCPGEN_LOGIN", "auto")]);
    assert!(e.contains("MCPGEN_LOGIN auto"), "{e}");

    // The spec's auto consent is refused once --public-url leaves loopback.
    let mut local = app();
    local.public_url = "http://127.0.0.1:8000".into();
    local.bind = "127.0.0.1:8000".into();
    local.auth.as_mut().unwrap().issuer = None;
    local.auth.as_mut().unwrap().login = Login::Auto;
    assert_eq!(config_for(&local, &[], &[]).login, Some(Login::Auto));
    let e = error_for(&local, &["--public-url", "https://tunnel.example.org"], &[]);
    assert_style(&e);
    assert!(
        e.contains("from the spec") && e.contains("https://tunnel.example.org"),
        "{e}"
    );
    // ... and --consent password (with a hash) fixes it.
    let h = hash();
    let c = config_for(
        &local,
        &[
            "--public-url",
            "https://tunnel.example.org",
            "--consent",
            "password",
        ],
        &[("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert_eq!(c.login, Some(Login::Password));
}

#[test]
fn password_consent_needs_a_hash() {
    let e = error_for(&app(), &[], &[]);
    assert_style(&e);
    assert!(e.contains("MCPGEN_PASSWORD_HASH"), "{e}");
    assert!(e.contains("medtainer-mcp hash-password"), "{e}");

    let e = error_for(&app(), &[], &[("MCPGEN_PASSWORD_HASH", "hunter2")]);
    assert_style(&e);
    assert!(
        e.contains("MCPGEN_PASSWORD_HASH") && e.contains("hash-password"),
        "{e}"
    );
    assert!(
        !e.contains("hunter2"),
        "a wrong value may be the password itself: {e}"
    );
}

#[test]
fn bad_store_urls_are_refused() {
    let h = hash();
    for (store, needle, fix) in [
        (
            "postgres://db/x",
            "is not a store",
            "use memory, sqlite:PATH or redis://",
        ),
        ("sqlite:", "has no path", "use sqlite:PATH"),
        ("sqlite://", "has no path", "use sqlite:PATH"),
        ("rediss://cache:6380", "tls", "use redis://"),
        ("redis://", "not a valid redis url", "use redis://HOST"),
        ("", "is not a store", "use memory, sqlite:PATH or redis://"),
        (
            "  ",
            "is not a store",
            "use memory, sqlite:PATH or redis://",
        ),
    ] {
        let e = error_for(&app(), &["--store", store], &[("MCPGEN_PASSWORD_HASH", &h)]);
        assert_style(&e);
        assert!(e.starts_with("--store"), "{e}");
        assert!(e.contains(needle) && e.contains(fix), "{store:?}: {e}");
    }
    // From the environment the error names the variable; a password is never echoed.
    let e = error_for(
        &app(),
        &[],
        &[
            ("MCPGEN_STORE", "rediss://:hunter2@cache:6380"),
            ("MCPGEN_PASSWORD_HASH", &h),
        ],
    );
    assert!(e.starts_with("MCPGEN_STORE"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    // Well-formed stores pass.
    for store in [
        "memory",
        "sqlite:data/x.sqlite3",
        "sqlite:///var/lib/x.db",
        "redis://cache:6379/2",
    ] {
        let c = config_for(&app(), &["--store", store], &[("MCPGEN_PASSWORD_HASH", &h)]);
        assert_eq!(c.store, store);
    }
    let c = config_for(
        &app(),
        &["--store", "redis://:hunter2@cache:6379"],
        &[("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert!(!c.store_display().contains("hunter2"));
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn bad_public_urls_are_refused() {
    let h = hash();
    for (url, needle, fix) in [
        ("not a url", "is not a url", "set --public-url to"),
        ("ftp://example.com", "http(s)", "set --public-url to"),
        ("mailto:a@example.com", "http(s)", "set --public-url to"),
        ("http://example.com", "uses http", "use https"),
        ("https://example.com/?x=1", "query", "set --public-url to"),
        (
            "https://example.com/#top",
            "fragment",
            "set --public-url to",
        ),
        (
            "https://user:pw@example.com",
            "credentials",
            "set --public-url to",
        ),
        ("/relative", "is not a url", "set --public-url to"),
    ] {
        let e = error_for(
            &app(),
            &["--public-url", url],
            &[("MCPGEN_PASSWORD_HASH", &h)],
        );
        assert_style(&e);
        assert!(e.starts_with("--public-url"), "{e}");
        assert!(e.contains(needle) && e.contains(fix), "{url}: {e}");
    }
    let e = error_for(
        &app(),
        &[],
        &[
            ("MCPGEN_PUBLIC_URL", "http://example.com"),
            ("MCPGEN_PASSWORD_HASH", &h),
        ],
    );
    assert!(e.starts_with("MCPGEN_PUBLIC_URL"), "{e}");
    let e = error_for(
        &app(),
        &["--issuer", "auth.example.com"],
        &[("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert_style(&e);
    assert!(
        e.starts_with("--issuer") && e.contains("set --issuer"),
        "{e}"
    );
}

#[test]
fn bad_bind_addresses_are_refused() {
    let h = hash();
    for bind in [
        "8080",
        "localhost",
        "0.0.0.0:99999",
        ":80",
        "0.0.0.0:",
        "host name:80",
        "[::1]",
    ] {
        let e = error_for(&app(), &["--bind", bind], &[("MCPGEN_PASSWORD_HASH", &h)]);
        assert_style(&e);
        assert!(
            e.starts_with("--bind") && e.contains("host:port"),
            "{bind}: {e}"
        );
    }
    for bind in [
        "0.0.0.0:0",
        "localhost:8080",
        "[::]:443",
        "mcp-1.internal:80",
    ] {
        assert_eq!(
            config_for(&app(), &["--bind", bind], &[("MCPGEN_PASSWORD_HASH", &h)]).bind,
            bind
        );
    }
}

/// `--login users` and `--login oidc` need no shared password; the mode is named in the
/// configuration the server starts with.
#[test]
fn login_modes_other_than_password_need_no_password_hash() {
    let c = config_for(&app(), &["--login", "users"], &[]);
    assert_eq!(c.login, Some(Login::Users));
    assert_eq!(c.password_hash, None);
    let c = config_for(&app(), &[], &[("MCPGEN_LOGIN", "users")]);
    assert_eq!(c.login, Some(Login::Users));
    // oidc needs its settings instead (runtime/tests/oauth_oidc.rs); without auth.oidc in
    // the spec it says so.
    let e = error_for(&app(), &["--login", "oidc"], &[]);
    assert!(e.contains("auth.oidc"), "{e}");
    // MCPGEN_LOGIN wins over its former name.
    let c = config_for(
        &app(),
        &[],
        &[("MCPGEN_LOGIN", "users"), ("MCPGEN_CONSENT", "auto")],
    );
    assert_eq!(c.login, Some(Login::Users));
}

#[test]
fn bad_enumerations_are_refused() {
    let h = hash();
    let e = error_for(
        &app(),
        &["--consent", "yes"],
        &[("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert_style(&e);
    assert!(e.contains("password, users, oidc or auto"), "{e}");
    let e = error_for(
        &app(),
        &[],
        &[("MCPGEN_LOG_FORMAT", "xml"), ("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert_style(&e);
    assert!(
        e.starts_with("MCPGEN_LOG_FORMAT") && e.contains("text or json"),
        "{e}"
    );
}

#[test]
fn trusted_proxies_from_flag_or_environment() {
    let h = hash();
    let c = config_for(&app(), &[], &[("MCPGEN_PASSWORD_HASH", &h)]);
    assert!(
        c.trusted_proxies.is_empty(),
        "forwarded headers are ignored by default"
    );
    let c = config_for(
        &app(),
        &["--trusted-proxies", "10.0.0.0/8, 192.0.2.7"],
        &[
            ("MCPGEN_PASSWORD_HASH", &h),
            ("MCPGEN_TRUSTED_PROXIES", "172.16.0.0/12"),
        ],
    );
    let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32"]);
    let c = config_for(
        &app(),
        &[],
        &[
            ("MCPGEN_PASSWORD_HASH", &h),
            ("MCPGEN_TRUSTED_PROXIES", "fd00::/8"),
        ],
    );
    assert_eq!(c.trusted_proxies.len(), 1);
    let e = error_for(
        &app(),
        &["--trusted-proxies", "10.0.0.0/8,my-proxy"],
        &[("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert_style(&e);
    assert!(
        e.starts_with("--trusted-proxies") && e.contains("\"my-proxy\""),
        "{e}"
    );
}

fn no_auth() -> App {
    let mut a = app();
    a.public_url = "http://127.0.0.1:8000".into();
    a.bind = "127.0.0.1:8000".into();
    a.auth = None;
    a
}

/// Auto consent approves anyone who can connect, and `auth: none` asks nothing: both only
/// listen where nobody else can connect.
#[test]
fn auto_consent_and_auth_none_need_a_loopback_bind() {
    // Only --public-url moved to loopback: the spec's 0.0.0.0:8080 follows it.
    let c = config_for(
        &app(),
        &["--public-url", "http://127.0.0.1:8123", "--consent", "auto"],
        &[],
    );
    assert_eq!(c.bind, "127.0.0.1:8080");
    let c = config_for(
        &app(),
        &["--consent", "auto"],
        &[("MCPGEN_PUBLIC_URL", "http://[::1]:8123")],
    );
    assert_eq!(c.bind, "[::1]:8080");

    // Every interface, said out loud, is refused with auto consent.
    for (args, vars, named) in [
        (
            vec!["--bind", "0.0.0.0:8080"],
            vec![("MCPGEN_CONSENT", "auto")],
            "--bind",
        ),
        (
            vec!["--consent", "auto"],
            vec![("MCPGEN_BIND", "[::]:9000")],
            "MCPGEN_BIND",
        ),
        (
            vec!["--bind", "mcp.internal:8080", "--consent", "auto"],
            vec![],
            "--bind",
        ),
    ] {
        let mut args = args;
        args.extend(["--public-url", "http://localhost:8123"]);
        let e = error_for(&app(), &args, &vars);
        assert_style(&e);
        assert!(e.contains("beyond loopback") && e.contains(named), "{e}");
        assert!(e.contains("--bind 127.0.0.1:"), "{e}");
    }
    // The spec's own auto consent with the spec's own bind on every interface.
    let mut a = app();
    a.public_url = "http://127.0.0.1:8000".into();
    a.auth.as_mut().unwrap().issuer = None;
    a.auth.as_mut().unwrap().login = Login::Auto;
    let e = error_for(&a, &[], &[]);
    assert!(
        e.contains("from the spec") && e.contains("beyond loopback"),
        "{e}"
    );

    // Loopback binds are fine; password consent may listen anywhere (a container).
    for bind in ["127.0.0.1:0", "localhost:9", "[::1]:9", "127.1.2.3:9"] {
        let c = config_for(
            &app(),
            &["--bind", bind, "--public-url", "http://127.0.0.1:1"],
            &[("MCPGEN_CONSENT", "auto")],
        );
        assert_eq!(c.bind, bind);
    }
    let h = hash();
    let c = config_for(
        &app(),
        &[
            "--bind",
            "0.0.0.0:8080",
            "--public-url",
            "http://localhost:8080",
        ],
        &[("MCPGEN_PASSWORD_HASH", &h)],
    );
    assert_eq!(c.bind, "0.0.0.0:8080");

    // auth: none, the same.
    let mut open = no_auth();
    open.bind = "0.0.0.0:8000".into();
    let e = error_for(&open, &[], &[]);
    assert_style(&e);
    assert!(
        e.contains("auth: none") && e.contains("beyond loopback") && e.contains("the spec's bind"),
        "{e}"
    );
    let e = error_for(&no_auth(), &["--bind", "0.0.0.0:8000"], &[]);
    assert!(e.contains("--bind \"0.0.0.0:8000\""), "{e}");
    assert_eq!(
        config_for(&open, &["--public-url", "http://localhost:8000"], &[]).bind,
        "127.0.0.1:8000"
    );
}

#[test]
fn connection_limits_from_flags_and_environment() {
    use std::time::Duration;
    let args = ["--public-url", "http://127.0.0.1:1", "--consent", "auto"];
    let c = config_for(&app(), &args, &[]);
    assert_eq!(c.limits.head_timeout, Duration::from_secs(30));
    assert_eq!(c.limits.body_timeout, Duration::from_secs(30));
    assert_eq!(c.limits.idle_timeout, Duration::from_secs(120));
    assert_eq!(c.limits.max_connections, None);

    let mut with = args.to_vec();
    with.extend(["--head-timeout", "2", "--max-connections", "50"]);
    let c = config_for(
        &app(),
        &with,
        &[
            ("MCPGEN_HEAD_TIMEOUT", "9"),
            ("MCPGEN_BODY_TIMEOUT", "3s"),
            ("MCPGEN_IDLE_TIMEOUT", "4"),
        ],
    );
    assert_eq!(c.limits.head_timeout, Duration::from_secs(2));
    assert_eq!(c.limits.body_timeout, Duration::from_secs(3));
    assert_eq!(c.limits.idle_timeout, Duration::from_secs(4));
    assert_eq!(c.limits.max_connections, Some(50));

    for (flag, value, what) in [
        ("--head-timeout", "0", "timeout in seconds"),
        ("--idle-timeout", "1.5", "timeout in seconds"),
        ("--body-timeout", "999999", "timeout in seconds"),
        ("--max-connections", "0", "number of connections"),
    ] {
        let mut with = args.to_vec();
        with.extend([flag, value]);
        let e = error_for(&app(), &with, &[]);
        assert_style(&e);
        assert!(e.starts_with(flag) && e.contains(what), "{e}");
    }
}

#[test]
fn auth_none_needs_a_loopback_public_url() {
    let c = config_for(&no_auth(), &[], &[]);
    assert_eq!(c.login, None);
    assert_eq!(c.issuer, None);
    let e = error_for(&no_auth(), &["--public-url", "https://example.com"], &[]);
    assert_style(&e);
    assert!(e.contains("auth: none") && e.contains("loopback"), "{e}");
    let e = error_for(&no_auth(), &["--consent", "auto"], &[]);
    assert_style(&e);
    assert!(e.starts_with("--login is set"), "{e}");
}

#[test]
fn help_version_and_subcommand() {
    let Ok(Command::Print(help)) = parse_for(&app(), &["--help"], &[]) else {
        panic!("help is printed");
    };
    for needle in [
        "medtainer-mcp",
        "--bind",
        "MCPGEN_BIND",
        "0.0.0.0:8080",
        "--public-url",
        "MCPGEN_PUBLIC_URL",
        PUBLIC,
        "--issuer",
        "MCPGEN_ISSUER",
        "--store",
        "MCPGEN_STORE",
        "sqlite:medtainer-mcp.sqlite3",
        "--consent",
        "MCPGEN_CONSENT",
        "--log-format",
        "MCPGEN_LOG_FORMAT",
        "--trusted-proxies",
        "MCPGEN_TRUSTED_PROXIES",
        "hash-password",
        "MCPGEN_PASSWORD_HASH",
    ] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
    let Ok(Command::Print(version)) = parse_for(&app(), &["--version"], &[]) else {
        panic!("version is printed");
    };
    assert_eq!(version.trim(), "medtainer-mcp 0.3.1");
    // The subcommand needs no password hash: it is how one gets made.
    assert_eq!(
        parse_for(&app(), &["hash-password"], &[]).expect("parses"),
        Command::HashPassword
    );
}

/// Every option and argument line of `--help` (the server's and each subcommand's) reads as
/// one sentence: after the name column, no run of spaces inside the description (a string
/// continued across source lines with its indentation kept), and no argument left without a
/// description.
#[test]
fn help_lines_read_as_sentences() {
    let print = |args: &[&str]| match parse_for(&app(), args, &[]) {
        Ok(Command::Print(help)) => help,
        other => panic!("{args:?} prints help, not {other:?}"),
    };
    let main = print(&["--help"]);
    assert!(
        main.contains(
            "on a listener of its own (keep it private) [env: MCPGEN_METRICS_BIND] [default: off]"
        ),
        "{main}"
    );
    let health = print(&["healthcheck", "--help"]);
    assert!(
        health
            .contains("Server flags go before the subcommand: `--bind 127.0.0.1:9000 healthcheck`"),
        "{health}"
    );
    let mut pages = vec![main, health];
    for sub in [
        &["users", "add"][..],
        &["users", "list"],
        &["users", "remove"],
        &["users", "passwd"],
        &["clients", "list"],
        &["clients", "revoke"],
        &["grants", "list"],
        &["tokens", "revoke"],
    ] {
        pages.push(print(&[sub, &["--help"]].concat()));
    }
    // A line is `  NAME  DESCRIPTION`, or (the long layout) `  NAME` followed by
    // `          DESCRIPTION` lines.
    for page in &pages {
        let lines: Vec<&str> = page.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("  ") {
                continue;
            }
            let description = if line.starts_with("          ") {
                line.trim_start()
            } else if let Some((_, description)) = line.trim_start().split_once("  ") {
                description.trim_start()
            } else {
                let next = lines.get(i + 1).copied().unwrap_or("");
                assert!(
                    next.starts_with("          "),
                    "no description: {line:?} in\n{page}"
                );
                continue;
            };
            assert!(
                !description.is_empty() && !description.contains("  "),
                "help line {line:?} in\n{page}"
            );
        }
    }
}

/// `users ...` on the memory store is refused, as the admin commands are: a user added
/// there would be gone when the command exits, and no server would ever see it.
#[test]
fn users_commands_refuse_the_memory_store() {
    for (args, command) in [
        (
            &["users", "add", "ada", "--password-stdin"][..],
            "users add",
        ),
        (&["users", "list"], "users list"),
        (&["users", "remove", "ada"], "users remove"),
        (
            &["users", "passwd", "ada", "--password-stdin"],
            "users passwd",
        ),
    ] {
        let e = error_for(&app(), &[args, &["--store", "memory"]].concat(), &[]);
        assert_style(&e);
        assert!(
            e.starts_with(&format!(
                "{command} acts on a shared store, and --store is memory"
            )),
            "{e}"
        );
        let e = error_for(&app(), args, &[("MCPGEN_STORE", "memory")]);
        assert!(e.contains("MCPGEN_STORE is memory"), "{e}");
    }
    // A SQLite file stays allowed (the server's default store).
    assert!(matches!(
        parse_for(
            &app(),
            &["users", "list", "--store", "sqlite:x.sqlite3"],
            &[]
        ),
        Ok(Command::Users(_))
    ));
}

#[test]
fn usage_errors_do_not_panic() {
    for args in [
        &["--nope"][..],
        &["--bind"],
        &["serve"],
        &["hash-password", "extra"],
        &["--bind", "1:1", "--bind", "2:2"],
    ] {
        let e = parse_for(&app(), args, &[]).expect_err("usage error");
        assert!(!e.to_string().is_empty());
        assert!(
            !e.to_string().starts_with("error:"),
            "the caller adds the prefix: {}",
            e
        );
    }
}

#[test]
fn odd_values_never_panic() {
    let odd = [
        "",
        " ",
        "\0",
        "%",
        "::",
        "[",
        "]:",
        "http://",
        "https://[::1",
        "redis://[",
        "sqlite:\0",
        "\u{202e}",
        "💥",
        "a:b:c:d",
        "http://127.0.0.1:0",
        "https://xn--",
        "9999999999999999999",
    ];
    let flags = [
        "--bind",
        "--public-url",
        "--issuer",
        "--store",
        "--consent",
        "--log-format",
        "--trusted-proxies",
    ];
    for flag in flags {
        for v in odd {
            let _ = parse_for(&app(), &[flag, v], &[]);
            let _ = parse_for(&no_auth(), &[flag, v], &[]);
        }
    }
    let vars = [
        "MCPGEN_BIND",
        "MCPGEN_PUBLIC_URL",
        "MCPGEN_ISSUER",
        "MCPGEN_STORE",
        "MCPGEN_CONSENT",
        "MCPGEN_LOG_FORMAT",
        "MCPGEN_TRUSTED_PROXIES",
        "MCPGEN_PASSWORD_HASH",
    ];
    for var in vars {
        for v in odd {
            let _ = parse_for(&app(), &[], &[(var, v)]);
        }
    }
    // Arguments that are not UTF-8 are a usage error, not a panic.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt as _;
        let bad = std::ffi::OsString::from_vec(vec![0x66, 0x6f, 0x80]);
        let argv = vec![
            std::ffi::OsString::from("medtainer-mcp"),
            "--bind".into(),
            bad,
        ];
        let r = mcpgen_runtime::config::Config::parse(&app(), argv, env(&[]));
        assert!(r.is_err());
    }
}
