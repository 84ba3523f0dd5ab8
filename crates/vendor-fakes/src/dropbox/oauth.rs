//! The OAuth 2 endpoints of the fake, as Dropbox's OAuth Guide describes
//! them: `GET /oauth2/authorize` (the consent page, here consenting at once
//! as the configured person) and `POST /oauth2/token` (authorization-code and
//! refresh-token grants, client authentication by HTTP Basic or form fields).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use super::state::{secret, IssuedCode};
use super::Shared;

/// How long an authorization code lives.
const CODE_LIFETIME_MINUTES: i64 = 10;

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_string()).into_response()
}

fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    (StatusCode::FOUND, [(LOCATION, format!("{uri}{sep}{query}"))]).into_response()
}

/// `GET /oauth2/authorize`: checks the app and redirect URI, then sends the
/// browser back with a code (or `error=access_denied` when consent is refused).
pub(super) async fn authorize(State(shared): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut st = shared.lock();
    st.record("oauth2/authorize", json!(q));
    if q.get("client_id") != Some(&st.team.app_key) {
        return plain(StatusCode::BAD_REQUEST, "Invalid client_id: no app has this key.");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return plain(StatusCode::BAD_REQUEST, "Invalid response_type: expected \"code\" or \"token\".");
    }
    let Some(redirect_uri) = q.get("redirect_uri").filter(|u| !u.is_empty()).cloned() else {
        return plain(StatusCode::BAD_REQUEST, "This fake needs a redirect_uri.");
    };
    if !st.team.redirect_uris.is_empty() && !st.team.redirect_uris.contains(&redirect_uri) {
        return plain(
            StatusCode::BAD_REQUEST,
            "Invalid redirect_uri: it must match one of the app's registered redirect URIs exactly.",
        );
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let with_state = |mut params: Vec<(&'static str, String)>| {
        if !state.is_empty() {
            params.push(("state", state.clone()));
        }
        params
    };
    if st.deny_consent {
        let params = with_state(vec![
            ("error", "access_denied".into()),
            ("error_description", "The user chose not to give your app access to their Dropbox account.".into()),
        ]);
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return redirect(&redirect_uri, &refs);
    }
    let code = secret("code");
    let offline = q.get("token_access_type").map(String::as_str) == Some("offline");
    let issued = IssuedCode {
        redirect_uri: redirect_uri.clone(),
        offline,
        team: st.team.authorizer_is_team_admin,
        expires_at: Utc::now() + chrono::Duration::minutes(CODE_LIFETIME_MINUTES),
    };
    st.codes.insert(code.clone(), issued);
    let params = with_state(vec![("code", code)]);
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redirect(&redirect_uri, &refs)
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// The client id and secret, from `Authorization: Basic` or the form.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<(String, String)> {
    if let Some(basic) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        return Some((id.to_string(), secret.to_string()));
    }
    Some((form.get("client_id")?.clone(), form.get("client_secret")?.clone()))
}

/// `POST /oauth2/token`.
pub(super) async fn token(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => return token_error(StatusCode::BAD_REQUEST, "invalid_request", "The body is not form-encoded."),
    };
    let mut st = shared.lock();
    // Codes, tokens and secrets are masked: what a test reads is which fields came.
    let shown: HashMap<&String, &str> = form
        .iter()
        .map(|(k, v)| (k, if matches!(k.as_str(), "grant_type" | "redirect_uri" | "client_id") { v } else { "***" }))
        .collect();
    st.record("oauth2/token", json!(shown));
    match client_credentials(&headers, &form) {
        Some((id, secret)) if id == st.team.app_key && secret == st.team.app_secret => {}
        _ => return token_error(StatusCode::BAD_REQUEST, "invalid_client", "Invalid client_id or client_secret"),
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(issued) = form.get("code").and_then(|c| st.codes.remove(c)) else {
                return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "code doesn't exist or has expired");
            };
            if issued.expires_at < Utc::now() {
                return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "code doesn't exist or has expired");
            }
            if form.get("redirect_uri") != Some(&issued.redirect_uri) {
                return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri mismatch");
            }
            let access_token = st.issue_access_token(issued.team);
            let mut answer = json!({
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": st.access_token_ttl.as_secs(),
                "scope": granted_scope(issued.team),
            });
            if issued.team {
                answer["team_id"] = Value::String(st.team.team_id.clone());
            } else {
                answer["account_id"] = Value::String("dbid:AAHnonadminaccount".into());
                answer["uid"] = Value::String("12345".into());
            }
            if issued.offline {
                let refresh = secret("rt");
                st.refresh_tokens.insert(refresh.clone(), issued.team);
                answer["refresh_token"] = Value::String(refresh);
            }
            Json(answer).into_response()
        }
        Some("refresh_token") => {
            let Some(team) = form.get("refresh_token").and_then(|r| st.refresh_tokens.get(r).copied()) else {
                return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token is invalid or revoked");
            };
            let access_token = st.issue_access_token(team);
            Json(json!({
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": st.access_token_ttl.as_secs(),
            }))
            .into_response()
        }
        Some(_) => token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type is not supported"),
        None => token_error(StatusCode::BAD_REQUEST, "invalid_request", "No grant_type"),
    }
}

/// The scopes a token carries: the team scopes roster's app has, or a
/// user's scopes when a person who is not a team admin authorized.
fn granted_scope(team: bool) -> &'static str {
    if team {
        "members.delete members.read members.write team_info.read"
    } else {
        "account_info.read"
    }
}
