//! Intents: written before a batch calls an app, removed with the batch's record.
//! What is left after a crash names the objects whose state in the app is unknown:
//! the engine checks them against the app before it goes on.

use crate::ids::AppId;
use crate::kinds::ObjectKind;
use crate::users::{backend_of, for_backend, placeholders};
use crate::{Store, StoreError};
use sqlx::{Any, Row, Transaction};

/// An object a cut-short batch was writing.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub object_kind: String,
    pub source_id: String,
    /// The matching attributes sent, `[[target path, value], ...]`.
    pub matching: serde_json::Value,
}

/// Removes intents inside a record transaction.
pub(crate) async fn clear(
    tx: &mut Transaction<'static, Any>,
    app: &AppId,
    done: &[(String, String)],
) -> Result<(), StoreError> {
    for (kind, ids) in group_by_kind(done) {
        for chunk in ids.chunks(crate::users::IN_LIST) {
            let sql = format!(
                "DELETE FROM intents WHERE app_id = $1 AND object_kind = $2 AND source_id IN ({})",
                placeholders(3, chunk.len())
            );
            let sql = for_backend(backend_of(tx), sql);
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(kind.as_str());
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// The ids of `done`, by kind (an object kind, or an intent's).
pub(crate) fn group_by_kind<K: PartialEq>(done: &[(K, String)]) -> Vec<(&K, Vec<&str>)> {
    let mut out: Vec<(&K, Vec<&str>)> = Vec::new();
    for (kind, id) in done {
        match out.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, ids)) => ids.push(id),
            None => out.push((kind, vec![id])),
        }
    }
    out
}

impl Store {
    /// Writes the intents of a batch (kind, source id, matching values) in one transaction.
    pub async fn write_intents(
        &self,
        app: &AppId,
        kind: &str,
        items: &[(String, serde_json::Value)],
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let now = crate::now_ms();
        let mut tx = self.begin_immediate().await?;
        for chunk in items.chunks(crate::users::rows_per_statement(5)) {
            let sql = format!(
                "INSERT INTO intents (app_id, object_kind, source_id, matching, created_at) VALUES {} \
                 ON CONFLICT (app_id, object_kind, source_id) DO UPDATE SET matching = excluded.matching",
                crate::users::row_placeholders(1, 5, chunk.len())
            );
            let sql = for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql);
            for (id, matching) in chunk {
                q = q.bind(app.as_str()).bind(kind).bind(id).bind(serde_json::to_string(matching)?).bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The intents left by batches a crash cut short.
    pub async fn intents(&self, app: &AppId, kind: &str, limit: i64) -> Result<Vec<Intent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT object_kind, source_id, matching FROM intents WHERE app_id = $1 AND object_kind = $2 \
             ORDER BY source_id LIMIT {limit}"
        ))
        .bind(app.as_str())
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let matching: String = r.try_get("matching")?;
                Ok(Intent {
                    object_kind: r.try_get("object_kind")?,
                    source_id: r.try_get("source_id")?,
                    matching: serde_json::from_str(&matching)?,
                })
            })
            .collect()
    }

    /// The user shadow entries whose account id is one of `targets`: source id → target id.
    /// The shadow is not indexed by the app's ids (see migration 0018), so this
    /// reads the app's entries once, in one pass, and keeps those it asks for:
    /// it runs only to recover a group's members after a crash.
    pub async fn shadow_by_targets(
        &self,
        app: &AppId,
        kind: ObjectKind,
        targets: &[&str],
    ) -> Result<Vec<(String, String)>, StoreError> {
        use futures::TryStreamExt;
        let wanted: std::collections::HashSet<&str> = targets.iter().copied().collect();
        let mut out = Vec::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut rows = sqlx::query("SELECT source_id, target_id FROM shadow WHERE app_id = $1 AND object_kind = $2")
            .bind(app.as_str())
            .bind(kind)
            .fetch(self.pool());
        while let Some(r) = rows.try_next().await? {
            let target: String = r.try_get("target_id")?;
            if wanted.contains(target.as_str()) {
                out.push((r.try_get("source_id")?, target));
            }
        }
        Ok(out)
    }
}
