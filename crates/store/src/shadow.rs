//! The shadow (connector space): per application and source object, the id in the
//! target and the attribute values last exported. Updates are the difference
//! between the mapped source and the shadow, so only what changed goes out.

use crate::ids::AppId;
use crate::kinds::ObjectKind;
use crate::sql::placeholders;
use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

/// What roster last exported for one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowEntry {
    pub object_kind: ObjectKind,
    pub source_id: String,
    pub target_id: String,
    /// Target attribute path → the value last exported.
    pub exported: serde_json::Map<String, serde_json::Value>,
    pub enabled: bool,
    /// A source object this one refers to (its manager) that had no account in the
    /// app yet: once it has one, this object is updated.
    pub pending_ref: Option<String>,
    pub last_sync: i64,
}

pub(crate) fn shadow_from_row(row: &AnyRow) -> Result<ShadowEntry, StoreError> {
    let exported: String = row.try_get("exported")?;
    Ok(ShadowEntry {
        object_kind: row.try_get("object_kind")?,
        source_id: row.try_get("source_id")?,
        target_id: row.try_get("target_id")?,
        exported: serde_json::from_str(&exported)?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        pending_ref: row.try_get("pending_ref")?,
        last_sync: row.try_get("last_sync")?,
    })
}

/// One member roster sent to a group in an application, under one account id:
/// the key of a row of the members shadow, for adds and removes alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberShadow {
    /// The group's source id.
    pub group_id: String,
    /// The member's source id.
    pub member_id: String,
    /// The member's id in the app, as it was sent.
    pub target_id: String,
}

const COLUMNS: &str = "object_kind, source_id, target_id, exported, enabled, pending_ref, last_sync";

impl Store {
    /// The shadow entries of some source objects of one kind.
    pub async fn shadow_of(
        &self,
        app: &AppId,
        kind: ObjectKind,
        source_ids: &[&str],
    ) -> Result<HashMap<String, ShadowEntry>, StoreError> {
        let mut out = HashMap::with_capacity(source_ids.len());
        for chunk in source_ids.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT {COLUMNS} FROM shadow WHERE app_id = $1 AND object_kind = $2 AND source_id IN ({})",
                placeholders(3, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(kind);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await? {
                let entry = shadow_from_row(&row)?;
                out.insert(entry.source_id.clone(), entry);
            }
        }
        Ok(out)
    }

    /// The enabled accounts of some source objects of one kind: source id →
    /// account id. Lighter than [`Store::shadow_of`] (no attributes read), for
    /// the questions "has this manager an account, and which".
    pub async fn enabled_accounts(
        &self,
        app: &AppId,
        kind: ObjectKind,
        source_ids: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::with_capacity(source_ids.len());
        for chunk in source_ids.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT source_id, target_id FROM shadow WHERE app_id = $1 AND object_kind = $2 AND enabled = 1 \
                 AND source_id IN ({})",
                placeholders(3, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(kind);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await? {
                out.insert(row.try_get("source_id")?, row.try_get("target_id")?);
            }
        }
        Ok(out)
    }

