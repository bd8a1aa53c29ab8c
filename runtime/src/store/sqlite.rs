//! The SQLite store: the embedded default. One file holds clients, codes and tokens, so they
//! survive a restart; replicas on one host may share the file (SQLite serialises writers).

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    ClientRecord, CodeRecord, NewToken, Redemption, RotateRequest, Rotation, Store, StoreError,
    StoreFuture, StoredToken, TokenKind, TokenRecord, TokenState,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mcpgen_clients (
    client_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mcpgen_codes (
    hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mcpgen_codes_expires ON mcpgen_codes (expires_at);
CREATE TABLE IF NOT EXISTS mcpgen_tokens (
    hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    successor TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS mcpgen_tokens_expires ON mcpgen_tokens (expires_at);
CREATE TABLE IF NOT EXISTS mcpgen_revoked_families (
    family TEXT PRIMARY KEY,
    keep_until INTEGER NOT NULL
);
";

/// SQLite behind a mutex; every call runs on the blocking pool, since a commit may wait for
/// the disk or for another process's lock.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(format!("sqlite: {e}"))
}

/// SQLite integers are signed; times far in the future saturate instead of failing.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(err)
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| err(format!("corrupt row: {e}")))
}

struct TokenRow {
    data: String,
    family: String,
    rotated_at: Option<i64>,
    successor: Option<String>,
    revoked: bool,
}

fn read_token(
    conn: &Connection,
    hash: &str,
) -> Result<Option<(TokenRecord, TokenState)>, StoreError> {
    let row = conn
        .query_row(
            "SELECT data, family, rotated_at, successor, revoked FROM mcpgen_tokens WHERE hash = ?1",
            params![hash],
            |r| {
                Ok(TokenRow {
                    data: r.get(0)?,
                    family: r.get(1)?,
                    rotated_at: r.get(2)?,
                    successor: r.get(3)?,
                    revoked: r.get::<_, i64>(4)? != 0,
                })
            },
        )
        .optional()
        .map_err(err)?;
    let Some(row) = row else { return Ok(None) };
    let family_revoked: bool = conn
        .query_row(
            "SELECT 1 FROM mcpgen_revoked_families WHERE family = ?1",
            params![row.family],
            |_| Ok(()),
        )
        .optional()
        .map_err(err)?
        .is_some();
    let record: TokenRecord = from_json(&row.data)?;
    let state = if row.revoked || family_revoked {
        TokenState::Revoked
    } else if let Some(at) = row.rotated_at {
        TokenState::Rotated {
            at: u64::try_from(at).unwrap_or(0),
            successor: row.successor.unwrap_or_default(),
        }
    } else {
        TokenState::Active
    };
    Ok(Some((record, state)))
}

fn insert_tokens(conn: &Connection, tokens: &[NewToken]) -> Result<(), StoreError> {
    for t in tokens {
        conn.execute(
            "INSERT OR REPLACE INTO mcpgen_tokens (hash, data, family, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![t.hash, to_json(&t.record)?, t.record.family, int(t.record.expires_at)],
        )
        .map_err(err)?;
    }
    Ok(())
}

fn revoke_family(conn: &Connection, family: &str, keep_until: u64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO mcpgen_revoked_families (family, keep_until) VALUES (?1, ?2)
         ON CONFLICT (family) DO UPDATE SET keep_until = max(keep_until, excluded.keep_until)",
        params![family, int(keep_until)],
    )
    .map_err(err)?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when missing) the database file at `path`.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            let conn =
                Connection::open(&path).map_err(|e| err(format!("cannot open {path}: {e}")))?;
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(err)?;
            // WAL lets readers run beside the writer; NORMAL sync is durable across a process
            // crash, which is what matters for tokens (a power cut merely logs users out).
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(err)?;
            conn.execute_batch(SCHEMA).map_err(err)?;
            Ok(conn)
        })
        .await
        .map_err(err)??;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn run<'a, T: Send + 'static>(
        &'a self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'a, T> {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                // Every write below is one statement or one transaction, so a panic elsewhere
                // cannot leave the connection mid-change: a poisoned lock is still usable.
                let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut guard)
            })
            .await
            .map_err(err)?
        })
    }
}

