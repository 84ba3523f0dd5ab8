//! Which access role each operation of the admin API needs: one table
//! ([`OPERATIONS`]), read by the middleware that admits requests
//! ([`crate::auth::require_token`]) and by the OpenAPI document (each operation's
//! summary and `x-roster-role`), and compared with the routes the router serves
//! by a test, so that the three cannot drift apart. A route missing from the
//! table is refused to every token.

use roster_store::AccessRole::{self, Admin, Operator, Read};

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
/// document says of it.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub verb: Verb,
    pub path: &'static str,
    pub role: AccessRole,
    pub summary: &'static str,
    /// Whether the operation takes a JSON body.
    pub body: bool,
}

const fn op(verb: Verb, path: &'static str, role: AccessRole, summary: &'static str, body: bool) -> Operation {
    Operation { verb, path, role, summary, body }
}

use Verb::{Delete, Get, Patch, Post, Put};

/// Every operation of the API. Reading is `read`; running provisioning (start,
/// stop, sync, restart, allow deletes, provision on demand, test connection,
/// hand-offs) and reading its logs is `operator`; every other change, and the
/// tokens and the audit log (who did what is for admins only), is `admin`.
pub const OPERATIONS: &[Operation] = &[
    op(Get, "/users", Read, "List users (filters: userName, displayName, q; offset, limit, includeDeleted)", false),
    op(Post, "/users", Admin, "Create a user", true),
    op(Post, "/users/bulk", Admin, "Create or update users by userName (at most 5,000 rows)", true),
    op(Get, "/users/{user}", Read, "Read a user (id or userName)", false),
    op(Patch, "/users/{user}", Admin, "Update a user partially (null clears)", true),
    op(Delete, "/users/{user}", Admin, "Soft-delete a user (restorable for 30 days)", false),
    op(Post, "/users/{user}/restore", Admin, "Restore a soft-deleted user", false),
    op(Post, "/users/{user}/enable", Admin, "Enable a user", false),
    op(Post, "/users/{user}/disable", Admin, "Disable a user", false),
    op(Get, "/users/{user}/assignments", Read, "Effective assignments of a user, with role and path", false),
    op(Get, "/groups", Read, "List groups (displayName, q, offset, limit)", false),
    op(Post, "/groups", Admin, "Create a group", true),
    op(Get, "/groups/{group}", Read, "Read a group", false),
    op(Patch, "/groups/{group}", Admin, "Update a group", true),
    op(Delete, "/groups/{group}", Admin, "Delete a group", false),
    op(Get, "/groups/{group}/members", Read, "Direct members of a group", false),
    op(
        Post,
        "/groups/{group}/members",
        Admin,
        "Add a member: {\"user\":..}, {\"group\":..}, or many users at once: {\"users\":[..]}",
        true,
    ),
    op(Delete, "/groups/{group}/members/{member}", Admin, "Remove a member", false),
    op(Get, "/apps", Read, "List applications", false),
    op(Post, "/apps", Admin, "Create an application from a template", true),
    op(Get, "/apps/{app}", Read, "Read an application", false),
    op(Patch, "/apps/{app}", Admin, "Rename an application", true),
    op(Delete, "/apps/{app}", Admin, "Delete an application", false),
    op(Get, "/apps/{app}/roles", Read, "App roles", false),
    op(Post, "/apps/{app}/roles", Admin, "Define an app role", true),
    op(Delete, "/apps/{app}/roles/{role}", Admin, "Delete an app role", false),
    op(Get, "/apps/{app}/assignments", Read, "Direct assignments", false),
    op(Post, "/apps/{app}/assignments", Admin, "Assign a user or group with a role", true),
    op(Delete, "/apps/{app}/assignments", Admin, "Unassign (?user= or ?group=, optional role)", false),
    op(Get, "/apps/{app}/effective-assignments", Read, "Users the app reaches, with role and path", false),
    op(Get, "/apps/{app}/provisioning", Read, "Provisioning settings (secrets only as set)", false),
    op(
        Patch,
        "/apps/{app}/provisioning",
        Admin,
        "Configure provisioning: mode, status, tenantUrl, secretToken, adminUsername, adminPassword, clientId, \
         clientSecret (secrets write-only), apiUrl, authorizeUrl, tokenUrl, notificationEmail, scope, interval",
        true,
    ),
    op(Post, "/apps/{app}/provisioning/test-connection", Operator, "Test the connection to the app", false),
    op(Post, "/apps/{app}/provisioning/start", Operator, "Turn provisioning on", false),
    op(Post, "/apps/{app}/provisioning/stop", Operator, "Turn provisioning off", false),
    op(
        Post,
        "/apps/{app}/provisioning/restart",
        Operator,
        "Restart provisioning (?full=true also clears the shadow)",
        false,
    ),
    op(Post, "/apps/{app}/provisioning/sync", Operator, "Run a cycle now (?wait=true to wait for it)", false),
    op(
        Post,
        "/apps/{app}/provisioning/allow-deletes",
        Operator,
        "Let the disables the accidental-deletion guard staged through",
        false,
    ),
    op(Get, "/apps/{app}/provisioning/status", Read, "Provisioning status and progress", false),
    op(
        Get,
        "/apps/{app}/provisioning/logs",
        Operator,
        "Provisioning logs (status, action, user, cycleId, since, until, format=json|csv)",
        false,
    ),
    op(
        Post,
        "/apps/{app}/provisioning/provision-on-demand",
        Operator,
        "Provision one user now and show each step",
        true,
    ),
    op(Get, "/apps/{app}/provisioning/preview", Read, "The attributes a user (?user=) would get in the app", false),
    op(Get, "/apps/{app}/provisioning/mappings", Read, "The mapping document", false),
    op(Put, "/apps/{app}/provisioning/mappings", Admin, "Replace the mapping document (validated)", true),
    op(
        Post,
        "/apps/{app}/provisioning/authorize",
        Admin,
        "Start Authorize (OAuth apps such as Dropbox): {url} for a team admin to open; the vendor sends the \
         browser back to /oauth/callback",
        false,
    ),
    op(
        Get,
        "/apps/{app}/provisioning/handoff",
        Operator,
        "Manual mode: the open hand-off, the accounts to create, update, disable or enable by hand \
         (format=json|csv)",
        false,
    ),
    op(
        Post,
        "/apps/{app}/provisioning/handoff/confirm",
        Operator,
        "Manual mode: record that hand-off {id} was applied; the accounts it lists count as provisioned",
        true,
    ),
    op(Get, "/gallery", Read, "The app templates, with the provisioning modes each supports", false),
    op(Get, "/gallery/{template}", Read, "A template: credentials form, app roles, quirks, default mappings", false),
    op(
        Post,
        "/expressions/evaluate",
        Read,
        "Evaluate an expression of the mapping language over a user: {expression, user?}",
        true,
    ),
    op(Get, "/tokens", Admin, "List API tokens, with their role and expiry", false),
    op(
        Post,
        "/tokens",
        Admin,
        "Create an API token: {name, role (read|operator|admin), expiresIn (30d, 12h) or expiresAt (RFC 3339 or \
         ms)}; its secret is shown once",
        true,
    ),
    op(Delete, "/tokens/{name}", Admin, "Revoke an API token", false),
    op(
        Get,
        "/audit",
        Admin,
        "The audit log, newest first: who changed what, when, from where, before and after (since, until: ms; \
         principal; offset, limit)",
        false,
    ),
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
