//! The page shell and the small pieces every page uses: header bar and
//! navigation, the application tabs, labelled form fields with their error next
//! to them, the CSRF field, time formatting, and the pager.

use crate::session::{Session, CSRF_FIELD};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use roster_store::Application;
use std::collections::BTreeMap;

/// Which part of the portal a page belongs to (highlighted in the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Apps,
    Sources,
    Users,
    Groups,
    Audit,
}

/// A full page with the header bar.
pub fn page(session: &Session, section: Section, title: &str, body: Markup) -> Response {
    page_with_status(StatusCode::OK, session, section, title, body)
}

/// A full page with a status code (a form sent back with errors is a 400).
pub fn page_with_status(
    status: StatusCode,
    session: &Session,
    section: Section,
    title: &str,
    body: Markup,
) -> Response {
    let current = |s: Section| if s == section { Some("page") } else { None };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(session.csrf);
                title { (title) " · roster" }
                link rel="stylesheet" href=(crate::assets::CSS_PATH);
                script src=(crate::assets::JS_PATH) defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header class="top" {
                    a class="brand" href="/" { "roster" }
                    nav aria-label="Main" {
                        a href="/apps" aria-current=[current(Section::Apps)] { "Enterprise applications" }
                        a href="/sources" aria-current=[current(Section::Sources)] { "Inbound sources" }
                        a href="/users" aria-current=[current(Section::Users)] { "Users" }
                        a href="/groups" aria-current=[current(Section::Groups)] { "Groups" }
                        @if session.may_open("/audit") {
                            a href="/audit" aria-current=[current(Section::Audit)] { "Audit log" }
                        }
                    }
                    div class="who" {
                        span { "Signed in as " strong { (session.display_name()) } " (" (session.role) ")" }
                        form method="post" action="/signout" {
                            (csrf_field(session))
                            button type="submit" class="small" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

/// The hidden CSRF field every form of a session carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// The tabs of an application's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppTab {
    Overview,
    UsersAndGroups,
    Provisioning,
    Logs,
}

/// An application's title, breadcrumbs and tabs (those the session may open).
/// An inbound source has its overview under `/sources` and its log here.
pub fn app_header(session: &Session, app: &Application, tab: AppTab) -> Markup {
    let base = format!("/apps/{}", app.id);
    let source = roster_engine::inbound::SourceTemplate::parse(&app.template).is_some();
    let tabs = if source {
        vec![
            (AppTab::Overview, "Overview", format!("/sources/{}", app.id)),
            (AppTab::Logs, "Provisioning logs", format!("{base}/logs")),
        ]
    } else {
        vec![
            (AppTab::Overview, "Overview", base.clone()),
            (AppTab::UsersAndGroups, "Users and groups", format!("{base}/users")),
            (AppTab::Provisioning, "Provisioning", format!("{base}/provisioning")),
            (AppTab::Logs, "Provisioning logs", format!("{base}/logs")),
        ]
    };
    let (list, list_name) = if source { ("/sources", "Inbound sources") } else { ("/apps", "Enterprise applications") };
    html! {
        p class="crumbs" { a href=(list) { (list_name) } " › " (app.name) }
        h1 { (app.name) }
        nav class="tabs" aria-label="Application" {
            @for (t, label, href) in tabs.iter().filter(|(_, _, href)| session.may_open(href)) {
                a href=(href) aria-current=[(*t == tab).then_some("page")] { (label) }
            }
        }
    }
}

/// Errors of a form, by field name; `""` is the form's own.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    /// Records an error of a field.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert_with(|| message.into());
    }

    /// The error of a field, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// Whether there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The error of the form as a whole, shown above it.
    pub fn banner(&self) -> Markup {
        html! {
            @if !self.is_empty() {
                div class="notice bad" role="alert" {
                    @if let Some(e) = self.get("") { (e) } @else { "The form has errors: see the fields marked below." }
                }
            }
        }
    }
}

/// The error under a field, linked to its input by id.
pub fn field_error(errors: &FieldErrors, name: &str) -> Markup {
    html! {
        @if let Some(e) = errors.get(name) {
            p class="field-error" id={ "err-" (name) } { (e) }
        }
    }
}

/// A labelled text input with its hint and error.
pub fn text_field(
    kind: &str,
    name: &str,
    label: &str,
    value: &str,
    errors: &FieldErrors,
    hint: Option<&str>,
) -> Markup {
    let invalid = errors.get(name).is_some();
    let described = match (hint.is_some(), invalid) {
        (_, true) => Some(format!("err-{name}")),
        (true, false) => Some(format!("hint-{name}")),
        _ => None,
    };
    html! {
        label for=(name) { (label) }
        input type=(kind) id=(name) name=(name) value=(value)
            aria-invalid=[invalid.then_some("true")] aria-describedby=[described];
        @if let Some(h) = hint { p class="hint" id={ "hint-" (name) } { (h) } }
        (field_error(errors, name))
    }
}

/// A time stored as milliseconds since the epoch, as shown on pages (UTC).
pub fn time(ms: Option<i64>) -> String {
    match ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        None => "—".to_string(),
    }
}

