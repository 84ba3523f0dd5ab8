//! A small, correct in-memory SCIM 2.0 application (RFC 7643/7644) for
//! `roster demo`, benchmarks and tests: Users (with the enterprise
//! extension) and Groups under `/scim/v2`, bearer token, filters, paging,
//! PATCH, and request counters to see what a client sent.

use std::io;
use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod discovery;
mod groups;
mod http;
pub mod proxy;
mod state;
mod users;

pub use roster_scim::MemberRemoval;
pub use state::{Refusal, SampleOptions, SampleState};

/// A sample app: its state and its HTTP routes.
#[derive(Debug, Clone)]
pub struct SampleApp {
    state: SampleState,
}

impl SampleApp {
    /// A new, empty app accepting `token`.
    pub fn new(token: String, options: SampleOptions) -> Self {
        SampleApp { state: SampleState::new(token, options) }
    }

    /// Its state.
    pub fn state(&self) -> SampleState {
        self.state.clone()
    }

    /// Its routes, all under `/scim/v2`.
    pub fn router(&self) -> Router {
        let scim = Router::new()
            .route("/ServiceProviderConfig", get(discovery::service_provider_config))
            .route("/ResourceTypes", get(discovery::resource_types))
            .route("/Schemas", get(discovery::schemas))
            .route("/Users", get(users::list).post(users::create))
            .route("/Users/{id}", get(users::get_one).put(users::replace).patch(users::patch).delete(users::delete))
            .route("/Groups", get(groups::list).post(groups::create))
            .route(
                "/Groups/{id}",
                get(groups::get_one).put(groups::replace).patch(groups::patch).delete(groups::delete),
            )
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), http::require_token))
            .with_state(self.state.clone());
        Router::new().nest("/scim/v2", scim).fallback(http::not_found)
    }
}

/// A sample app serving on a port.
#[derive(Debug)]
pub struct RunningSampleApp {
    /// `http://127.0.0.1:PORT/scim/v2`
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state, to inspect.
    pub state: SampleState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningSampleApp {
    /// Stops serving (graceful: requests in flight finish) and waits.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningSampleApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a sample app on `addr` (`127.0.0.1:0` picks a free port).
pub async fn start(addr: SocketAddr, token: String, options: SampleOptions) -> io::Result<RunningSampleApp> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}/scim/v2");
    let app = SampleApp::new(token, options);
    app.state.set_base_url(base_url.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let router = app.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%base_url, "sample SCIM app listening");
    Ok(RunningSampleApp { base_url, addr, state: app.state, shutdown: Some(tx), task: Some(task) })
}
