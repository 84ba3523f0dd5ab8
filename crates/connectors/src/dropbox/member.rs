//! The Dropbox template's target attributes and their translation: from the
//! engine's (attribute, value) pairs and PATCH operations to the fields of
//! `members/add_v2` and `members/set_profile_v2`, and from Dropbox's member
//! info to the flat keys the engine reads back. Pure: no I/O.

use roster_scim::{PatchOp, PatchOperation};
use serde_json::{json, Map, Value};

use crate::{ConnectorError, TargetObject};

/// The member's email: the matching attribute, required on create.
pub const EMAIL: &str = "email";
/// The team's own id for the member (a matching attribute too).
pub const EXTERNAL_ID: &str = "external_id";
/// First name.
pub const GIVEN_NAME: &str = "given_name";
/// Last name.
pub const SURNAME: &str = "surname";
/// The SAML persistent id (teams with persistent-id SSO only).
pub const PERSISTENT_ID: &str = "persistent_id";
/// The admin role: a role id from `members/get_available_team_member_roles`,
/// or [`MEMBER_ROLE`].
pub const ROLE: &str = "role";
/// roster's enable/disable switch: `false` suspends the member (or cancels
/// the invitation of one who never joined), `true` unsuspends.
pub const ACTIVE: &str = "active";
/// The role value of a plain team member (no admin role).
pub const MEMBER_ROLE: &str = "member";

/// Every attribute the connector writes.
pub const ATTRIBUTES: [&str; 7] = [EMAIL, EXTERNAL_ID, GIVEN_NAME, SURNAME, PERSISTENT_ID, ROLE, ACTIVE];

/// A member's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// No admin role.
    Member,
    /// A `pid_dbtmr:...` role id.
    Admin(String),
}

impl Role {
    fn parse(value: &str) -> Role {
        let v = value.trim();
        if v.is_empty() || v.eq_ignore_ascii_case(MEMBER_ROLE) {
            Role::Member
        } else {
            Role::Admin(v.to_string())
        }
    }

    /// The role list Dropbox takes (`role_ids`, `new_roles`).
    pub(crate) fn ids(&self) -> Vec<&str> {
        match self {
            Role::Member => vec![],
            Role::Admin(id) => vec![id.as_str()],
        }
    }

    /// The value the engine reads back.
    pub(crate) fn value(&self) -> &str {
        match self {
            Role::Member => MEMBER_ROLE,
            Role::Admin(id) => id,
        }
    }
}

/// The profile fields `members/set_profile_v2` takes, each `None` when unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    pub(crate) email: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) given_name: Option<String>,
    pub(crate) surname: Option<String>,
    pub(crate) persistent_id: Option<String>,
}

impl Profile {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Profile::default()
    }

    /// The `members/set_profile_v2` argument for `team_member_id`.
    pub(crate) fn set_profile_arg(&self, team_member_id: &str) -> Value {
        let mut arg = json!({ "user": user_selector(team_member_id) });
        let fields = [
            ("new_email", &self.email),
            ("new_external_id", &self.external_id),
            ("new_given_name", &self.given_name),
            ("new_surname", &self.surname),
            ("new_persistent_id", &self.persistent_id),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                arg[name] = json!(v);
            }
        }
        arg
    }

    /// Only the fields that differ from `member` (its `members/get_info_v2` info).
    pub(crate) fn differing_from(&self, member: &Value) -> Profile {
        let keep = |want: &Option<String>, key: &str| {
            want.clone().filter(|w| member.get(key).and_then(Value::as_str).unwrap_or("") != w)
        };
        Profile {
            email: keep(&self.email, EMAIL),
            external_id: keep(&self.external_id, EXTERNAL_ID),
            given_name: keep(&self.given_name, GIVEN_NAME),
            surname: keep(&self.surname, SURNAME),
            persistent_id: keep(&self.persistent_id, PERSISTENT_ID),
        }
    }
}

