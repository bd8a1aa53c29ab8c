//! Persistent OAuth state (clients, authorization codes, tokens) behind one trait with atomic
//! single-use semantics, and its three back ends: memory, SQLite and Redis.
//!
//! Secrets never reach a store: codes and tokens are keyed by their SHA-256 hash (see
//! [`crate::oauth::secret_hash`]) and client secrets are stored hashed. The two operations that
//! decide whether a credential may be used once, [`Store::redeem_code`] and
//! [`Store::rotate_refresh`], are atomic in every back end, also with several replicas sharing
//! one SQLite file or one Redis.

mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::auth::Person;

pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStore;

/// A future returned by the [`Store`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store failure (I/O, a broken connection, a corrupt row). Never carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `sqlite:` without a path.
    #[error("store: sqlite store needs a path: sqlite:PATH")]
    NoSqlitePath,
    /// `rediss://`, which is not supported.
    #[error("store: rediss:// (tls) is not supported; use redis:// on a private network")]
    RedisTls,
    /// A store URL of another scheme. Only the scheme is kept: a store URL can carry a password.
    #[error("store: unknown store scheme {scheme:?}: expected memory, sqlite:PATH or redis://HOST")]
    UnknownScheme { scheme: String },
    /// The SQLite database file cannot be opened.
    #[cfg(feature = "sqlite")]
    #[error("store: sqlite: cannot open {path}: {source}")]
    SqliteOpen {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The SQLite database file cannot be created with owner-only permissions.
    #[error("store: sqlite: cannot open {path}: {source}")]
    SqliteCreate {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A read-only connection to the SQLite database file cannot be opened.
    #[cfg(feature = "sqlite")]
    #[error("store: sqlite: cannot open {path} for reading: {source}")]
    SqliteOpenReader {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A SQLite statement failed.
    #[cfg(feature = "sqlite")]
    #[error("store: sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running a SQLite statement failed (it panicked or was cancelled).
    #[error("store: sqlite: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A SQLite row does not decode.
    #[error("store: sqlite: corrupt row: {0}")]
    SqliteCorrupt(#[source] serde_json::Error),
    /// The Redis URL does not parse. The client's error is dropped: it can quote the URL,
    /// password included.
    #[error("store: redis: invalid redis url")]
    RedisUrl,
    /// Redis did not answer the connection within 10 seconds.
    #[error("store: redis: timed out connecting")]
    RedisTimeout,
    /// Redis refused the connection; `kind` is the client's error kind (the error itself can
    /// quote the URL).
    #[error("store: redis: cannot connect: {kind}")]
    RedisConnect { kind: String },
    /// A Redis command failed.
    #[cfg(feature = "redis")]
    #[error("store: redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// A Redis script answered in a shape it never sends.
    #[error("store: redis: unexpected script reply")]
    RedisReply,
    /// A Redis value does not decode.
    #[error("store: redis: corrupt value: {0}")]
    RedisCorrupt(#[source] serde_json::Error),
    /// A stored server key (see [`Store::server_key`]) is not 32 bytes; `backend` is `sqlite`
    /// or `redis`.
    #[error("store: {backend}: server key {name:?} is not 32 bytes: delete it to make a new one")]
    KeyCorrupt { backend: &'static str, name: String },
    /// The store URL names a back end this build was compiled without: `feature` is the
    /// mcpgen-runtime cargo feature that adds it.
    #[error(
        "store: this build has no {backend} store: enable the mcpgen-runtime feature \"{feature}\" \
         (regenerate the crate with mcpgen, or add it to the features in Cargo.toml)"
    )]
    NotCompiled {
        backend: &'static str,
        feature: &'static str,
    },
    /// A record does not encode as JSON; `backend` is `sqlite` or `redis`.
    #[error("store: {backend}: {source}")]
    Encode {
        backend: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    /// The message without its `store: ` prefix, for a message that names the store itself.
    pub(crate) fn detail(&self) -> String {
        let text = self.to_string();
        match text.strip_prefix("store: ") {
            Some(rest) => rest.to_owned(),
            None => text,
        }
    }
}

/// A registered OAuth client (RFC 7591).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub client_id: String,
    /// SHA-256 of the client secret, hex; `None` for public clients (`none`).
    pub secret_hash: Option<String>,
    /// `none`, `client_secret_post` or `client_secret_basic`.
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub client_name: Option<String>,
    /// Unix seconds.
    pub client_id_issued_at: u64,
    /// Other registered metadata echoed back in the registration response (`client_uri`, ...).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// What an authorization code was issued for; the code itself is only known by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: String,
    /// The redirect URI exactly as sent to `/authorize` (the token request must repeat it).
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// The canonical resource (audience) the tokens will be bound to.
    pub resource: String,
    pub scopes: Vec<String>,
    /// The grant family: every token issued from this code (and its refreshes) shares it, so a
    /// replayed code or a reused refresh token can revoke them all.
    pub family: String,
    pub issued_at: u64,
    pub expires_at: u64,
    /// Who approved the request; every token the code is exchanged for belongs to them.
    /// Absent in records written before people were stored: [`Person::operator`].
    #[serde(default = "Person::operator")]
    pub person: Person,
}

/// A person who can sign in with `login: users`: managed by the generated binary's `users`
/// subcommands, checked at `/authorize`. The name is the subject of their grants.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// What they sign in with, and their [`Person::subject`]; see [`is_user_name`].
    pub name: String,
    /// Their email address, when given (`users add --email`); templates see it as
    /// `caller.email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Their password as an Argon2id PHC string ([`crate::oauth::hash_password`]).
    pub password_hash: String,
    /// When the account was created, Unix seconds.
    pub created_at: u64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password_hash", &"<argon2 hash>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl UserRecord {
    /// The person this user signs in as.
    pub fn person(&self) -> Person {
        Person {
            subject: self.name.clone(),
            name: None,
            email: self.email.clone(),
        }
    }
}

/// Whether `name` may name a user: 1 to 64 of ASCII letters, digits, `.`, `_`, `-` and `@`,
/// starting with a letter or digit (so it is safe in logs, a shell and a URL), and not one of
/// the subjects the other login modes use ([`Person::OPERATOR`], [`Person::LOCAL`]) in any
/// case, which would let a user take over their grants.
pub fn is_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        && !name.eq_ignore_ascii_case(Person::OPERATOR)
        && !name.eq_ignore_ascii_case(Person::LOCAL)
}

/// The form a user name is stored, signed in and looked up in: without surrounding
/// whitespace, ASCII letters lowercase. User names are case-insensitive (`Ada` signs in as
/// `ada`), so two accounts cannot differ only in case and `Operator` is refused like
/// `operator`; [`is_user_name`] admits no other letters, so no Unicode case or normalisation
/// form applies.
pub fn canonical_user_name(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

/// Access or refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// An issued token, immutable once written; its state ([`TokenState`]) is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub kind: TokenKind,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The canonical resource (audience).
    pub resource: String,
    pub family: String,
    pub issued_at: u64,
    pub expires_at: u64,
    /// Who the grant belongs to (copied from its code, kept through refresh rotation).
    /// Absent in records written before people were stored: [`Person::operator`].
    #[serde(default = "Person::operator")]
    pub person: Person,
}

/// Where a stored token stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenState {
    Active,
    /// A refresh token that was exchanged for new tokens. `at` (unix seconds) is its first
    /// exchange: the reuse grace runs from it, and exchanges inside the grace (retries) do not
    /// move it. `successor` is the hash of the one child (a refresh token it was exchanged
    /// for) that has itself been used; `None` while none has, and then every child is live.
    Rotated {
        at: u64,
        successor: Option<String>,
    },
    /// A refresh token never used, one of whose siblings (another child of the same parent)
    /// was used first: it can no longer be used, and presenting it is a reuse.
    Superseded,
    /// Revoked by `/revoke`, or its family was revoked.
    Revoked,
}

/// A token as read back from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub record: TokenRecord,
    pub state: TokenState,
}

