//! The https client that fetches client ID metadata documents (cargo feature `cimd`): rustls
//! with the Mozilla roots, HTTP/1.1, one request, no redirects.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use url::Url;

use super::{
    FetchFuture, MAX_DOCUMENT_BYTES, MAX_LOOKUPS_IN_FLIGHT, MetadataFetcher, is_public_ip,
};

/// Resolves a host and port on a blocking thread (`getaddrinfo`).
type Lookup = Arc<dyn Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync>;

/// The default fetcher: HTTP/1.1 over TLS (rustls, the Mozilla roots), one request, no
/// redirects, the address checked after resolution and before connecting, at most
/// [`MAX_LOOKUPS_IN_FLIGHT`] DNS lookups at once.
pub struct HttpsFetcher {
    tls: Option<Arc<rustls::ClientConfig>>,
    pub(super) lookup: Lookup,
    lookups: Arc<Semaphore>,
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
        Self {
            tls,
            lookup: Arc::new(|host, port| {
                std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect)
            }),
            lookups: Arc::new(Semaphore::new(MAX_LOOKUPS_IN_FLIGHT)),
        }
    }

    /// Resolves `host` on the blocking pool. The permit moves into the blocking task, so a
    /// lookup still running after its caller gave up (timeout) keeps counting.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let permit = Arc::clone(&self.lookups)
            .try_acquire_owned()
            .map_err(|_| "too many client_id host lookups in progress; retry shortly".to_owned())?;
        let (lookup, host) = (Arc::clone(&self.lookup), host.to_owned());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            lookup(&host, port)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| "cannot resolve the client_id host".to_owned())
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
            Some(url::Host::Domain(d)) => (d.to_owned(), self.resolve(d, port).await?),
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
