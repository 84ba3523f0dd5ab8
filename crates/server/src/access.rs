//! Which access role each operation of the admin API needs: one table
//! ([`OPERATIONS`]), read by the middleware that admits requests
//! ([`crate::auth::require_token`]) and by the OpenAPI document (each operation's
//! summary, `x-roster-role`, and the types of its body and answer, whose
//! schemas the document derives), and compared with the routes the router
//! serves by a test, so that the three cannot drift apart. A route missing
//! from the table is refused to every token.

use crate::api::{apps, expressions, groups, handoff, provisioning, sources, tokens, users};
use crate::oauth::Authorization;
use crate::openapi::{json, list, page, BodySchema};
use roster_engine::connect::ConnectionTest;
use roster_engine::expression::ExpressionResult;
use roster_engine::gallery::{TemplateDetail, TemplateSummary};
use roster_engine::inbound::{SourceSettings, SourceView};
use roster_engine::on_demand::{Preview, ProvisioningOutcome};
use roster_engine::settings::{SettingsPatch, SettingsView};
use roster_engine::status::{AllowedDeletes, ProvisioningStatus};
use roster_mapping::AppMappings;
use roster_store::inbound::InboundBatch;
use roster_store::AccessRole::{self, Admin, Operator, Read, Scim};
use roster_store::{
    ApiToken, AppRole, AppRoleInput, Application, ApplicationInput, Assignment, AuditEntry, ConfirmedHandoff,
    EffectiveAssignment, Group, GroupInput, GroupPatch, Handoff, LogRecord, Member, User, UserInput, UserPatch,
};

/// An HTTP method the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    /// The verb of a request's method, if the API serves it.
    pub fn of(method: &axum::http::Method) -> Option<Verb> {
        Some(match *method {
            axum::http::Method::GET | axum::http::Method::HEAD => Verb::Get,
            axum::http::Method::POST => Verb::Post,
            axum::http::Method::PUT => Verb::Put,
            axum::http::Method::PATCH => Verb::Patch,
            axum::http::Method::DELETE => Verb::Delete,
            _ => return None,
        })
    }

    /// The method's name (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// One operation of the API: a method on a route template (as the router
/// writes it, under `/api/v1`), the role it needs, and what the OpenAPI
/// document says of it: its summary, the JSON body it reads and what it
/// answers, each named by the type whose schema the document derives.
#[derive(Clone, Copy)]
pub struct Operation {
    pub verb: Verb,
    pub path: &'static str,
    pub role: AccessRole,
    pub summary: &'static str,
    /// The JSON body the operation reads, if it reads one.
    pub body: Option<BodySchema>,
    /// What it answers when it succeeds.
    pub answer: Answer,
}

/// What an operation answers when it succeeds.
#[derive(Clone, Copy)]
pub enum Answer {
    /// 200 with a JSON body.
    Json(BodySchema),
    /// 200 with a JSON body, or CSV with `?format=csv`.
    JsonOrCsv(BodySchema),
    /// 201 with the JSON of what was made.
    Created(BodySchema),
    /// 200 with a JSON body, or 202 with one when the work goes on in the background.
    JsonOrAccepted(BodySchema),
    /// 204, no body.
    NoContent,
}

const fn op(verb: Verb, path: &'static str, role: AccessRole, summary: &'static str) -> Operation {
    Operation { verb, path, role, summary, body: None, answer: Answer::NoContent }
}

impl Operation {
    /// The operation, reading a JSON body of `body`'s type.
    const fn takes(self, body: BodySchema) -> Operation {
        Operation { body: Some(body), ..self }
    }

    /// The operation, answering 200 with JSON of `answer`'s type.
    const fn answers(self, answer: BodySchema) -> Operation {
        Operation { answer: Answer::Json(answer), ..self }
    }

    /// The operation, answering JSON of `answer`'s type, or CSV.
    const fn answers_or_csv(self, answer: BodySchema) -> Operation {
        Operation { answer: Answer::JsonOrCsv(answer), ..self }
    }

    /// The operation, answering 201 with JSON of `made`'s type.
    const fn creates(self, made: BodySchema) -> Operation {
        Operation { answer: Answer::Created(made), ..self }
    }