/// The outcome of [`Store::redeem_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First redemption: the caller may issue tokens (after its own checks, expiry included).
    Fresh(CodeRecord),
    /// The code was redeemed before: a replay.
    Replayed(CodeRecord),
    Unknown,
}

/// A new token to write: its hash and record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub hash: String,
    pub record: TokenRecord,
}

/// The outcome of [`Store::rotate_refresh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The new tokens were written (see the trait's contract for what else changed).
    Rotated,
    /// The token was presented although it can no longer be used: its family (every token of
    /// the grant, access tokens included) is now revoked.
    Reused(Reuse),
    /// Unknown, not a refresh token, expired or revoked: nothing was written.
    Invalid,
}

/// Why a presented refresh token counted as a reuse (RFC 9700 §4.14.2): for the log, so an
/// operator can tell a client that kept an old token from a replayed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// A sibling of the token was used first ([`TokenState::Superseded`]).
    Superseded,
    /// One of the token's children was used (the token is an ancestor of the live one).
    ChildUsed,
    /// The token was exchanged before, longer ago than the grace.
    GraceOver,
}

impl Reuse {
    /// `superseded`, `child_used` or `grace_over`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reuse::Superseded => "superseded",
            Reuse::ChildUsed => "child_used",
            Reuse::GraceOver => "grace_over",
        }
    }
}

