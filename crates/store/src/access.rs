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
            other => Err(StoreError::invalid(format!("unknown role {other:?}: a role is read, operator or admin"))),
        }
    }

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Read => "read",
            AccessRole::Operator => "operator",
            AccessRole::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` is required for.
    pub fn allows(self, needed: AccessRole) -> bool {
        self >= needed
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