    /// The operation, answering 200 or 202 with JSON of `answer`'s type.
    const fn answers_or_accepts(self, answer: BodySchema) -> Operation {
        Operation { answer: Answer::JsonOrAccepted(answer), ..self }
    }
}

use Verb::{Delete, Get, Patch, Post, Put};

/// Every operation of the API. Reading is `read`; running provisioning (start,
/// stop, sync, restart, allow deletes, provision on demand, test connection,
/// hand-offs) and reading its logs is `operator`; every other change, and the
/// tokens and the audit log (who did what is for admins only), is `admin`.
pub const OPERATIONS: &[Operation] = &[
    op(Get, "/users", Read, "List users (filters: userName, displayName, q; offset, limit, includeDeleted)")
        .answers(page::<User>()),
    op(Post, "/users", Admin, "Create a user").takes(json::<UserInput>()).creates(json::<User>()),
    op(Post, "/users/bulk", Admin, "Create or update users by userName (at most 5,000 rows)")
        .takes(json::<users::Bulk>())
        .answers(json::<users::BulkAnswer>()),
    op(Get, "/users/{user}", Read, "Read a user (id or userName)").answers(json::<User>()),
    op(Patch, "/users/{user}", Admin, "Update a user partially (null clears)")
        .takes(json::<UserPatch>())
        .answers(json::<User>()),
    op(Delete, "/users/{user}", Admin, "Soft-delete a user (restorable for 30 days)").answers(json::<User>()),
    op(Post, "/users/{user}/restore", Admin, "Restore a soft-deleted user").answers(json::<User>()),
    op(Post, "/users/{user}/enable", Admin, "Enable a user").answers(json::<User>()),
    op(Post, "/users/{user}/disable", Admin, "Disable a user").answers(json::<User>()),
    op(Get, "/users/{user}/assignments", Read, "Effective assignments of a user, with role and path")
        .answers(list::<EffectiveAssignment>()),
    op(Get, "/groups", Read, "List groups (displayName, q, offset, limit)").answers(page::<Group>()),
    op(Post, "/groups", Admin, "Create a group").takes(json::<GroupInput>()).creates(json::<Group>()),
    op(Get, "/groups/{group}", Read, "Read a group").answers(json::<Group>()),
    op(Patch, "/groups/{group}", Admin, "Update a group").takes(json::<GroupPatch>()).answers(json::<Group>()),
    op(Delete, "/groups/{group}", Admin, "Delete a group"),
    op(Get, "/groups/{group}/members", Read, "Direct members of a group").answers(page::<Member>()),
    op(
        Post,
        "/groups/{group}/members",
        Admin,
        "Add a member: {\"user\":..}, {\"group\":..}, or many users at once: {\"users\":[..]}",
    )
    .takes(json::<groups::NewMember>()),
    op(Delete, "/groups/{group}/members/{member}", Admin, "Remove a member"),
    op(Get, "/apps", Read, "List applications").answers(list::<Application>()),
    op(Post, "/apps", Admin, "Create an application from a template")
        .takes(json::<ApplicationInput>())
        .creates(json::<Application>()),
    op(Get, "/apps/{app}", Read, "Read an application").answers(json::<Application>()),
    op(Patch, "/apps/{app}", Admin, "Rename an application")
        .takes(json::<apps::AppPatch>())
        .answers(json::<Application>()),
    op(Delete, "/apps/{app}", Admin, "Delete an application"),
    op(Get, "/apps/{app}/roles", Read, "App roles").answers(list::<AppRole>()),
    op(Post, "/apps/{app}/roles", Admin, "Define an app role").takes(json::<AppRoleInput>()).creates(json::<AppRole>()),
    op(Delete, "/apps/{app}/roles/{role}", Admin, "Delete an app role"),
    op(Get, "/apps/{app}/assignments", Read, "Direct assignments").answers(page::<Assignment>()),
    op(Post, "/apps/{app}/assignments", Admin, "Assign a user or group with a role")
        .takes(json::<apps::Principal>())
        .creates(json::<Assignment>()),
    op(Delete, "/apps/{app}/assignments", Admin, "Unassign (?user= or ?group=, optional role)"),
    op(Get, "/apps/{app}/effective-assignments", Read, "Users the app reaches, with role and path")
        .answers(page::<EffectiveAssignment>()),
    op(Get, "/apps/{app}/provisioning", Read, "Provisioning settings (secrets only as set)")
        .answers(json::<SettingsView>()),
    op(
        Patch,
        "/apps/{app}/provisioning",
        Admin,
        "Configure provisioning: mode, status, tenantUrl, secretToken, adminUsername, adminPassword, clientId, \
         clientSecret (secrets write-only), apiUrl, authorizeUrl, tokenUrl, notificationEmail, scope, interval",
    )
    .takes(json::<SettingsPatch>())
    .answers(json::<SettingsView>()),
    op(Post, "/apps/{app}/provisioning/test-connection", Operator, "Test the connection to the app")
        .answers(json::<ConnectionTest>()),
    op(Post, "/apps/{app}/provisioning/start", Operator, "Turn provisioning on").answers(json::<SettingsView>()),
    op(Post, "/apps/{app}/provisioning/stop", Operator, "Turn provisioning off").answers(json::<SettingsView>()),
    op(Post, "/apps/{app}/provisioning/restart", Operator, "Restart provisioning (?full=true also clears the shadow)"),
    op(Post, "/apps/{app}/provisioning/sync", Operator, "Run a cycle now (?wait=true to wait for it)")
        .answers_or_accepts(json::<provisioning::SyncAnswer>()),
    op(
        Post,
        "/apps/{app}/provisioning/allow-deletes",
        Operator,
        "Let the disables the accidental-deletion guard staged through",
    )
    .answers(json::<AllowedDeletes>()),
    op(
        Post,
        "/apps/{app}/provisioning/dialect/reset",
        Operator,
        "Forget the SCIM forms learned from the app (pinned forms stay)",
    )
    .answers(json::<roster_engine::Dialect>()),
    op(Get, "/metrics", Read, "Metrics in the OpenMetrics text format, for Prometheus (a read token scrapes them)"),
    op(Get, "/workers", Read, "The workers sharing the store, with their heartbeats and the jobs each runs")
        .answers(list::<roster_engine::status::WorkerView>()),
    op(Get, "/apps/{app}/provisioning/status", Read, "Provisioning status and progress")
        .answers(json::<ProvisioningStatus>()),
    op(
        Get,
        "/apps/{app}/provisioning/logs",
        Operator,
        "Provisioning logs (status, action, user, cycleId, since, until, format=json|csv)",
    )
    .answers_or_csv(page::<LogRecord>()),
    op(
        Get,
        "/apps/{app}/provisioning/activity",
        Read,
        "Log entries counted by hour, action and status over the last days (days=7, at most 31)",
    )
    .answers(list::<roster_store::activity::ActivityCount>()),
    op(Post, "/apps/{app}/provisioning/provision-on-demand", Operator, "Provision one user now and show each step")
        .takes(json::<provisioning::OnDemand>())
        .answers(json::<ProvisioningOutcome>()),
    op(Get, "/apps/{app}/provisioning/preview", Read, "The attributes a user (?user=) would get in the app")
        .answers(json::<Preview>()),
    op(
        Post,
        "/apps/{app}/provisioning/plan",
        Read,
        "Plan before apply: what the next cycle would send (?after=cursor&limit=100), with a proposed mapping \
         document or users' scoping filter in the body, without calling the app or writing anything",
    )
    .takes(json::<roster_engine::plan::PlanProposal>())
    .answers(json::<roster_engine::plan::ProvisioningPlan>()),
    op(Get, "/apps/{app}/provisioning/drift", Read, "The app's last drift report (null when no check ran)")
        .answers(json::<Option<roster_engine::drift::DriftReport>>()),
    op(
        Post,
        "/apps/{app}/provisioning/drift",
        Operator,
        "Drift check: read the app's accounts and groups and report each difference from what roster sent \
         (changed, missing, unmanaged, member added or removed, group missing); {repair: true} puts the app \
         back to what the directory says, {adopt: true} adopts unmanaged accounts that match a user in scope",
    )
    .takes(json::<roster_engine::drift::DriftRequest>())
    .answers(json::<roster_engine::drift::DriftReport>()),
    op(Get, "/apps/{app}/provisioning/mappings", Read, "The mapping document").answers(json::<AppMappings>()),
    op(Put, "/apps/{app}/provisioning/mappings", Admin, "Replace the mapping document (validated)")
        .takes(json::<AppMappings>()),
    op(
        Post,
        "/apps/{app}/provisioning/authorize",
        Admin,
        "Start Authorize (OAuth apps such as Dropbox): {url} for a team admin to open; the vendor sends the \
         browser back to /oauth/callback",
    )
    .answers(json::<Authorization>()),
    op(
        Get,
        "/apps/{app}/provisioning/handoff",
        Operator,
        "Manual mode: the open hand-off, the accounts to create, update, disable or enable by hand \
         (format=json|csv)",
    )
    .answers_or_csv(json::<Handoff>()),
    op(
        Post,
        "/apps/{app}/provisioning/handoff/confirm",
        Operator,
        "Manual mode: record that hand-off {id} was applied; the accounts it lists count as provisioned",
    )
    .takes(json::<handoff::Confirm>())
    .answers(json::<ConfirmedHandoff>()),
    op(Get, "/sources", Read, "The inbound sources (HR systems), with their held batches and scheduled actions")
        .answers(list::<SourceView>()),
    op(Post, "/sources", Admin, "Create an inbound source: {name, template (hr-scim|hr-csv)}")
        .takes(json::<sources::NewSource>())
        .creates(json::<SourceView>()),
    op(Get, "/sources/{source}", Read, "A source: settings, held and latest batches, scheduled actions")
        .answers(json::<SourceView>()),
    op(
        Put,
        "/sources/{source}/settings",
        Admin,
        "Replace a source's settings: record attributes, inbound mapping and scoping, date attributes, \
         prehireDays, disableThreshold (validated)",
    )
    .takes(json::<SourceSettings>())
    .answers(json::<SourceView>()),
    op(Delete, "/sources/{source}", Admin, "Delete a source (the users it made stay)"),
    op(
        Post,
        "/sources/{source}/bulkUpload",
        Scim,
        "Push people: a SCIM BulkRequest of users (POST or PUT to /Users); 202 with the batch (applied, held or \
         queued)",
    )
    .answers_or_accepts(json::<InboundBatch>()),
    op(
        Post,
        "/sources/{source}/csv",
        Scim,
        "Push people: a CSV file with a header row (text/csv); 202 with the batch (applied, held or queued)",
    )
    .answers_or_accepts(json::<InboundBatch>()),
    op(Get, "/sources/{source}/batches", Read, "A source's batches, newest first").answers(list::<InboundBatch>()),
    op(
        Post,
        "/sources/{source}/batches/{batch}/approve",
        Admin,
        "Approve a held batch: it is applied past the disable threshold",
    )
    .answers(json::<InboundBatch>()),
    op(Post, "/sources/{source}/batches/{batch}/reject", Admin, "Reject a held batch: nothing of it is applied")
        .answers(json::<InboundBatch>()),
    op(Get, "/config", Read, "The apps as one document, with no secret (apps=A,B: only those)")
        .answers(json::<roster_engine::config::ConfigDocument>()),
    op(
        Post,
        "/config/apply",
        Admin,
        "Converge the apps a document names to it (dryRun=true: only say what would change); a secret is set only \
         where none is",
    )
    .takes(json::<roster_engine::config::ConfigDocument>())
    .answers(json::<roster_engine::config::ApplyReport>()),
    op(
        Post,
        "/scim/validate",
        Admin,
        "The SCIM validator run from the server against an endpoint ({url, token}): the requests a provisioning \
         service sends, each check passed, failed (request, answer, RFC section) or not supported (roster's \
         fallback); the token is never kept; destinations follow the tenant URL's rules",
    )
    .takes(json::<crate::api::config::ValidateRequest>())
    .answers(json::<crate::api::config::ValidateReport>()),
    op(Get, "/gallery", Read, "The app templates, with the provisioning modes each supports")
        .answers(list::<TemplateSummary>()),
    op(Get, "/gallery/{template}", Read, "A template: credentials form, app roles, quirks, default mappings")
        .answers(json::<TemplateDetail>()),
    op(
        Post,
        "/expressions/evaluate",
        Read,
        "Evaluate an expression of the mapping language over a user: {expression, user?}",
    )
    .takes(json::<expressions::EvalRequest>())
    .answers(json::<ExpressionResult>()),
    op(Get, "/tokens", Admin, "List API tokens, with their role and expiry").answers(list::<ApiToken>()),
    op(
        Post,
        "/tokens",
        Admin,
        "Create an API token: {name, role (read|operator|admin), expiresIn (30d, 12h) or expiresAt (RFC 3339 or \
         ms)}; its secret is shown once",
    )
    .takes(json::<tokens::NewToken>())
    .creates(json::<tokens::NewTokenAnswer>()),
    op(Delete, "/tokens/{name}", Admin, "Revoke an API token"),
    op(
        Get,
        "/audit",
        Admin,
        "The audit log, newest first: who changed what, when, from where, before and after (since, until: ms; \
         principal; offset, limit)",
    )
    .answers(page::<AuditEntry>()),
];

