//! HTTPS: rustls (aws-lc-rs) with TLS 1.2 and 1.3 only, certificate reload without restart,
//! handshakes off the accept loop, and the HTTP → HTTPS redirect listener.
//!
//! Why a listener of ours rather than a crate: `axum::serve` takes any [`Listener`], so TLS is
//! one accept loop over `tokio-rustls` — what a serving crate would add is its own serve loop,
//! which would replace axum's graceful shutdown and connection info.

use crate::config::{TlsConfig, TlsVersion};
use anyhow::{Context, bail};
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 512;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads and checks a certificate chain and its key (the key must match the leaf).
pub fn load_certified_key(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("tls.cert_file {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("tls.cert_file {}: not PEM certificates", cert.display()))?;
    if chain.is_empty() {
        bail!("tls.cert_file {} holds no certificate", cert.display());
    }
    let k = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("tls.key_file {}: no PEM private key", key.display()))?;
    CertifiedKey::from_der(chain, k, &provider())
        .map_err(|e| anyhow::anyhow!("tls: {} and {} do not make a usable pair: {e}", cert.display(), key.display()))
}

/// The current certificate, swapped when the files change.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    cert: PathBuf,
    key: PathBuf,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl CertStore {
    /// Loads the pair again; a broken pair is logged and the current one kept.
    pub fn reload(&self) -> anyhow::Result<()> {
        let k = load_certified_key(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(k);
        Ok(())
    }

    /// Checks the files every `every` and loads them when either changed.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut seen = (modified(&store.cert), modified(&store.key));
            loop {
                tokio::time::sleep(every).await;
                let now = (modified(&store.cert), modified(&store.key));
                if now == seen {
                    continue;
                }
                // Files are often replaced one after the other; give the second a moment.
                tokio::time::sleep(Duration::from_millis(200)).await;
                seen = (modified(&store.cert), modified(&store.key));
                match store.reload() {
                    Ok(()) => tracing::info!(cert = %store.cert.display(), "tls: certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "tls: the changed certificate cannot be used; keeping the current one")
                    }
                }
            }
        })
    }
}

/// The rustls configuration for `tls`, and its certificate store (for reloading).
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<(Arc<rustls::ServerConfig>, Arc<CertStore>)> {
    let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) else { bail!("tls.cert_file and tls.key_file") };
    let store = Arc::new(CertStore {
        current: RwLock::new(Arc::new(load_certified_key(cert, key)?)),
        cert: cert.clone(),
        key: key.clone(),
    });
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .context("tls versions")?
        .with_no_client_auth()
        .with_cert_resolver(store.clone());
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), store))
}

/// Accepts TCP connections and completes TLS handshakes concurrently (a slow client cannot hold
/// up others), handing finished connections to `axum::serve`.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (tx, rx) = tokio::sync::mpsc::channel(128);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let Ok(permit) = slots.clone().acquire_owned().await else { return };
                let (tcp, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "tls: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => {
                            let _ = tx.send((s, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(client_ip = %peer.ip(), error = %e, "tls: handshake failed"),
                        Err(_) => tracing::debug!(client_ip = %peer.ip(), "tls: handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local, task })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept loop ended (the listener is being dropped): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The client's address and, over TLS, the negotiated version (for access logs).
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub tls: Option<&'static str>,
}

fn version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "other",
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(s: IncomingStream<'_, TlsListener>) -> Self {
        Peer { addr: *s.remote_addr(), tls: s.io().get_ref().1.protocol_version().map(version_name) }
    }
}

/// Plain TCP with `TCP_NODELAY` (small writes — SSE events, WebSocket frames — go out at once,
/// not after the peer's delayed ACK).
pub struct PlainListener(pub TcpListener);

impl Listener for PlainListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = Listener::accept(&mut self.0).await;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        (tcp, addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, PlainListener>> for Peer {
    fn connect_info(s: IncomingStream<'_, PlainListener>) -> Self {
        Peer { addr: *s.remote_addr(), tls: None }
    }
}

/// The redirect listener's app: every request → `308` to the same path on the public URL.
/// The target host is the configured public URL's, never the request's `Host` header.
pub fn redirect_app(public_url: String) -> axum::Router {
    axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let base = public_url.clone();
        async move {
            let pq = uri.path_and_query().map_or("/", |p| p.as_str());
            let to = format!("{base}{pq}");
            let mut r = axum::response::Response::new(axum::body::Body::empty());
            *r.status_mut() = axum::http::StatusCode::PERMANENT_REDIRECT;
            if let Ok(v) = axum::http::HeaderValue::from_str(&to) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            r
        }
    })
}
