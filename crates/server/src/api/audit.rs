//! `/audit`: the audit log, newest first, for admins only (who did what is not
//! for every reader).

use super::QueryArgs;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use roster_store::{AuditEntry, AuditQuery, Page};

pub async fn list(State(state): State<AppState>, q: QueryArgs<AuditQuery>) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let axum::extract::Query(q) = q?;
    Ok(Json(state.store.audit(&q).await?))
}
