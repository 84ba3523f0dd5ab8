//! OAuth 2 for Dropbox: the authorize URL a team admin is sent to (offline
//! access, so that Dropbox hands out a refresh token), the exchange of the
//! code the admin comes back with, and [`TokenSource`], which turns the
//! stored refresh token into short-lived access tokens on demand. Only the
//! refresh token needs storing; access tokens live in memory.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::RETRY_AFTER;
use reqwest::{Client, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::classify::{chain, transport_reason};
use crate::outbound::{cut_app_text, exchange, ExchangeError};
use crate::{parse_retry_after, ConnectorError};

/// The team permissions (scopes) roster's Dropbox app needs.
pub const REQUIRED_SCOPES: [&str; 4] = ["team_info.read", "members.read", "members.write", "members.delete"];

/// What a person reads when the authorization is not a team's.
pub(crate) const NOT_A_TEAM_ADMIN: &str = "the account that authorized roster is not a Dropbox team admin, so Dropbox \
     linked roster to that person's own account instead of the team: ask a team admin to click Authorize again (if a \
     team admin did, give roster's Dropbox app team scopes in the Dropbox App Console)";

/// roster's app in the Dropbox App Console, and where Dropbox answers.
#[derive(Clone, Debug)]
pub struct DropboxApp {
    /// The app key (OAuth `client_id`).
    pub client_id: String,
    /// The app secret (never printed: its `Debug` is redacted).
    pub client_secret: SecretString,
    /// The RPC endpoint host, `https://api.dropboxapi.com` by default.
    pub api_url: String,
    /// The consent page, `https://www.dropbox.com/oauth2/authorize` by default.
    pub authorize_url: String,
    /// The token endpoint, `https://api.dropboxapi.com/oauth2/token` by default.
    pub token_url: String,
    /// The most bytes of one answer read (16 MiB by default); a longer answer
    /// fails the call.
    pub max_response_bytes: usize,
    /// Whether Dropbox's URLs may be private network addresses (see `destination`).
    pub allow_private_networks: bool,
}

impl DropboxApp {
    /// The app with Dropbox's own URLs.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<SecretString>) -> Self {
        DropboxApp {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_url: "https://api.dropboxapi.com".into(),
            authorize_url: "https://www.dropbox.com/oauth2/authorize".into(),
            token_url: "https://api.dropboxapi.com/oauth2/token".into(),
            max_response_bytes: crate::DEFAULT_MAX_RESPONSE_BYTES,
            allow_private_networks: false,
        }
    }

    /// The app with every URL under `base` (a contract fake or a proxy).
    pub fn at(client_id: impl Into<String>, client_secret: impl Into<SecretString>, base: &str) -> Self {
        let base = base.trim_end_matches('/');
        DropboxApp {
            api_url: base.to_string(),
            authorize_url: format!("{base}/oauth2/authorize"),
            token_url: format!("{base}/oauth2/token"),
            ..DropboxApp::new(client_id, client_secret)
        }
    }
}

/// What the code exchange gives: the refresh token to store (sealed), and
/// the first access token.
#[derive(Clone, Debug)]
pub struct DropboxTokens {
    /// Long-lived; the only one to store.
    pub refresh_token: SecretString,
    /// Short-lived (about four hours).
    pub access_token: SecretString,
    /// How long the access token lives.
    pub expires_in: Duration,
    /// The team roster is linked to (`dbtid:...`).
    pub team_id: String,
    /// The scopes Dropbox granted.
    pub scopes: Vec<String>,
}

/// The consent page URL for a team admin: `redirect_uri` gets the code and
/// `state` back. Asks for offline access, so that the exchange gives a
/// refresh token.
pub fn authorize_url(app: &DropboxApp, redirect_uri: &str, state: &str) -> String {
    let params = [
        ("client_id", app.client_id.as_str()),
        ("response_type", "code"),
        ("token_access_type", "offline"),
        ("redirect_uri", redirect_uri),
        ("state", state),
    ];
    match Url::parse_with_params(&app.authorize_url, params) {
        Ok(url) => url.to_string(),
        // An authorize URL that does not parse gives a URL that fails visibly
        // in the browser rather than a panic here.
        Err(_) => app.authorize_url.clone(),
    }
}

