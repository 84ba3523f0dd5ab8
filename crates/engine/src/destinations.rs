//! Where an app's credentials are sent, and what may change it. A URL in the
//! settings is where roster sends a bearer token, a password or an app secret:
//! changing it must not carry the stored secrets to the new address (whoever can
//! edit the settings could otherwise point them at a host of their own), so the
//! credentials that go to a changed URL are cleared unless the same change sets
//! them again. Plain http is refused but for a loopback host (tests, the demo)
//! or an app whose `allowInsecureHttp` is set; link-local and cloud metadata
//! hosts always, private addresses unless `allowPrivateNetworks` is set (the
//! connectors check every resolved address too). Test Connection, which a
//! settings editor can aim anywhere, repeats only a short, printable part of
//! what the far end answered.

use crate::gallery::ConnectorKind;
use crate::settings::JobSettings;
use crate::EngineError;
use serde::{Deserialize, Serialize};

/// A URL setting: its name, how to read it, and the credential fields sent to it.
type Destination = (&'static str, fn(&JobSettings) -> Option<&str>, &'static [&'static str]);

/// The URL settings of a template's connector.
fn sent_to(kind: ConnectorKind) -> Vec<Destination> {
    match kind {
        ConnectorKind::Scim => vec![("tenantUrl", |s| s.tenant_url.as_deref(), &["secretToken"])],
        ConnectorKind::Salesforce => {
            vec![("tenantUrl", |s| s.tenant_url.as_deref(), &["secretToken", "adminPassword", "clientSecret"])]
        }
        // The access tokens the refresh token yields go to the API; the app
        // secret and the refresh token go to the token endpoint.
        ConnectorKind::Dropbox => vec![
            ("apiUrl", |s| s.api_url.as_deref(), &["refreshToken"]),
            ("tokenUrl", |s| s.token_url.as_deref(), &["clientSecret", "refreshToken"]),
        ],
        ConnectorKind::None => Vec::new(),
    }
}

/// The credential fields a settings change from `before` to `after` clears: those
/// sent to a URL that changed, except the ones in `given` (set by the same change).
pub fn cleared_by_url_change(
    kind: ConnectorKind,
    before: &JobSettings,
    after: &JobSettings,
    given: &[&str],
) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (_, url, fields) in sent_to(kind) {
        if url(before) == url(after) {
            continue;
        }
        for field in fields.iter().copied() {
            if !given.contains(&field) && !out.contains(&field) {
                out.push(field);
            }
        }
    }
    out
}

/// What the URL settings of an app may reach: its `allowInsecureHttp` and
/// `allowPrivateNetworks` settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reach {
    /// Plain http on a host other than loopback.
    pub insecure_http: bool,
    /// Private network addresses (never link-local or metadata ones).
    pub private_networks: bool,
}

impl Reach {
    /// The reach the settings allow.
    pub fn of(s: &JobSettings) -> Reach {
        Reach { insecure_http: s.allow_insecure_http, private_networks: s.allow_private_networks }
    }
}

/// The app's base URL (SCIM), or Salesforce's login server: the URL the
/// credentials are sent to. Parsed once, by the one rule of every URL
/// credentials are sent to ([`parse_url`]), trimmed and without a trailing `/`.
/// A stored one is read back by the same rule, less the reach: that was
/// checked under the settings in force when it was set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct TenantUrl(String);

impl TenantUrl {
    /// The settings field a tenant URL is given in.
    pub const FIELD: &'static str = "tenantUrl";

    /// Parses a tenant URL an admin gives: a URL the app's settings let
    /// roster reach (see [`parse_url`]); empty is refused.
    pub fn parse(text: &str, reach: Reach) -> Result<TenantUrl, EngineError> {
        let refused = |message: String| EngineError::InvalidSetting { field: Self::FIELD.into(), message };
        let url = read_url("tenant URL", text).map_err(refused)?;
        check_reach("tenant URL", &url, reach).map_err(refused)?;
        Ok(TenantUrl(normalized(text)))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantUrl {
    type Error = String;

    fn try_from(text: String) -> Result<TenantUrl, String> {
        read_url("tenant URL", &text)?;
        Ok(TenantUrl(normalized(&text)))
    }
}

impl From<TenantUrl> for String {
    fn from(url: TenantUrl) -> String {
        url.0
    }
}

impl std::ops::Deref for TenantUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL setting as it is kept: trimmed, without a trailing `/`.
fn normalized(text: &str) -> String {
    text.trim().trim_end_matches('/').to_string()
}

/// Reads a URL setting (`what` names it in the message): a URL with a host,
/// over http or https.
fn read_url(what: &str, text: &str) -> Result<url::Url, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{what} {text:?} is not a URL: it is empty"));
    }
    let url = text.parse::<url::Url>().map_err(|e| format!("{what} {text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(format!("{what} {text:?} must start with https:// (or http://)"));
    }
    Ok(url)
}

/// Checks that roster may send credentials to `url`: https unless the host is
/// a loopback address or the app allows insecure http, and a host roster may
/// reach (never link-local or a cloud metadata service; a private address only
/// when the app allows private networks).
fn check_reach(what: &str, url: &url::Url, reach: Reach) -> Result<(), String> {
    if let Some(reason) = roster_connectors::destination::url_refusal(url, reach.private_networks) {
        return Err(format!("{what} {} is refused: {reason}", url.as_str()));
    }
    if url.scheme() == "http" && !reach.insecure_http && !is_loopback(url) {
        return Err(format!(
            "{what} {} uses plain http: credentials would cross the network unencrypted; use https:// (or set \
             allowInsecureHttp on this app if it really has no https)",
            url.as_str()
        ));
    }
    Ok(())
}

/// Parses a URL setting credentials are sent to (`field`, named `what` in the
/// message), by the one rule of them all: a URL with a host, over https (plain
/// http only to loopback or where `reach` allows it), to a host roster may
/// reach. Empty text is `None` (the setting goes back to its default).
pub fn parse_url(field: &str, what: &str, text: &str, reach: Reach) -> Result<Option<String>, EngineError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let refused = |message: String| EngineError::InvalidSetting { field: field.into(), message };
    let url = read_url(what, text).map_err(refused)?;
    check_reach(what, &url, reach).map_err(refused)?;
    Ok(Some(normalized(text)))
}

