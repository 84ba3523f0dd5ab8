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

/// Checks a URL credentials may be sent to: http(s), https unless the host is
/// a loopback address or `allow_insecure_http` is set, and a host roster may
/// reach (never link-local or a cloud metadata service; a private address only
/// with `allow_private_networks`).
pub fn check_url(
    what: &str,
    url: &url::Url,
    allow_insecure_http: bool,
    allow_private_networks: bool,
) -> Result<(), EngineError> {
    if let Some(reason) = roster_connectors::destination::url_refusal(url, allow_private_networks) {
        return Err(EngineError::Invalid(format!("{what} {} is refused: {reason}", url.as_str())));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        "http" => Err(EngineError::Invalid(format!(
            "{what} {} uses plain http: credentials would cross the network unencrypted; use https:// (or set \
             allowInsecureHttp on this app if it really has no https)",
            url.as_str()
        ))),
        _ => Err(EngineError::Invalid(format!("{what} {:?} must start with https:// (or http://)", url.as_str()))),
    }
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
        let parsed = url::Url::parse(url).expect("a URL");
        assert_eq!(check_url("tenant URL", &parsed, allow, false).is_ok(), ok, "{url} allow={allow}");
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
    }

    #[test]
    fn a_changed_url_clears_the_credentials_sent_to_it() {
        let before = JobSettings { tenant_url: Some("https://a.example".into()), ..JobSettings::default() };
        let after = JobSettings { tenant_url: Some("https://b.example".into()), ..before.clone() };
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
