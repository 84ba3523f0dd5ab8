//! The Dropbox for Business connector: provisions team members through
//! Dropbox's API v2 team routes, authorized once by a team admin through
//! OAuth 2 ([`authorize_url`], [`exchange_code`]); the connector keeps only
//! the refresh token and fetches access tokens itself.
//!
//! Target attributes (the Dropbox template's): [`EMAIL`] (matching, required
//! on create), [`EXTERNAL_ID`] (matching), [`GIVEN_NAME`], [`SURNAME`],
//! [`PERSISTENT_ID`], [`ROLE`] (a role id from `app_roles`, or
//! [`MEMBER_ROLE`]) and [`ACTIVE`], the enable/disable switch. Object ids are
//! `team_member_id`s; a resource is Dropbox's member info plus those keys
//! flat, and `status` (`active`, `invited`, `suspended`, `removed`).
//!
//! Dropbox's member lifecycle shows through in three places:
//! - a member removed within Dropbox's recovery window is recovered
//!   (`members/recover`) when roster creates them again, not added twice;
//! - a member who was invited and never joined cannot be suspended: disabling
//!   one cancels the invitation (`members/remove`), which
//!   [`Connector::take_note`] reports and after which `get` finds no member;
//! - groups are not provisioned: group calls fail with `Config`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use roster_scim::{PatchOperation, ResourceKind};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::{Connector, ConnectorError, RemoteRole, TargetObject, TargetPage};

mod member;
mod oauth;
mod rpc;

use member::{status, to_object, user_selector, Changes, Role};
pub use member::{ACTIVE, ATTRIBUTES, EMAIL, EXTERNAL_ID, GIVEN_NAME, MEMBER_ROLE, PERSISTENT_ID, ROLE, SURNAME};
pub use oauth::{authorize_url, exchange_code, DropboxApp, DropboxTokens, REQUIRED_SCOPES};
use rpc::Rpc;

/// Most notes kept for the engine to take; later ones are only logged.
const MAX_NOTES: usize = 10_000;
/// Most pages read when looking members up by an attribute Dropbox cannot search.
const MAX_SCAN_PAGES: usize = 1_000;
/// The longest wait between two polls of an asynchronous job.
const MAX_POLL_WAIT: Duration = Duration::from_secs(2);

/// A Dropbox team, reached with a team admin's authorization.
#[derive(Debug)]
pub struct DropboxConnector {
    rpc: Rpc,
    send_welcome_email: bool,
    job_poll_interval: Duration,
    job_poll_attempts: u32,
    notes: Mutex<HashMap<String, String>>,
}

fn unexpected(route: &str, what: &str) -> ConnectorError {
    ConnectorError::Permanent {
        status: 200,
        scim_type: None,
        app_message: format!("Dropbox's answer to {route} has no {what}"),
    }
}

fn has_tag(e: &ConnectorError, tag: &str) -> bool {
    matches!(e, ConnectorError::Permanent { scim_type: Some(t), .. } if t == tag)
}

fn members_only(kind: ResourceKind) -> Result<(), ConnectorError> {
    match kind {
        ResourceKind::User => Ok(()),
        ResourceKind::Group => Err(groups_refused()),
    }
}

fn groups_refused() -> ConnectorError {
    ConnectorError::Config {
        message: "roster provisions Dropbox team members only, not groups: turn the group mapping off for this app"
            .into(),
    }
}

impl DropboxConnector {
    /// A connector for the team that authorized `refresh_token`; each request
    /// is limited to `timeout`. Welcome emails are sent to new members; jobs
    /// are polled every 500 ms (doubling up to 2 s), 30 times at most.
    pub fn new(
        app: DropboxApp,
        refresh_token: impl Into<SecretString>,
        timeout: Duration,
    ) -> Result<Self, ConnectorError> {
        Ok(DropboxConnector {
            rpc: Rpc::new(app, refresh_token.into(), timeout)?,
            send_welcome_email: true,
            job_poll_interval: Duration::from_millis(500),
            job_poll_attempts: 30,
            notes: Mutex::new(HashMap::new()),
        })
    }

    /// Whether Dropbox emails new members an invitation (off for teams whose
    /// single sign-on announces the account itself).
    pub fn send_welcome_email(mut self, send: bool) -> Self {
        self.send_welcome_email = send;
        self
    }

    /// How asynchronous jobs (`members/add_v2` of a large batch, `members/remove`)
    /// are polled: first after `interval`, then doubling up to 2 s, `attempts` times.
    pub fn job_polling(mut self, interval: Duration, attempts: u32) -> Self {
        self.job_poll_interval = interval;
        self.job_poll_attempts = attempts.max(1);
        self
    }

