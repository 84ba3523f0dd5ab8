//! What a portal request can fail with, and how each failure is shown: a small
//! HTML page with the message for pages and forms, `{"error":{...}}` JSON for the
//! fetches of the live parts. Bad input is always a 4xx with a message that says
//! what to fix; only a fault of the server itself is a 500, with the cause in the
//! server log and not on the page.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use roster_engine::EngineError;
use roster_store::StoreError;

/// A refusal or failure of a portal request.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The request is malformed or asks for something invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The object named in the path does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what is stored (409).
    #[error("{0}")]
    Conflict(String),
    /// No session, or an expired one (401).
    #[error("sign in first: this page needs a session")]
    Unauthorized,
    /// A form without its CSRF token, or with another session's (403).
    #[error("{0}")]
    Forbidden(String),
    /// The server runs without the provisioning engine (503).
    #[error("this server runs without the provisioning engine")]
    NoEngine,
    /// The application answered with an error (502).
    #[error("{0}")]
    App(String),
    /// A fault of the server; the cause is logged, not shown (500).
    #[error("the server could not complete the request; see its log")]
    Internal,
}

impl PortalError {
    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            PortalError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PortalError::NotFound(_) => StatusCode::NOT_FOUND,
            PortalError::Conflict(_) => StatusCode::CONFLICT,
            PortalError::Unauthorized => StatusCode::UNAUTHORIZED,
            PortalError::Forbidden(_) => StatusCode::FORBIDDEN,
            PortalError::NoEngine => StatusCode::SERVICE_UNAVAILABLE,
            PortalError::App(_) => StatusCode::BAD_GATEWAY,
            PortalError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The same error as JSON, for fetches.
    pub fn into_json(self) -> Response {
        let code = match self.status().as_u16() {
            400 => "invalid_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            502 => "app_error",
            503 => "no_engine",
            _ => "internal",
        };
        let body = serde_json::json!({"error": {"code": code, "message": self.to_string()}});
        (self.status(), axum::Json(body)).into_response()
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · roster" }
                    link rel="stylesheet" href=(crate::assets::CSS_PATH);
                }
                body {
                    main class="narrow" {
                        h1 { (title) }
                        p class="error" role="alert" { (self.to_string()) }
                        p {
                            @if status == StatusCode::UNAUTHORIZED {
                                a href="/signin" { "Sign in" }
                            } @else {
                                a href="/" { "Back to the portal" }
                            }
                        }
                    }
                }
            }
        };
        (status, [(header::CACHE_CONTROL, "no-store")], axum::response::Html(body.into_string())).into_response()
    }
}

impl From<StoreError> for PortalError {
    fn from(e: StoreError) -> PortalError {
        match e {
            StoreError::NotFound { .. } => PortalError::NotFound(e.to_string()),
            StoreError::Conflict { message } | StoreError::Fenced { message } => PortalError::Conflict(message),
            StoreError::Invalid { message } => PortalError::BadRequest(message),
            other => {
                tracing::error!(error = %other, "store failure in the portal");
                PortalError::Internal
            }
        }
    }
}

impl From<EngineError> for PortalError {
    fn from(e: EngineError) -> PortalError {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Invalid(m) | EngineError::InvalidSetting { message: m, .. } => PortalError::BadRequest(m),
            EngineError::NotConfigured(m) => PortalError::Conflict(format!("provisioning is not configured: {m}")),
            EngineError::Connector(c) => PortalError::App(c.to_string()),
            e @ EngineError::Corrupt { .. } => PortalError::Conflict(e.to_string()),
            EngineError::Elsewhere(m) => PortalError::Conflict(m),
        }
    }
}

/// A JSON error response for fetch handlers.
pub struct JsonError(pub PortalError);

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        self.0.into_json()
    }
}

impl From<PortalError> for JsonError {
    fn from(e: PortalError) -> JsonError {
        JsonError(e)
    }
}

impl From<StoreError> for JsonError {
    fn from(e: StoreError) -> JsonError {
        JsonError(e.into())
    }
}

impl From<EngineError> for JsonError {
    fn from(e: EngineError) -> JsonError {
        JsonError(e.into())
    }
}
