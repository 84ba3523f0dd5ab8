//! Strong ids: a user id never crosses a boundary as a bare string.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn new() -> $name {
                $name(uuid::Uuid::new_v4().to_string())
            }

            /// Parses an id given as text; only UUIDs are ids.
            pub fn parse(s: &str) -> Option<$name> {
                uuid::Uuid::parse_str(s).ok().map(|u| $name(u.to_string()))
            }

            /// An id as the store keeps it (a column, a shadow's source id, a
            /// change feed key), taken as it is: it was checked when it was
            /// made. Ids given at the edge go through [`Self::parse`].
            pub fn from_stored(s: String) -> $name {
                $name(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned text.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The id of a user of the directory.
    UserId
);
id_type!(
    /// The id of a group of the directory.
    GroupId
);
id_type!(
    /// The id of an application.
    AppId
);
id_type!(
    /// The id of an app role.
    RoleId
);
