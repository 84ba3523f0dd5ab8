//! Bulk upserts by userName: a batch of rows, each with an optional manager
//! named by id or userName, read and written in a few multi-row statements
//! rather than a few per row (on PostgreSQL each statement is a round trip),
//! each row keeping the outcome it would have had written on its own.

use crate::feed::{self, ChangeKind};
use crate::ids::UserId;
use crate::model::User;
use crate::sql::{in_list, placeholders, row_placeholders, rows_per_statement};
use crate::users::{apply_patch, bind_user, input_as_patch, new_user, user_from_row, UserInput, COLUMNS};
use crate::{now_ms, Backend, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};

/// The outcome of one row of a bulk upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UpsertOutcome {
    Created,
    Updated,
    Unchanged,
}

impl Store {
    /// Creates or updates users by userName, in one transaction. Rows are validated
    /// one by one: a bad row is reported and the others are written.
    pub async fn upsert_users(
        &self,
        inputs: Vec<UserInput>,
    ) -> Result<Vec<Result<(User, UpsertOutcome), StoreError>>, StoreError> {
        self.upsert_users_with_managers(inputs.into_iter().map(|i| (i, None)).collect()).await
    }

    /// Like [`Store::upsert_users`], each row with an optional manager named by id or
    /// userName, resolved inside the transaction (so a manager may be a row written
    /// earlier in the same batch). The batch is read and written in a few
    /// multi-row statements, not a few per row: on PostgreSQL each statement is a
    /// round trip.
    pub async fn upsert_users_with_managers(
        &self,
        rows: Vec<(UserInput, Option<String>)>,
    ) -> Result<Vec<Result<(User, UpsertOutcome), StoreError>>, StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let keys: Vec<String> = rows.iter().map(|(i, _)| i.user_name.to_lowercase()).collect();
        let mut known = users_by_keys(&mut tx, &keys, self.backend).await?;
        let manager_keys: Vec<&str> = rows.iter().filter_map(|(_, m)| m.as_deref()).collect();
        let mut live = live_user_keys(&mut tx, &manager_keys, self.backend).await?;
        let mut results = Vec::with_capacity(rows.len());
        // Users to write, each once, in the order they were first written in the batch.
        let mut writes: Vec<String> = Vec::new();
        let mut written: HashSet<String> = HashSet::new();
        for ((mut input, manager), key) in rows.into_iter().zip(keys) {
            if let Some(name) = manager {
                match live.get(&name).or_else(|| live.get(&name.to_lowercase())) {
                    Some(id) => input.manager = Some(id.clone()),
                    None => {
                        results
                            .push(Err(StoreError::invalid(format!("manager {name:?} is not a user of the directory"))));
                        continue;
                    }
                }
            }
            let row = upsert_in_memory(known.get(&key), input, now);
            if let Ok((user, outcome)) = &row {
                if *outcome != UpsertOutcome::Unchanged {
                    if written.insert(key.clone()) {
                        writes.push(key.clone());
                    }
                    if user.deleted_at.is_none() {
                        live.insert(key.clone(), user.id.clone());
                        live.insert(user.id.to_string(), user.id.clone());
                    } else {
                        live.remove(&key);
                        live.remove(user.id.as_str());
                    }
                    known.insert(key, user.clone());
                }
            }
            results.push(row);
        }
        let users: Vec<&User> = writes.iter().filter_map(|k| known.get(k)).collect();
        write_users(&mut tx, &users, self.backend).await?;
        tx.commit().await?;
        Ok(results)
    }
}

/// One row of an upsert against what the batch knows of the user (`None`: a
/// new user). A validation error is the row's result.
fn upsert_in_memory(existing: Option<&User>, input: UserInput, now: i64) -> Result<(User, UpsertOutcome), StoreError> {
    let (user, outcome) = match existing {
        None => (new_user(input, now)?, UpsertOutcome::Created),
        Some(before) => {
            let mut user = before.clone();
            apply_patch(&mut user, input_as_patch(input))?;
            if &user == before {
                return Ok((user, UpsertOutcome::Unchanged));
            }
            user.updated_at = now;
            (user, UpsertOutcome::Updated)
        }
    };
    if user.manager.as_ref() == Some(&user.id) {
        return Err(StoreError::invalid("a user cannot be their own manager"));
    }
    Ok((user, outcome))
}

