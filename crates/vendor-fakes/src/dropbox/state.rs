//! The fake team's state: the team and its members as Dropbox describes them
//! (member status, roles, recovery window), the OAuth codes and tokens it
//! issued, and the switches and counters a test steers and reads.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// How many requests the fake remembers (route and body), oldest dropped first.
const REMEMBERED_REQUESTS: usize = 2_000;

/// A member's status, as `TeamMemberStatus` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeStatus {
    /// A member who joined the team.
    Active,
    /// Added but has not joined yet (the invitation is pending).
    Invited,
    /// Suspended by an admin: cannot sign in.
    Suspended,
    /// Removed from the team; recoverable until `recoverable_until`.
    Removed,
}

impl FakeStatus {
    /// The `.tag` Dropbox gives the status.
    pub fn tag(self) -> &'static str {
        match self {
            FakeStatus::Active => "active",
            FakeStatus::Invited => "invited",
            FakeStatus::Suspended => "suspended",
            FakeStatus::Removed => "removed",
        }
    }
}

/// A team member role (`TeamMemberRole`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRole {
    /// `pid_dbtmr:...`
    pub role_id: String,
    /// The display name, e.g. "Team admin".
    pub name: String,
    /// What the role may do.
    pub description: String,
}

impl FakeRole {
    /// A role.
    pub fn new(role_id: &str, name: &str, description: &str) -> Self {
        FakeRole { role_id: role_id.into(), name: name.into(), description: description.into() }
    }
}

/// The role id of "Team admin" in the default roles.
pub const TEAM_ADMIN_ROLE: &str = "pid_dbtmr:team_admin";
/// The role id of "User management admin" in the default roles.
pub const USER_MANAGEMENT_ROLE: &str = "pid_dbtmr:user_management_admin";

/// The roles every team gets by default.
pub fn default_roles() -> Vec<FakeRole> {
    vec![
        FakeRole::new(TEAM_ADMIN_ROLE, "Team admin", "Manages the whole team: members, settings and billing."),
        FakeRole::new(USER_MANAGEMENT_ROLE, "User management admin", "Adds, removes and manages member accounts."),
        FakeRole::new("pid_dbtmr:support_admin", "Support admin", "Helps members with common tasks."),
        FakeRole::new("pid_dbtmr:billing_admin", "Billing admin", "Pays and renews the team's plan."),
    ]
}

/// One team member.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMember {
    /// `dbmid:...`
    pub team_member_id: String,
    /// `dbid:...`
    pub account_id: String,
    /// The member's email (unique in the team, case-insensitively).
    pub email: String,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub surname: String,
    /// The team's own id for the member.
    pub external_id: Option<String>,
    /// The SAML persistent id.
    pub persistent_id: Option<String>,
    /// Where the member stands.
    pub status: FakeStatus,
    /// At most one role id; empty for a plain member.
    pub role_ids: Vec<String>,
    /// When the member was invited.
    pub invited_on: DateTime<Utc>,
    /// When the member joined, if they did.
    pub joined_on: Option<DateTime<Utc>>,
    /// When the member was suspended, if they are.
    pub suspended_on: Option<DateTime<Utc>>,
    /// Until when a removed member can be recovered.
    pub recoverable_until: Option<DateTime<Utc>>,
}

impl FakeMember {
    /// A member who was invited and has not joined.
    pub fn invited(email: &str, given_name: &str, surname: &str) -> Self {
        FakeMember {
            team_member_id: format!("dbmid:{}", Uuid::new_v4().simple()),
            account_id: format!("dbid:{}", Uuid::new_v4().simple()),
            email: email.into(),
            given_name: given_name.into(),
            surname: surname.into(),
            external_id: None,
            persistent_id: None,
            status: FakeStatus::Invited,
            role_ids: Vec::new(),
            invited_on: Utc::now(),
            joined_on: None,
            suspended_on: None,
            recoverable_until: None,
        }
    }

