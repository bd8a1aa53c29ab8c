//! Client ID metadata documents: fetched through the configured fetcher (an in-process fake,
//! and the real `HttpsFetcher` against a local TLS server), validated, cached, and refused for
//! private addresses, redirects, oversize documents and a foreign `client_id`.

mod oauth_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use mcpgen_runtime::oauth::{
    CACHE_TTL, FetchFuture, HttpsFetcher, Login, MAX_CACHED_DOCUMENTS, MAX_DOCUMENT_BYTES,
    MAX_FETCHES_IN_FLIGHT, MAX_STALENESS, MetadataFetcher, OAuth, hash_password, is_public_ip,
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
    /// When set, every fetch waits this long and then fails (the document was deleted, the
    /// host is down).
    fail_after: std::sync::Mutex<Option<Duration>>,
}

impl MetadataFetcher for Fake {
    fn fetch<'a>(&'a self, url: &'a Url, _allow_private: bool) -> FetchFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            let fail_after = *self.fail_after.lock().unwrap();
            if let Some(d) = fail_after {
                tokio::time::sleep(d).await;
                return Err("the host is down".to_owned());
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
    c.auth.client_id_metadata_documents = true;
    if !public_url.starts_with("http://127.") {
        c.auth.login = Login::Password;
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
async fn document_client_name_with_a_bidi_control_is_refused() {
    let mut body: Value = serde_json::from_slice(&doc(CLAUDE_CIMD, CLAUDE_CALLBACK)).unwrap();
    body["client_name"] = json!("Claude \u{202E}moc.live");
    let fake = Arc::new(Fake {
        docs: vec![(CLAUDE_CIMD.into(), body.to_string().into_bytes())],
        ..Fake::default()
    });
    let s = server(LOCAL, fake);
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "invalid_client");
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains("client_name") && d.contains("U+202E"), "{d}");
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

fn has_code(r: &Reply) -> bool {
    r.location_param("code").is_some()
}

/// A deleted document stops working: the cached copy is used while refetching fails, but
/// only up to `MAX_STALENESS` past its expiry; then the client is refused.
#[tokio::test(start_paused = true)]
async fn a_stale_document_is_used_only_for_a_bounded_time() {
    let fake = Arc::new(Fake {
        docs: vec![(CLAUDE_CIMD.into(), doc(CLAUDE_CIMD, CLAUDE_CALLBACK))],
        ..Fake::default()
    });
    let s = server(LOCAL, Arc::clone(&fake));
    assert!(has_code(
        &authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await
    ));
    *fake.fail_after.lock().unwrap() = Some(Duration::ZERO);
    tokio::time::advance(CACHE_TTL + Duration::from_secs(1)).await;
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert!(
        has_code(&r),
        "stale copy used during an outage: {}",
        r.text()
    );
    tokio::time::advance(MAX_STALENESS).await;
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_client");
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(
        d.contains("expired") && d.contains("the host is down"),
        "{d}"
    );
}

/// While a refetch hangs, other requests use the cached copy instead of each waiting for a
/// fetch of their own, and a failed refetch is not retried by every following request.
#[tokio::test(start_paused = true)]
async fn a_failing_refetch_is_not_repeated_by_every_request() {
    let fake = Arc::new(Fake {
        docs: vec![(CLAUDE_CIMD.into(), doc(CLAUDE_CIMD, CLAUDE_CALLBACK))],
        ..Fake::default()
    });
    let s = server(LOCAL, Arc::clone(&fake));
    assert!(has_code(
        &authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await
    ));
    // The host now hangs until the fetch times out.
    *fake.fail_after.lock().unwrap() = Some(Duration::from_secs(60));
    tokio::time::advance(CACHE_TTL + Duration::from_secs(1)).await;
    let replies = futures_util::future::join_all(
        (0..5).map(|_| authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[])),
    )
    .await;
    assert!(replies.iter().all(has_code));
    let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
    assert!(has_code(&r), "{}", r.text());
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        2,
        "one first fetch, one refetch for six requests"
    );
}

/// A flood of other document URLs does not flush a client in use from the cache.
#[tokio::test]
async fn many_document_urls_do_not_evict_a_client_in_use() {
    let others: Vec<String> = (0..MAX_CACHED_DOCUMENTS + 100)
        .map(|i| format!("https://attacker.example/c/{i}"))
        .collect();
    let mut docs = vec![(CLAUDE_CIMD.to_owned(), doc(CLAUDE_CIMD, CLAUDE_CALLBACK))];
    docs.extend(
        others
            .iter()
            .map(|u| (u.clone(), doc(u, "https://attacker.example/cb"))),
    );
    let fake = Arc::new(Fake {
        docs,
        ..Fake::default()
    });
    let s = server(LOCAL, Arc::clone(&fake));
    for (i, other) in others.iter().enumerate() {
        if i % 100 == 0 {
            let r = authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await;
            assert!(has_code(&r), "{}", r.text());
        }
        let r = authorize(&s.router, other, "https://attacker.example/cb", &[]).await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.text());
    }
    assert!(has_code(
        &authorize(&s.router, CLAUDE_CIMD, CLAUDE_CALLBACK, &[]).await
    ));
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        others.len() + 1,
        "claude.ai's document was fetched once"
    );
}

