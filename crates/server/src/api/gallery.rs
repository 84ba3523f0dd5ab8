//! `/gallery`: the app templates roster ships (see `roster_engine::gallery`),
//! to list and to read before `POST /apps` makes an app from one.

use crate::ApiError;
use axum::extract::Path;
use axum::Json;
use roster_engine::gallery::{self, TemplateDetail, TemplateSummary};

/// Every template: name, description and modes.
pub async fn list() -> Json<Vec<TemplateSummary>> {
    Json(gallery::templates().iter().map(|t| t.summary()).collect())
}

/// One template in full: credentials form, roles, quirks, default mappings.
pub async fn show(Path(name): Path<String>) -> Result<Json<TemplateDetail>, ApiError> {
    match gallery::template(&name) {
        Some(t) => Ok(Json(t.detail())),
        None => Err(ApiError::not_found(format!("no template {name:?} in the gallery: it has {}", gallery::names()))),
    }
}
