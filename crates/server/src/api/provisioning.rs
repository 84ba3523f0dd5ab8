//! `/apps/{app}/provisioning`: the provisioning job of an application: settings
//! (secrets write-only), test connection, start/stop/restart, sync, status, logs
//! (JSON or CSV), provision on demand, and the mapping document.

use super::{engine, JsonBody, QueryArgs};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_engine::connect::ConnectionTest;
use roster_engine::drift::{DriftReport, DriftRequest};
use roster_engine::on_demand::{Preview, ProvisioningOutcome};
use roster_engine::plan::{PlanProposal, ProvisioningPlan};
use roster_engine::settings::{SettingsPatch, SettingsView, Status};
use roster_engine::status::{AllowedDeletes, Counts, ProvisioningStatus};
use roster_engine::EngineError;
use roster_mapping::AppMappings;
use roster_store::{AppId, LogAction, LogQuery, LogStatus, UnknownValue};
use serde::{Deserialize, Serialize};

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Invalid(m) => ApiError::bad_request(m),
            EngineError::InvalidSetting { field, message } => {
                ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_setting", message, field: Some(field) }
            }
            EngineError::NotConfigured(m) => ApiError {
                status: StatusCode::CONFLICT,
                code: "not_configured",
                message: format!("provisioning is not configured: {m}"),
                field: None,
            },
            EngineError::Connector(c) => {
                ApiError { status: StatusCode::BAD_GATEWAY, code: "app_error", message: c.to_string(), field: None }
            }
            EngineError::Elsewhere(message) => {
                ApiError { status: StatusCode::CONFLICT, code: "elsewhere", message, field: None }
            }
            // Stored state roster cannot read: nothing the request can fix, and
            // nothing secret in the message, which names the app and the column.
            e @ EngineError::Corrupt { .. } => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "corrupt_job",
                message: e.to_string(),
                field: None,
            },
        }
    }
}

async fn app_id(state: &AppState, key: &str) -> Result<AppId, ApiError> {
    Ok(state.store.find_app(key).await?.id)
}

pub async fn show(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<SettingsView>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.settings_view(&app).await?))
}

pub async fn configure(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<SettingsPatch>,
) -> Result<Json<SettingsView>, ApiError> {
    let Json(patch) = body?;
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.configure(&app, patch).await?))
}

pub async fn test_connection(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<ConnectionTest>, ApiError> {
    let app = app_id(&state, &key).await?;
    // A failed test is an answer, not an error of this call.
    Ok(Json(match engine(&state)?.test_connection(&app).await {
        Ok(checked) => ConnectionTest { ok: true, message: checked },
        Err(EngineError::Store(e)) => return Err(e.into()),
        Err(e) => ConnectionTest { ok: false, message: e.to_string() },
    }))
}

pub async fn start(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<SettingsView>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.set_status(&app, Status::On).await?))
}

pub async fn stop(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<SettingsView>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.set_status(&app, Status::Off).await?))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RestartArgs {
    #[serde(default)]
    full: bool,
}

pub async fn restart(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<RestartArgs>,
) -> Result<StatusCode, ApiError> {
    let axum::extract::Query(args) = q?;
    let app = app_id(&state, &key).await?;
    engine(&state)?.restart(&app, args.full).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets the staged disables through.
pub async fn allow_deletes(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<AllowedDeletes>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.allow_deletes(&app).await?))
}

/// The workers sharing the store (seen in the last hour), live ones first.
pub async fn workers(State(state): State<AppState>) -> Result<Json<Vec<roster_engine::status::WorkerView>>, ApiError> {
    let mut workers = engine(&state)?.workers().await?;
    workers.sort_by_key(|w| !w.live);
    Ok(Json(workers))
}

/// The engine's metrics in the OpenMetrics text format, for Prometheus.
pub async fn metrics(State(state): State<AppState>) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let text = engine(&state)?.metrics_text().await?;
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(axum::http::header::CONTENT_TYPE, kind)], text).into_response())
}

/// Forgets the SCIM forms learned from the app (pins stay); answers what was forgotten.
pub async fn reset_dialect(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<roster_engine::Dialect>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.reset_dialect(&app).await?))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncArgs {
    #[serde(default)]
    wait: bool,
}

/// The answer to a sync: the counts of the cycle it waited for, or that one started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SyncAnswer {
    /// `?wait=true`: the cycle ran.
    Done { done: bool, counts: Counts },
    /// The cycle runs in the background (202).
    Started { started: bool },
}

