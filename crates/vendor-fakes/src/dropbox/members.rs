//! The team members routes of the fake, with the argument checks and the
//! endpoint errors Dropbox documents for each (`user_not_found`,
//! `user_not_in_team`, `suspend_inactive_user`, `user_already_on_team` in an
//! add result, ...). Each takes the state and the JSON argument and answers
//! the JSON result or an [`RpcError`].

use chrono::Utc;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::rpc::{RpcError, RpcResult};
use super::state::{
    chrono_duration, secret, DropboxState, FakeJob, FakeMember, FakeStatus, ListCursor, TEAM_ADMIN_ROLE,
};

/// Most members one `members/add_v2` call takes.
const MAX_ADD: usize = 20;

fn bad(reason: impl Into<String>) -> RpcError {
    RpcError::BadInput(reason.into())
}

fn object(arg: &Value) -> Result<&Map<String, Value>, RpcError> {
    arg.as_object().ok_or_else(|| bad("expected an object"))
}

fn opt_str<'a>(o: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, RpcError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{field}: expected a string"))),
    }
}

fn req_str<'a>(o: &'a Map<String, Value>, field: &str) -> Result<&'a str, RpcError> {
    opt_str(o, field)?.ok_or_else(|| bad(format!("missing required field '{field}'")))
}

fn opt_bool(o: &Map<String, Value>, field: &str, default: bool) -> Result<bool, RpcError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(format!("{field}: expected a boolean"))),
    }
}

/// A role list (`role_ids`, `new_roles`): at most one role id.
fn role_list(o: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, RpcError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) if items.len() <= 1 => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(format!("{field}: expected strings"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(Value::Array(_)) => Err(bad(format!("{field}: at most 1 item"))),
        Some(_) => Err(bad(format!("{field}: expected a list"))),
    }
}

fn valid_email(email: &str) -> bool {
    email.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
}

/// Which member a `UserSelectorArg` names.
enum Selector {
    TeamMemberId(String),
    Email(String),
    ExternalId(String),
}

impl Selector {
    fn parse(v: &Value) -> Result<Selector, RpcError> {
        let o = v.as_object().ok_or_else(|| bad("user: expected a UserSelectorArg"))?;
        let tag = req_str(o, ".tag")?;
        match tag {
            "team_member_id" => Ok(Selector::TeamMemberId(req_str(o, tag)?.into())),
            "email" => Ok(Selector::Email(req_str(o, tag)?.into())),
            "external_id" => Ok(Selector::ExternalId(req_str(o, tag)?.into())),
            other => Err(bad(format!("user: unknown tag {other:?}"))),
        }
    }

    fn value(&self) -> &str {
        match self {
            Selector::TeamMemberId(v) | Selector::Email(v) | Selector::ExternalId(v) => v,
        }
    }

    fn find(&self, st: &DropboxState) -> Option<usize> {
        st.team.members.iter().position(|m| match self {
            Selector::TeamMemberId(id) => &m.team_member_id == id,
            Selector::Email(e) => m.email.eq_ignore_ascii_case(e),
            Selector::ExternalId(x) => m.external_id.as_deref() == Some(x.as_str()),
        })
    }
}

/// The member the `user` field names: `user_not_found` if none.
fn user(st: &DropboxState, o: &Map<String, Value>) -> Result<usize, RpcError> {
    let selector = Selector::parse(o.get("user").unwrap_or(&Value::Null))?;
    selector.find(st).ok_or(RpcError::Endpoint("user_not_found"))
}

/// Like [`user`], refusing removed members with `user_not_in_team`.
fn user_on_team(st: &DropboxState, o: &Map<String, Value>) -> Result<usize, RpcError> {
    let i = user(st, o)?;
    if st.team.members[i].status == FakeStatus::Removed {
        return Err(RpcError::Endpoint("user_not_in_team"));
    }
    Ok(i)
}

fn new_job(st: &mut DropboxState, result: Value) -> Value {
    let id = format!("dbjid:{}", Uuid::new_v4().simple());
    st.jobs.insert(id.clone(), FakeJob { polls_left: st.job_polls_in_progress, result });
    json!({ ".tag": "async_job_id", "async_job_id": id })
}

