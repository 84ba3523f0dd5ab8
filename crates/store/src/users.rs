//! Users of the directory: create, read, partial update, enable/disable,
//! soft delete and restore, listing, and the bulk upsert behind CSV import.

use crate::feed::{self, ChangeKind};
use crate::ids::UserId;
use crate::model::{Page, User};
use crate::sql::{escape_like, for_backend, placeholders};
use crate::{now_ms, Store, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;

pub(crate) const COLUMNS: &str = "id, user_name, external_id, active, display_name, given_name, surname, mail, \
    mail_nickname, job_title, department, employee_id, manager_id, mobile, business_phones, \
    office_location, street_address, city, postal_code, country, preferred_language, extensions, \
    deleted_at, created_at, updated_at";

/// The text attributes of a user, as the API names them (a CSV import's
/// columns, an inbound mapping's targets).
pub const USER_TEXT_ATTRIBUTES: &[&str] = &[
    "userName",
    "externalId",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "jobTitle",
    "department",
    "employeeId",
    "mobile",
    "officeLocation",
    "streetAddress",
    "city",
    "postalCode",
    "country",
    "preferredLanguage",
];

/// The longest value any text attribute may hold.
const MAX_TEXT: usize = 1024;

/// The attributes of a new user; only `userName` is required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserInput {
    pub user_name: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub manager: Option<UserId>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub business_phones: Option<Vec<String>>,
    #[serde(default)]
    pub office_location: Option<String>,
    #[serde(default)]
    pub street_address: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    #[serde(default)]
    pub extensions: Option<BTreeMap<String, String>>,
}

/// A partial update: an absent field is left alone, `null` clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default, deserialize_with = "present")]
    pub user_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub active: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub given_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub surname: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub mail: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub mail_nickname: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub employee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub manager: Option<Option<UserId>>,
    #[serde(default, deserialize_with = "present")]
    pub mobile: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub business_phones: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub office_location: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub street_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub postal_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub preferred_language: Option<Option<String>>,
    /// Keys set to a value are added or replaced; keys set to `null` are removed.
    #[serde(default)]
    pub extensions: Option<BTreeMap<String, Option<String>>>,
}

/// Marks a field as present, so that `null` becomes `Some(None)`.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// How to list users.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    /// Exact userName (case-insensitive).
    pub user_name: Option<String>,
    /// Exact displayName.
    pub display_name: Option<String>,
    /// Free text, matched against userName, displayName, mail, givenName and surname.
    pub q: Option<String>,
    /// Include soft-deleted users.
    #[serde(default)]
    pub include_deleted: bool,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

impl ListQuery {
    /// Offset and limit, bounded (a page holds at most 1,000 items).
    pub fn window(&self) -> (i64, i64) {
        (self.offset.unwrap_or(0).max(0), self.limit.unwrap_or(100).clamp(1, 1000))
    }
}

/// Checks a userName at the edge: 1 to 256 characters, no control characters,
/// no leading or trailing space.
pub(crate) fn parse_user_name(s: &str) -> Result<String, StoreError> {
    if s.is_empty() {
        return Err(StoreError::invalid("userName must not be empty"));
    }
    if s.chars().count() > 256 {
        return Err(StoreError::invalid("userName is longer than 256 characters"));
    }
    if s.trim() != s {
        return Err(StoreError::invalid(format!("userName {s:?} has leading or trailing spaces")));
    }
    if s.chars().any(char::is_control) {
        return Err(StoreError::invalid("userName contains control characters"));
    }
    Ok(s.to_string())
}

/// Checks any other text attribute: at most 1,024 characters, no control characters
/// but tab. An empty string clears the attribute.
pub(crate) fn parse_text(field: &str, v: Option<String>) -> Result<Option<String>, StoreError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => {
            if s.chars().count() > MAX_TEXT {
                return Err(StoreError::invalid(format!("{field} is longer than {MAX_TEXT} characters")));
            }
            if s.chars().any(|c| c.is_control() && c != '\t') {
                return Err(StoreError::invalid(format!("{field} contains control characters")));
            }
            Ok(Some(s))
        }
    }
}

