//! The store trait's contract, run against every back end: memory, SQLite (file, surviving a
//! reopen) and Redis (`MCPGEN_TEST_REDIS_URL`, or a `redis-server` this test starts itself;
//! with `CI` set and neither available the test fails rather than skips).

mod redis_common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mcpgen_runtime::store::{
    self, ClientRecord, ClientRemoval, CodeRecord, GrantFilter, MemoryStore, NewToken, Person,
    Redemption, Reuse, RotateRequest, Rotation, Store, TokenKind, TokenRecord, TokenState,
    UserRecord,
};
use redis_common::redis_url;

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
        person: ada(),
    }
}

/// The person the test records belong to: every field set, with text that JSON escapes.
fn ada() -> Person {
    Person {
        subject: "ada \"the first\"".into(),
        name: Some("Ada Lovelace — Countess".into()),
        email: Some("ada@example.com".into()),
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

/// How many clients wait for their first grant now, as `put_unused_client` counts them: one
/// less than the smallest cap under which one more is stored (then removed again by a purge).
/// Found by probing, so the test holds on a Redis other runs share.
async fn unused_count(s: &dyn Store, p: &str) -> u64 {
    let probe = client(format!("{p}-probe"));
    for cap in 0.. {
        if s.put_unused_client(&probe, now() + 1, now(), cap)
            .await
            .unwrap()
        {
            // Expires at once: not counted any more, purged below.
            s.put_client(&probe, Some(now() - 1)).await.unwrap();
            s.purge_expired(now()).await.unwrap();
            return cap - 1;
        }
        assert_eq!(s.get_client(&probe.client_id).await.unwrap(), None);
    }
    unreachable!()
}

/// `put_unused_client` stores a client only while fewer than the cap wait for their first
/// grant; granted and expired clients are not counted; concurrent registrations, also through
/// several replicas, never pass the cap together.
async fn unused_client_cap(stores: &[Arc<dyn Store>], p: &str) {
    let s = &*stores[0];
    let base = unused_count(s, p).await;
    let later = now() + 600;
    let a = client(format!("{p}-cap-a"));
    assert!(
        s.put_unused_client(&a, later, now(), base + 1)
            .await
            .unwrap()
    );
    assert_eq!(s.get_client(&a.client_id).await.unwrap(), Some(a.clone()));
    let b = client(format!("{p}-cap-b"));
    assert!(
        !s.put_unused_client(&b, later, now(), base + 1)
            .await
            .unwrap()
    );
    assert_eq!(s.get_client(&b.client_id).await.unwrap(), None);
    // A grant frees the place.
    s.client_granted(&a.client_id).await.unwrap();
    assert!(
        s.put_unused_client(&b, later, now(), base + 1)
            .await
            .unwrap()
    );
    // A client past its expiry (not yet purged) is not counted either.
    let gone = client(format!("{p}-cap-gone"));
    s.put_client(&gone, Some(now() - 1)).await.unwrap();
    let c = client(format!("{p}-cap-c"));
    assert!(
        s.put_unused_client(&c, later, now(), base + 2)
            .await
            .unwrap()
    );
    // Now base + 2 wait: 20 registrations at once under a cap of base + 7 store exactly 5.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = Arc::clone(&stores[i % stores.len()]);
            let c = client(format!("{p}-cap-many-{i}"));
            tokio::spawn(async move { s.put_unused_client(&c, later, now(), base + 7).await })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        stored += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(stored, 5);
    // Leave nothing counted behind for later runs on a shared store.
    for i in 0..20 {
        s.client_granted(&format!("{p}-cap-many-{i}"))
            .await
            .unwrap();
    }
    s.client_granted(&b.client_id).await.unwrap();
    s.client_granted(&c.client_id).await.unwrap();
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
        person: ada(),
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

/// The grace the rotation tests use, in seconds.
const GRACE: u64 = 120;

async fn put_refresh(s: &dyn Store, hash: &str, family: &str) {
    s.put_tokens(&[new(
        hash.into(),
        token(TokenKind::Refresh, family, now() + 3600),
    )])
    .await
    .unwrap();
}

/// The first use's time, and the child used since, of a rotated token.
async fn rotated(s: &dyn Store, hash: &str) -> (u64, Option<String>) {
    match state(s, hash).await {
        Some(TokenState::Rotated { at, successor }) => (at, successor),
        other => panic!("{hash} should be rotated: {other:?}"),
    }
}

async fn assert_state(s: &dyn Store, hashes: &[String], want: TokenState) {
    for h in hashes {
        assert_eq!(state(s, h).await, Some(want.clone()), "{h}");
    }
}

async fn rotation(s: Arc<dyn Store>, p: &str) {
    let s = &*s;
    let fam = format!("{p}-fam-r");
    let r0 = format!("{p}-r0");
    put_refresh(s, &r0, &fam).await;

    let first = rotate(&r0, &format!("{p}-1"), &fam, GRACE);
    assert_eq!(s.rotate_refresh(&first).await.unwrap(), Rotation::Rotated);
    let (r1, a1) = (format!("{p}-1-refresh"), format!("{p}-1-access"));
    let (at, successor) = rotated(s, &r0).await;
    assert_eq!((at, successor), (first.now, None));
    assert_state(s, &[r1.clone(), a1.clone()], TokenState::Active).await;

    // Within the grace, with no child used: a retry gets a sibling of r1, and nothing is
    // revoked (r1 may be in a response the client kept). The window does not move.
    let mut retry = rotate(&r0, &format!("{p}-1b"), &fam, GRACE);
    retry.now = first.now + GRACE - 1;
    assert_eq!(s.rotate_refresh(&retry).await.unwrap(), Rotation::Rotated);
    let (r1b, a1b) = (format!("{p}-1b-refresh"), format!("{p}-1b-access"));
    assert_eq!(rotated(s, &r0).await, (first.now, None));
    assert_state(
        s,
        &[r1.clone(), a1.clone(), r1b.clone(), a1b.clone()],
        TokenState::Active,
    )
    .await;

    // r1b is used first: it is r0's successor, and its sibling r1 is dead (access tokens stay).
    let two = rotate(&r1b, &format!("{p}-2"), &fam, GRACE);
    assert_eq!(s.rotate_refresh(&two).await.unwrap(), Rotation::Rotated);
    assert_eq!(rotated(s, &r0).await, (first.now, Some(r1b.clone())));
    assert_eq!(rotated(s, &r1b).await, (two.now, None));
    assert_eq!(state(s, &r1).await, Some(TokenState::Superseded));
    let later = [
        a1.clone(),
        a1b.clone(),
        format!("{p}-2-refresh"),
        format!("{p}-2-access"),
    ];
    assert_state(s, &later, TokenState::Active).await;

    // Presenting the dead sibling, even inside the grace, is a reuse: the whole family goes.
    assert_eq!(
        s.rotate_refresh(&rotate(&r1, &format!("{p}-3"), &fam, GRACE))
            .await
            .unwrap(),
        Rotation::Reused(Reuse::Superseded)
    );
    assert_state(s, &later, TokenState::Revoked).await;
    assert_eq!(state(s, &format!("{p}-3-refresh")).await, None);
    // Once the family is revoked, even its newest refresh token rotates nothing.
    assert_eq!(
        s.rotate_refresh(&rotate(
            &format!("{p}-2-refresh"),
            &format!("{p}-4"),
            &fam,
            GRACE
        ))
        .await
        .unwrap(),
        Rotation::Invalid
    );

    // The parent presented after one of its children was used, inside the grace: a reuse.
    let fam = format!("{p}-fam-p");
    let q0 = format!("{p}-q0");
    put_refresh(s, &q0, &fam).await;
    let q = |old: &str, id: &str| rotate(old, &format!("{p}-{id}"), &fam, GRACE);
    assert_eq!(
        s.rotate_refresh(&q(&q0, "q1")).await.unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        s.rotate_refresh(&q(&format!("{p}-q1-refresh"), "q2"))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    assert_eq!(
        s.rotate_refresh(&q(&q0, "q3")).await.unwrap(),
        Rotation::Reused(Reuse::ChildUsed)
    );
    assert_state(
        s,
        &[format!("{p}-q2-refresh"), format!("{p}-q2-access")],
        TokenState::Revoked,
    )
    .await;

    // A rotated token presented at the end of the grace, no child used: a reuse.
    let fam = format!("{p}-fam-w");
    let w0 = format!("{p}-w0");
    put_refresh(s, &w0, &fam).await;
    let w1 = rotate(&w0, &format!("{p}-w1"), &fam, GRACE);
    assert_eq!(s.rotate_refresh(&w1).await.unwrap(), Rotation::Rotated);
    let mut late = rotate(&w0, &format!("{p}-w2"), &fam, GRACE);
    late.now = w1.now + GRACE;
    assert_eq!(
        s.rotate_refresh(&late).await.unwrap(),
        Rotation::Reused(Reuse::GraceOver)
    );
    assert_eq!(
        state(s, &format!("{p}-w1-refresh")).await,
        Some(TokenState::Revoked)
    );

    // No grace: a second use is a reuse at once.
    let fam = format!("{p}-fam-g");
    let g0 = format!("{p}-g0");
    put_refresh(s, &g0, &fam).await;
    assert_eq!(
        s.rotate_refresh(&rotate(&g0, &format!("{p}-g1"), &fam, 0))
            .await
            .unwrap(),
        Rotation::Rotated
    );
    let mut late = rotate(&g0, &format!("{p}-g2"), &fam, 0);
    late.now += 1;
    assert_eq!(
        s.rotate_refresh(&late).await.unwrap(),
        Rotation::Reused(Reuse::GraceOver)
    );

    // Invalid: unknown, an access token, expired, revoked.
    let exp = now() + 3600;
    assert_eq!(
        s.rotate_refresh(&rotate(
            &format!("{p}-nothing"),
            &format!("{p}-x"),
            "f",
            GRACE
        ))
        .await
        .unwrap(),
        Rotation::Invalid
    );
    let fam = format!("{p}-fam-i");
    let acc = format!("{p}-acc");
    let old = format!("{p}-old");
    let gone = format!("{p}-gone");
    s.put_tokens(&[
        new(acc.clone(), token(TokenKind::Access, &fam, exp)),
        new(old.clone(), token(TokenKind::Refresh, &fam, now() + 2)),
        new(gone.clone(), token(TokenKind::Refresh, &fam, exp)),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.rotate_refresh(&rotate(&acc, &format!("{p}-y"), &fam, GRACE))
            .await
            .unwrap(),
        Rotation::Invalid
    );
    let mut expired = rotate(&old, &format!("{p}-z"), &fam, GRACE);
    expired.now += 10;
    assert_eq!(s.rotate_refresh(&expired).await.unwrap(), Rotation::Invalid);
    s.revoke_token(&gone).await.unwrap();
    assert_eq!(
        s.rotate_refresh(&rotate(&gone, &format!("{p}-v"), &fam, GRACE))
            .await
            .unwrap(),
        Rotation::Invalid
    );
    assert_eq!(
        state(s, &acc).await,
        Some(TokenState::Active),
        "not a reuse"
    );
}

/// A stolen refresh token replayed inside the grace (RFC 9700 §4.14.2): the thief's tokens
/// and the client's both work until one side uses its refresh token; the other side's use is
/// then a reuse that revokes the grant, whichever side comes first.
async fn stolen_token_replayed_in_the_grace(s: &dyn Store, p: &str) {
    for thief_first in [false, true] {
        let fam = format!("{p}-fam-s-{thief_first}");
        let s0 = format!("{p}-s0-{thief_first}");
        put_refresh(s, &s0, &fam).await;
        let id = |who: &str| format!("{p}-{who}-{thief_first}");
        let client = rotate(&s0, &id("client1"), &fam, GRACE);
        assert_eq!(s.rotate_refresh(&client).await.unwrap(), Rotation::Rotated);
        let thief = rotate(&s0, &id("thief1"), &fam, GRACE);
        assert_eq!(s.rotate_refresh(&thief).await.unwrap(), Rotation::Rotated);
        let issued = |who: &str| {
            [
                format!("{}-refresh", id(who)),
                format!("{}-access", id(who)),
            ]
        };
        // Nobody's tokens were silently revoked.
        assert_state(s, &issued("client1"), TokenState::Active).await;
        assert_state(s, &issued("thief1"), TokenState::Active).await;

        let (winner, loser) = if thief_first {
            ("thief", "client")
        } else {
            ("client", "thief")
        };
        let won = rotate(
            &issued(&format!("{winner}1"))[0],
            &id(&format!("{winner}2")),
            &fam,
            GRACE,
        );
        assert_eq!(s.rotate_refresh(&won).await.unwrap(), Rotation::Rotated);
        let lost = rotate(
            &issued(&format!("{loser}1"))[0],
            &id(&format!("{loser}2")),
            &fam,
            GRACE,
        );
        assert_eq!(
            s.rotate_refresh(&lost).await.unwrap(),
            Rotation::Reused(Reuse::Superseded)
        );
        for who in ["client1", "thief1", &format!("{winner}2")] {
            assert_state(s, &issued(who), TokenState::Revoked).await;
        }
    }
}

/// 50 refreshes of one token at once, spread over `replicas` (one store, or several
/// connections to one file or one Redis): all are answered, every refresh and access token
/// they return is live, and the refresh tokens are siblings. The one whose answer came back
/// last (or first) is then used; presenting any other is a reuse that revokes the grant.
async fn concurrent_refreshes(replicas: &[Arc<dyn Store>], p: &str) {
    for use_last in [true, false] {
        let s = &*replicas[0];
        let fam = format!("{p}-fam-cg-{use_last}");
        let d0 = format!("{p}-d0-{use_last}");
        put_refresh(s, &d0, &fam).await;
        let arrived = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let s = Arc::clone(&replicas[i % replicas.len()]);
            let arrived = Arc::clone(&arrived);
            let id = format!("{p}-d-{use_last}-{i}");
            let req = rotate(&d0, &id, &fam, GRACE);
            tasks.push(tokio::spawn(async move {
                let outcome = s.rotate_refresh(&req).await.unwrap();
                arrived.lock().unwrap().push(id);
                outcome
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Rotation::Rotated);
        }
        let arrived = arrived.lock().unwrap().clone();
        let issued = |id: &str| [format!("{id}-refresh"), format!("{id}-access")];
        for id in &arrived {
            assert_state(s, &issued(id), TokenState::Active).await;
        }
        assert_eq!(rotated(s, &d0).await.1, None, "no child used yet");

        let chosen = if use_last {
            arrived.last().unwrap()
        } else {
            arrived.first().unwrap()
        };
        let next = format!("{chosen}-next");
        assert_eq!(
            s.rotate_refresh(&rotate(&issued(chosen)[0], &next, &fam, GRACE))
                .await
                .unwrap(),
            Rotation::Rotated
        );
        assert_eq!(rotated(s, &d0).await.1, Some(issued(chosen)[0].clone()));
        let others: Vec<&String> = arrived.iter().filter(|id| *id != chosen).collect();
        for id in &others {
            assert_eq!(state(s, &issued(id)[0]).await, Some(TokenState::Superseded));
            assert_eq!(state(s, &issued(id)[1]).await, Some(TokenState::Active));
        }
        assert_state(s, &issued(&next), TokenState::Active).await;

        let other = &issued(others[others.len() / 2])[0];
        let replay = rotate(other, &format!("{p}-d-{use_last}-replay"), &fam, GRACE);
        assert_eq!(
            s.rotate_refresh(&replay).await.unwrap(),
            Rotation::Reused(Reuse::Superseded)
        );
        for id in arrived.iter().chain([&next]) {
            assert_state(s, &issued(id), TokenState::Revoked).await;
        }
    }

    // Without a grace, of 50 concurrent rotations exactly one rotates; the others are reuse.
    let s = &*replicas[0];
    let fam = format!("{p}-fam-c");
    let c0 = format!("{p}-c0");
    put_refresh(s, &c0, &fam).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = Arc::clone(&replicas[i % replicas.len()]);
        let req = rotate(&c0, &format!("{p}-c-{i}"), &fam, 0);
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(&req).await.unwrap()
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        match t.await.unwrap() {
            Rotation::Rotated => rotated += 1,
            Rotation::Reused(Reuse::GraceOver) | Rotation::Invalid => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(rotated, 1);
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

/// Replicas asking at once for a server key that does not exist yet all get the same 32
/// bytes, and keep getting them; another name is another key.
async fn server_keys(replicas: &[Arc<dyn Store>], p: &str) {
    let name = format!("{p}-session");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = Arc::clone(&replicas[i % replicas.len()]);
        let name = name.clone();
        tasks.push(tokio::spawn(async move { s.server_key(&name).await }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap().unwrap());
    }
    let first = keys[0];
    assert!(
        keys.iter().all(|k| *k == first),
        "replicas disagree: {keys:?}"
    );
    assert_ne!(first, [0u8; 32]);
    for s in replicas {
        assert_eq!(s.server_key(&name).await.unwrap(), first);
    }
    let other = replicas[0].server_key(&format!("{p}-other")).await.unwrap();
    assert_ne!(other, first);
    // A purge keeps keys.
    replicas[0].purge_expired(now()).await.unwrap();
    assert_eq!(replicas[0].server_key(&name).await.unwrap(), first);
}

fn grant_token(kind: TokenKind, client: &str, family: &str, issued_at: u64) -> TokenRecord {
    TokenRecord {
        client_id: client.into(),
        issued_at,
        ..token(kind, family, issued_at + 3600)
    }
}

fn by_client(id: &str) -> GrantFilter {
    GrantFilter {
        client_id: Some(id.into()),
        subject: None,
    }
}

/// The administrative view: grants are listed per client and in all, with their first issue,
/// last refresh and expiry; revoking a client's grants or the client itself refuses its
/// tokens at once and leaves other clients' grants alone; `last_used` moves when recorded.
async fn administration(s: &dyn Store, p: &str) {
    let (a, b) = (format!("{p}-adm-a"), format!("{p}-adm-b"));
    for id in [&a, &b] {
        s.put_client(&client(id.clone()), None).await.unwrap();
    }
    let t0 = now() - 100;
    let (fa1, fa2, fb) = (format!("{p}-fa1"), format!("{p}-fa2"), format!("{p}-fb"));
    s.put_tokens(&[
        new(
            format!("{fa1}-at"),
            grant_token(TokenKind::Access, &a, &fa1, t0),
        ),
        new(
            format!("{fa1}-rt"),
            grant_token(TokenKind::Refresh, &a, &fa1, t0),
        ),
    ])
    .await
    .unwrap();
    let carol = format!("{p}-carol");
    s.put_tokens(&[new(
        format!("{fa2}-at"),
        TokenRecord {
            person: Person::new(&carol),
            ..grant_token(TokenKind::Access, &a, &fa2, t0 + 1)
        },
    )])
    .await
    .unwrap();
    s.put_tokens(&[new(
        format!("{fb}-at"),
        grant_token(TokenKind::Access, &b, &fb, t0 + 2),
    )])
    .await
    .unwrap();
    // A refresh writes into the grant: refreshed_at and expiry move, issued_at stays.
    let mut req = rotate(&format!("{fa1}-rt"), &format!("{fa1}-r2"), &fa1, GRACE);
    for t in &mut req.new_tokens {
        t.record.client_id = a.clone();
    }
    let (refreshed_at, refreshed_exp) = (
        req.new_tokens[0].record.issued_at,
        req.new_tokens[0].record.expires_at,
    );
    assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);

    let grants = s.list_grants(&by_client(&a), now()).await.unwrap();
    let families: Vec<&str> = grants.iter().map(|g| g.family.as_str()).collect();
    assert_eq!(families, [fa1.as_str(), fa2.as_str()]);
    assert_eq!(grants[0].client_id, a);
    assert_eq!(grants[0].subject, ada().subject);
    assert_eq!(grants[1].subject, carol);
    assert_eq!(grants[0].issued_at, t0);
    assert_eq!(
        grants[0].refreshed_at,
        Some(refreshed_at),
        "{grants:?} {t0}"
    );
    assert_eq!(grants[0].expires_at, refreshed_exp.max(t0 + 3600));
    assert_eq!(grants[0].scopes, ["claudeai", "orders.read"]);
    assert_eq!(grants[1].refreshed_at, None);
    let all = s.list_grants(&GrantFilter::default(), now()).await.unwrap();
    for f in [&fa1, &fa2, &fb] {
        assert!(all.iter().any(|g| g.family == *f), "{f} in {all:?}");
    }
    // By person, alone and with a client.
    let by_subject = |subject: &str, client_id: Option<&str>| GrantFilter {
        client_id: client_id.map(str::to_owned),
        subject: Some(subject.to_owned()),
    };
    let carols = s
        .list_grants(&by_subject(&carol, None), now())
        .await
        .unwrap();
    assert_eq!(
        carols.iter().map(|g| g.family.as_str()).collect::<Vec<_>>(),
        [fa2.as_str()]
    );
    let carols = s.list_grants(&by_subject(&carol, Some(&b)), now()).await;
    assert!(carols.unwrap().is_empty());
    // Expired grants are not live.
    assert!(
        s.list_grants(&by_client(&a), t0 + 100_000)
            .await
            .unwrap()
            .is_empty()
    );

    s.client_used(&a, t0 + 50).await.unwrap();
    s.client_used(&format!("{p}-nobody"), t0).await.unwrap();
    let listed = s.list_clients(now()).await.unwrap();
    let row = |id: &str| listed.iter().find(|c| c.client.client_id == id).cloned();
    let ra = row(&a).expect("client a listed");
    assert_eq!((ra.last_used, ra.grants), (Some(t0 + 50), 2));
    let rb = row(&b).expect("client b listed");
    assert_eq!((rb.last_used, rb.grants), (None, 1));
    assert!(row(&format!("{p}-nobody")).is_none());

    // Revoking one client's grants: its tokens are refused, the other client's are not.
    assert_eq!(s.revoke_grants(&by_client(&a), now()).await.unwrap(), 2);
    for t in [
        format!("{fa1}-at"),
        format!("{fa1}-r2-access"),
        format!("{fa2}-at"),
    ] {
        assert_eq!(state(s, &t).await, Some(TokenState::Revoked), "{t}");
    }
    assert_eq!(
        state(s, &format!("{fb}-at")).await,
        Some(TokenState::Active)
    );
    assert!(
        s.list_grants(&by_client(&a), now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.revoke_grants(&by_client(&a), now()).await.unwrap(), 0);

    // Removing a client deletes it and revokes its grants.
    assert_eq!(
        s.remove_client(&b, now()).await.unwrap(),
        ClientRemoval {
            found: true,
            grants: 1
        }
    );
    assert_eq!(
        state(s, &format!("{fb}-at")).await,
        Some(TokenState::Revoked)
    );
    assert_eq!(s.get_client(&b).await.unwrap(), None);
    let listed = s.list_clients(now()).await.unwrap();
    assert!(listed.iter().all(|c| c.client.client_id != b));
    assert_eq!(
        s.remove_client(&b, now()).await.unwrap(),
        ClientRemoval {
            found: false,
            grants: 0
        }
    );
}

/// Revoking every grant: each live one is revoked (other runs sharing a Redis may add theirs
/// to the count), and none is left.
async fn revoke_all(s: &dyn Store, p: &str) {
    let fam = format!("{p}-all");
    let c = format!("{p}-all-client");
    s.put_tokens(&[new(
        format!("{fam}-at"),
        grant_token(TokenKind::Access, &c, &fam, now()),
    )])
    .await
    .unwrap();
    let n = s
        .revoke_grants(&GrantFilter::default(), now())
        .await
        .unwrap();
    assert!(n >= 1, "revoked {n}");
    assert_eq!(
        state(s, &format!("{fam}-at")).await,
        Some(TokenState::Revoked)
    );
    let left = s.list_grants(&GrantFilter::default(), now()).await.unwrap();
    assert!(left.iter().all(|g| g.family != fam), "{left:?}");
}

/// The person a grant belongs to comes back whole from a code, from stored tokens, and from
/// the tokens a refresh rotation wrote; a person known only by a subject stays that way.
async fn people(s: &dyn Store, p: &str) {
    let c = CodeRecord {
        person: Person::new("bob"),
        ..code(&format!("{p}-people-fam"), now() + 600)
    };
    let h = format!("{p}-people-code");
    s.put_code(&h, &c).await.unwrap();
    let Redemption::Fresh(back) = s.redeem_code(&h).await.unwrap() else {
        panic!("a fresh code is not fresh");
    };
    assert_eq!(back.person, Person::new("bob"));
    let fam = format!("{p}-people-tok");
    let r0 = format!("{p}-people-r0");
    put_refresh(s, &r0, &fam).await;
    assert_eq!(
        s.get_token(&r0).await.unwrap().unwrap().record.person,
        ada()
    );
    let req = rotate(&r0, &format!("{p}-people-r1"), &fam, GRACE);
    assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    for kind in ["access", "refresh"] {
        let t = s
            .get_token(&format!("{p}-people-r1-{kind}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.record.person, ada(), "{kind}");
    }
}

/// Revoking a person revokes every grant of theirs and nobody else's: tokens from codes and
/// refreshes, a code not yet redeemed (the tokens it is exchanged for later are dead), and it
/// says how many grants were live.
async fn subject_revocation(s: &dyn Store, p: &str) {
    let exp = now() + 3600;
    let (ada_subject, bob_subject) = (format!("{p}-ada"), format!("{p}-bob"));
    let of = |subject: &str, kind: TokenKind, family: &str| TokenRecord {
        person: Person::new(subject),
        ..token(kind, family, exp)
    };
    let (f1, f2, f3) = (format!("{p}-sf1"), format!("{p}-sf2"), format!("{p}-sf3"));
    // Grant 1: a code not yet redeemed. Grant 2: tokens. Grant 3: someone else's tokens.
    let pending = CodeRecord {
        person: Person::new(&ada_subject),
        ..code(&f1, now() + 600)
    };
    s.put_code(&format!("{p}-sc1"), &pending).await.unwrap();
    let (a2, r2, b3) = (format!("{p}-sa2"), format!("{p}-sr2"), format!("{p}-sb3"));
    s.put_tokens(&[
        new(a2.clone(), of(&ada_subject, TokenKind::Access, &f2)),
        new(r2.clone(), of(&ada_subject, TokenKind::Refresh, &f2)),
        new(b3.clone(), of(&bob_subject, TokenKind::Access, &f3)),
    ])
    .await
    .unwrap();
    assert_eq!(s.revoke_subject(&ada_subject, now(), exp).await.unwrap(), 2);
    assert_eq!(state(s, &a2).await, Some(TokenState::Revoked));
    assert_eq!(state(s, &r2).await, Some(TokenState::Revoked));
    assert_eq!(state(s, &b3).await, Some(TokenState::Active));
    let req = rotate(&r2, &format!("{p}-sr2b"), &f2, GRACE);
    assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Invalid);
    // The pending code is exchanged after the revocation: its tokens are born revoked.
    assert!(matches!(
        s.redeem_code(&format!("{p}-sc1")).await.unwrap(),
        Redemption::Fresh(_)
    ));
    let late = format!("{p}-slate");
    s.put_tokens(&[new(late.clone(), of(&ada_subject, TokenKind::Access, &f1))])
        .await
        .unwrap();
    assert_eq!(state(s, &late).await, Some(TokenState::Revoked));
    // Nothing live is left; another person and an unknown one have nothing to revoke here.
    assert_eq!(s.revoke_subject(&ada_subject, now(), exp).await.unwrap(), 0);
    assert_eq!(
        s.revoke_subject(&format!("{p}-nobody"), now(), exp)
            .await
            .unwrap(),
        0
    );
    assert_eq!(state(s, &b3).await, Some(TokenState::Active));
}

fn user(name: &str, email: Option<&str>, hash: &str) -> UserRecord {
    UserRecord {
        name: name.into(),
        email: email.map(Into::into),
        password_hash: hash.into(),
        created_at: 1_790_000_000,
    }
}

/// Users (`login: users`): a name is taken once, records round-trip whole, updates only reach
/// existing users, listing is sorted, removal says whether there was one.
async fn users(s: &dyn Store, p: &str) {
    let (zed, ada) = (format!("{p}-zed"), format!("{p}-ada"));
    let z = user(&zed, None, "$argon2id$z");
    let a = user(&ada, Some("ada@example.com"), "$argon2id$a");
    assert!(s.add_user(&z).await.unwrap());
    assert!(s.add_user(&a).await.unwrap());
    // A second `users add` of the same name changes nothing.
    assert!(
        !s.add_user(&user(&ada, None, "$argon2id$other"))
            .await
            .unwrap()
    );
    assert_eq!(s.get_user(&ada).await.unwrap(), Some(a.clone()));
    assert_eq!(s.get_user(&format!("{p}-nobody")).await.unwrap(), None);
    let mine: Vec<UserRecord> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.name.starts_with(p))
        .collect();
    assert_eq!(mine, [a.clone(), z.clone()]);
    let changed = user(&ada, Some("ada@example.com"), "$argon2id$new");
    assert!(s.update_user(&changed).await.unwrap());
    assert_eq!(s.get_user(&ada).await.unwrap(), Some(changed));
    assert!(
        !s.update_user(&user(&format!("{p}-ghost"), None, "$argon2id$g"))
            .await
            .unwrap()
    );
    assert_eq!(s.get_user(&format!("{p}-ghost")).await.unwrap(), None);
    assert!(s.remove_user(&ada).await.unwrap());
    assert!(!s.remove_user(&ada).await.unwrap());
    assert_eq!(s.get_user(&ada).await.unwrap(), None);
    assert!(!s.update_user(&a).await.unwrap(), "removed meanwhile");
    assert_eq!(s.get_user(&zed).await.unwrap(), Some(z));
}

#[test]
fn user_names() {
    for ok in ["ada", "ada.lovelace", "a", "ada@example.com", "Ada_2-x"] {
        assert!(store::is_user_name(ok), "{ok}");
    }
    let long = "a".repeat(65);
    for bad in [
        "",
        "-ada",
        ".ada",
        "ada lovelace",
        "ada\n",
        "adé",
        "operator",
        "local",
        "Operator",
        "LOCAL",
        "a/b",
        &long,
    ] {
        assert!(!store::is_user_name(bad), "{bad:?}");
    }
}

async fn contract(s: Arc<dyn Store>, expires_keys: bool) {
    let p = run_id();
    clients(&*s, &p).await;
    people(&*s, &p).await;
    subject_revocation(&*s, &p).await;
    users(&*s, &p).await;
    codes(Arc::clone(&s), &p).await;
    tokens(&*s, &p).await;
    rotation(Arc::clone(&s), &p).await;
    stolen_token_replayed_in_the_grace(&*s, &p).await;
    concurrent_refreshes(&[Arc::clone(&s)], &p).await;
    purge(&*s, &p, expires_keys).await;
    client_expiry(&*s, &p).await;
    unused_client_cap(&[Arc::clone(&s)], &p).await;
    server_keys(&[Arc::clone(&s), Arc::clone(&s)], &p).await;
    administration(&*s, &p).await;
    revoke_all(&*s, &p).await;
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

/// Token hashes and registrations are for the server's user only: the database file and its
/// `-wal` and `-shm` are created 0600, whatever the umask lets through.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let path = temp_db();
    let url = format!("sqlite:{}", path.display());
    let store = store::open(&url).await.unwrap();
    let mut modes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        modes.push((suffix, meta.permissions().mode() & 0o777));
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    assert_eq!(modes, [("", 0o600), ("-wal", 0o600), ("-shm", 0o600)]);
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

/// Two replicas on one file refreshing one token at once: SQLite's write lock makes each
/// rotation atomic across processes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_replicas_share_refresh_rotation() {
    let path = temp_db();
    let url = format!("sqlite:{}", path.display());
    let a = store::open(&url).await.unwrap();
    let b = store::open(&url).await.unwrap();
    server_keys(&[Arc::clone(&a), Arc::clone(&b)], &run_id()).await;
    concurrent_refreshes(&[a, b], &run_id()).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A file written before refresh tokens had siblings (no `parent`, `superseded` columns)
/// opens, keeps its tokens, and rotates with the current rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_of_an_earlier_version_is_upgraded() {
    let path = temp_db();
    let fam = "fam-old";
    let exp = now() + 3600;
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE mcpgen_tokens (
                hash TEXT PRIMARY KEY,
                data TEXT NOT NULL,
                family TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                rotated_at INTEGER,
                successor TEXT,
                revoked INTEGER NOT NULL DEFAULT 0
            );",
        )
        .unwrap();
        let json = |f: &str| serde_json::to_string(&token(TokenKind::Refresh, f, exp)).unwrap();
        let (data, data2, data3) = (
            json(fam),
            json(&format!("{fam}-2")),
            json(&format!("{fam}-3")),
        );
        // Written before tokens named a person.
        let mut legacy = serde_json::to_value(token(TokenKind::Access, "fam-legacy", exp)).unwrap();
        legacy.as_object_mut().unwrap().remove("person");
        // old0 is live; rotated0 was exchanged for child0, which is unused; used0 for used1,
        // which was exchanged in turn for used2.
        c.execute_batch(&format!(
            "INSERT INTO mcpgen_tokens (hash, data, family, expires_at, rotated_at, successor) VALUES
                ('legacy0', '{legacy}', 'fam-legacy', {exp}, NULL, NULL),
                ('old0', '{data}', '{fam}', {exp}, NULL, NULL),
                ('rotated0', '{data2}', '{fam}-2', {exp}, {now}, 'child0'),
                ('child0', '{data2}', '{fam}-2', {exp}, NULL, NULL),
                ('used0', '{data3}', '{fam}-3', {exp}, {now}, 'used1'),
                ('used1', '{data3}', '{fam}-3', {exp}, {now}, 'used2'),
                ('used2', '{data3}', '{fam}-3', {exp}, NULL, NULL);",
            now = now()
        ))
        .unwrap();
    }
    let url = format!("sqlite:{}", path.display());
    // Two replicas starting at once on the old file: both open.
    let (a, b) = tokio::join!(store::open(&url), store::open(&url));
    let (s, _b) = (a.unwrap(), b.unwrap());
    assert_eq!(state(&*s, "old0").await, Some(TokenState::Active));
    // Every grant before people were stored was approved with the shared password.
    let legacy = s.get_token("legacy0").await.unwrap().unwrap();
    assert_eq!(legacy.record.person, Person::operator());
    for id in ["n1", "n2"] {
        let req = rotate("old0", id, fam, GRACE);
        assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    }
    let req = rotate("n2-refresh", "n3", fam, GRACE);
    assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    assert_eq!(state(&*s, "n1-refresh").await, Some(TokenState::Superseded));
    // A token rotated before the upgrade, its child unused: a retry inside the grace gets a
    // sibling of that child, and the first of the two used wins.
    let fam2 = format!("{fam}-2");
    let req = rotate("rotated0", "m1", &fam2, GRACE);
    assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    let req = rotate("m1-refresh", "m2", &fam2, GRACE);
    assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    assert_eq!(state(&*s, "child0").await, Some(TokenState::Superseded));
    // A token whose child was used before the upgrade: presenting it is a reuse.
    let req = rotate("used0", "u", &format!("{fam}-3"), GRACE);
    assert_eq!(
        s.rotate_refresh(&req).await.unwrap(),
        Rotation::Reused(Reuse::ChildUsed)
    );
    drop((s, _b));
    let s = store::open(&url).await.unwrap();
    assert_eq!(
        state(&*s, "n3-refresh").await,
        Some(TokenState::Active),
        "reopened"
    );
    // The grants from before people were stored are the operator's, and can be revoked as
    // theirs.
    assert_eq!(
        s.revoke_subject(Person::OPERATOR, now(), exp)
            .await
            .unwrap(),
        1
    );
    assert_eq!(state(&*s, "legacy0").await, Some(TokenState::Revoked));
    // A file from before users gains their table.
    assert!(s.add_user(&user("ada", None, "$argon2id$a")).await.unwrap());
    assert_eq!(state(&*s, "n3-refresh").await, Some(TokenState::Active));
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
    // The contract revokes every grant of its database.
    let url = redis_common::own_db(&url, 13);
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
    unused_client_cap(
        &[Arc::clone(&s), Arc::clone(&other)],
        &format!("{p}-replicas"),
    )
    .await;
    server_keys(
        &[Arc::clone(&s), Arc::clone(&other)],
        &format!("{p}-replicas"),
    )
    .await;
    concurrent_refreshes(&[s, other], &format!("{p}-replicas")).await;
}

/// A file written before refresh tokens had siblings, with as many tokens as a month of a
/// modest deployment leaves behind, upgrades in one pass over the table: a second replica
/// starting beside the one that upgrades it (waiting at most SQLite's busy timeout, 5 s) opens
/// too. Linking each child to its parent with a subquery per row made the upgrade quadratic:
/// minutes of holding the write lock at startup, while the second replica failed with
/// "database is locked" and running replicas answered 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_large_file_of_an_earlier_version_upgrades_beside_a_second_replica() {
    const ROWS: usize = 40_000;
    let path = temp_db();
    let exp = now() + 3600;
    {
        let mut c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE mcpgen_tokens (
                hash TEXT PRIMARY KEY,
                data TEXT NOT NULL,
                family TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                rotated_at INTEGER,
                successor TEXT,
                revoked INTEGER NOT NULL DEFAULT 0
            );",
        )
        .unwrap();
        let tx = c.transaction().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO mcpgen_tokens (hash, data, family, expires_at, rotated_at, successor)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .unwrap();
            // Chains of ten: each token rotated into the next, the last one live.
            for i in 0..ROWS {
                let fam = format!("fam-{}", i / 10);
                let data = serde_json::to_string(&token(TokenKind::Refresh, &fam, exp)).unwrap();
                let last = i % 10 == 9;
                insert
                    .execute(rusqlite::params![
                        format!("h{i}"),
                        data,
                        fam,
                        exp as i64,
                        (!last).then_some(now() as i64),
                        (!last).then(|| format!("h{}", i + 1)),
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let url = format!("sqlite:{}", path.display());
    let (a, b) = tokio::join!(store::open(&url), store::open(&url));
    let (a, b) = (
        a.expect("first replica opens"),
        b.expect("second replica opens"),
    );
    // The upgrade linked the chains: the live end of one rotates, and its parent presented
    // again is a reuse.
    let req = rotate("h9", "n", "fam-0", GRACE);
    assert_eq!(b.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    let req = rotate("h8", "m", "fam-0", GRACE);
    assert_eq!(
        a.rotate_refresh(&req).await.unwrap(),
        Rotation::Reused(Reuse::ChildUsed)
    );
    drop((a, b));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A family revocation is remembered until the latest `keep_until` any revocation asked for:
/// a later one with an earlier `keep_until` (a replica whose clock runs behind, or a
/// revocation by a path that keeps it for less) must not shorten it, or tokens of the grant
/// still inside their lifetime come back to life when the shorter one runs out. Memory and
/// SQLite keep the maximum; Redis overwrote the key's expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn family_revocation_is_never_shortened() {
    let path = temp_db();
    let mut stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        (
            "sqlite",
            store::open(&format!("sqlite:{}", path.display()))
                .await
                .unwrap(),
        ),
    ];
    let redis = redis_url().await;
    match &redis {
        Some((url, _child)) => stores.push(("redis", store::open(url).await.unwrap())),
        None => assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Redis: set MCPGEN_TEST_REDIS_URL or install redis-server"
        ),
    }
    let p = run_id();
    for (name, s) in &stores {
        let fam = format!("{p}-{name}-fam");
        let t = format!("{p}-{name}-t");
        let exp = now() + 3600;
        s.put_tokens(&[new(t.clone(), token(TokenKind::Access, &fam, exp))])
            .await
            .unwrap();
        s.revoke_family(&fam, exp).await.unwrap();
        // A second revocation from a replica whose clock is two minutes behind.
        s.revoke_family(&fam, now() - 120).await.unwrap();
        s.purge_expired(now()).await.unwrap();
        assert_eq!(state(&**s, &t).await, Some(TokenState::Revoked), "{name}");
    }
    drop(stores);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The most siblings one refresh token may mint inside its grace: far more than any client
/// sends at once (hosted clients send a handful; the race tests send 50).
const MAX_SIBLINGS: usize = 100;

/// A refresh token presented again and again inside the grace mints siblings only up to a
/// bound: past it, retries are refused and nothing is written or revoked, so one grant cannot
/// grow the store at the rate it can send requests (every sibling is two rows kept for the
/// refresh token's lifetime, and the first use of one walks all of them). Without a bound, a
/// client could mint any number, and after using one, as many again from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn siblings_of_one_refresh_token_are_bounded() {
    let path = temp_db();
    let mut stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        (
            "sqlite",
            store::open(&format!("sqlite:{}", path.display()))
                .await
                .unwrap(),
        ),
    ];
    let redis = redis_url().await;
    match &redis {
        Some((url, _child)) => stores.push(("redis", store::open(url).await.unwrap())),
        None => assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Redis: set MCPGEN_TEST_REDIS_URL or install redis-server"
        ),
    }
    let p = run_id();
    for (name, s) in &stores {
        let fam = format!("{p}-{name}-fam");
        let r0 = format!("{p}-{name}-r0");
        put_refresh(&**s, &r0, &fam).await;
        let mut rotated = 0;
        for i in 0..3 * MAX_SIBLINGS {
            let req = rotate(&r0, &format!("{p}-{name}-{i}"), &fam, GRACE);
            match s.rotate_refresh(&req).await.unwrap() {
                Rotation::Rotated => rotated += 1,
                Rotation::Invalid => {}
                other => panic!("{name}: retry {i} inside the grace: {other:?}"),
            }
        }
        assert!(
            rotated <= MAX_SIBLINGS,
            "{name}: one refresh token minted {rotated} siblings"
        );
        // The refused retries revoked nothing: the first sibling still works.
        let first = format!("{p}-{name}-0-refresh");
        assert_eq!(
            state(&**s, &first).await,
            Some(TokenState::Active),
            "{name}"
        );
        let req = rotate(&first, &format!("{p}-{name}-next"), &fam, GRACE);
        assert_eq!(s.rotate_refresh(&req).await.unwrap(), Rotation::Rotated);
    }
    drop(stores);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A file written before grants were kept: its tokens' grants are listed (from one pass over
/// the tokens at open), can be revoked, and its clients take a last use.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_grants_of_an_earlier_version_are_listed() {
    let path = temp_db();
    let issued = now() - 50;
    let old = client("old-client".into());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE mcpgen_clients (client_id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER);
             CREATE TABLE mcpgen_tokens (
                hash TEXT PRIMARY KEY, data TEXT NOT NULL, family TEXT NOT NULL,
                expires_at INTEGER NOT NULL, rotated_at INTEGER, successor TEXT,
                revoked INTEGER NOT NULL DEFAULT 0, parent TEXT,
                superseded INTEGER NOT NULL DEFAULT 0);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO mcpgen_clients (client_id, data) VALUES (?1, ?2)",
            rusqlite::params![old.client_id, serde_json::to_string(&old).unwrap()],
        )
        .unwrap();
        for (hash, kind, at) in [
            ("o-at", TokenKind::Access, issued),
            ("o-rt", TokenKind::Refresh, issued),
            ("o-at2", TokenKind::Access, issued + 10),
        ] {
            let record = grant_token(kind, "old-client", "old-fam", at);
            c.execute(
                "INSERT INTO mcpgen_tokens (hash, data, family, expires_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    hash,
                    serde_json::to_string(&record).unwrap(),
                    "old-fam",
                    record.expires_at as i64
                ],
            )
            .unwrap();
        }
    }
    let s = store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let grants = s
        .list_grants(&by_client("old-client"), now())
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    let g = &grants[0];
    assert_eq!(
        (g.family.as_str(), g.issued_at, g.refreshed_at, g.expires_at),
        ("old-fam", issued, Some(issued + 10), issued + 10 + 3600)
    );
    assert_eq!(g.subject, ada().subject);
    s.client_used("old-client", issued + 20).await.unwrap();
    let clients = s.list_clients(now()).await.unwrap();
    assert_eq!(
        clients
            .iter()
            .map(|c| (c.client.client_id.as_str(), c.last_used, c.grants))
            .collect::<Vec<_>>(),
        [("old-client", Some(issued + 20), 1)]
    );
    assert_eq!(
        s.revoke_grants(&GrantFilter::default(), now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(state(&*s, "o-rt").await, Some(TokenState::Revoked));
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A Redis written before the administrative indexes: its clients and grants are found (one
/// SCAN, once), listed and revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_data_of_an_earlier_version_is_indexed() {
    let Some((url, _child)) = redis_url().await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no Redis: set MCPGEN_TEST_REDIS_URL or install redis-server"
        );
        eprintln!("skipped: no MCPGEN_TEST_REDIS_URL and no redis-server on PATH");
        return;
    };
    // The test drops the indexes of its database.
    let url = redis_common::own_db(&url, 12);
    let s = store::open(&url).await.unwrap();
    let p = run_id();
    let (id, fam) = (format!("{p}-old-client"), format!("{p}-old-fam"));
    s.put_client(&client(id.clone()), None).await.unwrap();
    s.put_tokens(&[new(
        format!("{fam}-at"),
        grant_token(TokenKind::Access, &id, &fam, now()),
    )])
    .await
    .unwrap();
    // A grant of a person of its own, so its subject's index holds only it.
    let (who, fam2) = (format!("{p}-old-person"), format!("{p}-old-fam2"));
    s.put_tokens(&[new(
        format!("{fam2}-at"),
        TokenRecord {
            person: Person::new(who.clone()),
            ..grant_token(TokenKind::Access, &id, &fam2, now())
        },
    )])
    .await
    .unwrap();
    // What an earlier version left: the records without the indexes.
    let mut c = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg("mcpgen:clients")
        .arg("mcpgen:grants")
        .arg("mcpgen:admin_indexed")
        .arg(format!("mcpgen:grant:{fam}"))
        .arg(format!("mcpgen:client_grants:{id}"))
        .arg(format!("mcpgen:grant:{fam2}"))
        .arg(format!("mcpgen:subject:{who}"))
        .query_async(&mut c)
        .await
        .unwrap();
    let clients = s.list_clients(now()).await.unwrap();
    let row = clients.iter().find(|c| c.client.client_id == id);
    assert_eq!(row.map(|c| c.grants), Some(2), "{clients:?}");
    // The person's grant, by subject: listed, and revoked by `revoke_subject`
    // (`tokens revoke --subject`, `users remove`).
    let theirs = GrantFilter {
        client_id: None,
        subject: Some(who.clone()),
    };
    let listed = s.list_grants(&theirs, now()).await.unwrap();
    assert_eq!(
        listed.iter().map(|g| g.family.as_str()).collect::<Vec<_>>(),
        [fam2.as_str()]
    );
    assert_eq!(
        s.revoke_subject(&who, now(), now() + 3600).await.unwrap(),
        1
    );
    assert_eq!(
        state(&*s, &format!("{fam2}-at")).await,
        Some(TokenState::Revoked)
    );
    assert_eq!(
        s.remove_client(&id, now()).await.unwrap(),
        ClientRemoval {
            found: true,
            grants: 1
        }
    );
    assert_eq!(
        state(&*s, &format!("{fam}-at")).await,
        Some(TokenState::Revoked)
    );
}
