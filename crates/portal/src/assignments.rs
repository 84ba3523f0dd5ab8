//! An application's Users and groups tab: who is assigned (users and groups,
//! each with an app role), assign more with a role from the app's own list, and
//! remove an assignment. Only assigned users (directly or through a group, nested
//! groups included) get accounts in the app.

use crate::error::PortalError;
use crate::form::{field, Form};
use crate::layout::{app_header, csrf_field, flash, page_with_status, pager, text_field, AppTab, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::status::app_of;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use roster_store::{Application, AssignmentTarget, GroupId, PrincipalKind, RoleId, StoreError, UserId};
use serde::Deserialize;

const PAGE: i64 = 50;

/// The routes of the tab.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps/{id}/users", get(show))
        .route("/apps/{id}/users/assign", post(assign))
        .route("/apps/{id}/users/unassign", post(unassign))
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowArgs {
    offset: Option<i64>,
    done: Option<String>,
}

/// The form of Add assignment: a user or a group by name, and the app role.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AssignForm {
    kind: Option<PrincipalKind>,
    #[serde(deserialize_with = "field::text")]
    name: String,
    #[serde(deserialize_with = "field::optional")]
    role: Option<String>,
}

/// The form of an assignment's Remove button: its principal and role.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UnassignForm {
    kind: Option<PrincipalKind>,
    #[serde(deserialize_with = "field::text")]
    principal: String,
    #[serde(deserialize_with = "field::optional")]
    role: Option<String>,
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(args): Args<ShowArgs>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    render(&state, &session, &app, &args, &AssignForm::default(), &FieldErrors::default(), StatusCode::OK).await
}

async fn render(
    state: &PortalState,
    session: &Session,
    app: &Application,
    args: &ShowArgs,
    form: &AssignForm,
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let roles = state.store.app_roles(&app.id).await?;
    let assignments = state.store.app_assignments(&app.id, args.offset.unwrap_or(0), PAGE).await?;
    let base = format!("/apps/{}/users", app.id);
    let group = form.kind == Some(PrincipalKind::Group);
    let chosen_role = form.role.as_deref().unwrap_or_default();
    let may_assign = session.may_post(&format!("{base}/assign"));
    let may_unassign = session.may_post(&format!("{base}/unassign"));
    let body = html! {
        (app_header(session, app, AppTab::UsersAndGroups))
        (flash(args.done.as_deref()))
        @if may_assign { section class="card" {
            h2 { "Add assignment" }
            (errors.banner())
            form method="post" action={ (base) "/assign" } {
                (csrf_field(session))
                fieldset {
                    legend { "Assign a" }
                    label class="inline" { input type="radio" name="kind" value="user" checked[!group]; "User" }
                    label class="inline" { input type="radio" name="kind" value="group" checked[group]; "Group" }
                }
                (text_field("text", "name", "User name or group name", &form.name, errors,
                    Some("A group's members get accounts, members of nested groups too.")))
                label for="role" { "Role" }
                select id="role" name="role" aria-invalid=[errors.get("role").map(|_| "true")] {
                    @for r in &roles {
                        option value=(r.name) selected[chosen_role == r.name || (chosen_role.is_empty() && r.is_default)] {
                            (r.name)
                            @if let Some(d) = &r.description { " — " (d) }
                        }
                    }
                }
                (crate::layout::field_error(errors, "role"))
                div class="actions" { button type="submit" { "Assign" } }
            }
        } }
        section class="card" {
            h2 { "Assigned users and groups" }
            div class="table-wrap" { table {
                thead { tr { th { "Name" } th { "Kind" } th { "Role" } th { span class="skip" { "Actions" } } } }
                tbody {
                    @for a in &assignments.items { tr {
                        td {
                            @match a.principal_kind {
                                PrincipalKind::User => a href={ "/users/" (a.principal_id) } { (a.principal_name) },
                                PrincipalKind::Group => a href={ "/groups/" (a.principal_id) } { (a.principal_name) },
                            }
                        }
                        td { @if a.principal_kind == PrincipalKind::Group { "Group" } @else { "User" } }
                        td { (a.role_name) }
                        td {
                            @if may_unassign {
                                form method="post" action={ (base) "/unassign" } {
                                    (csrf_field(session))
                                    input type="hidden" name="kind" value=(a.principal_kind.as_str());
                                    input type="hidden" name="principal" value=(a.principal_id);
                                    input type="hidden" name="role" value=(a.role_id);
                                    button type="submit" class="danger small" aria-label={ "Remove " (a.principal_name) } { "Remove" }
                                }
                            }
                        }
                    } }
                    @if assignments.items.is_empty() { tr { td colspan="4" class="muted" { "Nobody is assigned yet." } } }
                }
            } }
            (pager(&base, assignments.offset, assignments.limit, assignments.total))
        }
    };
    Ok(page_with_status(status, session, Section::Apps, &app.name, body))
}

async fn assign(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let name = &form.name;
    let group = form.kind == Some(PrincipalKind::Group);
    let mut errors = FieldErrors::default();
    let target = if name.is_empty() {
        errors.add("name", "Enter the user or group to assign.");
        None
    } else if group {
        match state.store.find_group(name).await {
            Ok(g) => Some(AssignmentTarget::Group(g.id)),
            Err(StoreError::NotFound { .. }) => {
                errors.add("name", format!("There is no group named {name:?}."));
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        match state.store.find_user(name).await {
            Ok(u) => Some(AssignmentTarget::User(u.id)),
            Err(StoreError::NotFound { .. }) => {
                errors.add("name", format!("There is no user named {name:?}."));
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    if let Some(target) = target {
        match state.store.assign(&app.id, &target, form.role.as_deref()).await {
            Ok(_) => return Ok(Redirect::to(&format!("/apps/{}/users?done=assigned", app.id)).into_response()),
            Err(StoreError::NotFound { kind: "role", .. }) => errors.add("role", "The app has no such role."),
            Err(StoreError::Invalid { message } | StoreError::Conflict { message }) => {
                let field = if message.to_lowercase().contains("role") { "role" } else { "name" };
                errors.add(field, message)
            }
            Err(e) => return Err(e.into()),
        }
    }
    render(&state, &session, &app, &ShowArgs::default(), &form, &errors, StatusCode::BAD_REQUEST).await
}

async fn unassign(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    Form(UnassignForm { kind, principal, role }): Form<UnassignForm>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    // The form names ids the page showed; one that is no id names nothing assigned.
    let unknown = |what: &str, id: &str| PortalError::NotFound(format!("{what} {id:?} not found"));
    let target = match kind {
        Some(PrincipalKind::Group) => {
            AssignmentTarget::Group(GroupId::parse(&principal).ok_or_else(|| unknown("group", &principal))?)
        }
        _ => AssignmentTarget::User(UserId::parse(&principal).ok_or_else(|| unknown("user", &principal))?),
    };
    let role = role.map(|r| RoleId::parse(&r).ok_or_else(|| unknown("app role", &r))).transpose()?;
    state.store.unassign(&app.id, &target, role.as_ref()).await?;
    Ok(Redirect::to(&format!("/apps/{}/users?done=unassigned", app.id)).into_response())
}
