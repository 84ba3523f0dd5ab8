//! The provisioning log, and `record`: the one transaction that writes a batch of
//! log entries together with the shadow and the job state they describe, so that a
//! crash never leaves one without the other.

use crate::ids::AppId;
use crate::jobs::{apply_state_update, JobStateUpdate};
use crate::kinds::{LogAction, LogStatus, ObjectKind};
use crate::model::Page;
use crate::shadow::{MemberShadow, ShadowEntry};
use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// One entry of the provisioning log: what happened to one object in one cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    pub id: String,
    pub app_id: AppId,
    pub cycle_id: String,
    pub change_id: String,
    pub at: i64,
    pub object_kind: ObjectKind,
    pub source_id: String,
    pub source_name: Option<String>,
    pub target_id: Option<String>,
    pub action: LogAction,
    pub status: LogStatus,
    pub steps: Vec<Step>,
    pub modified: Vec<ModifiedProperty>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// One step of provisioning an object: `Import`, `Scope`, `Match`, `Action`,
/// a `Note`..., and its outcome in words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Step {
    pub step: String,
    pub outcome: String,
}

impl Step {
    pub fn new(step: &str, outcome: impl Into<String>) -> Step {
        Step { step: step.to_string(), outcome: outcome.into() }
    }
}

/// An attribute a write changed in the app: its value before and after. A
/// group's `members` tell instead which members were added and removed (the
/// first few of each) and how many.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedProperty {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub old: serde_json::Value,
    #[serde(default)]
    pub new: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_count: Option<usize>,
}

impl ModifiedProperty {
    pub fn new(name: &str, old: impl Into<serde_json::Value>, new: impl Into<serde_json::Value>) -> ModifiedProperty {
        ModifiedProperty { name: name.to_string(), old: old.into(), new: new.into(), ..ModifiedProperty::default() }
    }

    /// A group's `members`: `added` and `removed` hold the first few of
    /// `counts` (added, removed).
    pub fn members(added: Vec<String>, removed: Vec<String>, counts: (usize, usize)) -> ModifiedProperty {
        ModifiedProperty {
            name: "members".into(),
            added: Some(added),
            removed: Some(removed),
            added_count: Some(counts.0),
            removed_count: Some(counts.1),
            ..ModifiedProperty::default()
        }
    }
}

/// How to query the log. Times are milliseconds since the epoch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogQuery {
    /// Entries with this status.
    pub status: Option<LogStatus>,
    /// Entries with this action.
    pub action: Option<LogAction>,
    /// A source id or source name (userName).
    pub user: Option<String>,
    pub cycle_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

const COLUMNS: &str = "id, app_id, cycle_id, change_id, at, object_kind, source_id, source_name, target_id, action, \
    status, steps, modified, error_code, error_message";

fn log_from_row(row: &AnyRow) -> Result<LogRecord, StoreError> {
    let steps: String = row.try_get("steps")?;
    let modified: String = row.try_get("modified")?;
    Ok(LogRecord {
        id: row.try_get("id")?,
        app_id: AppId::from_stored(row.try_get("app_id")?),
        cycle_id: row.try_get("cycle_id")?,
        change_id: row.try_get("change_id")?,
        at: row.try_get("at")?,
        object_kind: row.try_get("object_kind")?,
        source_id: row.try_get("source_id")?,
        source_name: row.try_get("source_name")?,
        target_id: row.try_get("target_id")?,
        action: row.try_get("action")?,
        status: row.try_get("status")?,
        steps: serde_json::from_str(&steps)?,
        modified: serde_json::from_str(&modified)?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
    })
}

/// What one batch of work wrote, to be recorded atomically.
#[derive(Debug, Default)]
pub struct RecordBatch {
    pub shadow_upserts: Vec<ShadowEntry>,
    pub logs: Vec<LogRecord>,
    pub job: Option<JobStateUpdate>,
    /// Members now sent to groups. An add never replaces the row of another
    /// account id of the same member: that one goes only with its removal.
    pub member_adds: Vec<MemberShadow>,
    /// Members whose removal the app confirmed: each names the one row (group,
    /// member, account id) it deletes, so the row of an account id still sent
    /// for the same member stays.
    pub member_removes: Vec<MemberShadow>,
    /// (object kind, source id) of objects that no longer exist in the app; a
    /// group's member roster goes with it.
    pub shadow_deletes: Vec<(ObjectKind, String)>,
    /// Manual mode: the shadow upserts wait in the app's hand-off for an admin
    /// to apply them and confirm (see `Store::handoff`), instead of reaching
    /// the shadow now; the log entries are written as usual.
    pub handoff: bool,
    /// Objects that failed: escrowed, or one more attempt counted.
    pub escrow_failures: Vec<crate::escrow::EscrowFailure>,
    /// (object kind, source id) of objects that succeeded: out of escrow.
    pub escrow_clears: Vec<(ObjectKind, String)>,
    /// The time the escrow delays count from (milliseconds).
    pub now: i64,
    /// (object kind, source id) whose intents this batch settles.
    pub intent_clears: Vec<(String, String)>,
}

