//! API errors: every refusal is a JSON body `{"error":{"code","message"}}` with a
//! 4xx status; only a real fault of the server itself is a 5xx.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_store::StoreError;
use serde::Serialize;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The settings field a refusal is about (`invalid_setting`), so that a
    /// client shows the message next to it.
    pub field: Option<String>,
}

impl ApiError {
    /// A 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_request", message: message.into(), field: None }
    }

    /// A 404 with a message.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into(), field: None }
    }

    /// A 401.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "a valid API token is required: send 'Authorization: Bearer <token>'".into(),
            field: None,
        }
    }

    /// A 401 for a token whose expiry has passed.
    pub fn token_expired(name: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "token_expired",
            message: format!("token expired: the token {name:?} is past its expiry; create a new one"),
            field: None,
        }
    }

    /// A 403: the caller is known but may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::FORBIDDEN, code: "forbidden", message: message.into(), field: None }
    }
}

/// The body of every refusal and failure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What failed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// What kind of refusal (`invalid_request`, `invalid_setting`, `not_found`, `forbidden`...).
    pub code: &'static str,
    /// What failed, on which object, and what to do.
    pub message: String,
    /// The settings field a refused setting is (`invalid_setting` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message, field: self.field } };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound { .. } => {
                ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: e.to_string(), field: None }
            }
            StoreError::Conflict { message } => {
                ApiError { status: StatusCode::CONFLICT, code: "conflict", message, field: None }
            }
            StoreError::Fenced { message } => {
                ApiError { status: StatusCode::CONFLICT, code: "fenced", message, field: None }
            }
            StoreError::Invalid { message } => ApiError::bad_request(message),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: "the server could not complete the request; see its log".into(),
                    field: None,
                }
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        match r {
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "too_large",
                message: format!("the request body is larger than {} bytes", crate::MAX_BODY_BYTES),
                field: None,
            },
            JsonRejection::MissingJsonContentType(_) => ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                message: "send the body as JSON with 'Content-Type: application/json'".into(),
                field: None,
            },
            other => ApiError::bad_request(format!("invalid JSON body: {}", other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::bad_request(format!("invalid query string: {}", r.body_text()))
    }
}

/// The answer to a route that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
