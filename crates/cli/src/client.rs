//! The CLI's HTTP client of the admin API: base URL, token, the CAs it trusts,
//! and errors turned into one readable line.
//!
//! Over https the server's certificate is checked against the built-in web PKI
//! roots, plus the CA certificates of `--ca-cert` (a private CA, or the server's
//! own self-signed certificate).

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Method, StatusCode};
use roster_store::secrets::{ExposeSecret, SecretString};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A client of one roster server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

/// Where the CLI finds its token: `ROSTER_TOKEN`, else the data directory's
/// `admin.token` (written by `roster serve` on first start).
pub fn find_token(explicit: Option<String>, data_dir: &std::path::Path) -> Result<SecretString> {
    if let Some(t) = explicit.filter(|t| !t.is_empty()) {
        return Ok(t.into());
    }
    let path: PathBuf = data_dir.join("admin.token");
    let token = std::fs::read_to_string(&path).with_context(|| {
        format!("no API token: set ROSTER_TOKEN, or run `roster serve` once so that it writes {}", path.display())
    })?;
    Ok(SecretString::from(token.trim()))
}

impl Client {
    /// A client of `base` (e.g. `http://127.0.0.1:8080`), trusting the CA
    /// certificates in the PEM file `ca_cert` besides the built-in roots.
    pub fn new(base: &str, token: impl Into<SecretString>, ca_cert: Option<&Path>) -> Result<Client> {
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(600));
        if let Some(path) = ca_cert {
            for ca in read_ca_certificates(path)? {
                builder = builder.add_root_certificate(ca);
            }
        }
        Ok(Client { http: builder.build()?, base: base.trim_end_matches('/').to_string(), token: token.into() })
    }

    /// Why the server cannot be reached, with the causes reqwest's own message
    /// leaves out, and what to do when the server's certificate is refused.
    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        let e = anyhow::Error::from(e);
        let refused = e.chain().find_map(|cause| match rustls_error(cause) {
            Some(rustls::Error::InvalidCertificate(reason)) => Some(reason),
            _ => None,
        });
        match refused.and_then(certificate_advice) {
            Some(advice) => anyhow!("cannot reach the roster server at {}: {e:#}; {advice}", self.base),
            None => anyhow!("cannot reach the roster server at {}: {e:#}", self.base),
        }
    }

    /// Sends a request to `/api/v1{path}` and returns the JSON answer (`null` for 204).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        self.call_within(method, path, body.map(Body::Json), None).await
    }

    /// POSTs a file as it is (`content_type`: `text/csv`, `application/scim+json`)
    /// and returns the JSON answer; no time limit but `limit`.
    pub async fn post_file(
        &self,
        path: &str,
        content_type: &'static str,
        bytes: Vec<u8>,
        limit: std::time::Duration,
    ) -> Result<Value> {
        self.call_within(Method::POST, path, Some(Body::Raw(content_type, bytes)), Some(limit)).await
    }

    /// POSTs a request whose answer comes when long work is done (a cycle run
    /// with `?wait=true`): no time limit but `limit`.
    pub async fn post_long(&self, path: &str, body: &Value, limit: std::time::Duration) -> Result<Value> {
        self.call_within(Method::POST, path, Some(Body::Json(body)), Some(limit)).await
    }

    async fn call_within(
        &self,
        method: Method,
        path: &str,
        body: Option<Body<'_>>,
        limit: Option<std::time::Duration>,
    ) -> Result<Value> {
        let url = format!("{}/api/v1{}", self.base, path);
        let mut req = self.http.request(method, &url).bearer_auth(self.token.expose_secret());
        match body {
            Some(Body::Json(b)) => req = req.json(b),
            Some(Body::Raw(content_type, bytes)) => {
                req = req.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes);
            }
            None => {}
        }
        if let Some(limit) = limit {
            req = req.timeout(limit);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let text = resp.text().await?;
        if status == StatusCode::NO_CONTENT || text.is_empty() {
            if status.is_success() {
                return Ok(Value::Null);
            }
            bail!("the server answered {status}");
        }
        let v: Value = serde_json::from_str(&text).map_err(|_| anyhow!("the server answered {status}: {text}"))?;
        if !status.is_success() {
            let msg = v["error"]["message"].as_str().unwrap_or(&text);
            bail!("{msg} ({})", status.as_u16());
        }
        Ok(v)
    }

    /// GETs a text answer (CSV).
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let url = format!("{}/api/v1{}", self.base, path);
        let resp = self
            .http
            .get(&url)
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("the server answered {status}: {text}");
        }
        Ok(text)
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    /// GETs an answer as the type the API documents for it (the engine's
    /// `ProvisioningStatus`, ...).
    pub async fn get_as<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        read(self.get(path).await?)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.call(Method::DELETE, path, None).await
    }
}

