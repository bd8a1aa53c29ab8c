//! The SQLite store: the embedded default. One file holds clients, codes and tokens, so they
//! survive a restart; replicas on one host may share the file (SQLite serialises writers).

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    ClientRecord, CodeRecord, MAX_SIBLINGS, NewToken, Redemption, Reuse, RotateRequest, Rotation,
    Store, StoreError, StoreFuture, StoredToken, TokenKind, TokenRecord, TokenState, UserRecord,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mcpgen_clients (
    client_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS mcpgen_codes (
    hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    subject TEXT,
    family TEXT
);
CREATE INDEX IF NOT EXISTS mcpgen_codes_expires ON mcpgen_codes (expires_at);
CREATE TABLE IF NOT EXISTS mcpgen_tokens (
    hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    successor TEXT,
    revoked INTEGER NOT NULL DEFAULT 0,
    parent TEXT,
    superseded INTEGER NOT NULL DEFAULT 0,
    subject TEXT
);
CREATE INDEX IF NOT EXISTS mcpgen_tokens_expires ON mcpgen_tokens (expires_at);
CREATE TABLE IF NOT EXISTS mcpgen_users (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mcpgen_revoked_families (
    family TEXT PRIMARY KEY,
    keep_until INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mcpgen_server_keys (
    name TEXT PRIMARY KEY,
    key BLOB NOT NULL
);
";

/// Brings a file written by an earlier version up to [`SCHEMA`], in one IMMEDIATE
/// transaction, so two replicas opening one old file at once do not both alter it:
/// - the columns that link a refresh token to the one it was exchanged from, and their index.
///   There, `successor` was the one live child of a rotated token, used or not; it becomes
///   that child's `parent`, and stays as `successor` only when the child was used. Each child
///   is found by its primary key from its parent's `successor` (a join, one pass over the
///   table): a subquery per row would scan the table once per token and hold the write lock
///   for minutes on a large file;
/// - clients gained `expires_at` (NULL: kept, so clients registered before the upgrade never
///   expire).
/// - codes and tokens gained `subject` (whom the grant belongs to, for
///   [`Store::revoke_subject`]) and codes `family`, filled in from each row's record; a record
///   written before people were stored belongs to [`Person::OPERATOR`](super::Person).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let has_column = |table: &str, column: &str| -> Result<bool, StoreError> {
        tx.query_row(
            "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n != 0)
        .map_err(err)
    };
    if !has_column("mcpgen_tokens", "parent")? {
        tx.execute_batch(
            "ALTER TABLE mcpgen_tokens ADD COLUMN parent TEXT;
             ALTER TABLE mcpgen_tokens ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
             UPDATE mcpgen_tokens SET parent = p.hash FROM mcpgen_tokens p
                 WHERE p.successor = mcpgen_tokens.hash;
             UPDATE mcpgen_tokens SET successor = NULL WHERE successor IS NOT NULL
                 AND successor NOT IN (SELECT hash FROM mcpgen_tokens WHERE rotated_at IS NOT NULL);",
        )
        .map_err(err)?;
    }
    if !has_column("mcpgen_clients", "expires_at")? {
        tx.execute_batch("ALTER TABLE mcpgen_clients ADD COLUMN expires_at INTEGER")
            .map_err(err)?;
    }
    if !has_column("mcpgen_tokens", "subject")? {
        tx.execute(
            "ALTER TABLE mcpgen_tokens ADD COLUMN subject TEXT",
            params![],
        )
        .map_err(err)?;
        tx.execute(
            "UPDATE mcpgen_tokens SET subject = coalesce(json_extract(data, '$.person.subject'), ?1)",
            params![super::Person::OPERATOR],
        )
        .map_err(err)?;
    }
    if !has_column("mcpgen_codes", "subject")? {
        tx.execute_batch(
            "ALTER TABLE mcpgen_codes ADD COLUMN subject TEXT;
             ALTER TABLE mcpgen_codes ADD COLUMN family TEXT;",
        )
        .map_err(err)?;
        tx.execute(
            "UPDATE mcpgen_codes SET subject = coalesce(json_extract(data, '$.person.subject'), ?1),
                 family = json_extract(data, '$.family')",
            params![super::Person::OPERATOR],
        )
        .map_err(err)?;
    }
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS mcpgen_tokens_parent ON mcpgen_tokens (parent) WHERE parent IS NOT NULL;
         CREATE INDEX IF NOT EXISTS mcpgen_clients_expires ON mcpgen_clients (expires_at);
         CREATE INDEX IF NOT EXISTS mcpgen_tokens_subject ON mcpgen_tokens (subject);
         CREATE INDEX IF NOT EXISTS mcpgen_codes_subject ON mcpgen_codes (subject);",
    )
    .map_err(err)?;
    tx.commit().map_err(err)
}

/// SQLite: one read-write connection behind a mutex, on which every write runs on the blocking
/// pool (a commit may wait for the disk or for another process's lock), plus a few read-only
/// connections for the bearer check.
///
/// The bearer check ([`Store::get_token`]) runs on every MCP request. It is one indexed
/// lookup in WAL mode, where readers never wait for writers, so it runs inline on the calling
/// task on a free read-only connection, with no busy wait: handing it to the blocking pool
/// cost more (thread wake-ups, and every request queueing on the one mutex) than the lookup.
/// When every read connection is in use, or SQLite answers busy (another process is
/// recovering the WAL), the lookup falls back to the blocking pool and the read-write
/// connection, which waits as every other call does. Nothing is cached: each lookup reads the
/// committed state, so a revocation, by this process or by another one sharing the file, is
/// seen by the next request.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<[Mutex<Connection>]>,
}