/// What the engine asks of a member: the profile, the role and the switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) profile: Profile,
    pub(crate) role: Option<Role>,
    pub(crate) active: Option<bool>,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// Applies `value` to `attr` (`None` removes it).
    fn set(&mut self, attr: &str, value: Option<&Value>) -> Result<(), ConnectorError> {
        let text = match value {
            Some(v) => text_of(attr, v)?,
            None => None,
        };
        let removed = text.is_none();
        let text = text.unwrap_or_default();
        match attr {
            EMAIL if removed => return Err(refused(attr, "a Dropbox member must keep an email".into())),
            EMAIL => self.profile.email = Some(text),
            EXTERNAL_ID => self.profile.external_id = Some(text),
            GIVEN_NAME => self.profile.given_name = Some(text),
            SURNAME => self.profile.surname = Some(text),
            PERSISTENT_ID => self.profile.persistent_id = Some(text),
            ROLE => self.role = Some(Role::parse(&text)),
            ACTIVE if removed => {}
            ACTIVE => {
                self.active =
                    Some(parse_bool(&text).ok_or_else(|| refused(attr, format!("{text:?} is not true or false")))?)
            }
            other => {
                return Err(ConnectorError::Config {
                    message: format!(
                        "the Dropbox connector has no attribute {other:?}: map to one of {}",
                        ATTRIBUTES.join(", ")
                    ),
                })
            }
        }
        Ok(())
    }

    /// The changes of create's (attribute, value) pairs.
    pub(crate) fn from_attrs(attrs: &[(String, Value)]) -> Result<Changes, ConnectorError> {
        let mut changes = Changes::default();
        for (attr, value) in attrs {
            changes.set(attr, (!value.is_null()).then_some(value))?;
        }
        Ok(changes)
    }

    /// The changes of update's PATCH operations: `add` and `replace` set,
    /// `remove` clears (a plain member for `role`, an empty name or id).
    pub(crate) fn from_ops(ops: &[PatchOperation]) -> Result<Changes, ConnectorError> {
        let mut changes = Changes::default();
        for op in ops {
            match (&op.path, op.op) {
                (Some(path), PatchOp::Remove) => changes.set(path, None)?,
                (Some(path), _) => changes.set(path, op.value.as_ref().filter(|v| !v.is_null()))?,
                (None, PatchOp::Remove) => {
                    return Err(refused("(no path)", "a member cannot be removed by PATCH: delete it".into()))
                }
                (None, _) => {
                    let Some(Value::Object(fields)) = &op.value else {
                        return Err(refused("(no path)", "a PATCH without path needs an object value".into()));
                    };
                    for (attr, value) in fields {
                        changes.set(attr, (!value.is_null()).then_some(value))?;
                    }
                }
            }
        }
        Ok(changes)
    }
}

fn refused(attr: &str, why: String) -> ConnectorError {
    ConnectorError::Permanent { status: 0, scim_type: None, app_message: format!("{attr}: {why}") }
}

/// A value as text: strings as they are, numbers and booleans printed, a
/// one-element list as its element; `None` for an empty list.
fn text_of(attr: &str, value: &Value) -> Result<Option<String>, ConnectorError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Array(items) if items.is_empty() => Ok(None),
        Value::Array(items) if items.len() == 1 => text_of(attr, &items[0]),
        _ => Err(refused(attr, format!("expected a single value, got {value}"))),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The `UserSelectorArg` of a team member id.
pub(crate) fn user_selector(team_member_id: &str) -> Value {
    json!({ ".tag": "team_member_id", "team_member_id": team_member_id })
}

/// The member status `.tag` of a member info.
pub(crate) fn status(info: &Value) -> &str {
    info.pointer("/profile/status/.tag").and_then(Value::as_str).unwrap_or("")
}

