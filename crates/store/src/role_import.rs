//! App roles that come from the application (Salesforce profiles, Dropbox
//! admin roles): imported into the app's roles, kept in step on every import,
//! and a template's default role that replaces roster's `User`.

use crate::apps::{insert_role, parse_name, role_from_row, ROLE_COLUMNS};
use crate::feed::{self, ChangeKind};
use crate::ids::{AppId, RoleId};
use crate::model::AppRole;
use crate::{Store, StoreError};
use serde::Serialize;

/// A role as the application defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRole {
    /// The value the application knows it by (sent on assignment).
    pub value: String,
    /// Its display name.
    pub name: String,
    /// A description, if the application gives one.
    pub description: Option<String>,
    /// Why it cannot provision, if it cannot.
    pub refused: Option<String>,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleImport {
    /// Roles the app has, after the import.
    pub total: usize,
    /// Roles new in roster.
    pub added: usize,
    /// Roles whose name, description or refusal changed.
    pub updated: usize,
    /// Roles gone from the app and unused: removed.
    pub removed: usize,
    /// Roles gone from the app but still assigned: kept, and refused.
    pub orphaned: usize,
}

/// Why a role that the application no longer has is kept.
const GONE: &str = "the application no longer has this role: assign another one";

impl Store {
    /// Renames the default role of an app (the role unassigned users get when
    /// no role is named) and sets why it is refused, if it is.
    pub async fn set_default_role(&self, app: &AppId, name: &str, refused: Option<&str>) -> Result<(), StoreError> {
        let name = parse_name("name", name)?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE app_roles SET name = $1, name_key = $2, value = $1, refused = $3 WHERE app_id = $4 AND is_default = 1",
        )
        .bind(&name)
        .bind(name.to_lowercase())
        .bind(refused)
        .bind(app.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::or_conflict(e, || format!("the application already has a role named {name:?}")))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("application", app.to_string()));
        }
        feed::append(&mut tx, ChangeKind::App, app.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Brings the app's imported roles in step with `roles` (matched by
    /// value): new ones are added, changed ones updated, and those the app no
    /// longer has are removed, or refused while an assignment still uses them.
    /// Roles defined in roster are left alone. One transaction; the change
    /// feed hears of it only when something changed.
    pub async fn import_app_roles(&self, app: &AppId, roles: &[ImportedRole]) -> Result<RoleImport, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing: Vec<AppRole> = sqlx::query(&format!("SELECT {ROLE_COLUMNS} FROM app_roles WHERE app_id = $1"))
            .bind(app.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(role_from_row)
            .collect::<Result<_, _>>()?;
        let mut report = RoleImport { total: roles.len(), ..RoleImport::default() };
        // Names are unique per app: a name taken by another role gets its value appended.
        let mut taken: Vec<(String, String)> =
            existing.iter().map(|r| (r.name.to_lowercase(), r.value.clone())).collect();
        for remote in roles {
            let Some(value) = Some(remote.value.trim()).filter(|v| !v.is_empty()) else { continue };
            let mut name = remote.name.trim().to_string();
            if name.is_empty() {
                name = value.to_string();
            }
            if taken.iter().any(|(n, v)| *n == name.to_lowercase() && v != value) {
                name = format!("{name} ({value})");
            }
            let current = existing.iter().find(|r| !r.is_default && r.value == value);
            match current {
                Some(r)
                    if r.name == name
                        && r.description == remote.description
                        && r.refused == remote.refused
                        && r.imported => {}
                Some(r) => {
                    sqlx::query(
                        "UPDATE app_roles SET name = $1, name_key = $2, description = $3, refused = $4, imported = 1 \
                         WHERE id = $5",
                    )
                    .bind(&name)
                    .bind(name.to_lowercase())
                    .bind(&remote.description)
                    .bind(&remote.refused)
                    .bind(r.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                    report.updated += 1;
                }
                None => {
                    let role = AppRole {
                        id: RoleId::new(),
                        app_id: app.clone(),
                        name: name.clone(),
                        value: value.to_string(),
                        description: remote.description.clone(),
                        is_default: false,
                        refused: remote.refused.clone(),
                        imported: true,
                    };
                    insert_role(&mut tx, &role).await?;
                    report.added += 1;
                }
            }
            taken.push((name.to_lowercase(), value.to_string()));
        }
        for gone in existing.iter().filter(|r| r.imported && !roles.iter().any(|x| x.value.trim() == r.value)) {
            let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assignments WHERE role_id = $1")
                .bind(gone.id.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if used == 0 {
                sqlx::query("DELETE FROM app_roles WHERE id = $1").bind(gone.id.as_str()).execute(&mut *tx).await?;
                report.removed += 1;
            } else if gone.refused.as_deref() != Some(GONE) {
                sqlx::query("UPDATE app_roles SET refused = $1 WHERE id = $2")
                    .bind(GONE)
                    .bind(gone.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                report.orphaned += 1;
            }
        }
        if report.added + report.updated + report.removed + report.orphaned > 0 {
            feed::append(&mut tx, ChangeKind::App, app.as_str(), None).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}
