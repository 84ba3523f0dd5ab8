//! The store of roster: the directory (users, groups, applications, assignments),
//! the change feed the provisioning engine reads, API tokens, and the provisioning
//! state (jobs, shadow, logs).
//!
//! One API over two real backends through sqlx's `Any` driver: SQLite (the embedded
//! default, WAL) and PostgreSQL. Every change runs in one transaction and appends
//! to the change feed in that same transaction, so the engine never misses a
//! change and never sees one that was rolled back.

pub mod access;
pub mod activity;
mod admins;
mod apps;
mod assignments;
pub mod audit;
pub mod csv;
mod drift;
mod duration;
mod error;
mod escrow;
mod feed;
mod groups;
mod handoff;
mod ids;
pub mod inbound;
mod intents;
mod jobs;
mod json_text;
mod keys;
mod kinds;
mod leases;
mod logs;
mod migrate;
mod model;
mod oauth_states;
mod private_dir;
mod role_import;
mod scim_extras;
mod scim_query;
pub mod secrets;
mod shadow;
mod sql;
mod tokens;
mod upsert;
mod users;
pub use users::USER_TEXT_ATTRIBUTES;

pub use access::AccessRole;
pub use admins::{AdminAccount, PortalSession, SessionLifetime};
pub use apps::{AppRoleInput, ApplicationInput};
pub use assignments::{AssignmentIndex, AssignmentTarget, EffectiveAssignment, PathGroup};
pub use audit::{audit_csv, AuditEntry, AuditQuery, NewAuditEntry};
pub use duration::parse_duration_ms;
pub use error::StoreError;
pub use escrow::{retry_delay_ms, EscrowFailure, EscrowItem};
pub use feed::{ChangeKind, FeedEntry, FeedListener};
pub use groups::{GroupInput, GroupPatch};
pub use handoff::{ConfirmedHandoff, Handoff, HandoffAction, HandoffItem};
pub use ids::{AppId, GroupId, RoleId, UserId};
pub use intents::Intent;
pub use jobs::{JobRow, JobStateUpdate};
pub use keys::ResealReport;
pub use kinds::{BatchStatus, LogAction, LogStatus, ObjectKind, Phase, ScheduledAction, UnknownValue};
pub use leases::{Fence, Lease, LeaseRow, WorkerRow};
pub use logs::{logs_csv, LogQuery, LogRecord, ModifiedProperty, RecordBatch, Step};
pub use model::*;
pub use oauth_states::OAUTH_STATE_TTL_MS;
pub use private_dir::prepare_data_dir;
pub use role_import::{ImportedRole, RoleImport};
pub use scim_extras::ScimUserWrite;
pub use scim_query::{ScimQuery, ScimQueryError};
pub use shadow::{MemberShadow, ShadowEntry};
pub use tokens::{ApiToken, TokenCheck};
pub use upsert::UpsertOutcome;
pub use users::{ListQuery, UserInput, UserPatch};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};
use std::path::Path;
use std::str::FromStr;

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The embedded default: one SQLite file in the data directory, in WAL mode.
    Sqlite,
    /// A PostgreSQL server, shared by several `roster serve` processes.
    Postgres,
}

/// The handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// On SQLite, the one connection that writes: writers queue for it here,
    /// in order, instead of meeting SQLite's busy lock and sleeping in its busy
    /// handler (which leaves the machine idle while a write waits).
    writer: Option<AnyPool>,
    backend: Backend,
    /// The lease every write transaction checks (see [`Store::fenced`]).
    fence: Option<std::sync::Arc<Fence>>,
    /// On PostgreSQL, the URL a feed listener connects to.
    url: Option<std::sync::Arc<str>>,
}

