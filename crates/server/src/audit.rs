//! The audit of the admin API. Every request that is not a GET (a change, or an
//! attempt at one) is written to the audit log once it is answered: who (the
//! token's principal and role), when, from which address, what (`PATCH
//! /apps/{app}/provisioning` and the request's path), the request's body, the
//! resource before and after, and the outcome.
//!
//! Before and after are the resource's GET representation, read through the API
//! itself around the change: the route's own GET when it shows one resource
//! ([`VIEWS`]), else its parent's (`POST /users/{user}/disable` shows
//! `/users/{user}`). A GET never carries a secret; the body and the answers are
//! redacted all the same (`roster_store::audit::redact`: every value under a key
//! naming a secret, a password or a token becomes `changed`), and each secret
//! value the body held is scrubbed from the outcome's text. A change without a
//! view (`POST /users`) keeps the answer as its after.
//!
//! Refusals of the authentication middleware (an unknown or expired token, a
//! role too low) are written there ([`crate::auth`]), and each token's first use
//! of a minute by the store (`Store::note_token_use`).

use crate::access::Verb;
use crate::auth::Principal;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use roster_store::audit::{scrub, secret_values};
use roster_store::{NewAuditEntry, Store};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// The GET routes that show one resource in full (not a page of a list), the
/// before and after of the changes under them.
const VIEWS: &[&str] = &[
    "/users/{user}",
    "/groups/{group}",
    "/apps/{app}",
    "/apps/{app}/roles",
    "/apps/{app}/provisioning",
    "/apps/{app}/provisioning/mappings",
    "/tokens",
];

/// The routes that take people from an HR source.
const UPLOADS: &[&str] = &["/sources/{source}/bulkUpload", "/sources/{source}/csv"];

/// The largest body or answer kept whole in an entry (as the request, or the
/// after of a change without a view); a larger one (a bulk import) is kept as
/// its size, so that the log does not grow by megabytes a call.
const MAX_KEPT_BYTES: usize = 256 * 1024;

/// The largest JSON answer the middleware reads through (far above any the API
/// gives to a change).
const MAX_READ_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// What the audit middleware needs: the store, and the API's own routes (without
/// authentication) to read resources through.
#[derive(Clone)]
pub struct AuditTrail {
    pub store: Store,
    pub reader: Router,
}

/// The view a change on `template` is seen through: its own GET when that shows
/// one resource, else its parent's.
fn view_of(template: &str) -> Option<&'static str> {
    let parent = template.rsplit_once('/').map(|(p, _)| p).unwrap_or_default();
    [template, parent].into_iter().find_map(|t| VIEWS.iter().copied().find(|v| *v == t))
}

/// The concrete path of `view` within a request's `path` (the same leading segments).
fn view_path(view: &str, path: &str) -> String {
    let depth = view.split('/').count();
    path.split('/').take(depth).collect::<Vec<_>>().join("/")
}

