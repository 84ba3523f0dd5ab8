//! Users of the directory: the list (search and paging), create, edit,
//! disable/enable, delete/restore, and a user's page with the groups it belongs
//! to and the applications it is assigned to, with the groups it came through.

use crate::error::PortalError;
use crate::form::{field, Button, Form};
use crate::layout::{csrf_field, flash, page, page_with_status, pager, query, text_field, time, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use roster_store::{ListQuery, StoreError, User, UserId, UserInput, UserPatch};
use serde::Deserialize;

/// Users per page of the list.
const PAGE: i64 = 50;

/// The routes of the users pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/new", get(new_form).post(create))
        .route("/users/{id}", get(show))
        .route("/users/{id}/edit", get(edit_form).post(update))
        .route("/users/{id}/{action}", post(act))
}

/// Reads one attribute of a user's form.
type Read = fn(&UserForm) -> Option<&str>;

/// The editable attributes: form name (the API's), label, and how to read it.
const FIELDS: &[(&str, &str, Read)] = &[
    ("displayName", "Display name", |u| u.display_name.as_deref()),
    ("givenName", "Given name", |u| u.given_name.as_deref()),
    ("surname", "Surname", |u| u.surname.as_deref()),
    ("mail", "Mail", |u| u.mail.as_deref()),
    ("jobTitle", "Job title", |u| u.job_title.as_deref()),
    ("department", "Department", |u| u.department.as_deref()),
    ("employeeId", "Employee ID", |u| u.employee_id.as_deref()),
    ("mobile", "Mobile", |u| u.mobile.as_deref()),
    ("officeLocation", "Office location", |u| u.office_location.as_deref()),
    ("city", "City", |u| u.city.as_deref()),
    ("country", "Country", |u| u.country.as_deref()),
    ("externalId", "External ID", |u| u.external_id.as_deref()),
];

/// The form of a user: its attributes (by their API names), its manager's user
/// name, and for a new user whether the account is enabled.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct UserForm {
    #[serde(deserialize_with = "field::text")]
    user_name: String,
    #[serde(deserialize_with = "field::optional")]
    external_id: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    display_name: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    given_name: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    surname: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    mail: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    job_title: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    department: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    employee_id: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    mobile: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    office_location: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    city: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    country: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    manager: Option<String>,
    #[serde(deserialize_with = "field::checkbox")]
    active: bool,
}

impl UserForm {
    /// The form of a new user: empty, the account enabled.
    fn blank() -> UserForm {
        UserForm { active: true, ..UserForm::default() }
    }

