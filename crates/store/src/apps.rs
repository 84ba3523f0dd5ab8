//! Applications and their app roles. Every application has a default `User` role.

use crate::feed::{self, ChangeKind};
use crate::ids::{AppId, RoleId};
use crate::model::{AppRole, Application};
use crate::users::parse_text;
use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// A new application.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    /// The gallery template the application is made from (`scim`).
    #[serde(default = "default_template")]
    pub template: String,
}

fn default_template() -> String {
    "scim".to_string()
}

/// A new app role.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRoleInput {
    pub name: String,
    /// The value sent to the app (defaults to the name).
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The columns of an app role.
pub(crate) const ROLE_COLUMNS: &str = "id, app_id, name, value, description, is_default, refused, imported";

/// The name of the role every application starts with.
pub const DEFAULT_ROLE: &str = "User";

fn app_from_row(row: &AnyRow) -> Result<Application, StoreError> {
    Ok(Application {
        id: AppId::from_stored(row.try_get("id")?),
        name: row.try_get("name")?,
        template: row.try_get("template")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn role_from_row(row: &AnyRow) -> Result<AppRole, StoreError> {
    Ok(AppRole {
        id: RoleId::from_stored(row.try_get("id")?),
        app_id: AppId::from_stored(row.try_get("app_id")?),
        name: row.try_get("name")?,
        value: row.try_get("value")?,
        description: row.try_get("description")?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        refused: row.try_get("refused")?,
        imported: row.try_get::<i64, _>("imported")? != 0,
    })
}

pub(crate) fn parse_name(what: &str, s: &str) -> Result<String, StoreError> {
    let s = parse_text(what, Some(s.to_string()))?
        .ok_or_else(|| StoreError::invalid(format!("{what} must not be empty")))?;
    if s.trim() != s || s.trim().is_empty() {
        return Err(StoreError::invalid(format!("{what} {s:?} has leading or trailing spaces")));
    }
    Ok(s)
}

pub(crate) async fn insert_role(tx: &mut Transaction<'static, Any>, role: &AppRole) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO app_roles (id, app_id, name, name_key, value, description, is_default, refused, imported) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
    )
    .bind(role.id.as_str())
    .bind(role.app_id.as_str())
    .bind(&role.name)
    .bind(role.name.to_lowercase())
    .bind(&role.value)
    .bind(&role.description)
    .bind(role.is_default as i64)
    .bind(&role.refused)
    .bind(role.imported as i64)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::or_conflict(e, || format!("the application already has a role named {:?}", role.name)))?;
    Ok(())
}

/// Writes a new application with its default `User` role (and its feed entry).
pub(crate) async fn insert_app(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    template: &str,
) -> Result<Application, StoreError> {
    let now = now_ms();
    let app = Application {
        id: AppId::new(),
        name: parse_name("name", name)?,
        template: parse_name("template", template)?,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO applications (id, name, name_key, template, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(app.id.as_str())
    .bind(&app.name)
    .bind(app.name.to_lowercase())
    .bind(&app.template)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::or_conflict(e, || format!("an application named {:?} already exists", app.name)))?;
    let role = AppRole {
        id: RoleId::new(),
        app_id: app.id.clone(),
        name: DEFAULT_ROLE.to_string(),
        value: DEFAULT_ROLE.to_string(),
        description: Some("Default access".to_string()),
        is_default: true,
        refused: None,
        imported: false,
    };
    insert_role(tx, &role).await?;
    feed::append(tx, ChangeKind::App, app.id.as_str(), None).await?;
    Ok(app)
}

impl Store {
    /// Creates an application with its default `User` role.
    pub async fn create_app(&self, input: ApplicationInput) -> Result<Application, StoreError> {
        let mut tx = self.begin_write().await?;
        let app = insert_app(&mut tx, &input.name, &input.template).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Reads an application by id.
    pub async fn app(&self, id: &AppId) -> Result<Application, StoreError> {
        let row = sqlx::query("SELECT id, name, template, created_at, updated_at FROM applications WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("application", id.to_string()))?;
        app_from_row(&row)
    }

    /// Finds an application by id or name (case-insensitive).
    pub async fn find_app(&self, key: &str) -> Result<Application, StoreError> {
        if let Some(id) = AppId::parse(key) {
            if let Ok(app) = self.app(&id).await {
                return Ok(app);
            }
        }
        let row =
            sqlx::query("SELECT id, name, template, created_at, updated_at FROM applications WHERE name_key = $1")
                .bind(key.to_lowercase())
                .fetch_optional(self.pool())
                .await?
                .ok_or_else(|| StoreError::not_found("application", key))?;
        app_from_row(&row)
    }

    /// Every application, by name.
    pub async fn list_apps(&self) -> Result<Vec<Application>, StoreError> {
        sqlx::query("SELECT id, name, template, created_at, updated_at FROM applications ORDER BY name_key")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(app_from_row)
            .collect()
    }

    /// Renames an application.
    pub async fn rename_app(&self, id: &AppId, name: &str) -> Result<Application, StoreError> {
        let name = parse_name("name", name)?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE applications SET name = $1, name_key = $2, updated_at = $3 WHERE id = $4")
            .bind(&name)
            .bind(name.to_lowercase())
            .bind(now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::or_conflict(e, || format!("an application named {name:?} already exists")))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("application", id.to_string()));
        }
        feed::append(&mut tx, ChangeKind::App, id.as_str(), None).await?;
        tx.commit().await?;
        self.app(id).await
    }

    /// Deletes an application with its roles, assignments and provisioning state.
    /// Accounts already provisioned in the app are left as they are.
    pub async fn delete_app(&self, id: &AppId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for table in ["provisioning_log", "shadow", "jobs", "assignments", "app_roles"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE app_id = $1")).bind(id.as_str()).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM applications WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("application", id.to_string()));
        }
        feed::append(&mut tx, ChangeKind::App, id.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The roles of an application.
    pub async fn app_roles(&self, app: &AppId) -> Result<Vec<AppRole>, StoreError> {
        self.app(app).await?;
        sqlx::query(&format!(
            "SELECT {ROLE_COLUMNS} FROM app_roles WHERE app_id = $1 ORDER BY is_default DESC, name_key"
        ))
        .bind(app.as_str())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(role_from_row)
        .collect()
    }

    /// Finds a role of an application by id or name; `None` gives the default role.
    pub async fn find_role(&self, app: &AppId, key: Option<&str>) -> Result<AppRole, StoreError> {
        let roles = self.app_roles(app).await?;
        let found = match key {
            None => roles.into_iter().find(|r| r.is_default),
            Some(k) => roles.into_iter().find(|r| r.id.as_str() == k || r.name.eq_ignore_ascii_case(k)),
        };
        found.ok_or_else(|| StoreError::not_found("app role", key.unwrap_or(DEFAULT_ROLE)))
    }

    /// Adds a role to an application.
    pub async fn create_role(&self, app: &AppId, input: AppRoleInput) -> Result<AppRole, StoreError> {
        self.app(app).await?;
        let name = parse_name("name", &input.name)?;
        let role = AppRole {
            id: RoleId::new(),
            app_id: app.clone(),
            value: match input.value {
                Some(v) => parse_name("value", &v)?,
                None => name.clone(),
            },
            name,
            description: parse_text("description", input.description)?,
            is_default: false,
            refused: None,
            imported: false,
        };
        let mut tx = self.begin_write().await?;
        insert_role(&mut tx, &role).await?;
        feed::append(&mut tx, ChangeKind::App, app.as_str(), None).await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Deletes a role that no assignment uses; the default role cannot be deleted.
    pub async fn delete_role(&self, app: &AppId, role: &RoleId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let is_default: Option<i64> =
            sqlx::query_scalar("SELECT is_default FROM app_roles WHERE id = $1 AND app_id = $2")
                .bind(role.as_str())
                .bind(app.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        match is_default {
            None => return Err(StoreError::not_found("app role", role.to_string())),
            Some(1) => return Err(StoreError::invalid("the default role cannot be deleted")),
            Some(_) => {}
        }
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assignments WHERE role_id = $1")
            .bind(role.as_str())
            .fetch_one(&mut *tx)
            .await?;
        if used > 0 {
            return Err(StoreError::conflict(format!("the role is used by {used} assignment(s): unassign them first")));
        }
        sqlx::query("DELETE FROM app_roles WHERE id = $1").bind(role.as_str()).execute(&mut *tx).await?;
        feed::append(&mut tx, ChangeKind::App, app.as_str(), None).await?;
        tx.commit().await?;
        Ok(())
    }
}
