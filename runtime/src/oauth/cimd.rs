//! Client ID metadata documents (MCP 2025-11-25 and later): an https `client_id` names a JSON
//! document describing the client, fetched with a timeout and a size cap, never from private
//! addresses (unless the server itself is loopback), validated, and cached.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use serde_json::Value;
use tokio_rustls::rustls;
use url::Url;

use super::error::OAuthError;
use super::redirect::RedirectPolicy;
use super::register::forbidden_char;
use super::{Inner, now};
use crate::store::ClientRecord;

/// Largest document accepted; real ones are a few hundred bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Time allowed for one fetch, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched document is used before it is fetched again; a stale one is still
/// used when the refetch fails (claude.ai's metadata endpoint has had outages).
pub const CACHE_TTL: Duration = Duration::from_secs(3600);

/// A future returned by [`MetadataFetcher::fetch`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send + 'a>>;

/// Fetches a metadata document. Implementations must not follow redirects, must honour
/// [`FETCH_TIMEOUT`] and [`MAX_DOCUMENT_BYTES`], and, unless `allow_private`, must refuse
/// to connect to an address that is not public (see [`is_public_ip`]) after resolving the
/// host, so DNS cannot smuggle a private target past the URL check.
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

/// The default fetcher: HTTP/1.1 over TLS (rustls, the Mozilla roots), one request, no
/// redirects, the address checked after resolution and before connecting.
pub struct HttpsFetcher {
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for HttpsFetcher {
    fn default() -> Self {
        Self::with_roots(Self::mozilla_roots())
    }
}

impl HttpsFetcher {
    fn mozilla_roots() -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots
    }

    fn with_roots(roots: rustls::RootCertStore) -> Self {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .ok()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()));
        Self { tls }
    }

    /// Tests only: the default fetcher that also trusts `root_der` (a DER certificate) as a
    /// root, so a test can serve metadata documents from a local TLS server. Nothing in a
    /// generated server's configuration reaches this; deployments use [`Default`].
    #[doc(hidden)]
    pub fn with_test_root(root_der: &[u8]) -> Result<Self, String> {
        let mut roots = Self::mozilla_roots();
        roots
            .add(rustls::pki_types::CertificateDer::from(root_der.to_vec()))
            .map_err(|e| format!("invalid test root certificate: {e}"))?;
        Ok(Self::with_roots(roots))
    }

    async fn get(&self, url: &Url, allow_private: bool) -> Result<Vec<u8>, String> {
        let tls = self.tls.clone().ok_or("tls is unavailable")?;
        let port = url.port_or_known_default().unwrap_or(443);
        let (name, addrs): (String, Vec<std::net::SocketAddr>) = match url.host() {
            Some(url::Host::Domain(d)) => (
                d.to_owned(),
                tokio::net::lookup_host((d, port))
                    .await
                    .map_err(|_| "cannot resolve the client_id host".to_owned())?
                    .collect(),
            ),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![(ip, port).into()]),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![(ip, port).into()]),
            None => return Err("client_id url has no host".into()),
        };
        // Checked after resolution: a public name resolving to 10.0.0.1 is refused too.
        let addr = addrs
            .into_iter()
            .find(|a| allow_private || is_public_ip(a.ip()))
            .ok_or("client_id host resolves only to private addresses")?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|_| "cannot connect to the client_id host".to_owned())?;
        let server_name = rustls::pki_types::ServerName::try_from(name)
            .map_err(|_| "invalid client_id host name".to_owned())?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(server_name, tcp)
            .await
            .map_err(|e| format!("tls handshake with the client_id host failed: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .map_err(|_| "http handshake with the client_id host failed".to_owned())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_owned(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let req = http::Request::get(path)
            .header(http::header::HOST, host)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "mcpgen-runtime")
            .body(Empty::<Bytes>::new())
            .map_err(|_| "cannot build the metadata request".to_owned())?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|_| "the client_id host did not answer".to_owned())?;
        if res.status() != http::StatusCode::OK {
            return Err(format!(
                "the metadata document answered {} (redirects are not followed)",
                res.status().as_u16()
            ));
        }
        let body = Limited::new(res.into_body(), MAX_DOCUMENT_BYTES)
            .collect()
            .await
            .map_err(|_| "metadata document is too large or broken".to_owned())?;
        Ok(body.to_bytes().to_vec())
    }
}

impl MetadataFetcher for HttpsFetcher {
    fn fetch<'a>(&'a self, url: &'a Url, allow_private: bool) -> FetchFuture<'a> {
        Box::pin(self.get(url, allow_private))
    }
}

pub(crate) fn default_fetcher() -> Arc<dyn MetadataFetcher> {
    Arc::new(HttpsFetcher::default())
}

pub(crate) struct Resolver {
    fetcher: Arc<dyn MetadataFetcher>,
    allow_private: bool,
    cache: Mutex<HashMap<String, (ClientRecord, u64)>>,
}

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
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, id: &str) -> Option<(ClientRecord, u64)> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    async fn resolve(&self, id: &str, redirects: &RedirectPolicy) -> Result<ClientRecord, String> {
        let url = check_url(id, self.allow_private)?;
        let cached = self.cached(id);
        if let Some((record, fetched_at)) = &cached
            && now() < fetched_at.saturating_add(CACHE_TTL.as_secs())
        {
            return Ok(record.clone());
        }
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
        match (fetched, cached) {
            (Ok(record), _) => {
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                // Bounded: an attacker can make us fetch many URLs, not grow memory forever.
                if cache.len() >= 1024 {
                    cache.clear();
                }
                cache.insert(id.to_owned(), (record.clone(), now()));
                Ok(record)
            }
            (Err(e), Some((stale, _))) => {
                tracing::warn!(target: "mcpgen::oauth", client_id = ?id, error = ?e, "using a stale client metadata document");
                Ok(stale)
            }
            (Err(e), None) => Err(e),
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
                    tracing::info!(target: "mcpgen::oauth", decision = "client_document_refused", client_id = ?id, reason = ?why);
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