/// Milliseconds since the Unix epoch: the one time unit stored in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    /// Opens (and creates, and migrates) the SQLite store `roster.db` in `data_dir`.
    pub async fn open_sqlite(data_dir: &Path) -> Result<Store, StoreError> {
        prepare_data_dir(data_dir)?;
        let database = data_dir.join(private_dir::DATABASE_FILE);
        private_dir::create_private_file(&database)?;
        let url = format!("sqlite://{}?mode=rwc", database.display());
        Store::connect(&url).await
    }

    /// Connects to `url` (`sqlite://...` or `postgres://...`) and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Invalid {
                message: format!("unsupported database URL scheme in {url:?}: use sqlite:// or postgres://"),
            });
        };
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = match backend {
            Backend::Sqlite => sqlite_pool(8, READER_CACHE_KIB).connect_with(options.clone()).await?,
            Backend::Postgres => postgres_pool(16).connect_with(options.clone()).await?,
        };
        let writer = match backend {
            Backend::Sqlite => Some(sqlite_pool(1, WRITER_CACHE_KIB).connect_with(options).await?),
            Backend::Postgres => None,
        };
        let url = (backend == Backend::Postgres).then(|| std::sync::Arc::from(url));
        let store = Store { pool, writer, backend, fence: None, url };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for the store's own modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where a single statement that writes goes: on SQLite the writer's
    /// connection (see `writer`), on PostgreSQL the pool.
    pub(crate) fn writes(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }

    /// Begins a transaction that will write: on SQLite with `BEGIN IMMEDIATE`, so
    /// that it waits (busy timeout) for the write lock up front instead of failing
    /// with "database is locked" when it upgrades from reading to writing.
    /// A fenced store checks its lease first (see [`Store::fenced`]).
    pub(crate) async fn begin_immediate(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.writes().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        if let Some(fence) = &self.fence {
            leases::check(&mut tx, self.backend, fence).await?;
        }
        Ok(tx)
    }

    /// Begins a write transaction. On SQLite, `BEGIN IMMEDIATE` takes the write lock
    /// at once (no deadlock between two upgrading readers); on PostgreSQL an advisory
    /// lock orders directory writes, so that change-feed sequence numbers become
    /// visible in commit order and a reader past a watermark never skips one.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self.begin_immediate().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(4242)").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Closes the pools, waiting for connections to finish.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// A PostgreSQL pool of at most `connections`. A session left idle inside a
/// transaction is ended by the server after 10 s: a worker stopped (SIGSTOP) or
/// cut off mid-write would otherwise keep its locks, and with them its job's
/// lease row, which no other worker could take while it lasts.
fn postgres_pool(connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(connections).after_connect(|conn, _| {
        Box::pin(async move {
            use sqlx::Executor;
            conn.execute("SET idle_in_transaction_session_timeout = 10000").await?;
            Ok(())
        })
    })
}

/// The page cache of each reading connection: SQLite's default, 2 MiB.
const READER_CACHE_KIB: u32 = 2 * 1024;

/// The page cache of the one writing connection. A record transaction (a
/// wave of up to 1,000 users: their shadow and log rows and the index pages
/// they touch) dirties more than the default 2 MiB holds at 100,000 users;
/// SQLite then spills pages to the WAL in mid-transaction and reads them back.
const WRITER_CACHE_KIB: u32 = 32 * 1024;

/// A SQLite pool of at most `connections`, each with a page cache of at most
/// `cache_kib`: WAL lets readers go on beside the one writer. The pragmas run
/// on every new connection. A statement's own journal (kept while a statement
/// of a transaction runs, for an upsert or a many-row insert) stays in memory
/// (`temp_store`) instead of a temporary file; the WAL is copied into the
/// database every 10,000 pages (40 MB) rather than every 1,000, so that a page
/// written by many record transactions (an index's) is copied once, not once
/// per 4 MB.
fn sqlite_pool(connections: u32, cache_kib: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(connections).after_connect(move |conn, _| {
        Box::pin(async move {
            use sqlx::Executor;
            let pragmas = format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                 PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=10000; PRAGMA cache_size=-{cache_kib};"
            );
            conn.execute(pragmas.as_str()).await?;
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    /// The writing connection's page cache holds a record transaction; the
    /// reading connections keep SQLite's default.
    #[tokio::test]
    async fn the_writer_has_the_larger_page_cache() {
        let dir = std::env::temp_dir().join(format!("roster-cache-{}", uuid::Uuid::new_v4().simple()));
        let store = crate::Store::open_sqlite(&dir).await.expect("open sqlite");
        let mut tx = store.begin_immediate().await.expect("write transaction");
        let written: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut *tx).await.expect("writer's cache");
        tx.rollback().await.expect("rollback");
        let read: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&store.pool).await.expect("reader's cache");
        assert_eq!((written, read), (-i64::from(super::WRITER_CACHE_KIB), -i64::from(super::READER_CACHE_KIB)));
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
