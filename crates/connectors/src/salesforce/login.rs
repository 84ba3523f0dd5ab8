//! Logging in to Salesforce: the SOAP API `login()` call (username, and the
//! password with the security token appended) or the OAuth 2.0 client
//! credentials flow of a connected app. Both give an instance URL and a
//! session id (or access token) that the REST API takes as a bearer token.
//!
//! The SOAP envelope and its answer are XML (`soap.rs`): the answer is read
//! with quick-xml, its elements picked out by their local names.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::soap::{login_envelope, read_login_answer, LoginAnswer};
use super::SalesforceSettings;
use crate::classify::{chain, transport_reason};
use crate::outbound::{cut_app_text, exchange, ExchangeError};
use crate::ConnectorError;

/// A session: where the org's API lives and the bearer token for it.
#[derive(Debug)]
pub(super) struct LoggedIn {
    /// `https://MyDomain.my.salesforce.com`
    pub(super) instance: Url,
    /// The session id or access token (never printed).
    pub(super) token: SecretString,
    /// The logged-in user's id, when Salesforce says it.
    pub(super) user_id: Option<String>,
    /// The logged-in user's username, when Salesforce says it.
    pub(super) user_name: Option<String>,
}

fn config(message: String) -> ConnectorError {
    ConnectorError::Config { message }
}

/// A transport failure on a login: TLS problems need a person, the rest may pass.
fn unreachable_login(url: &Url, e: &reqwest::Error, timeout: std::time::Duration) -> ConnectorError {
    let (tls, reason) = transport_reason(e, timeout);
    let message = format!("cannot reach the Salesforce login server {}: {reason}", origin(url));
    if tls {
        config(message)
    } else {
        ConnectorError::Transient { message }
    }
}

/// What a login call needs: the client, the login server, the API version,
/// the time limit and the most bytes of an answer.
pub(super) struct LoginCall<'a> {
    client: &'a Client,
    login_base: &'a Url,
    api_version: &'a str,
    timeout: std::time::Duration,
    cap: usize,
}

impl<'a> LoginCall<'a> {
    pub(super) fn new(client: &'a Client, login_base: &'a Url, settings: &'a SalesforceSettings) -> Self {
        LoginCall {
            client,
            login_base,
            api_version: &settings.api_version,
            timeout: settings.timeout,
            cap: settings.max_response_bytes.max(1),
        }
    }

    /// Sends `request` to `url`; the status and the body (at most the cap).
    async fn send(&self, url: &Url, request: RequestBuilder) -> Result<(StatusCode, Vec<u8>), ConnectorError> {
        match exchange(request, self.cap).await {
            Ok(answer) => Ok((answer.status, answer.body)),
            Err(ExchangeError::Transport(e)) => Err(unreachable_login(url, &e, self.timeout)),
            Err(e) => {
                Err(e.into_connector_error(&format!("the Salesforce login server {}", origin(url)), self.timeout))
            }
        }
    }
}

/// `scheme://host[:port]` of a URL.
pub(super) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The URL `path` under the login server.
fn login_endpoint(login_base: &Url, path: &str) -> Result<Url, ConnectorError> {
    login_base.join(path).map_err(|e| config(format!("invalid Salesforce login URL {login_base}: {e}")))
}

/// What a person should do about a login fault, by its code.
fn login_hint(code: &str) -> &'static str {
    match code {
        "INVALID_LOGIN" => {
            "check the admin username, the password and the security token (a new token comes by email after \
             Reset My Security Token in Salesforce's personal settings)"
        }
        "LOGIN_MUST_USE_SECURITY_TOKEN" => {
            "enter the admin's security token (Salesforce sends a new one by email after Reset My Security Token \
             in the personal settings), or add roster's address to the org's trusted IP ranges"
        }
        "INVALID_OPERATION_WITH_EXPIRED_PASSWORD" => "set a new password for the admin account in Salesforce",
        "API_DISABLED_FOR_ORG" | "API_CURRENTLY_DISABLED" => {
            "the org or the admin's profile has no API access (trial orgs have none; the profile needs API Enabled)"
        }
        "INSUFFICIENT_ACCESS" => "give the admin account the permission to log in through the API",
        _ => "check the admin credentials and the tenant URL",
    }
}

