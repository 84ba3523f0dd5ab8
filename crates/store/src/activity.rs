//! Provisioning activity at a glance: an app's log entries counted by hour,
//! action and outcome, and the failures of every app counted by day — counted
//! by the database, never by reading the entries.

use crate::ids::AppId;
use crate::kinds::{LogAction, LogStatus};
use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
/// A day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The entries of one hour with one action and one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityCount {
    /// The hour's start (milliseconds since the epoch).
    pub hour: i64,
    pub action: LogAction,
    pub status: LogStatus,
    pub count: i64,
}

impl Store {
    /// An app's log entries from `since` to `until`, counted by hour, action
    /// and status (hours without entries are left out).
    pub async fn activity(&self, app: &AppId, since: i64, until: i64) -> Result<Vec<ActivityCount>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT at / 3600000 AS h, action, status, COUNT(*) FROM provisioning_log \
             WHERE app_id = $1 AND at >= $2 AND at < $3 GROUP BY at / 3600000, action, status ORDER BY h, action, status",
        )
        .bind(app.as_str())
        .bind(since)
        .bind(until)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(h, action, status, count)| {
                Ok(ActivityCount { hour: h * HOUR_MS, action: action.parse()?, status: status.parse()?, count })
            })
            .collect()
    }

    /// The failed entries of every app from `since`, counted by app and day:
    /// for each app, the counts of the days from `since`'s day on.
    pub async fn failures_by_day(&self, since: i64, days: usize) -> Result<HashMap<AppId, Vec<i64>>, StoreError> {
        let first = since / DAY_MS;
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT app_id, at / 86400000 AS d, COUNT(*) FROM provisioning_log \
             WHERE status = $1 AND at >= $2 GROUP BY app_id, at / 86400000",
        )
        .bind(LogStatus::Failure)
        .bind(first * DAY_MS)
        .fetch_all(self.pool())
        .await?;
        let mut out: HashMap<AppId, Vec<i64>> = HashMap::new();
        for (app, day, count) in rows {
            let slot = usize::try_from(day - first).ok().filter(|i| *i < days);
            if let Some(i) = slot {
                out.entry(AppId::from_stored(app)).or_insert_with(|| vec![0; days])[i] += count;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ObjectKind;
    use crate::logs::{LogRecord, RecordBatch};

    fn entry(app: &AppId, n: usize, at: i64, action: LogAction, status: LogStatus) -> LogRecord {
        LogRecord {
            id: format!("e{n}"),
            app_id: app.clone(),
            cycle_id: "c".into(),
            change_id: n.to_string(),
            at,
            object_kind: ObjectKind::User,
            source_id: format!("u{n}"),
            source_name: None,
            target_id: None,
            action,
            status,
            steps: Vec::new(),
            modified: Vec::new(),
            error_code: None,
            error_message: None,
        }
    }

    #[tokio::test]
    async fn counts_by_hour_and_failures_by_day() {
        let dir = std::env::temp_dir().join(format!("roster-activity-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let app = crate::kinds::tests::scim_app(&store, "Wiki").await;
            let day0 = 20_000 * DAY_MS;
            let logs = vec![
                entry(&app, 1, day0 + 10, LogAction::Create, LogStatus::Success),
                entry(&app, 2, day0 + 20, LogAction::Create, LogStatus::Success),
                entry(&app, 3, day0 + HOUR_MS + 5, LogAction::Update, LogStatus::Failure),
                entry(&app, 4, day0 + 2 * DAY_MS, LogAction::Disable, LogStatus::Failure),
                entry(&app, 5, day0 - 1, LogAction::Create, LogStatus::Failure),
            ];
            store.record(&app, &RecordBatch { logs, ..RecordBatch::default() }).await.expect("record");
            let counts = store.activity(&app, day0, day0 + 7 * DAY_MS).await.expect("activity");
            assert_eq!(
                counts,
                vec![
                    ActivityCount { hour: day0, action: LogAction::Create, status: LogStatus::Success, count: 2 },
                    ActivityCount {
                        hour: day0 + HOUR_MS,
                        action: LogAction::Update,
                        status: LogStatus::Failure,
                        count: 1
                    },
                    ActivityCount {
                        hour: day0 + 2 * DAY_MS,
                        action: LogAction::Disable,
                        status: LogStatus::Failure,
                        count: 1
                    },
                ]
            );
            let failures = store.failures_by_day(day0 + 5, 7).await.expect("failures");
            assert_eq!(failures.get(&app), Some(&vec![1, 0, 1, 0, 0, 0, 0]));
        }
    }
}
