//! `/config`: the apps as one document (configuration as code), exported and
//! applied (`dryRun=true` says what would change and changes nothing).

use super::{engine, JsonBody, QueryArgs};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use roster_engine::config::{ApplyReport, ConfigDocument};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    /// App names, comma-separated (every app when absent).
    apps: Option<String>,
}

pub async fn export(State(state): State<AppState>, q: QueryArgs<ExportArgs>) -> Result<Json<ConfigDocument>, ApiError> {
    let axum::extract::Query(a) = q?;
    let names: Vec<String> = a
        .apps
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Json(engine(&state)?.export_config(&names).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyArgs {
    #[serde(default)]
    dry_run: bool,
}

pub async fn apply(
    State(state): State<AppState>,
    q: QueryArgs<ApplyArgs>,
    body: JsonBody<ConfigDocument>,
) -> Result<Json<ApplyReport>, ApiError> {
    let axum::extract::Query(a) = q?;
    let Json(doc) = body?;
    Ok(Json(engine(&state)?.apply_config(doc, a.dry_run).await?))
}

/// What `POST /scim/validate` runs: someone's SCIM endpoint and its token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateRequest {
    /// The endpoint's base URL, e.g. `https://app.example.com/scim/v2`.
    url: String,
    /// Its bearer token (used for these requests only: never kept or shown).
    #[schema(value_type = String)]
    token: secrecy::SecretString,
    /// The endpoint may be on a private network address.
    #[serde(default)]
    allow_private_networks: bool,
    /// The endpoint may be plain http on a host other than loopback.
    #[serde(default)]
    allow_insecure_http: bool,
}

/// The validator's report.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateReport {
    /// Each check: `name`, `what`, `rfc`, `outcome` (`passed`, `failed` with
    /// `request`, `answer` and `why`, `notSupported` with `fallback`, `skipped`
    /// with `why`).
    #[schema(value_type = Vec<Object>)]
    checks: Vec<roster_connectors::validate::Check>,
    passed: usize,
    failed: usize,
    not_supported: usize,
    skipped: usize,
}

/// The most time one validation takes on the server.
const VALIDATE_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs the SCIM validator from the server against an endpoint, under the
/// rules an app's tenant URL follows (no link-local or metadata address;
/// private networks and plain http off loopback only when allowed).
pub async fn validate(body: JsonBody<ValidateRequest>) -> Result<Json<ValidateReport>, ApiError> {
    use roster_connectors::validate::{Limits, Outcome};
    use secrecy::ExposeSecret;
    let Json(req) = body?;
    let limits = Limits {
        timeout: std::time::Duration::from_secs(10),
        allow_private_networks: req.allow_private_networks,
        allow_insecure_http: req.allow_insecure_http,
    };
    let run = roster_connectors::validate::validate(&req.url, req.token.expose_secret(), limits);
    let checks = match tokio::time::timeout(VALIDATE_LIMIT, run).await {
        Err(_) => {
            return Err(ApiError {
                status: axum::http::StatusCode::GATEWAY_TIMEOUT,
                code: "timeout",
                message: format!("the endpoint did not let the checks end within {} s", VALIDATE_LIMIT.as_secs()),
                field: None,
            })
        }
        Ok(Err(e)) => {
            return Err(ApiError {
                status: axum::http::StatusCode::BAD_REQUEST,
                code: "invalid_setting",
                message: e.to_string(),
                field: Some("url".into()),
            })
        }
        Ok(Ok(checks)) => checks,
    };
    let count = |f: fn(&Outcome) -> bool| checks.iter().filter(|c| f(&c.outcome)).count();
    Ok(Json(ValidateReport {
        passed: count(|o| matches!(o, Outcome::Passed)),
        failed: count(|o| matches!(o, Outcome::Failed { .. })),
        not_supported: count(|o| matches!(o, Outcome::NotSupported { .. })),
        skipped: count(|o| matches!(o, Outcome::Skipped { .. })),
        checks,
    }))
}