/// Logs in with the SOAP API `login()` call; an empty `security_token` is
/// for an address in the org's trusted IP ranges.
pub(super) async fn soap_login(
    call: &LoginCall<'_>,
    username: &str,
    password: &SecretString,
    security_token: &SecretString,
) -> Result<LoggedIn, ConnectorError> {
    let login_base = call.login_base;
    let url = login_endpoint(login_base, &format!("/services/Soap/u/{}", call.api_version))?;
    // Salesforce takes the security token appended to the password.
    let password = SecretString::from(format!("{}{}", password.expose_secret(), security_token.expose_secret().trim()));
    let request = call
        .client
        .post(url.clone())
        .header(CONTENT_TYPE, "text/xml; charset=UTF-8")
        .header("SOAPAction", "login")
        .body(login_envelope(username, password.expose_secret()));
    let (status, body) = call.send(&url, request).await?;
    let body = String::from_utf8_lossy(&body);
    tracing::debug!(path = url.path(), status = status.as_u16(), "Salesforce SOAP login");
    let answer = read_login_answer(&body);
    if let Ok(LoginAnswer { fault: Some(fault), .. }) = &answer {
        let code = fault.code.as_deref().unwrap_or_default();
        let code = code.rsplit(':').next().unwrap_or(code);
        let message = fault
            .exception_message
            .clone()
            .or_else(|| fault.string.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let (code, message) = (cut_app_text(code), cut_app_text(&message));
        return Err(config(format!(
            "Salesforce refused the login of {username} with the SOAP API login() at {} ({code}: {message}): {}",
            origin(login_base),
            login_hint(&code)
        )));
    }
    if !status.is_success() {
        let start: String = body.trim().chars().take(200).collect();
        let message = format!("the Salesforce login server answered {status} to login() at {url}: {start}");
        return Err(if status.is_server_error() { ConnectorError::Transient { message } } else { config(message) });
    }
    let answer = answer.map_err(|reason| {
        config(format!(
            "the answer of login() at {url} is not well-formed XML: {}: not Salesforce?",
            cut_app_text(&reason)
        ))
    })?;
    if answer.password_expired {
        return Err(config(format!(
            "the password of {username} has expired (INVALID_OPERATION_WITH_EXPIRED_PASSWORD): {}",
            login_hint("INVALID_OPERATION_WITH_EXPIRED_PASSWORD")
        )));
    }
    let (Some(server_url), Some(token)) = (answer.server_url, answer.session_id) else {
        return Err(config(format!("the answer of login() at {url} has no serverUrl or sessionId: not Salesforce?")));
    };
    let instance = instance_of(&server_url, login_base)?;
    Ok(LoggedIn { instance, token, user_id: answer.user_id, user_name: answer.user_name })
}

/// The domains of Salesforce's own instances (commercial, Government Cloud,
/// and the Alibaba-operated China instances).
const SALESFORCE_DOMAINS: [&str; 6] =
    ["salesforce.com", "force.com", "cloudforce.com", "salesforce.mil", "sfcrmapps.cn", "sfcrmproducts.cn"];

/// The instance (`scheme://host[:port]/`) of a URL the login server returned.
/// roster sends the session token to it, so it must be https and a host of
/// Salesforce's or under the login server's own domain (a My Domain login gives
/// an instance next to it); a loopback instance only with a loopback login
/// server (the contract fake), where http is allowed too.
fn instance_of(url: &str, login_base: &Url) -> Result<Url, ConnectorError> {
    let parsed =
        Url::parse(url).map_err(|e| config(format!("Salesforce returned an invalid server URL {url:?}: {e}")))?;
    let (Some(host), Some(login_host)) = (parsed.host(), login_base.host()) else {
        return Err(config(format!("Salesforce returned a server URL without a host: {url:?}")));
    };
    let trusted = if is_loopback(&login_host) {
        is_loopback(&host) && matches!(parsed.scheme(), "http" | "https")
    } else {
        parsed.scheme() == "https" && is_trusted_domain(&host.to_string(), &login_host.to_string())
    };
    if !trusted {
        let shown: String = url.chars().filter(|c| !c.is_control()).take(200).collect();
        return Err(config(format!(
            "the Salesforce login server {} named {shown:?} as the org's instance: roster sends the session only to \
             https hosts of Salesforce or of the login server's own domain",
            origin(login_base)
        )));
    }
    Url::parse(&format!("{}/", origin(&parsed)))
        .map_err(|e| config(format!("Salesforce returned an invalid server URL {url:?}: {e}")))
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    }
}

