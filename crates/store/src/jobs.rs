//! Provisioning jobs, one per application: settings, sealed credentials, the
//! mapping document, and the cycle state (phase, watermark, counters). The store
//! keeps settings, mappings and state as JSON documents; the engine owns their types.

use crate::feed::{self, ChangeKind};
use crate::ids::AppId;
use crate::kinds::Phase;
use crate::{now_ms, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A job as stored.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub app_id: AppId,
    pub settings: serde_json::Value,
    /// The sealed credentials (see [`crate::secrets::Cipher`]).
    pub credentials: Option<String>,
    pub mappings: Option<serde_json::Value>,
    pub phase: Phase,
    pub watermark: i64,
    pub initial_cursor: Option<String>,
    pub initial_head: Option<i64>,
    pub state: serde_json::Value,
    pub updated_at: i64,
}

/// A change to a job's cycle state; `None` fields are left alone.
#[derive(Debug, Clone, Default)]
pub struct JobStateUpdate {
    pub phase: Option<Phase>,
    pub watermark: Option<i64>,
    pub initial_cursor: Option<Option<String>>,
    pub initial_head: Option<Option<i64>>,
    pub state: Option<serde_json::Value>,
}

fn job_from_row(row: &AnyRow) -> Result<JobRow, StoreError> {
    let settings: String = row.try_get("settings")?;
    let mappings: Option<String> = row.try_get("mappings")?;
    let state: String = row.try_get("state")?;
    Ok(JobRow {
        app_id: AppId::from_stored(row.try_get("app_id")?),
        settings: serde_json::from_str(&settings)?,
        credentials: row.try_get("credentials")?,
        mappings: mappings.map(|m| serde_json::from_str(&m)).transpose()?,
        phase: row.try_get("phase")?,
        watermark: row.try_get("watermark")?,
        initial_cursor: row.try_get("initial_cursor")?,
        initial_head: row.try_get("initial_head")?,
        state: serde_json::from_str(&state)?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str =
    "app_id, settings, credentials, mappings, phase, watermark, initial_cursor, initial_head, state, updated_at";

impl Store {
    /// The job of an application, if it was ever configured.
    pub async fn job(&self, app: &AppId) -> Result<Option<JobRow>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE app_id = $1"))
            .bind(app.as_str())
            .fetch_optional(self.pool())
            .await?
            .map(|r| job_from_row(&r))
            .transpose()
    }

    /// Every job.
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM jobs ORDER BY app_id"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    /// Writes a job's configuration (creating the job if needed). `credentials`
    /// and `mappings` are written only when given.
    pub async fn save_job_config(
        &self,
        app: &AppId,
        settings: &serde_json::Value,
        credentials: Option<&str>,
        mappings: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        self.app(app).await?;
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (app_id, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id) DO UPDATE SET settings = $2, updated_at = $3",
        )
        .bind(app.as_str())
        .bind(settings.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(c) = credentials {
            check_sealing_key(&mut tx, c).await?;
            sqlx::query("UPDATE jobs SET credentials = $1 WHERE app_id = $2")
                .bind(c)
                .bind(app.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(m) = mappings {
            sqlx::query("UPDATE jobs SET mappings = $1 WHERE app_id = $2")
                .bind(m.to_string())
                .bind(app.as_str())
                .execute(&mut *tx)
                .await?;
        }
        feed::append(&mut tx, ChangeKind::App, app.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks for a cycle of `app` from whichever worker holds its lease: a
    /// change-feed entry that moves the feed past the job's watermark. Returns the
    /// entry's position.
    pub async fn request_cycle(&self, app: &AppId) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        feed::append(&mut tx, ChangeKind::App, app.as_str(), None).await?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM change_feed").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(head)
    }

    /// Updates a job's cycle state on its own (no object work alongside).
    pub async fn update_job_state(&self, app: &AppId, update: &JobStateUpdate) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        apply_state_update(&mut tx, app, update).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the shadow of an application (a restart with "clear state").
    pub async fn clear_shadow(&self, app: &AppId) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query("DELETE FROM shadow WHERE app_id = $1").bind(app.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) async fn apply_state_update(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &AppId,
    u: &JobStateUpdate,
) -> Result<(), StoreError> {
    let mut sets = vec!["updated_at = $1".to_string()];
    let mut n = 1;
    let mut next = |col: &str| {
        n += 1;
        format!("{col} = ${n}")
    };
    if u.phase.is_some() {
        sets.push(next("phase"));
    }
    if u.watermark.is_some() {
        sets.push(next("watermark"));
    }
    if u.initial_cursor.is_some() {
        sets.push(next("initial_cursor"));
    }
    if u.initial_head.is_some() {
        sets.push(next("initial_head"));
    }
    if u.state.is_some() {
        sets.push(next("state"));
    }
    let sql = format!("UPDATE jobs SET {} WHERE app_id = ${}", sets.join(", "), n + 1);
    let mut q = sqlx::query(&sql).bind(now_ms());
    if let Some(p) = u.phase {
        q = q.bind(p);
    }
    if let Some(w) = u.watermark {
        q = q.bind(w);
    }
    if let Some(c) = &u.initial_cursor {
        q = q.bind(c.clone());
    }
    if let Some(h) = u.initial_head {
        q = q.bind(h);
    }
    if let Some(s) = &u.state {
        q = q.bind(s.to_string());
    }
    q.bind(app.as_str()).execute(&mut **tx).await?;
    Ok(())
}

/// Refuses credentials sealed under a key other than the one the store records:
/// a rotation committed while they were being sealed.
async fn check_sealing_key(tx: &mut sqlx::Transaction<'static, sqlx::Any>, sealed: &str) -> Result<(), StoreError> {
    let Some(crate::secrets::SealedForm::Keyed(id)) = crate::secrets::sealed_form(sealed) else { return Ok(()) };
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT key_id FROM master_key WHERE id = 1").fetch_optional(&mut **tx).await?;
    match recorded {
        Some(r) if r != id => Err(StoreError::conflict(
            "the master key was rotated while these credentials were being saved: send them again",
        )),
        _ => Ok(()),
    }
}
