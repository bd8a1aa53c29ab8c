//! Client ID metadata documents (MCP 2025-11-25 and later): an https `client_id` names a JSON
//! document describing the client, fetched with a timeout and a size cap, never from private
//! addresses or other ports than 443 (unless the server itself is loopback), validated, and
//! cached.
//!
//! Bounded: at most [`MAX_CACHED_DOCUMENTS`] cached (least recently used evicted, unusable
//! ones first), [`MAX_FETCHES_IN_FLIGHT`] fetches and [`MAX_LOOKUPS_IN_FLIGHT`] DNS lookups
//! at once, one fetch per URL at a time, and a cached document is used at most
//! [`MAX_STALENESS`] past its [`CACHE_TTL`] while it cannot be fetched again.

use std::future::Future;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hashlink::LruCache;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::error::OAuthError;
use super::redirect::RedirectPolicy;
use super::register::forbidden_char;
use super::{Inner, now};
use crate::store::ClientRecord;

#[cfg(feature = "cimd")]
mod https;
#[cfg(feature = "cimd")]
pub use self::https::HttpsFetcher;

/// Largest document accepted; real ones are a few hundred bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Time allowed for one fetch, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched document is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(3600);
/// How long past [`CACHE_TTL`] a document is still used while fetching it again fails
/// (claude.ai's metadata endpoint has had outages): 10 minutes. Past that the client is
/// refused (`invalid_client`), so a deleted or broken document stops working at most
/// 70 minutes after it was last fetched.
pub const MAX_STALENESS: Duration = Duration::from_secs(600);
/// How long a failed fetch is remembered: until then, requests for that URL use the stale
/// copy (within [`MAX_STALENESS`]) or get the same error at once, without fetching again.
pub const FAILED_FETCH_TTL: Duration = Duration::from_secs(30);
/// Most documents (and remembered failures) cached. When full, entries no longer usable go
/// first, then the least recently used one: a flood of new URLs cannot flush a busy client.
pub const MAX_CACHED_DOCUMENTS: usize = 1024;
/// Most document fetches in flight at once, across all URLs; past it a request without a
/// usable cached copy is refused at once (`invalid_client`, "retry shortly").
pub const MAX_FETCHES_IN_FLIGHT: usize = 8;
/// Most DNS lookups of document hosts in flight at once. A lookup runs on tokio's blocking
/// pool (shared with the consent-password checks) and cannot be cancelled, so it counts
/// until it really ends, even after its fetch timed out: slow DNS can hold at most this many
/// blocking threads. Past it, a fetch fails at once.
pub const MAX_LOOKUPS_IN_FLIGHT: usize = 4;

/// A future returned by [`MetadataFetcher::fetch`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>>;

/// Fetches a metadata document. Implementations must not follow redirects, must honour
/// [`FETCH_TIMEOUT`] and [`MAX_DOCUMENT_BYTES`], and, unless `allow_private`, must refuse
/// to connect to an address that is not public (see [`is_public_ip`]) after resolving the
/// host, so DNS cannot smuggle a private target past the URL check. The caller has already
/// checked the URL (https, port 443 unless `allow_private`).
pub trait MetadataFetcher: Send + Sync + 'static {
    fn fetch<'a>(&'a self, url: &'a Url, allow_private: bool) -> FetchFuture<'a>;
}