/// The most children one refresh token may have (its first exchange and the retries inside the
/// grace): far more than any client sends at once, and a bound on what one grant can write
/// (every child is two tokens kept for the refresh token's lifetime) at the rate it can send
/// requests.
pub const MAX_SIBLINGS: usize = 100;

/// A rotation request: the refresh token presented, the tokens to issue in its place (the new
/// refresh token is the one with [`TokenKind::Refresh`]; it becomes a child of the presented
/// one), and the reuse grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateRequest {
    pub old_hash: String,
    pub new_tokens: Vec<NewToken>,
    /// Unix seconds; the stores never read a clock of their own.
    pub now: u64,
    /// Seconds after a token's first exchange (exclusive; 0 = none) during which presenting it
    /// again, while none of its children has been used, mints another child beside the
    /// earlier ones (see the trait's contract).
    pub grace: u64,
    /// Until when a family revocation must be remembered (the family's longest token life).
    pub keep_until: u64,
}

/// A stored client as the administrative listing shows it (`clients list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSummary {
    pub client: ClientRecord,
    /// When a token was last issued to the client or refreshed by it (unix seconds; see
    /// [`Store::client_used`]); `None` if never since it registered (or since the store was
    /// upgraded to keep it).
    pub last_used: Option<u64>,
    /// How many of the client's grants are live (see [`GrantSummary`]).
    pub grants: u64,
}

/// A grant: the tokens of one family (every token issued from one authorization code and
/// its refreshes; see [`CodeRecord::family`]). A grant is live until its last token expires or
/// the family is revoked; the administrative methods only ever report live grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSummary {
    pub family: String,
    pub client_id: String,
    /// The person it belongs to ([`Person::subject`]).
    pub subject: String,
    /// The scopes granted (those of its first tokens; a refresh never widens them).
    pub scopes: Vec<String>,
    /// When the first token was issued (unix seconds).
    pub issued_at: u64,
    /// When tokens were last written into it by a refresh (unix seconds); `None` if never.
    pub refreshed_at: Option<u64>,
    /// When its last token expires (unix seconds).
    pub expires_at: u64,
}

/// Which live grants an administrative listing or revocation covers: those matching every
/// field that is set; all of them when none is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    pub client_id: Option<String>,
    /// A person's [`Person::subject`].
    pub subject: Option<String>,
}