    /// A member who joined.
    pub fn active(email: &str, given_name: &str, surname: &str) -> Self {
        FakeMember {
            status: FakeStatus::Active,
            joined_on: Some(Utc::now()),
            ..FakeMember::invited(email, given_name, surname)
        }
    }

    /// The same member with an external id.
    pub fn with_external_id(mut self, external_id: &str) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// The same member with a role.
    pub fn with_role(mut self, role_id: &str) -> Self {
        self.role_ids = vec![role_id.into()];
        self
    }

    /// The same member, removed from the team and recoverable for `window`.
    pub fn removed(mut self, window: Duration) -> Self {
        self.status = FakeStatus::Removed;
        self.recoverable_until = Some(Utc::now() + chrono_duration(window));
        self
    }

    /// Whether the member takes a license (anything but removed).
    fn on_team(&self) -> bool {
        self.status != FakeStatus::Removed
    }
}

/// The team a fake starts with.
#[derive(Debug, Clone)]
pub struct FakeTeam {
    /// The team's name.
    pub name: String,
    /// `dbtid:...`
    pub team_id: String,
    /// The app key (OAuth `client_id`) of roster's Dropbox app.
    pub app_key: String,
    /// The app secret.
    pub app_secret: String,
    /// Redirect URIs registered for the app; empty accepts any.
    pub redirect_uris: Vec<String>,
    /// Whether the person who clicks Authorize is a team admin. When not,
    /// Dropbox links the app to that person's own account, not to the team.
    pub authorizer_is_team_admin: bool,
    /// How many members (active, invited, suspended) the team's plan allows.
    pub licenses: usize,
    /// The roles the team offers.
    pub roles: Vec<FakeRole>,
    /// The members.
    pub members: Vec<FakeMember>,
}

/// The email of the team admin every default team has.
pub const ADMIN_EMAIL: &str = "admin@example.com";

impl Default for FakeTeam {
    /// "Example Team" with one member, its team admin, who authorizes roster.
    fn default() -> Self {
        FakeTeam {
            name: "Example Team".into(),
            team_id: "dbtid:AADexampleteam".into(),
            app_key: "roster-app-key".into(),
            app_secret: "roster-app-secret".into(),
            redirect_uris: Vec::new(),
            authorizer_is_team_admin: true,
            licenses: 100,
            roles: default_roles(),
            members: vec![FakeMember::active(ADMIN_EMAIL, "Ada", "Admin").with_role(TEAM_ADMIN_ROLE)],
        }
    }
}

/// An authorization code handed out by `/oauth2/authorize`.
#[derive(Debug, Clone)]
pub(crate) struct IssuedCode {
    pub(crate) redirect_uri: String,
    pub(crate) offline: bool,
    pub(crate) team: bool,
    pub(crate) expires_at: DateTime<Utc>,
}

/// An access token handed out by `/oauth2/token`.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    /// Linked to the team (a team admin authorized) or to one user's account.
    pub(crate) team: bool,
    pub(crate) expires_at: DateTime<Utc>,
}

/// A listing in progress (`members/list_v2` then `list/continue_v2`).
#[derive(Debug, Clone)]
pub(crate) struct ListCursor {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    pub(crate) include_removed: bool,
}

/// An asynchronous job: answers `in_progress` `polls_left` more times, then `result`.
#[derive(Debug, Clone)]
pub(crate) struct FakeJob {
    pub(crate) polls_left: u32,
    pub(crate) result: Value,
}

