//! Inbound sources: HR systems that push people into the directory. A source is
//! an application whose template is an inbound one; its settings live in
//! `sources`, what it sent in `inbound_batches`, and what its rules put off to a
//! date in `inbound_schedule`. [`Store::apply_inbound`] writes one record's
//! outcome (the user, its scheduled actions and its log entry) in one
//! transaction, so a crash never leaves one without the others.

use crate::ids::{AppId, UserId};
use crate::kinds::{BatchStatus, ScheduledAction};
use crate::logs::{insert_logs, LogRecord};
use crate::model::{Application, User};
use crate::users::{UserInput, UserPatch};
use crate::{now_ms, Backend, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A batch as the API shows it (without its records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundBatch {
    pub id: String,
    pub source_id: AppId,
    /// `scim` (a push), `csv` (a file posted to the API) or `folder` (a file
    /// picked up from the watched folder).
    pub origin: String,
    pub received_at: i64,
    pub status: BatchStatus,
    /// How many records it holds (or held).
    pub records: i64,
    /// The outcome by action (`create`, `update`, `enable`, `disable`...), and
    /// for a held batch why it is held.
    pub summary: serde_json::Value,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
}

/// One action a source's rules put off to a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scheduled {
    pub source_id: AppId,
    /// The user's id (enable, disable) or the record's key (create).
    pub subject: String,
    pub action: ScheduledAction,
    pub due_at: i64,
    /// The record to create from (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
}

/// What one record does to the directory user.
#[derive(Debug, Clone)]
pub enum UserWrite {
    /// A new user.
    Create(Box<UserInput>),
    /// A change to an existing user.
    Update(UserId, Box<UserPatch>),
    /// Nothing (a skipped record, a put-off hire).
    Nothing,
}

/// A change to the schedule that goes with a record.
#[derive(Debug, Clone)]
pub struct ScheduleChange {
    pub action: ScheduledAction,
    /// `None` when the subject is the user being written (its id is known only
    /// once it is created).
    pub subject: Option<String>,
    /// When; `None` removes the action.
    pub due_at: Option<i64>,
    pub record: Option<serde_json::Value>,
}

/// One record's outcome, written in one transaction.
#[derive(Debug, Clone)]
pub struct InboundChange {
    /// A scheduled action this change carries out: written only if the action
    /// is still there (and removed with it), so that two workers never both do it.
    pub claim: Option<(ScheduledAction, String, i64)>,
    pub write: UserWrite,
    pub schedule: Vec<ScheduleChange>,
    /// The log entry; its `target_id` is set to the user's id when empty.
    pub log: LogRecord,
}

const BATCH_COLUMNS: &str = "id, app_id, origin, received_at, status, summary, decided_at, decided_by, records";

fn batch_from_row(row: &AnyRow) -> Result<(InboundBatch, serde_json::Value), StoreError> {
    let summary: String = row.try_get("summary")?;
    let records: String = row.try_get("records")?;
    let records: serde_json::Value = serde_json::from_str(&records)?;
    let count = match (&records, serde_json::from_str::<serde_json::Value>(&summary)?.get("records")) {
        (_, Some(n)) if n.is_i64() => n.as_i64().unwrap_or(0),
        (serde_json::Value::Array(a), _) => a.len() as i64,
        _ => 0,
    };
    Ok((
        InboundBatch {
            id: row.try_get("id")?,
            source_id: AppId::from_stored(row.try_get("app_id")?),
            origin: row.try_get("origin")?,
            received_at: row.try_get("received_at")?,
            status: row.try_get("status")?,
            records: count,
            summary: serde_json::from_str(&summary)?,
            decided_at: row.try_get("decided_at")?,
            decided_by: row.try_get("decided_by")?,
        },
        records,
    ))
}

fn scheduled_from_row(row: &AnyRow) -> Result<Scheduled, StoreError> {
    let record: Option<String> = row.try_get("record")?;
    Ok(Scheduled {
        source_id: AppId::from_stored(row.try_get("app_id")?),
        subject: row.try_get("subject")?,
        action: row.try_get("action")?,
        due_at: row.try_get("due_at")?,
        record: record.map(|r| serde_json::from_str(&r)).transpose()?,
    })
}

impl Store {
    /// Creates a source: its application row (with the default role, so that
    /// the app's pages read as usual) and its settings, in one transaction.
    pub async fn create_source(&self, name: &str, template: &str, settings: &str) -> Result<Application, StoreError> {
        let mut tx = self.begin_write().await?;
        let app = crate::apps::insert_app(&mut tx, name, template).await?;
        sqlx::query("INSERT INTO sources (app_id, settings, updated_at) VALUES ($1, $2, $3)")
            .bind(app.id.as_str())
            .bind(settings)
            .bind(app.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// A source's stored settings; `None` when the app is not a source.
    pub async fn source_settings(&self, app: &AppId) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT settings FROM sources WHERE app_id = $1")
            .bind(app.as_str())
            .fetch_optional(self.pool())
            .await?)
    }

    /// The ids of every source.
    pub async fn source_ids(&self) -> Result<Vec<AppId>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT app_id FROM sources ORDER BY app_id").fetch_all(self.pool()).await?;
        Ok(ids.into_iter().map(AppId::from_stored).collect())
    }

    /// Replaces a source's settings.
    pub async fn save_source_settings(&self, app: &AppId, settings: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let done = sqlx::query("UPDATE sources SET settings = $1, updated_at = $2 WHERE app_id = $3")
            .bind(settings)
            .bind(now_ms())
            .bind(app.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("source", app.to_string()));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a batch of records as queued; returns its id.
    pub async fn queue_batch(
        &self,
        app: &AppId,
        origin: &str,
        records: &serde_json::Value,
        now: i64,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let count = records.as_array().map_or(0, Vec::len);
        let mut tx = self.begin_immediate().await?;
        sqlx::query(
            "INSERT INTO inbound_batches (id, app_id, origin, received_at, status, records, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(app.as_str())
        .bind(origin)
        .bind(now)
        .bind(BatchStatus::Queued)
        .bind(records.to_string())
        .bind(serde_json::json!({ "records": count }).to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Whether any batch is queued or running (a read: the claim that follows
    /// takes the write lock only when there is work).
    pub async fn batches_waiting(&self) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM inbound_batches WHERE status = $1 OR status = $2 LIMIT 1")
                .bind(BatchStatus::Queued)
                .bind(BatchStatus::Running)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Takes a batch to apply: the oldest queued one, or a running one whose
    /// worker stopped touching it before `stale_before`; never one of a source
    /// with a batch running, nor one received after a batch held for approval
    /// (it waits for the decision). Marks it running. Two workers never take
    /// the same.
    pub async fn claim_batch(
        &self,
        now: i64,
        stale_before: i64,
    ) -> Result<Option<(InboundBatch, serde_json::Value)>, StoreError> {
        let mut tx = self.begin_immediate().await?;
        if self.backend() == Backend::Postgres {
            // Claims one at a time: a worker sees the batch another just took as
            // running, never as queued and locked.
            sqlx::query("SELECT pg_advisory_xact_lock(4245)").execute(&mut *tx).await?;
        }
        let row = sqlx::query(&format!(
            "SELECT {BATCH_COLUMNS} FROM inbound_batches b \
             WHERE (b.status = $1 OR (b.status = $2 AND b.claimed_at < $3)) \
             AND NOT EXISTS (SELECT 1 FROM inbound_batches r WHERE r.app_id = b.app_id AND r.id <> b.id \
                             AND ((r.status = $2 AND r.claimed_at >= $3) \
                                  OR (r.status = $4 AND r.received_at <= b.received_at))) \
             ORDER BY b.received_at, b.id LIMIT 1"
        ))
        .bind(BatchStatus::Queued)
        .bind(BatchStatus::Running)
        .bind(stale_before)
        .bind(BatchStatus::Held)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (mut batch, records) = batch_from_row(&row)?;
        sqlx::query("UPDATE inbound_batches SET status = $1, claimed_at = $2 WHERE id = $3")
            .bind(BatchStatus::Running)
            .bind(now)
            .bind(&batch.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        batch.status = BatchStatus::Running;
        Ok(Some((batch, records)))
    }

    /// Says a running batch is still being worked on.
    pub async fn touch_batch(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE inbound_batches SET claimed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.writes())
            .await?;
        Ok(())
    }

    /// Ends a batch's run: applied (its records are let go), or held for approval
    /// (its records kept).
    pub async fn finish_batch(
        &self,
        id: &str,
        status: BatchStatus,
        summary: &serde_json::Value,
        now: i64,
    ) -> Result<(), StoreError> {
        let keep = status == BatchStatus::Held;
        let sql = if keep {
            "UPDATE inbound_batches SET status = $1, summary = $2, decided_at = $3 WHERE id = $4"
        } else {
            "UPDATE inbound_batches SET status = $1, summary = $2, decided_at = $3, records = '[]' WHERE id = $4"
        };
        let mut tx = self.begin_immediate().await?;
        sqlx::query(sql).bind(status).bind(summary.to_string()).bind(now).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An admin's decision on a held batch: approved (queued again, to be applied
    /// past the threshold) or rejected (its records let go). Refused unless held.
    pub async fn decide_batch(
        &self,
        app: &AppId,
        id: &str,
        approve: bool,
        by: &str,
    ) -> Result<InboundBatch, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let row = sqlx::query(&format!("SELECT {BATCH_COLUMNS} FROM inbound_batches WHERE id = $1 AND app_id = $2"))
            .bind(id)
            .bind(app.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("batch", id))?;
        let (mut batch, _) = batch_from_row(&row)?;
        if batch.status != BatchStatus::Held {
            return Err(StoreError::conflict(format!(
                "batch {id} is {}, not held: only a held batch is decided",
                batch.status
            )));
        }
        let (status, sql) = if approve {
            (
                BatchStatus::Queued,
                "UPDATE inbound_batches SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4",
            )
        } else {
            (
                BatchStatus::Rejected,
                "UPDATE inbound_batches SET status = $1, decided_by = $2, decided_at = $3, records = '[]' WHERE id = $4",
            )
        };
        let now = now_ms();
        sqlx::query(sql).bind(status).bind(by).bind(now).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        batch.status = status;
        batch.decided_by = Some(by.to_string());
        batch.decided_at = Some(now);
        Ok(batch)
    }

    /// One batch of a source, with its records (empty once decided).
    pub async fn batch(&self, app: &AppId, id: &str) -> Result<(InboundBatch, serde_json::Value), StoreError> {
        let row = sqlx::query(&format!("SELECT {BATCH_COLUMNS} FROM inbound_batches WHERE id = $1 AND app_id = $2"))
            .bind(id)
            .bind(app.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("batch", id))?;
        batch_from_row(&row)
    }

    /// A source's batches, newest first.
    pub async fn batches(&self, app: &AppId, limit: i64) -> Result<Vec<InboundBatch>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, app_id, origin, received_at, status, summary, decided_at, decided_by, '[]' AS records \
             FROM inbound_batches WHERE app_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
        )
        .bind(app.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| batch_from_row(r).map(|(b, _)| b)).collect()
    }

    /// The scheduled actions due at `now`, oldest first.
    pub async fn due_actions(&self, now: i64, limit: i64) -> Result<Vec<Scheduled>, StoreError> {
        let rows = sqlx::query(
            "SELECT app_id, subject, action, due_at, record FROM inbound_schedule WHERE due_at <= $1 \
             ORDER BY due_at, app_id, subject LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(scheduled_from_row).collect()
    }

    /// A source's scheduled actions, soonest first.
    pub async fn scheduled(&self, app: &AppId, limit: i64) -> Result<Vec<Scheduled>, StoreError> {
        let rows = sqlx::query(
            "SELECT app_id, subject, action, due_at, record FROM inbound_schedule WHERE app_id = $1 \
             ORDER BY due_at, subject LIMIT $2",
        )
        .bind(app.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(scheduled_from_row).collect()
    }

    /// Writes one record's outcome: the user, its scheduled actions and its log
    /// entry, in one transaction. Returns the user written, if any.
    pub async fn apply_inbound(&self, app: &AppId, change: InboundChange) -> Result<Option<User>, StoreError> {
        let mut tx = self.begin_write().await?;
        let user = write_change(&mut tx, app, change).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// A transaction that writes the outcomes of many records, each on its own
    /// savepoint: a record the directory refuses leaves the others written.
    pub async fn inbound_tx(&self, app: &AppId) -> Result<InboundTx, StoreError> {
        Ok(InboundTx { tx: self.begin_write().await?, app: app.clone() })
    }

    /// Users by employee id (any of `ids`), deleted ones too.
    pub async fn users_by_employee_ids(&self, ids: &[String]) -> Result<Vec<User>, StoreError> {
        self.users_where("employee_id", ids).await
    }

    /// Users by userName (any of `names`, any case).
    pub async fn users_by_user_names(&self, names: &[String]) -> Result<Vec<User>, StoreError> {
        let keys: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
        self.users_where("user_name_key", &keys).await
    }

    async fn users_where(&self, column: &str, values: &[String]) -> Result<Vec<User>, StoreError> {
        let mut out = Vec::new();
        for chunk in values.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT {} FROM users WHERE {column} IN ({})",
                crate::users::COLUMNS,
                crate::sql::placeholders(1, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql);
            for v in chunk {
                q = q.bind(v);
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(crate::users::user_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// The scheduled actions on any of `subjects`.
    pub async fn scheduled_for_many(&self, app: &AppId, subjects: &[String]) -> Result<Vec<Scheduled>, StoreError> {
        let mut out = Vec::new();
        for chunk in subjects.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT app_id, subject, action, due_at, record FROM inbound_schedule WHERE app_id = $1 AND subject IN ({})",
                crate::sql::placeholders(2, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql).bind(app.as_str());
            for v in chunk {
                q = q.bind(v);
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(scheduled_from_row(&row)?);
            }
        }
        Ok(out)
    }
}

/// Writes of many records in one transaction ([`Store::inbound_tx`]).
pub struct InboundTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    app: AppId,
}

impl InboundTx {
    /// Writes one record's outcome on a savepoint: refused, it leaves nothing.
    pub async fn apply(&mut self, change: InboundChange) -> Result<Option<User>, StoreError> {
        sqlx::query("SAVEPOINT inbound_record").execute(&mut *self.tx).await?;
        match write_change(&mut self.tx, &self.app, change).await {
            Ok(user) => {
                sqlx::query("RELEASE SAVEPOINT inbound_record").execute(&mut *self.tx).await?;
                Ok(user)
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO SAVEPOINT inbound_record").execute(&mut *self.tx).await?;
                sqlx::query("RELEASE SAVEPOINT inbound_record").execute(&mut *self.tx).await?;
                Err(e)
            }
        }
    }

    /// Commits every record written.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Writes the user, its scheduled actions and its log entry of one record.
async fn write_change(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &AppId,
    mut change: InboundChange,
) -> Result<Option<User>, StoreError> {
    if let Some((action, subject, due_at)) = &change.claim {
        let done = sqlx::query(
            "DELETE FROM inbound_schedule WHERE app_id = $1 AND subject = $2 AND action = $3 AND due_at = $4",
        )
        .bind(app.as_str())
        .bind(subject)
        .bind(*action)
        .bind(*due_at)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::conflict(format!(
                "the scheduled {action} of {subject} was done or changed meanwhile"
            )));
        }
    }
    let user = match change.write {
        UserWrite::Create(input) => Some(crate::users::create_in(tx, *input, now_ms()).await?),
        UserWrite::Update(id, patch) => Some(crate::users::update_in(tx, &id, *patch).await?),
        UserWrite::Nothing => None,
    };
    for s in &change.schedule {
        let subject = match (&s.subject, &user) {
            (Some(subject), _) => subject.clone(),
            (None, Some(user)) => user.id.to_string(),
            (None, None) => continue,
        };
        sqlx::query("DELETE FROM inbound_schedule WHERE app_id = $1 AND subject = $2 AND action = $3")
            .bind(app.as_str())
            .bind(&subject)
            .bind(s.action)
            .execute(&mut **tx)
            .await?;
        if let Some(due) = s.due_at {
            sqlx::query(
                "INSERT INTO inbound_schedule (app_id, subject, action, due_at, record) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(app.as_str())
            .bind(&subject)
            .bind(s.action)
            .bind(due)
            .bind(s.record.as_ref().map(|r| r.to_string()))
            .execute(&mut **tx)
            .await?;
        }
    }
    if let Some(user) = &user {
        if change.log.target_id.is_none() {
            change.log.target_id = Some(user.id.to_string());
        }
    }
    insert_logs(tx, app, std::slice::from_ref(&change.log)).await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scheduled action is carried out once: the change that claims it
    /// finds it gone the second time.
    #[tokio::test]
    async fn a_scheduled_action_is_claimed_once() {
        let dir = std::env::temp_dir().join(format!("roster-claim-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let source = store.create_source("HR", "hr-csv", "{}").await.expect("source");
            let log = |id: &str| LogRecord {
                id: id.into(),
                app_id: source.id.clone(),
                cycle_id: "c".into(),
                change_id: "1".into(),
                at: 1,
                object_kind: crate::ObjectKind::User,
                source_id: "E1".into(),
                source_name: None,
                target_id: None,
                action: crate::LogAction::Create,
                status: crate::LogStatus::Success,
                steps: Vec::new(),
                modified: Vec::new(),
                error_code: None,
                error_message: None,
            };
            let enable =
                ScheduleChange { action: ScheduledAction::Enable, subject: None, due_at: Some(50), record: None };
            let input = UserInput { user_name: "ada".into(), active: Some(false), ..UserInput::default() };
            let create = InboundChange {
                claim: None,
                write: UserWrite::Create(Box::new(input)),
                schedule: vec![enable],
                log: log("a"),
            };
            let user = store.apply_inbound(&source.id, create).await.expect("create").expect("a user");
            let claim = Some((ScheduledAction::Enable, user.id.to_string(), 50));
            let patch = UserPatch { active: Some(Some(true)), ..UserPatch::default() };
            let run = |id: &str| InboundChange {
                claim: claim.clone(),
                write: UserWrite::Update(user.id.clone(), Box::new(patch.clone())),
                schedule: Vec::new(),
                log: log(id),
            };
            assert!(store.apply_inbound(&source.id, run("b")).await.is_ok());
            let again = store.apply_inbound(&source.id, run("c")).await;
            assert!(matches!(again, Err(StoreError::Conflict { .. })), "{again:?}");
            assert!(store.due_actions(100, 10).await.expect("due").is_empty());
        }
    }

    /// Batches are taken oldest first, one running batch per source, and a
    /// running batch nobody touched for long is taken again.
    #[tokio::test]
    async fn one_running_batch_per_source() {
        let dir = std::env::temp_dir().join(format!("roster-inbound-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let a = store.create_source("A", "hr-csv", "{}").await.expect("source A");
            let b = store.create_source("B", "hr-csv", "{}").await.expect("source B");
            let one = serde_json::json!([{"x": 1}]);
            let a1 = store.queue_batch(&a.id, "csv", &one, 10).await.expect("a1");
            let a2 = store.queue_batch(&a.id, "csv", &one, 20).await.expect("a2");
            let b1 = store.queue_batch(&b.id, "csv", &one, 30).await.expect("b1");
            let take = |now: i64| store.claim_batch(now, now - 1000);
            let first = take(100).await.expect("claim").map(|(batch, _)| batch.id);
            assert_eq!(first.as_deref(), Some(a1.as_str()));
            let second = take(100).await.expect("claim").map(|(batch, _)| batch.id);
            assert_eq!(second.as_deref(), Some(b1.as_str()), "A has a batch running: B's comes first");
            assert!(take(100).await.expect("claim").is_none());
            // A worker that stopped touching a1 for over a second loses it.
            let again = take(1200).await.expect("claim").map(|(batch, _)| batch.id);
            assert_eq!(again.as_deref(), Some(a1.as_str()));
            store.finish_batch(&a1, BatchStatus::Applied, &serde_json::json!({}), 1300).await.expect("finish");
            let next = take(1300).await.expect("claim").map(|(batch, records)| (batch.id, records));
            assert_eq!(next, Some((a2.clone(), one.clone())));
            let (done, records) = store.batch(&a.id, &a1).await.expect("a1");
            assert_eq!((done.status, records), (BatchStatus::Applied, serde_json::json!([])), "records let go");
        }
    }
}