/// The outcome of [`Store::remove_client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRemoval {
    /// Whether a stored client was deleted (`false`: no such client was registered; a client
    /// identified by a metadata document URL is never stored, its grants are still revoked).
    pub found: bool,
    /// How many live grants of the client were revoked.
    pub grants: u64,
}

/// OAuth state. Every method is safe to call concurrently from several replicas.
///
/// Contract (checked by `tests/store_contract.rs` against every back end):
/// - [`Store::redeem_code`] answers `Fresh` exactly once per code, `Replayed` afterwards until
///   the code expires, `Unknown` for a code never stored or purged.
/// - [`Store::rotate_refresh`] decides and writes in one atomic step (one lock, one
///   transaction, one script), so concurrent rotations of one token, on one replica or
///   several, behave as if they ran one after the other. Presented a refresh token:
///   - `Active` (its first use): it becomes `Rotated { at: now, successor: None }` and the new
///     refresh token is its child. If it is itself a child, it wins over its siblings: its
///     parent's `successor` becomes it, and every other child of that parent becomes
///     `Superseded`.
///   - `Rotated` less than `grace` seconds after `at`, with no child used (`successor` is
///     `None`): a retry of a refresh whose response was lost, or one of several refreshes a
///     client sent at once. The new refresh token is one more child, and nothing is revoked:
///     every child stays live until one of them is used, so no token already handed out is
///     dead. `at` stays, so retries cannot stretch the window. Once the token has
///     [`MAX_SIBLINGS`] children, a retry is `Invalid` instead: nothing is written or revoked.
///   - `Superseded`, `Rotated` with a child used, or `Rotated` at or after `at + grace`: a
///     reuse (RFC 9700 §4.14.2, OAuth 2.1 §4.3.1): the whole family is revoked, tokens written
///     into it later included, and nothing is written.
///   - `Revoked`, expired, unknown, of a revoked family or not a refresh token: `Invalid`.
///
///   Why siblings rather than one successor that each retry replaces: a client that sends
///   several refreshes at once keeps whichever response arrives last, which need not be the
///   last one written; replacing revoked tokens already handed out in a 200. And a thief
///   replaying a stolen token inside the grace would then silently take the grant over. With
///   siblings, both keep working until one is used; the other's use is then a reuse, which
///   revokes the grant and is logged.
/// - [`Store::server_key`] answers the same key for a name on every call and every replica,
///   from the first call on: creating it is one atomic step (insert only if absent), so
///   replicas asking at once for a key that does not exist yet agree on one.
/// - [`Store::purge_expired`] removes what expired; tokens are reported expired by the caller,
///   not the store, so a purge only saves space. A client stored with an expiry is removed
///   by the first purge at or after it unless [`Store::client_granted`] was called for it
///   first; clients stored without one, or granted, are kept.
pub trait Store: Send + Sync + 'static {
    /// Stores (or replaces) a client. `expires_at` (Unix seconds) is when a purge removes it
    /// if it never completed a grant (see [`crate::oauth::UNUSED_CLIENT_TTL`]); `None`: never.
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: Option<u64>,
    ) -> StoreFuture<'a, ()>;
    /// Stores a newly registered client that a purge removes at `expires_at` (Unix seconds)
    /// unless it completes a grant, but only while fewer than `max_unused` clients are waiting
    /// for their first grant: stored with an expiry after `now`, not granted. Answers whether
    /// it was stored. Counting and writing are one atomic step (one lock, one statement, one
    /// script), so replicas registering at once cannot together pass the cap.
    fn put_unused_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: u64,
        now: u64,
        max_unused: u64,
    ) -> StoreFuture<'a, bool>;
    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>>;
    /// Records that the client completed a grant (redeemed an authorization code): it no
    /// longer expires. Does nothing for an unknown client (a metadata-document client is
    /// never stored).
    fn client_granted<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, ()>;

    fn put_code<'a>(&'a self, hash: &'a str, code: &'a CodeRecord) -> StoreFuture<'a, ()>;
    /// Atomically marks the code used and says whether it was used before.
    fn redeem_code<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Redemption>;

    fn put_tokens<'a>(&'a self, tokens: &'a [NewToken]) -> StoreFuture<'a, ()>;
    /// The token and its state (`Revoked` when its family was revoked), expired or not.
    fn get_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<StoredToken>>;
    /// Atomically exchanges a refresh token for new tokens, or detects its reuse (see the
    /// trait's contract).
    fn rotate_refresh<'a>(&'a self, request: &'a RotateRequest) -> StoreFuture<'a, Rotation>;
    fn revoke_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, ()>;
    /// Revokes every token of `family`, including tokens written into it later.
    fn revoke_family<'a>(&'a self, family: &'a str, keep_until: u64) -> StoreFuture<'a, ()>;
    /// Revokes every grant of the person `subject` ([`Person::subject`]): the family of each
    /// of their codes and tokens is revoked as by [`Store::revoke_family`] (until `keep_until`,
    /// Unix seconds), so tokens written into those families later (a code of theirs redeemed
    /// at the same moment, a refresh in flight) are revoked too. Answers how many grants were
    /// live at `now` (Unix seconds: a code or token not yet expired, its family not yet
    /// revoked) and are now revoked. Every replica sees it at its next bearer check, which
    /// reads the store.
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        keep_until: u64,
    ) -> StoreFuture<'a, u64>;

    /// The server's secret key named `name`: 32 random bytes, created on the first call and the
    /// same afterwards for every caller on every replica sharing the store (get-or-create in
    /// one atomic step: the first writer's key wins, the others read it). Keys never expire
    /// and a purge keeps them; deleting one from the store makes a new one on the next call,
    /// which invalidates whatever the old one signed (the authorization server's sign-in
    /// cookies, signed with the key named `session`).
    fn server_key<'a>(&'a self, name: &'a str) -> StoreFuture<'a, [u8; 32]>;
    /// Stores a new user (`login: users`); answers `false`, writing nothing, when the name is
    /// taken. Checking and writing are one atomic step.
    fn add_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool>;
    /// Replaces the record of an existing user (same name); answers `false`, writing nothing,
    /// when there is no such user (removed meanwhile).
    fn update_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool>;
    fn get_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<UserRecord>>;
    /// Every user, sorted by name.
    fn list_users(&self) -> StoreFuture<'_, Vec<UserRecord>>;
    /// Removes a user; answers whether there was one. Their grants stay until
    /// [`Store::revoke_subject`] revokes them (the `users remove` command does both).
    fn remove_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool>;

    /// Removes expired codes, tokens, family revocations and clients that expired without a
    /// grant; returns how many rows went.
    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64>;

    /// Checks that the store answers, as cheaply as it can (Redis `PING`, SQLite `SELECT 1`);
    /// `/readyz` calls it under a short timeout. An error means requests needing the store
    /// would fail now.
    fn ping(&self) -> StoreFuture<'_, ()>;

    // Administration (the `clients`, `grants` and `tokens` subcommands). Grants are kept as
    // tokens are written ([`Store::put_tokens`], [`Store::rotate_refresh`]): listing them
    // reads an index, never every token.

    /// Records that a token was issued to the client or refreshed by it at `at` (unix
    /// seconds), for [`ClientSummary::last_used`]. Called once per token response, never
    /// per bearer check. Does nothing for an unknown client.
    fn client_used<'a>(&'a self, client_id: &'a str, at: u64) -> StoreFuture<'a, ()>;
    /// Every stored client, with its live grants at `now` counted, by registration time.
    fn list_clients(&self, now: u64) -> StoreFuture<'_, Vec<ClientSummary>>;
    /// The live grants at `now` that `filter` selects, by issue time.
    fn list_grants<'a>(
        &'a self,
        filter: &'a GrantFilter,
        now: u64,
    ) -> StoreFuture<'a, Vec<GrantSummary>>;
    /// Revokes the live grants at `now` that `filter` selects, as
    /// [`Store::revoke_family`] does (every token of each, refused by the next lookup on
    /// every replica); returns how many were revoked.
    fn revoke_grants<'a>(&'a self, filter: &'a GrantFilter, now: u64) -> StoreFuture<'a, u64>;
    /// Deletes the client (it can no longer authenticate, refresh or be listed) and revokes
    /// its live grants at `now`, in that order, so no refresh slips in between.
    fn remove_client<'a>(&'a self, client_id: &'a str, now: u64) -> StoreFuture<'a, ClientRemoval>;
}

