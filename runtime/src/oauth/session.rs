//! The authorization server's sign-in cookie: who signed in at `/authorize` and which clients
//! they approved for which scopes, so a person is not asked again when a client they approved
//! re-authorizes for the same scopes or fewer (remembered consent).
//!
//! The cookie holds the session itself (no server-side state, so every replica can read it),
//! as `base64url(JSON).base64url(HMAC-SHA-256)`. The key is the store's server key named
//! [`SESSION_KEY_NAME`] ([`crate::store::Store::server_key`]), shared by every replica; the
//! MAC also covers the login's secret (with password login, the password hash), so changing
//! the password signs everybody out. A cookie that is tampered with, expired, too large, for
//! another issuer, or that does not parse is ignored: the person sees the sign-in page.
//!
//! Attributes: `HttpOnly`; `SameSite=Lax`, which browsers send on the top-level navigation a
//! client starts from another site, and never on cross-site sub-requests or posts; `Secure`
//! (and the `__Secure-` name prefix) on https; `Path` the authorization endpoint, so no other
//! route sees it; `Max-Age` the time left of [`SESSION_TTL`].

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use serde::{Deserialize, Serialize};

/// How long a sign-in lasts: 30 days from signing in. Approving another client or scope
/// later does not extend it; after it, the person signs in (and approves) again.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The name of the store's server key that signs the cookie.
pub const SESSION_KEY_NAME: &str = "session";

/// The subject of the person who signs in with the shared server password: the server's
/// operator.
pub const OPERATOR_SUBJECT: &str = "operator";

/// The longest cookie value written or read, in bytes: browsers keep at least 4096 bytes per
/// cookie (RFC 6265 §6.1), name and attributes included. When remembering one more approval
/// would pass it, the oldest approvals are forgotten first.
pub const MAX_COOKIE_VALUE: usize = 3600;

/// The most approvals one cookie remembers; the oldest go first.
pub const MAX_APPROVALS: usize = 32;

const COOKIE_SECURE: &str = "__Secure-mcpgen_session";
const COOKIE_PLAIN: &str = "mcpgen_session";

/// The cookie's name: `__Secure-` needs `Secure`, which a plain-http loopback server cannot
/// set. (`__Host-` would also forbid a `Path` narrower than `/`.)
pub(crate) fn cookie_name(https: bool) -> &'static str {
    if https { COOKIE_SECURE } else { COOKIE_PLAIN }
}

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignedIn {
    #[serde(rename = "sub")]
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A client the person approved, and for which scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Approval {
    #[serde(rename = "c")]
    client_id: String,
    #[serde(rename = "s")]
    scopes: Vec<String>,
}

/// What the cookie holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The issuer that set it.
    iss: String,
    #[serde(flatten)]
    pub person: SignedIn,
    /// Signed in at (Unix seconds).
    iat: u64,
    /// Expires at (Unix seconds).
    exp: u64,
    /// Oldest first.
    #[serde(default)]
    approvals: Vec<Approval>,
}

impl Session {
    /// A new sign-in of `person` at `now`, approving nothing yet.
    pub fn new(issuer: &str, person: SignedIn, now: u64) -> Self {
        Self {
            iss: issuer.to_owned(),
            person,
            iat: now,
            exp: now.saturating_add(SESSION_TTL.as_secs()),
            approvals: Vec::new(),
        }
    }

    /// A sign-in of `person` at `now` that replaces `previous` (a sign-in again): the
    /// approvals of `previous` carry over when it was the same person.
    pub fn signed_in(issuer: &str, person: SignedIn, now: u64, previous: Option<Session>) -> Self {
        let mut session = Self::new(issuer, person, now);
        if let Some(previous) = previous
            && previous.person.subject == session.person.subject
        {
            session.approvals = previous.approvals;
        }
        session
    }

    /// Whether the person approved `client_id` for every one of `scopes`.
    pub fn covers(&self, client_id: &str, scopes: &[String]) -> bool {
        self.approvals
            .iter()
            .any(|a| a.client_id == client_id && scopes.iter().all(|s| a.scopes.contains(s)))
    }

    /// Remembers that the person approved `client_id` for `scopes` (added to what they
    /// approved it for before), as the newest approval.
    pub fn remember(&mut self, client_id: &str, scopes: &[String]) {
        let mut merged = match self.approvals.iter().position(|a| a.client_id == client_id) {
            Some(i) => self.approvals.remove(i).scopes,
            None => Vec::new(),
        };
        for s in scopes {
            if !merged.contains(s) {
                merged.push(s.clone());
            }
        }
        self.approvals.push(Approval {
            client_id: client_id.to_owned(),
            scopes: merged,
        });
        if self.approvals.len() > MAX_APPROVALS {
            let extra = self.approvals.len() - MAX_APPROVALS;
            self.approvals.drain(..extra);
        }
    }

