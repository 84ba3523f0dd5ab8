//! Workers and job leases. Every `roster serve` process is a worker with a
//! heartbeat; a job's cycles run on the worker that holds its lease. Leases are
//! taken when free or expired (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
//! that workers taking at once do not wait on each other), and each new holder
//! raises the job's fencing token. A store made [`fenced`](Store::fenced) checks
//! that token at the start of every write transaction and refuses the write when
//! a newer holder exists: a worker paused past its lease writes nothing.
//!
//! Times are the database's clock (on PostgreSQL, the server's), so that workers
//! on machines whose clocks differ agree on when a lease expires.

use crate::ids::AppId;
use crate::{Backend, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;

/// The right to write for one job: its holder and the token it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub app: AppId,
    pub holder: String,
    pub token: i64,
}

/// A lease this worker holds: the job, its token and when it expires (ms, the
/// database's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub app: AppId,
    pub token: i64,
    pub expires_at: i64,
}

/// A job's lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub app_id: AppId,
    /// The worker holding it (`None`: free).
    pub holder: Option<String>,
    pub token: i64,
    pub expires_at: i64,
    pub acquired_at: Option<i64>,
}

/// A worker as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub id: String,
    pub name: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// Its lease length: it is dead once this long passes without a heartbeat.
    pub lease_ttl_ms: i64,
    /// Set when it stopped gracefully (and gave its leases back).
    pub stopped_at: Option<i64>,
}

