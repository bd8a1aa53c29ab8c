//! The store trait's contract, run against every back end: memory, SQLite (file, surviving a
//! reopen) and Redis (`MCPGEN_TEST_REDIS_URL`, or a `redis-server` this test starts itself;
//! with `CI` set and neither available the test fails rather than skips).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcpgen_runtime::store::{
    self, ClientRecord, CodeRecord, MemoryStore, NewToken, Redemption, RotateRequest, Rotation,
    Store, TokenKind, TokenRecord, TokenState,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A prefix unique to this run, so runs against a shared Redis never see each other's keys.
fn run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn token(kind: TokenKind, family: &str, expires_at: u64) -> TokenRecord {
    TokenRecord {
        kind,
        client_id: "client-1".into(),
        scopes: vec!["claudeai".into(), "orders.read".into()],
        resource: "https://mcp.example.com/mcp".into(),
        family: family.into(),
        issued_at: now(),
        expires_at,
    }
}

fn new(hash: String, record: TokenRecord) -> NewToken {
    NewToken { hash, record }
}

async fn state(s: &dyn Store, hash: &str) -> Option<TokenState> {
    s.get_token(hash).await.unwrap().map(|t| t.state)
}

fn rotate(old: &str, id: &str, family: &str, grace: u64) -> RotateRequest {
    let exp = now() + 3600;
    RotateRequest {
        old_hash: old.into(),
        new_tokens: vec![
            new(
                format!("{id}-access"),
                token(TokenKind::Access, family, exp),
            ),
            new(
                format!("{id}-refresh"),
                token(TokenKind::Refresh, family, exp),
            ),
        ],
        now: now(),
        grace,
        keep_until: exp,
    }
}

async fn clients(s: &dyn Store, p: &str) {
    let mut metadata = serde_json::Map::new();
    metadata.insert("client_uri".into(), "https://example.com".into());
    let c = ClientRecord {
        client_id: format!("{p}-client"),
        secret_hash: Some("abc".into()),
        token_endpoint_auth_method: "client_secret_post".into(),
        redirect_uris: vec!["https://claude.ai/api/mcp/auth_callback".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        client_name: Some("Claude (x)".into()),
        client_id_issued_at: 1_700_000_000,
        metadata,
    };
    s.put_client(&c, None).await.unwrap();
    assert_eq!(s.get_client(&c.client_id).await.unwrap(), Some(c));
    assert_eq!(s.get_client(&format!("{p}-nobody")).await.unwrap(), None);
}

fn client(id: String) -> ClientRecord {
    ClientRecord {
        client_id: id,
        secret_hash: None,
        token_endpoint_auth_method: "none".into(),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        grant_types: vec!["authorization_code".into()],
        client_name: None,
        client_id_issued_at: now(),
        metadata: Default::default(),
    }
}

/// Clients stored with an expiry go at the first purge after it, unless they completed a
/// grant; clients without one stay.
async fn client_expiry(s: &dyn Store, p: &str) {
    let unused = client(format!("{p}-unused"));
    let granted = client(format!("{p}-granted"));
    let forever = client(format!("{p}-forever"));
    let fresh = client(format!("{p}-fresh"));
    s.put_client(&unused, Some(now() - 1)).await.unwrap();
    s.put_client(&granted, Some(now() - 1)).await.unwrap();
    s.put_client(&forever, None).await.unwrap();
    s.put_client(&fresh, Some(now() + 600)).await.unwrap();
    s.client_granted(&granted.client_id).await.unwrap();
    // Granting an unknown client creates nothing.
    s.client_granted(&format!("{p}-nobody")).await.unwrap();
    assert!(s.purge_expired(now()).await.unwrap() >= 1);
    assert_eq!(s.get_client(&unused.client_id).await.unwrap(), None);
    assert_eq!(
        s.get_client(&granted.client_id).await.unwrap(),
        Some(granted)
    );
    assert_eq!(
        s.get_client(&forever.client_id).await.unwrap(),
        Some(forever)
    );
    assert_eq!(
        s.get_client(&fresh.client_id).await.unwrap(),
        Some(fresh.clone())
    );
    assert_eq!(s.get_client(&format!("{p}-nobody")).await.unwrap(), None);
    // Registered again (a client re-registering replaces its record): the new expiry holds.
    s.put_client(&fresh, Some(now() - 1)).await.unwrap();
    s.purge_expired(now()).await.unwrap();
    assert_eq!(s.get_client(&fresh.client_id).await.unwrap(), None);
}

fn code(family: &str, expires_at: u64) -> CodeRecord {
    CodeRecord {
        client_id: "client-1".into(),
        redirect_uri: "http://127.0.0.1:33418/".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        resource: "https://mcp.example.com/mcp".into(),
        scopes: vec!["claudeai".into()],
        family: family.into(),
        issued_at: now(),
        expires_at,
    }
}

async fn codes(s: Arc<dyn Store>, p: &str) {
    let c = code(&format!("{p}-fam"), now() + 600);
    let h = format!("{p}-code");
    s.put_code(&h, &c).await.unwrap();
    assert_eq!(
        s.redeem_code(&h).await.unwrap(),
        Redemption::Fresh(c.clone())
    );
    assert_eq!(
        s.redeem_code(&h).await.unwrap(),
        Redemption::Replayed(c.clone())
    );
    assert_eq!(s.redeem_code(&h).await.unwrap(), Redemption::Replayed(c));
    assert_eq!(
        s.redeem_code(&format!("{p}-never")).await.unwrap(),
        Redemption::Unknown
    );

    // 50 concurrent redemptions: exactly one wins.
    let h = format!("{p}-raced-code");
    s.put_code(&h, &code("f", now() + 600)).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = Arc::clone(&s);
        let h = h.clone();
        tasks.push(tokio::spawn(
            async move { s.redeem_code(&h).await.unwrap() },
        ));
    }
    let mut fresh = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Redemption::Fresh(_)) {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
}

