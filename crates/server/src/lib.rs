//! roster's HTTP server: the admin REST API under `/api/v1` (bearer tokens with
//! a role; every change audited), `/healthz`, and the host of the provisioning
//! engine. One port, one process, plain HTTP ([`serve`]) or HTTPS ([`serve_tls`],
//! with a certificate that can be re-read while serving).

mod access;
mod api;
mod audit;
mod auth;
mod error;
mod oauth;
mod openapi;
pub mod otlp;
pub mod scim;
pub mod tls;
mod tls_listener;

pub use auth::Principal;
pub use error::ApiError;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use roster_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Where the admin API is served.
pub const API_PREFIX: &str = "/api/v1";

/// The largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub engine: Option<Arc<roster_engine::Engine>>,
    /// roster's own URL as browsers reach it (`http://127.0.0.1:8080`): OAuth
    /// vendors send admins back to its `/oauth/callback`.
    pub public_url: String,
}

/// How clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (roster behind a TLS-terminating proxy, or on loopback).
    Http,
    /// HTTPS served by roster itself: responses carry HSTS and cookies are Secure.
    Https,
}

/// What HTTPS responses tell browsers: use https for this host for a year.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The whole HTTP surface of roster, as served over `scheme`.
pub fn router(state: AppState, scheme: Scheme) -> Router {
    let mut portal =
        roster_portal::PortalState::new(state.store.clone(), state.engine.clone()).with_public_url(&state.public_url);
    if scheme == Scheme::Https {
        portal.secure_cookies = true;
    }
    // One count of failures for the portal's sign-in and the API's tokens.
    let guard = (state.clone(), portal.throttle.clone());
    // The audit reads resources through the API's own routes, without its layers.
    let trail = Arc::new(audit::AuditTrail {
        store: state.store.clone(),
        reader: api::routes().router.with_state(state.clone()),
    });
    // Prometheus's default path, under the same token check as /api/v1/metrics.
    let scrape = Router::new()
        .route("/metrics", get(api::provisioning::metrics))
        .route_layer(axum::middleware::from_fn_with_state(guard.clone(), auth::require_token));
    // The last layer runs first: the token is checked, then the change audited.
    let api = api::routes()
        .router
        .route_layer(axum::middleware::from_fn_with_state(trail, audit::record))
        .route_layer(axum::middleware::from_fn_with_state(guard, auth::require_token))
        .route("/openapi.json", get(openapi::document));
    let routes = Router::new()
        .nest(API_PREFIX, api)
        .merge(scrape)
        .merge(scim::router(state.clone()))
        .route("/healthz", get(healthz))
        .route(oauth::CALLBACK_PATH, get(oauth::callback))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .merge(roster_portal::router(portal));
    match scheme {
        Scheme::Http => routes,
        Scheme::Https => routes.layer(axum::middleware::map_response(|mut response: axum::response::Response| async {
            response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
            response
        })),
    }
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Result<&'static str, ApiError> {
    state.store.feed_head().await?;
    Ok("ok")
}

/// Serves roster over plain HTTP on `listener` until `shutdown` resolves, then
/// lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state, Scheme::Http).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves roster over HTTPS on `listener`, presenting `certificate` (as it is at
/// each handshake), until `shutdown` resolves, then lets the requests in flight
/// finish.
pub async fn serve_tls(
    listener: TcpListener,
    certificate: Arc<tls::ServerCertificate>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // axum gives handlers `ConnectInfo<SocketAddr>` (the client address the
    // sign-in throttle counts by) for a listener wrapped in `tap_io`; the tap
    // itself turns off Nagle's delay, as for small API answers it only adds latency.
    let listener = tls_listener::TlsListener::new(listener, certificate.server_config())?.tap_io(|tls| {
        let _ = tls.get_ref().0.set_nodelay(true);
    });
    axum::serve(listener, router(state, Scheme::Https).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