fn lease_from_row(row: &AnyRow) -> Result<Lease, StoreError> {
    Ok(Lease {
        app: AppId::from_stored(row.try_get("app_id")?),
        token: row.try_get("token")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn lease_row(row: &AnyRow) -> Result<LeaseRow, StoreError> {
    Ok(LeaseRow {
        app_id: AppId::from_stored(row.try_get("app_id")?),
        holder: row.try_get("holder")?,
        token: row.try_get("token")?,
        expires_at: row.try_get("expires_at")?,
        acquired_at: row.try_get("acquired_at")?,
    })
}

const LEASE_COLUMNS: &str = "app_id, holder, token, expires_at, acquired_at";

impl Store {
    /// This store, checking `fence` at the start of every write transaction.
    pub fn fenced(&self, fence: Fence) -> Store {
        Store { fence: Some(Arc::new(fence)), ..self.clone() }
    }

    /// The fence this store checks, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_deref()
    }

    /// The database's clock, as SQL: milliseconds since the Unix epoch.
    fn clock_sql(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        }
    }

    /// The database's clock (ms since the Unix epoch).
    pub async fn clock_ms(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(&format!("SELECT {}", self.clock_sql())).fetch_one(self.pool()).await?)
    }

    /// Records that worker `id` (shown as `name`, with leases of `ttl_ms`) is alive now.
    pub async fn heartbeat(&self, id: &str, name: &str, ttl_ms: i64) -> Result<(), StoreError> {
        let now = self.clock_sql();
        sqlx::query(&format!(
            "INSERT INTO workers (id, name, started_at, heartbeat_at, lease_ttl_ms) VALUES ($1, $2, {now}, {now}, $3) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = {now}, name = $2, lease_ttl_ms = $3, stopped_at = NULL"
        ))
        .bind(id)
        .bind(name)
        .bind(ttl_ms)
        .execute(self.writes())
        .await?;
        Ok(())
    }

    /// Records that worker `id` stopped, and frees the leases it held.
    pub async fn worker_stopped(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let now = self.clock_sql();
        sqlx::query(&format!("UPDATE workers SET stopped_at = {now} WHERE id = $1")).bind(id).execute(&mut *tx).await?;
        sqlx::query("UPDATE job_leases SET holder = NULL, expires_at = 0 WHERE holder = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every worker that ran in the last `within_ms` (stopped or not), newest first.
    pub async fn workers(&self, within_ms: i64) -> Result<Vec<WorkerRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id, name, started_at, heartbeat_at, lease_ttl_ms, stopped_at FROM workers \
             WHERE heartbeat_at > {} - $1 ORDER BY started_at DESC, id",
            self.clock_sql()
        ))
        .bind(within_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkerRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    started_at: r.try_get("started_at")?,
                    heartbeat_at: r.try_get("heartbeat_at")?,
                    lease_ttl_ms: r.try_get("lease_ttl_ms")?,
                    stopped_at: r.try_get("stopped_at")?,
                })
            })
            .collect()
    }

    /// How many workers are alive: running, with a heartbeat within their lease length.
    pub async fn live_workers(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM workers WHERE stopped_at IS NULL AND heartbeat_at + lease_ttl_ms > {}",
            self.clock_sql()
        ))
        .fetch_one(self.pool())
        .await?)
    }

    /// Every job's lease (a job never leased has none yet).
    pub async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        sqlx::query(&format!("SELECT {LEASE_COLUMNS} FROM job_leases ORDER BY app_id"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(lease_row)
            .collect()
    }

    /// The lease of `app`, if it was ever leased.
    pub async fn lease_of(&self, app: &AppId) -> Result<Option<LeaseRow>, StoreError> {
        sqlx::query(&format!("SELECT {LEASE_COLUMNS} FROM job_leases WHERE app_id = $1"))
            .bind(app.as_str())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(lease_row)
            .transpose()
    }

    /// Extends every lease `holder` still holds by `ttl_ms` from now, and returns
    /// them; a lease another worker took since is not among them. The token is
    /// kept: no one else ran the job in between.
    pub async fn renew_leases(&self, holder: &str, ttl_ms: i64) -> Result<Vec<Lease>, StoreError> {
        sqlx::query(&format!(
            "UPDATE job_leases SET expires_at = {} + $1 WHERE holder = $2 RETURNING app_id, token, expires_at",
            self.clock_sql()
        ))
        .bind(ttl_ms)
        .bind(holder)
        .fetch_all(self.writes())
        .await?
        .iter()
        .map(lease_from_row)
        .collect()
    }

    /// Takes at most `limit` leases for `holder` for `ttl_ms`, each with a new
    /// fencing token: free ones and expired ones, or (`steal`) any this holder
    /// does not hold, which only a worker known to be alone may do (SQLite, whose
    /// data directory one process holds). `only` narrows it to one job.
    pub async fn take_leases(
        &self,
        holder: &str,
        ttl_ms: i64,
        limit: i64,
        only: Option<&AppId>,
        steal: bool,
    ) -> Result<Vec<Lease>, StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query(
            "INSERT INTO job_leases (app_id) SELECT app_id FROM jobs WHERE true ON CONFLICT (app_id) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?;
        let now = self.clock_sql();
        let free = if steal {
            "(holder IS NULL OR holder <> $1)".to_string()
        } else {
            format!("(holder IS NULL OR (holder <> $1 AND expires_at < {now}))")
        };
        let one = if only.is_some() { " AND app_id = $4" } else { "" };
        // A pass skips a lease whose holder is writing; a take of one job waits for the write.
        let skip = match (self.backend, only) {
            (Backend::Sqlite, _) => "",
            (Backend::Postgres, None) => " FOR UPDATE SKIP LOCKED",
            (Backend::Postgres, Some(_)) => " FOR UPDATE",
        };
        let sql = format!(
            "UPDATE job_leases SET holder = $1, token = token + 1, expires_at = {now} + $2, acquired_at = {now} \
             WHERE app_id IN (SELECT app_id FROM job_leases WHERE {free}{one} \
             ORDER BY expires_at, app_id LIMIT $3{skip}) \
             RETURNING app_id, token, expires_at"
        );
        let mut q = sqlx::query(&sql).bind(holder).bind(ttl_ms).bind(limit);
        if let Some(app) = only {
            q = q.bind(app.as_str());
        }
        let taken = q.fetch_all(&mut *tx).await?.iter().map(lease_from_row).collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Gives the lease of `app` back, if `holder` still holds it.
    pub async fn release_lease(&self, holder: &str, app: &AppId) -> Result<(), StoreError> {
        sqlx::query("UPDATE job_leases SET holder = NULL, expires_at = 0 WHERE holder = $1 AND app_id = $2")
            .bind(holder)
            .bind(app.as_str())
            .execute(self.writes())
            .await?;
        Ok(())
    }
}

/// Refuses the transaction's writes unless `fence` is still the job's lease. On
/// PostgreSQL the lease row is share-locked until the transaction ends, so that
/// a new holder cannot take the lease while the write commits.
pub(crate) async fn check(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    fence: &Fence,
) -> Result<(), StoreError> {
    let lock = if backend == Backend::Postgres { " FOR SHARE" } else { "" };
    let held: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT token FROM job_leases WHERE app_id = $1 AND holder = $2 AND token = $3{lock}"
    ))
    .bind(fence.app.as_str())
    .bind(&fence.holder)
    .bind(fence.token)
    .fetch_optional(&mut **tx)
    .await?;
    if held.is_some() {
        return Ok(());
    }
    let now: Option<(Option<String>, i64)> = sqlx::query_as("SELECT holder, token FROM job_leases WHERE app_id = $1")
        .bind(fence.app.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let (holder, token) = now.unwrap_or((None, 0));
    tracing::warn!(
        app = %fence.app,
        worker = %fence.holder,
        token = fence.token,
        holder = holder.as_deref().unwrap_or("nobody"),
        current_token = token,
        "fencing refusal: this worker's lease on the job is gone, so its write is refused"
    );
    Err(StoreError::Fenced {
        message: format!(
            "fencing refusal: the lease on {} (token {}) is now held by {} with token {token}; this worker writes nothing more for it",
            fence.app,
            fence.token,
            holder.as_deref().unwrap_or("nobody"),
        ),
    })
}