/// Everything the fake knows, shared between its routes and the test.
#[derive(Debug)]
pub struct DropboxState {
    /// The team, its app and its members.
    pub team: FakeTeam,
    /// The authorizing person clicks "Cancel" instead of "Allow".
    pub deny_consent: bool,
    /// Every `members/add_v2` and `members/remove` answers with an async job.
    pub force_async: bool,
    /// `members/add_v2` batches larger than this answer with an async job.
    pub async_above: usize,
    /// How many polls of a job answer `in_progress` before it completes.
    pub job_polls_in_progress: u32,
    /// How long issued access tokens live (Dropbox: four hours).
    pub access_token_ttl: Duration,
    /// How long a removed member can be recovered (Dropbox: seven days).
    pub recovery_window: Duration,
    throttle_remaining: u32,
    throttle_retry_after: u64,
    pub(crate) codes: HashMap<String, IssuedCode>,
    pub(crate) access_tokens: HashMap<String, IssuedToken>,
    /// Refresh token → linked to the team.
    pub(crate) refresh_tokens: HashMap<String, bool>,
    pub(crate) cursors: HashMap<String, ListCursor>,
    pub(crate) jobs: HashMap<String, FakeJob>,
    counts: HashMap<String, u64>,
    requests: Vec<(String, Value)>,
}

impl DropboxState {
    pub(crate) fn new(team: FakeTeam) -> Self {
        DropboxState {
            team,
            deny_consent: false,
            force_async: false,
            async_above: 2,
            job_polls_in_progress: 1,
            access_token_ttl: Duration::from_secs(4 * 3600),
            recovery_window: Duration::from_secs(7 * 24 * 3600),
            throttle_remaining: 0,
            throttle_retry_after: 0,
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            cursors: HashMap::new(),
            jobs: HashMap::new(),
            counts: HashMap::new(),
            requests: Vec::new(),
        }
    }

    /// The next `n` API requests answer 429 with `Retry-After: retry_after_secs`.
    pub fn throttle(&mut self, n: u32, retry_after_secs: u64) {
        self.throttle_remaining = n;
        self.throttle_retry_after = retry_after_secs;
    }

    /// Makes every access token issued so far expired.
    pub fn expire_access_tokens(&mut self) {
        let past = Utc::now() - chrono::Duration::seconds(1);
        for t in self.access_tokens.values_mut() {
            t.expires_at = past;
        }
    }

    /// Revokes every refresh token and access token (the app was unlinked).
    pub fn revoke_tokens(&mut self) {
        self.refresh_tokens.clear();
        self.access_tokens.clear();
    }

    /// Mints a refresh token as if the configured authorizer had gone through
    /// the authorization flow, for tests that start past it.
    pub fn issue_refresh_token(&mut self) -> String {
        let token = secret("rt");
        self.refresh_tokens.insert(token.clone(), self.team.authorizer_is_team_admin);
        token
    }

    /// How many requests `route` received (`oauth2/token`, `team/members/add_v2`...).
    pub fn count(&self, route: &str) -> u64 {
        self.counts.get(route).copied().unwrap_or(0)
    }

    /// The bodies `route` received, oldest first.
    pub fn bodies(&self, route: &str) -> Vec<Value> {
        self.requests.iter().filter(|(r, _)| r == route).map(|(_, b)| b.clone()).collect()
    }

    /// The member with `email` (case-insensitive), removed ones included.
    pub fn member(&self, email: &str) -> Option<&FakeMember> {
        self.team.members.iter().find(|m| m.email.eq_ignore_ascii_case(email))
    }

    /// The member with `email`, to change.
    pub fn member_mut(&mut self, email: &str) -> Option<&mut FakeMember> {
        self.team.members.iter_mut().find(|m| m.email.eq_ignore_ascii_case(email))
    }

    /// The invited member with `email` accepts the invitation; false if there is none.
    pub fn mark_joined(&mut self, email: &str) -> bool {
        match self.member_mut(email) {
            Some(m) if m.status == FakeStatus::Invited => {
                m.status = FakeStatus::Active;
                m.joined_on = Some(Utc::now());
                true
            }
            _ => false,
        }
    }

