//! The Redis store: for several replicas. Codes and tokens expire with their records; clients
//! that may expire are listed in a sorted set by expiry, which [`Store::purge_expired`] works
//! through (so a grant can take a client off it, and a purge decides by its `now`). Single-use
//! decisions are `SET NX` (codes) and a Lua script (refresh rotation), so they are
//! atomic across replicas. Needs one Redis primary (no Cluster: the scripts touch keys they
//! compute).

use redis::aio::ConnectionManager;

use super::{
    ClientRecord, ClientRemoval, ClientSummary, CodeRecord, GrantFilter, GrantSummary,
    MAX_SIBLINGS, NewToken, Redemption, Reuse, RotateRequest, Rotation, Store, StoreError,
    StoreFuture, StoredToken, TokenRecord, TokenState, UserRecord,
};

const PREFIX: &str = "mcpgen:";

/// Reads a token, its state and its family's revocation in one atomic step.
const GET_TOKEN: &str = r#"
local f = redis.call('HMGET', KEYS[1], 'data', 'rotated_at', 'successor', 'revoked', 'family', 'superseded')
if not f[1] then return false end
local fam = redis.call('EXISTS', ARGV[1] .. 'revoked_family:' .. (f[5] or ''))
return {f[1], f[2] or '', f[3] or '', f[4] or '0', tostring(fam), f[6] or '0'}
"#;

/// The Lua function `upsert_grant(prefix, family, client_id, subject, scopes, issued_at,
/// expires_at, now)` that records tokens written into a grant, for the scripts that write
/// tokens. Layout: `grant:<family>` is a hash (`client_id`, `subject`, `scopes` as a JSON
/// array, `issued_at`, `refreshed_at`, `expires_at`) expiring with the grant's last token;
/// `grants` (every grant) and `client_grants:<client id>` (one client's) are sorted sets of
/// families scored by expiry, from which expired members are dropped as grants are written,
/// so both stay as large as the live grants. A new family starts a grant; a later write (a refresh) moves
/// `refreshed_at` and extends the expiry. Writes merge in any order (`issued_at` is the
/// earliest token's, `refreshed_at` the latest's when later), as the upgrade's backfill needs.
macro_rules! upsert_grant_lua {
    () => {
        r#"
local function upsert_grant(prefix, family, client_id, subject, scopes, issued_at, expires_at, now)
  local gkey = prefix .. 'grant:' .. family
  local exp = tonumber(expires_at)
  if redis.call('EXISTS', gkey) == 1 then
    local f = redis.call('HMGET', gkey, 'client_id', 'issued_at', 'refreshed_at', 'expires_at')
    client_id = f[1] or client_id
    local t = tonumber(issued_at)
    local first = tonumber(f[2] or '') or t
    local last = math.max(tonumber(f[3] or '') or first, first, t)
    first = math.min(first, t)
    exp = math.max(tonumber(f[4] or '') or 0, exp)
    redis.call('HSET', gkey, 'issued_at', first, 'expires_at', exp)
    if last > first then redis.call('HSET', gkey, 'refreshed_at', last) end
  else
    redis.call('HSET', gkey, 'client_id', client_id, 'subject', subject, 'scopes', scopes, 'issued_at', issued_at, 'expires_at', exp)
  end
  redis.call('EXPIREAT', gkey, exp)
  local ckey = prefix .. 'client_grants:' .. client_id
  redis.call('ZADD', ckey, exp, family)
  redis.call('ZREMRANGEBYSCORE', ckey, '-inf', now)
  local ttl = redis.call('TTL', ckey)
  if ttl < 0 or tonumber(now) + ttl < exp then redis.call('EXPIREAT', ckey, exp) end
  local all = prefix .. 'grants'
  redis.call('ZADD', all, exp, family)
  redis.call('ZREMRANGEBYSCORE', all, '-inf', now)
end
"#
    };
}

/// Records one grant write. ARGV: prefix, family, client id, subject, scopes (JSON), issued
/// at, expires at, now.
const UPSERT_GRANT: &str = concat!(
    upsert_grant_lua!(),
    "upsert_grant(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])\nreturn 1\n"
);

