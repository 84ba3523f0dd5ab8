//! Groups of the directory and their members (users and nested groups; cycles are
//! refused).

use crate::feed::{self, ChangeKind};
use crate::ids::{GroupId, UserId};
use crate::model::{Group, Member, Page, PrincipalKind};
use crate::sql::{escape_like, placeholders};
use crate::users::{parse_text, present};
use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

pub(crate) const COLUMNS: &str = "g.id, g.display_name, g.description, g.mail_nickname, g.created_at, g.updated_at, \
    (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count";

/// A new group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupInput {
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
}

/// A partial update of a group: absent fields are left alone, `null` clears.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupPatch {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub mail_nickname: Option<Option<String>>,
}

fn parse_group_name(s: &str) -> Result<String, StoreError> {
    if s.trim().is_empty() {
        return Err(StoreError::invalid("displayName must not be empty"));
    }
    if s.trim() != s {
        return Err(StoreError::invalid(format!("displayName {s:?} has leading or trailing spaces")));
    }
    parse_text("displayName", Some(s.to_string()))?.ok_or_else(|| StoreError::invalid("displayName must not be empty"))
}

pub(crate) fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: GroupId::from_stored(row.try_get("id")?),
        display_name: row.try_get("display_name")?,
        description: row.try_get("description")?,
        mail_nickname: row.try_get("mail_nickname")?,
        member_count: row.try_get("member_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn write_group(tx: &mut Transaction<'static, Any>, g: &Group, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO groups (display_name, display_name_key, description, mail_nickname, created_at, updated_at, id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7)"
    } else {
        "UPDATE groups SET display_name=$1, display_name_key=$2, description=$3, mail_nickname=$4, created_at=$5, \
         updated_at=$6 WHERE id=$7"
    };
    sqlx::query(sql)
        .bind(&g.display_name)
        .bind(g.display_name.to_lowercase())
        .bind(&g.description)
        .bind(&g.mail_nickname)
        .bind(g.created_at)
        .bind(g.updated_at)
        .bind(g.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::or_conflict(e, || format!("a group named {:?} already exists", g.display_name)))?;
    feed::append(tx, ChangeKind::Group, g.id.as_str(), None).await
}

async fn fetch_group(tx: &mut Transaction<'static, Any>, id: &GroupId) -> Result<Group, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM groups g WHERE g.id = $1"))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found("group", id.to_string()))?;
    group_from_row(&row)
}

/// Whether `group` is `candidate` or contains it, directly or through nesting:
/// adding `group` as a member of `candidate` would then close a cycle.
async fn contains_group(tx: &mut Transaction<'static, Any>, group: &str, candidate: &str) -> Result<bool, StoreError> {
    if group == candidate {
        return Ok(true);
    }
    let hit: Option<String> = sqlx::query_scalar(
        "WITH RECURSIVE sub(id) AS ( \
             SELECT member_id FROM group_members WHERE group_id = $1 AND member_kind = 'group' \
             UNION SELECT m.member_id FROM group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_kind = 'group') \
         SELECT id FROM sub WHERE id = $2 LIMIT 1",
    )
    .bind(group)
    .bind(candidate)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(hit.is_some())
}

impl Store {
    /// Creates a group.
    pub async fn create_group(&self, input: GroupInput) -> Result<Group, StoreError> {
        let now = now_ms();
        let group = Group {
            id: GroupId::new(),
            display_name: parse_group_name(&input.display_name)?,
            description: parse_text("description", input.description)?,
            mail_nickname: parse_text("mailNickname", input.mail_nickname)?,
            member_count: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin_write().await?;
        write_group(&mut tx, &group, true).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Reads a group by id.
    pub async fn group(&self, id: &GroupId) -> Result<Group, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM groups g WHERE g.id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("group", id.to_string()))?;
        group_from_row(&row)
    }

    /// Finds a group by id or displayName (case-insensitive).
    pub async fn find_group(&self, key: &str) -> Result<Group, StoreError> {
        if let Some(id) = GroupId::parse(key) {
            if let Ok(g) = self.group(&id).await {
                return Ok(g);
            }
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM groups g WHERE g.display_name_key = $1"))
            .bind(key.to_lowercase())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("group", key))?;
        group_from_row(&row)
    }

