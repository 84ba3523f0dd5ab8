//! Dropbox RPC calls (`POST <api>/2/<route>` with a JSON argument and a
//! bearer access token) and the classification of Dropbox's answers into
//! [`ConnectorError`]s: 409 endpoint errors keep their tag and
//! `error_summary`; an expired access token is refreshed once and the call
//! sent again; other token problems and refusals of a team's authorization
//! are configuration errors a person can act on.

use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::oauth::{http_client, DropboxApp, TokenSource, NOT_A_TEAM_ADMIN};
use crate::classify::{chain, Answer};
use crate::outbound::{cut_app_text, exchange};
use crate::{parse_retry_after, ConnectorError};

/// Endpoint error tags that mean "no such member" to the engine.
const NOT_FOUND_TAGS: [&str; 3] = ["user_not_found", "id_not_found", "user_not_in_team"];

/// An RPC client for one team.
#[derive(Debug)]
pub(crate) struct Rpc {
    client: Client,
    api: Url,
    timeout: Duration,
    max_response_bytes: usize,
    tokens: TokenSource,
}

/// What one attempt gave.
enum Attempt {
    Done(Value),
    Expired,
}

impl Rpc {
    pub(crate) fn new(app: DropboxApp, refresh_token: SecretString, timeout: Duration) -> Result<Self, ConnectorError> {
        let config = |message: String| ConnectorError::Config { message };
        let api = Url::parse(app.api_url.trim())
            .map_err(|e| config(format!("invalid Dropbox API URL {:?}: {e}", app.api_url)))?;
        if !matches!(api.scheme(), "http" | "https") || api.cannot_be_a_base() {
            return Err(config(format!("invalid Dropbox API URL {:?}: must be http(s)", app.api_url)));
        }
        for url in [&app.token_url, &app.authorize_url] {
            Url::parse(url).map_err(|e| config(format!("invalid Dropbox OAuth URL {url:?}: {e}")))?;
        }
        if refresh_token.expose_secret().trim().is_empty() {
            return Err(config("no Dropbox refresh token: ask a team admin to click Authorize".into()));
        }
        let max_response_bytes = app.max_response_bytes.max(1);
        Ok(Rpc {
            client: http_client(&app, timeout)?,
            api,
            timeout,
            max_response_bytes,
            tokens: TokenSource::new(app, refresh_token, timeout),
        })
    }

    /// Calls `route` (e.g. `team/members/add_v2`) with `arg`; `Value::Null`
    /// for routes without argument. An expired access token is refreshed and
    /// the call sent once more.
    pub(crate) async fn call(&self, route: &str, arg: &Value) -> Result<Value, ConnectorError> {
        let token = self.tokens.access_token(&self.client).await?;
        if let Attempt::Done(v) = self.attempt(route, arg, &token).await? {
            return Ok(v);
        }
        self.tokens.forget(&token).await;
        let token = self.tokens.access_token(&self.client).await?;
        match self.attempt(route, arg, &token).await? {
            Attempt::Done(v) => Ok(v),
            Attempt::Expired => Err(ConnectorError::Config {
                message: "Dropbox says the access token it has just issued is expired: check this server's clock"
                    .into(),
            }),
        }
    }

    fn url(&self, route: &str) -> Result<Url, ConnectorError> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Config { message: format!("invalid Dropbox API URL {}", self.api) })?
            .pop_if_empty()
            .push("2")
            .extend(route.split('/'));
        Ok(url)
    }

    async fn attempt(&self, route: &str, arg: &Value, token: &SecretString) -> Result<Attempt, ConnectorError> {
        let body = serde_json::to_vec(arg).map_err(|e| ConnectorError::Permanent {
            status: 0,
            scim_type: None,
            app_message: format!("cannot encode the {route} argument: {e}"),
        })?;
        let req = self
            .client
            .post(self.url(route)?)
            .bearer_auth(token.expose_secret())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let answer = match exchange(req, self.max_response_bytes).await {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(route, error = ?e, "Dropbox request failed");
                return Err(e.into_connector_error(&format!("Dropbox at {}", self.api), self.timeout));
            }
        };
        tracing::debug!(route, status = answer.status.as_u16(), "Dropbox request");
        if answer.status.is_success() {
            if answer.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Attempt::Done(Value::Null));
            }
            return serde_json::from_slice(&answer.body).map(Attempt::Done).map_err(|e| ConnectorError::Permanent {
                status: answer.status.as_u16(),
                scim_type: None,
                app_message: format!("Dropbox's answer to {route} is not JSON: {}", chain(&e)),
            });
        }
        match classify(route, &answer) {
            Refusal::Expired => Ok(Attempt::Expired),
            Refusal::Error(e) => Err(e),
        }
    }
}

/// A refused call: an expired access token, or an error to return.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    Expired,
    Error(ConnectorError),
}

/// The `error_summary` and the `.tag` of `error` of a JSON error body.
fn summary_and_tag(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return (None, None) };
    let summary = v.get("error_summary").and_then(Value::as_str).map(str::to_string);
    let tag = v.pointer("/error/.tag").and_then(Value::as_str).map(str::to_string);
    (summary, tag)
}

/// The start of a plain-text body, for a message.
fn text(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("HTTP {status}");
    }
    text.chars().take(300).collect()
}

/// Whether a 400 says that the token is one person's, not a team's.
fn is_user_token_refusal(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("team management function") || lower.contains("for a specific dropbox user account")
}

