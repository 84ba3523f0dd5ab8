//! The mappings a generic SCIM app starts with, matching what the major
//! identity provider ships, and the source attributes of the directory's
//! users and groups that mappings may read.

use crate::attribute_mapping::{
    AppMappings, ApplyMapping, AttributeMapping, MappingType, ObjectMapping, SourceObjectType, TargetActions,
};
use crate::scoping::ScopingFilter;

/// The attributes of a directory user that mappings may read, plus the
/// virtual ones (`IsSoftDeleted`, `objectId`, `appRoleAssignments`,
/// `accountEnabled`). `extension_*` attributes are always allowed too.
pub const USER_SOURCE_ATTRIBUTES: &[&str] = &[
    "objectId",
    "userName",
    "userPrincipalName",
    "externalId",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "otherMails",
    "proxyAddresses",
    "jobTitle",
    "department",
    "companyName",
    "employeeId",
    "employeeType",
    "employeeHireDate",
    "manager",
    "mobile",
    "businessPhones",
    "telephoneNumber",
    "faxNumber",
    "officeLocation",
    "streetAddress",
    "city",
    "state",
    "postalCode",
    "country",
    "usageLocation",
    "preferredLanguage",
    "accountEnabled",
    "IsSoftDeleted",
    "appRoleAssignments",
];

/// The attributes of a directory group that mappings may read, plus the
/// virtual `objectId` and `IsSoftDeleted`.
pub const GROUP_SOURCE_ATTRIBUTES: &[&str] =
    &["objectId", "displayName", "description", "mail", "mailNickname", "members", "IsSoftDeleted"];

/// The prefix of the SCIM enterprise user extension's attributes.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn direct(target: &str, source: &str) -> AttributeMapping {
    AttributeMapping {
        target: target.to_string(),
        mapping: MappingType::Direct { source: source.to_string() },
        default_value: None,
        apply: ApplyMapping::Always,
        matching_precedence: None,
    }
}

fn expression(target: &str, expression: &str) -> AttributeMapping {
    AttributeMapping { mapping: MappingType::Expression { expression: expression.to_string() }, ..direct(target, "") }
}

fn matching(mut mapping: AttributeMapping, precedence: u32) -> AttributeMapping {
    mapping.matching_precedence = Some(precedence);
    mapping
}

/// The default user mapping of a generic SCIM app. `userName` is the
/// matching attribute; `active` is `Switch([IsSoftDeleted], , "False",
/// "True", "True", "False")`, so the source must supply `IsSoftDeleted`;
/// `manager` is the manager's source id, which the caller resolves to the
/// manager's id in the target.
pub fn scim_user_mapping() -> ObjectMapping {
    let work_address = |part: &str, source: &str| direct(&format!("addresses[type eq \"work\"].{part}"), source);
    let enterprise = |part: &str, source: &str| direct(&format!("{ENTERPRISE_USER}:{part}"), source);
    ObjectMapping {
        name: "Provision users".to_string(),
        enabled: true,
        source_object: SourceObjectType::User,
        target_object: "User".to_string(),
        actions: TargetActions::default(),
        scoping: ScopingFilter::default(),
        attributes: vec![
            matching(direct("userName", "userName"), 1),
            expression("active", "Switch([IsSoftDeleted], , \"False\", \"True\", \"True\", \"False\")"),
            direct("displayName", "displayName"),
            direct("title", "jobTitle"),
            direct("emails[type eq \"work\"].value", "mail"),
            direct("preferredLanguage", "preferredLanguage"),
            direct("name.givenName", "givenName"),
            direct("name.familyName", "surname"),
            expression("name.formatted", "Join(\" \", [givenName], [surname])"),
            work_address("formatted", "officeLocation"),
            work_address("streetAddress", "streetAddress"),
            work_address("locality", "city"),
            work_address("postalCode", "postalCode"),
            work_address("country", "country"),
            expression("phoneNumbers[type eq \"work\"].value", "Item([businessPhones], 1)"),
            direct("phoneNumbers[type eq \"mobile\"].value", "mobile"),
            expression("externalId", "Coalesce([mailNickname], [objectId])"),
            enterprise("employeeNumber", "employeeId"),
            enterprise("department", "department"),
            enterprise("manager", "manager"),
        ],
    }
}

/// The default group mapping of a generic SCIM app: `displayName`
/// (matching), `externalId` from the group's id, and `members` (source ids,
/// which the caller resolves to target ids).
pub fn scim_group_mapping() -> ObjectMapping {
    ObjectMapping {
        name: "Provision groups".to_string(),
        enabled: true,
        source_object: SourceObjectType::Group,
        target_object: "Group".to_string(),
        actions: TargetActions::default(),
        scoping: ScopingFilter::default(),
        attributes: vec![
            matching(direct("displayName", "displayName"), 1),
            direct("externalId", "objectId"),
            direct("members", "members"),
        ],
    }
}

/// Both default mappings, as the mapping document of a new SCIM app.
pub fn scim_app_mappings() -> AppMappings {
    AppMappings { objects: vec![scim_user_mapping(), scim_group_mapping()] }
}
