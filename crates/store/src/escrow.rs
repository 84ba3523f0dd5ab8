//! Escrow: objects whose export still failed after the request retries. Each is
//! kept with its error, retried in later cycles with a delay that doubles with
//! every failed attempt (up to a day), and cleared when it succeeds or when the
//! job restarts.

use crate::ids::AppId;
use crate::kinds::ObjectKind;
use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// The longest delay between two attempts of one escrowed object.
const MAX_DELAY_MS: i64 = 24 * 3600 * 1000;

/// One escrowed object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscrowItem {
    pub object_kind: ObjectKind,
    pub source_id: String,
    pub source_name: Option<String>,
    pub attempts: i64,
    pub first_failed_at: i64,
    pub next_retry_at: i64,
    pub error_code: String,
    pub error_message: String,
}

/// A failure to escrow (or to count one more attempt of).
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowFailure {
    pub object_kind: ObjectKind,
    pub source_id: String,
    pub source_name: Option<String>,
    pub error_code: String,
    pub error_message: String,
    /// The first delay; it doubles with each attempt.
    pub base_delay_ms: i64,
    /// No retry before this time (an app's long `Retry-After`), if set.
    pub not_before: Option<i64>,
}

const COLUMNS: &str =
    "object_kind, source_id, source_name, attempts, first_failed_at, next_retry_at, error_code, error_message";

fn item_from_row(row: &AnyRow) -> Result<EscrowItem, StoreError> {
    Ok(EscrowItem {
        object_kind: row.try_get("object_kind")?,
        source_id: row.try_get("source_id")?,
        source_name: row.try_get("source_name")?,
        attempts: row.try_get("attempts")?,
        first_failed_at: row.try_get("first_failed_at")?,
        next_retry_at: row.try_get("next_retry_at")?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
    })
}

/// The delay before attempt `attempts + 1`: `base` doubled per attempt, capped.
pub fn retry_delay_ms(base: i64, attempts: i64) -> i64 {
    let shift = attempts.clamp(1, 30) - 1;
    base.max(1).saturating_mul(1i64 << shift).min(MAX_DELAY_MS)
}

/// Escrows failures (one more attempt each) and clears successes, inside `tx`.
pub(crate) async fn apply(
    tx: &mut Transaction<'static, Any>,
    app: &AppId,
    failures: &[EscrowFailure],
    clears: &[(ObjectKind, String)],
    now: i64,
) -> Result<(), StoreError> {
    // Most waves clear objects that were never escrowed: one look at the app's
    // escrow spares a delete per object when it holds nothing.
    let held = !clears.is_empty()
        && sqlx::query("SELECT 1 FROM escrow WHERE app_id = $1 LIMIT 1")
            .bind(app.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .is_some();
    let clears = if held { clears } else { &[] };
    for (kind, ids) in crate::intents::group_by_kind(clears) {
        for chunk in ids.chunks(crate::sql::IN_LIST) {
            let sql = crate::sql::shaped(crate::sql::backend_of(tx), "clear-escrow", chunk.len(), || {
                format!(
                    "DELETE FROM escrow WHERE app_id = $1 AND object_kind = $2 AND source_id IN ({})",
                    crate::sql::placeholders(3, chunk.len())
                )
            });
            let mut q = sqlx::query(&sql).bind(app.as_str()).bind(*kind);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut **tx).await?;
        }
    }
    for f in failures {
        let previous: Option<(i64, i64)> = sqlx::query(
            "SELECT attempts, first_failed_at FROM escrow WHERE app_id = $1 AND object_kind = $2 AND source_id = $3",
        )
        .bind(app.as_str())
        .bind(f.object_kind)
        .bind(&f.source_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| Ok::<_, StoreError>((r.try_get("attempts")?, r.try_get("first_failed_at")?)))
        .transpose()?;
        let (attempts, first) = previous.map(|(a, t)| (a + 1, t)).unwrap_or((1, now));
        let next = (now + retry_delay_ms(f.base_delay_ms, attempts)).max(f.not_before.unwrap_or(0));
        sqlx::query(&format!(
            "INSERT INTO escrow (app_id, {COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) \
             ON CONFLICT (app_id, object_kind, source_id) DO UPDATE SET source_name = $4, attempts = $5, \
             next_retry_at = $7, error_code = $8, error_message = $9"
        ))
        .bind(app.as_str())
        .bind(f.object_kind)
        .bind(&f.source_id)
        .bind(&f.source_name)
        .bind(attempts)
        .bind(first)
        .bind(next)
        .bind(&f.error_code)
        .bind(&f.error_message)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Escrowed objects due for a retry at `now`, oldest due first.
    pub async fn escrow_due(&self, app: &AppId, now: i64, limit: i64) -> Result<Vec<EscrowItem>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM escrow WHERE app_id = $1 AND next_retry_at <= $2 ORDER BY next_retry_at LIMIT {limit}"
        ))
        .bind(app.as_str())
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(item_from_row)
        .collect()
    }

    /// Escrowed objects, the next due first (a page), and how many there are.
    pub async fn escrow(&self, app: &AppId, limit: i64) -> Result<(Vec<EscrowItem>, i64), StoreError> {
        let items = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM escrow WHERE app_id = $1 ORDER BY next_retry_at LIMIT {}",
            limit.clamp(0, 10_000)
        ))
        .bind(app.as_str())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(item_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM escrow WHERE app_id = $1")
            .bind(app.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok((items, count))
    }

    /// When the next escrowed object of an app is due, if any is escrowed.
    pub async fn escrow_next_due(&self, app: &AppId) -> Result<Option<i64>, StoreError> {
        let next: Option<i64> = sqlx::query_scalar("SELECT MIN(next_retry_at) FROM escrow WHERE app_id = $1")
            .bind(app.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(next)
    }

    /// Forgets every escrowed object of an app (a restart).
    pub async fn clear_escrow(&self, app: &AppId) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query("DELETE FROM escrow WHERE app_id = $1").bind(app.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    fn check(base: i64, attempts: i64, expected: i64) {
        assert_eq!(retry_delay_ms(base, attempts), expected, "base {base}, attempts {attempts}");
    }

    #[test]
    fn delay_doubles_up_to_a_day() {
        check(60_000, 1, 60_000);
        check(60_000, 2, 120_000);
        check(60_000, 5, 960_000);
        check(60_000, 40, 86_400_000);
        check(0, 1, 1);
    }
}