fn err(e: impl Into<StoreError>) -> StoreError {
    e.into()
}

/// SQLite integers are signed; times far in the future saturate instead of failing.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `execute` through the connection's statement cache: every statement here runs again and
/// again, so each is parsed once per connection.
fn exec(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(p))
        .map_err(err)
}

/// `query_row` through the statement cache; `None` when no row matches.
fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(p, f))
        .optional()
        .map_err(err)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Encode {
        backend: "sqlite",
        source,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(StoreError::SqliteCorrupt)
}

struct TokenRow {
    data: String,
    rotated_at: Option<i64>,
    successor: Option<String>,
    revoked: bool,
    family_revoked: bool,
    superseded: bool,
}

const READ_TOKEN: &str = "SELECT t.data, t.rotated_at, t.successor, t.revoked,
        EXISTS (SELECT 1 FROM mcpgen_revoked_families f WHERE f.family = t.family),
        t.superseded
     FROM mcpgen_tokens t WHERE t.hash = ?1";

/// The token row and whether its family is revoked, in one cached statement: the bearer check
/// runs it on every MCP request, and parsing the SQL again each time cost more than the lookup.
fn token_row(conn: &Connection, hash: &str) -> rusqlite::Result<Option<TokenRow>> {
    conn.prepare_cached(READ_TOKEN)?
        .query_row(params![hash], |r| {
            Ok(TokenRow {
                data: r.get(0)?,
                rotated_at: r.get(1)?,
                successor: r.get(2)?,
                revoked: r.get::<_, i64>(3)? != 0,
                family_revoked: r.get::<_, i64>(4)? != 0,
                superseded: r.get::<_, i64>(5)? != 0,
            })
        })
        .optional()
}

fn decode_token(row: TokenRow) -> Result<(TokenRecord, TokenState), StoreError> {
    let record: TokenRecord = from_json(&row.data)?;
    let state = if row.revoked || row.family_revoked {
        TokenState::Revoked
    } else if let Some(at) = row.rotated_at {
        TokenState::Rotated {
            at: u64::try_from(at).unwrap_or(0),
            successor: row.successor,
        }
    } else if row.superseded {
        TokenState::Superseded
    } else {
        TokenState::Active
    };
    Ok((record, state))
}

fn read_token(
    conn: &Connection,
    hash: &str,
) -> Result<Option<(TokenRecord, TokenState)>, StoreError> {
    token_row(conn, hash)
        .map_err(err)?
        .map(decode_token)
        .transpose()
}

/// Whether SQLite refused because another connection holds a lock (worth retrying where
/// waiting is allowed).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Writes `tokens`; a refresh token among them gets `parent` (the refresh token it was
/// exchanged from) as its parent.
fn insert_tokens(
    conn: &Connection,
    tokens: &[NewToken],
    parent: Option<&str>,
) -> Result<(), StoreError> {
    for t in tokens {
        let parent = parent.filter(|_| t.record.kind == TokenKind::Refresh);
        exec(
            conn,
            "INSERT OR REPLACE INTO mcpgen_tokens (hash, data, family, expires_at, parent, subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                t.hash,
                to_json(&t.record)?,
                t.record.family,
                int(t.record.expires_at),
                parent,
                t.record.person.subject
            ],
        )?;
    }
    Ok(())
}

fn revoke_family(conn: &Connection, family: &str, keep_until: u64) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO mcpgen_revoked_families (family, keep_until) VALUES (?1, ?2)
         ON CONFLICT (family) DO UPDATE SET keep_until = max(keep_until, excluded.keep_until)",
        params![family, int(keep_until)],
    )?;
    Ok(())
}

