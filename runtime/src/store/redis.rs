//! The Redis store: for several replicas. Codes and tokens expire with their records; clients
//! that may expire are listed in a sorted set by expiry, which [`Store::purge_expired`] works
//! through (so a grant can take a client off it, and a purge decides by its `now`). Single-use
//! decisions are `SET NX` (codes) and a Lua script (refresh rotation), so they are
//! atomic across replicas. Needs one Redis primary (no Cluster: the scripts touch keys they
//! compute).

use redis::aio::ConnectionManager;

use super::{
    ClientRecord, CodeRecord, MAX_SIBLINGS, NewToken, Redemption, Reuse, RotateRequest, Rotation,
    Store, StoreError, StoreFuture, StoredToken, TokenRecord, TokenState, UserRecord,
};

const PREFIX: &str = "mcpgen:";

/// Reads a token, its state and its family's revocation in one atomic step.
const GET_TOKEN: &str = r#"
local f = redis.call('HMGET', KEYS[1], 'data', 'rotated_at', 'successor', 'revoked', 'family', 'superseded')
if not f[1] then return false end
local fam = redis.call('EXISTS', ARGV[1] .. 'revoked_family:' .. (f[5] or ''))
return {f[1], f[2] or '', f[3] or '', f[4] or '0', tostring(fam), f[6] or '0'}
"#;

/// The rotation decision and its writes (see the [`Store`] contract), in one script so no
/// other replica sees a half state. A token is a hash (`data`, `kind`, `family`,
/// `expires_at`, `revoked`, and once it applies `rotated_at`, `successor`, `parent`,
/// `superseded`); `children:<hash>` is the set of a refresh token's children not yet
/// superseded, deleted when one of them is used.
/// KEYS[1] old token. ARGV: prefix, now, grace, keep_until, old hash, the most children a
/// token may have, then per new token: hash, data, kind, family, expires_at.
const ROTATE: &str = r#"
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
local i = 7
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
return 'rotated'
"#;

/// The sorted set of clients that expire unless granted (member: client id, score: expiry).
const UNUSED_CLIENTS: &str = "mcpgen:clients_unused";

/// Stores client KEYS[1] (data ARGV[1]) as unused until ARGV[2] in KEYS[2] (member ARGV[5]),
/// unless KEYS[2] already holds ARGV[4] clients expiring after ARGV[3]; returns 1 if stored.
const PUT_UNUSED_CLIENT: &str = r#"
if redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[3], '+inf') >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
return 1
"#;

/// Deletes up to ARGV[3] clients from KEYS[1] that expired by ARGV[1]; returns how many.
const PURGE_CLIENTS: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[2] .. 'client:' .. id)
  redis.call('ZREM', KEYS[1], id)
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
/// lives as long as its longest-lived family. Grants written before this index existed are
/// not in it.
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
                .arg(2)
                .arg(key("client", &client.client_id))
                .arg(UNUSED_CLIENTS)
                .arg(to_json(client)?)
                .arg(expires_at)
                .arg(now)
                .arg(max_unused)
                .arg(&client.client_id)
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
        // Codes and tokens carry their own expiry; only unused clients need deleting.
        Box::pin(async move {
            let mut c = self.conn();
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
}