    /// Shadow entries after `after` in source-id order (a page).
    pub async fn shadow_after(
        &self,
        app: &AppId,
        kind: ObjectKind,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ShadowEntry>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM shadow WHERE app_id = $1 AND object_kind = $2 AND source_id > $3 ORDER BY source_id LIMIT {limit}"
        ))
        .bind(app.as_str())
        .bind(kind)
        .bind(after)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(shadow_from_row)
        .collect()
    }

    /// The source ids of objects waiting for one of `refs` to have an account.
    pub async fn shadow_waiting_for(&self, app: &AppId, refs: &[&str]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in refs.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT source_id FROM shadow WHERE app_id = $1 AND pending_ref IN ({})",
                placeholders(2, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query_scalar::<_, String>(&sql).bind(app.as_str());
            for r in chunk {
                q = q.bind(*r);
            }
            out.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// How many objects of a kind have an account in the app, and how many of
    /// those are enabled.
    pub async fn shadow_count(&self, app: &AppId, kind: ObjectKind) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, COUNT(CASE WHEN enabled = 1 THEN 1 END) AS enabled FROM shadow WHERE app_id = $1 AND object_kind = $2",
        )
        .bind(app.as_str())
        .bind(kind)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("total")?, row.try_get("enabled")?))
    }

    /// The members roster sent to a group, as (member source id, account id)
    /// pairs. A member may have two: an old account id whose removal the app has
    /// not confirmed yet, beside the id it has now.
    pub async fn shadow_members_of_group(
        &self,
        app: &AppId,
        group: &str,
    ) -> Result<BTreeSet<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT member_id, target_id FROM shadow_members WHERE app_id = $1 AND group_id = $2")
            .bind(app.as_str())
            .bind(group)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get("member_id")?, r.try_get("target_id")?))).collect()
    }

    /// Every group membership roster sent for some members (each account id
    /// sent, when a member has more than one).
    pub async fn shadow_members_of_users(
        &self,
        app: &AppId,
        members: &[&str],
    ) -> Result<Vec<MemberShadow>, StoreError> {
        let mut out = Vec::new();
        for chunk in members.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT group_id, member_id, target_id FROM shadow_members WHERE app_id = $1 AND member_id IN ({})",
                placeholders(2, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql).bind(app.as_str());
            for m in chunk {
                q = q.bind(*m);
            }
            for r in q.fetch_all(self.pool()).await? {
                out.push(MemberShadow {
                    group_id: r.try_get("group_id")?,
                    member_id: r.try_get("member_id")?,
                    target_id: r.try_get("target_id")?,
                });
            }
        }
        Ok(out)
    }

    /// The users in a group (directly or through nested groups) that have an
    /// enabled account in the app: member source id → account id. The joins are
    /// written in the order they must run (SQLite keeps a CROSS JOIN's order):
    /// the group's members, then each one's shadow by key, never the whole shadow.
    pub async fn provisioned_members(&self, app: &AppId, group: &str) -> Result<HashMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "WITH RECURSIVE sub(id) AS ( \
                 SELECT $2 \
                 UNION SELECT m.member_id FROM group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_kind = 'group') \
             SELECT DISTINCT m.member_id, s.target_id FROM sub CROSS JOIN group_members m CROSS JOIN shadow s \
             WHERE m.group_id = sub.id AND m.member_kind = 'user' \
             AND s.app_id = $1 AND s.object_kind = 'user' AND s.source_id = m.member_id AND s.enabled = 1",
        )
        .bind(app.as_str())
        .bind(group)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("member_id")?, r.try_get("target_id")?))).collect()
    }
}

