//! The in-process store: for tests and single-process throwaway servers (nothing survives a
//! restart).

use std::collections::HashMap;
use std::sync::Mutex;

use super::{
    ClientRecord, CodeRecord, MAX_SIBLINGS, NewToken, Redemption, Reuse, RotateRequest, Rotation,
    Store, StoreError, StoreFuture, StoredToken, TokenKind, TokenRecord, TokenState, UserRecord,
};

#[derive(Debug, Default)]
struct Inner {
    /// client id -> (record, expires at unless granted)
    clients: HashMap<String, (ClientRecord, Option<u64>)>,
    /// code hash -> (record, used)
    codes: HashMap<String, (CodeRecord, bool)>,
    tokens: HashMap<String, (TokenRecord, TokenState)>,
    /// family -> keep until
    revoked_families: HashMap<String, u64>,
    /// refresh token -> the refresh token it was exchanged from
    parents: HashMap<String, String>,
    /// refresh token -> its children not yet superseded (emptied when one is used)
    children: HashMap<String, Vec<String>>,
    /// name -> server key
    keys: HashMap<String, [u8; 32]>,
    /// user name -> user (sorted, for listing)
    users: std::collections::BTreeMap<String, UserRecord>,
}

/// Keeps everything in a map behind one mutex, which makes every operation atomic.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave a half-written entry (nothing between
        // the writes of one operation can panic), so a poisoned lock is still usable.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut guard))
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

fn family_revoked(inner: &Inner, family: &str) -> bool {
    inner.revoked_families.contains_key(family)
}