pub async fn sync(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<SyncArgs>,
) -> Result<(StatusCode, Json<SyncAnswer>), ApiError> {
    let axum::extract::Query(args) = q?;
    let app = app_id(&state, &key).await?;
    let engine = engine(&state)?.clone();
    if args.wait {
        let counts = engine.cycle(&app).await?;
        return Ok((StatusCode::OK, Json(SyncAnswer::Done { done: true, counts })));
    }
    tokio::spawn(async move {
        if let Err(e) = engine.cycle(&app).await {
            tracing::warn!(error = %e, "on-request cycle failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(SyncAnswer::Started { started: true })))
}

pub async fn status(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<ProvisioningStatus>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.status(&app).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityArgs {
    days: Option<i64>,
}

/// The app's log entries counted by hour, action and status over the last
/// `days` days (7 by default, at most 31), the current hour included.
pub async fn activity(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<ActivityArgs>,
) -> Result<Json<Vec<roster_store::activity::ActivityCount>>, ApiError> {
    let axum::extract::Query(a) = q?;
    let days = a.days.unwrap_or(7);
    if !(1..=31).contains(&days) {
        return Err(ApiError::bad_request(format!("days {days} is not between 1 and 31")));
    }
    let app = app_id(&state, &key).await?;
    let hour = roster_store::activity::HOUR_MS;
    let since = (roster_store::now_ms() / hour - (days * 24 - 1)) * hour;
    Ok(Json(state.store.activity(&app, since, since + days * 24 * hour).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnDemand {
    user: String,
}

pub async fn on_demand(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<OnDemand>,
) -> Result<Json<ProvisioningOutcome>, ApiError> {
    let Json(req) = body?;
    let app = app_id(&state, &key).await?;
    let user = state.store.find_user(&req.user).await?;
    Ok(Json(engine(&state)?.provision_on_demand(&app, &user.id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewArgs {
    user: String,
}

pub async fn preview(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<PreviewArgs>,
) -> Result<Json<Preview>, ApiError> {
    let axum::extract::Query(args) = q?;
    let app = app_id(&state, &key).await?;
    let user = state.store.find_user(&args.user).await?;
    Ok(Json(engine(&state)?.preview(&app, &user.id).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanArgs {
    /// The cursor of the page wanted (a change's `cursor`, or the last page's `next`).
    after: Option<String>,
    /// Changes per page (100 by default, at most 1,000).
    limit: Option<usize>,
}

/// The plan of the next cycle, with a proposed mapping or scoping filter, or as
/// things stand: nothing is sent to the app and nothing is written.
pub async fn plan(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<PlanArgs>,
    body: JsonBody<PlanProposal>,
) -> Result<Json<ProvisioningPlan>, ApiError> {
    let axum::extract::Query(args) = q?;
    let Json(proposal) = body?;
    let app = app_id(&state, &key).await?;
    let limit = args.limit.unwrap_or(100);
    Ok(Json(engine(&state)?.plan(&app, &proposal, args.after.as_deref(), limit).await?))
}

/// Checks the app for drift (and repairs it, with `repair`); the report.
pub async fn drift(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<DriftRequest>,
) -> Result<Json<DriftReport>, ApiError> {
    let Json(req) = body?;
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.drift(&app, req).await?))
}

/// The app's last drift report (`null` when no check ran).
pub async fn last_drift(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<Option<DriftReport>>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.last_drift(&app).await?))
}

pub async fn mappings(State(state): State<AppState>, Path(key): Path<String>) -> Result<Json<AppMappings>, ApiError> {
    let app = app_id(&state, &key).await?;
    Ok(Json(engine(&state)?.mappings(&app).await?))
}

pub async fn set_mappings(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: JsonBody<AppMappings>,
) -> Result<StatusCode, ApiError> {
    let Json(m) = body?;
    let app = app_id(&state, &key).await?;
    engine(&state)?.set_mappings(&app, m).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log query plus the output format.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogArgs {
    status: Option<String>,
    action: Option<String>,
    user: Option<String>,
    cycle_id: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    offset: Option<i64>,
    limit: Option<i64>,
    format: Option<String>,
}

/// A status or action filter that names none: the caller's mistake.
fn bad_filter(e: UnknownValue) -> ApiError {
    ApiError::bad_request(e.to_string())
}

pub async fn logs(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryArgs<LogArgs>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(a) = q?;
    let app = app_id(&state, &key).await?;
    let query = LogQuery {
        status: a.status.as_deref().map(LogStatus::parse_ignoring_case).transpose().map_err(bad_filter)?,
        action: a.action.as_deref().map(LogAction::parse_ignoring_case).transpose().map_err(bad_filter)?,
        user: a.user,
        cycle_id: a.cycle_id,
        since: a.since,
        until: a.until,
        offset: a.offset,
        limit: a.limit,
    };
    let page = state.store.logs(&app, &query).await?;
    match a.format.as_deref() {
        None | Some("json") => Ok(Json(page).into_response()),
        Some("csv") => {
            let out = roster_store::logs_csv(&page.items);
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
        }
        Some(other) => Err(ApiError::bad_request(format!("format {other:?} is not json or csv"))),
    }
}
