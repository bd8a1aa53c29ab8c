//! Authorization decisions are logged (tracing) and no secret, code or token ever is. Alone
//! in its own test binary: tracing caches per-callsite interest process-wide, so a scoped
//! subscriber only sees every event when no other test runs beside it.

mod oauth_common;

use std::sync::Arc;

use http::Request;
use oauth_common::*;

fn parts(authorization: Option<&str>) -> http::request::Parts {
    let mut b = Request::post("/mcp");
    if let Some(a) = authorization {
        b = b.header("authorization", a);
    }
    b.body(()).unwrap().into_parts().0
}

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn decisions_are_logged_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = local();
    let client = register(&s.router, claude_body("client_secret_post")).await;
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let code = code_for(&s.router, id, CLAUDE_CALLBACK, &[]).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CLAUDE_CALLBACK),
        ("client_id", id),
        ("client_secret", secret),
        ("code_verifier", VERIFIER),
    ];
    let r = post_form(&s.router, "/token", &pairs, &[]).await;
    let t = r.json();
    let access = t["access_token"].as_str().unwrap();
    let refresh_token = t["refresh_token"].as_str().unwrap();
    // Replay, a bad bearer, a good bearer: all logged.
    let replay = post_form(&s.router, "/token", &pairs, &[]).await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    let auth = s.oauth.authenticator();
    let _ = auth.authenticate(&parts(Some("Bearer not-a-token"))).await;
    let _ = auth
        .authenticate(&parts(Some(&format!("Bearer {access}"))))
        .await;
    // A refresh token presented after its child was used: a reuse, logged as a breach. (The
    // replay above revoked the first grant; this is a second one.)
    let code = code_for(&s.router, id, CLAUDE_CALLBACK, &[]).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CLAUDE_CALLBACK),
        ("client_id", id),
        ("client_secret", secret),
        ("code_verifier", VERIFIER),
    ];
    let second = post_form(&s.router, "/token", &pairs, &[]).await.json();
    let second_refresh = second["refresh_token"].as_str().unwrap();
    let refresh = async |token: &str| {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", id),
            ("client_secret", secret),
        ];
        post_form(&s.router, "/token", &pairs, &[]).await.json()
    };
    let child = refresh(second_refresh).await;
    let child = child["refresh_token"].as_str().unwrap();
    let grandchild = refresh(child).await;
    assert!(grandchild["refresh_token"].is_string(), "{grandchild}");
    assert_eq!(refresh(second_refresh).await["error"], "invalid_grant");

    // Refusals of a stored refresh token (its grant was revoked by the reuse) and of a code
    // with the wrong verifier: both name whose grant it was.
    let revoked = refresh(grandchild["refresh_token"].as_str().unwrap()).await;
    assert_eq!(revoked["error"], "invalid_grant", "{revoked}");
    let code = code_for(&s.router, id, CLAUDE_CALLBACK, &[]).await;
    let wrong_verifier = "x".repeat(43);
    let r = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("client_id", id),
            ("client_secret", secret),
            ("code_verifier", &wrong_verifier),
        ],
        &[],
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_grant");

    // A refused token request whose reason quotes the request (a repeated parameter's name)
    // logs it escaped: a line break in it cannot forge a log line.
    let forged_refresh = "x\nforged decision=\"refresh_reused\"";
    let r = post_form(
        &s.router,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            (forged_refresh, "1"),
            (forged_refresh, "2"),
        ],
        &[],
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_request");
    // What a request sends never starts a log line of its own: a repeated parameter's name
    // and a metadata-document client_id that is not a url are named escaped.
    let forged = "x\nforged decision=\"authorize_approved\"";
    let query = form(&[(forged, "1"), (forged, "2")]);
    let r = get(&s.router, &format!("/authorize?{query}")).await;
    assert_eq!(r.status, http::StatusCode::BAD_REQUEST, "{}", r.text());
    let r = post_form(&s.router, "/token", &[(forged, "1"), (forged, "2")], &[]).await;
    assert_eq!(r.status, http::StatusCode::BAD_REQUEST, "{}", r.text());
    let mut c = config(LOCAL);
    c.auth.client_id_metadata_documents = true;
    let documents = server_with(c);
    let id = format!("https://example.com/{forged}");
    let query = form(&[("client_id", &id), ("response_type", "code")]);
    let r = get(&documents.router, &format!("/authorize?{query}")).await;
    assert_eq!(r.status, http::StatusCode::UNAUTHORIZED, "{}", r.text());

    // A signed-in person (shared password: the operator) refused without a page
    // (`prompt=none` for scopes not approved) and denying on the page: both name them.
    let mut c = config("https://mcp.example.com");
    c.auth.login = mcpgen_runtime::oauth::Login::Password;
    c.password_hash = Some(mcpgen_runtime::oauth::hash_password("a shared password"));
    let pw = server_with(c);
    let pw_client = register(&pw.router, claude_body("none")).await;
    let pw_id = pw_client["client_id"].as_str().unwrap();
    let consent = async |extra: &[(&str, &str)], cookie: &str| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", pw_id),
            ("redirect_uri", CLAUDE_CALLBACK),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("scope", "orders.read"),
            ("csrf", "double-submitted"),
        ];
        pairs.extend_from_slice(extra);
        let cookie = format!("__Host-mcpgen_csrf=double-submitted; {cookie}");
        post_form(&pw.router, "/authorize", &pairs, &[("cookie", &cookie)]).await
    };
    let r = consent(
        &[("password", "a shared password"), ("action", "approve")],
        "",
    )
    .await;
    assert_eq!(r.status, http::StatusCode::FOUND, "{}", r.text());
    let session = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.contains("mcpgen_session="))
        .expect("a sign-in cookie");
    let r = consent(&[("action", "deny")], &session).await;
    assert_eq!(r.location_param("error").as_deref(), Some("access_denied"));
    let query = form(&[
        ("response_type", "code"),
        ("client_id", pw_id),
        ("redirect_uri", CLAUDE_CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("scope", "orders.write"),
        ("prompt", "none"),
    ]);
    let req = Request::get(format!("/authorize?{query}"))
        .header("cookie", &session)
        .body(axum::body::Body::empty())
        .unwrap();
    let r = send(&pw.router, req).await;
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("consent_required")
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for error in ["access_denied", "consent_required"] {
        assert!(
            logs.lines()
                .any(|l| l.contains("decision=\"authorize_refused\"")
                    && l.contains(&format!("error=\"{error}\""))
                    && l.contains("subject=\"operator\"")),
            "{error} without its subject: {logs}"
        );
    }
    let injected: Vec<&str> = logs.lines().filter(|l| l.starts_with("forged")).collect();
    assert!(injected.is_empty(), "forged log lines: {injected:?}");
    for decision in [
        "decision=\"register\"",
        "decision=\"authorize_approved\"",
        "decision=\"token_issued\"",
        "decision=\"code_replayed\"",
        "decision=\"bearer_refused\"",
        "decision=\"refresh_reused\"",
        "reuse=\"child_used\"",
    ] {
        assert!(logs.contains(decision), "{decision} missing from:\n{logs}");
    }
    // Every decision about a grant names whom it belongs to: automatic consent on loopback
    // approves for the local user, the shared password for the operator.
    for decision in [
        "authorize_approved",
        "token_issued",
        "code_replayed",
        "refresh_reused",
    ] {
        let marker = format!("decision=\"{decision}\"");
        let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&marker)).collect();
        assert!(!lines.is_empty(), "{decision} missing from:\n{logs}");
        for line in lines {
            let who = if line.contains(pw_id) {
                "operator"
            } else {
                "local"
            };
            assert!(
                line.contains(&format!("subject=\"{who}\"")),
                "no subject: {line}"
            );
        }
    }
    for reason in ["refresh token revoked", "does not match the code_challenge"] {
        assert!(
            logs.lines()
                .any(|l| l.contains("decision=\"token_refused\"")
                    && l.contains(reason)
                    && l.contains("subject=\"local\"")),
            "{reason}: {logs}"
        );
    }
    // A stored token refused (the replay revoked it) is named by its owner too.
    assert!(
        logs.lines()
            .any(|l| l.contains("decision=\"bearer_refused\"")
                && l.contains("reason=\"token revoked\"")
                && l.contains("subject=\"local\"")),
        "{logs}"
    );
    for secret_value in [
        secret,
        code.as_str(),
        access,
        refresh_token,
        second_refresh,
        child,
        grandchild["refresh_token"].as_str().unwrap(),
        grandchild["access_token"].as_str().unwrap(),
        "not-a-token",
        VERIFIER,
    ] {
        assert!(
            !logs.contains(secret_value),
            "a secret leaked into the logs"
        );
    }
}
