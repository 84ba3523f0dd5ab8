//! Intents: written before a batch calls an app, removed with the batch's record.
//! What is left after a crash names the objects whose state in the app is unknown:
//! the engine checks them against the app before it goes on.

use crate::ids::AppId;
use crate::kinds::ObjectKind;
use crate::sql::{backend_of, for_backend, placeholders};
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
        for chunk in ids.chunks(crate::sql::IN_LIST) {
            let sql = crate::sql::shaped(backend_of(tx), "clear-intents", chunk.len(), || {
                format!(
                    "DELETE FROM intents WHERE app_id = $1 AND object_kind = $2 AND source_id IN ({})",
                    placeholders(3, chunk.len())
                )
            });
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(kind.as_str());
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// Writes intents (source id, matching values) inside a transaction; an
/// object's intent already there takes the new values.
async fn insert_intents(
    tx: &mut Transaction<'static, Any>,
    backend: crate::Backend,
    app: &AppId,
    kind: &str,
    items: &[(String, serde_json::Value)],
) -> Result<(), StoreError> {
    let now = crate::now_ms();
    for chunk in items.chunks(crate::sql::rows_per_statement(5)) {
        let sql = format!(
            "INSERT INTO intents (app_id, object_kind, source_id, matching, created_at) VALUES {} \
             ON CONFLICT (app_id, object_kind, source_id) DO UPDATE SET matching = excluded.matching",
            crate::sql::row_placeholders(1, 5, chunk.len())
        );
        let sql = for_backend(backend, sql);
        let mut q = sqlx::query(&sql);
        for (id, matching) in chunk {
            q = q.bind(app.as_str()).bind(kind).bind(id).bind(serde_json::to_string(matching)?).bind(now);
        }
        q.execute(&mut **tx).await?;
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
        let mut tx = self.begin_immediate().await?;
        insert_intents(&mut tx, self.backend, app, kind, items).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns every intent of kind `wave` (one row for a wave of objects, its
    /// `matching` a list of `[source id, matching values]`) into an intent of
    /// kind `kind` per object, in one transaction; returns how many objects
    /// the waves held. A wave's one row costs one insert and one delete where
    /// its objects' rows would cost one each; a crash leaves the row behind,
    /// and this gives recovery the objects it names.
    pub async fn expand_wave_intents(&self, app: &AppId, wave: &str, kind: &str) -> Result<usize, StoreError> {
        // Most cycles find none: they take no write lock.
        let any: Option<String> =
            sqlx::query_scalar("SELECT source_id FROM intents WHERE app_id = $1 AND object_kind = $2 LIMIT 1")
                .bind(app.as_str())
                .bind(wave)
                .fetch_optional(self.pool())
                .await?;
        if any.is_none() {
            return Ok(0);
        }
        let mut tx = self.begin_immediate().await?;
        let rows = sqlx::query("SELECT source_id, matching FROM intents WHERE app_id = $1 AND object_kind = $2")
            .bind(app.as_str())
            .bind(wave)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut items: Vec<(String, serde_json::Value)> = Vec::new();
        for r in &rows {
            let matching: String = r.try_get("matching")?;
            let listed: Vec<(String, serde_json::Value)> = serde_json::from_str(&matching)?;
            items.extend(listed);
        }
        insert_intents(&mut tx, self.backend, app, kind, &items).await?;
        sqlx::query("DELETE FROM intents WHERE app_id = $1 AND object_kind = $2")
            .bind(app.as_str())
            .bind(wave)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(items.len())
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// A wave's one row becomes one intent per object it names, once; a
    /// record clears the wave's row by its key like any intent.
    #[tokio::test]
    async fn a_wave_intent_expands_into_one_intent_per_object() {
        let dir = std::env::temp_dir().join(format!("roster-intents-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let backend = store.backend();
            let app = crate::kinds::tests::scim_app(&store, "Crm").await;
            let wave = |ids: &[&str]| json!(ids.iter().map(|id| json!([id, [["userName", id]]])).collect::<Vec<_>>());
            let waves = vec![("c1:0".to_string(), wave(&["u1", "u2"])), ("c1:1".to_string(), wave(&["u3"]))];
            store.write_intents(&app, "user-wave", &waves).await.expect("waves");
            // An object already named by an intent of its own takes the wave's values.
            store.write_intents(&app, "user", &[("u1".into(), json!([]))]).await.expect("intent");

            assert_eq!(store.expand_wave_intents(&app, "user-wave", "user").await.expect("expand"), 3, "{backend:?}");
            let intents = store.intents(&app, "user", 10).await.expect("intents");
            let ids: Vec<&str> = intents.iter().map(|i| i.source_id.as_str()).collect();
            assert_eq!(ids, ["u1", "u2", "u3"], "{backend:?}");
            assert_eq!(intents[0].matching, json!([["userName", "u1"]]), "{backend:?}");
            assert!(store.intents(&app, "user-wave", 10).await.expect("waves").is_empty(), "{backend:?}");
            assert_eq!(store.expand_wave_intents(&app, "user-wave", "user").await.expect("again"), 0, "{backend:?}");

            // A wave recorded clears its row by its key.
            store.write_intents(&app, "user-wave", &waves[..1]).await.expect("wave");
            let batch =
                crate::RecordBatch { intent_clears: vec![("user-wave".into(), "c1:0".into())], ..Default::default() };
            store.record(&app, &batch).await.expect("record");
            assert!(store.intents(&app, "user-wave", 10).await.expect("waves").is_empty(), "{backend:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