/// Opens a store from its URL: `memory`, `sqlite:PATH` (also `sqlite://PATH`), or
/// `redis://HOST[:PORT][/DB]`. SQLite creates the file and its tables when missing.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let url = url.trim();
    if url == "memory" || url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err(StoreError::NoSqlitePath);
        }
        #[cfg(feature = "sqlite")]
        return Ok(Arc::new(SqliteStore::open(path).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(StoreError::NotCompiled {
            backend: "sqlite",
            feature: "sqlite",
        });
    }
    if url.starts_with("redis://") {
        #[cfg(feature = "redis")]
        return Ok(Arc::new(RedisStore::connect(url).await?));
        #[cfg(not(feature = "redis"))]
        return Err(StoreError::NotCompiled {
            backend: "redis",
            feature: "redis",
        });
    }
    if url.starts_with("rediss://") {
        return Err(StoreError::RedisTls);
    }
    // Only the scheme is echoed: a store URL can carry a password.
    let scheme = url.split(':').next().unwrap_or("");
    Err(StoreError::UnknownScheme {
        scheme: scheme.to_owned(),
    })
}

/// What a write of tokens tells a grant: per family among `tokens`, its client, scopes (the
/// refresh token's, which keep the whole grant when the access token's were narrowed), the
/// earliest issue time and the latest expiry, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GrantWrite {
    pub family: String,
    pub client_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub issued_at: u64,
    pub expires_at: u64,
}