fn parse_extensions(map: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, StoreError> {
    if map.len() > 100 {
        return Err(StoreError::invalid("at most 100 extension attributes per user"));
    }
    for (k, v) in &map {
        let valid_key =
            !k.is_empty() && k.len() <= 64 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_key {
            return Err(StoreError::invalid(format!(
                "extension attribute name {k:?} must be 1 to 64 letters, digits, '_' or '-'"
            )));
        }
        parse_text(k, Some(v.clone()))?;
    }
    Ok(map)
}

fn parse_phones(phones: Vec<String>) -> Result<Vec<String>, StoreError> {
    if phones.len() > 20 {
        return Err(StoreError::invalid("at most 20 businessPhones"));
    }
    phones.into_iter().map(|p| parse_text("businessPhones", Some(p))).filter_map(Result::transpose).collect()
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    let phones: String = row.try_get("business_phones")?;
    let extensions: String = row.try_get("extensions")?;
    Ok(User {
        id: UserId::from_stored(row.try_get("id")?),
        user_name: row.try_get("user_name")?,
        external_id: row.try_get("external_id")?,
        active: row.try_get::<i64, _>("active")? != 0,
        display_name: row.try_get("display_name")?,
        given_name: row.try_get("given_name")?,
        surname: row.try_get("surname")?,
        mail: row.try_get("mail")?,
        mail_nickname: row.try_get("mail_nickname")?,
        job_title: row.try_get("job_title")?,
        department: row.try_get("department")?,
        employee_id: row.try_get("employee_id")?,
        manager: row.try_get::<Option<String>, _>("manager_id")?.map(UserId::from_stored),
        mobile: row.try_get("mobile")?,
        business_phones: serde_json::from_str(&phones)?,
        office_location: row.try_get("office_location")?,
        street_address: row.try_get("street_address")?,
        city: row.try_get("city")?,
        postal_code: row.try_get("postal_code")?,
        country: row.try_get("country")?,
        preferred_language: row.try_get("preferred_language")?,
        extensions: serde_json::from_str(&extensions)?,
        deleted_at: row.try_get("deleted_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Applies a patch to a user in memory, validating each field.
pub(crate) fn apply_patch(user: &mut User, patch: UserPatch) -> Result<(), StoreError> {
    macro_rules! text {
        ($($field:ident => $name:literal),* $(,)?) => {
            $(if let Some(v) = patch.$field { user.$field = parse_text($name, v)?; })*
        };
    }
    if let Some(v) = patch.user_name {
        let v = v.ok_or_else(|| StoreError::invalid("userName cannot be cleared"))?;
        user.user_name = parse_user_name(&v)?;
    }
    if let Some(v) = patch.active {
        user.active = v.unwrap_or(true);
    }
    text!(
        external_id => "externalId", display_name => "displayName", given_name => "givenName",
        surname => "surname", mail => "mail", mail_nickname => "mailNickname", job_title => "jobTitle",
        department => "department", employee_id => "employeeId", mobile => "mobile",
        office_location => "officeLocation", street_address => "streetAddress", city => "city",
        postal_code => "postalCode", country => "country", preferred_language => "preferredLanguage",
    );
    if let Some(v) = patch.manager {
        user.manager = v;
    }
    if let Some(v) = patch.business_phones {
        user.business_phones = parse_phones(v.unwrap_or_default())?;
    }
    if let Some(changes) = patch.extensions {
        for (k, v) in changes {
            match v {
                Some(v) => {
                    user.extensions.insert(k, v);
                }
                None => {
                    user.extensions.remove(&k);
                }
            }
        }
        user.extensions = parse_extensions(std::mem::take(&mut user.extensions))?;
    }
    Ok(())
}

/// Builds a new user from its input, validating every field.
pub(crate) fn new_user(input: UserInput, now: i64) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::new(),
        user_name: parse_user_name(&input.user_name)?,
        external_id: parse_text("externalId", input.external_id)?,
        active: input.active.unwrap_or(true),
        display_name: parse_text("displayName", input.display_name)?,
        given_name: parse_text("givenName", input.given_name)?,
        surname: parse_text("surname", input.surname)?,
        mail: parse_text("mail", input.mail)?,
        mail_nickname: parse_text("mailNickname", input.mail_nickname)?,
        job_title: parse_text("jobTitle", input.job_title)?,
        department: parse_text("department", input.department)?,
        employee_id: parse_text("employeeId", input.employee_id)?,
        manager: input.manager,
        mobile: parse_text("mobile", input.mobile)?,
        business_phones: parse_phones(input.business_phones.unwrap_or_default())?,
        office_location: parse_text("officeLocation", input.office_location)?,
        street_address: parse_text("streetAddress", input.street_address)?,
        city: parse_text("city", input.city)?,
        postal_code: parse_text("postalCode", input.postal_code)?,
        country: parse_text("country", input.country)?,
        preferred_language: parse_text("preferredLanguage", input.preferred_language)?,
        extensions: parse_extensions(input.extensions.unwrap_or_default())?,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    })
}

/// Converts an input into a patch that sets every field the input names
/// (used when an import updates an existing user).
pub(crate) fn input_as_patch(input: UserInput) -> UserPatch {
    UserPatch {
        user_name: Some(Some(input.user_name)),
        external_id: input.external_id.map(Some),
        active: input.active.map(Some),
        display_name: input.display_name.map(Some),
        given_name: input.given_name.map(Some),
        surname: input.surname.map(Some),
        mail: input.mail.map(Some),
        mail_nickname: input.mail_nickname.map(Some),
        job_title: input.job_title.map(Some),
        department: input.department.map(Some),
        employee_id: input.employee_id.map(Some),
        manager: input.manager.map(Some),
        mobile: input.mobile.map(Some),
        business_phones: input.business_phones.map(Some),
        office_location: input.office_location.map(Some),
        street_address: input.street_address.map(Some),
        city: input.city.map(Some),
        postal_code: input.postal_code.map(Some),
        country: input.country.map(Some),
        preferred_language: input.preferred_language.map(Some),
        extensions: input.extensions.map(|m| m.into_iter().map(|(k, v)| (k, Some(v))).collect()),
    }
}

async fn write_user(tx: &mut Transaction<'static, Any>, user: &User, insert: bool) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO users (user_name, user_name_key, external_id, active, display_name, given_name, surname, mail, \
         mail_nickname, job_title, department, employee_id, manager_id, mobile, business_phones, office_location, \
         street_address, city, postal_code, country, preferred_language, extensions, deleted_at, created_at, updated_at, id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)"
    } else {
        "UPDATE users SET user_name=$1, user_name_key=$2, external_id=$3, active=$4, display_name=$5, given_name=$6, \
         surname=$7, mail=$8, mail_nickname=$9, job_title=$10, department=$11, employee_id=$12, manager_id=$13, \
         mobile=$14, business_phones=$15, office_location=$16, street_address=$17, city=$18, postal_code=$19, \
         country=$20, preferred_language=$21, extensions=$22, deleted_at=$23, created_at=$24, updated_at=$25 WHERE id=$26"
    };
    bind_user(sqlx::query(sql), user)?
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::or_conflict(e, || format!("userName {:?} is already taken", user.user_name)))?;
    feed::append(tx, ChangeKind::User, user.id.as_str(), None).await
}

