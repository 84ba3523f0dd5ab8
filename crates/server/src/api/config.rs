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