/// The users whose lowercased userName is one of `keys`, deleted ones too, by key.
async fn users_by_keys(
    tx: &mut Transaction<'static, Any>,
    keys: &[String],
    backend: Backend,
) -> Result<HashMap<String, User>, StoreError> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(in_list(backend)) {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE user_name_key IN ({})", placeholders(1, chunk.len()));
        let sql = crate::sql::for_backend(crate::sql::backend_of(tx), sql);
        let mut q = sqlx::query(&sql);
        for k in chunk {
            q = q.bind(k);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let user = user_from_row(&row)?;
            out.insert(user.user_name.to_lowercase(), user);
        }
    }
    Ok(out)
}

/// The live users named by `names` (ids or userNames): each one's id, under
/// its id and under its lowercased userName.
async fn live_user_keys(
    tx: &mut Transaction<'static, Any>,
    names: &[&str],
    backend: Backend,
) -> Result<HashMap<String, UserId>, StoreError> {
    let mut out = HashMap::new();
    for chunk in names.chunks(in_list(backend) / 2) {
        let sql = format!(
            "SELECT id, user_name_key FROM users WHERE (user_name_key IN ({}) OR id IN ({})) AND deleted_at IS NULL",
            placeholders(1, chunk.len()),
            placeholders(1 + chunk.len(), chunk.len())
        );
        let sql = crate::sql::for_backend(crate::sql::backend_of(tx), sql);
        let mut q = sqlx::query(&sql);
        for n in chunk {
            q = q.bind(n.to_lowercase());
        }
        for n in chunk {
            q = q.bind(*n);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let id = UserId::from_stored(row.try_get("id")?);
            out.insert(row.try_get::<String, _>("user_name_key")?, id.clone());
            out.insert(id.to_string(), id);
        }
    }
    Ok(out)
}

