//! The routes of the admin REST API (`/api/v1`).

mod apps;
mod expressions;
mod gallery;
mod groups;
mod handoff;
mod provisioning;
mod tokens;
mod users;

use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

/// Every authenticated route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(users::list).post(users::create))
        .route("/users/bulk", post(users::bulk))
        .route("/users/{user}", get(users::show).patch(users::update).delete(users::delete))
        .route("/users/{user}/restore", post(users::restore))
        .route("/users/{user}/enable", post(users::enable))
        .route("/users/{user}/disable", post(users::disable))
        .route("/users/{user}/assignments", get(users::assignments))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/{group}", get(groups::show).patch(groups::update).delete(groups::delete))
        .route("/groups/{group}/members", get(groups::members).post(groups::add_member))
        .route("/groups/{group}/members/{member}", axum::routing::delete(groups::remove_member))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{app}", get(apps::show).patch(apps::update).delete(apps::delete))
        .route("/apps/{app}/roles", get(apps::roles).post(apps::create_role))
        .route("/apps/{app}/roles/{role}", axum::routing::delete(apps::delete_role))
        .route("/apps/{app}/assignments", get(apps::assignments).post(apps::assign).delete(apps::unassign))
        .route("/apps/{app}/effective-assignments", get(apps::effective))
        .route("/apps/{app}/provisioning", get(provisioning::show).patch(provisioning::configure))
        .route("/apps/{app}/provisioning/test-connection", post(provisioning::test_connection))
        .route("/apps/{app}/provisioning/start", post(provisioning::start))
        .route("/apps/{app}/provisioning/stop", post(provisioning::stop))
        .route("/apps/{app}/provisioning/restart", post(provisioning::restart))
        .route("/apps/{app}/provisioning/sync", post(provisioning::sync))
        .route("/apps/{app}/provisioning/allow-deletes", post(provisioning::allow_deletes))
        .route("/apps/{app}/provisioning/status", get(provisioning::status))
        .route("/apps/{app}/provisioning/logs", get(provisioning::logs))
        .route("/apps/{app}/provisioning/provision-on-demand", post(provisioning::on_demand))
        .route("/apps/{app}/provisioning/preview", get(provisioning::preview))
        .route("/apps/{app}/provisioning/mappings", get(provisioning::mappings).put(provisioning::set_mappings))
        .route("/apps/{app}/provisioning/authorize", post(crate::oauth::authorize))
        .route("/apps/{app}/provisioning/handoff", get(handoff::show))
        .route("/apps/{app}/provisioning/handoff/confirm", post(handoff::confirm))
        .route("/gallery", get(gallery::list))
        .route("/gallery/{template}", get(gallery::show))
        .route("/expressions/evaluate", post(expressions::evaluate))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{name}", axum::routing::delete(tokens::revoke))
}

/// A JSON body, with malformed JSON and unknown fields turned into a clear 400.
pub type JsonBody<T> = Result<axum::Json<T>, JsonRejection>;
/// A query string, with bad parameters turned into a clear 400.
pub type QueryArgs<T> = Result<axum::extract::Query<T>, QueryRejection>;

/// Paging parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Paging {
    pub offset: Option<i64>,
    pub limit: Option<i64>,
    pub display_name: Option<String>,
    pub q: Option<String>,
}
