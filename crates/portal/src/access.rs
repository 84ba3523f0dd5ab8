//! Which access role each portal route needs: one table ([`ROUTES`]), read by
//! the session middleware before a handler runs (a refusal is a 403 page, or a
//! JSON 403 for a fetch) and by the pages, which show a button or a link only
//! when the session's role may follow it ([`crate::session::Session::may`]).
//! A route the table does not list needs `admin`: a new action is closed until
//! the table says otherwise.

use axum::http::Method;
use roster_store::AccessRole::{self, Admin, Operator, Read};

/// Whether a route is a page (GET) or an action (POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Action,
}

impl Kind {
    /// The kind of a request's method: anything but GET and HEAD is an action.
    pub fn of(method: &Method) -> Kind {
        if method == Method::GET || method == Method::HEAD {
            Kind::Page
        } else {
            Kind::Action
        }
    }
}

use Kind::{Action, Page};

/// Every portal route behind a session, with the role it needs.
pub const ROUTES: &[(Kind, &str, AccessRole)] = &[
    (Page, "/", Read),
    (Action, "/signout", Read),
    (Page, "/users", Read),
    (Page, "/users/new", Admin),
    (Action, "/users/new", Admin),
    (Page, "/users/{id}", Read),
    (Page, "/users/{id}/edit", Admin),
    (Action, "/users/{id}/edit", Admin),
    (Action, "/users/{id}/{action}", Admin),
    (Page, "/groups", Read),
    (Page, "/groups/new", Admin),
    (Action, "/groups/new", Admin),
    (Page, "/groups/{id}", Read),
    (Page, "/groups/{id}/edit", Admin),
    (Action, "/groups/{id}/edit", Admin),
    (Action, "/groups/{id}/delete", Admin),
    (Action, "/groups/{id}/members", Admin),
    (Action, "/groups/{id}/members/{member}/remove", Admin),
    (Page, "/sources", Read),
    (Page, "/sources/new", Admin),
    (Action, "/sources/new", Admin),
    (Page, "/sources/{id}", Read),
    (Action, "/sources/{id}", Admin),
    (Action, "/sources/{id}/batches/{batch}/{decision}", Admin),
    (Page, "/apps", Read),
    (Page, "/apps/new", Admin),
    (Action, "/apps/new", Admin),
    (Page, "/apps/{id}", Read),
    (Action, "/apps/{id}/delete", Admin),
    (Page, "/apps/{id}/users", Read),
    (Action, "/apps/{id}/users/assign", Admin),
    (Action, "/apps/{id}/users/unassign", Admin),
    (Action, "/expressions/test", Read),
    (Page, "/apps/{id}/logs", Operator),
    (Page, "/apps/{id}/logs.csv", Operator),
    (Page, "/apps/{id}/logs.json", Operator),
    (Page, "/apps/{id}/provisioning/mappings/{kind}", Read),
    (Action, "/apps/{id}/provisioning/mappings/{kind}", Admin),
    (Page, "/apps/{id}/provisioning/mappings/{kind}/attributes/{index}", Admin),
    (Action, "/apps/{id}/provisioning/mappings/{kind}/attributes/{index}", Admin),
    (Action, "/apps/{id}/provisioning/mappings/{kind}/attributes/{index}/delete", Admin),
    (Page, "/apps/{id}/provisioning/mappings/{kind}/scoping", Admin),
    (Action, "/apps/{id}/provisioning/mappings/{kind}/scoping", Admin),
    (Page, "/apps/{id}/provisioning/plan", Read),
    (Page, "/apps/{id}/provisioning/drift", Read),
    (Action, "/apps/{id}/provisioning/drift", Operator),
    (Page, "/apps/{id}/provisioning/on-demand", Operator),
    (Action, "/apps/{id}/provisioning/on-demand", Operator),
    (Page, "/apps/{id}/provisioning", Read),
    (Action, "/apps/{id}/provisioning", Admin),
    // Test Connection saves the credentials typed in the form first only for a
    // role that may save settings; an operator's test uses the saved ones.
    (Action, "/apps/{id}/provisioning/test", Operator),
    (Action, "/apps/{id}/provisioning/restart", Operator),
    (Action, "/apps/{id}/provisioning/authorize", Admin),
    (Page, "/apps/{id}/status", Read),
    (Page, "/apps/{id}/status.json", Read),
    (Action, "/apps/{id}/provisioning/allow-deletes", Operator),
    (Action, "/apps/{id}/provisioning/dialect/reset", Operator),
    // Who did what is for admins only.
    (Page, "/audit", Admin),
];

/// The role a route template (as axum matched it) needs for a request of `kind`.
pub fn required(kind: Kind, template: &str) -> AccessRole {
    ROUTES.iter().find(|(k, t, _)| *k == kind && *t == template).map_or(Admin, |(_, _, role)| *role)
}

/// The route template a concrete path falls under, as axum chooses it: of the
/// templates that match segment by segment, the one with the most literal
/// segments.
fn template_of(kind: Kind, path: &str) -> Option<&'static str> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .filter(|(k, _, _)| *k == kind)
        .filter_map(|(_, template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            let fits =
                parts.len() == segments.len() && parts.iter().zip(&segments).all(|(p, s)| p.starts_with('{') || p == s);
            fits.then(|| (parts.iter().filter(|p| !p.starts_with('{')).count(), *template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// The role following a link (`Page`) or sending a form (`Action`) to `path` needs.
pub fn required_for_path(kind: Kind, path: &str) -> AccessRole {
    template_of(kind, path).map_or(Admin, |t| required(kind, t))
}

/// Why `has` may not do what needs `needed`, for the 403 page.
pub fn refusal(has: AccessRole, needed: AccessRole, kind: Kind) -> String {
    let what = match kind {
        Kind::Page => "open this page",
        Kind::Action => "do this",
    };
    format!("Your role ({has}) cannot {what}: it needs the {needed} role. Ask an admin if you need it.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: Kind, path: &str, template: Option<&str>, role: AccessRole) {
        assert_eq!(template_of(kind, path), template, "{kind:?} {path}");
        assert_eq!(required_for_path(kind, path), role, "{kind:?} {path}");
    }

    #[test]
    fn concrete_paths_find_their_route() {
        check(Page, "/users", Some("/users"), Read);
        check(Page, "/users/new", Some("/users/new"), Admin);
        check(Page, "/users/7", Some("/users/{id}"), Read);
        check(Action, "/users/7/edit", Some("/users/{id}/edit"), Admin);
        check(Action, "/users/7/disable", Some("/users/{id}/{action}"), Admin);
        check(Action, "/apps/7/provisioning/restart", Some("/apps/{id}/provisioning/restart"), Operator);
        check(Action, "/apps/7/provisioning/allow-deletes", Some("/apps/{id}/provisioning/allow-deletes"), Operator);
        check(Page, "/apps/7/logs?since=1", Some("/apps/{id}/logs"), Operator);
        check(
            Page,
            "/apps/7/provisioning/mappings/users/attributes/new",
            Some("/apps/{id}/provisioning/mappings/{kind}/attributes/{index}"),
            Admin,
        );
        check(Action, "/nowhere", None, Admin);
    }

    #[test]
    fn the_table_names_each_route_once() {
        for (i, (kind, template, _)) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[i + 1..].iter().any(|(k, t, _)| k == kind && t == template),
                "{kind:?} {template} is in the table twice"
            );
        }
    }
}
