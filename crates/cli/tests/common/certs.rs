//! Certificates made at test time: a CA per test that signs server
//! certificates for 127.0.0.1, the files `roster serve --tls-cert --tls-key`
//! reads, and HTTP clients that trust one CA and nothing else.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A certificate authority of a test.
pub struct TestCa {
    /// Its certificate, PEM.
    pub pem: String,
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("a CA certificate");
        TestCa { pem: cert.pem(), cert, key }
    }

    /// The CA's own private key, PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A new server certificate for 127.0.0.1 and localhost, and its key (both PEM).
    pub fn issue(&self) -> (String, String) {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
        let key = rcgen::KeyPair::generate().expect("a server key");
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("a server certificate");
        (cert.pem(), key.serialize_pem())
    }

    /// A client that trusts this CA only, and opens a new connection for every
    /// request (so each one sees the certificate the server presents now).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("the CA's PEM"))
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client")
    }
}

/// A scratch directory with `ca.pem`, `cert.pem` and `key.pem`; removed when dropped.
pub struct TlsFiles {
    pub dir: PathBuf,
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TlsFiles {
    /// The files of a new server certificate `ca` issues.
    pub fn issued_by(ca: &TestCa) -> TlsFiles {
        let dir = std::env::temp_dir().join(format!("roster-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let files = TlsFiles { dir };
        files.install(ca);
        files
    }

    /// Replaces the files with a new certificate that `ca` issues.
    pub fn install(&self, ca: &TestCa) {
        let (cert, key) = ca.issue();
        write(&self.ca(), &ca.pem);
        write(&self.cert(), &cert);
        write(&self.key(), &key);
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