    fn note(&self, id: &str, text: String) {
        tracing::info!(team_member_id = id, "{text}");
        let mut notes = self.notes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if notes.len() < MAX_NOTES || notes.contains_key(id) {
            notes.insert(id.to_string(), text);
        }
    }

    /// The member info (`member_info` tag included) the selector names, removed members too.
    async fn member_info(&self, selector: Value) -> Result<Option<Value>, ConnectorError> {
        const ROUTE: &str = "team/members/get_info_v2";
        let answer = self.rpc.call(ROUTE, &json!({ "members": [selector] })).await?;
        let item = answer.get("members_info").and_then(Value::as_array).and_then(|items| items.first()).cloned();
        let Some(item) = item else { return Err(unexpected(ROUTE, "members_info")) };
        match item.get(".tag").and_then(Value::as_str) {
            Some("member_info") => Ok(Some(item)),
            Some("id_not_found") => Ok(None),
            _ => Err(unexpected(ROUTE, "member_info or id_not_found")),
        }
    }

    /// Polls `route` for job `id` until it completes; its final answer.
    async fn wait_for_job(&self, route: &str, id: &str) -> Result<Value, ConnectorError> {
        let mut wait = self.job_poll_interval;
        for _ in 0..self.job_poll_attempts {
            tokio::time::sleep(wait).await;
            let answer = self.rpc.call(route, &json!({ "async_job_id": id })).await?;
            match answer.get(".tag").and_then(Value::as_str) {
                Some("in_progress") => wait = (wait * 2).min(MAX_POLL_WAIT),
                Some("complete") => return Ok(answer),
                Some("failed") => {
                    let why = answer.get("failed").and_then(Value::as_str).unwrap_or("no reason given");
                    return Err(ConnectorError::Permanent {
                        status: 200,
                        scim_type: Some("failed".into()),
                        app_message: format!("Dropbox job {id} failed: {why}"),
                    });
                }
                _ => return Err(unexpected(route, "job status")),
            }
        }
        Err(ConnectorError::Transient {
            message: format!("Dropbox had not finished job {id} after {} polls of {route}", self.job_poll_attempts),
        })
    }

    /// The completed answer of a call that may launch a job (`async_job_id`).
    async fn completed(&self, route: &str, poll_route: &str, launch: Value) -> Result<Value, ConnectorError> {
        match launch.get(".tag").and_then(Value::as_str) {
            Some("complete") => Ok(launch),
            Some("async_job_id") => {
                let id =
                    launch.get("async_job_id").and_then(Value::as_str).ok_or_else(|| unexpected(route, "job id"))?;
                self.wait_for_job(poll_route, id).await
            }
            _ => Err(unexpected(route, "complete or async_job_id")),
        }
    }

