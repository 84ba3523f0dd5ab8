//! The routes of the admin REST API (`/api/v1`).

pub(crate) mod apps;
mod audit;
pub(crate) mod config;
pub(crate) mod expressions;
mod gallery;
pub(crate) mod groups;
pub(crate) mod handoff;
pub(crate) mod provisioning;
pub(crate) mod sources;
pub(crate) mod tokens;
pub(crate) mod users;

use crate::access::Verb;
use crate::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::Deserialize;

/// The router of the authenticated routes, and each method and route template it
/// serves (compared with the role table, [`crate::access::OPERATIONS`], by a test).
pub struct Routes {
    pub router: Router<AppState>,
    pub served: Vec<(Verb, &'static str)>,
}

impl Routes {
    fn add<H, T>(mut self, verb: Verb, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match verb {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        };
        // Routing a path again adds the method to the route already there.
        self.router = self.router.route(path, on(filter, handler));
        self.served.push((verb, path));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Verb::Get, path, handler)
    }
    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Verb::Post, path, handler)
    }
    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Verb::Put, path, handler)
    }
    fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Verb::Patch, path, handler)
    }
    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Verb::Delete, path, handler)
    }
}

/// Every authenticated route.
pub fn routes() -> Routes {
    Routes { router: Router::new(), served: Vec::new() }
        .get("/users", users::list)
        .post("/users", users::create)
        .post("/users/bulk", users::bulk)
        .get("/users/{user}", users::show)
        .patch("/users/{user}", users::update)
        .delete("/users/{user}", users::delete)
        .post("/users/{user}/restore", users::restore)
        .post("/users/{user}/enable", users::enable)
        .post("/users/{user}/disable", users::disable)
        .get("/users/{user}/assignments", users::assignments)
        .get("/groups", groups::list)
        .post("/groups", groups::create)
        .get("/groups/{group}", groups::show)
        .patch("/groups/{group}", groups::update)
        .delete("/groups/{group}", groups::delete)
        .get("/groups/{group}/members", groups::members)
        .post("/groups/{group}/members", groups::add_member)
        .delete("/groups/{group}/members/{member}", groups::remove_member)
        .get("/apps", apps::list)
        .post("/apps", apps::create)
        .get("/apps/{app}", apps::show)
        .patch("/apps/{app}", apps::update)
        .delete("/apps/{app}", apps::delete)
        .get("/apps/{app}/roles", apps::roles)
        .post("/apps/{app}/roles", apps::create_role)
        .delete("/apps/{app}/roles/{role}", apps::delete_role)
        .get("/apps/{app}/assignments", apps::assignments)
        .post("/apps/{app}/assignments", apps::assign)
        .delete("/apps/{app}/assignments", apps::unassign)
        .get("/apps/{app}/effective-assignments", apps::effective)
        .get("/apps/{app}/provisioning", provisioning::show)
        .patch("/apps/{app}/provisioning", provisioning::configure)
        .post("/apps/{app}/provisioning/test-connection", provisioning::test_connection)
        .post("/apps/{app}/provisioning/start", provisioning::start)
        .post("/apps/{app}/provisioning/stop", provisioning::stop)
        .post("/apps/{app}/provisioning/restart", provisioning::restart)
        .post("/apps/{app}/provisioning/sync", provisioning::sync)
        .post("/apps/{app}/provisioning/allow-deletes", provisioning::allow_deletes)
        .post("/apps/{app}/provisioning/dialect/reset", provisioning::reset_dialect)
        .get("/metrics", provisioning::metrics)
        .get("/workers", provisioning::workers)
        .get("/apps/{app}/provisioning/status", provisioning::status)
        .get("/apps/{app}/provisioning/logs", provisioning::logs)
        .get("/apps/{app}/provisioning/activity", provisioning::activity)
        .post("/apps/{app}/provisioning/provision-on-demand", provisioning::on_demand)
        .get("/apps/{app}/provisioning/preview", provisioning::preview)
        .post("/apps/{app}/provisioning/plan", provisioning::plan)
        .get("/apps/{app}/provisioning/drift", provisioning::last_drift)
        .post("/apps/{app}/provisioning/drift", provisioning::drift)
        .get("/apps/{app}/provisioning/mappings", provisioning::mappings)
        .put("/apps/{app}/provisioning/mappings", provisioning::set_mappings)
        .post("/apps/{app}/provisioning/authorize", crate::oauth::authorize)
        .get("/apps/{app}/provisioning/handoff", handoff::show)
        .post("/apps/{app}/provisioning/handoff/confirm", handoff::confirm)
        .get("/sources", sources::list)
        .post("/sources", sources::create)
        .get("/sources/{source}", sources::show)
        .put("/sources/{source}/settings", sources::configure)
        .delete("/sources/{source}", sources::delete)
        .post("/sources/{source}/bulkUpload", sources::bulk_upload.layer(DefaultBodyLimit::max(sources::MAX_UPLOAD)))
        .post("/sources/{source}/csv", sources::upload_csv.layer(DefaultBodyLimit::max(sources::MAX_UPLOAD)))
        .get("/sources/{source}/batches", sources::batches)
        .post("/sources/{source}/batches/{batch}/approve", sources::approve)
        .post("/sources/{source}/batches/{batch}/reject", sources::reject)
        .get("/config", config::export)
        .post("/config/apply", config::apply)
        .post("/scim/validate", config::validate)
        .get("/gallery", gallery::list)
        .get("/gallery/{template}", gallery::show)
        .post("/expressions/evaluate", expressions::evaluate)
        .get("/tokens", tokens::list)
        .post("/tokens", tokens::create)
        .delete("/tokens/{name}", tokens::revoke)
        .get("/audit", audit::list)
}

/// The engine of the server, or a 503 when it runs without one.
pub(crate) fn engine(state: &AppState) -> Result<&std::sync::Arc<roster_engine::Engine>, crate::ApiError> {
    state.engine.as_ref().ok_or_else(|| crate::ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "no_engine",
        message: "this server runs without the provisioning engine".into(),
        field: None,
    })
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