/// The rotation decision and its writes (see the [`Store`] contract), in one script so no
/// other replica sees a half state. A token is a hash (`data`, `kind`, `family`,
/// `expires_at`, `revoked`, and once it applies `rotated_at`, `successor`, `parent`,
/// `superseded`); `children:<hash>` is the set of a refresh token's children not yet
/// superseded, deleted when one of them is used.
/// KEYS[1] old token. ARGV: prefix, now, grace, keep_until, old hash, the most children a
/// token may have, the grant write of the new tokens (family, client id, subject, scopes,
/// issued at, expires at; see [`upsert_grant_lua`]), then per new token: hash, data, kind,
/// family, expires_at.
const ROTATE: &str = concat!(
    upsert_grant_lua!(),
    r#"
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local keep_until = ARGV[4]
local old = ARGV[5]
local f = redis.call('HMGET', KEYS[1], 'kind', 'expires_at', 'revoked', 'rotated_at', 'successor', 'family', 'superseded', 'parent')
if not f[1] or f[1] ~= 'refresh' then return 'invalid' end
if tonumber(f[2]) <= now or f[3] == '1' then return 'invalid' end
local famkey = prefix .. 'revoked_family:' .. f[6]
if redis.call('EXISTS', famkey) == 1 then return 'invalid' end
local rotated = f[4] and f[4] ~= ''
local reuse = false
if rotated then
  if f[5] and f[5] ~= '' then reuse = 'child_used'
  elseif now >= tonumber(f[4]) + grace then reuse = 'grace_over' end
elseif f[7] == '1' then
  reuse = 'superseded'
end
if reuse then
  redis.call('SET', famkey, '1', 'EXAT', keep_until)
  return reuse
end
-- A retry inside the grace mints one more child, up to the bound.
if rotated and redis.call('SCARD', prefix .. 'children:' .. old) >= tonumber(ARGV[6]) then
  return 'invalid'
end
if not rotated then
  -- First use. A child wins over its siblings, which die unused.
  local parent = f[8]
  if parent and parent ~= '' then
    local pkey = prefix .. 'token:' .. parent
    local s = redis.call('HGET', pkey, 'successor')
    if redis.call('EXISTS', pkey) == 1 and (not s or s == '') then
      redis.call('HSET', pkey, 'successor', old)
    end
    local ckey = prefix .. 'children:' .. parent
    for _, sib in ipairs(redis.call('SMEMBERS', ckey)) do
      local skey = prefix .. 'token:' .. sib
      if sib ~= old and redis.call('EXISTS', skey) == 1 then
        local r = redis.call('HGET', skey, 'rotated_at')
        if not r or r == '' then redis.call('HSET', skey, 'superseded', '1') end
      end
    end
    redis.call('DEL', ckey)
  end
  redis.call('HSET', KEYS[1], 'rotated_at', ARGV[2])
end
-- Inside the grace with no child used, the new refresh token is one more child and nothing
-- is revoked.
local ckey = prefix .. 'children:' .. old
local i = 13
while ARGV[i] do
  local key = prefix .. 'token:' .. ARGV[i]
  redis.call('HSET', key, 'data', ARGV[i + 1], 'kind', ARGV[i + 2], 'family', ARGV[i + 3], 'expires_at', ARGV[i + 4], 'revoked', '0')
  if ARGV[i + 2] == 'refresh' then
    redis.call('HSET', key, 'parent', old)
    redis.call('SADD', ckey, ARGV[i])
    -- The set lives as long as its longest-lived child.
    local ttl = redis.call('TTL', ckey)
    if ttl < 0 or now + ttl < tonumber(ARGV[i + 4]) then redis.call('EXPIREAT', ckey, ARGV[i + 4]) end
  end
  redis.call('EXPIREAT', key, ARGV[i + 4])
  i = i + 5
end
if ARGV[7] ~= '' then upsert_grant(prefix, ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[2]) end
return 'rotated'
"#
);

/// The sorted set of clients that expire unless granted (member: client id, score: expiry).
const UNUSED_CLIENTS: &str = "mcpgen:clients_unused";

/// Every stored client (member: client id, score: registration time), for `clients list`.
const CLIENTS: &str = "mcpgen:clients";

/// When each client was last issued a token (hash: client id -> unix seconds).
const CLIENT_USED: &str = "mcpgen:client_used";

/// Set once the indexes of the administrative commands ([`CLIENTS`], grants) cover what was
/// written before they existed (see [`RedisStore::ensure_indexed`]).
const INDEXED: &str = "mcpgen:admin_indexed";

/// Stores client KEYS[1] (data ARGV[1]) as unused until ARGV[2] in KEYS[2] (member ARGV[5]),
/// unless KEYS[2] already holds ARGV[4] clients expiring after ARGV[3]; returns 1 if stored.
/// A stored client joins KEYS[3] ([`CLIENTS`]) with score ARGV[6] (its registration time).
const PUT_UNUSED_CLIENT: &str = r#"
if redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[3], '+inf') >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
return 1
"#;