/// Exchanges the `code` Dropbox sent to `redirect_uri` for tokens. Fails
/// with `Config` when Dropbox gives no refresh token, or links roster to one
/// person's account instead of a team (the authorizer is not a team admin),
/// or grants fewer than [`REQUIRED_SCOPES`].
pub async fn exchange_code(
    app: &DropboxApp,
    code: &SecretString,
    redirect_uri: &str,
) -> Result<DropboxTokens, ConnectorError> {
    let timeout = Duration::from_secs(30);
    let client = http_client(app, timeout)?;
    let form = [("grant_type", "authorization_code"), ("code", code.expose_secret()), ("redirect_uri", redirect_uri)];
    let answer = token_request(&client, timeout, app, &form, Grant::Code).await?;
    let config = |message: String| ConnectorError::Config { message };
    let Some(refresh_token) = answer.refresh_token.filter(|t| !t.expose_secret().is_empty()) else {
        return Err(config(
            "Dropbox gave roster no refresh token: the authorization must ask for offline access \
             (token_access_type=offline); click Authorize again"
                .into(),
        ));
    };
    let Some(team_id) = answer.team_id.filter(|t| !t.is_empty()) else {
        return Err(config(NOT_A_TEAM_ADMIN.into()));
    };
    let scopes: Vec<String> = answer.scope.as_deref().unwrap_or("").split_whitespace().map(str::to_string).collect();
    if answer.scope.is_some() {
        let missing: Vec<&str> = REQUIRED_SCOPES.into_iter().filter(|s| !scopes.iter().any(|g| g == s)).collect();
        if !missing.is_empty() {
            return Err(config(format!(
                "Dropbox did not grant roster the team permissions {}: turn them on in the Permissions tab of \
                 roster's app in the Dropbox App Console, then click Authorize again",
                missing.join(", ")
            )));
        }
    }
    Ok(DropboxTokens {
        refresh_token,
        access_token: answer.access_token,
        expires_in: Duration::from_secs(answer.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS)),
        team_id,
        scopes,
    })
}

/// How long an access token lives when Dropbox does not say.
const DEFAULT_LIFETIME_SECS: u64 = 4 * 3600;

/// An HTTPS client with `timeout` for `app`'s URLs, which must be allowed
/// destinations.
pub(crate) fn http_client(app: &DropboxApp, timeout: Duration) -> Result<Client, ConnectorError> {
    for (what, url) in [("the Dropbox API URL", &app.api_url), ("the Dropbox token URL", &app.token_url)] {
        if let Ok(parsed) = Url::parse(url) {
            crate::outbound::check_destination(what, &parsed, app.allow_private_networks)?;
        }
    }
    crate::outbound::client_builder(timeout, app.allow_private_networks)
        .build()
        .map_err(|e| ConnectorError::Config { message: format!("cannot set up HTTPS: {}", chain(&e)) })
}

/// A `/oauth2/token` answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    expires_in: Option<u64>,
    refresh_token: Option<SecretString>,
    scope: Option<String>,
    team_id: Option<String>,
}

/// A `/oauth2/token` refusal.
#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
    error_description: Option<String>,
}

/// Which grant a token request is, for the explanation of a refusal.
#[derive(Clone, Copy)]
enum Grant {
    Code,
    Refresh,
}