/// Whether an address may be fetched from: not loopback, private, link-local, CGNAT,
/// unspecified, multicast, documentation or unique-local.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let o = v6.octets();
            let v4 = |at: usize| IpAddr::from([o[at], o[at + 1], o[at + 2], o[at + 3]]);
            // NAT64 (RFC 6052 `64:ff9b::/96`) reaches the IPv4 address in the last 32 bits:
            // on an IPv6-only host with DNS64, `64:ff9b::a9fe:a9fe` is the metadata service.
            // IPv4-translated (RFC 2765 `::ffff:0:0/96`) likewise.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0, 0, 0, 0, 0xffff, 0] {
                return is_public_ip(v4(12));
            }
            // 6to4 (RFC 3056 `2002::/16`) embeds its IPv4 address in bits 16 to 48.
            if s[0] == 0x2002 {
                return is_public_ip(v4(2));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // IPv4-compatible (`::a.b.c.d`, deprecated by RFC 4291 §2.5.5.1).
                || s[..6] == [0; 6]
                // Local-use NAT64 (RFC 8215 `64:ff9b:1::/48`): any IPv4 address behind it.
                || s[..3] == [0x64, 0xff9b, 1]
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // Site-local (deprecated by RFC 3879, still routed by some stacks).
                || (s[0] & 0xffc0) == 0xfec0
                || s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// The default fetcher: over https, with the Mozilla roots (the cargo feature `cimd`).
pub(crate) fn default_fetcher() -> Arc<dyn MetadataFetcher> {
    #[cfg(feature = "cimd")]
    return Arc::new(HttpsFetcher::default());
    // Unreachable in practice: `OAuth::new` refuses client ID metadata documents first.
    #[cfg(not(feature = "cimd"))]
    return Arc::new(NoFetcher);
}

/// A build without the cargo feature `cimd` has no https client: every fetch fails.
#[cfg(not(feature = "cimd"))]
struct NoFetcher;

#[cfg(not(feature = "cimd"))]
impl MetadataFetcher for NoFetcher {
    fn fetch<'a>(&'a self, _url: &'a Url, _allow_private: bool) -> FetchFuture<'a> {
        Box::pin(async { Err("this build has no https client (cargo feature cimd)".to_owned()) })
    }
}

pub(crate) struct Resolver {
    fetcher: Arc<dyn MetadataFetcher>,
    allow_private: bool,
    cache: Mutex<LruCache<String, Entry>>,
    fetches: Arc<Semaphore>,
}

/// What is known about one document URL.
struct Entry {
    /// The last document fetched and validated, and when.
    document: Option<(ClientRecord, Instant)>,
    /// The last failed fetch since then: why, and when.
    failure: Option<(String, Instant)>,
    /// Held while the URL is fetched: one fetch per URL at a time.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl Entry {
    fn new() -> Self {
        Self {
            document: None,
            failure: None,
            fetching: Arc::default(),
        }
    }

    fn fresh(&self, now: Instant) -> Option<&ClientRecord> {
        self.document
            .as_ref()
            .filter(|(_, at)| now < *at + CACHE_TTL)
            .map(|(c, _)| c)
    }

    /// The document if it is at most [`MAX_STALENESS`] past its expiry.
    fn usable(&self, now: Instant) -> Option<&ClientRecord> {
        self.document
            .as_ref()
            .filter(|(_, at)| now < *at + CACHE_TTL + MAX_STALENESS)
            .map(|(c, _)| c)
    }

    fn recent_failure(&self, now: Instant) -> Option<&str> {
        self.failure
            .as_ref()
            .filter(|(_, at)| now < *at + FAILED_FETCH_TTL)
            .map(|(why, _)| why.as_str())
    }

    /// Nothing worth keeping: no usable document, no failure to remember, no fetch running.
    fn unusable(&self, now: Instant) -> bool {
        self.usable(now).is_none()
            && self.recent_failure(now).is_none()
            && Arc::strong_count(&self.fetching) == 1
    }

    /// The stale document, or why there is none.
    fn stale_or(&self, now: Instant, why: &str) -> Result<ClientRecord, String> {
        match (self.usable(now), &self.document) {
            (Some(c), _) => Ok(c.clone()),
            (None, Some(_)) => Err(format!(
                "the cached metadata document expired over {} minutes ago and cannot be fetched again: {why}",
                MAX_STALENESS.as_secs() / 60
            )),
            (None, None) => Err(why.to_owned()),
        }
    }
}

/// What the cache says about a URL: an answer, or fetch it holding this lock.
type Cached = ControlFlow<Result<ClientRecord, String>, Arc<tokio::sync::Mutex<()>>>;

/// Whether a `client_id` is a metadata document URL: https with a host and a path.
pub(crate) fn is_document_url(id: &str) -> bool {
    id.starts_with("https://")
}

fn check_url(id: &str, allow_private: bool) -> Result<Url, String> {
    let u = Url::parse(id).map_err(|_| "client_id is not a valid url".to_owned())?;
    if u.scheme() != "https" {
        return Err("client_id url must be https".into());
    }
    if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err("client_id url must not carry a fragment or credentials".into());
    }
    if u.path() == "/" || u.path().is_empty() {
        return Err("client_id url must have a path".into());
    }
    // The spec requires the id to be in normal form: the document's client_id is compared
    // byte for byte with it, so a dot segment would also make that comparison meaningless.
    if u.as_str() != id {
        return Err("client_id url is not in normal form".into());
    }
    match u.host() {
        None => return Err("client_id url has no host".into()),
        Some(url::Host::Ipv4(ip)) if !allow_private && !is_public_ip(IpAddr::V4(ip)) => {
            return Err("client_id url points at a private address".into());
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !is_public_ip(IpAddr::V6(ip)) => {
            return Err("client_id url points at a private address".into());
        }
        Some(url::Host::Domain(d)) if !allow_private && mcpgen_rules::is_loopback_host(d) => {
            return Err("client_id url points at a private address".into());
        }
        _ => {}
    }
    // 443 only: a document URL must not reach other services of a public host.
    if !allow_private && u.port().is_some() {
        return Err("client_id url must use the default https port (443)".into());
    }
    Ok(u)
}

fn parse_document(
    id: &str,
    body: &[u8],
    redirects: &RedirectPolicy,
) -> Result<ClientRecord, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| "metadata document is not json".to_owned())?;
    if doc.get("client_id").and_then(Value::as_str) != Some(id) {
        return Err("metadata document client_id differs from its url".into());
    }
    let redirect_uris: Vec<String> = doc
        .get("redirect_uris")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err("metadata document has no redirect_uris".into());
    }
    for uri in &redirect_uris {
        redirects
            .check(uri)
            .map_err(|why| format!("metadata document redirect_uri {uri:?} refused: {why}"))?;
    }
    match doc
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
    {
        None | Some("none") => {}
        Some(_) => {
            return Err(
                "metadata document clients must use token_endpoint_auth_method none".into(),
            );
        }
    }
    let mut grant_types: Vec<String> = doc
        .get("grant_types")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|g| matches!(*g, "authorization_code" | "refresh_token"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !grant_types.iter().any(|g| g == "authorization_code") {
        grant_types.insert(0, "authorization_code".into());
    }
    // By the rule of registration: a name that could drive a terminal or reorder the consent
    // page around it refuses the document.
    let client_name = doc
        .get("client_name")
        .and_then(Value::as_str)
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .filter(|n| !n.is_empty());
    if let Some(c) = client_name.as_deref().and_then(forbidden_char) {
        return Err(format!(
            "metadata document client_name holds the character U+{:04X}; it must not hold control or bidirectional characters",
            c as u32
        ));
    }
    Ok(ClientRecord {
        client_id: id.to_owned(),
        secret_hash: None,
        token_endpoint_auth_method: "none".into(),
        redirect_uris,
        grant_types,
        client_name,
        client_id_issued_at: now(),
        metadata: Default::default(),
    })
}