/// Deletes up to ARGV[3] clients from KEYS[1] that expired by ARGV[1]; returns how many.
const PURGE_CLIENTS: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[2] .. 'client:' .. id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', ARGV[2] .. 'clients', id)
  redis.call('HDEL', ARGV[2] .. 'client_used', id)
end
return #ids
"#;

/// Clients deleted per script call, so one purge never blocks Redis for long.
const PURGE_BATCH: u64 = 500;

/// Marks a family revoked until `keep_until` (ARGV[1], unix seconds), or later if an earlier
/// revocation asked for later: a plain `SET EXAT` would shorten it, and tokens of the grant
/// still inside their lifetime would come back to life when the shorter expiry ran out.
const REVOKE_FAMILY: &str = r#"
local keep = tonumber(ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl == -1 then return 0 end
if ttl >= 0 and tonumber(redis.call('TIME')[1]) + ttl >= keep then return 0 end
redis.call('SET', KEYS[1], '1', 'EXAT', ARGV[1])
return 1
"#;

/// Sets KEYS[1] to ARGV[1] unless it exists, and returns its value: the server key's
/// get-or-create in one atomic step.
const SERVER_KEY: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"#;

/// Indexes a grant under its person: KEYS[1] is the subject's sorted set of families (score:
/// when the family's last known code or token expires), ARGV[1] the family, ARGV[2] that
/// expiry. Families past their expiry (by the Redis server's clock) are dropped, and the set
/// lives as long as its longest-lived family. Grants written before this index existed join
/// it with the other administrative indexes ([`RedisStore::ensure_indexed`]).
const INDEX_SUBJECT: &str = r#"
local exp = tonumber(ARGV[2])
local now = tonumber(redis.call('TIME')[1])
local cur = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not cur or tonumber(cur) < exp then redis.call('ZADD', KEYS[1], exp, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 or now + ttl < exp then redis.call('EXPIREAT', KEYS[1], exp) end
return 1
"#;

/// Revokes every family in the subject's index KEYS[1] (ARGV: prefix, now, keep_until) as
/// [`REVOKE_FAMILY`] does; returns how many were live (not expired at now) and not revoked
/// before.
const REVOKE_SUBJECT: &str = r#"
local now = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local n = 0
for _, fam in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local k = ARGV[1] .. 'revoked_family:' .. fam
  local ttl = redis.call('TTL', k)
  if ttl == -2 then n = n + 1 end
  if ttl == -2 or (ttl >= 0 and now + ttl < keep) then
    redis.call('SET', k, '1', 'EXAT', keep)
  end
end
return n
"#;

/// The hash of users: field the user's name, value its record as JSON.
const USERS: &str = "mcpgen:users";

/// Replaces user ARGV[1]'s record in KEYS[1] with ARGV[2] if the user exists; returns 1 then.
const UPDATE_USER: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"#;

/// A Redis connection manager (reconnects by itself; clones share one connection).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: print nothing of it.
        f.write_str("RedisStore")
    }
}

