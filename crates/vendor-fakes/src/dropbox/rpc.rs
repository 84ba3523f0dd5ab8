//! The RPC endpoints of the fake (`POST /2/<route>` with a JSON body), and
//! the error shapes of Dropbox's "Errors" section: 400 with a plain-text
//! reason for bad input, 401 with `error_summary` for token problems, 409
//! with `error_summary` and a tagged `error` for endpoint errors, 429 with
//! `Retry-After`.

use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use super::members;
use super::state::DropboxState;
use super::Shared;

/// Why a route refused a request.
#[derive(Debug)]
pub(crate) enum RpcError {
    /// 400: the request does not match the route's argument type.
    BadInput(String),
    /// 409: an endpoint error, by its tag.
    Endpoint(&'static str),
}

/// What a route answers.
pub(crate) type RpcResult = Result<Value, RpcError>;

fn bad_input(route: &str, reason: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("Error in call to API function \"{route}\": {reason}")).into_response()
}

/// The `error_summary` form: the tag path, then a few dots that callers must not parse.
fn summary(tag: &str) -> String {
    format!("{tag}/..")
}

fn auth_error(tag: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error_summary": summary(tag), "error": { ".tag": tag } }))).into_response()
}

/// `POST /2/{route}`.
pub(super) async fn call(
    State(shared): State<Shared>,
    Path(route): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut st = shared.lock();
    let parsed: Option<Value> = if body.is_empty() { Some(Value::Null) } else { serde_json::from_slice(&body).ok() };
    st.record(&route, parsed.clone().unwrap_or(Value::Null));
    if let Some(secs) = st.take_throttle() {
        let body = json!({
            "error_summary": summary("too_many_requests"),
            "error": { "reason": { ".tag": "too_many_requests" }, "retry_after": secs },
        });
        return (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, secs.to_string())], Json(body)).into_response();
    }
    let Some(bearer) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return bad_input(&route, "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".");
    };
    let Some(token) = st.access_tokens.get(bearer.trim()).cloned() else {
        return auth_error("invalid_access_token");
    };
    if token.expires_at <= Utc::now() {
        return auth_error("expired_access_token");
    }
    if !token.team && route.starts_with("team/") {
        return bad_input(
            &route,
            "This is a team management function. The OAuth 2 access token you provided is for a specific \
             Dropbox user account and does not work with this function.",
        );
    }
    if !body.is_empty() {
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("application/json") {
            return bad_input(
                &route,
                &format!("Bad HTTP \"Content-Type\" header: {content_type:?}. Expecting \"application/json\"."),
            );
        }
    }
    let Some(arg) = parsed else {
        return bad_input(&route, "request body: could not decode input as JSON");
    };
    st.purge_unrecoverable();
    match dispatch(&mut st, &route, &arg) {
        Some(Ok(answer)) => Json(answer).into_response(),
        Some(Err(RpcError::BadInput(reason))) => bad_input(&route, &format!("request body: {reason}")),
        Some(Err(RpcError::Endpoint(tag))) => {
            (StatusCode::CONFLICT, Json(json!({ "error_summary": summary(tag), "error": { ".tag": tag } })))
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("Unknown API function: \"{route}\"")).into_response(),
    }
}

fn dispatch(st: &mut DropboxState, route: &str, arg: &Value) -> Option<RpcResult> {
    Some(match route {
        "team/get_info" => void(arg).map(|()| team_info(st)),
        "team/members/list_v2" => members::list(st, arg),
        "team/members/list/continue_v2" => members::list_continue(st, arg),
        "team/members/get_info_v2" => members::get_info(st, arg),
        "team/members/add_v2" => members::add(st, arg),
        "team/members/add/job_status/get_v2" => members::job_status(st, arg),
        "team/members/set_profile_v2" => members::set_profile(st, arg),
        "team/members/suspend" => members::suspend(st, arg),
        "team/members/unsuspend" => members::unsuspend(st, arg),
        "team/members/remove" => members::remove(st, arg),
        "team/members/remove/job_status/get" => members::job_status(st, arg),
        "team/members/recover" => members::recover(st, arg),
        "team/members/get_available_team_member_roles" => void(arg).map(|()| members::available_roles(st)),
        "team/members/set_admin_permissions_v2" => members::set_admin_permissions(st, arg),
        _ => return None,
    })
}

/// A route without argument takes no body or `null`.
fn void(arg: &Value) -> Result<(), RpcError> {
    if arg.is_null() {
        Ok(())
    } else {
        Err(RpcError::BadInput("this function takes no argument".into()))
    }
}

fn team_info(st: &DropboxState) -> Value {
    let used = st.used_licenses();
    json!({
        "name": st.team.name,
        "team_id": st.team.team_id,
        "num_licensed_users": st.team.licenses,
        "num_provisioned_users": used,
        "num_used_licenses": used,
        "policies": {
            "sharing": {
                "shared_folder_member_policy": { ".tag": "anyone" },
                "shared_folder_join_policy": { ".tag": "from_anyone" },
                "shared_link_create_policy": { ".tag": "default_public" },
            },
            "emm_state": { ".tag": "disabled" },
            "office_addin": { ".tag": "disabled" },
        },
    })
}