/// `:memory:` (and the URI forms of an in-memory database): no second connection can see it.
fn in_memory(path: &str) -> bool {
    path == ":memory:" || path.contains("mode=memory") || path.starts_with("file::memory:")
}

/// The store holds token hashes and client registrations: only its owner may read it. A
/// missing database file is created 0600 first (SQLite gives its `-wal` and `-shm` files the
/// database file's mode); an existing one, or its `-wal`/`-shm`, that others can read is
/// logged as a warning with the fix.
fn protect_file(path: &str) -> Result<(), StoreError> {
    if in_memory(path) || path.starts_with("file:") {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::SqliteCreate {
                    path: path.to_owned(),
                    source,
                });
            }
        }
        for (file, mode) in open_to_others(path) {
            tracing::warn!(
                file = ?file,
                mode = %format!("{mode:o}"),
                "store file is open to other users: run chmod 600 on it"
            );
        }
    }
    Ok(())
}

/// The database file, `-wal` and `-shm` that exist with permissions for the group or others,
/// with their mode bits.
#[cfg(unix)]
fn open_to_others(path: &str) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    [
        path.to_owned(),
        format!("{path}-wal"),
        format!("{path}-shm"),
    ]
    .into_iter()
    .filter_map(|file| {
        let mode = std::fs::metadata(&file).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some((file, mode))
    })
    .collect()
}

/// Read-only connections for the bearer check: as many as the machine runs threads at once
/// (at most 4), since each lookup holds one only for the lookup itself.
fn open_readers(path: &str) -> Result<Vec<Connection>, StoreError> {
    use rusqlite::OpenFlags;
    let n = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    (0..n)
        .map(|_| {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|source| StoreError::SqliteOpenReader {
                path: path.to_owned(),
                source,
            })?;
            // No busy wait on these: a lookup that would wait goes to the blocking pool.
            conn.busy_timeout(std::time::Duration::ZERO).map_err(err)?;
            Ok(conn)
        })
        .collect()
}

