//! The CLI's HTTP client of the admin API: base URL, token, and errors turned into
//! one readable line.

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;

/// A client of one roster server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Where the CLI finds its token: `ROSTER_TOKEN`, else the data directory's
/// `admin.token` (written by `roster serve` on first start).
pub fn find_token(explicit: Option<String>, data_dir: &std::path::Path) -> Result<String> {
    if let Some(t) = explicit.filter(|t| !t.is_empty()) {
        return Ok(t);
    }
    let path: PathBuf = data_dir.join("admin.token");
    let token = std::fs::read_to_string(&path).with_context(|| {
        format!("no API token: set ROSTER_TOKEN, or run `roster serve` once so that it writes {}", path.display())
    })?;
    Ok(token.trim().to_string())
}

impl Client {
    /// A client of `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: String) -> Result<Client> {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(600)).build()?;
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), token })
    }

    /// Sends a request to `/api/v1{path}` and returns the JSON answer (`null` for 204).
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        self.call_within(method, path, body, None).await
    }

    /// POSTs a request whose answer comes when long work is done (a cycle run
    /// with `?wait=true`): no time limit but `limit`.
    pub async fn post_long(&self, path: &str, body: &Value, limit: std::time::Duration) -> Result<Value> {
        self.call_within(Method::POST, path, Some(body), Some(limit)).await
    }

    async fn call_within(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        limit: Option<std::time::Duration>,
    ) -> Result<Value> {
        let url = format!("{}/api/v1{}", self.base, path);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(limit) = limit {
            req = req.timeout(limit);
        }
        let resp = req.send().await.map_err(|e| anyhow!("cannot reach the roster server at {}: {e}", self.base))?;
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
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach the roster server at {}: {e}", self.base))?;
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