impl GrantWrite {
    /// The grant as first written.
    pub(crate) fn into_summary(self) -> GrantSummary {
        GrantSummary {
            family: self.family,
            client_id: self.client_id,
            subject: self.subject,
            scopes: self.scopes,
            issued_at: self.issued_at,
            refreshed_at: None,
            expires_at: self.expires_at,
        }
    }
}

pub(crate) fn grant_writes(tokens: &[NewToken]) -> Vec<GrantWrite> {
    let mut writes: Vec<GrantWrite> = Vec::new();
    for t in tokens {
        let r = &t.record;
        match writes.iter_mut().find(|w| w.family == r.family) {
            Some(w) => {
                w.issued_at = w.issued_at.min(r.issued_at);
                w.expires_at = w.expires_at.max(r.expires_at);
                if r.kind == TokenKind::Refresh {
                    w.scopes.clone_from(&r.scopes);
                }
            }
            None => writes.push(GrantWrite {
                family: r.family.clone(),
                client_id: r.client_id.clone(),
                subject: r.person.subject.clone(),
                scopes: r.scopes.clone(),
                issued_at: r.issued_at,
                expires_at: r.expires_at,
            }),
        }
    }
    writes
}

/// The order of `clients list`: by registration, then id.
pub(crate) fn client_order(a: &ClientRecord, b: &ClientRecord) -> std::cmp::Ordering {
    (a.client_id_issued_at, &a.client_id).cmp(&(b.client_id_issued_at, &b.client_id))
}

/// The order of `grants list`: by issue time, then family.
pub(crate) fn grant_order(a: &GrantSummary, b: &GrantSummary) -> std::cmp::Ordering {
    (a.issued_at, &a.family).cmp(&(b.issued_at, &b.family))
}
