//! The objects of the directory as the API shows them (camelCase JSON).

use crate::ids::{AppId, GroupId, RoleId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A person of the directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub user_name: String,
    pub external_id: Option<String>,
    /// `accountEnabled`: a disabled user loses access to every app.
    pub active: bool,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub mail_nickname: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub employee_id: Option<String>,
    pub manager: Option<UserId>,
    pub mobile: Option<String>,
    pub business_phones: Vec<String>,
    pub office_location: Option<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub preferred_language: Option<String>,
    /// Free extension attributes (`extension_<name>` in mappings).
    pub extensions: BTreeMap<String, String>,
    /// Set when the user is soft-deleted: kept and restorable for 30 days.
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// Soft-deleted users are kept for this long, then purged.
    pub const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

    /// Whether the user is soft-deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A group of the directory; its members are users and groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: GroupId,
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: Option<String>,
    pub member_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Whether a member or a principal is a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Group,
}

impl PrincipalKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        }
    }

    pub(crate) fn parse(s: &str) -> PrincipalKind {
        if s == "group" {
            PrincipalKind::Group
        } else {
            PrincipalKind::User
        }
    }
}

/// A direct member of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    pub kind: PrincipalKind,
    /// userName of a user, displayName of a group.
    pub name: String,
}

/// An application roster provisions to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: AppId,
    pub name: String,
    pub template: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A role a user or group can be assigned to an application with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    pub id: RoleId,
    pub app_id: AppId,
    pub name: String,
    pub value: String,
    pub description: Option<String>,
    pub is_default: bool,
    /// Why the role cannot be used for provisioning (assignments with it are
    /// refused), e.g. Salesforce's Default Access, which sets no profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Whether the role was imported from the app (its profiles, admin roles),
    /// rather than defined in roster.
    #[serde(default)]
    pub imported: bool,
}

/// A user or group assigned to an application with a role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub id: String,
    pub app_id: AppId,
    pub principal_id: String,
    pub principal_kind: PrincipalKind,
    pub principal_name: String,
    pub role_id: RoleId,
    pub role_name: String,
    pub created_at: i64,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}