impl Resolver {
    pub fn new(fetcher: Arc<dyn MetadataFetcher>, allow_private: bool) -> Self {
        Self {
            fetcher,
            allow_private,
            cache: Mutex::new(LruCache::new(MAX_CACHED_DOCUMENTS)),
            fetches: Arc::new(Semaphore::new(MAX_FETCHES_IN_FLIGHT)),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<String, Entry>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `id` (marked most recently used), created when missing. When the cache
    /// is full, entries no longer usable go first, then the least recently used.
    fn entry<'c>(cache: &'c mut LruCache<String, Entry>, id: &str) -> &'c mut Entry {
        if !cache.contains_key(id) {
            if cache.len() >= cache.capacity() {
                let now = Instant::now();
                cache.retain(|_, e| !e.unusable(now));
            }
            // Evicts the least recently used entry when still full.
            cache.insert(id.to_owned(), Entry::new());
        }
        cache.get_mut(id).expect("inserted above")
    }

    /// Answers from the cache when it can. `waited`: the caller waited for another request's
    /// fetch, so it does not fetch again.
    fn cached(&self, id: &str, waited: bool) -> Cached {
        let mut cache = self.cache();
        let entry = Self::entry(&mut cache, id);
        let now = Instant::now();
        if let Some(c) = entry.fresh(now) {
            return ControlFlow::Break(Ok(c.clone()));
        }
        if let Some(why) = entry.recent_failure(now) {
            return ControlFlow::Break(entry.stale_or(now, why));
        }
        if waited {
            // The fetch waited for ended without an answer (cancelled, or over the cap).
            return ControlFlow::Break(
                entry.stale_or(now, "metadata document could not be fetched; retry shortly"),
            );
        }
        ControlFlow::Continue(Arc::clone(&entry.fetching))
    }

    fn stale_or(&self, id: &str, why: &str) -> Result<ClientRecord, String> {
        let mut cache = self.cache();
        Self::entry(&mut cache, id).stale_or(Instant::now(), why)
    }

