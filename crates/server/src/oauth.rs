//! OAuth Authorize for apps whose admin credentials come from a vendor's
//! consent page (Dropbox for Business): `POST /api/v1/apps/{app}/provisioning/authorize`
//! gives the URL to open, and the public route `GET /oauth/callback` is where
//! the vendor sends the admin's browser back. The callback needs no API
//! token (a browser carries none): the one-time `state` proves which
//! Authorize click it answers. It shows a small page, never a token.

use crate::{ApiError, AppState};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use roster_engine::authorize::Consent;
use roster_engine::EngineError;
use roster_store::secrets::{ExposeSecret, SecretString};
use roster_store::NewAuditEntry;
use serde::{Deserialize, Serialize};

use std::net::SocketAddr;

/// The path of the callback under roster's public URL.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// roster's redirect URI: its public URL and the callback path.
pub fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.public_url.trim_end_matches('/'))
}

/// `POST /api/v1/apps/{app}/provisioning/authorize`: `{"url": ...}` for a
/// team admin to open.
/// Where to send a team admin to Authorize, and where the vendor sends the
/// browser back.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// The vendor's consent page, with roster's request.
    url: String,
    /// roster's `/oauth/callback`.
    redirect_uri: String,
}

pub async fn authorize(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Authorization>, ApiError> {
    let app = state.store.find_app(&key).await?;
    let engine = crate::api::engine(&state)?;
    let url = engine.begin_authorization(&app.id, &redirect_uri(&state)).await?;
    Ok(Json(Authorization { url, redirect_uri: redirect_uri(&state) }))
}

/// What the vendor puts in the callback's query.
#[derive(Debug, Deserialize)]
pub struct Callback {
    /// The authorization code: a one-time credential, never printed.
    code: Option<SecretString>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\">\n<h1>{title}</h1>\n<p>{message}</p>\n\
         </body></html>\n",
        title = escape(title),
        message = escape(message),
    );
    (status, [("cache-control", "no-store")], Html(body)).into_response()
}

/// `GET /oauth/callback`: completes an Authorize request, and writes how it
/// went to the audit log (never the code or the state).
pub async fn callback(
    State(state): State<AppState>,
    address: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let response = complete(&state, query).await;
    let (status, target) = (response.status(), response.extensions().get::<AuthorizedApp>().map(|a| a.0.clone()));
    let entry = NewAuditEntry {
        principal: "oauth:callback".into(),
        source: address.map(|axum::Extension(ConnectInfo(a))| a.ip().to_string()),
        action: format!("GET {CALLBACK_PATH}"),
        target,
        outcome: if status.is_success() {
            format!("ok ({}): the app's credentials were saved", status.as_u16())
        } else {
            format!("failed ({})", status.as_u16())
        },
        ..NewAuditEntry::default()
    };
    crate::audit::write(&state.store, entry).await;
    response
}

/// The app an Authorize completed for, carried to the audit entry.
#[derive(Clone)]
struct AuthorizedApp(String);

async fn complete(
    state: &AppState,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return page(StatusCode::BAD_REQUEST, "Authorization failed", "the request carries no valid OAuth answer");
    };
    let Some(oauth_state) = q.state.filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "the answer carries no state, so roster cannot tell which Authorize it answers: click Authorize again",
        );
    };
    let consent = match (q.code.filter(|c| !c.expose_secret().is_empty()), q.error) {
        (_, Some(error)) => Consent::Refused { error, description: q.error_description },
        (Some(code), None) => Consent::Code(code),
        (None, None) => Consent::Refused { error: "no code".into(), description: None },
    };
    let Some(engine) = state.engine.as_ref() else {
        return page(StatusCode::SERVICE_UNAVAILABLE, "Authorization failed", "this server runs without the engine");
    };
    match engine.complete_authorization(&oauth_state, consent, &redirect_uri(state)).await {
        Ok(app) => {
            let mut response = page(
                StatusCode::OK,
                "roster is authorized",
                &format!("roster is authorized for {app}; you can close this tab."),
            );
            response.extensions_mut().insert(AuthorizedApp(app));
            response
        }
        Err(EngineError::Store(e)) => {
            tracing::error!(error = %e, "OAuth callback: store failure");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Authorization failed", "roster could not save it; see its log")
        }
        Err(e) => page(StatusCode::BAD_REQUEST, "Authorization failed", &e.to_string()),
    }
}
