//! SCIM 2.0 protocol types (RFC 7643/7644) shared by the engine, the
//! connectors and the sample application: schema URNs, attribute paths,
//! resource building and reading, PATCH building and applying, filters,
//! error and list-response bodies. Pure: no I/O.

mod apply;
mod dialect;
mod filter;
pub mod json_text;
mod message;
mod patch;
mod path;
mod resource;

pub use apply::{apply_patch, PatchError};
pub use dialect::{Alternative, Aspect, Dialect, Form};
pub use filter::{CompareOp, Filter, FilterError, FilterPath};
pub use message::{ListResponse, ScimError};
pub use patch::{diff_patch, members_patch, patch_body, MemberRemoval, PatchOp, PatchOperation};
pub use path::{AttrPath, PathError, ValueFilter};
pub use resource::{build_resource, coerce, extract, get_ci, ResourceKind};

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension schema URN.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// PATCH request message URN.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// List response message URN.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Attributes whose values are booleans: string values "True"/"False"
/// (any case) are turned into JSON booleans.
pub(crate) const BOOLEAN_ATTRS: &[&str] = &["active", "primary"];

/// Whether `name` (any case) is a known boolean attribute.
pub(crate) fn is_boolean_attr(name: &str) -> bool {
    BOOLEAN_ATTRS.iter().any(|b| b.eq_ignore_ascii_case(name))
}

/// `"true"`/`"false"` in any case as a boolean.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Whether `s` starts with `urn:` (any case).
pub(crate) fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}
