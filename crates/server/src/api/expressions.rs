//! `/expressions/evaluate`: the expression tester (`Engine::evaluate_expression`,
//! the same the portal's tester calls). Parses an expression of the mapping
//! language and evaluates it over a user (or an empty one); a parse error comes
//! back with its position and a caret rendering.

use super::{engine, JsonBody};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use roster_engine::expression::ExpressionResult;
use serde::Deserialize;

/// An expression to evaluate, over a user or an empty one.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalRequest {
    expression: String,
    /// A userName or id to evaluate over.
    user: Option<String>,
}

pub async fn evaluate(
    State(state): State<AppState>,
    body: JsonBody<EvalRequest>,
) -> Result<Json<ExpressionResult>, ApiError> {
    let Json(req) = body?;
    let engine = engine(&state)?;
    Ok(Json(engine.evaluate_expression(req.user.as_deref(), &req.expression).await?))
}