fn page(st: &mut DropboxState, cursor: ListCursor) -> Value {
    let visible: Vec<&FakeMember> =
        st.team.members.iter().filter(|m| cursor.include_removed || m.status != FakeStatus::Removed).collect();
    let end = (cursor.offset + cursor.limit).min(visible.len());
    let start = cursor.offset.min(end);
    let members: Vec<Value> = visible[start..end].iter().map(|m| st.member_info(m)).collect();
    let has_more = end < visible.len();
    let next = secret("cursor");
    st.cursors.insert(next.clone(), ListCursor { offset: end, ..cursor });
    json!({ "members": members, "cursor": next, "has_more": has_more })
}

/// `team/members/list_v2`.
pub(crate) fn list(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let empty = Map::new();
    let o = if arg.is_null() { &empty } else { object(arg)? };
    let limit = match o.get("limit") {
        None | Some(Value::Null) => 1000,
        Some(v) => v.as_u64().filter(|n| (1..=1000).contains(n)).ok_or_else(|| bad("limit: 1 to 1000"))?,
    };
    let include_removed = opt_bool(o, "include_removed", false)?;
    let limit = usize::try_from(limit).map_err(|_| bad("limit: 1 to 1000"))?;
    Ok(page(st, ListCursor { offset: 0, limit, include_removed }))
}

/// `team/members/list/continue_v2`.
pub(crate) fn list_continue(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let cursor = req_str(object(arg)?, "cursor")?;
    let cursor = st.cursors.get(cursor).cloned().ok_or(RpcError::Endpoint("invalid_cursor"))?;
    Ok(page(st, cursor))
}

/// `team/members/get_info_v2`: removed members are answered too, with their status.
pub(crate) fn get_info(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let members =
        object(arg)?.get("members").and_then(Value::as_array).ok_or_else(|| bad("members: expected a list"))?;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let selector = Selector::parse(m)?;
        out.push(match selector.find(st) {
            Some(i) => {
                let mut info = st.member_info(&st.team.members[i]);
                info[".tag"] = json!("member_info");
                info
            }
            None => json!({ ".tag": "id_not_found", "id_not_found": selector.value() }),
        });
    }
    Ok(json!({ "members_info": out }))
}

/// Adds one member; the `MemberAddV2Result` for it.
fn add_one(st: &mut DropboxState, o: &Map<String, Value>) -> Result<Value, RpcError> {
    let email = req_str(o, "member_email")?;
    if !valid_email(email) {
        return Err(bad(format!("member_email: {email:?} is not an email address")));
    }
    let external_id = opt_str(o, "member_external_id")?;
    let persistent_id = opt_str(o, "member_persistent_id")?;
    let role_ids = role_list(o, "role_ids")?.unwrap_or_default();
    if let Some(unknown) = role_ids.iter().find(|r| st.role(r).is_none()) {
        return Err(bad(format!("role_ids: no role {unknown:?} on this team")));
    }
    let failure = |tag: &str| json!({ ".tag": tag, tag: email });
    if st.member(email).is_some() {
        return Ok(failure("user_already_on_team"));
    }
    if external_id.is_some_and(|x| st.team.members.iter().any(|m| m.external_id.as_deref() == Some(x))) {
        return Ok(failure("duplicate_external_member_id"));
    }
    if persistent_id.is_some_and(|p| st.team.members.iter().any(|m| m.persistent_id.as_deref() == Some(p))) {
        return Ok(failure("duplicate_member_persistent_id"));
    }
    if st.used_licenses() >= st.team.licenses {
        return Ok(failure("team_license_limit"));
    }
    let mut member = FakeMember::invited(
        email,
        opt_str(o, "member_given_name")?.unwrap_or(""),
        opt_str(o, "member_surname")?.unwrap_or(""),
    );
    member.external_id = external_id.map(str::to_string);
    member.persistent_id = persistent_id.map(str::to_string);
    member.role_ids = role_ids;
    let mut info = st.member_info(&member);
    info[".tag"] = json!("success");
    st.team.members.push(member);
    Ok(info)
}