/// Classifies a non-success answer to `route`.
pub(crate) fn classify(route: &str, answer: &Answer) -> Refusal {
    let status = answer.status;
    let (summary, tag) = summary_and_tag(&answer.body);
    let said = cut_app_text(&summary.clone().unwrap_or_else(|| text(status, &answer.body)));
    let tag = tag.map(|t| cut_app_text(&t));
    let config = |message: String| Refusal::Error(ConnectorError::Config { message });
    match status.as_u16() {
        400 if is_user_token_refusal(&said) => config(format!("{NOT_A_TEAM_ADMIN} (Dropbox: {said})")),
        401 => match tag.as_deref() {
            Some("expired_access_token") => Refusal::Expired,
            Some("missing_scope") => {
                let scope = serde_json::from_slice::<Value>(&answer.body)
                    .ok()
                    .and_then(|v| v.pointer("/error/required_scope").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| "?".into());
                config(format!(
                    "roster's Dropbox app lacks the permission {scope} ({said}): turn it on in the Permissions tab \
                     of the app in the Dropbox App Console, then ask a team admin to click Authorize again"
                ))
            }
            _ => config(format!(
                "Dropbox refused roster's access token ({said}): the app was unlinked from the team or the \
                 authorization revoked; ask a team admin to click Authorize again"
            )),
        },
        403 => config(format!(
            "Dropbox refused {route} ({said}): the team admin who authorized roster lacks the admin role this needs; \
             ask a team admin with the Team admin role to click Authorize again"
        )),
        409 => {
            let tag = tag.unwrap_or_default();
            if NOT_FOUND_TAGS.contains(&tag.as_str()) {
                return Refusal::Error(ConnectorError::NotFound);
            }
            Refusal::Error(ConnectorError::Permanent {
                status: 409,
                scim_type: (!tag.is_empty()).then_some(tag),
                app_message: said,
            })
        }
        429 => {
            let header = answer.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok());
            let from_body = serde_json::from_slice::<Value>(&answer.body)
                .ok()
                .and_then(|v| v.pointer("/error/retry_after").and_then(Value::as_u64))
                .map(Duration::from_secs);
            Refusal::Error(ConnectorError::Throttled {
                retry_after: header.and_then(|v| parse_retry_after(v, SystemTime::now())).or(from_body),
                message: format!("Dropbox asks to slow down ({said})"),
            })
        }
        408 | 500..=599 => Refusal::Error(ConnectorError::Transient {
            message: format!("Dropbox answered {status} to {route}: {said}"),
        }),
        s => Refusal::Error(ConnectorError::Permanent { status: s, scim_type: tag, app_message: said }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn answer(status: u16, body: &str, retry_after: Option<&str>) -> Answer {
        let mut headers = HeaderMap::new();
        if let Some(r) = retry_after.and_then(|r| HeaderValue::from_str(r).ok()) {
            headers.insert(RETRY_AFTER, r);
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn check(status: u16, body: &str, retry_after: Option<&str>, want: &dyn Fn(&Refusal) -> bool) {
        let got = classify("team/members/suspend", &answer(status, body, retry_after));
        assert!(want(&got), "{status} {body}: {got:?}");
    }

    fn config_says(needle: &'static str) -> impl Fn(&Refusal) -> bool {
        move |r| matches!(r, Refusal::Error(ConnectorError::Config { message }) if message.contains(needle))
    }

    fn throttled_for(secs: u64) -> impl Fn(&Refusal) -> bool {
        let want = Some(Duration::from_secs(secs));
        move |r| matches!(r, Refusal::Error(ConnectorError::Throttled { retry_after, .. }) if *retry_after == want)
    }

    #[test]
    fn classifies_answers() {
        let e409 = |tag: &str| format!(r#"{{"error_summary":"{tag}/..","error":{{".tag":"{tag}"}}}}"#);
        check(401, &e409("expired_access_token"), None, &|r| *r == Refusal::Expired);
        check(401, &e409("invalid_access_token"), None, &config_says("click Authorize again"));
        check(
            401,
            r#"{"error_summary":"missing_scope/..","error":{".tag":"missing_scope","required_scope":"members.write"}}"#,
            None,
            &config_says("lacks the permission members.write"),
        );
        check(
            400,
            "Error in call to API function \"team/get_info\": This is a team management function.",
            None,
            &config_says("not a Dropbox team admin"),
        );
        check(400, "Error in call: request body: missing field", None, &|r| {
            matches!(r, Refusal::Error(ConnectorError::Permanent { status: 400, app_message, .. })
                if app_message.contains("missing field"))
        });
        check(
            403,
            r#"{"error_summary":"no_permission/..","error":{".tag":"no_permission"}}"#,
            None,
            &config_says("admin role"),
        );
        for tag in ["user_not_found", "id_not_found", "user_not_in_team"] {
            check(409, &e409(tag), None, &|r| *r == Refusal::Error(ConnectorError::NotFound));
        }
        check(409, &e409("suspend_inactive_user"), None, &|r| {
            *r == Refusal::Error(ConnectorError::Permanent {
                status: 409,
                scim_type: Some("suspend_inactive_user".into()),
                app_message: "suspend_inactive_user/..".into(),
            })
        });
        check(429, "{}", Some("7"), &throttled_for(7));
        check(429, r#"{"error_summary":"too_many_requests/..","error":{"retry_after":3}}"#, None, &throttled_for(3));
        check(503, "", None, &|r| matches!(r, Refusal::Error(ConnectorError::Transient { .. })));
    }
}