async fn token_request(
    client: &Client,
    timeout: Duration,
    app: &DropboxApp,
    form: &[(&str, &str)],
    grant: Grant,
) -> Result<TokenAnswer, ConnectorError> {
    let request =
        client.post(&app.token_url).basic_auth(&app.client_id, Some(app.client_secret.expose_secret())).form(form);
    let answer = match exchange(request, app.max_response_bytes.max(1)).await {
        Ok(a) => a,
        Err(ExchangeError::Transport(e)) if !e.is_body() && !e.is_decode() => {
            let (tls, reason) = transport_reason(&e, timeout);
            let message = format!("cannot reach Dropbox's token endpoint {}: {reason}", app.token_url);
            return Err(if tls { ConnectorError::Config { message } } else { ConnectorError::Transient { message } });
        }
        Err(ExchangeError::Transport(e)) => {
            return Err(ConnectorError::Transient {
                message: format!("Dropbox's token endpoint answered but the body did not arrive: {}", chain(&e)),
            })
        }
        Err(e) => return Err(e.into_connector_error(&format!("Dropbox's token endpoint {}", app.token_url), timeout)),
    };
    let (status, body) = (answer.status, answer.body);
    let retry_after = answer.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|_| ConnectorError::Config {
            message: format!(
                "{} answered {status} without an access token: is it Dropbox's token endpoint?",
                app.token_url
            ),
        });
    }
    if status.as_u16() == 429 {
        return Err(ConnectorError::Throttled {
            retry_after: retry_after.and_then(|v| parse_retry_after(&v, SystemTime::now())),
            message: "Dropbox's token endpoint asks to slow down".into(),
        });
    }
    if status.is_server_error() {
        return Err(ConnectorError::Transient { message: format!("Dropbox's token endpoint answered {status}") });
    }
    let refusal: Option<TokenRefusal> = serde_json::from_slice(&body).ok();
    let (error, description) = match &refusal {
        Some(r) => (r.error.as_str(), r.error_description.as_deref().unwrap_or("")),
        None => ("", ""),
    };
    let said =
        cut_app_text(&if description.is_empty() { error.to_string() } else { format!("{error}: {description}") });
    let message = if error.starts_with("invalid_client") {
        format!(
            "Dropbox refused roster's app key or secret ({said}): check them in the Dropbox app's settings in roster"
        )
    } else if error.starts_with("invalid_grant") {
        match grant {
            Grant::Code => format!(
                "Dropbox refused the authorization code ({said}): it was used already, expired, or the redirect URI \
                 differs from the one registered; click Authorize again"
            ),
            Grant::Refresh => format!(
                "Dropbox refused roster's refresh token ({said}): the app was unlinked from the team or the \
                 authorization revoked; ask a team admin to click Authorize again"
            ),
        }
    } else {
        format!("Dropbox's token endpoint answered {status} ({said})")
    };
    Err(ConnectorError::Config { message })
}

/// An access token and when to stop using it.
#[derive(Debug)]
struct CachedToken {
    token: SecretString,
    use_until: Instant,
}

/// Access tokens from the refresh token, kept in memory and shared by
/// concurrent calls: one refresh at a time, the others wait for its result.
#[derive(Debug)]
pub(crate) struct TokenSource {
    app: DropboxApp,
    refresh_token: SecretString,
    timeout: Duration,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

impl TokenSource {
    pub(crate) fn new(app: DropboxApp, refresh_token: SecretString, timeout: Duration) -> Self {
        TokenSource { app, refresh_token, timeout, cached: tokio::sync::Mutex::new(None) }
    }

    /// A valid access token: the cached one, or a fresh one.
    pub(crate) async fn access_token(&self, client: &Client) -> Result<SecretString, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.use_until > Instant::now()) {
            return Ok(c.token.clone());
        }
        let form = [("grant_type", "refresh_token"), ("refresh_token", self.refresh_token.expose_secret())];
        let answer = token_request(client, self.timeout, &self.app, &form, Grant::Refresh).await?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS));
        // Stop using a token a little before Dropbox does, so that a call
        // sent near the end does not arrive after it.
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        let token = answer.access_token;
        *cached = Some(CachedToken { token: token.clone(), use_until: Instant::now() + lifetime - margin });
        tracing::debug!(lifetime_s = lifetime.as_secs(), "Dropbox access token refreshed");
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token (Dropbox said it expired).
    pub(crate) async fn forget(&self, used: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.expose_secret() == used.expose_secret()) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_asks_for_offline_access() {
        let app = DropboxApp::new("key", "s3cret");
        let url = authorize_url(&app, "https://roster.example/cb?x=1", "st&ate");
        let parsed = Url::parse(&url).ok();
        let pairs: Vec<(String, String)> = parsed.map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert!(url.starts_with("https://www.dropbox.com/oauth2/authorize?"), "{url}");
        assert_eq!(get("token_access_type"), Some("offline"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("redirect_uri"), Some("https://roster.example/cb?x=1"));
        assert_eq!(get("state"), Some("st&ate"));
        assert!(!url.contains("s3cret"));
    }

    #[test]
    fn debug_hides_secrets() {
        let app = DropboxApp::new("key", "s3cret");
        assert!(!format!("{app:?}").contains("s3cret"));
        let tokens = DropboxTokens {
            refresh_token: "rt-secret".into(),
            access_token: "at-secret".into(),
            expires_in: Duration::from_secs(1),
            team_id: "dbtid:x".into(),
            scopes: vec![],
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("rt-secret") && !shown.contains("at-secret"), "{shown}");
    }
}