/// Writes shadow entries, many rows per statement. When one object comes
/// more than once, its last entry wins (one statement may not change a row twice).
pub(crate) async fn upsert_shadows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &AppId,
    entries: &[ShadowEntry],
) -> Result<(), StoreError> {
    let mut last: HashMap<(ObjectKind, &str), usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(entries.len(), Default::default());
    for (i, s) in entries.iter().enumerate() {
        last.insert((s.object_kind, s.source_id.as_str()), i);
    }
    let unique: Vec<&ShadowEntry> = entries
        .iter()
        .enumerate()
        .filter(|(i, s)| last.get(&(s.object_kind, s.source_id.as_str())) == Some(i))
        .map(|(_, s)| s)
        .collect();
    for chunk in unique.chunks(crate::sql::rows_per_statement(8)) {
        let sql = crate::sql::shaped(crate::sql::backend_of(tx), "upsert-shadows", chunk.len(), || {
            format!(
                "INSERT INTO shadow (app_id, object_kind, source_id, target_id, exported, enabled, pending_ref, \
                 last_sync) VALUES {} ON CONFLICT (app_id, object_kind, source_id) DO UPDATE SET \
                 target_id = excluded.target_id, exported = excluded.exported, enabled = excluded.enabled, \
                 pending_ref = excluded.pending_ref, last_sync = excluded.last_sync",
                crate::sql::row_placeholders(1, 8, chunk.len())
            )
        });
        let mut q = sqlx::query(&sql);
        for s in chunk {
            q = q
                .bind(app.as_str())
                .bind(s.object_kind)
                .bind(&s.source_id)
                .bind(&s.target_id)
                .bind(crate::json_text::json_text(&s.exported, 512))
                .bind(s.enabled as i64)
                .bind(&s.pending_ref)
                .bind(s.last_sync);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn upsert_shadow(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &AppId,
    s: &ShadowEntry,
) -> Result<(), StoreError> {
    upsert_shadows(tx, app, std::slice::from_ref(s)).await
}

#[cfg(test)]
mod tests {
    use crate::{ApplicationInput, MemberShadow, ObjectKind, RecordBatch};
    use std::collections::BTreeSet;

    fn row(member: &str, target: &str) -> MemberShadow {
        MemberShadow { group_id: "g".into(), member_id: member.into(), target_id: target.into() }
    }

    fn pairs(rows: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        rows.iter().map(|(m, t)| (m.to_string(), t.to_string())).collect()
    }

    /// A member whose account was made again (T1, then T2): the add of T2 keeps
    /// the row of T1, whose removal is still to be sent, and the confirmed
    /// removal of T1 keeps the row of T2. The group's deletion takes both.
    #[tokio::test]
    async fn a_new_account_id_and_the_old_ones_removal_are_kept_apart() {
        let dir = std::env::temp_dir().join(format!("roster-members-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let backend = store.backend();
            let app = store
                .create_app(ApplicationInput { name: "Crm".into(), template: "scim".into() })
                .await
                .expect("an app")
                .id;
            let record = |batch: RecordBatch| {
                let (store, app) = (store.clone(), app.clone());
                async move { store.record(&app, &batch).await.expect("recorded") }
            };
            let members = || {
                let (store, app) = (store.clone(), app.clone());
                async move { store.shadow_members_of_group(&app, "g").await.expect("members") }
            };
            record(RecordBatch { member_adds: vec![row("m", "T1"), row("n", "N1")], ..Default::default() }).await;

            record(RecordBatch { member_adds: vec![row("m", "T2")], ..Default::default() }).await;
            assert_eq!(members().await, pairs(&[("m", "T1"), ("m", "T2"), ("n", "N1")]), "{backend:?}");
            let of_m = store.shadow_members_of_users(&app, &["m"]).await.expect("of m");
            assert_eq!(of_m.len(), 2, "{backend:?}: {of_m:?}");

            // Sent again (a retried batch): still one row per account id.
            record(RecordBatch { member_adds: vec![row("m", "T2"), row("m", "T2")], ..Default::default() }).await;
            assert_eq!(members().await, pairs(&[("m", "T1"), ("m", "T2"), ("n", "N1")]), "{backend:?}");

            record(RecordBatch { member_removes: vec![row("m", "T1")], ..Default::default() }).await;
            assert_eq!(members().await, pairs(&[("m", "T2"), ("n", "N1")]), "{backend:?}");

            record(RecordBatch { shadow_deletes: vec![(ObjectKind::Group, "g".into())], ..Default::default() }).await;
            assert!(members().await.is_empty(), "{backend:?}");
        }
    }

    /// Only objects waiting for their manager's account are in the index of
    /// pending references, and the lookup of the waiting still finds them.
    #[tokio::test]
    async fn the_pending_reference_index_holds_only_the_waiting() {
        let dir = std::env::temp_dir().join(format!("roster-pending-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let backend = store.backend();
            let app = crate::kinds::tests::scim_app(&store, "Crm").await;
            let entry = |id: &str, pending: Option<&str>| crate::ShadowEntry {
                object_kind: ObjectKind::User,
                source_id: id.into(),
                target_id: format!("t-{id}"),
                exported: serde_json::Map::new(),
                enabled: true,
                pending_ref: pending.map(String::from),
                last_sync: 1,
            };
            let shadow_upserts = vec![entry("a", None), entry("b", Some("boss")), entry("c", Some("other"))];
            store.record(&app, &RecordBatch { shadow_upserts, ..Default::default() }).await.expect("recorded");
            let waiting = store.shadow_waiting_for(&app, &["boss", "nobody"]).await.expect("waiting");
            assert_eq!(waiting, vec!["b".to_string()], "{backend:?}");
            // The manager got an account: nothing waits any more.
            let shadow_upserts = vec![entry("b", None)];
            store.record(&app, &RecordBatch { shadow_upserts, ..Default::default() }).await.expect("recorded");
            assert!(store.shadow_waiting_for(&app, &["boss"]).await.expect("waiting").is_empty(), "{backend:?}");
            let sql = match backend {
                crate::Backend::Sqlite => "SELECT sql FROM sqlite_master WHERE name = 'shadow_pending_ref'",
                crate::Backend::Postgres => "SELECT indexdef FROM pg_indexes WHERE indexname = 'shadow_pending_ref'",
            };
            let definition: String = sqlx::query_scalar(sql).fetch_one(store.pool()).await.expect("the index");
            let definition = definition.to_lowercase().replace(['(', ')'], "");
            assert!(definition.ends_with("where pending_ref is not null"), "{backend:?}: {definition}");
        }
    }
}
