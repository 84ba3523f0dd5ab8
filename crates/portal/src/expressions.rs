//! The live test of an attribute-mapping expression: the engine's expression
//! tester (`Engine::evaluate_expression`, the same the REST API's
//! `/expressions/evaluate` calls) over a chosen user (or an empty one). A parse
//! error comes back with a caret under its position.

use crate::error::{JsonError, PortalError};
use crate::PortalState;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use roster_engine::expression::ExpressionResult;
use serde::Deserialize;

/// The route of the tester.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/expressions/test", post(test))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    expression: String,
    /// A userName or id; none tests against an empty user.
    user: Option<String>,
}

async fn test(
    State(state): State<PortalState>,
    body: Result<Json<TestRequest>, JsonRejection>,
) -> Result<Json<ExpressionResult>, JsonError> {
    let Json(req) = body.map_err(|e| {
        PortalError::BadRequest(format!("send {{\"expression\", \"user\"}} as JSON: {}", e.body_text()))
    })?;
    Ok(Json(state.engine()?.evaluate_expression(req.user.as_deref(), &req.expression).await?))
}
