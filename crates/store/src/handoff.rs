//! Hand-offs of manual mode. A manual-mode cycle decides what it would send
//! to the app exactly as an automatic one does, but [`crate::Store::record`]
//! stages the shadow entries it would write (`RecordBatch::handoff`) here
//! instead of in the shadow. The open hand-off is the latest staged entry of
//! each object compared with the shadow: an account to create, update,
//! disable or enable, with its mapped attributes. An admin applies it by hand
//! and confirms it by its id (the newest entry it showed): only then do those
//! entries reach the shadow. Entries staged after the admin looked are kept
//! for the next hand-off, so a confirmation never covers what nobody saw.

use crate::ids::AppId;
use crate::kinds::ObjectKind;
use crate::logs::LogRecord;
use crate::shadow::ShadowEntry;
use crate::sql::placeholders;
use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// What an admin must do to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum HandoffAction {
    /// Create the account with the attributes.
    Create,
    /// Change the attributes listed as changed.
    Update,
    /// Disable the account (never delete it).
    Disable,
    /// Enable the account again (and change what is listed as changed).
    Enable,
}

impl HandoffAction {
    /// `Create`, `Update`, `Disable` or `Enable`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffAction::Create => "Create",
            HandoffAction::Update => "Update",
            HandoffAction::Disable => "Disable",
            HandoffAction::Enable => "Enable",
        }
    }
}

/// One account of a hand-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffItem {
    /// What to do.
    pub action: HandoffAction,
    /// `user` (or `group`).
    pub object_kind: ObjectKind,
    /// The directory id of the object.
    pub source_id: String,
    /// Its userName (or display name), when known.
    pub source_name: Option<String>,
    /// The id roster knows the account by (`manual:...` until the app's own
    /// id is learnt); `None` for an account to create.
    pub target_id: Option<String>,
    /// Every mapped attribute, as the account must now hold it.
    pub attributes: Map<String, Value>,
    /// The attributes that differ from what the app holds (all of them for a create).
    pub changed: Vec<String>,
    /// When the cycle staged it (milliseconds).
    pub staged_at: i64,
}

/// A confirmed hand-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmedHandoff {
    /// Its id.
    pub id: i64,
    /// How many accounts it asked to change.
    pub items: i64,
    /// When it was confirmed (milliseconds).
    pub at: i64,
}

/// The open hand-off of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Handoff {
    /// The id to confirm it with; `None` when nothing waits.
    pub id: Option<i64>,
    /// The accounts to change, creates first.
    pub items: Vec<HandoffItem>,
    /// How many accounts per action.
    pub counts: BTreeMap<String, usize>,
    /// The last confirmation, if any.
    pub last_confirmed: Option<ConfirmedHandoff>,
}

/// A staged entry as read back.
struct Staged {
    seq: i64,
    source_name: Option<String>,
    entry: ShadowEntry,
    at: i64,
}