/// At most `MAX_FETCHES_IN_FLIGHT` documents are fetched at once; one more is refused at once.
#[tokio::test(start_paused = true)]
async fn fetches_in_flight_are_capped() {
    let fake = Arc::new(Fake::default());
    *fake.fail_after.lock().unwrap() = Some(Duration::from_secs(60));
    let s = Arc::new(server(LOCAL, Arc::clone(&fake)));
    let hanging: Vec<_> = (0..MAX_FETCHES_IN_FLIGHT)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let id = format!("https://slow.example/c/{i}");
                authorize(&s.router, &id, CLAUDE_CALLBACK, &[]).await
            })
        })
        .collect();
    while fake.calls.load(Ordering::SeqCst) < MAX_FETCHES_IN_FLIGHT {
        tokio::task::yield_now().await;
    }
    let r = authorize(
        &s.router,
        "https://slow.example/one-more",
        CLAUDE_CALLBACK,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains("too many") && d.contains("retry"), "{d}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), MAX_FETCHES_IN_FLIGHT);
    for h in hanging {
        assert_eq!(h.await.unwrap().status, StatusCode::UNAUTHORIZED);
    }
}

/// A public server fetches documents on port 443 only.
#[tokio::test]
async fn a_public_server_fetches_only_from_port_443() {
    let fake = Arc::new(Fake::default());
    let s = server("https://mcp.example.com", Arc::clone(&fake));
    let r = authorize(
        &s.router,
        "https://claude.ai:8443/meta",
        CLAUDE_CALLBACK,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains("443"), "{d}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
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

/// IPv6 forms that reach an IPv4 address: NAT64 (RFC 6052 `64:ff9b::/96`, RFC 8215
/// `64:ff9b:1::/48`) is how IPv6-only hosts (AWS, Kubernetes IPv6 clusters with DNS64) reach
/// IPv4, so `64:ff9b::a9fe:a9fe` is the cloud metadata service; 6to4 (`2002::/16`) and the
/// deprecated IPv4-compatible (`::/96`) and site-local (`fec0::/10`) ranges are no public
/// targets either.
#[test]
fn ipv6_forms_of_private_ipv4_addresses_are_not_public() {
    for private in [
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::10.0.0.1",
        "64:ff9b::127.0.0.1",
        "64:ff9b:1::a00:1",
        "2002:a9fe:a9fe::1",
        "2002:7f00:1::",
        "::127.0.0.1",
        "::10.0.0.1",
        "::ffff:0:10.0.0.1",
        "fec0::1",
    ] {
        assert!(
            !is_public_ip(private.parse().unwrap()),
            "{private} counts as public"
        );
    }
    // The same prefixes around a public IPv4 address are fine to fetch from.
    for public in ["64:ff9b::a04f:680a", "2606:4700::1", "2a00:1450:4001::200e"] {
        assert!(is_public_ip(public.parse().unwrap()), "{public}");
    }
}

// ---------------------------------------------------------------------------------------------
// The real fetcher against a local TLS server (a test CA the fetcher is told to trust).

mod tls {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    /// A TLS server on 127.0.0.1 answering fixed raw HTTP responses by path.
    pub struct DocServer {
        pub base: String,
        /// The test CA's certificate (DER), for `HttpsFetcher::with_test_root`.
        pub root: Vec<u8>,
        /// Request paths, in order.
        pub paths: Arc<Mutex<Vec<String>>>,
        pub connections: Arc<AtomicUsize>,
    }

    impl DocServer {
        pub fn paths(&self) -> Vec<String> {
            self.paths.lock().unwrap().clone()
        }
        pub fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }
    }

    pub fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    pub fn found(location: &str) -> String {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    /// A CA, and a certificate for 127.0.0.1 and localhost signed by it.
    fn certificates() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "mcpgen test ca");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (
            ca_cert.der().to_vec(),
            leaf.der().to_vec(),
            key.serialize_der(),
        )
    }

    /// Starts the server; `responses` maps a path to a raw response, given the base URL
    /// (`https://127.0.0.1:PORT`). Other paths get 404.
    pub async fn start(responses: impl FnOnce(&str) -> Vec<(String, String)>) -> DocServer {
        let (root, leaf, key) = certificates();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(leaf)],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("https://127.0.0.1:{}", addr.port());
        let responses: Arc<HashMap<String, String>> =
            Arc::new(responses(&base).into_iter().collect());
        let paths = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (p, c) = (Arc::clone(&paths), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (acceptor, responses, paths) =
                    (acceptor.clone(), Arc::clone(&responses), Arc::clone(&p));
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    paths.lock().unwrap().push(path.clone());
                    let res = responses.get(&path).cloned().unwrap_or_else(|| {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_owned()
                    });
                    let _ = tls.write_all(res.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        DocServer {
            base,
            root,
            paths,
            connections,
        }
    }
}

fn doc_for(client_id: &str, redirect: &str) -> String {
    String::from_utf8(doc(client_id, redirect)).unwrap()
}

/// A server whose metadata documents are fetched by the real `HttpsFetcher`, trusting the
/// test CA.
fn tls_server(public_url: &str, docs: &tls::DocServer) -> Server {
    let fetcher = HttpsFetcher::with_test_root(&docs.root).expect("test root");
    server_with_fetcher(public_url, Arc::new(fetcher))
}

fn server_with_fetcher(public_url: &str, fetcher: Arc<dyn MetadataFetcher>) -> Server {
    let mut c = config(public_url);
    c.auth.client_id_metadata_documents = true;
    if !public_url.starts_with("http://127.") {
        c.auth.login = Login::Password;
        c.password_hash = Some(hash_password("pw"));
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let oauth = OAuth::with_fetcher(c, Arc::clone(&store), fetcher).expect("config");
    Server {
        router: oauth.router(),
        oauth,
        store,
    }
}

const NATIVE_CALLBACK: &str = "http://127.0.0.1:33418/callback";

#[tokio::test]
async fn document_served_over_tls_completes_a_flow() {
    let docs = tls::start(|base| {
        let id = format!("{base}/client.json");
        vec![(
            "/client.json".into(),
            tls::ok(&doc_for(&id, NATIVE_CALLBACK)),
        )]
    })
    .await;
    let id = format!("{}/client.json", docs.base);
    // The server is loopback, so a loopback document host is allowed (see the refusals).
    let s = tls_server(LOCAL, &docs);
    let code = code_for(&s.router, &id, NATIVE_CALLBACK, &[("scope", "orders.read")]).await;
    let r = exchange(&s.router, &id, NATIVE_CALLBACK, &code).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let parts = http::Request::post("/mcp")
        .header("authorization", format!("Bearer {access}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let principal = s
        .oauth
        .authenticator()
        .authenticate(&parts)
        .await
        .expect("the bearer call is accepted");
    assert_eq!(principal.client_id.as_deref(), Some(id.as_str()));
    assert!(principal.scopes.contains("orders.read"));
    assert_eq!(docs.paths(), ["/client.json"], "fetched once, then cached");
}

#[tokio::test]
async fn documents_over_tls_are_refused_for_redirects_size_and_a_foreign_client_id() {
    let docs = tls::start(|base| {
        let id = format!("{base}/client.json");
        let big = format!(
            "{{\"client_id\":\"{base}/big.json\",\"redirect_uris\":[\"{NATIVE_CALLBACK}\"],\"pad\":\"{}\"}}",
            "x".repeat(MAX_DOCUMENT_BYTES)
        );
        vec![
            ("/client.json".into(), tls::ok(&doc_for(&id, NATIVE_CALLBACK))),
            ("/moved.json".into(), tls::found(&id)),
            ("/big.json".into(), tls::ok(&big)),
            ("/wrong.json".into(), tls::ok(&doc_for(&id, NATIVE_CALLBACK))),
        ]
    })
    .await;
    let s = tls_server(LOCAL, &docs);
    for (path, why) in [
        ("/moved.json", "redirects are not followed"),
        ("/big.json", "too large"),
        ("/wrong.json", "differs from its url"),
    ] {
        let id = format!("{}{path}", docs.base);
        let r = authorize(&s.router, &id, NATIVE_CALLBACK, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text());
        assert_eq!(r.json()["error"], "invalid_client", "{path}");
        let d = r.json()["error_description"].as_str().unwrap().to_owned();
        assert!(d.contains(why), "{path}: {d}");
        assert!(r.header("location").is_empty(), "{path}");
    }
    // The redirect was not followed: the document it points at was never requested.
    assert_eq!(docs.paths(), ["/moved.json", "/big.json", "/wrong.json"]);
}

#[tokio::test]
async fn a_public_server_never_connects_to_a_private_document_host() {
    let docs = tls::start(|base| {
        let id = format!("{base}/client.json");
        vec![(
            "/client.json".into(),
            tls::ok(&doc_for(&id, NATIVE_CALLBACK)),
        )]
    })
    .await;
    let id = format!("{}/client.json", docs.base);
    let s = tls_server("https://mcp.example.com", &docs);
    let r = authorize(&s.router, &id, NATIVE_CALLBACK, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(d.contains("private address"), "{d}");
    // A name that resolves to loopback is refused after resolution, before connecting.
    let fetcher = HttpsFetcher::with_test_root(&docs.root).unwrap();
    let by_name = Url::parse(&format!(
        "https://localhost:{}/client.json",
        Url::parse(&docs.base).unwrap().port().unwrap()
    ))
    .unwrap();
    let e = fetcher.fetch(&by_name, false).await.unwrap_err();
    assert!(e.contains("private"), "{e}");
    assert_eq!(docs.connections(), 0, "no connection to a private address");
    // The same fetcher reaches the server when private addresses are allowed: the refusals
    // above were the address check, not TLS.
    let body = fetcher
        .fetch(&Url::parse(&id).unwrap(), true)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        doc_for(&id, NATIVE_CALLBACK)
    );
}
