//! Sign-in and sign-out. An admin signs in with an admin account (name and
//! password, checked against the Argon2id hash) or with an API token (checked
//! like the REST API's bearer tokens, against the stored hashes). Success starts a
//! session: the browser gets its secret as an HttpOnly, SameSite=Strict cookie.
//!
//! Each sign-in, failed sign-in and sign-out is written to the audit log, with
//! the name the attempt gave (never a password or a token).
//!
//! The sign-in form itself is protected against forged posts by a double-submit
//! nonce: a short-lived cookie and a hidden field that must match.

use crate::audit;
use crate::error::PortalError;
use crate::form::{field, Form};
use crate::layout::{field_error, FieldErrors};
use crate::session::{cookie, is_secure, same_secret, set_cookie, Args, Session, COOKIE};
use crate::throttle::{retry_after_secs, ThrottleKey, TOKEN_ACCOUNT};
use crate::PortalState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use maud::{html, DOCTYPE};
use rand::RngCore;
use roster_store::secrets::{ExposeSecret, SecretString};
use roster_store::TokenCheck;
use serde::Deserialize;
use std::net::SocketAddr;

const NONCE_COOKIE: &str = "roster_signin";
const NONCE_FIELD: &str = "_signin";

#[derive(Debug, Default, Deserialize)]
pub struct SigninArgs {
    next: Option<String>,
}

/// Where to go after sign-in: a path on this origin, else `/`.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if is_same_origin_path(n) => n,
        _ => "/",
    }
}

/// Whether a browser told to go to `next` stays on this origin. Browsers drop
/// tabs and line breaks from a URL and read `\` as `/`, so `/\t/evil.example`
/// and `/\\evil.example` go to evil.example like `//evil.example` does: a path
/// must start with a single `/`, and hold no `//` (before its query), no
/// backslash and no control character, as written and once percent-decoded
/// (twice over, for a value encoded twice on its way here).
fn is_same_origin_path(next: &str) -> bool {
    if next.len() >= 2048 {
        return false;
    }
    let once = percent_encoding::percent_decode_str(next).decode_utf8_lossy();
    let twice = percent_encoding::percent_decode_str(&once).decode_utf8_lossy().into_owned();
    [next, once.as_ref(), twice.as_str()].iter().all(|form| {
        let path = form.split(['?', '#']).next().unwrap_or_default();
        form.starts_with('/') && !path.contains("//") && !form.contains('\\') && !form.chars().any(char::is_control)
    })
}

fn nonce() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn render(
    state: &PortalState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    errors: &FieldErrors,
    name: &str,
) -> Response {
    let n = nonce();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · roster" }
                link rel="stylesheet" href=(crate::assets::CSS_PATH);
            }
            body {
                main class="narrow" id="main" {
                    h1 { "Sign in to roster" }
                    p class="lead" { "Manage the directory and provisioning to your applications." }
                    (errors.banner())
                    section class="card" {
                        h2 { "With an admin account" }
                        form method="post" action="/signin" {
                            input type="hidden" name=(NONCE_FIELD) value=(n);
                            input type="hidden" name="next" value=(next);
                            input type="hidden" name="method" value="password";
                            label for="name" { "Admin name" }
                            input id="name" name="name" type="text" autocomplete="username" value=(name) required;
                            label for="password" { "Password" }
                            input id="password" name="password" type="password" autocomplete="current-password" required
                                aria-describedby=[errors.get("password").map(|_| "err-password")];
                            (field_error(errors, "password"))
                            div class="actions" { button type="submit" { "Sign in" } }
                        }
                        p class="hint" { "Create an admin account on the server with " code { "roster admin create NAME" } "." }
                    }
                    section class="card" {
                        h2 { "With an API token" }
                        form method="post" action="/signin" {
                            input type="hidden" name=(NONCE_FIELD) value=(n);
                            input type="hidden" name="next" value=(next);
                            input type="hidden" name="method" value="token";
                            label for="token" { "API token" }
                            input id="token" name="token" type="password" autocomplete="off" required
                                aria-describedby=[errors.get("token").map(|_| "err-token")];
                            (field_error(errors, "token"))
                            div class="actions" { button type="submit" class="secondary" { "Sign in with the token" } }
                        }
                        p class="hint" { "The first start of the server writes the admin token to " code { "admin.token" } " in its data directory." }
                    }
                }
            }
        }
    };
    let secure = is_secure(state, headers);
    let mut response = (status, Html(markup.into_string())).into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(NONCE_COOKIE, &n, 3600, secure));
    response
}