impl Store for SqliteStore {
    fn put_client<'a>(&'a self, client: &'a ClientRecord) -> StoreFuture<'a, ()> {
        let id = client.client_id.clone();
        let data = to_json(client);
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO mcpgen_clients (client_id, data) VALUES (?1, ?2)",
                params![id, data?],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>> {
        let id = client_id.to_owned();
        self.run(move |c| {
            let data: Option<String> = c
                .query_row(
                    "SELECT data FROM mcpgen_clients WHERE client_id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            data.map(|d| from_json(&d)).transpose()
        })
    }

    fn put_code<'a>(&'a self, hash: &'a str, code: &'a CodeRecord) -> StoreFuture<'a, ()> {
        let hash = hash.to_owned();
        let data = to_json(code);
        let expires = int(code.expires_at);
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO mcpgen_codes (hash, data, expires_at, used) VALUES (?1, ?2, ?3, 0)",
                params![hash, data?, expires],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn redeem_code<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Redemption> {
        let hash = hash.to_owned();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            // The guarded UPDATE is the single-use decision: only one caller can flip `used`.
            let flipped = tx
                .execute(
                    "UPDATE mcpgen_codes SET used = 1 WHERE hash = ?1 AND used = 0",
                    params![hash],
                )
                .map_err(err)?;
            let data: Option<String> = tx
                .query_row(
                    "SELECT data FROM mcpgen_codes WHERE hash = ?1",
                    params![hash],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(match data {
                None => Redemption::Unknown,
                Some(d) if flipped == 1 => Redemption::Fresh(from_json(&d)?),
                Some(d) => Redemption::Replayed(from_json(&d)?),
            })
        })
    }

    fn put_tokens<'a>(&'a self, tokens: &'a [NewToken]) -> StoreFuture<'a, ()> {
        let tokens = tokens.to_vec();
        self.run(move |c| {
            let tx = c.transaction().map_err(err)?;
            insert_tokens(&tx, &tokens)?;
            tx.commit().map_err(err)
        })
    }

    fn get_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<StoredToken>> {
        let hash = hash.to_owned();
        self.run(move |c| {
            Ok(read_token(c, &hash)?.map(|(record, state)| StoredToken { record, state }))
        })
    }

    fn rotate_refresh<'a>(&'a self, req: &'a RotateRequest) -> StoreFuture<'a, Rotation> {
        let req = req.clone();
        self.run(move |c| {
            // IMMEDIATE takes the write lock before reading, so two processes cannot both read
            // the token as active.
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let Some((record, state)) = read_token(&tx, &req.old_hash)? else {
                return Ok(Rotation::Invalid);
            };
            if record.kind != TokenKind::Refresh || record.expires_at <= req.now {
                return Ok(Rotation::Invalid);
            }
            let allowed = match &state {
                TokenState::Revoked => return Ok(Rotation::Invalid),
                TokenState::Active => true,
                TokenState::Rotated { at, successor } => {
                    req.now < at.saturating_add(req.grace)
                        && matches!(read_token(&tx, successor)?, Some((_, TokenState::Active)))
                }
            };
            if !allowed {
                revoke_family(&tx, &record.family, req.keep_until)?;
                tx.commit().map_err(err)?;
                return Ok(Rotation::Reused);
            }
            // Inside the grace the first rotation (time and successor) is kept, so retries
            // cannot extend the window and rotating the successor ends it.
            tx.execute(
                "UPDATE mcpgen_tokens SET rotated_at = coalesce(rotated_at, ?2), successor = coalesce(successor, ?3) WHERE hash = ?1",
                params![req.old_hash, int(req.now), req.new_refresh_hash()],
            )
            .map_err(err)?;
            insert_tokens(&tx, &req.new_tokens)?;
            tx.commit().map_err(err)?;
            Ok(Rotation::Rotated)
        })
    }

    fn revoke_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, ()> {
        let hash = hash.to_owned();
        self.run(move |c| {
            c.execute(
                "UPDATE mcpgen_tokens SET revoked = 1 WHERE hash = ?1",
                params![hash],
            )
            .map_err(err)?;
            Ok(())
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str, keep_until: u64) -> StoreFuture<'a, ()> {
        let family = family.to_owned();
        self.run(move |c| revoke_family(c, &family, keep_until))
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        self.run(move |c| {
            let now = int(now);
            let tx = c.transaction().map_err(err)?;
            let mut n = 0;
            n += tx
                .execute(
                    "DELETE FROM mcpgen_codes WHERE expires_at <= ?1",
                    params![now],
                )
                .map_err(err)?;
            n += tx
                .execute(
                    "DELETE FROM mcpgen_tokens WHERE expires_at <= ?1",
                    params![now],
                )
                .map_err(err)?;
            n += tx
                .execute(
                    "DELETE FROM mcpgen_revoked_families WHERE keep_until <= ?1",
                    params![now],
                )
                .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(n as u64)
        })
    }
}
