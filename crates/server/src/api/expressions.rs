//! `/expressions/evaluate`: the expression tester. Parses an expression of the
//! mapping language and evaluates it over a user (or an empty one); a parse error
//! comes back with its position and a caret rendering. The evaluator bounds what an
//! expression may compute (64 KiB per string, 10,000 items per list), and runs off
//! the async workers.

use super::JsonBody;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::Json;
use roster_engine::source::UserSource;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalRequest {
    expression: String,
    /// A userName or id to evaluate over.
    user: Option<String>,
}

pub async fn evaluate(State(state): State<AppState>, body: JsonBody<EvalRequest>) -> Result<Json<Value>, ApiError> {
    let Json(req) = body?;
    let expr = match roster_mapping::parse(&req.expression) {
        Ok(e) => e,
        Err(e) => {
            return Ok(Json(json!({
                "ok": false, "position": e.position, "message": e.message, "rendered": e.render(&req.expression)
            })))
        }
    };
    let user = match &req.user {
        Some(u) => Some(state.store.find_user(u).await?),
        None => None,
    };
    // Evaluating is CPU work (regexes, up to the evaluator's bounds on value
    // sizes): it runs on the blocking pool, never on an async worker.
    let evaluated = tokio::task::spawn_blocking(move || {
        let ctx = roster_mapping::EvalContext::at(chrono::Utc::now());
        match &user {
            Some(u) => {
                expr.eval(&UserSource { user: u, soft_deleted: u.is_deleted() || !u.active, roles: Vec::new() }, &ctx)
            }
            None => expr.eval(&roster_mapping::MapSource::new(), &ctx),
        }
    })
    .await;
    let result = evaluated.map_err(|e| ApiError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: format!("the evaluation stopped: {e}"),
    })?;
    Ok(Json(match result {
        Ok(v) => json!({"ok": true, "value": v.to_json()}),
        Err(e) => json!({"ok": false, "message": e.to_string()}),
    }))
}