impl SqliteStore {
    /// Opens (creating when missing) the database file at `path`.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let writer_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            let path = writer_path;
            protect_file(&path)?;
            let conn = Connection::open(&path).map_err(|source| StoreError::SqliteOpen {
                path: path.clone(),
                source,
            })?;
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(err)?;
            // WAL lets readers run beside the writer; NORMAL sync is durable across a process
            // crash, which is what matters for tokens (a power cut merely logs users out).
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(err)?;
            conn.execute_batch(SCHEMA).map_err(err)?;
            let mut conn = conn;
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(err)??;
        let readers = if in_memory(&path) {
            // Every connection to `:memory:` is a database of its own.
            Vec::new()
        } else {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_readers(&path))
                .await
                .map_err(err)??
        };
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: readers.into_iter().map(Mutex::new).collect(),
        })
    }

    /// The bearer lookup on a free read-only connection, inline; `None` when it has to wait
    /// (no free connection, or SQLite is busy) and belongs on the blocking pool.
    fn read_token_now(
        &self,
        hash: &str,
    ) -> Option<Result<Option<(TokenRecord, TokenState)>, StoreError>> {
        for reader in self.readers.iter() {
            let conn = match reader.try_lock() {
                Ok(c) => c,
                // A read-only connection holds no state a panic could have left half-done.
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            return match token_row(&conn, hash) {
                Err(e) if is_busy(&e) => None,
                Err(e) => Some(Err(err(e))),
                Ok(row) => Some(row.map(decode_token).transpose()),
            };
        }
        None
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
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        let id = client.client_id.clone();
        let data = to_json(client);
        let expires = expires_at.map(int);
        self.run(move |c| {
            exec(
                c,
                "INSERT OR REPLACE INTO mcpgen_clients (client_id, data, expires_at) VALUES (?1, ?2, ?3)",
                params![id, data?, expires],
            )?;
            Ok(())
        })
    }

    fn put_unused_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: u64,
        now: u64,
        max_unused: u64,
    ) -> StoreFuture<'a, bool> {
        let id = client.client_id.clone();
        let data = to_json(client);
        let (expires, now, max) = (int(expires_at), int(now), int(max_unused));
        // One statement: SQLite runs one writer at a time, so the count cannot go stale
        // before the insert, on this connection or another replica's.
        self.run(move |c| {
            let stored = exec(
                c,
                "INSERT OR REPLACE INTO mcpgen_clients (client_id, data, expires_at) \
                 SELECT ?1, ?2, ?3 \
                 WHERE (SELECT COUNT(*) FROM mcpgen_clients WHERE expires_at > ?4) < ?5",
                params![id, data?, expires, now, max],
            )?;
            Ok(stored > 0)
        })
    }

    fn client_granted<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, ()> {
        let id = client_id.to_owned();
        self.run(move |c| {
            exec(
                c,
                "UPDATE mcpgen_clients SET expires_at = NULL WHERE client_id = ?1 AND expires_at IS NOT NULL",
                params![id],
            )?;
            Ok(())
        })
    }

    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>> {
        let id = client_id.to_owned();
        self.run(move |c| {
            let data: Option<String> = query_opt(
                c,
                "SELECT data FROM mcpgen_clients WHERE client_id = ?1",
                params![id],
                |r| r.get(0),
            )?;
            data.map(|d| from_json(&d)).transpose()
        })
    }

    fn put_code<'a>(&'a self, hash: &'a str, code: &'a CodeRecord) -> StoreFuture<'a, ()> {
        let hash = hash.to_owned();
        let data = to_json(code);
        let expires = int(code.expires_at);
        let (subject, family) = (code.person.subject.clone(), code.family.clone());
        self.run(move |c| {
            exec(c, "INSERT OR REPLACE INTO mcpgen_codes (hash, data, expires_at, used, subject, family) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                params![hash, data?, expires, subject, family],
            )?;
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
            let flipped = exec(
                &tx,
                "UPDATE mcpgen_codes SET used = 1 WHERE hash = ?1 AND used = 0",
                params![hash],
            )?;
            let data: Option<String> = query_opt(
                &tx,
                "SELECT data FROM mcpgen_codes WHERE hash = ?1",
                params![hash],
                |r| r.get(0),
            )?;
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
            insert_tokens(&tx, &tokens, None)?;
            tx.commit().map_err(err)
        })
    }

    fn get_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<StoredToken>> {
        if let Some(found) = self.read_token_now(hash) {
            let found = found.map(|t| t.map(|(record, state)| StoredToken { record, state }));
            return Box::pin(std::future::ready(found));
        }
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
            let reuse = match &state {
                TokenState::Revoked => return Ok(Rotation::Invalid),
                TokenState::Superseded => Some(Reuse::Superseded),
                TokenState::Rotated {
                    successor: Some(_), ..
                } => Some(Reuse::ChildUsed),
                TokenState::Rotated { at, .. } if req.now >= at.saturating_add(req.grace) => {
                    Some(Reuse::GraceOver)
                }
                // Inside the grace with no child used: one more child, nothing revoked, up to
                // the bound.
                TokenState::Rotated { .. } => {
                    let children: i64 = query_opt(
                        &tx,
                        "SELECT count(*) FROM mcpgen_tokens WHERE parent = ?1",
                        params![req.old_hash],
                        |r| r.get(0),
                    )?
                    .unwrap_or(0);
                    if children >= int(MAX_SIBLINGS as u64) {
                        return Ok(Rotation::Invalid);
                    }
                    None
                }
                TokenState::Active => None,
            };
            if let Some(reuse) = reuse {
                revoke_family(&tx, &record.family, req.keep_until)?;
                tx.commit().map_err(err)?;
                return Ok(Rotation::Reused(reuse));
            }
            if state == TokenState::Active {
                // First use. A child wins over its siblings, which die unused.
                let parent: Option<String> = query_opt(
                    &tx,
                    "SELECT parent FROM mcpgen_tokens WHERE hash = ?1",
                    params![req.old_hash],
                    |r| r.get(0),
                )?
                .flatten();
                if let Some(parent) = parent {
                    exec(
                        &tx,
                        "UPDATE mcpgen_tokens SET successor = ?2 WHERE hash = ?1 AND successor IS NULL",
                        params![parent, req.old_hash],
                    )?;
                    exec(
                        &tx,
                        "UPDATE mcpgen_tokens SET superseded = 1
                         WHERE parent = ?1 AND hash <> ?2 AND rotated_at IS NULL",
                        params![parent, req.old_hash],
                    )?;
                }
                exec(
                    &tx,
                    "UPDATE mcpgen_tokens SET rotated_at = ?2 WHERE hash = ?1",
                    params![req.old_hash, int(req.now)],
                )?;
            }
            insert_tokens(&tx, &req.new_tokens, Some(&req.old_hash))?;
            tx.commit().map_err(err)?;
            Ok(Rotation::Rotated)
        })
    }

    fn revoke_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, ()> {
        let hash = hash.to_owned();
        self.run(move |c| {
            exec(
                c,
                "UPDATE mcpgen_tokens SET revoked = 1 WHERE hash = ?1",
                params![hash],
            )?;
            Ok(())
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str, keep_until: u64) -> StoreFuture<'a, ()> {
        let family = family.to_owned();
        self.run(move |c| revoke_family(c, &family, keep_until))
    }

    fn server_key<'a>(&'a self, name: &'a str) -> StoreFuture<'a, [u8; 32]> {
        let name = name.to_owned();
        let mut fresh = [0u8; 32];
        rand::fill(&mut fresh);
        self.run(move |c| {
            // The insert is the decision: the first writer, on any connection sharing the
            // file, wins; everyone then reads the winner's key.
            exec(
                c,
                "INSERT INTO mcpgen_server_keys (name, key) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, &fresh[..]],
            )?;
            let key: Option<Vec<u8>> = query_opt(
                c,
                "SELECT key FROM mcpgen_server_keys WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )?;
            key.and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or(StoreError::KeyCorrupt {
                    backend: "sqlite",
                    name,
                })
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        keep_until: u64,
    ) -> StoreFuture<'a, u64> {
        let subject = subject.to_owned();
        self.run(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            const FAMILIES: &str = "SELECT family, expires_at FROM mcpgen_tokens WHERE subject = ?1
                 UNION ALL SELECT family, expires_at FROM mcpgen_codes WHERE subject = ?1";
            let live: i64 = query_opt(
                &tx,
                &format!(
                    "SELECT count(DISTINCT f.family) FROM ({FAMILIES}) f
                     WHERE f.expires_at > ?2 AND f.family NOT IN (SELECT family FROM mcpgen_revoked_families)"
                ),
                params![subject, int(now)],
                |r| r.get(0),
            )?
            .unwrap_or(0);
            // A WHERE clause is needed anyway: without one SQLite reads ON CONFLICT as a join
            // constraint.
            exec(
                &tx,
                &format!(
                    "INSERT INTO mcpgen_revoked_families (family, keep_until)
                     SELECT DISTINCT family, ?2 FROM ({FAMILIES}) WHERE family IS NOT NULL
                     ON CONFLICT (family) DO UPDATE SET keep_until = max(keep_until, excluded.keep_until)"
                ),
                params![subject, int(keep_until)],
            )?;
            tx.commit().map_err(err)?;
            Ok(u64::try_from(live).unwrap_or(0))
        })
    }

    fn add_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool> {
        let name = user.name.clone();
        let data = to_json(user);
        self.run(move |c| {
            let n = exec(
                c,
                "INSERT INTO mcpgen_users (name, data) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, data?],
            )?;
            Ok(n == 1)
        })
    }

    fn update_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool> {
        let name = user.name.clone();
        let data = to_json(user);
        self.run(move |c| {
            let n = exec(
                c,
                "UPDATE mcpgen_users SET data = ?2 WHERE name = ?1",
                params![name, data?],
            )?;
            Ok(n == 1)
        })
    }

    fn get_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<UserRecord>> {
        let name = name.to_owned();
        self.run(move |c| {
            let data: Option<String> = query_opt(
                c,
                "SELECT data FROM mcpgen_users WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )?;
            data.map(|d| from_json(&d)).transpose()
        })
    }

    fn list_users(&self) -> StoreFuture<'_, Vec<UserRecord>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT data FROM mcpgen_users ORDER BY name")
                .map_err(err)?;
            let rows = stmt
                .query_map(params![], |r| r.get::<_, String>(0))
                .map_err(err)?;
            let mut users = Vec::new();
            for row in rows {
                users.push(from_json(&row.map_err(err)?)?);
            }
            Ok(users)
        })
    }

    fn remove_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        let name = name.to_owned();
        self.run(move |c| {
            let n = exec(c, "DELETE FROM mcpgen_users WHERE name = ?1", params![name])?;
            Ok(n == 1)
        })
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
            n += tx
                .execute(
                    "DELETE FROM mcpgen_clients WHERE expires_at <= ?1",
                    params![now],
                )
                .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(n as u64)
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    /// An existing store file others can read is reported (and logged by `protect_file`),
    /// and left as it is: its mode is the operator's to change.
    #[test]
    fn existing_readable_files_are_reported() {
        let dir = std::env::temp_dir().join(format!("mcpgen-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db");
        let path = path.to_str().unwrap();
        std::fs::write(path, b"").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = format!("{path}-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o600)).unwrap();
        let found = super::open_to_others(path);
        super::protect_file(path).unwrap();
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, [(path.to_owned(), 0o644)]);
        assert_eq!(mode, 0o644);
    }
}
