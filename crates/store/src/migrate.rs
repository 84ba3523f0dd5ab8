//! Schema migrations for both backends, applied in order at start.

use crate::{Backend, Store, StoreError};

/// (version, SQLite script, PostgreSQL script)
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_directory.sql"),
        include_str!("../migrations/postgres/0001_directory.sql"),
    ),
    (
        2,
        include_str!("../migrations/sqlite/0002_provisioning.sql"),
        include_str!("../migrations/postgres/0002_provisioning.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_groups_escrow.sql"),
        include_str!("../migrations/postgres/0003_groups_escrow.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_handoff.sql"), include_str!("../migrations/postgres/0004_handoff.sql")),
    (5, include_str!("../migrations/sqlite/0005_admins.sql"), include_str!("../migrations/postgres/0005_admins.sql")),
    (6, include_str!("../migrations/sqlite/0006_intents.sql"), include_str!("../migrations/postgres/0006_intents.sql")),
    (
        7,
        include_str!("../migrations/sqlite/0007_assignment_kinds.sql"),
        include_str!("../migrations/postgres/0007_assignment_kinds.sql"),
    ),
    (
        8,
        include_str!("../migrations/sqlite/0008_access_roles.sql"),
        include_str!("../migrations/postgres/0008_access_roles.sql"),
    ),
    (
        9,
        include_str!("../migrations/sqlite/0009_audit_log.sql"),
        include_str!("../migrations/postgres/0009_audit_log.sql"),
    ),
];

/// Applies every migration not applied yet, each in its own transaction.
pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    let pool = store.pool();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    for (version, sqlite, postgres) in MIGRATIONS {
        let mut tx = pool.begin().await?;
        if store.backend() == Backend::Postgres {
            // Two processes starting together must not both migrate.
            sqlx::query("SELECT pg_advisory_xact_lock(4243)").execute(&mut *tx).await?;
        }
        let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if applied.is_some() {
            continue;
        }
        let script = match store.backend() {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        };
        // Comments go first, so that a `;` inside one never splits a statement.
        let script: String = script.lines().map(strip_comment).collect::<Vec<_>>().join("\n");
        for statement in script.split(';').map(str::trim).filter(|s| !s.is_empty() && !is_comment(s)) {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(crate::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// A line without its `--` comment (the migrations hold no `--` inside strings).
fn strip_comment(line: &str) -> &str {
    line.find("--").map_or(line, |i| &line[..i])
}

fn is_comment(statement: &str) -> bool {
    statement.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}
