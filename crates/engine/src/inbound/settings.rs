//! A source's settings: its template, the attributes its records carry, the
//! inbound mapping (record attributes → directory attributes, the same mapping
//! engine as outbound), its scoping filter, and the HR rules' settings.

use roster_mapping::{
    ApplyMapping, AttributeMapping, CompiledObjectMapping, MappingType, ObjectMapping, ScopingFilter, SourceObjectType,
    TargetActions,
};
use serde::{Deserialize, Serialize};

/// What an HR system sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SourceTemplate {
    /// SCIM 2.0 users (core, enterprise and any extension), pushed in a SCIM
    /// BulkRequest.
    #[serde(rename = "hr-scim")]
    HrScim,
    /// A CSV file with a header row, posted or dropped in the watched folder.
    #[serde(rename = "hr-csv")]
    HrCsv,
}

impl SourceTemplate {
    /// The template's name, as `applications.template` keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceTemplate::HrScim => "hr-scim",
            SourceTemplate::HrCsv => "hr-csv",
        }
    }

    /// The template of that name, if it is an inbound one.
    pub fn parse(name: &str) -> Option<SourceTemplate> {
        match name {
            "hr-scim" => Some(SourceTemplate::HrScim),
            "hr-csv" => Some(SourceTemplate::HrCsv),
            _ => None,
        }
    }
}

/// The enterprise extension's schema URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// roster's HR extension: the dates and the worker type an HR system adds to
/// its SCIM users.
pub const HR_EXTENSION: &str = "urn:roster:params:scim:schemas:extension:hr:2.0:User";

/// The directory attributes an inbound mapping may write (any case), besides
/// the text attributes and `extension_*`: `manager` takes the manager's
/// employee id.
const OTHER_TARGETS: &[&str] = &["manager", "businessPhones"];

/// The directory's spelling of an attribute an inbound mapping may write.
pub fn directory_target(name: &str) -> Option<&'static str> {
    roster_store::USER_TEXT_ATTRIBUTES.iter().chain(OTHER_TARGETS).find(|d| d.eq_ignore_ascii_case(name)).copied()
}

/// The attributes matching may use, in the directory's terms.
pub const MATCHING_TARGETS: &[&str] = &["employeeId", "userName"];

/// A source's settings, as stored and as the API takes and gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSettings {
    /// The attributes the source's records carry (its schema): what mappings
    /// and the scoping filter may read.
    pub attributes: Vec<String>,
    /// Record attributes → directory attributes; its scoping filter picks the
    /// records taken; matching is on `employeeId`, then `userName`.
    pub mapping: ObjectMapping,
    /// The record attribute holding the start (hire) date.
    pub start_date_attribute: String,
    /// The record attribute holding the end (termination) date.
    pub end_date_attribute: String,
    /// How many days before the start date a hire is created (disabled until then).
    pub prehire_days: u32,
    /// A batch that would disable more users than this is held for an admin's
    /// approval; 0 turns the guard off.
    pub disable_threshold: u32,
}

fn direct(target: &str, source: &str, matching: Option<u32>) -> AttributeMapping {
    AttributeMapping {
        target: target.to_string(),
        mapping: MappingType::Direct { source: source.to_string() },
        default_value: None,
        apply: ApplyMapping::Always,
        matching_precedence: matching,
    }
}

fn mapping(attributes: Vec<AttributeMapping>) -> ObjectMapping {
    ObjectMapping {
        name: "Provision workers".to_string(),
        enabled: true,
        source_object: SourceObjectType::User,
        target_object: "User".to_string(),
        actions: TargetActions { create: true, update: true, delete: false },
        scoping: ScopingFilter::default(),
        attributes,
    }
}