/// `GET /signin`: the sign-in page (or straight on, with a live session).
pub async fn page(State(state): State<PortalState>, headers: HeaderMap, Args(args): Args<SigninArgs>) -> Response {
    let next = safe_next(args.next.as_deref()).to_string();
    if let Some(secret) = cookie(&headers, COOKIE) {
        if let Ok(Some(_)) = state.store.session(&secret, state.lifetime).await {
            return Redirect::to(&next).into_response();
        }
    }
    render(&state, &headers, StatusCode::OK, &next, &FieldErrors::default(), "")
}

/// How a sign-in proves who it is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Method {
    #[default]
    Password,
    Token,
}

/// The sign-in form: the nonce that shows it came from this portal's page,
/// where to go next, and an admin's name and password or an API token.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    /// The double-submit nonce, in the field [`NONCE_FIELD`] names.
    #[serde(rename = "_signin")]
    nonce: Option<String>,
    next: Option<String>,
    method: Method,
    #[serde(deserialize_with = "field::text")]
    name: String,
    token: Option<SecretString>,
    password: Option<SecretString>,
}

/// `POST /signin`: checks the credentials and starts a session.
pub async fn submit(
    State(state): State<PortalState>,
    address: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let address = address.map(|axum::Extension(ConnectInfo(a))| a.ip());
    let nonce_ok = match (cookie(&headers, NONCE_COOKIE), form.nonce.as_deref()) {
        (Some(c), Some(f)) => same_secret(&c, f),
        _ => false,
    };
    if !nonce_ok {
        return PortalError::Forbidden(
            "the sign-in form expired or was not sent from this portal: reload the page and sign in again".into(),
        )
        .into_response();
    }
    let next = safe_next(form.next.as_deref()).to_string();
    let mut errors = FieldErrors::default();
    let name = form.name;
    // Token sign-ins count as one account: guessing tokens from an address.
    let (field, account) = match form.method {
        Method::Token => ("token", TOKEN_ACCOUNT.to_string()),
        Method::Password => ("password", name.to_lowercase()),
    };
    let keys = [ThrottleKey::Account(account, address), ThrottleKey::Address(address)];
    let source = address.map(|a| a.to_string());
    // Who the attempt claims to be, for the audit log: the admin name typed (at
    // most 64 characters), or the token's name when the token is known.
    let typed_name: String = name.chars().take(64).collect();
    let mut claimed = match form.method {
        Method::Token => audit::UNKNOWN_TOKEN.to_string(),
        Method::Password => format!("admin:{typed_name}"),
    };
    if let Some(wait) = state.throttle.retry_after(&keys) {
        let secs = retry_after_secs(wait);
        let outcome = format!("refused (429): too many failed attempts, wait {secs} seconds");
        audit::write(&state.store, &claimed, None, source, "sign-in", &claimed, None, outcome).await;
        errors.add(field, format!("Too many failed attempts: wait {secs} seconds, then sign in again."));
        let mut response = render(&state, &headers, StatusCode::TOO_MANY_REQUESTS, &next, &errors, &name);
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return response;
    }
    let mut claimed_role = None;
    let principal = match form.method {
        Method::Token => {
            let token = form.token.as_ref().map(|t| t.expose_secret().trim()).unwrap_or_default();
            if token.is_empty() || token.len() > 512 {
                errors.add("token", "Enter an API token.");
                None
            } else {
                match state.store.verify_token(token).await {
                    Ok(TokenCheck::Valid(t)) => Some((format!("token:{}", t.name), t.role)),
                    Ok(TokenCheck::Expired(t)) => {
                        claimed = format!("token:{}", t.name);
                        claimed_role = Some(t.role);
                        errors.add("token", "This token has expired: sign in with a newer one.");
                        None
                    }
                    Ok(TokenCheck::Unknown) => {
                        errors.add("token", "This token is not valid: it may have been revoked.");
                        None
                    }
                    Err(e) => return PortalError::from(e).into_response(),
                }
            }
        }
        Method::Password => {
            let password = form.password.unwrap_or_else(|| SecretString::from(""));
            if name.is_empty() || password.expose_secret().is_empty() {
                errors.add("password", "Enter the admin name and the password.");
                None
            } else {
                match crate::password::check_admin(&state.store, &state.hashing, &name, &password).await {
                    Ok(Some(a)) => Some((format!("admin:{}", a.name), a.role)),
                    Ok(None) => {
                        errors.add("password", "The admin name or the password is wrong.");
                        None
                    }
                    Err(e) => return e.into_response(),
                }
            }
        }
    };
    let Some((principal, role)) = principal else {
        state.throttle.failed(&keys);
        let why = errors.get(field).unwrap_or("the credentials were refused");
        let outcome = format!("failed (401): {why}");
        audit::write(&state.store, &claimed, claimed_role, source, "sign-in", &claimed, None, outcome).await;
        // A little delay makes guessing slower without holding anything.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        return render(&state, &headers, StatusCode::UNAUTHORIZED, &next, &errors, &name);
    };
    state.throttle.succeeded(&keys[0]);
    if let Err(e) = state.store.purge_expired_sessions().await {
        tracing::warn!(error = %e, "cannot purge expired portal sessions");
    }
    let (secret, _) = match state.store.create_session(&principal, role, state.lifetime).await {
        Ok(s) => s,
        Err(e) => return PortalError::from(e).into_response(),
    };
    tracing::info!(principal = %principal, role = %role, "portal sign-in");
    audit::write(&state.store, &principal, Some(role), source, "sign-in", &principal, None, "ok".into()).await;
    let secure = is_secure(&state, &headers);
    let mut response = Redirect::to(&next).into_response();
    let max_age = state.lifetime.absolute_ms / 1000;
    response.headers_mut().append(header::SET_COOKIE, set_cookie(COOKIE, &secret, max_age, secure));
    response.headers_mut().append(header::SET_COOKIE, set_cookie(NONCE_COOKIE, "", 0, secure));
    response
}