/// Binds a user's 26 columns, in the order `write_user` and `write_users` name them.
pub(crate) fn bind_user<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    user: &'q User,
) -> Result<sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>, StoreError> {
    Ok(q.bind(&user.user_name)
        .bind(user.user_name.to_lowercase())
        .bind(&user.external_id)
        .bind(user.active as i64)
        .bind(&user.display_name)
        .bind(&user.given_name)
        .bind(&user.surname)
        .bind(&user.mail)
        .bind(&user.mail_nickname)
        .bind(&user.job_title)
        .bind(&user.department)
        .bind(&user.employee_id)
        .bind(user.manager.as_ref().map(|m| m.to_string()))
        .bind(&user.mobile)
        .bind(serde_json::to_string(&user.business_phones)?)
        .bind(&user.office_location)
        .bind(&user.street_address)
        .bind(&user.city)
        .bind(&user.postal_code)
        .bind(&user.country)
        .bind(&user.preferred_language)
        .bind(serde_json::to_string(&user.extensions)?)
        .bind(user.deleted_at)
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(user.id.as_str()))
}

/// Refuses a manager that does not exist, is soft-deleted, or is the user itself.
async fn check_manager(tx: &mut Transaction<'static, Any>, user: &User) -> Result<(), StoreError> {
    let Some(manager) = &user.manager else { return Ok(()) };
    if manager == &user.id {
        return Err(StoreError::invalid("a user cannot be their own manager"));
    }
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL")
        .bind(manager.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if found.is_none() {
        return Err(StoreError::invalid(format!("manager {manager} is not a user of the directory")));
    }
    Ok(())
}

async fn fetch_user(tx: &mut Transaction<'static, Any>, id: &UserId) -> Result<User, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found("user", id.to_string()))?;
    user_from_row(&row)
}

/// Creates a user inside a write transaction.
pub(crate) async fn create_in(
    tx: &mut Transaction<'static, Any>,
    input: UserInput,
    now: i64,
) -> Result<User, StoreError> {
    let user = new_user(input, now)?;
    check_manager(tx, &user).await?;
    write_user(tx, &user, true).await?;
    Ok(user)
}

/// Applies a partial update inside a write transaction.
pub(crate) async fn update_in(
    tx: &mut Transaction<'static, Any>,
    id: &UserId,
    patch: UserPatch,
) -> Result<User, StoreError> {
    let mut user = fetch_user(tx, id).await?;
    if user.is_deleted() {
        return Err(StoreError::invalid(format!("user {} is deleted: restore it first", user.user_name)));
    }
    let manager_changed = patch.manager.is_some();
    apply_patch(&mut user, patch)?;
    if manager_changed {
        check_manager(tx, &user).await?;
    }
    user.updated_at = now_ms();
    write_user(tx, &user, false).await?;
    Ok(user)
}

impl Store {
    /// Creates a user.
    pub async fn create_user(&self, input: UserInput) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let user = create_in(&mut tx, input, now_ms()).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Reads a user by id.
    pub async fn user(&self, id: &UserId) -> Result<User, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("user", id.to_string()))?;
        user_from_row(&row)
    }

    /// Which of `ids` are users of the directory (deleted ones included),
    /// reading only the ids.
    pub async fn existing_user_ids(&self, ids: &[&str]) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut out = std::collections::HashSet::with_capacity(ids.len());
        for chunk in ids.chunks(crate::sql::IN_LIST) {
            let sql = format!("SELECT id FROM users WHERE id IN ({})", placeholders(1, chunk.len()));
            let sql = crate::sql::for_backend(self.backend, sql);
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            out.extend(query.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// Reads users by id, in one query; missing ids are left out.
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(crate::sql::IN_LIST) {
            let placeholders = placeholders(1, chunk.len());
            let sql = for_backend(self.backend, format!("SELECT {COLUMNS} FROM users WHERE id IN ({placeholders})"));
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(self.pool()).await? {
                out.push(user_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Finds a user by id or userName (case-insensitive).
    pub async fn find_user(&self, key: &str) -> Result<User, StoreError> {
        if let Some(id) = UserId::parse(key) {
            if let Ok(user) = self.user(&id).await {
                return Ok(user);
            }
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE user_name_key = $1"))
            .bind(key.to_lowercase())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::not_found("user", key))?;
        user_from_row(&row)
    }

    /// Applies a partial update.
    pub async fn update_user(&self, id: &UserId, patch: UserPatch) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let user = update_in(&mut tx, id, patch).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Soft-deletes a user: kept, flagged, and restorable for 30 days.
    pub async fn delete_user(&self, id: &UserId) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut user = fetch_user(&mut tx, id).await?;
        if user.is_deleted() {
            return Err(StoreError::not_found("user", id.to_string()));
        }
        let now = now_ms();
        user.deleted_at = Some(now);
        user.updated_at = now;
        write_user(&mut tx, &user, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Restores a soft-deleted user.
    pub async fn restore_user(&self, id: &UserId) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut user = fetch_user(&mut tx, id).await?;
        if !user.is_deleted() {
            return Err(StoreError::invalid(format!("user {} is not deleted", user.user_name)));
        }
        user.deleted_at = None;
        user.updated_at = now_ms();
        if user.manager.is_some() && check_manager(&mut tx, &user).await.is_err() {
            user.manager = None;
        }
        write_user(&mut tx, &user, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Removes for good the users soft-deleted more than 30 days before `now`.
    /// Returns how many were purged.
    pub async fn purge_deleted_users(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let cutoff = now - User::RETENTION_MS;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE deleted_at IS NOT NULL AND deleted_at < $1")
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
        for id in &ids {
            sqlx::query("DELETE FROM group_members WHERE member_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM assignments WHERE principal_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("UPDATE users SET manager_id = NULL WHERE manager_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM scim_extras WHERE object_id = $1").bind(id).execute(&mut *tx).await?;
            feed::append(&mut tx, ChangeKind::User, id, None).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Lists users, a page at a time, ordered by userName.
    pub async fn list_users(&self, query: &ListQuery) -> Result<Page<User>, StoreError> {
        let (offset, limit) = query.window();
        let mut clauses = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        if !query.include_deleted {
            clauses.push("deleted_at IS NULL".to_string());
        }
        if let Some(u) = &query.user_name {
            binds.push(u.to_lowercase());
            clauses.push(format!("user_name_key = ${}", binds.len()));
        }
        if let Some(d) = &query.display_name {
            binds.push(d.clone());
            clauses.push(format!("display_name = ${}", binds.len()));
        }
        let searching = query.q.as_deref().is_some_and(|q| !q.is_empty());
        if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
            binds.push(format!("%{}%", escape_like(&q.to_lowercase())));
            let n = binds.len();
            // SQLite's LIKE already ignores ASCII case, as far as its LOWER goes;
            // PostgreSQL's does not. A NULL column simply does not match.
            let folded = |column: &str| match self.backend() {
                crate::Backend::Sqlite => column.to_string(),
                crate::Backend::Postgres => format!("LOWER({column})"),
            };
            clauses.push(format!(
                "(user_name_key LIKE ${n} ESCAPE '\\' OR {} LIKE ${n} ESCAPE '\\' OR {} LIKE ${n} ESCAPE '\\' \
                 OR {} LIKE ${n} ESCAPE '\\' OR {} LIKE ${n} ESCAPE '\\')",
                folded("display_name"),
                folded("mail"),
                folded("given_name"),
                folded("surname"),
            ));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        // A search scans the table: the page carries its total (one scan, not two).
        // Without one, the count is an index-only query and the page a short walk.
        let total_column = if searching { ", COUNT(*) OVER () AS total_rows" } else { "" };
        let list_sql = format!(
            "SELECT {COLUMNS}{total_column} FROM users {filter} ORDER BY user_name_key LIMIT {limit} OFFSET {offset}"
        );
        let mut list = sqlx::query(&list_sql);
        for b in &binds {
            list = list.bind(b);
        }
        let rows = list.fetch_all(self.pool()).await?;
        let counted = match rows.first() {
            Some(row) if searching => Some(row.try_get::<i64, _>("total_rows")?),
            None if searching && offset == 0 => Some(0),
            _ => None,
        };
        let total = match counted {
            Some(t) => t,
            None => {
                let count_sql = format!("SELECT COUNT(*) FROM users {filter}");
                let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
                for b in &binds {
                    count = count.bind(b);
                }
                count.fetch_one(self.pool()).await?
            }
        };
        let items = rows.iter().map(user_from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total, offset, limit })
    }

    /// Reads up to `limit` users with ids after `after`, in id order: the stream the
    /// engine walks in an initial cycle, never the whole directory at once.
    pub async fn users_after(&self, after: Option<&str>, limit: i64) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT {limit}"))
            .bind(after.unwrap_or(""))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from_row).collect()
    }
}