/// The certificates of a PEM file given with `--ca-cert`.
fn read_ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read the CA certificate file {} (--ca-cert)", path.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("the CA certificate file {} (--ca-cert) is not valid PEM", path.display()))?;
    if certificates.is_empty() {
        bail!(
            "the CA certificate file {} (--ca-cert) holds no certificate: give the CA's certificate as a PEM \
             `BEGIN CERTIFICATE` block",
            path.display()
        );
    }
    Ok(certificates)
}

/// What to do about a server certificate refused for `reason`, when the
/// reason alone does not say.
fn certificate_advice(reason: &rustls::CertificateError) -> Option<&'static str> {
    use rustls::CertificateError::*;
    match reason {
        UnknownIssuer => Some(
            "the server's certificate is not signed by a CA this command trusts: if a private CA signed it, or it \
             is self-signed, give that CA's certificate (or the self-signed one) with --ca-cert FILE (or \
             ROSTER_CA_CERT)",
        ),
        NotValidForName | NotValidForNameContext { .. } => Some(
            "the server's certificate is not made out to the host in --server: use a host name or address that \
             the certificate lists",
        ),
        Expired | ExpiredContext { .. } => {
            Some("the server's certificate has expired: renew it, then send roster serve a SIGHUP to reload it")
        }
        // rustls passes this one on from webpki without a variant of its own.
        Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => Some(
            "the server's certificate is a CA certificate (basicConstraints CA:TRUE), which TLS clients refuse \
             as a server's: make the self-signed certificate with CA:FALSE (openssl req -x509 ... -addext \
             basicConstraints=critical,CA:FALSE)",
        ),
        _ => None,
    }
}

/// The rustls error `e` is, or wraps in `io::Error`s: the TLS connector wraps
/// it so (twice), and `io::Error::source()` skips the error it wraps, so the
/// error chain alone never reaches it.
fn rustls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        e = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// A request's body.
enum Body<'a> {
    Json(&'a Value),
    Raw(&'static str, Vec<u8>),
}

/// Percent-encodes one path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads an answer of the API as the type it documents for it.
pub fn read<T: serde::de::DeserializeOwned>(answer: Value) -> Result<T> {
    serde_json::from_value(answer).map_err(|e| anyhow!("the server's answer is not what this roster expects: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;

    fn check(reason: CertificateError, expected: Option<&str>) {
        let advice = certificate_advice(&reason);
        match expected {
            Some(text) => assert!(advice.is_some_and(|a| a.contains(text)), "{reason:?}: {advice:?}"),
            None => assert_eq!(advice, None, "{reason:?}"),
        }
    }

    #[test]
    fn refused_certificates_come_with_what_to_do() {
        check(CertificateError::UnknownIssuer, Some("--ca-cert FILE"));
        check(CertificateError::NotValidForName, Some("a host name or address that the certificate lists"));
        check(CertificateError::Expired, Some("renew it"));
        check(CertificateError::BadSignature, None);
    }
}