fn err(e: impl Into<StoreError>) -> StoreError {
    e.into()
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Encode {
        backend: "redis",
        source,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(StoreError::RedisCorrupt)
}

fn key(kind: &str, id: &str) -> String {
    format!("{PREFIX}{kind}:{id}")
}

impl RedisStore {
    /// Connects to `redis://HOST[:PORT][/DB]` and checks the server answers.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // Errors from the client can quote the URL; report them without it.
        let client = redis::Client::open(url).map_err(|_| StoreError::RedisUrl)?;
        let mut conn = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            client.get_connection_manager(),
        )
        .await
        .map_err(|_| StoreError::RedisTimeout)?
        .map_err(|e| StoreError::RedisConnect {
            kind: e.kind_str().to_owned(),
        })?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(Self { conn })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

/// Items asked for per `SCAN`/`ZSCAN` call and per pipeline of the administrative commands,
/// so none of them blocks Redis for long.
const ADMIN_BATCH: usize = 500;

impl RedisStore {
    /// Every key matching `pattern`, by `SCAN` a page at a time: never `KEYS`, which blocks
    /// the server for as long as it walks a large database.
    async fn scan_keys(&self, pattern: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn();
        let mut cursor = 0u64;
        let mut found = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(ADMIN_BATCH)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            found.extend(keys);
            if next == 0 {
                return Ok(found);
            }
            cursor = next;
        }
    }

    /// Every member of the sorted set `zset` with its score, by `ZSCAN` a page at a time.
    async fn zscan(&self, zset: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut c = self.conn();
        let mut cursor = 0u64;
        let mut found = std::collections::HashMap::new();
        loop {
            let (next, items): (u64, Vec<(String, f64)>) = redis::cmd("ZSCAN")
                .arg(zset)
                .arg(cursor)
                .arg("COUNT")
                .arg(ADMIN_BATCH)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            // ZSCAN may return a member twice; scores are whole seconds.
            found.extend(items.into_iter().map(|(m, s)| (m, s as u64)));
            if next == 0 {
                return Ok(found.into_iter().collect());
            }
            cursor = next;
        }
    }

    /// Brings the indexes of the administrative commands (clients, grants, and grants per
    /// subject) over what a version without them wrote (clients and tokens), once per database: a `SCAN` over the client and token
    /// keys, then a marker. Writes since then maintain the indexes themselves.
    async fn ensure_indexed(&self) -> Result<(), StoreError> {
        let mut c = self.conn();
        let done: bool = redis::cmd("EXISTS")
            .arg(INDEXED)
            .query_async(&mut c)
            .await
            .map_err(err)?;
        if done {
            return Ok(());
        }
        let client_prefix = key("client", "");
        for chunk in self
            .scan_keys(&format!("{client_prefix}*"))
            .await?
            .chunks(ADMIN_BATCH)
        {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("GET").arg(k);
            }
            let data: Vec<Option<String>> = pipe.query_async(&mut c).await.map_err(err)?;
            let mut pipe = redis::pipe();
            for d in data.iter().flatten() {
                let client: ClientRecord = from_json(d)?;
                pipe.cmd("ZADD")
                    .arg(CLIENTS)
                    .arg(client.client_id_issued_at)
                    .arg(&client.client_id)
                    .ignore();
            }
            let _: () = pipe.query_async(&mut c).await.map_err(err)?;
        }
        let token_prefix = key("token", "");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for chunk in self
            .scan_keys(&format!("{token_prefix}*"))
            .await?
            .chunks(ADMIN_BATCH)
        {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("HGET").arg(k).arg("data");
            }
            let data: Vec<Option<String>> = pipe.query_async(&mut c).await.map_err(err)?;
            let mut pipe = redis::pipe();
            for d in data.iter().flatten() {
                // One write per token: the merge keeps the first issue and the last refresh.
                let token = NewToken {
                    hash: String::new(),
                    record: from_json(d)?,
                };
                let Some(w) = super::grant_writes(std::slice::from_ref(&token)).pop() else {
                    continue;
                };
                pipe.cmd("EVAL")
                    .arg(UPSERT_GRANT)
                    .arg(0)
                    .arg(PREFIX)
                    .arg(&w.family)
                    .arg(&w.client_id)
                    .arg(&w.subject)
                    .arg(to_json(&w.scopes)?)
                    .arg(w.issued_at)
                    .arg(w.expires_at)
                    .arg(now)
                    .ignore();
                // The subject's index, which `revoke_subject` reads.
                index_subject(&mut pipe, &w.subject, &w.family, w.expires_at);
            }
            let _: () = pipe.query_async(&mut c).await.map_err(err)?;
        }
        let _: () = redis::cmd("SET")
            .arg(INDEXED)
            .arg("1")
            .query_async(&mut c)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// The live grants at `now` among `families` (read a batch at a time, with their
    /// revocation, in one round trip per batch).
    async fn live_grants(
        &self,
        families: &[String],
        now: u64,
    ) -> Result<Vec<GrantSummary>, StoreError> {
        let mut c = self.conn();
        let mut live = Vec::new();
        for chunk in families.chunks(ADMIN_BATCH) {
            let mut pipe = redis::pipe();
            let mut revoked_pipe = redis::pipe();
            for f in chunk {
                pipe.cmd("HMGET")
                    .arg(key("grant", f))
                    .arg("client_id")
                    .arg("scopes")
                    .arg("issued_at")
                    .arg("refreshed_at")
                    .arg("expires_at")
                    .arg("subject");
                revoked_pipe.cmd("EXISTS").arg(key("revoked_family", f));
            }
            let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut c).await.map_err(err)?;
            let revoked: Vec<bool> = revoked_pipe.query_async(&mut c).await.map_err(err)?;
            for ((f, fields), revoked) in chunk.iter().zip(&rows).zip(revoked) {
                let [
                    Some(client_id),
                    Some(scopes),
                    Some(issued),
                    refreshed,
                    Some(expires),
                    subject,
                ] = fields.as_slice()
                else {
                    continue;
                };
                let expires_at = expires.parse::<u64>().unwrap_or(0);
                if revoked || expires_at <= now {
                    continue;
                }
                live.push(GrantSummary {
                    family: f.clone(),
                    client_id: client_id.clone(),
                    subject: subject
                        .clone()
                        .unwrap_or_else(|| super::Person::OPERATOR.to_owned()),
                    scopes: from_json(scopes)?,
                    issued_at: issued.parse().unwrap_or(0),
                    refreshed_at: refreshed.as_deref().and_then(|r| r.parse().ok()),
                    expires_at,
                });
            }
        }
        Ok(live)
    }

    /// The live grants `filter` selects, from the index that covers them.
    async fn select_grants(
        &self,
        filter: &GrantFilter,
        now: u64,
    ) -> Result<Vec<GrantSummary>, StoreError> {
        self.ensure_indexed().await?;
        // The subject's index is the one `revoke_subject` reads, so both agree on whose
        // grants are whose.
        let index = match (&filter.client_id, &filter.subject) {
            (Some(id), _) => key("client_grants", id),
            (None, Some(subject)) => key("subject", subject),
            (None, None) => format!("{PREFIX}grants"),
        };
        let families: Vec<String> = self
            .zscan(&index)
            .await?
            .into_iter()
            .filter(|(_, exp)| *exp > now)
            .map(|(f, _)| f)
            .collect();
        let mut live = self.live_grants(&families, now).await?;
        live.retain(|g| {
            filter.client_id.as_ref().is_none_or(|c| *c == g.client_id)
                && filter.subject.as_ref().is_none_or(|s| *s == g.subject)
        });
        live.sort_by(super::grant_order);
        Ok(live)
    }

    /// Revokes `grants`, each remembered until its last token expires, and drops them from
    /// the indexes; returns how many.
    async fn revoke_selected(&self, grants: &[GrantSummary]) -> Result<u64, StoreError> {
        let mut c = self.conn();
        for chunk in grants.chunks(ADMIN_BATCH) {
            let mut pipe = redis::pipe();
            for g in chunk {
                pipe.cmd("EVAL")
                    .arg(REVOKE_FAMILY)
                    .arg(1)
                    .arg(key("revoked_family", &g.family))
                    .arg(g.expires_at.max(1))
                    .ignore();
                pipe.cmd("ZREM")
                    .arg(format!("{PREFIX}grants"))
                    .arg(&g.family)
                    .ignore();
                pipe.cmd("ZREM")
                    .arg(key("client_grants", &g.client_id))
                    .arg(&g.family)
                    .ignore();
            }
            let _: () = pipe.query_async(&mut c).await.map_err(err)?;
        }
        Ok(grants.len() as u64)
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind()).to_lowercase()
    }
}