    /// The form filled with a user's values and its manager's user name.
    fn of(user: &User, manager: Option<String>) -> UserForm {
        UserForm {
            user_name: user.user_name.clone(),
            external_id: user.external_id.clone(),
            display_name: user.display_name.clone(),
            given_name: user.given_name.clone(),
            surname: user.surname.clone(),
            mail: user.mail.clone(),
            job_title: user.job_title.clone(),
            department: user.department.clone(),
            employee_id: user.employee_id.clone(),
            mobile: user.mobile.clone(),
            office_location: user.office_location.clone(),
            city: user.city.clone(),
            country: user.country.clone(),
            manager,
            active: user.active,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListArgs {
    q: Option<String>,
    offset: Option<i64>,
    deleted: Option<String>,
    done: Option<String>,
}

async fn list(
    State(state): State<PortalState>,
    session: Session,
    Args(args): Args<ListArgs>,
) -> Result<Response, PortalError> {
    let q = args.q.clone().unwrap_or_default();
    let include_deleted = args.deleted.as_deref() == Some("1");
    let query_args = ListQuery {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        include_deleted,
        offset: Some(args.offset.unwrap_or(0).max(0)),
        limit: Some(PAGE),
        ..ListQuery::default()
    };
    let users = state.store.list_users(&query_args).await?;
    let base = format!("/users?{}", query(&[("q", &q), ("deleted", if include_deleted { "1" } else { "" })]));
    let body = html! {
        h1 { "Users" }
        (flash(args.done.as_deref()))
        form class="toolbar" method="get" action="/users" role="search" {
            div {
                label for="q" { "Search" }
                input type="search" id="q" name="q" value=(q) placeholder="Name, userName or mail";
            }
            label class="inline" { input type="checkbox" name="deleted" value="1" checked[include_deleted]; "Show deleted users" }
            button type="submit" class="secondary" { "Search" }
            @if session.may_open("/users/new") { a class="button" href="/users/new" { "New user" } }
        }
        div class="table-wrap" {
            table {
                thead { tr { th { "User name" } th { "Display name" } th { "Mail" } th { "Department" } th { "State" } } }
                tbody {
                    @for u in &users.items {
                        tr {
                            td { a href={ "/users/" (u.id) } { (u.user_name) } }
                            td { (u.display_name.as_deref().unwrap_or("")) }
                            td { (u.mail.as_deref().unwrap_or("")) }
                            td { (u.department.as_deref().unwrap_or("")) }
                            td { (state_badge(u)) }
                        }
                    }
                    @if users.items.is_empty() {
                        tr { td colspan="5" class="muted" { "No user matches." } }
                    }
                }
            }
        }
        (pager(&base, users.offset, users.limit, users.total))
    };
    Ok(page(&session, Section::Users, "Users", body))
}

fn state_badge(u: &User) -> Markup {
    html! {
        @if u.is_deleted() { span class="badge bad" { "Deleted" } }
        @else if u.active { span class="badge on" { "Enabled" } }
        @else { span class="badge off" { "Disabled" } }
    }
}

fn user_form(session: &Session, action: &str, user: Option<&User>, values: &UserForm, errors: &FieldErrors) -> Markup {
    let manager = values.manager.as_deref().unwrap_or_default();
    html! {
        (errors.banner())
        form method="post" action=(action) class="card" {
            (csrf_field(session))
            div class="grid2" {
                div { (text_field("text", "userName", "User name (required)", &values.user_name, errors, Some("Unique, for example alice@example.com."))) }
                @for (name, label, read) in FIELDS {
                    div { (text_field("text", name, label, read(values).unwrap_or_default(), errors, None)) }
                }
                div { (text_field("text", "manager", "Manager", manager, errors, Some("The manager's user name."))) }
            }
            @if user.is_none() {
                label class="inline" {
                    input type="checkbox" name="active" value="on" checked[values.active];
                    "Account enabled"
                }
            }
            div class="actions" {
                button type="submit" { "Save" }
                a class="button secondary" href=(user.map(|u| format!("/users/{}", u.id)).unwrap_or_else(|| "/users".into())) { "Cancel" }
            }
        }
    }
}

/// Puts a store refusal next to the field it is about.
fn attribute_error(e: PortalError, errors: &mut FieldErrors) -> Result<(), PortalError> {
    match e {
        PortalError::BadRequest(m) | PortalError::Conflict(m) => {
            let field = ["userName", "manager"]
                .iter()
                .chain(FIELDS.iter().map(|(n, _, _)| n))
                .find(|n| m.contains(*n) || (m.contains("already exists") && **n == "userName"))
                .copied()
                .unwrap_or("");
            errors.add(field, m);
            Ok(())
        }
        other => Err(other),
    }
}

async fn manager_id(
    state: &PortalState,
    form: &UserForm,
    errors: &mut FieldErrors,
) -> Result<Option<UserId>, PortalError> {
    let Some(m) = &form.manager else { return Ok(None) };
    match state.store.find_user(m).await {
        Ok(u) => Ok(Some(u.id)),
        Err(StoreError::NotFound { .. }) => {
            errors.add("manager", format!("{m:?} is not a user of the directory"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

async fn new_form(session: Session) -> Response {
    let body = html! {
        p class="crumbs" { a href="/users" { "Users" } " › New user" }
        h1 { "New user" }
        (user_form(&session, "/users/new", None, &UserForm::blank(), &FieldErrors::default()))
    };
    page(&session, Section::Users, "New user", body)
}

async fn create(
    State(state): State<PortalState>,
    session: Session,
    Form(form): Form<UserForm>,
) -> Result<Response, PortalError> {
    let mut errors = FieldErrors::default();
    let manager = manager_id(&state, &form, &mut errors).await?;
    if errors.is_empty() {
        let input = UserInput {
            user_name: form.user_name.clone(),
            external_id: form.external_id.clone(),
            active: Some(form.active),
            display_name: form.display_name.clone(),
            given_name: form.given_name.clone(),
            surname: form.surname.clone(),
            mail: form.mail.clone(),
            job_title: form.job_title.clone(),
            department: form.department.clone(),
            employee_id: form.employee_id.clone(),
            manager,
            mobile: form.mobile.clone(),
            office_location: form.office_location.clone(),
            city: form.city.clone(),
            country: form.country.clone(),
            ..UserInput::default()
        };
        match state.store.create_user(input).await {
            Ok(u) => return Ok(Redirect::to(&format!("/users/{}?done=user-created", u.id)).into_response()),
            Err(e) => attribute_error(e.into(), &mut errors)?,
        }
    }
    let body = html! {
        p class="crumbs" { a href="/users" { "Users" } " › New user" }
        h1 { "New user" }
        (user_form(&session, "/users/new", None, &form, &errors))
    };
    Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Users, "New user", body))
}

async fn user_by_path(state: &PortalState, id: &str) -> Result<User, PortalError> {
    Ok(state.store.find_user(id).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let user = user_by_path(&state, &id).await?;
    let manager = match &user.manager {
        Some(m) => state.store.user(m).await.ok(),
        None => None,
    };
    let group_ids = state.store.groups_of_user(&user.id).await?;
    let mut groups = state.store.groups_by_ids(&group_ids).await?;
    groups.sort_by_key(|g| g.display_name.to_lowercase());
    let apps = state.store.effective_assignments_of_user(&user.id).await?;
    let done = done.done;
    let base = format!("/users/{}", user.id);
    let attributes = UserForm::of(&user, None);
    let body = html! {
        p class="crumbs" { a href="/users" { "Users" } " › " (user.user_name) }
        h1 { (user.display_name.as_deref().unwrap_or(&user.user_name)) " " (state_badge(&user)) }
        (flash(done.as_deref()))
        div class="actions" {
            @if !user.is_deleted() {
                @if session.may_open(&format!("{base}/edit")) { a class="button" href={ (base) "/edit" } { "Edit" } }
                @if user.active {
                    (action_button(&session, &base, "disable", "Disable", "secondary", None))
                } @else {
                    (action_button(&session, &base, "enable", "Enable", "secondary", None))
                }
                (action_button(&session, &base, "delete", "Delete", "danger",
                    Some("Delete this user? It is kept for 30 days and can be restored.")))
            } @else {
                (action_button(&session, &base, "restore", "Restore", "", None))
            }
        }
        section class="card" {
            h2 { "Attributes" }
            dl class="facts" {
                dt { "User name" } dd { (user.user_name) }
                @for (_, label, read) in FIELDS {
                    @if let Some(v) = read(&attributes) { dt { (label) } dd { (v) } }
                }
                @if let Some(m) = &manager { dt { "Manager" } dd { a href={ "/users/" (m.id) } { (m.user_name) } } }
                @for (k, v) in &user.extensions { dt { "extension_" (k) } dd { (v) } }
                dt { "Object ID" } dd { code { (user.id) } }
                dt { "Created" } dd { (time(Some(user.created_at))) }
                dt { "Updated" } dd { (time(Some(user.updated_at))) }
                @if user.deleted_at.is_some() { dt { "Deleted" } dd { (time(user.deleted_at)) } }
            }
        }
        section class="card" {
            h2 { "Applications" }
            @if apps.is_empty() {
                p class="muted" { "Not assigned to any application." }
            } @else {
                div class="table-wrap" { table {
                    thead { tr { th { "Application" } th { "Role" } th { "Assigned" } } }
                    tbody { @for a in &apps { tr {
                        td { a href={ "/apps/" (a.app_id) } { (a.app_name) } }
                        td { (a.role_name) }
                        td {
                            @if a.via.is_empty() { "Directly" } @else {
                                "Through "
                                @for (i, g) in a.via.iter().enumerate() {
                                    @if i > 0 { " › " }
                                    a href={ "/groups/" (g.id) } { (g.display_name) }
                                }
                            }
                        }
                    } } }
                } }
            }
        }
        section class="card" {
            h2 { "Groups" }
            @if groups.is_empty() { p class="muted" { "Member of no group." } }
            ul { @for g in &groups { li { a href={ "/groups/" (g.id) } { (g.display_name) } } } }
            p class="hint" { "Including the groups it belongs to through nested groups." }
        }
    };
    Ok(page(&session, Section::Users, &user.user_name, body))
}

/// A one-button form that POSTs an action; nothing when the session's role may
/// not.
pub fn action_button(
    session: &Session,
    base: &str,
    action: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
) -> Markup {
    let url = format!("{base}/{action}");
    html! {
        @if session.may_post(&url) {
            form method="post" action=(url) data-confirm=[confirm] {
                (csrf_field(session))
                button type="submit" class=(class) { (label) }
            }
        }
    }
}

async fn edit_form(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let user = user_by_path(&state, &id).await?;
    let manager = match &user.manager {
        Some(m) => state.store.user(m).await.ok().map(|m| m.user_name),
        None => None,
    };
    let body = html! {
        p class="crumbs" { a href="/users" { "Users" } " › " a href={ "/users/" (user.id) } { (user.user_name) } " › Edit" }
        h1 { "Edit " (user.user_name) }
        (user_form(&session, &format!("/users/{}/edit", user.id), Some(&user), &UserForm::of(&user, manager), &FieldErrors::default()))
    };
    Ok(page(&session, Section::Users, "Edit user", body))
}

async fn update(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<UserForm>,
) -> Result<Response, PortalError> {
    let user = user_by_path(&state, &id).await?;
    let mut errors = FieldErrors::default();
    let manager = manager_id(&state, &form, &mut errors).await?;
    if errors.is_empty() {
        let patch = UserPatch {
            user_name: Some(Some(form.user_name.clone())),
            external_id: Some(form.external_id.clone()),
            display_name: Some(form.display_name.clone()),
            given_name: Some(form.given_name.clone()),
            surname: Some(form.surname.clone()),
            mail: Some(form.mail.clone()),
            job_title: Some(form.job_title.clone()),
            department: Some(form.department.clone()),
            employee_id: Some(form.employee_id.clone()),
            manager: Some(manager),
            mobile: Some(form.mobile.clone()),
            office_location: Some(form.office_location.clone()),
            city: Some(form.city.clone()),
            country: Some(form.country.clone()),
            ..UserPatch::default()
        };
        match state.store.update_user(&user.id, patch).await {
            Ok(u) => return Ok(Redirect::to(&format!("/users/{}?done=saved", u.id)).into_response()),
            Err(e) => attribute_error(e.into(), &mut errors)?,
        }
    }
    let body = html! {
        h1 { "Edit " (user.user_name) }
        (user_form(&session, &format!("/users/{}/edit", user.id), Some(&user), &form, &errors))
    };
    Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Users, "Edit user", body))
}

async fn act(
    State(state): State<PortalState>,
    Path((id, action)): Path<(String, String)>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let user = user_by_path(&state, &id).await?;
    let done = match action.as_str() {
        "disable" | "enable" => {
            let patch = UserPatch { active: Some(Some(action == "enable")), ..UserPatch::default() };
            state.store.update_user(&user.id, patch).await?;
            if action == "enable" {
                "user-enabled"
            } else {
                "user-disabled"
            }
        }
        "delete" => {
            state.store.delete_user(&user.id).await?;
            "user-deleted"
        }
        "restore" => {
            state.store.restore_user(&user.id).await?;
            "user-restored"
        }
        other => return Err(PortalError::NotFound(format!("no user action {other:?}"))),
    };
    Ok(Redirect::to(&format!("/users/{}?done={done}", user.id)).into_response())
}