/// `POST /signout`: ends the session and clears the cookie.
pub async fn signout(
    State(state): State<PortalState>,
    session: Session,
    address: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    if let Some(secret) = cookie(&headers, COOKIE) {
        if let Err(e) = state.store.delete_session(&secret).await {
            return PortalError::from(e).into_response();
        }
    }
    let source = address.map(|axum::Extension(ConnectInfo(a))| a.ip().to_string());
    let principal = &session.principal;
    audit::write(&state.store, principal, Some(session.role), source, "sign-out", principal, None, "ok".into()).await;
    tracing::info!(principal = %session.principal, "portal sign-out");
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(COOKIE, "", 0, is_secure(&state, &headers)));
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    fn check(next: Option<&str>, expected: &str) {
        assert_eq!(safe_next(next), expected, "{next:?}");
    }

    #[test]
    fn next_is_local_only() {
        check(Some("/users?q=a"), "/users?q=a");
        check(Some("/apps/7/logs?since=1&until=2"), "/apps/7/logs?since=1&until=2");
        check(Some("/users?q=http://x"), "/users?q=http://x");
        check(Some("//evil.example/x"), "/");
        check(Some("https://evil.example/"), "/");
        check(Some("/\\evil"), "/");
        check(Some("/apps\\..\\x"), "/");
        check(Some("/\t/evil.example/phish"), "/");
        check(Some("/%09/evil.example/phish"), "/");
        check(Some("/%2509/evil.example/phish"), "/");
        check(Some("/%5Cevil.example"), "/");
        check(Some("/%2F/evil.example"), "/");
        check(Some("/\r\n/evil.example"), "/");
        check(Some("/a//b"), "/");
        check(Some("apps"), "/");
        check(Some(""), "/");
        check(None, "/");
    }
}