/// `team/members/add_v2`: members are added at once; the answer is the
/// results, or an async job id for large batches or when forced.
pub(crate) fn add(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let o = object(arg)?;
    let new_members =
        o.get("new_members").and_then(Value::as_array).ok_or_else(|| bad("new_members: expected a list"))?;
    if new_members.is_empty() || new_members.len() > MAX_ADD {
        return Err(bad(format!("new_members: 1 to {MAX_ADD} members")));
    }
    let force_async = opt_bool(o, "force_async", false)?;
    let mut results = Vec::with_capacity(new_members.len());
    for m in new_members {
        results.push(add_one(st, object(m)?)?);
    }
    let complete = json!({ ".tag": "complete", "complete": results });
    if force_async || st.force_async || new_members.len() > st.async_above {
        return Ok(new_job(st, complete));
    }
    Ok(complete)
}

/// `team/members/add/job_status/get_v2` and `team/members/remove/job_status/get`.
pub(crate) fn job_status(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let id = req_str(object(arg)?, "async_job_id")?;
    let job = st.jobs.get_mut(id).ok_or(RpcError::Endpoint("invalid_async_job_id"))?;
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return Ok(json!({ ".tag": "in_progress" }));
    }
    Ok(job.result.clone())
}

/// `team/members/set_profile_v2`.
pub(crate) fn set_profile(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let o = object(arg)?;
    let i = user(st, o)?;
    let new_email = opt_str(o, "new_email")?;
    let new_external_id = opt_str(o, "new_external_id")?;
    let new_given_name = opt_str(o, "new_given_name")?;
    let new_surname = opt_str(o, "new_surname")?;
    let new_persistent_id = opt_str(o, "new_persistent_id")?;
    let by_external_id = o.get("user").and_then(|u| u.get(".tag")).and_then(Value::as_str) == Some("external_id");
    if by_external_id && new_external_id.is_some() {
        return Err(RpcError::Endpoint("external_id_and_new_external_id_unsafe"));
    }
    if [new_email, new_external_id, new_given_name, new_surname, new_persistent_id].iter().all(Option::is_none) {
        return Err(RpcError::Endpoint("no_new_data_specified"));
    }
    if st.team.members[i].status == FakeStatus::Removed {
        return Err(RpcError::Endpoint("set_profile_disallowed"));
    }
    let others: Vec<&FakeMember> =
        st.team.members.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, m)| m).collect();
    if let Some(email) = new_email {
        if email.is_empty() {
            return Err(RpcError::Endpoint("param_cannot_be_empty"));
        }
        if !valid_email(email) {
            return Err(bad(format!("new_email: {email:?} is not an email address")));
        }
        if others.iter().any(|m| m.email.eq_ignore_ascii_case(email)) {
            return Err(RpcError::Endpoint("email_reserved_for_other_user"));
        }
    }
    if new_external_id.is_some_and(|x| !x.is_empty() && others.iter().any(|m| m.external_id.as_deref() == Some(x))) {
        return Err(RpcError::Endpoint("external_id_used_by_other_user"));
    }
    if new_persistent_id.is_some_and(|p| !p.is_empty() && others.iter().any(|m| m.persistent_id.as_deref() == Some(p)))
    {
        return Err(RpcError::Endpoint("persistent_id_used_by_other_user"));
    }
    let m = &mut st.team.members[i];
    if let Some(v) = new_email {
        m.email = v.into();
    }
    if let Some(v) = new_external_id {
        m.external_id = (!v.is_empty()).then(|| v.to_string());
    }
    if let Some(v) = new_given_name {
        m.given_name = v.into();
    }
    if let Some(v) = new_surname {
        m.surname = v.into();
    }
    if let Some(v) = new_persistent_id {
        m.persistent_id = (!v.is_empty()).then(|| v.to_string());
    }
    let info = st.member_info(&st.team.members[i]);
    Ok(json!({ "member_info": info }))
}

fn is_last_team_admin(st: &DropboxState, i: usize) -> bool {
    let m = &st.team.members[i];
    m.status == FakeStatus::Active && m.role_ids.iter().any(|r| r == TEAM_ADMIN_ROLE) && st.team_admins() <= 1
}

