//! Sessions and CSRF, enforced in one place: the middleware in front of every
//! portal route but sign-in and the assets.
//!
//! A request without a live session is refused: a page is redirected to the
//! sign-in page, a fetch (a live part of a page) gets a 401. Every POST must prove
//! it comes from one of the session's own pages: a form carries the session's
//! CSRF token in its `_csrf` field, a fetch in the `X-CSRF-Token` header; anything
//! else is a 403 before a handler runs. The session's role must allow the route
//! ([`crate::access`]), else the request is a 403 page (or JSON for a fetch) that
//! names the role it needs. Every action and every refusal is written to the
//! audit log ([`crate::audit`]). Form bodies are read here once, bounded, and
//! handed on unchanged to the handlers, which read them as [`crate::form`] says.

use crate::access::{self, Kind};
use crate::audit;
use crate::error::PortalError;
use crate::form::{read_form, FormFields};
use crate::PortalState;
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use roster_store::AccessRole;

/// The name of the session cookie.
pub const COOKIE: &str = "roster_session";
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header a fetch carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The signed-in session of a request.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in: `admin:<name>` or `token:<token name>`.
    pub principal: String,
    /// What the principal may do: the admin account's role or the token's.
    pub role: AccessRole,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// Whether this session may open a page (`Kind::Page`) or send a form
    /// (`Kind::Action`) at `path`: pages show a link or a button only then.
    pub fn may(&self, kind: Kind, path: &str) -> bool {
        self.role.allows(access::required_for_path(kind, path))
    }

    /// Whether this session may send a form to `path`.
    pub fn may_post(&self, path: &str) -> bool {
        self.may(Kind::Action, path)
    }

    /// Whether this session may open the page at `path`.
    pub fn may_open(&self, path: &str) -> bool {
        self.may(Kind::Page, path)
    }

    /// The principal as shown in the header bar.
    pub fn display_name(&self) -> String {
        match self.principal.split_once(':') {
            Some(("admin", name)) => name.to_string(),
            Some(("token", name)) => format!("API token {name}"),
            _ => self.principal.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Session, PortalError> {
        parts.extensions.get::<Session>().cloned().ok_or(PortalError::Unauthorized)
    }
}

/// A page's query string, read into `T` (every field optional); an unreadable
/// one is a 400 that says what is wrong.
#[derive(Debug, Clone, Default)]
pub struct Args<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> FromRequestParts<S> for Args<T> {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Args<T>, PortalError> {
        if parts.uri.query().is_none_or(str::is_empty) {
            return Ok(Args(T::default()));
        }
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(t)| Args(t))
            .map_err(|e| PortalError::BadRequest(format!("invalid query string: {}", e.body_text())))
    }
}

/// The value of a cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// A `Set-Cookie` value for a cookie of the portal: HttpOnly, SameSite=Strict,
/// and Secure when the portal is reached over TLS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("roster_invalid=; Max-Age=0"))
}

/// Whether the request reached the portal over TLS: the portal's public URL is
/// https, or the proxy in front says so.
pub fn is_secure(state: &PortalState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Whether the request is a fetch of a live part (it wants JSON or a fragment,
/// not a page to show).
pub fn is_fetch(headers: &HeaderMap) -> bool {
    headers.contains_key("x-portal-fetch")
        || !headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(request: &Request) -> Response {
    if is_fetch(request.headers()) {
        return PortalError::Unauthorized.into_json();
    }
    let target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let next = if request.method() == Method::GET && target != "/" {
        format!("/signin?next={}", form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>())
    } else {
        "/signin".to_string()
    };
    Redirect::to(&next).into_response()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// The middleware: a live session for every request, the CSRF token on every POST.
pub async fn require_session(State(state): State<PortalState>, request: Request, next: Next) -> Response {
    let Some(secret) = cookie(request.headers(), COOKIE) else {
        return refuse(&request);
    };
    let session = match state.store.session(&secret, state.lifetime).await {
        Ok(Some(s)) => Session { principal: s.principal, role: s.role, csrf: s.csrf_token },
        Ok(None) => return refuse(&request),
        Err(e) => return PortalError::from(e).into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let mut body = body;
    if parts.method == Method::POST {
        let forbidden = |what: &str| {
            let e = PortalError::Forbidden(format!(
                "{what}: reload the page and send the form again (this protects you against forged requests)"
            ));
            if is_fetch(&parts.headers) {
                e.into_json()
            } else {
                e.into_response()
            }
        };
        if is_form(&parts.headers) {
            let (bytes, fields) = match read_form(body).await {
                Ok(read) => read,
                Err(e) => return e.into_response(),
            };
            match fields.get(CSRF_FIELD) {
                Some(t) if same_secret(t, &session.csrf) => {}
                Some(_) => return forbidden("the form's CSRF token is not this session's"),
                None => return forbidden("the form has no CSRF token"),
            }
            parts.extensions.insert(fields);
            body = Body::from(bytes);
        } else {
            let header = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            match header {
                Some(t) if same_secret(t, &session.csrf) => {}
                _ => return forbidden("the request has no valid CSRF token"),
            }
        }
    }
    let kind = Kind::of(&parts.method);
    let template = parts.extensions.get::<MatchedPath>().map_or("", |p| p.as_str()).to_string();
    let action = format!("{} {template}", parts.method);
    let target = parts.uri.path().to_string();
    let needed = access::required(kind, &template);
    if !session.role.allows(needed) {
        let message = access::refusal(session.role, needed, kind);
        let outcome = format!("refused (403): {message}");
        let source = audit::source(&parts);
        audit::write(&state.store, &session.principal, Some(session.role), source, &action, &target, None, outcome)
            .await;
        let e = PortalError::Forbidden(message);
        return if is_fetch(&parts.headers) { e.into_json() } else { e.into_response() };
    }
    // Every action but sign-out (written down by its handler) goes to the audit
    // log, with its form.
    let audited = kind == Kind::Action && template != "/signout";
    let request = parts.extensions.get::<FormFields>().map(audit::fields);
    let (principal, role, source) = (session.principal.clone(), session.role, audit::source(&parts));
    parts.extensions.insert(session);
    let response = next.run(Request::from_parts(parts, body)).await;
    if audited {
        let outcome = audit::outcome(response.status());
        audit::write(&state.store, &principal, Some(role), source, &action, &target, request, outcome).await;
    }
    response
}

/// Security headers on every portal response: no framing, no sniffing, scripts
/// and styles only from the portal itself, pages never cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cookie(header_value: &str, name: &str, expected: Option<&str>) {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(header_value).expect("test header is ASCII"));
        assert_eq!(cookie(&h, name).as_deref(), expected, "{header_value}");
    }

    #[test]
    fn cookies() {
        check_cookie("roster_session=abc", COOKIE, Some("abc"));
        check_cookie("a=1; roster_session=abc; b=2", COOKIE, Some("abc"));
        check_cookie("roster_session_x=abc", COOKIE, None);
        check_cookie("roster_session=", COOKIE, None);
        check_cookie("other=1", COOKIE, None);
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