impl AuditTrail {
    /// The GET representation at `path` (under the API's prefix), if it answers 200.
    async fn read(&self, path: &str) -> Option<Value> {
        let request = Request::get(path).body(Body::empty()).ok()?;
        let response = self.reader.clone().oneshot(request).await.ok()?;
        if response.status() != StatusCode::OK {
            return None;
        }
        let bytes = axum::body::to_bytes(response.into_body(), crate::MAX_BODY_BYTES).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// A JSON document as an entry keeps it: whole up to [`MAX_KEPT_BYTES`], else
/// its size; `None` when it is not JSON.
fn kept(bytes: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if bytes.len() <= MAX_KEPT_BYTES {
        Some(value)
    } else {
        Some(serde_json::json!({"omitted": format!("{} bytes, more than the audit log keeps", bytes.len())}))
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// How a request went, in words: `ok (201)`, or `failed (400 invalid_request):
/// <the API's message>`, with the request's secret values scrubbed.
fn outcome(status: StatusCode, answer: Option<&Value>, secrets: &[String]) -> String {
    if status.is_success() || status.is_redirection() {
        return format!("ok ({})", status.as_u16());
    }
    let code = answer.and_then(|a| a["error"]["code"].as_str()).unwrap_or("error");
    let message = answer.and_then(|a| a["error"]["message"].as_str()).unwrap_or_default();
    scrub(&format!("failed ({} {code}): {message}", status.as_u16()), secrets)
}

/// The middleware: records every request but a GET, after it is answered.
pub async fn record(State(trail): State<Arc<AuditTrail>>, request: Request, next: Next) -> Response {
    let verb = Verb::of(request.method());
    let principal = request.extensions().get::<Principal>().cloned();
    let (Some(verb), Some(principal)) = (verb, principal) else { return next.run(request).await };
    if verb == Verb::Get {
        return next.run(request).await;
    }
    let template = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let template = template.strip_prefix(crate::API_PREFIX).unwrap_or(&template).to_string();
    let path = request.uri().path();
    let path = path.strip_prefix(crate::API_PREFIX).unwrap_or(path).to_string();
    let target = match request.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let (parts, body) = request.into_parts();
    // A push of people: its records are the source's (batches and log), not the audit's.
    let upload = UPLOADS.contains(&template.as_str());
    let limit = if upload { crate::api::sources::MAX_UPLOAD } else { crate::MAX_BODY_BYTES };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return crate::ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "too_large",
                message: format!("the request body is larger than {limit} bytes"),
                field: None,
            }
            .into_response()
        }
    };
    let secrets = serde_json::from_slice::<Value>(&bytes).ok().as_ref().map(secret_values).unwrap_or_default();
    let body_json = if upload {
        Some(serde_json::json!({"omitted": format!("{} bytes of records, kept in the source's batches", bytes.len())}))
    } else {
        kept(&bytes)
    };
    let view = view_of(&template).map(|v| view_path(v, &path));
    let before = match &view {
        Some(p) => trail.read(p).await,
        None => None,
    };

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;

    let status = response.status();
    let (parts, body) = response.into_parts();
    let (answer, body) = if is_json(&parts.headers) {
        match axum::body::to_bytes(body, MAX_READ_ANSWER_BYTES).await {
            Ok(bytes) => {
                let answer = kept(&bytes);
                (answer, Body::from(bytes))
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read an answer of the API to audit it");
                return crate::ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: "the server could not complete the request; see its log".into(),
                    field: None,
                }
                .into_response();
            }
        }
    } else {
        (None, body)
    };
    let after = match &view {
        Some(p) => trail.read(p).await,
        None if status.is_success() => answer.clone(),
        None => None,
    };
    let entry = NewAuditEntry {
        at: 0,
        principal: principal.name.clone(),
        role: Some(principal.role),
        source: principal.address.map(|a| a.to_string()),
        action: format!("{} {template}", verb.as_str()),
        target: Some(scrub(&target, &secrets)),
        request: body_json,
        before,
        after,
        outcome: outcome(status, answer.as_ref(), &secrets),
    };
    if let Err(e) = trail.store.append_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, principal = %entry.principal, "cannot write the audit log");
    }
    Response::from_parts(parts, body)
}

/// Writes an entry made outside the middleware (a refusal of the token check,
/// the OAuth callback); a failure to write is logged.
pub async fn write(store: &Store, entry: NewAuditEntry) {
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "cannot write the audit log");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access;

    fn check(template: &str, path: &str, expected: Option<&str>) {
        let got = view_of(template).map(|v| view_path(v, path));
        assert_eq!(got.as_deref(), expected, "{template}");
    }

    #[test]
    fn changes_are_seen_through_their_resource() {
        check("/users/{user}", "/users/alice", Some("/users/alice"));
        check("/users/{user}/disable", "/users/alice/disable", Some("/users/alice"));
        check("/apps/{app}/provisioning", "/apps/7/provisioning", Some("/apps/7/provisioning"));
        check("/apps/{app}/provisioning/start", "/apps/7/provisioning/start", Some("/apps/7/provisioning"));
        check(
            "/apps/{app}/provisioning/mappings",
            "/apps/7/provisioning/mappings",
            Some("/apps/7/provisioning/mappings"),
        );
        check("/apps/{app}/roles/{role}", "/apps/7/roles/Viewer", Some("/apps/7/roles"));
        check("/tokens", "/tokens", Some("/tokens"));
        check("/tokens/{name}", "/tokens/ci", Some("/tokens"));
        check("/users", "/users", None);
        check("/users/bulk", "/users/bulk", None);
        check("/groups/{group}/members/{member}", "/groups/g/members/u", None);
    }

    #[test]
    fn every_view_is_a_get_of_the_api() {
        for view in VIEWS {
            assert!(access::operation(Verb::Get, view).is_some(), "{view} is not a GET of the table");
        }
    }

    #[test]
    fn outcomes_say_how_it_went_without_secrets() {
        let secrets = vec!["s3cr3t".to_string()];
        assert_eq!(outcome(StatusCode::CREATED, None, &secrets), "ok (201)");
        let answer = serde_json::json!({"error": {"code": "invalid_request", "message": "token s3cr3t is bad"}});
        assert_eq!(
            outcome(StatusCode::BAD_REQUEST, Some(&answer), &secrets),
            "failed (400 invalid_request): token changed is bad"
        );
    }
}