impl SourceSettings {
    /// The template's settings: its record attributes and a mapping of each.
    pub fn template(template: SourceTemplate) -> SourceSettings {
        match template {
            SourceTemplate::HrScim => {
                let ent = |a: &str| format!("{ENTERPRISE}:{a}");
                let hr = |a: &str| format!("{HR_EXTENSION}:{a}");
                let attributes = vec![
                    "userName".into(),
                    "externalId".into(),
                    "displayName".into(),
                    "name.givenName".into(),
                    "name.familyName".into(),
                    "title".into(),
                    "userType".into(),
                    "preferredLanguage".into(),
                    "emails[type eq \"work\"].value".into(),
                    "phoneNumbers[type eq \"mobile\"].value".into(),
                    "phoneNumbers[type eq \"work\"].value".into(),
                    "addresses[type eq \"work\"].locality".into(),
                    "addresses[type eq \"work\"].country".into(),
                    ent("employeeNumber"),
                    ent("department"),
                    ent("costCenter"),
                    ent("manager.value"),
                    hr("startDate"),
                    hr("endDate"),
                    hr("workerType"),
                ];
                let m = mapping(vec![
                    direct("employeeId", &ent("employeeNumber"), Some(1)),
                    direct("userName", "userName", Some(2)),
                    direct("externalId", "externalId", None),
                    direct("displayName", "displayName", None),
                    direct("givenName", "name.givenName", None),
                    direct("surname", "name.familyName", None),
                    direct("jobTitle", "title", None),
                    direct("department", &ent("department"), None),
                    direct("manager", &ent("manager.value"), None),
                    direct("mail", "emails[type eq \"work\"].value", None),
                    direct("mobile", "phoneNumbers[type eq \"mobile\"].value", None),
                    direct("city", "addresses[type eq \"work\"].locality", None),
                    direct("country", "addresses[type eq \"work\"].country", None),
                    direct("preferredLanguage", "preferredLanguage", None),
                ]);
                SourceSettings {
                    attributes,
                    mapping: m,
                    start_date_attribute: hr("startDate"),
                    end_date_attribute: hr("endDate"),
                    prehire_days: 14,
                    disable_threshold: 500,
                }
            }
            SourceTemplate::HrCsv => {
                let attributes = [
                    "EmployeeId",
                    "UserName",
                    "FirstName",
                    "LastName",
                    "DisplayName",
                    "Email",
                    "JobTitle",
                    "Department",
                    "ManagerEmployeeId",
                    "WorkerType",
                    "StartDate",
                    "EndDate",
                    "City",
                    "Country",
                    "Mobile",
                    "Office",
                ]
                .map(String::from)
                .to_vec();
                let m = mapping(vec![
                    direct("employeeId", "EmployeeId", Some(1)),
                    direct("userName", "UserName", Some(2)),
                    direct("displayName", "DisplayName", None),
                    direct("givenName", "FirstName", None),
                    direct("surname", "LastName", None),
                    direct("mail", "Email", None),
                    direct("jobTitle", "JobTitle", None),
                    direct("department", "Department", None),
                    direct("manager", "ManagerEmployeeId", None),
                    direct("city", "City", None),
                    direct("country", "Country", None),
                    direct("mobile", "Mobile", None),
                    direct("officeLocation", "Office", None),
                ]);
                SourceSettings {
                    attributes,
                    mapping: m,
                    start_date_attribute: "StartDate".into(),
                    end_date_attribute: "EndDate".into(),
                    prehire_days: 14,
                    disable_threshold: 500,
                }
            }
        }
    }

    /// Checks the settings and compiles the mapping; an error names the field.
    pub fn compile(&self) -> Result<CompiledObjectMapping, crate::EngineError> {
        let bad = |field: &str, m: String| crate::EngineError::invalid_setting(field, m);
        if self.attributes.is_empty() || self.attributes.len() > 500 {
            return Err(bad("attributes", "give between 1 and 500 record attributes".into()));
        }
        for a in &self.attributes {
            if a.trim().is_empty() || a.len() > 256 || a.chars().any(char::is_control) {
                return Err(bad("attributes", format!("{a:?} is not an attribute name")));
            }
        }
        for (field, a) in
            [("startDateAttribute", &self.start_date_attribute), ("endDateAttribute", &self.end_date_attribute)]
        {
            if !self.attributes.iter().any(|k| k.eq_ignore_ascii_case(a)) {
                return Err(bad(field, format!("{a:?} is not one of the source's attributes")));
            }
        }
        if self.prehire_days > 3650 {
            return Err(bad("prehireDays", "at most 3650 days".into()));
        }
        for m in &self.mapping.attributes {
            let t = m.target.trim();
            let extension = t.get(..10).is_some_and(|p| p.eq_ignore_ascii_case("extension_")) && t.len() > 10;
            if !extension && directory_target(t).is_none() {
                return Err(bad(
                    "mapping",
                    format!(
                        "{t:?} is not a directory attribute (one of {}, or extension_<name>)",
                        roster_store::USER_TEXT_ATTRIBUTES
                            .iter()
                            .chain(OTHER_TARGETS)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if m.matching_precedence.is_some() && !MATCHING_TARGETS.iter().any(|d| d.eq_ignore_ascii_case(t)) {
                return Err(bad("mapping", format!("matching is on {}, not {t:?}", MATCHING_TARGETS.join(", "))));
            }
        }
        let known: Vec<&str> = self.attributes.iter().map(String::as_str).collect();
        self.mapping.compile(&known).map_err(|errors| {
            let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            bad("mapping", text.join("; "))
        })
    }
}
