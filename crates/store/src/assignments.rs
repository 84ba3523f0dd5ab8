//! Assignments of users and groups to applications, and the *effective*
//! assignment of a user: direct, or through any group that contains it, nested
//! groups included.

use crate::feed::{self, ChangeKind};
use crate::ids::{AppId, GroupId, RoleId, UserId};
use crate::model::{Assignment, Page, PrincipalKind};
use crate::sql::placeholders;
use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::{HashMap, HashSet, VecDeque};

/// Who is assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentTarget {
    User(UserId),
    Group(GroupId),
}

impl AssignmentTarget {
    fn id(&self) -> &str {
        match self {
            AssignmentTarget::User(u) => u.as_str(),
            AssignmentTarget::Group(g) => g.as_str(),
        }
    }

    fn kind(&self) -> PrincipalKind {
        match self {
            AssignmentTarget::User(_) => PrincipalKind::User,
            AssignmentTarget::Group(_) => PrincipalKind::Group,
        }
    }
}

/// A group on the path of an effective assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathGroup {
    pub id: GroupId,
    pub display_name: String,
}

/// A user's access to an application, and how it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveAssignment {
    pub app_id: AppId,
    pub app_name: String,
    pub user_id: UserId,
    pub user_name: String,
    pub role_id: RoleId,
    pub role_name: String,
    /// Empty for a direct assignment; else the groups from the one that holds the
    /// user up to the one assigned to the app.
    pub via: Vec<PathGroup>,
}

const ASSIGNMENT_SELECT: &str = "SELECT a.id, a.app_id, a.principal_id, a.principal_kind, a.role_id, a.created_at, \
    r.name AS role_name, COALESCE(u.user_name, g.display_name, '') AS principal_name \
    FROM assignments a JOIN app_roles r ON r.id = a.role_id \
    LEFT JOIN users u ON u.id = a.principal_id LEFT JOIN groups g ON g.id = a.principal_id";

