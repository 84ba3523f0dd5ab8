//! A directory user as the mapping language sees it: the `SourceObject` with the
//! directory's attribute names, plus the virtual `IsSoftDeleted`, `objectId` and
//! `appRoleAssignments`.

use roster_mapping::{AppRoleAssignment, SourceObject, Value};
use roster_store::User;

/// One user of the directory, seen by one application.
pub struct UserSource<'a> {
    pub user: &'a User,
    /// Whether the user is out of the app's reach (unassigned, disabled, deleted).
    pub soft_deleted: bool,
    pub roles: Vec<AppRoleAssignment>,
}

fn text(v: &Option<String>) -> Value {
    match v {
        Some(s) => Value::Str(s.clone()),
        None => Value::Null,
    }
}

impl SourceObject for UserSource<'_> {
    fn attribute(&self, name: &str) -> Value {
        let u = self.user;
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("userName") || is("userPrincipalName") {
            Value::Str(u.user_name.clone())
        } else if is("objectId") || is("id") {
            Value::Str(u.id.to_string())
        } else if is("IsSoftDeleted") {
            Value::Bool(self.soft_deleted)
        } else if is("accountEnabled") || is("active") {
            Value::Bool(u.active)
        } else if is("displayName") {
            text(&u.display_name)
        } else if is("givenName") {
            text(&u.given_name)
        } else if is("surname") {
            text(&u.surname)
        } else if is("mail") {
            text(&u.mail)
        } else if is("mailNickname") {
            text(&u.mail_nickname)
        } else if is("jobTitle") {
            text(&u.job_title)
        } else if is("department") {
            text(&u.department)
        } else if is("employeeId") {
            text(&u.employee_id)
        } else if is("manager") {
            u.manager.as_ref().map(|m| Value::Str(m.to_string())).unwrap_or(Value::Null)
        } else if is("mobile") {
            text(&u.mobile)
        } else if is("businessPhones") || is("telephoneNumber") {
            if u.business_phones.is_empty() {
                Value::Null
            } else if is("telephoneNumber") {
                Value::Str(u.business_phones[0].clone())
            } else {
                Value::List(u.business_phones.iter().cloned().map(Value::Str).collect())
            }
        } else if is("officeLocation") || is("physicalDeliveryOfficeName") {
            text(&u.office_location)
        } else if is("streetAddress") {
            text(&u.street_address)
        } else if is("city") {
            text(&u.city)
        } else if is("postalCode") {
            text(&u.postal_code)
        } else if is("country") {
            text(&u.country)
        } else if is("preferredLanguage") {
            text(&u.preferred_language)
        } else if is("externalId") {
            text(&u.external_id)
        } else if is("appRoleAssignments") {
            Value::List(self.roles.iter().map(AppRoleAssignment::to_value).collect())
        } else if let Some(key) = name.get(..10).filter(|p| p.eq_ignore_ascii_case("extension_")).map(|_| &name[10..]) {
            u.extensions
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| Value::Str(v.clone()))
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        }
    }

    fn app_role_assignments(&self) -> Vec<AppRoleAssignment> {
        self.roles.clone()
    }
}

/// One group of the directory, seen by one application. `members` reads as null:
/// members are resolved by the engine to the accounts it provisioned.
pub struct GroupSource<'a> {
    pub group: &'a roster_store::Group,
    pub soft_deleted: bool,
}

impl SourceObject for GroupSource<'_> {
    fn attribute(&self, name: &str) -> Value {
        let g = self.group;
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("objectId") || is("id") {
            Value::Str(g.id.to_string())
        } else if is("displayName") {
            Value::Str(g.display_name.clone())
        } else if is("description") {
            text(&g.description)
        } else if is("mailNickname") {
            text(&g.mail_nickname)
        } else if is("IsSoftDeleted") {
            Value::Bool(self.soft_deleted)
        } else {
            Value::Null
        }
    }

    fn app_role_assignments(&self) -> Vec<AppRoleAssignment> {
        Vec::new()
    }
}