/// Adds the index entry of a grant's family under its subject ([`INDEX_SUBJECT`]) to `pipe`.
fn index_subject(pipe: &mut redis::Pipeline, subject: &str, family: &str, expires_at: u64) {
    pipe.cmd("EVAL")
        .arg(INDEX_SUBJECT)
        .arg(1)
        .arg(key("subject", subject))
        .arg(family)
        .arg(expires_at.max(1))
        .ignore();
}

fn token_fields(pipe: &mut redis::Pipeline, t: &NewToken) -> Result<(), StoreError> {
    let k = key("token", &t.hash);
    pipe.cmd("HSET")
        .arg(&k)
        .arg("data")
        .arg(to_json(&t.record)?)
        .arg("kind")
        .arg(t.record.kind.as_str())
        .arg("family")
        .arg(&t.record.family)
        .arg("expires_at")
        .arg(t.record.expires_at)
        .arg("revoked")
        .arg("0")
        .ignore();
    pipe.cmd("EXPIREAT")
        .arg(&k)
        .arg(t.record.expires_at)
        .ignore();
    index_subject(
        pipe,
        &t.record.person.subject,
        &t.record.family,
        t.record.expires_at,
    );
    Ok(())
}

impl Store for RedisStore {
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("SET")
                .arg(key("client", &client.client_id))
                .arg(to_json(client)?)
                .ignore();
            pipe.cmd("ZADD")
                .arg(CLIENTS)
                .arg(client.client_id_issued_at)
                .arg(&client.client_id)
                .ignore();
            match expires_at {
                Some(at) => pipe
                    .cmd("ZADD")
                    .arg(UNUSED_CLIENTS)
                    .arg(at)
                    .arg(&client.client_id)
                    .ignore(),
                None => pipe
                    .cmd("ZREM")
                    .arg(UNUSED_CLIENTS)
                    .arg(&client.client_id)
                    .ignore(),
            };
            let mut c = self.conn();
            let _: () = pipe.query_async(&mut c).await.map_err(err)?;
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
        Box::pin(async move {
            let mut c = self.conn();
            let stored: i64 = redis::cmd("EVAL")
                .arg(PUT_UNUSED_CLIENT)
                .arg(3)
                .arg(key("client", &client.client_id))
                .arg(UNUSED_CLIENTS)
                .arg(CLIENTS)
                .arg(to_json(client)?)
                .arg(expires_at)
                .arg(now)
                .arg(max_unused)
                .arg(&client.client_id)
                .arg(client.client_id_issued_at)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(stored == 1)
        })
    }

    fn client_granted<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn();
            let _: i64 = redis::cmd("ZREM")
                .arg(UNUSED_CLIENTS)
                .arg(client_id)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>> {
        Box::pin(async move {
            let mut c = self.conn();
            let data: Option<String> = redis::cmd("GET")
                .arg(key("client", client_id))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            data.map(|d| from_json(&d)).transpose()
        })
    }

    fn put_code<'a>(&'a self, hash: &'a str, code: &'a CodeRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("SET")
                .arg(key("code", hash))
                .arg(to_json(code)?)
                .arg("EXAT")
                .arg(code.expires_at.max(1))
                .ignore();
            index_subject(
                &mut pipe,
                &code.person.subject,
                &code.family,
                code.expires_at,
            );
            let mut c = self.conn();
            let _: () = pipe.query_async(&mut c).await.map_err(err)?;
            Ok(())
        })
    }

    fn redeem_code<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Redemption> {
        Box::pin(async move {
            let mut c = self.conn();
            let data: Option<String> = redis::cmd("GET")
                .arg(key("code", hash))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            let Some(data) = data else {
                return Ok(Redemption::Unknown);
            };
            let record: CodeRecord = from_json(&data)?;
            // SET NX is the single-use decision; the marker outlives the code a little so a
            // replay at the very end of its life is still seen as one.
            let first: Option<String> = redis::cmd("SET")
                .arg(key("code_used", hash))
                .arg("1")
                .arg("NX")
                .arg("EXAT")
                .arg(record.expires_at.saturating_add(60))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(if first.is_some() {
                Redemption::Fresh(record)
            } else {
                Redemption::Replayed(record)
            })
        })
    }

    fn put_tokens<'a>(&'a self, tokens: &'a [NewToken]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for t in tokens {
                token_fields(&mut pipe, t)?;
            }
            for w in super::grant_writes(tokens) {
                pipe.cmd("EVAL")
                    .arg(UPSERT_GRANT)
                    .arg(0)
                    .arg(PREFIX)
                    .arg(&w.family)
                    .arg(&w.client_id)
                    .arg(&w.subject)
                    .arg(to_json(&w.scopes)?)
                    .arg(w.issued_at)
                    .arg(w.expires_at)
                    .arg(w.issued_at)
                    .ignore();
            }
            let mut c = self.conn();
            let _: () = pipe.query_async(&mut c).await.map_err(err)?;
            Ok(())
        })
    }

    fn get_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<StoredToken>> {
        Box::pin(async move {
            let mut c = self.conn();
            let row: Option<Vec<String>> = redis::cmd("EVAL")
                .arg(GET_TOKEN)
                .arg(1)
                .arg(key("token", hash))
                .arg(PREFIX)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            let Some(row) = row else { return Ok(None) };
            let [data, rotated_at, successor, revoked, fam, superseded] = row.as_slice() else {
                return Err(StoreError::RedisReply);
            };
            let record: TokenRecord = from_json(data)?;
            let state = if revoked == "1" || fam == "1" {
                TokenState::Revoked
            } else if let Ok(at) = rotated_at.parse::<u64>() {
                TokenState::Rotated {
                    at,
                    successor: Some(successor.clone()).filter(|s| !s.is_empty()),
                }
            } else if superseded == "1" {
                TokenState::Superseded
            } else {
                TokenState::Active
            };
            Ok(Some(StoredToken { record, state }))
        })
    }

    fn rotate_refresh<'a>(&'a self, req: &'a RotateRequest) -> StoreFuture<'a, Rotation> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(ROTATE)
                .arg(1)
                .arg(key("token", &req.old_hash))
                .arg(PREFIX)
                .arg(req.now)
                .arg(req.grace)
                .arg(req.keep_until.max(1))
                .arg(&req.old_hash)
                .arg(MAX_SIBLINGS);
            match super::grant_writes(&req.new_tokens).into_iter().next() {
                Some(w) => cmd
                    .arg(w.family)
                    .arg(w.client_id)
                    .arg(w.subject)
                    .arg(to_json(&w.scopes)?)
                    .arg(w.issued_at)
                    .arg(w.expires_at),
                None => cmd.arg("").arg("").arg("").arg("").arg("").arg(""),
            };
            for t in &req.new_tokens {
                cmd.arg(&t.hash)
                    .arg(to_json(&t.record)?)
                    .arg(t.record.kind.as_str())
                    .arg(&t.record.family)
                    .arg(t.record.expires_at);
            }
            let mut c = self.conn();
            let outcome: String = cmd.query_async(&mut c).await.map_err(err)?;
            if outcome == "rotated" {
                // The family is indexed already (with the presented token's expiry, which is
                // in the future); this moves its expiry to the new tokens'. Not part of the
                // script: a revocation in between finds the family by its earlier entry.
                let mut pipe = redis::pipe();
                for t in &req.new_tokens {
                    index_subject(
                        &mut pipe,
                        &t.record.person.subject,
                        &t.record.family,
                        t.record.expires_at,
                    );
                }
                let _: () = pipe.query_async(&mut c).await.map_err(err)?;
            }
            Ok(match outcome.as_str() {
                "rotated" => Rotation::Rotated,
                "superseded" => Rotation::Reused(Reuse::Superseded),
                "child_used" => Rotation::Reused(Reuse::ChildUsed),
                "grace_over" => Rotation::Reused(Reuse::GraceOver),
                _ => Rotation::Invalid,
            })
        })
    }

    fn revoke_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn();
            // Only an existing token is marked: HSET on a missing key would create a stub
            // without an expiry.
            let _: i64 = redis::cmd("EVAL")
                .arg("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'revoked', '1') return 1 end return 0")
                .arg(1)
                .arg(key("token", hash))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn revoke_family<'a>(&'a self, family: &'a str, keep_until: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn();
            let _: i64 = redis::cmd("EVAL")
                .arg(REVOKE_FAMILY)
                .arg(1)
                .arg(key("revoked_family", family))
                .arg(keep_until.max(1))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = self.conn();
            redis::cmd("PING")
                .query_async::<()>(&mut c)
                .await
                .map_err(err)
        })
    }

    fn server_key<'a>(&'a self, name: &'a str) -> StoreFuture<'a, [u8; 32]> {
        Box::pin(async move {
            let mut fresh = [0u8; 32];
            rand::fill(&mut fresh);
            let mut c = self.conn();
            let stored: Vec<u8> = redis::cmd("EVAL")
                .arg(SERVER_KEY)
                .arg(1)
                .arg(key("server_key", name))
                .arg(&fresh[..])
                .query_async(&mut c)
                .await
                .map_err(err)?;
            <[u8; 32]>::try_from(stored).map_err(|_| StoreError::KeyCorrupt {
                backend: "redis",
                name: name.to_owned(),
            })
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        keep_until: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            // Grants written before the subject index existed are in it once this ran.
            self.ensure_indexed().await?;
            let mut c = self.conn();
            let n: u64 = redis::cmd("EVAL")
                .arg(REVOKE_SUBJECT)
                .arg(1)
                .arg(key("subject", subject))
                .arg(PREFIX)
                .arg(now)
                .arg(keep_until.max(1))
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(n)
        })
    }

    fn add_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn();
            let added: i64 = redis::cmd("HSETNX")
                .arg(USERS)
                .arg(&user.name)
                .arg(to_json(user)?)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(added == 1)
        })
    }

    fn update_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn();
            let updated: i64 = redis::cmd("EVAL")
                .arg(UPDATE_USER)
                .arg(1)
                .arg(USERS)
                .arg(&user.name)
                .arg(to_json(user)?)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(updated == 1)
        })
    }

    fn get_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<UserRecord>> {
        Box::pin(async move {
            let mut c = self.conn();
            let data: Option<String> = redis::cmd("HGET")
                .arg(USERS)
                .arg(name)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            data.map(|d| from_json(&d)).transpose()
        })
    }

    fn list_users(&self) -> StoreFuture<'_, Vec<UserRecord>> {
        Box::pin(async move {
            let mut c = self.conn();
            let all: Vec<String> = redis::cmd("HVALS")
                .arg(USERS)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            let mut users = all
                .iter()
                .map(|d| from_json::<UserRecord>(d))
                .collect::<Result<Vec<_>, _>>()?;
            users.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(users)
        })
    }

    fn remove_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.conn();
            let removed: i64 = redis::cmd("HDEL")
                .arg(USERS)
                .arg(name)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(removed == 1)
        })
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        // Codes and tokens carry their own expiry; only unused clients need deleting, and
        // expired grants dropping from the index of every grant (a client's index expires).
        Box::pin(async move {
            let mut c = self.conn();
            let _: u64 = redis::cmd("ZREMRANGEBYSCORE")
                .arg(format!("{PREFIX}grants"))
                .arg("-inf")
                .arg(now)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            let mut removed = 0;
            loop {
                let n: u64 = redis::cmd("EVAL")
                    .arg(PURGE_CLIENTS)
                    .arg(1)
                    .arg(UNUSED_CLIENTS)
                    .arg(now)
                    .arg(PREFIX)
                    .arg(PURGE_BATCH)
                    .query_async(&mut c)
                    .await
                    .map_err(err)?;
                removed += n;
                if n < PURGE_BATCH {
                    return Ok(removed);
                }
            }
        })
    }

    fn client_used<'a>(&'a self, client_id: &'a str, at: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.conn();
            let _: i64 = redis::cmd("EVAL")
                .arg("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) return 1 end return 0")
                .arg(2)
                .arg(key("client", client_id))
                .arg(CLIENT_USED)
                .arg(client_id)
                .arg(at)
                .query_async(&mut c)
                .await
                .map_err(err)?;
            Ok(())
        })
    }

    fn list_clients(&self, now: u64) -> StoreFuture<'_, Vec<ClientSummary>> {
        Box::pin(async move {
            let all = self.select_grants(&GrantFilter::default(), now).await?;
            let mut grants: std::collections::HashMap<&str, u64> = Default::default();
            for g in &all {
                *grants.entry(g.client_id.as_str()).or_default() += 1;
            }
            let ids: Vec<String> = self
                .zscan(CLIENTS)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let mut c = self.conn();
            let mut list = Vec::new();
            for chunk in ids.chunks(ADMIN_BATCH) {
                let mut pipe = redis::pipe();
                for id in chunk {
                    pipe.cmd("GET").arg(key("client", id));
                    pipe.cmd("HGET").arg(CLIENT_USED).arg(id);
                }
                let rows: Vec<Option<String>> = pipe.query_async(&mut c).await.map_err(err)?;
                for pair in rows.chunks(2) {
                    let [Some(data), used] = pair else { continue };
                    let client: ClientRecord = from_json(data)?;
                    list.push(ClientSummary {
                        last_used: used.as_deref().and_then(|u| u.parse().ok()),
                        grants: grants.get(client.client_id.as_str()).copied().unwrap_or(0),
                        client,
                    });
                }
            }
            list.sort_by(|a, b| super::client_order(&a.client, &b.client));
            Ok(list)
        })
    }

    fn list_grants<'a>(
        &'a self,
        filter: &'a GrantFilter,
        now: u64,
    ) -> StoreFuture<'a, Vec<GrantSummary>> {
        Box::pin(self.select_grants(filter, now))
    }

    fn revoke_grants<'a>(&'a self, filter: &'a GrantFilter, now: u64) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let grants = self.select_grants(filter, now).await?;
            self.revoke_selected(&grants).await
        })
    }

    fn remove_client<'a>(&'a self, client_id: &'a str, now: u64) -> StoreFuture<'a, ClientRemoval> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("DEL").arg(key("client", client_id));
            pipe.cmd("ZREM").arg(CLIENTS).arg(client_id).ignore();
            pipe.cmd("ZREM").arg(UNUSED_CLIENTS).arg(client_id).ignore();
            pipe.cmd("HDEL").arg(CLIENT_USED).arg(client_id).ignore();
            let mut c = self.conn();
            let (deleted,): (u64,) = pipe.query_async(&mut c).await.map_err(err)?;
            let filter = GrantFilter {
                client_id: Some(client_id.to_owned()),
                subject: None,
            };
            let grants = self.select_grants(&filter, now).await?;
            let grants = self.revoke_selected(&grants).await?;
            Ok(ClientRemoval {
                found: deleted > 0,
                grants,
            })
        })
    }
}