/// `team/members/suspend`: only an active member can be suspended.
pub(crate) fn suspend(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let o = object(arg)?;
    opt_bool(o, "wipe_data", true)?;
    let i = user_on_team(st, o)?;
    if st.team.members[i].status != FakeStatus::Active {
        return Err(RpcError::Endpoint("suspend_inactive_user"));
    }
    if is_last_team_admin(st, i) {
        return Err(RpcError::Endpoint("suspend_last_admin"));
    }
    let m = &mut st.team.members[i];
    m.status = FakeStatus::Suspended;
    m.suspended_on = Some(Utc::now());
    Ok(Value::Null)
}

/// `team/members/unsuspend`.
pub(crate) fn unsuspend(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let i = user_on_team(st, object(arg)?)?;
    let m = &mut st.team.members[i];
    if m.status != FakeStatus::Suspended {
        return Err(RpcError::Endpoint("unsuspend_non_suspended_member"));
    }
    m.status = FakeStatus::Active;
    m.suspended_on = None;
    Ok(Value::Null)
}

/// `team/members/remove`: an invited member's invitation is cancelled (the
/// member is gone); anyone else becomes removed and recoverable for the
/// recovery window.
pub(crate) fn remove(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let o = object(arg)?;
    opt_bool(o, "wipe_data", true)?;
    let keep_account = opt_bool(o, "keep_account", false)?;
    let i = user_on_team(st, o)?;
    if is_last_team_admin(st, i) {
        return Err(RpcError::Endpoint("remove_last_admin"));
    }
    if st.team.members[i].status == FakeStatus::Invited {
        if keep_account {
            return Err(RpcError::Endpoint("cannot_keep_invited_user_account"));
        }
        st.team.members.remove(i);
    } else {
        let until = Utc::now() + chrono_duration(st.recovery_window);
        let m = &mut st.team.members[i];
        m.status = FakeStatus::Removed;
        m.recoverable_until = Some(until);
    }
    let complete = json!({ ".tag": "complete" });
    if st.force_async {
        return Ok(new_job(st, complete));
    }
    Ok(complete)
}

/// `team/members/recover`: a removed member comes back as they were.
pub(crate) fn recover(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let i = user(st, object(arg)?)?;
    if st.team.members[i].status != FakeStatus::Removed {
        return Err(RpcError::Endpoint("user_unrecoverable"));
    }
    if st.used_licenses() >= st.team.licenses {
        return Err(RpcError::Endpoint("team_license_limit"));
    }
    let m = &mut st.team.members[i];
    m.status = if m.joined_on.is_some() { FakeStatus::Active } else { FakeStatus::Invited };
    m.recoverable_until = None;
    m.suspended_on = None;
    Ok(Value::Null)
}

/// `team/members/get_available_team_member_roles`.
pub(crate) fn available_roles(st: &DropboxState) -> Value {
    let roles: Vec<Value> = st.team.roles.iter().map(DropboxState::role_json).collect();
    json!({ "roles": roles })
}

/// `team/members/set_admin_permissions_v2`: an empty list makes a plain member.
pub(crate) fn set_admin_permissions(st: &mut DropboxState, arg: &Value) -> RpcResult {
    let o = object(arg)?;
    let new_roles = role_list(o, "new_roles")?.unwrap_or_default();
    let i = user_on_team(st, o)?;
    if st.team.members[i].status == FakeStatus::Suspended {
        return Err(RpcError::Endpoint("cannot_set_permissions"));
    }
    if new_roles.iter().any(|r| st.role(r).is_none()) {
        return Err(RpcError::Endpoint("role_not_found"));
    }
    if is_last_team_admin(st, i) && !new_roles.iter().any(|r| r == TEAM_ADMIN_ROLE) {
        return Err(RpcError::Endpoint("last_admin"));
    }
    st.team.members[i].role_ids = new_roles;
    let m = &st.team.members[i];
    let roles: Vec<Value> = m.role_ids.iter().filter_map(|r| st.role(r)).map(DropboxState::role_json).collect();
    Ok(json!({ "team_member_id": m.team_member_id, "roles": roles }))
}