/// Whether `host` is under one of Salesforce's domains or the login server's.
fn is_trusted_domain(host: &str, login_host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let login = login_host.to_ascii_lowercase();
    // The login server's domain: its host without the first label, when that
    // leaves at least a name and a top-level domain (`login.acme.example` → `acme.example`).
    let login_domain = match login.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest.to_string(),
        _ => login.clone(),
    };
    let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    host == login || under(&login_domain) || SALESFORCE_DOMAINS.iter().any(|d| under(d))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<SecretString>,
    instance_url: Option<String>,
    id: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Logs in with the OAuth 2.0 client credentials flow of a connected app.
pub(super) async fn client_credentials(
    call: &LoginCall<'_>,
    client_id: &str,
    client_secret: &SecretString,
) -> Result<LoggedIn, ConnectorError> {
    let login_base = call.login_base;
    let url = login_endpoint(login_base, "/services/oauth2/token")?;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret.expose_secret()),
    ];
    let (status, body) = call.send(&url, call.client.post(url.clone()).form(&form)).await?;
    tracing::debug!(path = url.path(), status = status.as_u16(), "Salesforce OAuth token request");
    let answer: Option<TokenAnswer> = serde_json::from_slice(&body).ok();
    if let Some(TokenAnswer { error: Some(error), error_description, .. }) = &answer {
        let description = cut_app_text(error_description.as_deref().unwrap_or("no description"));
        let error = cut_app_text(error);
        let hint = match error.as_str() {
            "invalid_client" | "invalid_client_id" => "check the connected app's client id (consumer key) and secret",
            "unsupported_grant_type" => {
                "enable the client credentials flow on the connected app and use the org's My Domain URL as the \
                 tenant URL"
            }
            "invalid_grant" => "set a run-as user for the client credentials flow and give the app the api scope",
            _ => "check the connected app and the tenant URL",
        };
        return Err(config(format!(
            "Salesforce refused the OAuth 2.0 client credentials at {} ({error}: {description}): {hint}",
            origin(login_base)
        )));
    }
    if !status.is_success() {
        let message = format!("the Salesforce token endpoint {url} answered {status}");
        return Err(if status.is_server_error() { ConnectorError::Transient { message } } else { config(message) });
    }
    let Some(TokenAnswer { access_token: Some(token), instance_url: Some(instance_url), id, .. }) = answer else {
        return Err(config(format!("the answer of {url} has no access_token or instance_url: not Salesforce?")));
    };
    // The identity URL ends with the org id and the run-as user's id.
    let user_id = id.as_deref().and_then(|id| id.trim_end_matches('/').rsplit('/').next()).map(str::to_string);
    Ok(LoggedIn { instance: instance_of(&instance_url, login_base)?, token, user_id, user_name: None })
}

/// A short description of a reqwest error (for building the HTTP client).
pub(super) fn client_error(e: &reqwest::Error) -> String {
    chain(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_is_the_origin() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let i = instance_of("https://acme.my.salesforce.com/services/Soap/u/64.0/00D000000000001", &login);
        assert_eq!(i.map(|u| u.to_string()).ok().as_deref(), Some("https://acme.my.salesforce.com/"));
        assert!(instance_of("ftp://x/y", &login).is_err());
        assert!(instance_of("nope", &login).is_err());
    }

    fn check(instance: &str, login: &str, trusted: bool) {
        let login = Url::parse(login).expect("login url");
        assert_eq!(instance_of(instance, &login).is_ok(), trusted, "{instance} from {login}");
    }

    #[test]
    fn only_salesforce_or_the_login_domain_is_an_instance() {
        check("https://acme.my.salesforce.com/x", "https://login.salesforce.com", true);
        check("https://na1.force.com/x", "https://test.salesforce.com", true);
        check("https://acme.my.salesforce.mil/x", "https://acme.my.salesforce.mil", true);
        check("https://crm.acme.example/x", "https://login.acme.example", true);
        check("https://attacker.example/x", "https://login.salesforce.com", false);
        check("https://salesforce.com.attacker.example/x", "https://login.salesforce.com", false);
        check("https://evilsalesforce.com/x", "https://login.salesforce.com", false);
        check("http://acme.my.salesforce.com/x", "https://login.salesforce.com", false);
        check("http://127.0.0.1:9/x", "https://login.salesforce.com", false);
        check("http://127.0.0.1:9/x", "http://127.0.0.1:8/", true);
        check("https://attacker.example/x", "http://127.0.0.1:8/", false);
    }
}
