//! What a SCIM client gave of a user or group beyond the attributes the
//! directory keeps, kept beside the object so that roster's SCIM service gives
//! back what it was given. A user's extra is written in the same transaction as
//! the user.

use crate::ids::UserId;
use crate::model::User;
use crate::users::{UserInput, UserPatch};
use crate::{Store, StoreError};
use serde_json::Value;
use sqlx::{Any, Transaction};
use std::collections::HashMap;

/// A user written through the SCIM service.
#[derive(Debug, Clone)]
pub enum ScimUserWrite {
    Create(Box<UserInput>),
    Update(UserId, Box<UserPatch>),
}

async fn put(tx: &mut Transaction<'static, Any>, id: &str, extra: &Value) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM scim_extras WHERE object_id = $1").bind(id).execute(&mut **tx).await?;
    if extra.as_object().is_some_and(|o| !o.is_empty()) {
        sqlx::query("INSERT INTO scim_extras (object_id, extra) VALUES ($1, $2)")
            .bind(id)
            .bind(extra.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// The extras of `ids` (those that have one).
    pub async fn scim_extras(&self, ids: &[&str]) -> Result<HashMap<String, Value>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT object_id, extra FROM scim_extras WHERE object_id IN ({})",
                crate::sql::placeholders(1, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query_as::<_, (String, String)>(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for (id, extra) in q.fetch_all(self.pool()).await? {
                out.insert(id, serde_json::from_str(&extra)?);
            }
        }
        Ok(out)
    }

    /// Replaces the extra of a group (an empty object removes it).
    pub async fn set_scim_extra(&self, id: &str, extra: &Value) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        put(&mut tx, id, extra).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates or updates a user with its extra, in one transaction.
    pub async fn scim_write_user(&self, write: ScimUserWrite, extra: &Value) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let user = match write {
            ScimUserWrite::Create(input) => crate::users::create_in(&mut tx, *input, crate::now_ms()).await?,
            ScimUserWrite::Update(id, patch) => crate::users::update_in(&mut tx, &id, *patch).await?,
        };
        put(&mut tx, user.id.as_str(), extra).await?;
        tx.commit().await?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's extra is written with it, read back by id, and gone with the
    /// user when it is purged.
    #[tokio::test]
    async fn extras_follow_their_user() {
        let dir = std::env::temp_dir().join(format!("roster-extras-{}", uuid::Uuid::new_v4().simple()));
        for store in crate::kinds::tests::stores(&dir).await {
            let extra = serde_json::json!({"nickName": "Babs"});
            let input = UserInput { user_name: "bjensen".into(), ..UserInput::default() };
            let u = store.scim_write_user(ScimUserWrite::Create(Box::new(input)), &extra).await.expect("create");
            let got = store.scim_extras(&[u.id.as_str(), "nobody"]).await.expect("read");
            assert_eq!(got.get(u.id.as_str()), Some(&extra));
            assert_eq!(got.len(), 1);
            let patch = UserPatch { display_name: Some(Some("B".into())), ..UserPatch::default() };
            let empty = serde_json::json!({});
            store.scim_write_user(ScimUserWrite::Update(u.id.clone(), Box::new(patch)), &empty).await.expect("update");
            assert!(store.scim_extras(&[u.id.as_str()]).await.expect("read").is_empty(), "an empty extra is none");
            store.set_scim_extra(u.id.as_str(), &extra).await.expect("set");
            store.delete_user(&u.id).await.expect("delete");
            store.purge_deleted_users(crate::now_ms() + crate::User::RETENTION_MS + 1).await.expect("purge");
            assert!(store.scim_extras(&[u.id.as_str()]).await.expect("read").is_empty(), "purged with the user");
        }
    }
}
