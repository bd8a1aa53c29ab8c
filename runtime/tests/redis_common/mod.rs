//! A Redis for the tests that run against every store: `MCPGEN_TEST_REDIS_URL`, or a
//! `redis-server` the test starts itself on a free port.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A redis-server this test started; killed when dropped.
pub struct RedisChild(Child);

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn redis_url() -> Option<(String, Option<RedisChild>)> {
    if let Ok(url) = std::env::var("MCPGEN_TEST_REDIS_URL")
        && !url.is_empty()
    {
        return Some((url, None));
    }
    let port = free_port();
    let child = start_on(port).await?;
    Some((format!("redis://127.0.0.1:{port}"), Some(child)))
}

/// Starts a redis-server on `port` (loopback, nothing saved) and waits until it accepts
/// connections; `None` when it cannot be started.
pub async fn start_on(port: u16) -> Option<RedisChild> {
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
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// `url` on logical database `db`: for a test that acts on every key of its database
/// (revoking every grant, dropping the indexes), so that the other tests sharing one
/// `MCPGEN_TEST_REDIS_URL` never feel it.
pub fn own_db(url: &str, db: u8) -> String {
    let mut u = url::Url::parse(url).expect("a redis url");
    u.set_path(&format!("/{db}"));
    u.to_string()
}