/// Writes log entries, many rows per statement (a batch of 1,000 users is 10
/// statements, not 1,000); an entry whose id was already written is skipped.
pub(crate) async fn insert_logs(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &AppId,
    logs: &[LogRecord],
) -> Result<(), StoreError> {
    for chunk in logs.chunks(crate::sql::rows_per_statement(15)) {
        let sql = crate::sql::shaped(crate::sql::backend_of(tx), "insert-logs", chunk.len(), || {
            format!(
                "INSERT INTO provisioning_log ({COLUMNS}) VALUES {} ON CONFLICT (id) DO NOTHING",
                crate::sql::row_placeholders(1, 15, chunk.len())
            )
        });
        let mut q = sqlx::query(&sql);
        for l in chunk {
            q = q
                .bind(&l.id)
                .bind(app.as_str())
                .bind(&l.cycle_id)
                .bind(&l.change_id)
                .bind(l.at)
                .bind(l.object_kind)
                .bind(&l.source_id)
                .bind(&l.source_name)
                .bind(&l.target_id)
                .bind(l.action)
                .bind(l.status)
                .bind(crate::json_text::json_text(&l.steps, 512))
                .bind(crate::json_text::json_text(&l.modified, 1024))
                .bind(&l.error_code)
                .bind(&l.error_message);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Records a batch: shadow, log entries and job state in one transaction.
    /// A log entry whose id was already recorded is not written twice.
    pub async fn record(&self, app: &AppId, batch: &RecordBatch) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let shadow_upserts: &[ShadowEntry] = if batch.handoff {
            crate::handoff::stage(&mut tx, app, &batch.shadow_upserts, &batch.logs).await?;
            &[]
        } else {
            &batch.shadow_upserts
        };
        crate::shadow::upsert_shadows(&mut tx, app, shadow_upserts).await?;
        for (kind, source) in &batch.shadow_deletes {
            sqlx::query("DELETE FROM shadow WHERE app_id = $1 AND object_kind = $2 AND source_id = $3")
                .bind(app.as_str())
                .bind(*kind)
                .bind(source)
                .execute(&mut *tx)
                .await?;
            if *kind == ObjectKind::Group {
                sqlx::query("DELETE FROM shadow_members WHERE app_id = $1 AND group_id = $2")
                    .bind(app.as_str())
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for m in &batch.member_removes {
            sqlx::query(
                "DELETE FROM shadow_members WHERE app_id = $1 AND group_id = $2 AND member_id = $3 AND target_id = $4",
            )
            .bind(app.as_str())
            .bind(&m.group_id)
            .bind(&m.member_id)
            .bind(&m.target_id)
            .execute(&mut *tx)
            .await?;
        }
        // Many rows per statement: a 10,000-member group is 50 statements, not 10,000.
        for chunk in batch.member_adds.chunks(crate::sql::rows_per_statement(4)) {
            let sql = format!(
                "INSERT INTO shadow_members (app_id, group_id, member_id, target_id) VALUES {} \
                 ON CONFLICT (app_id, group_id, member_id, target_id) DO NOTHING",
                crate::sql::row_placeholders(1, 4, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql);
            for m in chunk {
                q = q.bind(app.as_str()).bind(&m.group_id).bind(&m.member_id).bind(&m.target_id);
            }
            q.execute(&mut *tx).await?;
        }
        insert_logs(&mut tx, app, &batch.logs).await?;
        if !batch.escrow_failures.is_empty() || !batch.escrow_clears.is_empty() {
            let now = if batch.now > 0 { batch.now } else { crate::now_ms() };
            crate::escrow::apply(&mut tx, app, &batch.escrow_failures, &batch.escrow_clears, now).await?;
        }
        if !batch.intent_clears.is_empty() {
            crate::intents::clear(&mut tx, app, &batch.intent_clears).await?;
        }
        if let Some(job) = &batch.job {
            apply_state_update(&mut tx, app, job).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queries the provisioning log of an application, newest first.
    pub async fn logs(&self, app: &AppId, q: &LogQuery) -> Result<Page<LogRecord>, StoreError> {
        let offset = q.offset.unwrap_or(0).max(0);
        let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
        let mut clauses = vec!["app_id = $1".to_string()];
        let mut texts: Vec<String> = vec![app.to_string()];
        let mut push = |clause: &str, v: String, texts: &mut Vec<String>| {
            texts.push(v);
            clauses.push(clause.replace('?', &format!("${}", texts.len())));
        };
        if let Some(s) = q.status {
            push("status = ?", s.as_str().to_string(), &mut texts);
        }
        if let Some(a) = q.action {
            push("action = ?", a.as_str().to_string(), &mut texts);
        }
        if let Some(u) = &q.user {
            push("(source_id = ? OR LOWER(source_name) = LOWER(?))", u.clone(), &mut texts);
        }
        if let Some(c) = &q.cycle_id {
            push("cycle_id = ?", c.clone(), &mut texts);
        }
        let mut filter = clauses.join(" AND ");
        if let Some(since) = q.since {
            filter.push_str(&format!(" AND at >= {since}"));
        }
        if let Some(until) = q.until {
            filter.push_str(&format!(" AND at < {until}"));
        }
        let count_sql = format!("SELECT COUNT(*) FROM provisioning_log WHERE {filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for t in &texts {
            count = count.bind(t);
        }
        let total = count.fetch_one(self.pool()).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM provisioning_log WHERE {filter} ORDER BY seq DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut list = sqlx::query(&sql);
        for t in &texts {
            list = list.bind(t);
        }
        let items = list.fetch_all(self.pool()).await?.iter().map(log_from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total, offset, limit })
    }
}

/// The columns of the log's CSV export, in order.
const CSV_COLUMNS: &[&str] = &[
    "at",
    "cycleId",
    "changeId",
    "objectKind",
    "sourceId",
    "sourceName",
    "targetId",
    "action",
    "status",
    "errorCode",
    "errorMessage",
    "modified",
    "steps",
];

/// Log entries as CSV (RFC 4180 quoting), one row each after a header row: the
/// export the API and the portal both serve.
pub fn logs_csv(items: &[LogRecord]) -> String {
    let mut table = crate::csv::Table::new(CSV_COLUMNS);
    for item in items {
        let v = serde_json::to_value(item).unwrap_or_default();
        table.row(CSV_COLUMNS.iter().map(|c| crate::csv::value_text(&v[*c])));
    }
    table.finish()
}