/// A `TeamMemberInfoV2` (possibly inside a tagged union) as a target object:
/// the info as Dropbox gave it, plus the flat keys the engine reads back
/// (`email`, `external_id`, `given_name`, `surname`, `persistent_id`,
/// `role`, `status` and `active`, which is true for active and invited members).
pub(crate) fn to_object(mut info: Value) -> Option<TargetObject> {
    let profile = info.get("profile")?;
    let id = profile.get("team_member_id").and_then(Value::as_str).filter(|s| !s.is_empty())?.to_string();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| json!(s)).unwrap_or(Value::Null);
    let role = info
        .get("roles")
        .and_then(Value::as_array)
        .and_then(|roles| roles.first())
        .and_then(|r| r.get("role_id"))
        .and_then(Value::as_str)
        .map_or(Role::Member, |id| Role::Admin(id.to_string()));
    let status = status(&info).to_string();
    let mut flat = Map::new();
    flat.insert(EMAIL.into(), text(profile.get("email")));
    flat.insert(EXTERNAL_ID.into(), text(profile.get("external_id")));
    flat.insert(GIVEN_NAME.into(), text(profile.pointer("/name/given_name")));
    flat.insert(SURNAME.into(), text(profile.pointer("/name/surname")));
    flat.insert(PERSISTENT_ID.into(), text(profile.get("persistent_id")));
    flat.insert(ROLE.into(), json!(role.value()));
    flat.insert(ACTIVE.into(), json!(matches!(status.as_str(), "active" | "invited")));
    flat.insert("status".into(), json!(status));
    let object = info.as_object_mut()?;
    object.remove(".tag");
    object.extend(flat);
    Some(TargetObject { id, resource: info })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(op: PatchOp, path: &str, value: Option<Value>) -> PatchOperation {
        PatchOperation::new(op, path, value)
    }

    fn check(ops: &[PatchOperation], want: Result<Changes, &str>) {
        let got = Changes::from_ops(ops);
        match want {
            Ok(w) => assert_eq!(got, Ok(w), "{ops:?}"),
            Err(needle) => assert!(got.as_ref().is_err_and(|e| e.to_string().contains(needle)), "{ops:?}: {got:?}"),
        }
    }

    #[test]
    fn translates_operations() {
        let profile = |surname: Option<&str>| Profile { surname: surname.map(str::to_string), ..Profile::default() };
        let changes = |profile: Profile, role: Option<Role>, active: Option<bool>| Changes { profile, role, active };
        let s = |v: &str| Some(json!(v));
        use PatchOp::*;
        check(&[op(Replace, SURNAME, s("Lovelace"))], Ok(changes(profile(Some("Lovelace")), None, None)));
        check(&[op(Remove, SURNAME, None)], Ok(changes(profile(Some("")), None, None)));
        check(&[op(Replace, ACTIVE, Some(json!(false)))], Ok(changes(Profile::default(), None, Some(false))));
        check(&[op(Replace, ACTIVE, s("True"))], Ok(changes(Profile::default(), None, Some(true))));
        check(&[op(Replace, ROLE, s("member"))], Ok(changes(Profile::default(), Some(Role::Member), None)));
        check(&[op(Remove, ROLE, None)], Ok(changes(Profile::default(), Some(Role::Member), None)));
        check(
            &[op(Add, ROLE, s("pid_dbtmr:1"))],
            Ok(changes(Profile::default(), Some(Role::Admin("pid_dbtmr:1".into())), None)),
        );
        check(
            &[PatchOperation { op: Replace, path: None, value: Some(json!({ "surname": "L", "active": "false" })) }],
            Ok(changes(profile(Some("L")), None, Some(false))),
        );
        check(&[op(Remove, EMAIL, None)], Err("must keep an email"));
        check(&[op(Replace, ACTIVE, s("maybe"))], Err("not true or false"));
        check(&[op(Replace, "userName", s("x"))], Err("no attribute \"userName\""));
        check(&[op(Replace, GIVEN_NAME, Some(json!({ "a": 1 })))], Err("single value"));
    }

    #[test]
    fn flattens_member_info() {
        let info = json!({
            ".tag": "member_info",
            "profile": {
                "team_member_id": "dbmid:1",
                "email": "ann@x.com",
                "status": { ".tag": "invited" },
                "name": { "given_name": "Ann", "surname": "Lee" },
                "external_id": "e1",
            },
            "roles": [{ "role_id": "pid_dbtmr:2", "name": "Support admin" }],
        });
        let Some(o) = to_object(info) else { panic!("no object") };
        assert_eq!(o.id, "dbmid:1");
        for (key, want) in [
            ("email", json!("ann@x.com")),
            ("external_id", json!("e1")),
            ("given_name", json!("Ann")),
            ("surname", json!("Lee")),
            ("persistent_id", Value::Null),
            ("role", json!("pid_dbtmr:2")),
            ("active", json!(true)),
            ("status", json!("invited")),
        ] {
            assert_eq!(o.resource[key], want, "{key}");
        }
        assert!(o.resource.get(".tag").is_none());
        assert!(to_object(json!({ "profile": {} })).is_none());
    }

    #[test]
    fn keeps_only_differing_profile_fields() {
        let member = json!({ "email": "a@x.com", "given_name": "Ann", "surname": "Lee", "external_id": null });
        let wanted = Profile {
            email: Some("a@x.com".into()),
            given_name: Some("Anne".into()),
            surname: Some("Lee".into()),
            external_id: Some("e1".into()),
            persistent_id: None,
        };
        let want = Profile { given_name: Some("Anne".into()), external_id: Some("e1".into()), ..Profile::default() };
        assert_eq!(wanted.differing_from(&member), want);
    }
}