    pub(crate) fn record(&mut self, route: &str, body: Value) {
        *self.counts.entry(route.to_string()).or_default() += 1;
        if self.requests.len() >= REMEMBERED_REQUESTS {
            self.requests.remove(0);
        }
        self.requests.push((route.to_string(), body));
    }

    /// Whether this request is throttled; the `Retry-After` seconds if so.
    pub(crate) fn take_throttle(&mut self) -> Option<u64> {
        if self.throttle_remaining == 0 {
            return None;
        }
        self.throttle_remaining -= 1;
        Some(self.throttle_retry_after)
    }

    pub(crate) fn issue_access_token(&mut self, team: bool) -> String {
        let token = secret("sl");
        let expires_at = Utc::now() + chrono_duration(self.access_token_ttl);
        self.access_tokens.insert(token.clone(), IssuedToken { team, expires_at });
        token
    }

    /// Forgets removed members whose recovery window has passed.
    pub(crate) fn purge_unrecoverable(&mut self) {
        let now = Utc::now();
        self.team.members.retain(|m| m.status != FakeStatus::Removed || m.recoverable_until.is_some_and(|t| t > now));
    }

    /// How many members take a license.
    pub(crate) fn used_licenses(&self) -> usize {
        self.team.members.iter().filter(|m| m.on_team()).count()
    }

    /// How many members on the team hold the team admin role.
    pub(crate) fn team_admins(&self) -> usize {
        self.team
            .members
            .iter()
            .filter(|m| m.status == FakeStatus::Active && m.role_ids.iter().any(|r| r == TEAM_ADMIN_ROLE))
            .count()
    }

    pub(crate) fn role(&self, role_id: &str) -> Option<&FakeRole> {
        self.team.roles.iter().find(|r| r.role_id == role_id)
    }

    /// `TeamMemberRole` JSON.
    pub(crate) fn role_json(role: &FakeRole) -> Value {
        json!({ "role_id": role.role_id, "name": role.name, "description": role.description })
    }

    /// `TeamMemberInfoV2` JSON of a member.
    pub(crate) fn member_info(&self, m: &FakeMember) -> Value {
        let status = match m.status {
            FakeStatus::Removed => json!({ ".tag": "removed", "is_recoverable": true, "is_disconnected": false }),
            s => json!({ ".tag": s.tag() }),
        };
        let display = format!("{} {}", m.given_name, m.surname).trim().to_string();
        let initials: String = [&m.given_name, &m.surname].iter().filter_map(|n| n.chars().next()).collect();
        let mut profile = json!({
            "team_member_id": m.team_member_id,
            "account_id": m.account_id,
            "email": m.email,
            "email_verified": m.joined_on.is_some(),
            "status": status,
            "name": {
                "given_name": m.given_name,
                "surname": m.surname,
                "familiar_name": m.given_name,
                "display_name": display,
                "abbreviated_name": initials,
            },
            "membership_type": { ".tag": "full" },
            "groups": [],
            "member_folder_id": "1",
            "root_folder_id": "2",
            "invited_on": timestamp(m.invited_on),
        });
        let optional = [
            ("external_id", m.external_id.clone()),
            ("persistent_id", m.persistent_id.clone()),
            ("joined_on", m.joined_on.map(timestamp)),
            ("suspended_on", m.suspended_on.map(timestamp)),
        ];
        if let Some(p) = profile.as_object_mut() {
            for (key, value) in optional {
                if let Some(v) = value {
                    p.insert(key.into(), Value::String(v));
                }
            }
        }
        let roles: Vec<Value> = m.role_ids.iter().filter_map(|r| self.role(r)).map(Self::role_json).collect();
        json!({ "profile": profile, "roles": roles })
    }
}

/// `d` for date arithmetic (a century at most).
pub(crate) fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(36_500))
}

/// Dropbox's timestamp form: `2015-05-12T15:50:38Z`.
fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random opaque token with a recognisable prefix.
pub(crate) fn secret(prefix: &str) -> String {
    format!("{prefix}.{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}
