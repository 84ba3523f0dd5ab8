//! Access roles: what an API token or a portal admin account may do. Three roles,
//! each allowing everything the one before it does:
//!
//! - `read`: every readable thing (settings never carry secrets);
//! - `operator`: read, and running provisioning (start, stop, sync, restart,
//!   allow deletes, provision on demand, test connection, hand-offs) and its logs;
//! - `admin`: everything, the directory, applications, settings and tokens included.
//!
//! Which role each route needs is said once per surface: the API's route table
//! (`roster-server`) and the portal's (`roster-portal`).

use crate::StoreError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The role of an API token or a portal admin account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessRole {
    /// Reads everything that is not secret.
    Read,
    /// Reads, and runs provisioning.
    Operator,
    /// Everything.
    Admin,
    /// Only roster's SCIM service (`/scim/v2`), for an HR system or an identity
    /// tool pushing people into the directory; nothing of the admin API.
    Scim,
}

impl AccessRole {
    /// Every role, from the least to the most allowed.
    pub const ALL: [AccessRole; 3] = [AccessRole::Read, AccessRole::Operator, AccessRole::Admin];

    /// Parses a role name at the edge (`read`, `operator` or `admin`).
    pub fn parse(name: &str) -> Result<AccessRole, StoreError> {
        match name {
            "read" => Ok(AccessRole::Read),
            "operator" => Ok(AccessRole::Operator),
            "admin" => Ok(AccessRole::Admin),
            "scim" => Ok(AccessRole::Scim),
            other => Err(StoreError::invalid(format!(
                "unknown role {other:?}: a role is read, operator or admin (or scim, for the SCIM service only)"
            ))),
        }
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Read => "read",
            AccessRole::Operator => "operator",
            AccessRole::Admin => "admin",
            AccessRole::Scim => "scim",
        }
    }

    /// Whether this role may do what `needed` is required for.
    /// The SCIM scope stands apart: it allows the SCIM service only, which an
    /// admin may also reach.
    pub fn allows(self, needed: AccessRole) -> bool {
        match (self, needed) {
            (AccessRole::Scim, needed) => needed == AccessRole::Scim,
            (has, AccessRole::Scim) => has == AccessRole::Admin,
            (has, needed) => has >= needed,
        }
    }

    /// Reads a role stored in a row; an unknown name is corrupt data.
    pub(crate) fn from_stored(name: &str) -> Result<AccessRole, StoreError> {
        AccessRole::parse(name).map_err(|_| StoreError::Corrupt { message: format!("unknown stored role {name:?}") })
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AccessRole::{self, *};

    fn check(has: AccessRole, needed: AccessRole, allowed: bool) {
        assert_eq!(has.allows(needed), allowed, "{has} for {needed}");
    }

    #[test]
    fn the_scim_scope_allows_the_scim_service_only() {
        check(Scim, Scim, true);
        check(Scim, Read, false);
        check(Admin, Scim, true);
        check(Operator, Scim, false);
        check(Read, Scim, false);
    }

    #[test]
    fn each_role_allows_the_ones_below_it() {
        check(Read, Read, true);
        check(Read, Operator, false);
        check(Read, Admin, false);
        check(Operator, Read, true);
        check(Operator, Operator, true);
        check(Operator, Admin, false);
        check(Admin, Read, true);
        check(Admin, Operator, true);
        check(Admin, Admin, true);
    }

    #[test]
    fn names_read_back() {
        for role in AccessRole::ALL {
            assert_eq!(AccessRole::parse(role.as_str()).ok(), Some(role));
        }
        assert!(AccessRole::parse("Admin").is_err());
        assert!(AccessRole::parse("").is_err());
    }
}