async fn tokens(s: &dyn Store, p: &str) {
    let fam = format!("{p}-fam-a");
    let exp = now() + 3600;
    let a = format!("{p}-a");
    let r = format!("{p}-r");
    s.put_tokens(&[
        new(a.clone(), token(TokenKind::Access, &fam, exp)),
        new(r.clone(), token(TokenKind::Refresh, &fam, exp)),
    ])
    .await
    .unwrap();
    let got = s.get_token(&a).await.unwrap().unwrap();
    assert_eq!(
        got.record,
        token(TokenKind::Access, &fam, exp).clone_with_issued(got.record.issued_at)
    );
    assert_eq!(got.state, TokenState::Active);
    assert_eq!(s.get_token(&format!("{p}-none")).await.unwrap(), None);

    s.revoke_token(&a).await.unwrap();
    assert_eq!(state(s, &a).await, Some(TokenState::Revoked));
    assert_eq!(state(s, &r).await, Some(TokenState::Active));
    // Revoking an unknown token is not an error and creates nothing.
    s.revoke_token(&format!("{p}-ghost")).await.unwrap();
    assert_eq!(s.get_token(&format!("{p}-ghost")).await.unwrap(), None);

    s.revoke_family(&fam, exp).await.unwrap();
    assert_eq!(state(s, &r).await, Some(TokenState::Revoked));
    // A token written into a revoked family later is revoked too (a replay racing the first
    // redemption cannot leave live tokens behind).
    let late = format!("{p}-late");
    s.put_tokens(&[new(late.clone(), token(TokenKind::Access, &fam, exp))])
        .await
        .unwrap();
    assert_eq!(state(s, &late).await, Some(TokenState::Revoked));
}

trait CloneWithIssued {
    fn clone_with_issued(&self, issued_at: u64) -> Self;
}

impl CloneWithIssued for TokenRecord {
    fn clone_with_issued(&self, issued_at: u64) -> Self {
        TokenRecord {
            issued_at,
            ..self.clone()
        }
    }
}

