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
    (
        10,
        include_str!("../migrations/sqlite/0010_master_key.sql"),
        include_str!("../migrations/postgres/0010_master_key.sql"),
    ),
    (
        11,
        include_str!("../migrations/sqlite/0011_member_targets.sql"),
        include_str!("../migrations/postgres/0011_member_targets.sql"),
    ),
    (12, include_str!("../migrations/sqlite/0012_leases.sql"), include_str!("../migrations/postgres/0012_leases.sql")),
    (
        13,
        include_str!("../migrations/sqlite/0013_feed_notify.sql"),
        include_str!("../migrations/postgres/0013_feed_notify.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_scim_scope.sql"),
        include_str!("../migrations/postgres/0014_scim_scope.sql"),
    ),
    (
        15,
        include_str!("../migrations/sqlite/0015_sources.sql"),
        include_str!("../migrations/postgres/0015_sources.sql"),
    ),
    (
        16,
        include_str!("../migrations/sqlite/0016_scim_extras.sql"),
        include_str!("../migrations/postgres/0016_scim_extras.sql"),
    ),
    (17, include_str!("../migrations/sqlite/0017_drift.sql"), include_str!("../migrations/postgres/0017_drift.sql")),
    (
        18,
        include_str!("../migrations/sqlite/0018_drift_targets.sql"),
        include_str!("../migrations/postgres/0018_drift_targets.sql"),
    ),
    (
        19,
        include_str!("../migrations/sqlite/0019_pending_ref_partial.sql"),
        include_str!("../migrations/postgres/0019_pending_ref_partial.sql"),
    ),
];

/// Applies every migration not applied yet, each in its own transaction.
pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    apply(store, MIGRATIONS).await
}

/// Applies those of `migrations` not applied yet, in order.
async fn apply(store: &Store, migrations: &[(i64, &str, &str)]) -> Result<(), StoreError> {
    let pool = store.pool();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    for (version, sqlite, postgres) in migrations {
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
        for statement in statements(&script).into_iter().filter(|s| !s.is_empty() && !is_comment(s)) {
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

/// The statements of a script, split at `;` except inside a `$$` body (a
/// PostgreSQL function's).
fn statements(script: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_body) = (0, false);
    let bytes = script.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'$') {
            in_body = !in_body;
            i += 2;
            continue;
        }
        if bytes[i] == b';' && !in_body {
            out.push(script[start..i].trim());
            start = i + 1;
        }
        i += 1;
    }
    out.push(script[start..].trim());
    out
}

/// A line without its `--` comment (the migrations hold no `--` inside strings).
fn strip_comment(line: &str) -> &str {
    line.find("--").map_or(line, |i| &line[..i])
}

fn is_comment(statement: &str) -> bool {
    statement.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_function_body_is_one_statement() {
        let script = "CREATE TABLE a (x INT);\nCREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  PERFORM 1;\n  RETURN NULL;\nEND\n$$ LANGUAGE plpgsql;\nSELECT 1";
        let parts = super::statements(script);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[1].starts_with("CREATE FUNCTION") && parts[1].ends_with("plpgsql"), "{parts:?}");
    }

    use super::*;
    use crate::AccessRole;

    /// A store on a private in-memory SQLite database, migrated up to and
    /// including `version`.
    async fn store_at(version: i64) -> Store {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        let store = Store { pool, writer: None, backend: Backend::Sqlite, fence: None, url: None };
        let upto: Vec<_> = MIGRATIONS.iter().copied().filter(|(v, _, _)| *v <= version).collect();
        apply(&store, &upto).await.expect("the earlier migrations apply");
        store
    }

    #[tokio::test]
    async fn tokens_and_admins_made_before_roles_are_admins() {
        let store = store_at(7).await;
        sqlx::query("INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES ('t1', 'old', 'h', 1)")
            .execute(store.pool())
            .await
            .expect("a token of before");
        sqlx::query(
            "INSERT INTO admins (id, name, name_key, password_hash, created_at, updated_at) \
             VALUES ('a1', 'Ann', 'ann', 'x', 1, 1)",
        )
        .execute(store.pool())
        .await
        .expect("an admin of before");
        run(&store).await.expect("the role migration applies");
        let tokens = store.list_tokens().await.expect("tokens");
        assert_eq!((tokens[0].role, tokens[0].expires_at), (AccessRole::Admin, None));
        let admins = store.list_admins().await.expect("admins");
        assert_eq!(admins[0].role, AccessRole::Admin);
    }

    /// The members shadow of before keeps its rows, and is keyed by the account
    /// id from then on: a second id of the same member gets its own row.
    #[tokio::test]
    async fn members_sent_before_the_account_key_are_kept() {
        let store = store_at(10).await;
        sqlx::query(
            "INSERT INTO applications (id, name, name_key, template, created_at, updated_at) \
             VALUES ('a1', 'Crm', 'crm', 'scim', 1, 1)",
        )
        .execute(store.pool())
        .await
        .expect("an app of before");
        sqlx::query(
            "INSERT INTO shadow_members (app_id, group_id, member_id, target_id) VALUES ('a1', 'g', 'm', 'T1')",
        )
        .execute(store.pool())
        .await
        .expect("a member of before");
        run(&store).await.expect("the member key migration applies");
        sqlx::query(
            "INSERT INTO shadow_members (app_id, group_id, member_id, target_id) VALUES ('a1', 'g', 'm', 'T2')",
        )
        .execute(store.pool())
        .await
        .expect("a second account id of the same member");
        let app = crate::AppId::from_stored("a1".into());
        let sent = store.shadow_members_of_group(&app, "g").await.expect("members");
        let want: Vec<(String, String)> = vec![("m".into(), "T1".into()), ("m".into(), "T2".into())];
        assert_eq!(sent.into_iter().collect::<Vec<_>>(), want);
        let indexed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'shadow_members_member'",
        )
        .fetch_one(store.pool())
        .await
        .expect("the index is listed");
        assert_eq!(indexed, 1, "the member index is made again");
    }
}
