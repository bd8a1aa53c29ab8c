//! State that outlives a process: a generated server on SQLite keeps its clients and tokens
//! across a restart, and two processes sharing Redis honour each other's tokens, as replicas
//! behind one public URL do.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, free_port, initialize, launch, mcp, oauth_token};
use serde_json::json;

fn medtainer(port: u16, public_url: &str, store: &str) -> Server {
    let args: Vec<String> = [
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--public-url",
        public_url,
        "--store",
        store,
        "--consent",
        "auto",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    launch("medtainer-mcp", port, &args)
}

fn tools_list(server: &Server, token: &str) -> u16 {
    mcp(
        server,
        Some(token),
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}),
    )
    .status
}

#[test]
fn sqlite_state_survives_a_restart() {
    let dir = common::repo().join("target/replicas");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("restart-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let store = format!("sqlite:{}", db.display());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    let first = medtainer(port, &base, &store);
    let token = oauth_token(&first, "claudeai");
    initialize(&first, Some(&token));
    assert_eq!(tools_list(&first, &token), 200);
    drop(first);

    let second = medtainer(port, &base, &store);
    assert_eq!(
        tools_list(&second, &token),
        200,
        "a token issued before the restart"
    );
    assert_eq!(tools_list(&second, "not-a-token"), 401);
    drop(second);
    let _ = std::fs::remove_file(&db);
}

/// A redis-server of this test's own, on a free port; killed when dropped.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis() -> Option<(Redis, String)> {
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let redis = Redis(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((redis, format!("redis://127.0.0.1:{port}")))
}

#[test]
fn replicas_sharing_redis_honour_each_others_tokens() {
    let Some((_redis, url)) = redis() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs redis-server on PATH"
        );
        eprintln!("skipped: no redis-server on PATH");
        return;
    };
    // Two processes behind one public URL (A's address stands in for the load balancer).
    let (port_a, port_b) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{port_a}");
    let a = medtainer(port_a, &public, &url);
    let b = medtainer(port_b, &public, &url);

    let token = oauth_token(&a, "claudeai");
    initialize(&b, Some(&token));
    assert_eq!(
        tools_list(&b, &token),
        200,
        "a token issued by A works on B"
    );
    drop(a);
    assert_eq!(
        tools_list(&b, &token),
        200,
        "and keeps working when A is gone"
    );
}
