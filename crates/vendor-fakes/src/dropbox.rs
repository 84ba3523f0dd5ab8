//! A contract fake of Dropbox for Business, for roster's connector tests.
//!
//! It follows Dropbox's published documentation: the OAuth Guide (the
//! authorization-code flow with `token_access_type=offline`, short-lived
//! access tokens and refresh tokens from `/oauth2/token`), and the HTTP API v2
//! documentation: the RPC endpoint form (`POST /2/<route>`, JSON argument),
//! the team routes (`team/get_info`) and team members routes (`members/list_v2`,
//! `get_info_v2`, `add_v2` with its async job, `set_profile_v2`, `suspend`,
//! `unsuspend`, `remove`, `recover`, `get_available_team_member_roles`,
//! `set_admin_permissions_v2`), and the "Errors" section (400 plain text, 401
//! and 409 with `error_summary`, 429 with `Retry-After`).
//!
//! The team lives in memory ([`DropboxState`]); a test steers it (expire
//! tokens, throttle, force async jobs, accept an invitation) and reads what
//! the fake received (counts and bodies by route).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::routing::{get, post};
use axum::Router;

mod members;
mod oauth;
mod rpc;
mod state;

pub use state::{
    default_roles, DropboxState, FakeMember, FakeRole, FakeStatus, FakeTeam, ADMIN_EMAIL, TEAM_ADMIN_ROLE,
    USER_MANAGEMENT_ROLE,
};

/// The state shared by the routes and the test.
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<DropboxState>>);

impl Shared {
    /// Locks the state (a poisoned lock is still usable: the fake's state
    /// stays consistent between statements).
    pub fn lock(&self) -> MutexGuard<'_, DropboxState> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A fake Dropbox serving on a port.
#[derive(Debug)]
pub struct RunningDropbox {
    /// `http://127.0.0.1:PORT`: the API, authorize and token URLs are under it.
    pub base_url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The team and everything the fake received.
    pub state: Shared,
    serving: crate::serving::Serving,
}

impl RunningDropbox {
    /// `<base>/oauth2/authorize`
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/authorize", self.base_url)
    }

    /// `<base>/oauth2/token`
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url)
    }

    /// Stops serving and waits.
    pub async fn stop(self) -> io::Result<()> {
        self.serving.stop().await
    }
}

/// The fake's routes.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route("/2/{*route}", post(rpc::call))
        .with_state(state)
}

/// Starts a fake Dropbox with `team` on `addr` (`127.0.0.1:0` picks a free port).
pub async fn start(addr: SocketAddr, team: FakeTeam) -> io::Result<RunningDropbox> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let state = Shared(Arc::new(Mutex::new(DropboxState::new(team))));
    let app = router(state.clone());
    let serving = crate::serving::Serving::spawn(listener, app);
    tracing::info!(%base_url, "fake Dropbox listening");
    Ok(RunningDropbox { base_url, addr, state, serving })
}
