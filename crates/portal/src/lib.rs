//! roster's web portal: everything an admin does, in a browser, served by
//! `roster serve` at `/` next to the REST API.
//!
//! Pages are rendered on the server from typed templates written with maud: the
//! HTML is Rust code checked at compile time, every interpolated value is escaped,
//! and there are no template files to ship or find at run time. The few live parts
//! (status, the expression test, the mapping editor's fields) are one small script;
//! it and the one stylesheet are embedded in the binary ([`assets`]), so the portal
//! works offline. Pages call the same store and engine functions as the REST API's
//! handlers; the portal holds no business rule of its own.
//!
//! Every route but sign-in and the assets goes through [`session::require_session`]:
//! no session, no page (a redirect to sign-in, or a 401 for a fetch); no CSRF token,
//! no POST (a 403); a role that does not allow the route (the table of
//! [`access`]), a 403 page that says which role it needs. Cookies are Secure
//! when roster serves HTTPS itself, when its public URL (`--public-url`) is
//! https, or when a proxy says the request came over TLS.

pub mod access;
mod apps;
pub mod assets;
mod assignments;
pub mod audit;
mod audit_log;
mod chart;
mod drift_view;
pub mod error;
mod expressions;
pub mod form;
mod groups;
pub mod layout;
mod logs;
mod mappings;
mod on_demand;
pub mod password;
mod plan_view;
mod provisioning;
mod scoping;
pub mod session;
mod signin;
mod sources;
mod status;
pub mod throttle;
mod users;

pub use error::PortalError;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use roster_engine::Engine;
use roster_store::{SessionLifetime, Store};
use std::sync::Arc;

/// What every portal handler can reach.
#[derive(Clone)]
pub struct PortalState {
    /// The directory and provisioning state.
    pub store: Store,
    /// The provisioning engine, when the server runs one.
    pub engine: Option<Arc<Engine>>,
    /// roster's URL as browsers reach it, when known.
    pub public_url: Option<String>,
    /// Mark cookies Secure (the portal is reached over https: roster serves
    /// HTTPS, or its public URL is https).
    pub secure_cookies: bool,
    /// How long a session lives.
    pub lifetime: SessionLifetime,
    /// Bounds the password checks running at once (each takes ~20 MiB).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Failed sign-ins, to slow down guessing (shared with the API's tokens).
    pub throttle: Arc<throttle::SignInThrottle>,
}

impl PortalState {
    /// The portal over a store and an engine.
    pub fn new(store: Store, engine: Option<Arc<Engine>>) -> PortalState {
        PortalState {
            store,
            engine,
            public_url: None,
            secure_cookies: false,
            lifetime: SessionLifetime::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(2)),
            throttle: Arc::new(throttle::SignInThrottle::default()),
        }
    }

    /// Sets roster's public URL (as browsers reach it): OAuth vendors send
    /// admins back under it, and an https URL makes the cookies Secure.
    pub fn with_public_url(mut self, url: &str) -> PortalState {
        let url = url.trim().trim_end_matches('/');
        self.secure_cookies = url.to_ascii_lowercase().starts_with("https://");
        self.public_url = Some(url.to_string()).filter(|u| !u.is_empty());
        self
    }

    /// The engine, or the error that says the server runs without one.
    pub fn engine(&self) -> Result<&Arc<Engine>, PortalError> {
        self.engine.as_ref().ok_or(PortalError::NoEngine)
    }
}

/// The portal's routes, to merge into the server's router at `/`.
pub fn router(state: PortalState) -> Router {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/apps") }))
        .route("/signout", post(signin::signout))
        .merge(users::routes())
        .merge(groups::routes())
        .merge(apps::routes())
        .merge(assignments::routes())
        .merge(provisioning::routes())
        .merge(on_demand::routes())
        .merge(plan_view::routes())
        .merge(drift_view::routes())
        .merge(mappings::routes())
        .merge(scoping::routes())
        .merge(status::routes())
        .merge(logs::routes())
        .merge(expressions::routes())
        .merge(audit_log::routes())
        .merge(sources::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), session::require_session));
    Router::new()
        .merge(pages)
        .route("/signin", get(signin::page).post(signin::submit))
        .route("/assets/{file}", get(assets::serve))
        .layer(DefaultBodyLimit::max(form::MAX_FORM_BYTES))
        .layer(axum::middleware::from_fn(session::security_headers))
        .with_state(state)
}
