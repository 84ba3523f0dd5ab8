//! The server's TLS certificate: read from PEM files (the certificate chain, and
//! a PKCS#8, RSA or SEC1 private key), checked to belong together, and re-read on
//! demand (`roster serve` does it on SIGHUP) without a restart.
//!
//! rustls asks [`ServerCertificate`] for the certificate at every handshake, so a
//! reload takes effect for the next connection; connections already open keep the
//! certificate they were made with. A reload that fails leaves the current
//! certificate in place: a half-written or mistaken file never takes the server off
//! the air.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// What went wrong with the certificate or key files; each says which file and
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read at all.
    #[error("cannot read the TLS {what} file {}: {source}", path.display())]
    Unreadable { what: &'static str, path: PathBuf, source: std::io::Error },
    /// A file is not valid PEM.
    #[error("the TLS {what} file {} is not valid PEM: {source}", path.display())]
    NotPem { what: &'static str, path: PathBuf, source: pem::Error },
    /// The certificate file holds no certificate.
    #[error(
        "the TLS certificate file {} holds no certificate: give the server's certificate (then its chain) \
         as PEM `BEGIN CERTIFICATE` blocks",
        path.display()
    )]
    NoCertificate { path: PathBuf },
    /// The key file holds no private key.
    #[error(
        "the TLS key file {} holds no private key: give it as PEM (`BEGIN PRIVATE KEY`, \
         `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY`)",
        path.display()
    )]
    NoKey { path: PathBuf },
    /// The key is not the certificate's, or rustls cannot sign with it.
    #[error("the TLS key in {} does not fit the certificate in {}: {source}", key.display(), cert.display())]
    KeyDoesNotFit { cert: PathBuf, key: PathBuf, source: rustls::Error },
}

/// Where the server's certificate chain and private key are (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate, then the intermediates of its chain.
    pub cert: PathBuf,
    /// The private key of the certificate.
    pub key: PathBuf,
}

/// The certificate the server presents, swapped whole on [`ServerCertificate::reload`].
pub struct ServerCertificate {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ServerCertificate {
    // The key stays out of logs: only where it comes from is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate").field("files", &self.files).finish_non_exhaustive()
    }
}

impl ServerCertificate {
    /// Reads the certificate and key; an error says which file is wrong and how.
    pub fn load(files: TlsFiles) -> Result<Arc<ServerCertificate>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = RwLock::new(Arc::new(read_certified_key(&files, &provider)?));
        Ok(Arc::new(ServerCertificate { files, provider, current }))
    }

    /// Reads the files again. On success new handshakes present the new
    /// certificate; on error the current one stays and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(read_certified_key(&self.files, &self.provider)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The files the certificate is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The rustls configuration of a server presenting this certificate (TLS 1.2
    /// and 1.3, HTTP/1.1, no client certificates).
    pub(crate) fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("rustls's own ring provider supports its default protocol versions");
        let mut config = builder.with_no_client_auth().with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(PoisonError::into_inner).clone())
    }
}

fn read_certified_key(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::KeyDoesNotFit {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = read("certificate", path)?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::NotPem { what: "certificate", path: path.to_path_buf(), source })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_path_buf() });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey { path: path.to_path_buf() },
        source => TlsError::NotPem { what: "key", path: path.to_path_buf(), source },
    })
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable { what, path: path.to_path_buf(), source })
}