async fn rotation(s: Arc<dyn Store>, p: &str) {
    let fam = format!("{p}-fam-r");
    let exp = now() + 3600;
    let r0 = format!("{p}-r0");
    s.put_tokens(&[new(r0.clone(), token(TokenKind::Refresh, &fam, exp))])
        .await
        .unwrap();

    let first = rotate(&r0, &format!("{p}-1"), &fam, 60);
    assert_eq!(s.rotate_refresh(&first).await.unwrap(), Rotation::Rotated);
    let r1 = format!("{p}-1-refresh");
    match state(&*s, &r0).await {
        Some(TokenState::Rotated { successor, at }) => {
            assert_eq!(successor, r1);
            assert!(at + 5 >= now());
        }
        other => panic!("r0 should be rotated: {other:?}"),
    }
    assert_eq!(state(&*s, &r1).await, Some(TokenState::Active));
    assert_eq!(
        state(&*s, &format!("{p}-1-access")).await,
        Some(TokenState::Active)
    );

    // Within the grace, with r1 unused: answered again; the new refresh token replaces r1,
    // which is revoked, so one refresh token of the family stays live.
    let retry = rotate(&r0, &format!("{p}-1b"), &fam, 60);
    assert_eq!(s.rotate_refresh(&retry).await.unwrap(), Rotation::Rotated);
    let r1b = format!("{p}-1b-refresh");
    match state(&*s, &r0).await {
        Some(TokenState::Rotated { successor, .. }) => assert_eq!(successor, r1b),
        other => panic!("r0 should be rotated: {other:?}"),
    }
    assert_eq!(state(&*s, &r1b).await, Some(TokenState::Active));
    assert_eq!(state(&*s, &r1).await, Some(TokenState::Revoked));
    assert_eq!(
        s.rotate_refresh(&rotate(&r1, &format!("{p}-x1"), &fam, 60))
            .await
            .unwrap(),
        Rotation::Invalid,
        "a replaced successor rotates nothing"
    );

    // r1b is used: r0 is no longer the immediately previous token; its reuse revokes all.
    assert_eq!(
        s.rotate_refresh(&rotate(&r1b, &format!("{p}-2"), &fam, 60))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        s.rotate_refresh(&rotate(&r0, &format!("{p}-3"), &fam, 60))
            .await
            .unwrap(),
        Rotation::Reused
    );
    for h in [format!("{p}-2-refresh"), format!("{p}-2-access")] {
        assert_eq!(state(&*s, &h).await, Some(TokenState::Revoked), "{h}");
    }
    assert_eq!(state(&*s, &format!("{p}-3-refresh")).await, None);
    // Once the family is revoked, even its newest refresh token rotates nothing.
    assert_eq!(
        s.rotate_refresh(&rotate(
            &format!("{p}-2-refresh"),
            &format!("{p}-4"),
            &fam,
            60
        ))
        .await
        .unwrap(),
        Rotation::Invalid
    );

    // No grace: a second use is a reuse at once.
    let fam = format!("{p}-fam-g");
    let g0 = format!("{p}-g0");
    s.put_tokens(&[new(g0.clone(), token(TokenKind::Refresh, &fam, exp))])
        .await
        .unwrap();
    assert_eq!(
        s.rotate_refresh(&rotate(&g0, &format!("{p}-g1"), &fam, 0))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    let mut late = rotate(&g0, &format!("{p}-g2"), &fam, 0);
    late.now += 1;
    assert_eq!(s.rotate_refresh(&late).await.unwrap(), Rotation::Reused);

    // Invalid: unknown, an access token, expired.
    assert_eq!(
        s.rotate_refresh(&rotate(&format!("{p}-nothing"), &format!("{p}-x"), "f", 60))
            .await
            .unwrap(),
        Rotation::Invalid
    );
    let fam = format!("{p}-fam-i");
    let acc = format!("{p}-acc");
    let old = format!("{p}-old");
    s.put_tokens(&[
        new(acc.clone(), token(TokenKind::Access, &fam, exp)),
        new(old.clone(), token(TokenKind::Refresh, &fam, now() + 2)),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.rotate_refresh(&rotate(&acc, &format!("{p}-y"), &fam, 60))
            .await
            .unwrap(),
        Rotation::Invalid
    );
    let mut expired = rotate(&old, &format!("{p}-z"), &fam, 60);
    expired.now += 10;
    assert_eq!(s.rotate_refresh(&expired).await.unwrap(), Rotation::Invalid);

    // Concurrent rotations of one token without grace: exactly one rotates.
    let fam = format!("{p}-fam-c");
    let c0 = format!("{p}-c0");
    s.put_tokens(&[new(c0.clone(), token(TokenKind::Refresh, &fam, exp))])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = Arc::clone(&s);
        let req = rotate(&c0, &format!("{p}-c-{i}"), &fam, 0);
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(&req).await.unwrap()
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        if t.await.unwrap() == Rotation::Rotated {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);

    // 50 concurrent refreshes inside the grace (a client retrying): all are answered, and
    // exactly one refresh token of the family is left live.
    let fam = format!("{p}-fam-cg");
    let d0 = format!("{p}-d0");
    s.put_tokens(&[new(d0.clone(), token(TokenKind::Refresh, &fam, exp))])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = Arc::clone(&s);
        let req = rotate(&d0, &format!("{p}-d-{i}"), &fam, 60);
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(&req).await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Rotation::Rotated);
    }
    let mut live = 0;
    for i in 0..50 {
        if state(&*s, &format!("{p}-d-{i}-refresh")).await == Some(TokenState::Active) {
            live += 1;
        }
    }
    assert_eq!(
        live, 1,
        "one live refresh token after 50 concurrent refreshes"
    );
}