    /// Seconds until it expires.
    pub fn max_age(&self, now: u64) -> u64 {
        self.exp.saturating_sub(now)
    }
}

/// Signs and checks cookies with one key and login secret.
pub(crate) struct Sealer {
    key: hmac::Key,
}

impl Sealer {
    /// `server_key` from the store; `context` is mixed into the key, so cookies signed under
    /// another context (another password hash) do not verify.
    pub fn new(server_key: &[u8; 32], context: &[u8]) -> Self {
        let outer = hmac::Key::new(hmac::HMAC_SHA256, server_key);
        let mut derive = hmac::Context::with_key(&outer);
        derive.update(b"mcpgen session cookie v1\0");
        derive.update(context);
        let derived = derive.sign();
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// The cookie value for `session`, forgetting the oldest approvals until it fits in
    /// [`MAX_COOKIE_VALUE`]; `None` when even the sign-in alone does not fit.
    pub fn seal(&self, session: &Session) -> Option<String> {
        let mut session = session.clone();
        loop {
            let json = serde_json::to_vec(&session).ok()?;
            let body = B64.encode(json);
            let tag = hmac::sign(&self.key, body.as_bytes());
            let value = format!("{body}.{}", B64.encode(tag.as_ref()));
            if value.len() <= MAX_COOKIE_VALUE {
                return Some(value);
            }
            if session.approvals.is_empty() {
                return None;
            }
            session.approvals.remove(0);
        }
    }

    /// The session in `value` if it is intact, set by `issuer`, and not expired at `now`.
    pub fn open(&self, value: &str, issuer: &str, now: u64) -> Option<Session> {
        if value.len() > MAX_COOKIE_VALUE {
            return None;
        }
        let (body, tag) = value.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        hmac::verify(&self.key, body.as_bytes(), &tag).ok()?;
        let session: Session = serde_json::from_slice(&B64.decode(body).ok()?).ok()?;
        (session.iss == issuer && now < session.exp && session.iat <= now.saturating_add(300))
            .then_some(session)
    }
}

/// The `Set-Cookie` value for a sealed session.
pub(crate) fn set_cookie(value: &str, path: &str, max_age: u64, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!(
        "{}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(https)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> SignedIn {
        SignedIn {
            subject: OPERATOR_SUBJECT.into(),
            name: None,
            email: None,
        }
    }

    #[test]
    fn sealed_sessions_open_and_tampered_ones_do_not() {
        let sealer = Sealer::new(&[7; 32], b"pw");
        let mut s = Session::new("https://as", person(), 1000);
        s.remember("c1", &["a".into(), "b".into()]);
        let v = sealer.seal(&s).unwrap();
        assert_eq!(sealer.open(&v, "https://as", 1001), Some(s.clone()));
        assert!(s.covers("c1", &["a".into()]));
        assert!(!s.covers("c1", &["a".into(), "c".into()]));
        assert!(!s.covers("c2", &[]));
        // Another issuer, an expired one, another key or context, a flipped byte.
        assert_eq!(sealer.open(&v, "https://other", 1001), None);
        assert_eq!(
            sealer.open(&v, "https://as", 1000 + SESSION_TTL.as_secs()),
            None
        );
        assert_eq!(
            Sealer::new(&[7; 32], b"pw2").open(&v, "https://as", 1001),
            None
        );
        assert_eq!(
            Sealer::new(&[8; 32], b"pw").open(&v, "https://as", 1001),
            None
        );
        let mut bytes = v.into_bytes();
        bytes[3] ^= 1;
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(sealer.open(&flipped, "https://as", 1001), None);
    }

    #[test]
    fn cookies_stay_bounded_forgetting_the_oldest_approvals() {
        let sealer = Sealer::new(&[7; 32], b"");
        let mut s = Session::new("https://as", person(), 1000);
        for i in 0..200 {
            s.remember(
                &format!("https://client-{i}.example.com/metadata/{}", "x".repeat(80)),
                &["orders.read".into()],
            );
        }
        let v = sealer.seal(&s).unwrap();
        assert!(v.len() <= MAX_COOKIE_VALUE);
        let back = sealer.open(&v, "https://as", 1001).unwrap();
        let newest = format!("https://client-199.example.com/metadata/{}", "x".repeat(80));
        assert!(back.covers(&newest, &["orders.read".into()]));
        assert!(!back.covers(
            &format!("https://client-0.example.com/metadata/{}", "x".repeat(80)),
            &[]
        ));
    }
}