    /// What `create` asks of Dropbox for `attrs`: the changes, the email and
    /// the `new_members` entry of `team/members/add_v2`.
    fn new_member(&self, attrs: &[(String, Value)]) -> Result<(Changes, String, Value), ConnectorError> {
        let changes = Changes::from_attrs(attrs)?;
        let refuse = |why: &str| ConnectorError::Permanent { status: 0, scim_type: None, app_message: why.into() };
        if changes.active == Some(false) {
            return Err(refuse("a Dropbox member cannot be created suspended: map active to true on create"));
        }
        let Some(email) = changes.profile.email.clone().filter(|e| !e.trim().is_empty()) else {
            return Err(refuse("a Dropbox member needs an email"));
        };
        let mut new_member = json!({ "member_email": email, "send_welcome_email": self.send_welcome_email });
        let p = &changes.profile;
        let optional = [
            ("member_given_name", &p.given_name),
            ("member_surname", &p.surname),
            ("member_external_id", &p.external_id),
            ("member_persistent_id", &p.persistent_id),
        ];
        for (field, value) in optional {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                new_member[field] = json!(v);
            }
        }
        if let Some(role @ Role::Admin(_)) = &changes.role {
            new_member["role_ids"] = json!(role.ids());
        }
        Ok((changes, email, new_member))
    }

    /// The calls `write` makes, in the order `create`, `update` and `delete` make them.
    fn describe_write(&self, write: &crate::Write<'_>) -> Result<Vec<crate::PlannedRequest>, ConnectorError> {
        use crate::{PlannedRequest, Write};
        let call = |route: &str, arg: Value| PlannedRequest::new("POST", format!("/2/{route}"), Some(arg));
        Ok(match *write {
            Write::Create { kind, attrs } => {
                members_only(kind)?;
                let (_, _, new_member) = self.new_member(attrs)?;
                vec![call("team/members/add_v2", json!({ "new_members": [new_member], "force_async": false }))]
            }
            Write::Update { kind, id, ops, .. } => {
                members_only(kind)?;
                let changes = Changes::from_ops(ops)?;
                let mut out = Vec::new();
                if changes.active == Some(true) {
                    out.push(call("team/members/unsuspend", json!({ "user": user_selector(id) })));
                }
                if !changes.profile.is_empty() {
                    out.push(call("team/members/set_profile_v2", changes.profile.set_profile_arg(id)));
                }
                if let Some(role) = &changes.role {
                    let arg = json!({ "user": user_selector(id), "new_roles": role.ids() });
                    out.push(call("team/members/set_admin_permissions_v2", arg));
                }
                if changes.active == Some(false) {
                    out.push(call("team/members/suspend", json!({ "user": user_selector(id), "wipe_data": false })));
                }
                out
            }
            Write::Delete { kind, id } => {
                members_only(kind)?;
                let arg = json!({ "user": user_selector(id), "wipe_data": false, "keep_account": false });
                vec![call("team/members/remove", arg)]
            }
            Write::Members { .. } => return Err(groups_refused()),
        })
    }

    async fn set_role(&self, id: &str, role: &Role) -> Result<(), ConnectorError> {
        let arg = json!({ "user": user_selector(id), "new_roles": role.ids() });
        self.rpc.call("team/members/set_admin_permissions_v2", &arg).await.map(drop)
    }

    async fn remove(&self, id: &str) -> Result<(), ConnectorError> {
        // Data on the member's devices is kept and the account is not turned
        // into a Basic one: roster deprovisions, a person decides about data.
        let arg = json!({ "user": user_selector(id), "wipe_data": false, "keep_account": false });
        let launch = self.rpc.call("team/members/remove", &arg).await?;
        self.completed("team/members/remove", "team/members/remove/job_status/get", launch).await.map(drop)
    }

    async fn enable(&self, id: &str) -> Result<(), ConnectorError> {
        match self.rpc.call("team/members/unsuspend", &json!({ "user": user_selector(id) })).await {
            // Active or invited already: nothing to do.
            Err(e) if has_tag(&e, "unsuspend_non_suspended_member") => Ok(()),
            r => r.map(drop),
        }
    }

    /// Suspends an active member; cancels the invitation of one who never joined.
    async fn disable(&self, id: &str) -> Result<(), ConnectorError> {
        let arg = json!({ "user": user_selector(id), "wipe_data": false });
        let refused = match self.rpc.call("team/members/suspend", &arg).await {
            Err(e) if has_tag(&e, "suspend_inactive_user") => e,
            r => return r.map(drop),
        };
        let info = self.member_info(user_selector(id)).await?.ok_or(ConnectorError::NotFound)?;
        match status(&info) {
            "suspended" => Ok(()),
            "invited" => {
                self.remove(id).await?;
                let email = info.pointer("/profile/email").and_then(Value::as_str).unwrap_or(id);
                self.note(
                    id,
                    format!(
                        "{email} had not joined the Dropbox team and Dropbox cannot suspend an invited member: \
                         the invitation was cancelled (enabling the user again sends a new one)"
                    ),
                );
                Ok(())
            }
            _ => Err(refused),
        }
    }

    /// Brings back the removed member with `email` (Dropbox refuses to add a
    /// member it can still recover), then applies what differs.
    async fn recover_or_conflict(&self, email: &str, changes: &Changes) -> Result<TargetObject, ConnectorError> {
        let conflict = || ConnectorError::Conflict {
            app_message: format!("user_already_on_team: {email} is already a member of the team or invited to it"),
        };
        let info = self.member_info(json!({ ".tag": "email", "email": email })).await?;
        let Some(removed) = info.filter(|i| status(i) == "removed").and_then(to_object) else {
            return Err(conflict());
        };
        let id = removed.id.clone();
        match self.rpc.call("team/members/recover", &json!({ "user": user_selector(&id) })).await {
            Err(e) if has_tag(&e, "user_unrecoverable") => {
                return Err(ConnectorError::Permanent {
                    status: 409,
                    scim_type: Some("user_unrecoverable".into()),
                    app_message: format!(
                        "{email} was removed from the team and can no longer be recovered, and Dropbox does not \
                         accept the address again yet"
                    ),
                })
            }
            r => r.map(drop)?,
        }
        self.note(
            &id,
            format!("{email} had been removed from the team recently: recovered (members/recover) instead of added"),
        );
        let profile = changes.profile.differing_from(&removed.resource);
        if !profile.is_empty() {
            self.rpc.call("team/members/set_profile_v2", &profile.set_profile_arg(&id)).await?;
        }
        if let Some(role) = &changes.role {
            if removed.resource.get(ROLE).and_then(Value::as_str) != Some(role.value()) {
                self.set_role(&id, role).await?;
            }
        }
        self.get(ResourceKind::User, &id).await?.ok_or(ConnectorError::NotFound)
    }

    /// Members whose flat `attr` equals `value` (case-insensitively), by reading every page.
    async fn scan(&self, attr: &str, value: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_SCAN_PAGES {
            let page = self.list(ResourceKind::User, cursor.as_deref(), 1000).await?;
            found.extend(page.items.into_iter().filter(|o| match o.resource.get(attr) {
                Some(Value::String(s)) => s.eq_ignore_ascii_case(value),
                Some(Value::Bool(b)) => b.to_string().eq_ignore_ascii_case(value),
                _ => false,
            }));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(found),
            }
        }
        Err(ConnectorError::Transient { message: format!("the team has more than {MAX_SCAN_PAGES} pages of members") })
    }
}