    /// Applies a partial update to a group.
    pub async fn update_group(&self, id: &GroupId, patch: GroupPatch) -> Result<Group, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut g = fetch_group(&mut tx, id).await?;
        if let Some(name) = patch.display_name {
            g.display_name = parse_group_name(&name)?;
        }
        if let Some(d) = patch.description {
            g.description = parse_text("description", d)?;
        }
        if let Some(m) = patch.mail_nickname {
            g.mail_nickname = parse_text("mailNickname", m)?;
        }
        g.updated_at = now_ms();
        write_group(&mut tx, &g, false).await?;
        tx.commit().await?;
        Ok(g)
    }

    /// Deletes a group; its memberships and assignments go with it, and each is a
    /// change the engine sees.
    pub async fn delete_group(&self, id: &GroupId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        fetch_group(&mut tx, id).await?;
        let members: Vec<String> = sqlx::query_scalar("SELECT member_id FROM group_members WHERE group_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for m in &members {
            feed::append(&mut tx, ChangeKind::Membership, id.as_str(), Some(m)).await?;
        }
        let parents: Vec<String> = sqlx::query_scalar("SELECT group_id FROM group_members WHERE member_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for p in &parents {
            feed::append(&mut tx, ChangeKind::Membership, p, Some(id.as_str())).await?;
        }
        let apps: Vec<String> = sqlx::query_scalar("SELECT app_id FROM assignments WHERE principal_id = $1")
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for a in &apps {
            feed::append(&mut tx, ChangeKind::Assignment, a, Some(id.as_str())).await?;
        }
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 OR member_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM assignments WHERE principal_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM groups WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM scim_extras WHERE object_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        feed::append(&mut tx, ChangeKind::Group, id.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lists groups by displayName, optionally filtered.
    pub async fn list_groups(
        &self,
        display_name: Option<&str>,
        q: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Page<Group>, StoreError> {
        let (offset, limit) = (offset.max(0), limit.clamp(1, 1000));
        let mut clauses = Vec::new();
        let mut binds = Vec::new();
        if let Some(d) = display_name {
            binds.push(d.to_lowercase());
            clauses.push(format!("g.display_name_key = ${}", binds.len()));
        }
        if let Some(q) = q.filter(|q| !q.is_empty()) {
            binds.push(format!("%{}%", escape_like(&q.to_lowercase())));
            let n = binds.len();
            clauses.push(format!(
                "(g.display_name_key LIKE ${n} ESCAPE '\\' OR LOWER(COALESCE(g.description,'')) LIKE ${n} ESCAPE '\\')"
            ));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let count_sql = format!("SELECT COUNT(*) FROM groups g {filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b);
        }
        let total = count.fetch_one(self.pool()).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM groups g {filter} ORDER BY g.display_name_key LIMIT {limit} OFFSET {offset}"
        );
        let mut list = sqlx::query(&sql);
        for b in &binds {
            list = list.bind(b);
        }
        let items = list.fetch_all(self.pool()).await?.iter().map(group_from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total, offset, limit })
    }

    /// The direct members of a group.
    pub async fn group_members(&self, id: &GroupId, offset: i64, limit: i64) -> Result<Page<Member>, StoreError> {
        let (offset, limit) = (offset.max(0), limit.clamp(1, 10_000));
        self.group(id).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = $1")
            .bind(id.as_str())
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT m.member_id, m.member_kind, COALESCE(u.user_name, g.display_name, '') AS name \
             FROM group_members m LEFT JOIN users u ON u.id = m.member_id LEFT JOIN groups g ON g.id = m.member_id \
             WHERE m.group_id = $1 ORDER BY m.member_kind, name LIMIT {limit} OFFSET {offset}"
        ))
        .bind(id.as_str())
        .fetch_all(self.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(Member {
                    id: r.try_get("member_id")?,
                    kind: PrincipalKind::parse(&r.try_get::<String, _>("member_kind")?),
                    name: r.try_get("name")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page { items, total, offset, limit })
    }

    /// Adds a user to a group. Adding a member twice is not an error.
    pub async fn add_user_member(&self, group: &GroupId, user: &UserId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        fetch_group(&mut tx, group).await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL")
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::not_found("user", user.to_string()));
        }
        insert_member(&mut tx, group, user.as_str(), PrincipalKind::User).await?;
        tx.commit().await.map_err(StoreError::from)
    }

    /// Adds many users (by id or userName) to a group in one transaction. If any
    /// of them is unknown or deleted, nothing is added and the error names them.
    pub async fn add_user_members(&self, group: &GroupId, keys: &[String]) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        fetch_group(&mut tx, group).await?;
        let mut ids: Vec<String> = Vec::with_capacity(keys.len());
        let mut unknown: Vec<&str> = Vec::new();
        for chunk in keys.chunks(crate::sql::IN_LIST / 2) {
            let n = chunk.len();
            let sql = format!(
                "SELECT id, user_name_key FROM users WHERE deleted_at IS NULL AND (id IN ({}) OR user_name_key IN ({}))",
                placeholders(1, n),
                placeholders(1 + n, n)
            );
            let sql = crate::sql::for_backend(crate::sql::backend_of(&tx), sql);
            let mut q = sqlx::query(&sql);
            for k in chunk {
                q = q.bind(k.as_str());
            }
            for k in chunk {
                q = q.bind(k.to_lowercase());
            }
            let mut found: std::collections::HashMap<String, String> = std::collections::HashMap::new();
            for row in q.fetch_all(&mut *tx).await? {
                let id: String = row.try_get("id")?;
                found.insert(row.try_get("user_name_key")?, id.clone());
                found.insert(id.clone(), id);
            }
            for k in chunk {
                match found.get(k.as_str()).or_else(|| found.get(&k.to_lowercase())) {
                    Some(id) => ids.push(id.clone()),
                    None => unknown.push(k),
                }
            }
        }
        if !unknown.is_empty() {
            let shown: Vec<&str> = unknown.iter().take(10).copied().collect();
            return Err(StoreError::not_found("user", format!("{} ({} unknown)", shown.join(", "), unknown.len())));
        }
        for id in &ids {
            insert_member(&mut tx, group, id, PrincipalKind::User).await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    /// Nests a group in another; a cycle is refused.
    pub async fn add_group_member(&self, group: &GroupId, member: &GroupId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let parent = fetch_group(&mut tx, group).await?;
        let child = fetch_group(&mut tx, member).await?;
        if contains_group(&mut tx, member.as_str(), group.as_str()).await? {
            return Err(StoreError::invalid(format!(
                "adding group {:?} to {:?} would make a group a member of itself",
                child.display_name, parent.display_name
            )));
        }
        insert_member(&mut tx, group, member.as_str(), PrincipalKind::Group).await?;
        tx.commit().await.map_err(StoreError::from)
    }

    /// Removes a member (user or group) from a group.
    pub async fn remove_member(&self, group: &GroupId, member_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        fetch_group(&mut tx, group).await?;
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2")
            .bind(group.as_str())
            .bind(member_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("member", member_id));
        }
        feed::append(&mut tx, ChangeKind::Membership, group.as_str(), Some(member_id)).await?;
        tx.commit().await.map_err(StoreError::from)
    }

    /// The groups a user belongs to, directly or through nesting.
    pub async fn groups_of_user(&self, user: &UserId) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE anc(id) AS ( \
                 SELECT group_id FROM group_members WHERE member_id = $1 \
                 UNION SELECT m.group_id FROM group_members m JOIN anc ON m.member_id = anc.id) \
             SELECT id FROM anc",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().map(GroupId::from_stored).collect())
    }

    /// Every user in a group, directly or through nested groups.
    pub async fn transitive_user_members(&self, group: &str) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "WITH RECURSIVE sub(id) AS ( \
                 SELECT $1 \
                 UNION SELECT m.member_id FROM group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_kind = 'group') \
             SELECT DISTINCT m.member_id FROM group_members m JOIN sub ON m.group_id = sub.id WHERE m.member_kind = 'user'",
        )
        .bind(group)
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().map(UserId::from_stored).collect())
    }
    /// Some groups by id (the ones that exist).
    pub async fn groups_by_ids(&self, ids: &[GroupId]) -> Result<Vec<Group>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(crate::sql::IN_LIST) {
            let sql = format!("SELECT {COLUMNS} FROM groups g WHERE g.id IN ({})", placeholders(1, chunk.len()));
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(group_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Group ids after `after` in id order (a page of every group).
    pub async fn group_ids_after(&self, after: Option<&str>, limit: i64) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM groups WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(ids.into_iter().map(GroupId::from_stored).collect())
    }

    /// The groups that contain any of `members` (users or groups), directly or
    /// through nesting.
    pub async fn containing_groups(&self, members: &[&str]) -> Result<Vec<GroupId>, StoreError> {
        let mut out: Vec<GroupId> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for chunk in members.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "WITH RECURSIVE anc(id) AS ( \
                     SELECT group_id FROM group_members WHERE member_id IN ({}) \
                     UNION SELECT m.group_id FROM group_members m JOIN anc ON m.member_id = anc.id) \
                 SELECT id FROM anc",
                placeholders(1, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for m in chunk {
                q = q.bind(*m);
            }
            for id in q.fetch_all(self.pool()).await? {
                if seen.insert(id.clone()) {
                    out.push(GroupId::from_stored(id));
                }
            }
        }
        Ok(out)
    }
}

async fn insert_member(
    tx: &mut Transaction<'static, Any>,
    group: &GroupId,
    member: &str,
    kind: PrincipalKind,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO group_members (group_id, member_id, member_kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(group.as_str())
    .bind(member)
    .bind(kind.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        feed::append(tx, ChangeKind::Membership, group.as_str(), Some(member)).await?;
    }
    Ok(())
}
