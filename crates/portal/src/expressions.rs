//! The live test of an attribute-mapping expression: parses the expression with
//! the mapping crate and evaluates it over a chosen user (or an empty one), the
//! way the REST API's expression tester does. A parse error comes back with a
//! caret under its position.

use crate::error::{JsonError, PortalError};
use crate::PortalState;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use roster_engine::source::UserSource;
use roster_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

/// The longest expression the tester takes.
const MAX_EXPRESSION: usize = 16 * 1024;

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
) -> Result<Json<Value>, JsonError> {
    let Json(req) = body.map_err(|e| {
        PortalError::BadRequest(format!("send {{\"expression\", \"user\"}} as JSON: {}", e.body_text()))
    })?;
    if req.expression.len() > MAX_EXPRESSION {
        return Err(PortalError::BadRequest(format!("the expression is longer than {MAX_EXPRESSION} bytes")).into());
    }
    let expr = match roster_mapping::parse(&req.expression) {
        Ok(e) => e,
        Err(e) => {
            return Ok(Json(json!({
                "ok": false, "position": e.position, "message": e.message, "rendered": e.render(&req.expression)
            })))
        }
    };
    let user = match req.user.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => match state.store.find_user(u).await {
            Ok(user) => Some(user),
            Err(StoreError::NotFound { .. }) => {
                return Ok(Json(json!({"ok": false, "message": format!("there is no user named {u:?}")})))
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let ctx = roster_mapping::EvalContext::at(chrono::Utc::now());
    let result = match &user {
        Some(u) => {
            expr.eval(&UserSource { user: u, soft_deleted: u.is_deleted() || !u.active, roles: Vec::new() }, &ctx)
        }
        None => expr.eval(&roster_mapping::MapSource::new(), &ctx),
    };
    let name = user.as_ref().map(|u| u.user_name.clone());
    Ok(Json(match result {
        Ok(v) => json!({"ok": true, "user": name, "value": v.to_json()}),
        Err(e) => json!({"ok": false, "user": name, "message": e.to_string()}),
    }))
}