/// Explains an add result other than success.
fn add_refused(tag: &str, email: &str) -> ConnectorError {
    let why = match tag {
        "team_license_limit" => "the team has no free license",
        "free_team_member_limit_reached" => "the team reached its free member limit",
        "user_on_another_team" => "the address belongs to a member of another Dropbox team",
        "duplicate_external_member_id" => "another member has this external_id",
        "duplicate_member_persistent_id" => "another member has this persistent_id",
        "persistent_id_disabled" => "the team does not use persistent-id single sign-on",
        _ => "Dropbox did not add the member",
    };
    ConnectorError::Permanent {
        status: 409,
        scim_type: Some(tag.into()),
        app_message: format!("{tag}: {email}: {why}"),
    }
}

#[async_trait]
impl Connector for DropboxConnector {
    async fn test_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError> {
        let as_config = |e: ConnectorError| match e {
            ConnectorError::Transient { message } => ConnectorError::Config { message },
            e => e,
        };
        let team = self.rpc.call("team/get_info", &Value::Null).await.map_err(as_config)?;
        let text = |key: &str| team.get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let name = text("name").unwrap_or_default();
        let team_id = text("team_id").unwrap_or_default();
        let used = text("num_provisioned_users").unwrap_or_else(|| "?".into());
        let licensed = text("num_licensed_users").unwrap_or_else(|| "?".into());
        match matching_attribute {
            EMAIL | EXTERNAL_ID => {
                let probe = format!("roster-probe-{:016x}@invalid.example", rand::random::<u64>());
                let found = self.find(ResourceKind::User, matching_attribute, &probe).await.map_err(as_config)?;
                if !found.is_empty() {
                    return Err(ConnectorError::Config {
                        message: format!("Dropbox found members for {matching_attribute} {probe:?}, which none has"),
                    });
                }
            }
            GIVEN_NAME | SURNAME | PERSISTENT_ID => {
                self.list(ResourceKind::User, None, 1).await.map_err(as_config)?;
            }
            other => {
                return Err(ConnectorError::Config {
                    message: format!(
                        "Dropbox members cannot be matched on {other:?}: use email or external_id (or {GIVEN_NAME}, \
                         {SURNAME}, {PERSISTENT_ID})"
                    ),
                })
            }
        }
        Ok(format!(
            "connected to the Dropbox team {name} ({team_id}), {used} of {licensed} licenses in use; looking members \
             up by {matching_attribute} works"
        ))
    }

    async fn find(&self, kind: ResourceKind, attr: &str, value: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        members_only(kind)?;
        let selector = match attr {
            EMAIL => json!({ ".tag": "email", "email": value }),
            EXTERNAL_ID => json!({ ".tag": "external_id", "external_id": value }),
            "team_member_id" | "id" => user_selector(value),
            GIVEN_NAME | SURNAME | PERSISTENT_ID | ROLE | ACTIVE | "status" => return self.scan(attr, value).await,
            other => {
                return Err(ConnectorError::Config {
                    message: format!("Dropbox members cannot be looked up by {other:?}: use email or external_id"),
                })
            }
        };
        // A removed member is no longer on the team: creating one again recovers it.
        let info = self.member_info(selector).await?;
        Ok(info.filter(|i| status(i) != "removed").and_then(to_object).into_iter().collect())
    }

