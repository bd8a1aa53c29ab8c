//! Client ID metadata documents: fetched through the configured fetcher (an in-process fake
//! here), validated, cached, and refused for private addresses.

mod oauth_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use mcpgen_runtime::oauth::{
    Consent, FetchFuture, HttpsFetcher, MetadataFetcher, OAuth, hash_password, is_public_ip,
};
use mcpgen_runtime::store::{MemoryStore, Store};
use oauth_common::*;
use serde_json::{Value, json};
use url::Url;

const CLAUDE_CIMD: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

#[derive(Default)]
struct Fake {
    calls: AtomicUsize,
    docs: Vec<(String, Vec<u8>)>,
    delay: Option<Duration>,
}

impl MetadataFetcher for Fake {
    fn fetch<'a>(&'a self, url: &'a Url, _allow_private: bool) -> FetchFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            self.docs
                .iter()
                .find(|(u, _)| u == url.as_str())
                .map(|(_, b)| b.clone())
                .ok_or_else(|| "404".to_owned())
        })
    }
}

fn doc(client_id: &str, redirect: &str) -> Vec<u8> {
    json!({
        "client_id": client_id,
        "client_name": "Claude",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
    .to_string()
    .into_bytes()
}

fn server(public_url: &str, fake: Arc<Fake>) -> Server {
    let mut c = config(public_url);
    c.client_id_metadata_documents = true;
    if !public_url.starts_with("http://127.") {
        c.consent = Consent::Password;
        c.password_hash = Some(hash_password("pw"));
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let oauth = OAuth::with_fetcher(c, Arc::clone(&store), fake).expect("config");
    Server {
        router: oauth.router(),
        oauth,
        store,
    }
}

#[tokio::test]
async fn document_client_runs_the_whole_flow_and_is_cached() {
    let fake = Arc::new(Fake {
        docs: vec![(CLAUDE_CIMD.into(), doc(CLAUDE_CIMD, CLAUDE_CALLBACK))],
        ..Fake::default()
    });
    let s = server(LOCAL, Arc::clone(&fake));
    let code = code_for(
        &s.router,
        CLAUDE_CIMD,
        CLAUDE_CALLBACK,
        &[("scope", "claudeai")],
    )
    .await;
    let r = exchange(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v: Value = r.json();
    assert_eq!(v["scope"], "claudeai");
    assert!(v["refresh_token"].is_string());
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        1,
        "cached after the first fetch"
    );
}

#[tokio::test]
async fn document_must_name_itself_and_the_redirect() {
    let other = "https://evil.example/meta";
    let fake = Arc::new(Fake {
        docs: vec![
            (CLAUDE_CIMD.into(), doc(other, CLAUDE_CALLBACK)),
            (other.into(), doc(other, "https://evil.example/cb")),
        ],
        ..Fake::default()
    });
    let s = server(LOCAL, fake);
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("differs from its url")
    );
    let r = authorize(&s.router, other, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header("location").is_empty());
}

#[tokio::test]
async fn private_addresses_are_never_fetched_by_a_public_server() {
    let fake = Arc::new(Fake::default());
    let s = server("https://mcp.example.com", Arc::clone(&fake));
    for id in [
        "https://10.0.0.1/meta",
        "https://127.0.0.1/meta",
        "https://[::1]/meta",
        "https://169.254.169.254/latest",
        "https://localhost/meta",
        "http://claude.ai/oauth/meta",
        "https://claude.ai/",
    ] {
        let r = authorize(&s.router, id, CLAUDE_CALLBACK, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{id}");
        assert_eq!(r.json()["error"], "invalid_client", "{id}");
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn slow_and_oversized_documents_are_refused() {
    let big = format!(
        "{{\"client_id\":\"{CLAUDE_CIMD}\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let fake = Arc::new(Fake {
        docs: vec![(CLAUDE_CIMD.into(), big.into_bytes())],
        ..Fake::default()
    });
    let s = server(LOCAL, fake);
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("too large")
    );

    let slow = Arc::new(Fake {
        docs: vec![(CLAUDE_CIMD.into(), doc(CLAUDE_CIMD, CLAUDE_CALLBACK))],
        delay: Some(Duration::from_secs(30)),
        ..Fake::default()
    });
    let s = server(LOCAL, slow);
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
}

#[tokio::test]
async fn url_client_ids_are_unknown_when_documents_are_off() {
    let s = local();
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
}

#[tokio::test]
async fn https_fetcher_checks_resolved_addresses() {
    let f = HttpsFetcher::default();
    let url = Url::parse("https://localhost/meta").unwrap();
    let e = f.fetch(&url, false).await.unwrap_err();
    assert!(e.contains("private"), "{e}");
    assert!(!is_public_ip("100.64.0.1".parse().unwrap()));
    assert!(!is_public_ip("::ffff:10.0.0.1".parse().unwrap()));
    assert!(!is_public_ip("fd00::1".parse().unwrap()));
    assert!(is_public_ip("160.79.104.10".parse().unwrap()));
    assert!(is_public_ip("2606:4700::1".parse().unwrap()));
}