/// A query string from pairs, each value encoded; empty values are left out.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Previous/next links over a listing; `base` is the URL with its filters and
/// without the offset.
pub fn pager(base: &str, offset: i64, limit: i64, total: i64) -> Markup {
    let sep = if base.contains('?') { "&" } else { "?" };
    let first = if total == 0 { 0 } else { offset + 1 };
    let last = (offset + limit).min(total);
    html! {
        nav class="pager" aria-label="Pages" {
            span { (first) "–" (last) " of " (total) }
            @if offset > 0 {
                a class="button secondary" href={ (base) (sep) "offset=" ((offset - limit).max(0)) } { "← Previous" }
            }
            @if offset + limit < total {
                a class="button secondary" href={ (base) (sep) "offset=" (offset + limit) } { "Next →" }
            }
        }
    }
}

/// The notices a page shows after an action, by the code in its `?done=`
/// (never text from the URL, so that a link cannot put words on a page).
const NOTICES: &[(&str, &str)] = &[
    ("user-created", "User created."),
    ("saved", "Saved."),
    (
        "saved-credentials-cleared",
        "Saved. The URL changed, so the credentials sent to it were cleared: enter them again.",
    ),
    ("user-enabled", "User enabled."),
    ("user-disabled", "User disabled: every app disables its account."),
    ("user-deleted", "User deleted: it can be restored for 30 days."),
    ("user-restored", "User restored."),
    ("group-created", "Group created."),
    ("member-added", "Member added."),
    ("member-removed", "Member removed."),
    ("app-created", "Application created. Next: set up provisioning, then assign users and groups."),
    ("assigned", "Assigned."),
    ("batch-approved", "Batch approved: it is applied."),
    ("batch-rejected", "Batch rejected: nothing of it was applied."),
    ("unassigned", "Assignment removed."),
    ("restarted", "Provisioning restarted: the next cycle is an initial one."),
    ("restarted-full", "Provisioning restarted with its state cleared: every account is matched again."),
    ("mapping-saved", "Mapping saved: the next cycle sends what changed."),
    ("mapping-deleted", "Attribute mapping deleted."),
    ("scoping-saved", "Scoping filter saved."),
    ("deletes-allowed", "The staged deletions are allowed: the next cycle carries them out."),
    ("drift-checked", "The drift check is done: nothing was sent to the app."),
    ("drift-repaired", "The repair is done: each object sent again has a provisioning log entry."),
    (
        "dialect-reset",
        "What roster learned of the app's SCIM dialect is forgotten: the next changes try the first forms again.",
    ),
];

/// A notice shown at the top of a page after an action (`?done=<code>`).
pub fn flash(code: Option<&str>) -> Markup {
    let message = code.and_then(|c| NOTICES.iter().find(|(k, _)| *k == c)).map(|(_, m)| *m);
    html! {
        @if let Some(m) = message {
            div class="notice ok" role="status" { (m) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time(Some(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(None), "—");
    }

    #[test]
    fn queries() {
        assert_eq!(query(&[("q", "a b"), ("empty", ""), ("x", "&")]), "q=a+b&x=%26");
    }
}