    async fn resolve(&self, id: &str, redirects: &RedirectPolicy) -> Result<ClientRecord, String> {
        let url = check_url(id, self.allow_private)?;
        let lock = match self.cached(id, false) {
            ControlFlow::Break(answer) => return answer,
            ControlFlow::Continue(lock) => lock,
        };
        let _fetching = match Arc::clone(&lock).try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                // Another request is fetching this URL: use the stale copy, or wait for that
                // fetch (it ends within its timeout) and take its outcome.
                if let Ok(stale) = self.stale_or(id, "") {
                    return Ok(stale);
                }
                let _ = tokio::time::timeout(FETCH_TIMEOUT, lock.lock_owned()).await;
                return match self.cached(id, true) {
                    ControlFlow::Break(answer) => answer,
                    ControlFlow::Continue(_) => Err("metadata document fetch timed out".into()),
                };
            }
        };
        // A fetch that ended between the look and the lock answered already.
        if let ControlFlow::Break(answer) = self.cached(id, false) {
            return answer;
        }
        let Ok(_permit) = Arc::clone(&self.fetches).try_acquire_owned() else {
            return self.stale_or(
                id,
                "too many metadata documents are being fetched; retry shortly",
            );
        };
        let fetched =
            tokio::time::timeout(FETCH_TIMEOUT, self.fetcher.fetch(&url, self.allow_private))
                .await
                .unwrap_or_else(|_| Err("metadata document fetch timed out".into()))
                .and_then(|body| {
                    if body.len() > MAX_DOCUMENT_BYTES {
                        Err("metadata document is too large".into())
                    } else {
                        parse_document(id, &body, redirects)
                    }
                });
        let mut cache = self.cache();
        let entry = Self::entry(&mut cache, id);
        let now = Instant::now();
        match fetched {
            Ok(record) => {
                entry.document = Some((record.clone(), now));
                entry.failure = None;
                Ok(record)
            }
            Err(e) => {
                let answer = entry.stale_or(now, &e);
                if answer.is_ok() {
                    tracing::warn!(target: "mcpgen::oauth", client_id = ?id, error = ?e, "using a stale client metadata document");
                }
                entry.failure = Some((e, now));
                answer
            }
        }
    }
}

impl Inner {
    /// Finds a client: a registered one, or (when enabled) the one a metadata document URL
    /// names. `Ok(None)` means unknown (answered 401 `invalid_client`).
    pub(crate) async fn find_client(&self, id: &str) -> Result<Option<ClientRecord>, OAuthError> {
        if let Some(resolver) = &self.cimd
            && is_document_url(id)
        {
            return match resolver.resolve(id, &self.redirects).await {
                Ok(c) => Ok(Some(c)),
                Err(why) => {
                    tracing::info!(target: "mcpgen::oauth", decision = "client_document_refused", client_id = ?super::clip(id), reason = ?super::clip(&why));
                    Err(OAuthError::invalid_client(why))
                }
            };
        }
        self.store.get_client(id).await.map_err(|e| {
            tracing::error!(target: "mcpgen::oauth", error = ?e, "store failure reading a client");
            OAuthError::server_error()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    /// Lookups that time out keep their place until `getaddrinfo` really returns, so a
    /// slow-DNS host holds at most `MAX_LOOKUPS_IN_FLIGHT` blocking threads; one more lookup
    /// fails at once instead of taking another thread.
    /// Lets the blocked lookups return when dropped, also when an assertion failed (the
    /// runtime waits for its blocking threads before the test ends).
    struct Release(Arc<(Mutex<bool>, Condvar)>);

    impl Drop for Release {
        fn drop(&mut self) {
            *self.0.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
            self.0.1.notify_all();
        }
    }

    /// Lookups that time out keep their place until `getaddrinfo` really returns, so a
    /// slow-DNS host holds at most `MAX_LOOKUPS_IN_FLIGHT` blocking threads; one more lookup
    /// fails at once instead of taking another thread.
    #[cfg(feature = "cimd")]
    #[tokio::test]
    async fn slow_dns_holds_at_most_the_lookup_cap_of_blocking_threads() {
        let started = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let _release = Release(Arc::clone(&gate));
        let mut f = HttpsFetcher::default();
        let (s, g) = (Arc::clone(&started), Arc::clone(&gate));
        f.lookup = Arc::new(move |_, _| {
            s.fetch_add(1, Ordering::SeqCst);
            let (open, cv) = &*g;
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            while !*open {
                open = cv.wait(open).unwrap_or_else(|e| e.into_inner());
            }
            Err(std::io::ErrorKind::TimedOut.into())
        });
        for i in 0..MAX_LOOKUPS_IN_FLIGHT {
            let url = Url::parse(&format!("https://slow{i}.example/meta")).unwrap();
            // The caller gives up; the lookup goes on.
            let gave_up = tokio::time::timeout(Duration::from_millis(20), f.fetch(&url, false));
            assert!(gave_up.await.is_err(), "lookup {i} answered");
        }
        let url = Url::parse("https://slow.example/meta").unwrap();
        // Bounded so that a lookup taking a thread shows as a failure, not a hang.
        let e = tokio::time::timeout(Duration::from_secs(10), f.fetch(&url, false))
            .await
            .expect("a lookup past the cap fails at once")
            .unwrap_err();
        assert!(e.contains("too many client_id host lookups"), "{e}");
        assert_eq!(started.load(Ordering::SeqCst), MAX_LOOKUPS_IN_FLIGHT);
    }
}
