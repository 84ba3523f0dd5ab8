//! What a drift check needs of the store: shadow entries by the app's ids
//! (through a lookup copied when the check starts), the accounts the check has
//! seen in the app (so that the enabled shadow entries it has not seen are
//! found a page at a time, without holding every id in memory), and the app's
//! last report.

use crate::ids::AppId;
use crate::kinds::ObjectKind;
use crate::shadow::{shadow_from_row, ShadowEntry};
use crate::sql::{row_placeholders, rows_per_statement};
use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

const COLUMNS: &str = "s.object_kind, s.source_id, s.target_id, s.exported, s.enabled, s.pending_ref, s.last_sync";

impl Store {
    /// The shadow entries of objects of `kind` by their ids in the app, during
    /// a drift check (through the lookup [`Store::drift_begin`] copied; the
    /// entries are read as they are now).
    pub async fn shadow_entries_by_targets(
        &self,
        app: &AppId,
        kind: ObjectKind,
        targets: &[&str],
    ) -> Result<HashMap<String, ShadowEntry>, StoreError> {
        let mut out = HashMap::with_capacity(targets.len());
        for chunk in targets.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT {COLUMNS} FROM drift_targets d JOIN shadow s ON s.app_id = d.app_id \
                 AND s.object_kind = d.object_kind AND s.source_id = d.source_id AND s.target_id = d.target_id \
                 WHERE d.app_id = $1 AND d.object_kind = $2 AND d.target_id IN ({})",
                crate::sql::placeholders(3, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(kind);
            for t in chunk {
                q = q.bind(*t);
            }
            for row in q.fetch_all(self.pool()).await? {
                let entry = shadow_from_row(&row)?;
                out.insert(entry.target_id.clone(), entry);
            }
        }
        Ok(out)
    }

    /// Starts a drift check of `app`: forgets what the last one saw, and copies
    /// the app's id of every shadow entry into the check's lookup, in one pass.
    pub async fn drift_begin(&self, app: &AppId) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query("DELETE FROM drift_seen WHERE app_id = $1").bind(app.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM drift_targets WHERE app_id = $1").bind(app.as_str()).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO drift_targets (app_id, object_kind, target_id, source_id) \
             SELECT app_id, object_kind, target_id, source_id FROM shadow WHERE app_id = $1 \
             ORDER BY object_kind, target_id",
        )
        .bind(app.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes that the check saw these ids in the app.
    pub async fn drift_seen(&self, app: &AppId, targets: &[&str]) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        for chunk in targets.chunks(rows_per_statement(2)) {
            let sql = format!(
                "INSERT INTO drift_seen (app_id, target_id) VALUES {} ON CONFLICT DO NOTHING",
                row_placeholders(1, 2, chunk.len())
            );
            let sql = crate::sql::for_backend(crate::sql::backend_of(&tx), sql);
            let mut q = sqlx::query(&sql);
            for t in chunk {
                q = q.bind(app.as_str()).bind(*t);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Enabled shadow entries of `kind` whose id the check has not seen, in
    /// source id order after `after`.
    pub async fn drift_unseen(
        &self,
        app: &AppId,
        kind: ObjectKind,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ShadowEntry>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM shadow s WHERE s.app_id = $1 AND s.object_kind = $2 AND s.enabled = 1 \
             AND s.source_id > $3 AND NOT EXISTS \
             (SELECT 1 FROM drift_seen d WHERE d.app_id = s.app_id AND d.target_id = s.target_id) \
             ORDER BY s.source_id LIMIT {limit}"
        );
        let rows = sqlx::query(&sql).bind(app.as_str()).bind(kind).bind(after).fetch_all(self.pool()).await?;
        rows.iter().map(shadow_from_row).collect()
    }

    /// Ends a drift check: keeps its report (JSON) as the app's last.
    pub async fn save_drift_report(&self, app: &AppId, at: i64, report: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query("DELETE FROM drift_seen WHERE app_id = $1").bind(app.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM drift_targets WHERE app_id = $1").bind(app.as_str()).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO drift_reports (app_id, at, report) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id) DO UPDATE SET at = excluded.at, report = excluded.report",
        )
        .bind(app.as_str())
        .bind(at)
        .bind(report)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The app's last drift report (when, and the JSON), if a check ran.
    pub async fn drift_report(&self, app: &AppId) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT at, report FROM drift_reports WHERE app_id = $1")
            .bind(app.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("at")?, r.try_get("report")?)),
            None => None,
        })
    }
}