/// The operation a method and a route template (as axum matched it, with or
/// without the `/api/v1` prefix) name, if the table has it.
pub fn operation(verb: Verb, template: &str) -> Option<&'static Operation> {
    let template = template.strip_prefix(crate::API_PREFIX).unwrap_or(template);
    OPERATIONS.iter().find(|o| o.verb == verb && o.path == template)
}

/// Why a principal with `has` may not perform `operation`, in words for the
/// refusal.
pub fn refusal(has: AccessRole, operation: &Operation) -> String {
    format!(
        "this token's role ({has}) cannot {} {} ({}): that needs the {} role",
        operation.verb.as_str(),
        operation.path,
        first_clause(operation.summary),
        operation.role
    )
}

/// A summary up to its first colon or parenthesis, in lower case: "turn provisioning on".
fn first_clause(summary: &str) -> String {
    let end = summary.find([':', '(']).unwrap_or(summary.len());
    let clause = summary[..end].trim();
    let mut chars = clause.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_table_names_each_operation_once() {
        let mut seen = BTreeSet::new();
        for o in OPERATIONS {
            assert!(seen.insert((o.verb, o.path)), "{} {} is in the table twice", o.verb.as_str(), o.path);
        }
    }

    #[test]
    fn the_table_is_what_the_router_serves() {
        let table: BTreeSet<(Verb, &str)> = OPERATIONS.iter().map(|o| (o.verb, o.path)).collect();
        let served: BTreeSet<(Verb, &str)> = crate::api::routes().served.into_iter().collect();
        let unlisted: Vec<_> = served.difference(&table).collect();
        let unserved: Vec<_> = table.difference(&served).collect();
        assert!(unlisted.is_empty(), "routes the table does not list (they are refused to everyone): {unlisted:?}");
        assert!(unserved.is_empty(), "operations in the table that no route serves: {unserved:?}");
    }

    fn check(verb: Verb, template: &str, role: Option<AccessRole>) {
        assert_eq!(operation(verb, template).map(|o| o.role), role, "{} {template}", verb.as_str());
    }

    #[test]
    fn roles_of_operations() {
        check(Get, "/users", Some(Read));
        check(Get, "/api/v1/users/{user}", Some(Read));
        check(Post, "/users", Some(Admin));
        check(Post, "/apps/{app}/provisioning/start", Some(Operator));
        check(Get, "/apps/{app}/provisioning/logs", Some(Operator));
        check(Patch, "/apps/{app}/provisioning", Some(Admin));
        check(Get, "/tokens", Some(Admin));
        check(Put, "/users", None);
        check(Get, "/nowhere", None);
    }

    #[test]
    fn refusals_say_what_and_which_role() {
        let start = operation(Post, "/apps/{app}/provisioning/start").expect("in the table");
        assert_eq!(
            refusal(Read, start),
            "this token's role (read) cannot POST /apps/{app}/provisioning/start (turn provisioning on): \
             that needs the operator role"
        );
    }
}
