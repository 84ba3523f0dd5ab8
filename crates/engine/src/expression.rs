//! The expression tester: parses an expression of the mapping language and
//! evaluates it over a user of the directory (or an empty one). The REST API's
//! `/expressions/evaluate` and the portal's tester both call
//! [`crate::Engine::evaluate_expression`], so they answer alike. A parse error
//! comes back with its position and a caret rendering; the evaluator bounds
//! what an expression may compute (64 KiB per string, 10,000 items per list),
//! and runs off the async workers.

use crate::source::UserSource;
use crate::EngineError;
use roster_store::User;
use serde::{Deserialize, Serialize};

/// The longest expression the tester takes.
pub const MAX_EXPRESSION: usize = 16 * 1024;

/// What the tester answers: the value, or why there is none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ExpressionResult {
    /// Whether the expression parsed and evaluated.
    pub ok: bool,
    /// The userName of the user it was evaluated over (none: an empty user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The value (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// What failed (when not `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where a parse error is, in characters from the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// The expression with a caret under a parse error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
}

/// Parses and evaluates `expression` over `user` (none: an empty user).
pub(crate) async fn evaluate(expression: &str, user: Option<User>) -> Result<ExpressionResult, EngineError> {
    if expression.len() > MAX_EXPRESSION {
        return Err(EngineError::Invalid(format!("the expression is longer than {MAX_EXPRESSION} bytes")));
    }
    let expr = match roster_mapping::parse(expression) {
        Ok(e) => e,
        Err(e) => {
            return Ok(ExpressionResult {
                ok: false,
                message: Some(e.message.clone()),
                position: Some(e.position),
                rendered: Some(e.render(expression)),
                ..ExpressionResult::default()
            })
        }
    };
    let name = user.as_ref().map(|u| u.user_name.clone());
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
    .await
    .map_err(|e| EngineError::Invalid(format!("the evaluation stopped: {e}")))?;
    Ok(match evaluated {
        Ok(v) => ExpressionResult { ok: true, user: name, value: Some(v.to_json()), ..ExpressionResult::default() },
        Err(e) => {
            ExpressionResult { ok: false, user: name, message: Some(e.to_string()), ..ExpressionResult::default() }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(expression: &str, ok: bool, value: Option<serde_json::Value>) -> ExpressionResult {
        let got = evaluate(expression, None).await.expect("an answer");
        assert_eq!((got.ok, &got.value), (ok, &value), "{expression}: {got:?}");
        got
    }

    #[tokio::test]
    async fn the_tester_answers_a_value_or_says_why_not() {
        check(r#"Join(" ", "a", "b")"#, true, Some(serde_json::json!("a b"))).await;
        let bad = check(r#"Join(" ", "a""#, false, None).await;
        assert!(bad.rendered.is_some_and(|r| r.contains('^')));
        let too_big = format!(r#"Replace(Replace("aaaaaaaaaa", "a", , , "{0}"), "x", , , "{0}")"#, "x".repeat(4000));
        let refused = check(&too_big, false, None).await;
        assert!(refused.message.is_some_and(|m| m.contains("too large")));
        assert!(evaluate(&"x".repeat(MAX_EXPRESSION + 1), None).await.is_err());
    }
}