fn assignment_from_row(row: &AnyRow) -> Result<Assignment, StoreError> {
    Ok(Assignment {
        id: row.try_get("id")?,
        app_id: AppId::from_stored(row.try_get("app_id")?),
        principal_id: row.try_get("principal_id")?,
        principal_kind: PrincipalKind::parse(&row.try_get::<String, _>("principal_kind")?),
        principal_name: row.try_get("principal_name")?,
        role_id: RoleId::from_stored(row.try_get("role_id")?),
        role_name: row.try_get("role_name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Assigns a user or group to an application with a role (the default role when
    /// `role` is `None`). Assigning twice with the same role is not an error.
    pub async fn assign(
        &self,
        app: &AppId,
        target: &AssignmentTarget,
        role: Option<&str>,
    ) -> Result<Assignment, StoreError> {
        let role = self.find_role(app, role).await?;
        if let Some(why) = &role.refused {
            return Err(StoreError::invalid(format!("the role {:?} cannot be assigned: {why}", role.name)));
        }
        match target {
            AssignmentTarget::User(u) => {
                let user = self.user(u).await?;
                if user.is_deleted() {
                    return Err(StoreError::invalid(format!("user {} is deleted", user.user_name)));
                }
            }
            AssignmentTarget::Group(g) => {
                self.group(g).await?;
            }
        }
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO assignments (id, app_id, principal_id, principal_kind, role_id, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(app.as_str())
        .bind(target.id())
        .bind(target.kind().as_str())
        .bind(role.id.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() > 0 {
            feed::append(&mut tx, ChangeKind::Assignment, app.as_str(), Some(target.id())).await?;
        }
        let row =
            sqlx::query(&format!("{ASSIGNMENT_SELECT} WHERE a.app_id = $1 AND a.principal_id = $2 AND a.role_id = $3"))
                .bind(app.as_str())
                .bind(target.id())
                .bind(role.id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        let assignment = assignment_from_row(&row)?;
        tx.commit().await?;
        Ok(assignment)
    }

    /// Removes the assignments of a principal to an application (every role, or one).
    pub async fn unassign(
        &self,
        app: &AppId,
        target: &AssignmentTarget,
        role: Option<&RoleId>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = match role {
            Some(r) => {
                sqlx::query("DELETE FROM assignments WHERE app_id = $1 AND principal_id = $2 AND role_id = $3")
                    .bind(app.as_str())
                    .bind(target.id())
                    .bind(r.as_str())
                    .execute(&mut *tx)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM assignments WHERE app_id = $1 AND principal_id = $2")
                    .bind(app.as_str())
                    .bind(target.id())
                    .execute(&mut *tx)
                    .await?
            }
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("assignment", target.id().to_string()));
        }
        feed::append(&mut tx, ChangeKind::Assignment, app.as_str(), Some(target.id())).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// The direct assignments of an application.
    pub async fn app_assignments(&self, app: &AppId, offset: i64, limit: i64) -> Result<Page<Assignment>, StoreError> {
        let (offset, limit) = (offset.max(0), limit.clamp(1, 1000));
        self.app(app).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assignments WHERE app_id = $1")
            .bind(app.as_str())
            .fetch_one(self.pool())
            .await?;
        let items = sqlx::query(&format!(
            "{ASSIGNMENT_SELECT} WHERE a.app_id = $1 ORDER BY a.principal_kind, principal_name LIMIT {limit} OFFSET {offset}"
        ))
        .bind(app.as_str())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(assignment_from_row)
        .collect::<Result<_, _>>()?;
        Ok(Page { items, total, offset, limit })
    }

    /// Every application a user can reach, with the role and the path it came through.
    pub async fn effective_assignments_of_user(&self, user: &UserId) -> Result<Vec<EffectiveAssignment>, StoreError> {
        let u = self.user(user).await?;
        let rows = sqlx::query(
            "WITH RECURSIVE anc(id, path) AS ( \
                 SELECT group_id, group_id FROM group_members WHERE member_id = $1 \
                 UNION ALL SELECT m.group_id, anc.path || '/' || m.group_id FROM group_members m JOIN anc ON m.member_id = anc.id) \
             SELECT a.app_id, a.role_id, anc.path AS path FROM assignments a JOIN anc ON a.principal_id = anc.id \
             UNION ALL SELECT a.app_id, a.role_id, NULL AS path FROM assignments a WHERE a.principal_id = $1",
        )
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut names: HashMap<String, String> = HashMap::new();
        for row in rows {
            let app_id = AppId::from_stored(row.try_get("app_id")?);
            let role_id = RoleId::from_stored(row.try_get("role_id")?);
            let path: Option<String> = row.try_get("path")?;
            let app = self.app(&app_id).await?;
            let role = self.find_role(&app_id, Some(role_id.as_str())).await?;
            let mut via = Vec::new();
            for gid in path.iter().flat_map(|p| p.split('/')) {
                if !names.contains_key(gid) {
                    let g = self.group(&GroupId::from_stored(gid.to_string())).await?;
                    names.insert(gid.to_string(), g.display_name);
                }
                via.push(PathGroup { id: GroupId::from_stored(gid.to_string()), display_name: names[gid].clone() });
            }
            out.push(EffectiveAssignment {
                app_id,
                app_name: app.name,
                user_id: u.id.clone(),
                user_name: u.user_name.clone(),
                role_id,
                role_name: role.name,
                via,
            });
        }
        out.sort_by(|a, b| (&a.app_name, a.via.len()).cmp(&(&b.app_name, b.via.len())));
        Ok(out)
    }

    /// The users an application reaches (a page), each with the role and path of
    /// every assignment that reaches it.
    pub async fn effective_assignments_of_app(
        &self,
        app: &AppId,
        offset: i64,
        limit: i64,
    ) -> Result<Page<EffectiveAssignment>, StoreError> {
        let (offset, limit) = (offset.max(0), limit.clamp(1, 1000));
        let application = self.app(app).await?;
        let index = self.assignment_index(app).await?;
        let mut user_ids: Vec<&UserId> = index.direct.keys().collect();
        let group_members = self.user_members_of_groups(&index.groups.keys().cloned().collect::<Vec<_>>()).await?;
        let mut seen: HashSet<&UserId> = user_ids.iter().copied().collect();
        for (_, u) in &group_members {
            if seen.insert(u) {
                user_ids.push(u);
            }
        }
        user_ids.sort();
        let total = user_ids.len() as i64;
        let page: Vec<UserId> = user_ids.into_iter().skip(offset as usize).take(limit as usize).cloned().collect();
        let users = self.users_by_ids(&page).await?;
        let mut items = Vec::new();
        for u in users {
            let reached = self.effective_assignments_of_user(&u.id).await?;
            items.extend(reached.into_iter().filter(|e| &e.app_id == app).map(|mut e| {
                e.app_name = application.name.clone();
                e
            }));
        }
        Ok(Page { items, total, offset, limit })
    }

    /// Everything the engine needs to tell, for a batch of users, whether and with
    /// which roles an app reaches them: the app's direct user assignments and the
    /// closure of its assigned groups down through nesting.
    pub async fn assignment_index(&self, app: &AppId) -> Result<AssignmentIndex, StoreError> {
        let mut conn = self.pool().acquire().await?;
        index_on(&mut conn, app).await
    }

    /// The groups among `groups` that each of `users` is a direct member of.
    pub async fn memberships_among(
        &self,
        users: &[UserId],
        groups: &HashMap<GroupId, Vec<RoleId>>,
    ) -> Result<HashMap<UserId, Vec<GroupId>>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        memberships_on(&mut conn, users, groups).await
    }

    /// The roles by which the app reaches each of `users` (directly or through
    /// any nested group; a user it does not reach has none), read in one snapshot
    /// of the directory: the assignments, the nesting and the memberships are as
    /// they were at one moment, so that a user is never judged in scope by a
    /// mix of states that never existed together (a group taken out of an
    /// assigned group before the user joined it).
    pub async fn effective_roles(
        &self,
        app: &AppId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<RoleId>>, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
        }
        let index = index_with(&mut tx, app, Some(users)).await?;
        let memberships = memberships_on(&mut tx, users, &index.groups).await?;
        tx.commit().await?;
        Ok(users
            .iter()
            .filter_map(|u| {
                let roles = index.roles_of(u, memberships.get(u).map(Vec::as_slice).unwrap_or_default());
                (!roles.is_empty()).then(|| (u.clone(), roles))
            })
            .collect())
    }

    /// The users that are direct members of any of `groups`, as (group, user) pairs.
    pub async fn user_members_of_groups(&self, groups: &[GroupId]) -> Result<Vec<(GroupId, UserId)>, StoreError> {
        let mut out = Vec::new();
        for chunk in groups.chunks(crate::sql::IN_LIST) {
            let sql = format!(
                "SELECT group_id, member_id FROM group_members WHERE member_kind = 'user' AND group_id IN ({})",
                placeholders(1, chunk.len())
            );
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut q = sqlx::query(&sql);
            for g in chunk {
                q = q.bind(g.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push((
                    GroupId::from_stored(row.try_get("group_id")?),
                    UserId::from_stored(row.try_get("member_id")?),
                ));
            }
        }
        Ok(out)
    }
}

/// The assignments of one application, ready to answer "does the app reach this
/// user, and with which roles?" for batches of users.
#[derive(Debug, Clone, Default)]
pub struct AssignmentIndex {
    /// Users assigned directly, with their roles.
    pub direct: HashMap<UserId, Vec<RoleId>>,
    /// Every group whose user members the app reaches (assigned groups and the
    /// groups nested in them), with the roles it carries.
    pub groups: HashMap<GroupId, Vec<RoleId>>,
    /// The groups assigned to the app themselves (not the ones nested in them):
    /// the groups provisioned as objects when the scope is "assigned".
    pub assigned_groups: std::collections::HashSet<GroupId>,
}

impl AssignmentIndex {
    /// The roles by which the app reaches a user that is a direct member of
    /// `groups` (those the index holds): its direct roles, then its groups'.
    pub fn roles_of(&self, user: &UserId, groups: &[GroupId]) -> Vec<RoleId> {
        let mut roles: Vec<RoleId> = self.direct.get(user).cloned().unwrap_or_default();
        for g in groups {
            for r in self.groups.get(g).into_iter().flatten() {
                if !roles.contains(r) {
                    roles.push(r.clone());
                }
            }
        }
        roles
    }
}

/// The assignment index, read on one connection (or transaction).
async fn index_on(conn: &mut sqlx::AnyConnection, app: &AppId) -> Result<AssignmentIndex, StoreError> {
    index_with(conn, app, None).await
}

/// The assignment index, with the direct assignments of `users` only when
/// given (a batch needs no others: an app may have a hundred thousand), on one
/// connection (or transaction).
async fn index_with(
    conn: &mut sqlx::AnyConnection,
    app: &AppId,
    users: Option<&[UserId]>,
) -> Result<AssignmentIndex, StoreError> {
    let rows = match users {
        None => {
            sqlx::query("SELECT principal_id, principal_kind, role_id FROM assignments WHERE app_id = $1")
                .bind(app.as_str())
                .fetch_all(&mut *conn)
                .await?
        }
        Some(users) => {
            let mut rows = sqlx::query(
                "SELECT principal_id, principal_kind, role_id FROM assignments \
                 WHERE app_id = $1 AND principal_kind = 'group'",
            )
            .bind(app.as_str())
            .fetch_all(&mut *conn)
            .await?;
            for chunk in users.chunks(crate::sql::IN_LIST) {
                let sql = format!(
                    "SELECT principal_id, principal_kind, role_id FROM assignments \
                     WHERE app_id = $1 AND principal_kind = 'user' AND principal_id IN ({})",
                    placeholders(2, chunk.len())
                );
                let sql = crate::sql::for_backend(crate::sql::backend_of(conn), sql);
                let mut q = sqlx::query(&sql).bind(app.as_str());
                for u in chunk {
                    q = q.bind(u.as_str());
                }
                rows.extend(q.fetch_all(&mut *conn).await?);
            }
            rows
        }
    };
    let mut index = AssignmentIndex::default();
    let mut queue = VecDeque::new();
    for row in rows {
        let principal: String = row.try_get("principal_id")?;
        let role = RoleId::from_stored(row.try_get("role_id")?);
        if row.try_get::<String, _>("principal_kind")? == "group" {
            let id = GroupId::from_stored(principal);
            index.assigned_groups.insert(id.clone());
            let roles = index.groups.entry(id.clone()).or_default();
            if !roles.contains(&role) {
                roles.push(role);
            }
            queue.push_back(id);
        } else {
            index.direct.entry(UserId::from_stored(principal)).or_default().push(role);
        }
    }
    if queue.is_empty() {
        return Ok(index);
    }
    // Nesting edges are few (groups in groups), so the closure is computed here.
    let edges = sqlx::query("SELECT group_id, member_id FROM group_members WHERE member_kind = 'group'")
        .fetch_all(&mut *conn)
        .await?;
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    for e in edges {
        children.entry(e.try_get("group_id")?).or_default().push(e.try_get("member_id")?);
    }
    while let Some(g) = queue.pop_front() {
        let roles = index.groups.get(&g).cloned().unwrap_or_default();
        for child in children.get(g.as_str()).into_iter().flatten() {
            let entry = index.groups.entry(GroupId::from_stored(child.clone())).or_default();
            let before = entry.len();
            for r in &roles {
                if !entry.contains(r) {
                    entry.push(r.clone());
                }
            }
            if entry.len() > before {
                queue.push_back(GroupId::from_stored(child.clone()));
            }
        }
    }
    Ok(index)
}

/// The groups among `groups` that each of `users` is a direct member of, on one connection.
async fn memberships_on(
    conn: &mut sqlx::AnyConnection,
    users: &[UserId],
    groups: &HashMap<GroupId, Vec<RoleId>>,
) -> Result<HashMap<UserId, Vec<GroupId>>, StoreError> {
    let mut out: HashMap<UserId, Vec<GroupId>> = HashMap::new();
    if groups.is_empty() {
        return Ok(out);
    }
    for chunk in users.chunks(crate::sql::IN_LIST) {
        let sql = format!(
            "SELECT group_id, member_id FROM group_members WHERE member_kind = 'user' AND member_id IN ({})",
            placeholders(1, chunk.len())
        );
        let sql = crate::sql::for_backend(crate::sql::backend_of(conn), sql);
        let mut q = sqlx::query(&sql);
        for u in chunk {
            q = q.bind(u.as_str());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let g = GroupId::from_stored(row.try_get("group_id")?);
            if groups.contains_key(&g) {
                out.entry(UserId::from_stored(row.try_get("member_id")?)).or_default().push(g);
            }
        }
    }
    Ok(out)
}