/// Writes whole users (new or changed) in multi-row statements, and their
/// change-feed entries, inside the caller's transaction.
async fn write_users(tx: &mut Transaction<'static, Any>, users: &[&User], backend: Backend) -> Result<(), StoreError> {
    const COLS: usize = 26;
    // SQLite binds by a linear search per parameter; PostgreSQL pays per statement.
    let rows = match backend {
        Backend::Sqlite => rows_per_statement(COLS),
        Backend::Postgres => 200,
    };
    for chunk in users.chunks(rows.max(1)) {
        let sql = format!(
            "INSERT INTO users (user_name, user_name_key, external_id, active, display_name, given_name, surname, mail, \
             mail_nickname, job_title, department, employee_id, manager_id, mobile, business_phones, office_location, \
             street_address, city, postal_code, country, preferred_language, extensions, deleted_at, created_at, \
             updated_at, id) VALUES {} ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, \
             user_name_key = excluded.user_name_key, external_id = excluded.external_id, active = excluded.active, \
             display_name = excluded.display_name, given_name = excluded.given_name, surname = excluded.surname, \
             mail = excluded.mail, mail_nickname = excluded.mail_nickname, job_title = excluded.job_title, \
             department = excluded.department, employee_id = excluded.employee_id, manager_id = excluded.manager_id, \
             mobile = excluded.mobile, business_phones = excluded.business_phones, \
             office_location = excluded.office_location, street_address = excluded.street_address, \
             city = excluded.city, postal_code = excluded.postal_code, country = excluded.country, \
             preferred_language = excluded.preferred_language, extensions = excluded.extensions, \
             deleted_at = excluded.deleted_at, created_at = excluded.created_at, updated_at = excluded.updated_at",
            row_placeholders(1, COLS, chunk.len())
        );
        let sql = crate::sql::for_backend(crate::sql::backend_of(tx), sql);
        let mut q = sqlx::query(&sql);
        for user in chunk {
            q = bind_user(q, user)?;
        }
        q.execute(&mut **tx).await.map_err(|e| StoreError::or_conflict(e, || "a userName is already taken".into()))?;
    }
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    feed::append_many(tx, ChangeKind::User, &ids, backend).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, title: &str, manager: Option<&str>) -> (UserInput, Option<String>) {
        let input = UserInput { user_name: name.into(), job_title: Some(title.into()), ..UserInput::default() };
        (input, manager.map(String::from))
    }

    fn outcome(r: &Result<(User, UpsertOutcome), StoreError>) -> String {
        match r {
            Ok((_, o)) => format!("{o:?}"),
            Err(e) => format!("error: {e}"),
        }
    }

    /// One batch, read and written in a few statements, gives each row the
    /// outcome it had when rows were written one by one: a manager named by a
    /// row before it (any case) or by id, a userName twice, a bad row beside
    /// good ones, and one feed entry per user written.
    #[tokio::test]
    async fn a_batch_upserts_row_by_row() {
        let dir = std::env::temp_dir().join(format!("roster-upsert-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let backend = store.backend();
            let first = store.upsert_users(vec![row("boss@x.org", "CEO", None).0]).await.expect("first batch");
            let boss = first[0].as_ref().expect("boss").0.clone();
            let head = store.feed_after(0, 1_000_000).await.expect("feed").last().map(|e| e.seq).unwrap_or(0);

            let results = store
                .upsert_users_with_managers(vec![
                    row("vp@x.org", "VP", Some("BOSS@x.org")),
                    row("lead@x.org", "Lead", Some("vp@x.org")),
                    row("dev@x.org", "Dev", Some(boss.id.as_str())),
                    row("ghost@x.org", "Dev", Some("nobody@x.org")),
                    row("", "Dev", None),
                    row("dev@x.org", "Senior dev", Some("lead@x.org")),
                    row("boss@x.org", "CEO", None),
                    row("boss@x.org", "Chair", None),
                ])
                .await
                .expect("second batch");
            let got: Vec<String> = results.iter().map(outcome).collect();
            assert_eq!(
                &got[..4],
                ["Created", "Created", "Created", "error: manager \"nobody@x.org\" is not a user of the directory"],
                "{backend:?}"
            );
            assert!(got[4].starts_with("error:"), "{backend:?}: {}", got[4]);
            assert_eq!(&got[5..], ["Updated", "Unchanged", "Updated"], "{backend:?}");

            let by_name = |name: &str| {
                let store = store.clone();
                let name = name.to_string();
                async move { store.find_user(&name).await.expect("user") }
            };
            let (vp, lead, dev) = (by_name("vp@x.org").await, by_name("lead@x.org").await, by_name("dev@x.org").await);
            assert_eq!(vp.manager.as_ref(), Some(&boss.id), "{backend:?}");
            assert_eq!(lead.manager.as_ref(), Some(&vp.id), "{backend:?}");
            assert_eq!((dev.job_title.as_deref(), dev.manager.as_ref()), (Some("Senior dev"), Some(&lead.id)));
            assert_eq!(by_name("boss@x.org").await.job_title.as_deref(), Some("Chair"), "{backend:?}");
            assert!(store.find_user("ghost@x.org").await.is_err(), "{backend:?}");

            // vp, lead, dev and boss were written: one feed entry each.
            let mut written: Vec<String> =
                store.feed_after(head, 1000).await.expect("feed").into_iter().map(|e| e.object_id).collect();
            written.sort();
            let mut want = vec![boss.id.to_string(), vp.id.to_string(), lead.id.to_string(), dev.id.to_string()];
            want.sort();
            assert_eq!(written, want, "{backend:?}");
        }
    }
}