impl Store for MemoryStore {
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        ready(self.with(|i| {
            i.clients
                .insert(client.client_id.clone(), (client.clone(), expires_at));
        }))
    }

    fn put_unused_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        expires_at: u64,
        now: u64,
        max_unused: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.with(|i| {
            let unused = i
                .clients
                .values()
                .filter(|(_, e)| e.is_some_and(|e| e > now))
                .count();
            if unused as u64 >= max_unused {
                return false;
            }
            i.clients
                .insert(client.client_id.clone(), (client.clone(), Some(expires_at)));
            true
        }))
    }

    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>> {
        ready(self.with(|i| i.clients.get(client_id).map(|(c, _)| c.clone())))
    }

    fn client_granted<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, ()> {
        ready(self.with(|i| {
            if let Some((_, expires_at)) = i.clients.get_mut(client_id) {
                *expires_at = None;
            }
        }))
    }

    fn put_code<'a>(&'a self, hash: &'a str, code: &'a CodeRecord) -> StoreFuture<'a, ()> {
        ready(self.with(|i| {
            i.codes.insert(hash.to_owned(), (code.clone(), false));
        }))
    }

    fn redeem_code<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Redemption> {
        ready(self.with(|i| match i.codes.get_mut(hash) {
            None => Redemption::Unknown,
            Some((record, used)) if *used => Redemption::Replayed(record.clone()),
            Some((record, used)) => {
                *used = true;
                Redemption::Fresh(record.clone())
            }
        }))
    }

    fn put_tokens<'a>(&'a self, tokens: &'a [NewToken]) -> StoreFuture<'a, ()> {
        ready(self.with(|i| {
            for t in tokens {
                i.tokens
                    .insert(t.hash.clone(), (t.record.clone(), TokenState::Active));
            }
        }))
    }

    fn get_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, Option<StoredToken>> {
        ready(self.with(|i| {
            let (record, state) = i.tokens.get(hash)?;
            let state = if family_revoked(i, &record.family) {
                TokenState::Revoked
            } else {
                state.clone()
            };
            Some(StoredToken {
                record: record.clone(),
                state,
            })
        }))
    }

    fn rotate_refresh<'a>(&'a self, req: &'a RotateRequest) -> StoreFuture<'a, Rotation> {
        ready(self.with(|i| {
            let Some((record, state)) = i.tokens.get(&req.old_hash).cloned() else {
                return Rotation::Invalid;
            };
            if record.kind != TokenKind::Refresh
                || record.expires_at <= req.now
                || family_revoked(i, &record.family)
            {
                return Rotation::Invalid;
            }
            let reuse = match state {
                TokenState::Revoked => return Rotation::Invalid,
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
                    if i.children.get(&req.old_hash).map_or(0, Vec::len) >= MAX_SIBLINGS {
                        return Rotation::Invalid;
                    }
                    None
                }
                TokenState::Active => {
                    // First use. A child wins over its siblings, which die unused.
                    if let Some(parent) = i.parents.get(&req.old_hash).cloned() {
                        if let Some((_, TokenState::Rotated { successor, .. })) =
                            i.tokens.get_mut(&parent)
                        {
                            successor.get_or_insert_with(|| req.old_hash.clone());
                        }
                        for sibling in i.children.remove(&parent).unwrap_or_default() {
                            if let Some((_, s @ TokenState::Active)) = i.tokens.get_mut(&sibling)
                                && sibling != req.old_hash
                            {
                                *s = TokenState::Superseded;
                            }
                        }
                    }
                    let rotated = TokenState::Rotated {
                        at: req.now,
                        successor: None,
                    };
                    i.tokens
                        .insert(req.old_hash.clone(), (record.clone(), rotated));
                    None
                }
            };
            if let Some(reuse) = reuse {
                let until = i.revoked_families.entry(record.family).or_insert(0);
                *until = (*until).max(req.keep_until);
                return Rotation::Reused(reuse);
            }
            for t in &req.new_tokens {
                i.tokens
                    .insert(t.hash.clone(), (t.record.clone(), TokenState::Active));
                if t.record.kind == TokenKind::Refresh {
                    i.parents.insert(t.hash.clone(), req.old_hash.clone());
                    i.children
                        .entry(req.old_hash.clone())
                        .or_default()
                        .push(t.hash.clone());
                }
            }
            Rotation::Rotated
        }))
    }

    fn revoke_token<'a>(&'a self, hash: &'a str) -> StoreFuture<'a, ()> {
        ready(self.with(|i| {
            if let Some((_, state)) = i.tokens.get_mut(hash) {
                *state = TokenState::Revoked;
            }
        }))
    }

    fn revoke_family<'a>(&'a self, family: &'a str, keep_until: u64) -> StoreFuture<'a, ()> {
        ready(self.with(|i| {
            let until = i.revoked_families.entry(family.to_owned()).or_insert(0);
            *until = (*until).max(keep_until);
        }))
    }

    fn server_key<'a>(&'a self, name: &'a str) -> StoreFuture<'a, [u8; 32]> {
        ready(self.with(|i| {
            *i.keys.entry(name.to_owned()).or_insert_with(|| {
                let mut key = [0u8; 32];
                rand::fill(&mut key);
                key
            })
        }))
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        now: u64,
        keep_until: u64,
    ) -> StoreFuture<'a, u64> {
        ready(self.with(|i| {
            let mut families: HashMap<String, bool> = HashMap::new();
            let codes = i
                .codes
                .values()
                .map(|(c, _)| (&c.person, &c.family, c.expires_at));
            let tokens = i
                .tokens
                .values()
                .map(|(t, _)| (&t.person, &t.family, t.expires_at));
            for (person, family, expires_at) in codes.chain(tokens) {
                if person.subject == subject {
                    let live = families.entry(family.clone()).or_default();
                    *live |= expires_at > now;
                }
            }
            let mut revoked = 0;
            for (family, live) in families {
                if live && !family_revoked(i, &family) {
                    revoked += 1;
                }
                let keep = i.revoked_families.entry(family).or_insert(keep_until);
                *keep = (*keep).max(keep_until);
            }
            revoked
        }))
    }

    fn add_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool> {
        ready(self.with(|i| {
            if i.users.contains_key(&user.name) {
                return false;
            }
            i.users.insert(user.name.clone(), user.clone());
            true
        }))
    }

    fn update_user<'a>(&'a self, user: &'a UserRecord) -> StoreFuture<'a, bool> {
        ready(self.with(|i| match i.users.get_mut(&user.name) {
            Some(u) => {
                *u = user.clone();
                true
            }
            None => false,
        }))
    }

    fn get_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<UserRecord>> {
        ready(self.with(|i| i.users.get(name).cloned()))
    }

    fn list_users(&self) -> StoreFuture<'_, Vec<UserRecord>> {
        ready(self.with(|i| i.users.values().cloned().collect()))
    }

    fn remove_user<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        ready(self.with(|i| i.users.remove(name).is_some()))
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<'_, u64> {
        ready(self.with(|i| {
            let count = |i: &Inner| {
                i.codes.len() + i.tokens.len() + i.revoked_families.len() + i.clients.len()
            };
            let before = count(i);
            i.codes.retain(|_, (c, _)| c.expires_at > now);
            i.tokens.retain(|_, (t, _)| t.expires_at > now);
            i.revoked_families.retain(|_, until| *until > now);
            let tokens = &i.tokens;
            i.parents.retain(|child, _| tokens.contains_key(child));
            i.children.retain(|_, kids| {
                kids.retain(|k| tokens.contains_key(k));
                !kids.is_empty()
            });
            i.clients
                .retain(|_, (_, expires_at)| expires_at.is_none_or(|e| e > now));
            let after = count(i);
            (before - after) as u64
        }))
    }
}
