//! The change feed: an append-only log of `(seq, kind, object id)` written in the
//! same transaction as each change. The provisioning engine keeps a watermark per
//! job and reads the entries past it.

use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A user was created, updated, disabled, deleted or restored (`object_id` = user).
    User,
    /// A group's own attributes changed, or it was created or deleted (`object_id` = group).
    Group,
    /// A member was added to or removed from a group (`object_id` = group, `related_id` = member).
    Membership,
    /// An assignment was made or removed (`object_id` = app, `related_id` = principal).
    Assignment,
    /// An application or its provisioning settings changed (`object_id` = app).
    App,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::User => "user",
            ChangeKind::Group => "group",
            ChangeKind::Membership => "membership",
            ChangeKind::Assignment => "assignment",
            ChangeKind::App => "app",
        }
    }

    fn parse(s: &str) -> Option<ChangeKind> {
        Some(match s {
            "user" => ChangeKind::User,
            "group" => ChangeKind::Group,
            "membership" => ChangeKind::Membership,
            "assignment" => ChangeKind::Assignment,
            "app" => ChangeKind::App,
            _ => return None,
        })
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedEntry {
    pub seq: i64,
    pub kind: ChangeKind,
    pub object_id: String,
    pub related_id: Option<String>,
    pub at: i64,
}

/// Wake-ups from the change feed (see [`Store::feed_listener`]).
pub struct FeedListener(sqlx::postgres::PgListener);

impl FeedListener {
    /// Waits for the next write to the feed. The connection is made again if it
    /// drops (a write made meanwhile is seen by the polling).
    pub async fn next(&mut self) -> Result<(), StoreError> {
        self.0.recv().await?;
        Ok(())
    }
}

/// Appends an entry inside the caller's transaction.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    kind: ChangeKind,
    object_id: &str,
    related_id: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO change_feed (kind, object_id, related_id, at) VALUES ($1, $2, $3, $4)")
        .bind(kind.as_str())
        .bind(object_id)
        .bind(related_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends one entry per object, in the order given, inside the caller's
/// transaction, in multi-row statements.
pub(crate) async fn append_many(
    tx: &mut Transaction<'static, Any>,
    kind: ChangeKind,
    object_ids: &[&str],
    backend: crate::Backend,
) -> Result<(), StoreError> {
    let rows = match backend {
        crate::Backend::Sqlite => crate::sql::rows_per_statement(1),
        crate::Backend::Postgres => 1000,
    };
    let at = now_ms();
    for chunk in object_ids.chunks(rows.max(1)) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("($1, ${}, NULL, $2)", 3 + i)).collect();
        let sql = format!("INSERT INTO change_feed (kind, object_id, related_id, at) VALUES {}", values.join(", "));
        let mut q = sqlx::query(&sql).bind(kind.as_str()).bind(at);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// A listener woken by every write to the change feed, on PostgreSQL
    /// (`LISTEN roster_feed`; a trigger notifies at each commit); `None` on SQLite,
    /// whose one process polls.
    pub async fn feed_listener(&self) -> Result<Option<FeedListener>, StoreError> {
        let Some(url) = &self.url else { return Ok(None) };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen("roster_feed").await?;
        Ok(Some(FeedListener(listener)))
    }

    /// When the first feed entry past `watermark` was written (ms), if any.
    pub async fn feed_oldest_after(&self, watermark: i64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT at FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT 1")
            .bind(watermark)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Reads up to `limit` feed entries with `seq > after`, in order.
    pub async fn feed_after(&self, after: i64, limit: i64) -> Result<Vec<FeedEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, kind, object_id, related_id, at FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT {limit}"
        ))
        .bind(after)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(FeedEntry {
                    seq: row.try_get("seq")?,
                    kind: ChangeKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt { message: format!("unknown change kind {kind:?}") })?,
                    object_id: row.try_get("object_id")?,
                    related_id: row.try_get("related_id")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    /// The sequence number of the latest change (0 when none).
    pub async fn feed_head(&self) -> Result<i64, StoreError> {
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM change_feed").fetch_one(self.pool()).await?;
        Ok(head.unwrap_or(0))
    }

    /// Records an application-level change (settings, mappings) so that running
    /// engines notice it.
    pub async fn touch_app(&self, app_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        append(&mut tx, ChangeKind::App, app_id, None).await?;
        tx.commit().await?;
        Ok(())
    }
}