/// What an admin must do to move the app from `current` (the shadow) to
/// `wanted`, and the attributes that differ; `None` when nothing.
fn action(current: Option<&ShadowEntry>, wanted: &ShadowEntry) -> Option<(HandoffAction, Vec<String>)> {
    let Some(current) = current else {
        let mut all: Vec<String> = wanted.exported.keys().cloned().collect();
        all.sort();
        return wanted.enabled.then_some((HandoffAction::Create, all));
    };
    let mut changed: Vec<String> =
        wanted.exported.iter().filter(|(k, v)| current.exported.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
    changed.extend(current.exported.keys().filter(|k| !wanted.exported.contains_key(*k)).cloned());
    changed.sort();
    match (current.enabled, wanted.enabled) {
        (false, true) => Some((HandoffAction::Enable, changed)),
        (true, false) => Some((HandoffAction::Disable, changed)),
        _ if changed.is_empty() => None,
        _ => Some((HandoffAction::Update, changed)),
    }
}

/// Stages shadow entries of a manual-mode batch (inside `record`'s transaction).
pub(crate) async fn stage(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    app: &AppId,
    entries: &[ShadowEntry],
    logs: &[LogRecord],
) -> Result<(), StoreError> {
    let now = now_ms();
    for e in entries {
        let name = logs
            .iter()
            .find(|l| l.source_id == e.source_id && l.object_kind == e.object_kind)
            .and_then(|l| l.source_name.clone());
        let entry = serde_json::to_string(e)?;
        sqlx::query(
            "INSERT INTO handoff_items (app_id, object_kind, source_id, source_name, entry, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(app.as_str())
        .bind(e.object_kind)
        .bind(&e.source_id)
        .bind(name)
        .bind(entry)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The latest staged entry of each object, from rows in `seq` order.
fn latest(rows: Vec<Staged>) -> Vec<Staged> {
    let mut by_object: HashMap<(ObjectKind, String), Staged> = HashMap::new();
    for r in rows {
        by_object.insert((r.entry.object_kind, r.entry.source_id.clone()), r);
    }
    let mut out: Vec<Staged> = by_object.into_values().collect();
    out.sort_by_key(|s| s.seq);
    out
}

fn staged_from_row(row: &sqlx::any::AnyRow) -> Result<Staged, StoreError> {
    let entry: String = row.try_get("entry")?;
    Ok(Staged {
        seq: row.try_get("seq")?,
        source_name: row.try_get("source_name")?,
        entry: serde_json::from_str(&entry)?,
        at: row.try_get("at")?,
    })
}

impl Store {
    /// The shadow entries of some objects as a manual-mode cycle sees them:
    /// the latest staged entry where there is one, else the shadow.
    pub async fn pending_shadow_of(
        &self,
        app: &AppId,
        kind: ObjectKind,
        source_ids: &[&str],
    ) -> Result<HashMap<String, ShadowEntry>, StoreError> {
        let mut out = self.shadow_of(app, kind, source_ids).await?;
        for chunk in source_ids.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT seq, source_name, entry, at FROM handoff_items WHERE app_id = $1 AND object_kind = $2 \
                 AND source_id IN ({}) ORDER BY seq",
                placeholders(3, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(kind);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await? {
                let s = staged_from_row(&row)?;
                out.insert(s.entry.source_id.clone(), s.entry);
            }
        }
        Ok(out)
    }

    /// The open hand-off of an app: what an admin must do, account by account.
    pub async fn handoff(&self, app: &AppId) -> Result<Handoff, StoreError> {
        self.app(app).await?;
        let rows = sqlx::query("SELECT seq, source_name, entry, at FROM handoff_items WHERE app_id = $1 ORDER BY seq")
            .bind(app.as_str())
            .fetch_all(self.pool())
            .await?;
        let staged: Vec<Staged> = rows.iter().map(staged_from_row).collect::<Result<_, _>>()?;
        let id = staged.last().map(|s| s.seq);
        let staged = latest(staged);
        let mut current: HashMap<(ObjectKind, String), ShadowEntry> = HashMap::new();
        for &kind in ObjectKind::ALL {
            let ids: Vec<&str> =
                staged.iter().filter(|s| s.entry.object_kind == kind).map(|s| s.entry.source_id.as_str()).collect();
            for (source, e) in self.shadow_of(app, kind, &ids).await? {
                current.insert((kind, source), e);
            }
        }
        let mut items: Vec<HandoffItem> = staged
            .into_iter()
            .filter_map(|s| {
                let now = current.get(&(s.entry.object_kind, s.entry.source_id.clone()));
                let (action, changed) = action(now, &s.entry)?;
                Some(HandoffItem {
                    action,
                    object_kind: s.entry.object_kind,
                    target_id: now.map(|c| c.target_id.clone()),
                    source_id: s.entry.source_id,
                    source_name: s.source_name,
                    attributes: s.entry.exported,
                    changed,
                    staged_at: s.at,
                })
            })
            .collect();
        items.sort_by(|a, b| (a.action, &a.source_name, &a.source_id).cmp(&(b.action, &b.source_name, &b.source_id)));
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for i in &items {
            *counts.entry(i.action.as_str().to_string()).or_default() += 1;
        }
        let last_confirmed =
            sqlx::query("SELECT confirmed_id, confirmed_items, confirmed_at FROM handoffs WHERE app_id = $1")
                .bind(app.as_str())
                .fetch_optional(self.pool())
                .await?
                .map(|r| -> Result<ConfirmedHandoff, StoreError> {
                    Ok(ConfirmedHandoff {
                        id: r.try_get("confirmed_id")?,
                        items: r.try_get("confirmed_items")?,
                        at: r.try_get("confirmed_at")?,
                    })
                })
                .transpose()?;
        Ok(Handoff { id, items, counts, last_confirmed })
    }

    /// Records that an admin applied hand-off `id`: the entries it showed
    /// reach the shadow and leave the hand-off, in one transaction. Entries
    /// staged after it stay for the next hand-off.
    pub async fn confirm_handoff(&self, app: &AppId, id: i64) -> Result<ConfirmedHandoff, StoreError> {
        self.app(app).await?;
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT seq FROM handoff_items WHERE app_id = $1 AND seq = $2")
            .bind(app.as_str())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::invalid(format!(
                "there is no open hand-off {id} for this application: it was confirmed already, or a newer one \
                 replaced it; fetch the open hand-off and confirm the id it shows"
            )));
        }
        let rows = sqlx::query(
            "SELECT seq, source_name, entry, at FROM handoff_items WHERE app_id = $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(app.as_str())
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let staged = latest(rows.iter().map(staged_from_row).collect::<Result<_, _>>()?);
        let mut applied = 0i64;
        for s in &staged {
            let current: Option<ShadowEntry> = sqlx::query(
                "SELECT object_kind, source_id, target_id, exported, enabled, pending_ref, last_sync FROM shadow \
                 WHERE app_id = $1 AND object_kind = $2 AND source_id = $3",
            )
            .bind(app.as_str())
            .bind(s.entry.object_kind)
            .bind(&s.entry.source_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| crate::shadow::shadow_from_row(&r))
            .transpose()?;
            let todo = action(current.as_ref(), &s.entry);
            if todo.is_some() {
                applied += 1;
            }
            // An account that was never created needs no shadow, even a disabled one.
            if current.is_some() || todo.is_some() {
                crate::shadow::upsert_shadow(&mut tx, app, &s.entry).await?;
            }
        }
        sqlx::query("DELETE FROM handoff_items WHERE app_id = $1 AND seq <= $2")
            .bind(app.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let confirmed = ConfirmedHandoff { id, items: applied, at: now_ms() };
        sqlx::query(
            "INSERT INTO handoffs (app_id, confirmed_id, confirmed_items, confirmed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (app_id) DO UPDATE SET confirmed_id = $2, confirmed_items = $3, confirmed_at = $4",
        )
        .bind(app.as_str())
        .bind(confirmed.id)
        .bind(confirmed.items)
        .bind(confirmed.at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(confirmed)
    }

    /// Forgets what waits in the hand-off (an app switched to automatic
    /// provisioning walks every user again instead). Returns how many entries.
    pub async fn discard_handoff(&self, app: &AppId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM handoff_items WHERE app_id = $1")
            .bind(app.as_str())
            .execute(self.writes())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(enabled: bool, attrs: Value) -> ShadowEntry {
        ShadowEntry {
            object_kind: ObjectKind::User,
            source_id: "u1".into(),
            target_id: "manual:userName=a".into(),
            exported: attrs.as_object().cloned().unwrap_or_default(),
            enabled,
            pending_ref: None,
            last_sync: 0,
        }
    }

    fn check(current: Option<ShadowEntry>, wanted: ShadowEntry, expected: Option<(HandoffAction, &[&str])>) {
        let got = action(current.as_ref(), &wanted);
        let expected = expected.map(|(a, c)| (a, c.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
        assert_eq!(got, expected, "{current:?} -> {wanted:?}");
    }

    #[test]
    fn actions() {
        let a = json!({"userName": "a", "title": "x"});
        let b = json!({"userName": "a", "title": "y"});
        check(None, entry(true, a.clone()), Some((HandoffAction::Create, &["title", "userName"])));
        check(None, entry(false, a.clone()), None);
        check(Some(entry(true, a.clone())), entry(true, a.clone()), None);
        check(Some(entry(true, a.clone())), entry(true, b.clone()), Some((HandoffAction::Update, &["title"])));
        check(Some(entry(true, a.clone())), entry(false, a.clone()), Some((HandoffAction::Disable, &[])));
        check(Some(entry(false, a.clone())), entry(true, b.clone()), Some((HandoffAction::Enable, &["title"])));
        check(Some(entry(false, a.clone())), entry(false, a), None);
        check(Some(entry(true, json!({"x": 1}))), entry(true, json!({})), Some((HandoffAction::Update, &["x"])));
    }
}