/// The most characters of a Test Connection message.
const ECHO_CHARS: usize = 400;

/// A Test Connection message as it is shown: printable, and short.
pub fn short_echo(text: &str) -> String {
    let printable: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if printable.chars().count() <= ECHO_CHARS {
        return printable;
    }
    let mut cut: String = printable.chars().take(ECHO_CHARS).collect();
    cut.push_str("… (cut)");
    cut
}

/// A Test Connection error with its words made short (see [`short_echo`]).
pub fn short_error(e: roster_connectors::ConnectorError) -> roster_connectors::ConnectorError {
    use roster_connectors::ConnectorError as E;
    match e {
        E::Transient { message } => E::Transient { message: short_echo(&message) },
        E::Throttled { retry_after, message } => E::Throttled { retry_after, message: short_echo(&message) },
        E::Permanent { status, scim_type, app_message } => {
            E::Permanent { status, scim_type: scim_type.map(|t| short_echo(&t)), app_message: short_echo(&app_message) }
        }
        E::Config { message } => E::Config { message: short_echo(&message) },
        E::Conflict { app_message } => E::Conflict { app_message: short_echo(&app_message) },
        E::NotFound => E::NotFound,
    }
}

/// Whether the URL's host is this machine.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow: bool, ok: bool) {
        let reach = Reach { insecure_http: allow, private_networks: false };
        assert_eq!(TenantUrl::parse(url, reach).is_ok(), ok, "{url} allow={allow}");
    }

    #[test]
    fn plain_http_is_for_loopback_or_an_explicit_setting() {
        check("https://app.example.com/scim", false, true);
        check("http://127.0.0.1:8080/scim", false, true);
        check("http://localhost/scim", false, true);
        check("http://[::1]:9/scim", false, true);
        check("http://app.example.com/scim", false, false);
        check("http://10.0.0.7/scim", false, false);
        check("https://10.0.0.7/scim", true, false);
        check("http://169.254.169.254/latest/meta-data/", true, false);
        check("http://metadata.google.internal/computeMetadata/v1/", true, false);
        check("http://app.example.com/scim", true, true);
        check("ftp://app.example.com/", true, false);
        check("", true, false);
        check("  ", true, false);
        check("app.example.com/scim", true, false);
    }

    #[test]
    fn a_tenant_url_is_kept_trimmed_and_read_back_by_the_same_rule() {
        let url = TenantUrl::parse(" https://app.example.com/scim/ ", Reach::default()).expect("valid");
        assert_eq!(url.as_str(), "https://app.example.com/scim");
        let stored = serde_json::to_value(&url).expect("serializes");
        assert_eq!(stored, serde_json::json!("https://app.example.com/scim"));
        assert_eq!(serde_json::from_value::<TenantUrl>(stored).expect("reads back"), url);
        assert!(serde_json::from_value::<TenantUrl>(serde_json::json!("not a url")).is_err());
        let refused = TenantUrl::parse("x", Reach::default()).expect_err("refused");
        assert!(matches!(refused, EngineError::InvalidSetting { field, .. } if field == "tenantUrl"));
    }

    #[test]
    fn a_changed_url_clears_the_credentials_sent_to_it() {
        let url = |u: &str| TenantUrl::parse(u, Reach::default()).ok();
        let before = JobSettings { tenant_url: url("https://a.example"), ..JobSettings::default() };
        let after = JobSettings { tenant_url: url("https://b.example"), ..before.clone() };
        assert_eq!(cleared_by_url_change(ConnectorKind::Scim, &before, &after, &[]), ["secretToken"]);
        assert!(cleared_by_url_change(ConnectorKind::Scim, &before, &after, &["secretToken"]).is_empty());
        assert!(cleared_by_url_change(ConnectorKind::Scim, &before, &before, &[]).is_empty());
        assert_eq!(
            cleared_by_url_change(ConnectorKind::Salesforce, &before, &after, &["adminPassword"]),
            ["secretToken", "clientSecret"]
        );
        let dropbox = JobSettings { token_url: Some("https://evil.example/token".into()), ..JobSettings::default() };
        assert_eq!(
            cleared_by_url_change(ConnectorKind::Dropbox, &JobSettings::default(), &dropbox, &[]),
            ["clientSecret", "refreshToken"]
        );
    }
}