    /// Dropbox's own cursor pages the listing; `count` (at most 1,000) sets the
    /// page size of the whole listing on its first page. Dropbox does not say
    /// how many members a listing has: `total` counts the page's members, plus
    /// one while more follow.
    async fn list(&self, kind: ResourceKind, cursor: Option<&str>, count: u64) -> Result<TargetPage, ConnectorError> {
        members_only(kind)?;
        let (route, answer) = match cursor {
            None => {
                let arg = json!({ "limit": count.clamp(1, 1000), "include_removed": false });
                ("team/members/list_v2", self.rpc.call("team/members/list_v2", &arg).await?)
            }
            Some(c) => {
                let arg = json!({ "cursor": c });
                ("team/members/list/continue_v2", self.rpc.call("team/members/list/continue_v2", &arg).await?)
            }
        };
        let members = answer.get("members").and_then(Value::as_array).ok_or_else(|| unexpected(route, "members"))?;
        let items: Vec<TargetObject> = members.iter().cloned().filter_map(to_object).collect();
        let has_more = answer.get("has_more").and_then(Value::as_bool).unwrap_or(false);
        let next = if has_more {
            Some(answer.get("cursor").and_then(Value::as_str).ok_or_else(|| unexpected(route, "cursor"))?.to_string())
        } else {
            None
        };
        let total = items.len() as u64 + u64::from(has_more);
        Ok(TargetPage { items, total, next })
    }

    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<TargetObject>, ConnectorError> {
        members_only(kind)?;
        Ok(self.member_info(user_selector(id)).await?.and_then(to_object))
    }

    async fn create(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError> {
        members_only(kind)?;
        let (changes, email, new_member) = self.new_member(attrs)?;
        const ROUTE: &str = "team/members/add_v2";
        let launch = self.rpc.call(ROUTE, &json!({ "new_members": [new_member], "force_async": false })).await?;
        let done = self.completed(ROUTE, "team/members/add/job_status/get_v2", launch).await?;
        let result = done.get("complete").and_then(Value::as_array).and_then(|r| r.first()).cloned();
        let Some(result) = result else { return Err(unexpected(ROUTE, "result")) };
        match result.get(".tag").and_then(Value::as_str) {
            Some("success") => to_object(result).ok_or_else(|| unexpected(ROUTE, "team_member_id")),
            Some("user_already_on_team") => self.recover_or_conflict(&email, &changes).await,
            Some(tag) => Err(add_refused(tag, &email)),
            None => Err(unexpected(ROUTE, "result tag")),
        }
    }

    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        members_only(kind)?;
        let changes = Changes::from_ops(ops)?;
        if changes.is_empty() {
            return Ok(());
        }
        // A suspended member's role cannot change: unsuspend first, suspend last.
        if changes.active == Some(true) {
            self.enable(id).await?;
        }
        if !changes.profile.is_empty() {
            self.rpc.call("team/members/set_profile_v2", &changes.profile.set_profile_arg(id)).await?;
        }
        if let Some(role) = &changes.role {
            self.set_role(id, role).await?;
        }
        if changes.active == Some(false) {
            self.disable(id).await?;
        }
        Ok(())
    }

    async fn delete(&self, kind: ResourceKind, id: &str) -> Result<(), ConnectorError> {
        members_only(kind)?;
        self.remove(id).await
    }

    async fn update_members(
        &self,
        _group_id: &str,
        _add: &[String],
        _remove: &[String],
    ) -> Result<u32, ConnectorError> {
        Err(groups_refused())
    }

    fn describe(&self, write: &crate::Write<'_>) -> Vec<crate::PlannedRequest> {
        self.describe_write(write)
            .unwrap_or_else(|e| vec![crate::PlannedRequest::new("NONE", "", None).noted(e.to_string())])
    }

    /// `member` (a plain team member) and the team's admin roles, by their role ids.
    async fn app_roles(&self) -> Result<Option<Vec<RemoteRole>>, ConnectorError> {
        const ROUTE: &str = "team/members/get_available_team_member_roles";
        let answer = self.rpc.call(ROUTE, &Value::Null).await?;
        let listed = answer.get("roles").and_then(Value::as_array).ok_or_else(|| unexpected(ROUTE, "roles"))?;
        let mut roles = vec![RemoteRole {
            value: MEMBER_ROLE.into(),
            name: "Member".into(),
            description: Some("A team member without an admin role".into()),
            refused: None,
        }];
        for r in listed {
            let text = |key: &str| r.get(key).and_then(Value::as_str).map(str::to_string);
            let Some(value) = text("role_id") else { continue };
            roles.push(RemoteRole {
                name: text("name").unwrap_or_else(|| value.clone()),
                value,
                description: text("description"),
                refused: None,
            });
        }
        Ok(Some(roles))
    }

    fn take_note(&self, id: &str) -> Option<String> {
        self.notes.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(id)
    }
}