async fn purge(s: &dyn Store, p: &str, expires_keys: bool) {
    let past = now() - 10;
    let h = format!("{p}-old-code");
    s.put_code(&h, &code("f", past)).await.unwrap();
    let t = format!("{p}-old-token");
    s.put_tokens(&[new(t.clone(), token(TokenKind::Access, "f", past))])
        .await
        .unwrap();
    let live = format!("{p}-live-token");
    s.put_tokens(&[new(
        live.clone(),
        token(TokenKind::Access, "f2", now() + 600),
    )])
    .await
    .unwrap();
    let removed = s.purge_expired(now()).await.unwrap();
    if !expires_keys {
        assert!(removed >= 2, "removed {removed}");
    }
    assert_eq!(s.redeem_code(&h).await.unwrap(), Redemption::Unknown);
    assert_eq!(s.get_token(&t).await.unwrap(), None);
    assert!(s.get_token(&live).await.unwrap().is_some());
}

async fn contract(s: Arc<dyn Store>, expires_keys: bool) {
    let p = run_id();
    clients(&*s, &p).await;
    codes(Arc::clone(&s), &p).await;
    tokens(&*s, &p).await;
    rotation(Arc::clone(&s), &p).await;
    purge(&*s, &p, expires_keys).await;
    client_expiry(&*s, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_contract() {
    contract(Arc::new(MemoryStore::new()), false).await;
    contract(store::open("memory").await.unwrap(), false).await;
}

fn temp_db() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mcpgen-store-{}.db", run_id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_contract() {
    let path = temp_db();
    let url = format!("sqlite:{}", path.display());
    contract(store::open(&url).await.unwrap(), false).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The bearer lookup reads on its own connections: a revocation through another replica on
/// the same file (or through this one) is seen by the very next lookup, never a cached answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_lookups_see_revocation_at_once_across_replicas() {
    let path = temp_db();
    let url = format!("sqlite:{}", path.display());
    let a = store::open(&url).await.unwrap();
    let b = store::open(&url).await.unwrap();
    let exp = now() + 600;
    for i in 0..20 {
        let (t, fam) = (format!("t{i}"), format!("fam{i}"));
        a.put_tokens(&[new(t.clone(), token(TokenKind::Access, &fam, exp))])
            .await
            .unwrap();
        assert_eq!(state(&*b, &t).await, Some(TokenState::Active));
        assert_eq!(state(&*a, &t).await, Some(TokenState::Active));
        if i % 2 == 0 {
            b.revoke_token(&t).await.unwrap();
        } else {
            b.revoke_family(&fam, exp).await.unwrap();
        }
        assert_eq!(state(&*a, &t).await, Some(TokenState::Revoked));
        assert_eq!(state(&*b, &t).await, Some(TokenState::Revoked));
    }
    drop((a, b));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A database written before clients could expire: it opens, and its clients are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_clients_from_before_expiry_are_kept() {
    let path = temp_db();
    let old = client("old-client".into());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE mcpgen_clients (client_id TEXT PRIMARY KEY, data TEXT NOT NULL);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO mcpgen_clients (client_id, data) VALUES (?1, ?2)",
            rusqlite::params![old.client_id, serde_json::to_string(&old).unwrap()],
        )
        .unwrap();
    }
    let s = store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    s.purge_expired(now() + 10 * 365 * 86400).await.unwrap();
    assert_eq!(s.get_client("old-client").await.unwrap(), Some(old));
    client_expiry(&*s, "migrated").await;
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// `:memory:` is one database per connection: the store must not read it through others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_in_memory_store_contract() {
    contract(store::open("sqlite::memory:").await.unwrap(), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_survives_a_restart_and_shares_single_use() {
    let path = temp_db();
    let url = format!("sqlite:{}", path.display());
    let p = run_id();
    {
        let s = store::open(&url).await.unwrap();
        clients(&*s, &p).await;
        s.put_code("c1", &code("fam", now() + 600)).await.unwrap();
        s.put_tokens(&[new(
            "t1".into(),
            token(TokenKind::Refresh, "fam", now() + 600),
        )])
        .await
        .unwrap();
    }
    // Two "replicas" on one file: the code is still single-use across them.
    let a = store::open(&url).await.unwrap();
    let b = store::open(&url).await.unwrap();
    assert!(
        a.get_client(&format!("{p}-client"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(state(&*b, "t1").await, Some(TokenState::Active));
    let (ra, rb) = tokio::join!(a.redeem_code("c1"), b.redeem_code("c1"));
    let fresh = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|r| matches!(r, Redemption::Fresh(_)))
        .count();
    assert_eq!(fresh, 1);
    let (qa, qb) = (rotate("t1", "ra", "fam", 0), rotate("t1", "rb", "fam", 0));
    let (ra, rb) = tokio::join!(a.rotate_refresh(&qa), b.rotate_refresh(&qb));
    let rotated = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|r| **r == Rotation::Rotated)
        .count();
    assert_eq!(rotated, 1);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn store_urls() {
    assert!(store::open("memory").await.is_ok());
    let e = store::open("postgres://user:secret@host/db")
        .await
        .err()
        .unwrap();
    assert!(!e.to_string().contains("secret"), "{e}");
    assert!(store::open("sqlite:").await.is_err());
    assert!(store::open("rediss://host").await.is_err());
    let e = store::open("sqlite:/nonexistent-dir/x/y.db")
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("cannot open"), "{e}");
}

/// A redis-server this test started; killed when dropped.
struct RedisChild(Child);

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn redis_url() -> Option<(String, Option<RedisChild>)> {
    if let Ok(url) = std::env::var("MCPGEN_TEST_REDIS_URL")
        && !url.is_empty()
    {
        return Some((url, None));
    }
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let child = RedisChild(child);
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((url, Some(child)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_contract() {
    let Some((url, _child)) = redis_url().await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Redis: set MCPGEN_TEST_REDIS_URL or install redis-server"
        );
        eprintln!("skipped: no MCPGEN_TEST_REDIS_URL and no redis-server on PATH");
        return;
    };
    let s = store::open(&url).await.expect("redis connects");
    contract(Arc::clone(&s), true).await;
    // A second connection behaves as a second replica.
    let other = store::open(&url).await.unwrap();
    let p = run_id();
    s.put_code(&format!("{p}-shared"), &code("f", now() + 600))
        .await
        .unwrap();
    let shared = format!("{p}-shared");
    let (a, b) = tokio::join!(s.redeem_code(&shared), other.redeem_code(&shared));
    let fresh = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|r| matches!(r, Redemption::Fresh(_)))
        .count();
    assert_eq!(fresh, 1);
}
