//! Groups of the directory: the list (search and paging), create, edit, delete,
//! and a group's page with its members (users and nested groups), the groups it
//! is nested in, and forms to add and remove members.

use crate::error::PortalError;
use crate::form::{field, Button, Form};
use crate::layout::{csrf_field, flash, page, page_with_status, pager, query, text_field, time, FieldErrors, Section};
use crate::session::{Args, Session};
use crate::users::action_button;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use roster_store::{Group, GroupInput, GroupPatch, PrincipalKind, StoreError};
use serde::Deserialize;

/// Groups or members per page.
const PAGE: i64 = 50;

/// The routes of the groups pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/groups", get(list))
        .route("/groups/new", get(new_form).post(create))
        .route("/groups/{id}", get(show))
        .route("/groups/{id}/edit", get(edit_form).post(update))
        .route("/groups/{id}/delete", post(delete))
        .route("/groups/{id}/members", post(add_member))
        .route("/groups/{id}/members/{member}/remove", post(remove_member))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListArgs {
    q: Option<String>,
    offset: Option<i64>,
    done: Option<String>,
}

async fn list(
    State(state): State<PortalState>,
    session: Session,
    Args(args): Args<ListArgs>,
) -> Result<Response, PortalError> {
    let q = args.q.clone().unwrap_or_default();
    let groups = state.store.list_groups(None, Some(&q), args.offset.unwrap_or(0), PAGE).await?;
    let base = format!("/groups?{}", query(&[("q", &q)]));
    let body = html! {
        h1 { "Groups" }
        (flash(args.done.as_deref()))
        form class="toolbar" method="get" action="/groups" role="search" {
            div {
                label for="q" { "Search" }
                input type="search" id="q" name="q" value=(q) placeholder="Name or description";
            }
            button type="submit" class="secondary" { "Search" }
            @if session.may_open("/groups/new") { a class="button" href="/groups/new" { "New group" } }
        }
        div class="table-wrap" { table {
            thead { tr { th { "Name" } th { "Description" } th class="num" { "Direct members" } } }
            tbody {
                @for g in &groups.items { tr {
                    td { a href={ "/groups/" (g.id) } { (g.display_name) } }
                    td { (g.description.as_deref().unwrap_or("")) }
                    td class="num" { (g.member_count) }
                } }
                @if groups.items.is_empty() { tr { td colspan="3" class="muted" { "No group matches." } } }
            }
        } }
        (pager(&base, groups.offset, groups.limit, groups.total))
    };
    Ok(page(&session, Section::Groups, "Groups", body))
}

/// The form of a group: its name, description and mail nickname.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GroupForm {
    #[serde(deserialize_with = "field::text")]
    display_name: String,
    #[serde(deserialize_with = "field::optional")]
    description: Option<String>,
    #[serde(deserialize_with = "field::optional")]
    mail_nickname: Option<String>,
}

impl GroupForm {
    /// The form filled with a group's values.
    fn of(group: &Group) -> GroupForm {
        GroupForm {
            display_name: group.display_name.clone(),
            description: group.description.clone(),
            mail_nickname: group.mail_nickname.clone(),
        }
    }
}

/// The form of Add a member: the member's name and whether it is a user or a group.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemberForm {
    #[serde(deserialize_with = "field::text")]
    member: String,
    kind: Option<PrincipalKind>,
}

fn group_form(
    session: &Session,
    action: &str,
    group: Option<&Group>,
    values: &GroupForm,
    errors: &FieldErrors,
) -> Markup {
    let description = values.description.as_deref().unwrap_or_default();
    let mail_nickname = values.mail_nickname.as_deref().unwrap_or_default();
    html! {
        (errors.banner())
        form method="post" action=(action) class="card" {
            (csrf_field(session))
            (text_field("text", "displayName", "Name (required)", &values.display_name, errors, None))
            (text_field("text", "description", "Description", description, errors, None))
            (text_field("text", "mailNickname", "Mail nickname", mail_nickname, errors, None))
            div class="actions" {
                button type="submit" { "Save" }
                a class="button secondary" href=(group.map(|g| format!("/groups/{}", g.id)).unwrap_or_else(|| "/groups".into())) { "Cancel" }
            }
        }
    }
}

fn field_of(message: &str) -> &'static str {
    ["displayName", "description", "mailNickname"]
        .into_iter()
        .find(|f| message.contains(f))
        .unwrap_or(if message.contains("already exists") { "displayName" } else { "" })
}

async fn new_form(session: Session) -> Response {
    let body = html! {
        p class="crumbs" { a href="/groups" { "Groups" } " › New group" }
        h1 { "New group" }
        (group_form(&session, "/groups/new", None, &GroupForm::default(), &FieldErrors::default()))
    };
    page(&session, Section::Groups, "New group", body)
}

async fn create(
    State(state): State<PortalState>,
    session: Session,
    Form(form): Form<GroupForm>,
) -> Result<Response, PortalError> {
    let input = GroupInput {
        display_name: form.display_name.clone(),
        description: form.description.clone(),
        mail_nickname: form.mail_nickname.clone(),
    };
    let mut errors = FieldErrors::default();
    match state.store.create_group(input).await {
        Ok(g) => return Ok(Redirect::to(&format!("/groups/{}?done=group-created", g.id)).into_response()),
        Err(StoreError::Invalid { message } | StoreError::Conflict { message }) => {
            errors.add(field_of(&message), message)
        }
        Err(e) => return Err(e.into()),
    }
    let body = html! {
        h1 { "New group" }
        (group_form(&session, "/groups/new", None, &form, &errors))
    };
    Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Groups, "New group", body))
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowArgs {
    offset: Option<i64>,
    done: Option<String>,
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Args(args): Args<ShowArgs>,
) -> Result<Response, PortalError> {
    let group = state.store.find_group(&id).await?;
    render_group(&state, &session, &group, &args, &FieldErrors::default(), StatusCode::OK, "", PrincipalKind::User)
        .await
}

#[allow(clippy::too_many_arguments)]
async fn render_group(
    state: &PortalState,
    session: &Session,
    group: &Group,
    args: &ShowArgs,
    errors: &FieldErrors,
    status: StatusCode,
    member_name: &str,
    member_kind: PrincipalKind,
) -> Result<Response, PortalError> {
    let members = state.store.group_members(&group.id, args.offset.unwrap_or(0), PAGE).await?;
    let parent_ids = state.store.containing_groups(&[group.id.as_str()]).await?;
    let parents = state.store.groups_by_ids(&parent_ids).await?;
    let base = format!("/groups/{}", group.id);
    let may_change_members = session.may_post(&format!("{base}/members"));
    let body = html! {
        p class="crumbs" { a href="/groups" { "Groups" } " › " (group.display_name) }
        h1 { (group.display_name) }
        (flash(args.done.as_deref()))
        div class="actions" {
            @if session.may_open(&format!("{base}/edit")) { a class="button" href={ (base) "/edit" } { "Edit" } }
            (action_button(session, &base, "delete", "Delete group", "danger",
                Some("Delete this group? Its members stay in the directory; apps assigned through it lose them.")))
        }
        section class="card" {
            dl class="facts" {
                @if let Some(d) = &group.description { dt { "Description" } dd { (d) } }
                @if let Some(m) = &group.mail_nickname { dt { "Mail nickname" } dd { (m) } }
                dt { "Direct members" } dd { (group.member_count) }
                dt { "Object ID" } dd { code { (group.id) } }
                dt { "Created" } dd { (time(Some(group.created_at))) }
                @if !parents.is_empty() {
                    dt { "Member of" }
                    dd { @for (i, p) in parents.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "/groups/" (p.id) } { (p.display_name) }
                    } }
                }
            }
        }
        @if may_change_members { section class="card" {
            h2 { "Add a member" }
            (errors.banner())
            form method="post" action={ (base) "/members" } {
                (csrf_field(session))
                fieldset {
                    legend { "Kind of member" }
                    label class="inline" { input type="radio" name="kind" value="user" checked[member_kind != PrincipalKind::Group]; "User" }
                    label class="inline" { input type="radio" name="kind" value="group" checked[member_kind == PrincipalKind::Group]; "Group (nested)" }
                }
                (text_field("text", "member", "User name or group name", member_name, errors, None))
                div class="actions" { button type="submit" { "Add member" } }
            }
        } }
        section class="card" {
            h2 { "Members" }
            div class="table-wrap" { table {
                thead { tr { th { "Name" } th { "Kind" } th { span class="skip" { "Actions" } } } }
                tbody {
                    @for m in &members.items { tr {
                        td {
                            @match m.kind {
                                PrincipalKind::User => a href={ "/users/" (m.id) } { (m.name) },
                                PrincipalKind::Group => a href={ "/groups/" (m.id) } { (m.name) },
                            }
                        }
                        td { @if m.kind == PrincipalKind::Group { "Group" } @else { "User" } }
                        td {
                            @if may_change_members {
                                form method="post" action={ (base) "/members/" (m.id) "/remove" } {
                                    (csrf_field(session))
                                    button type="submit" class="danger small" aria-label={ "Remove " (m.name) } { "Remove" }
                                }
                            }
                        }
                    } }
                    @if members.items.is_empty() { tr { td colspan="3" class="muted" { "No members yet." } } }
                }
            } }
            (pager(&base, members.offset, members.limit, members.total))
        }
    };
    Ok(page_with_status(status, session, Section::Groups, &group.display_name, body))
}

async fn edit_form(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let group = state.store.find_group(&id).await?;
    let body = html! {
        p class="crumbs" { a href="/groups" { "Groups" } " › " a href={ "/groups/" (group.id) } { (group.display_name) } " › Edit" }
        h1 { "Edit " (group.display_name) }
        (group_form(&session, &format!("/groups/{}/edit", group.id), Some(&group), &GroupForm::of(&group), &FieldErrors::default()))
    };
    Ok(page(&session, Section::Groups, "Edit group", body))
}

async fn update(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<GroupForm>,
) -> Result<Response, PortalError> {
    let group = state.store.find_group(&id).await?;
    let patch = GroupPatch {
        display_name: Some(form.display_name.clone()),
        description: Some(form.description.clone()),
        mail_nickname: Some(form.mail_nickname.clone()),
    };
    let mut errors = FieldErrors::default();
    match state.store.update_group(&group.id, patch).await {
        Ok(g) => return Ok(Redirect::to(&format!("/groups/{}?done=saved", g.id)).into_response()),
        Err(StoreError::Invalid { message } | StoreError::Conflict { message }) => {
            errors.add(field_of(&message), message)
        }
        Err(e) => return Err(e.into()),
    }
    let body = html! {
        h1 { "Edit " (group.display_name) }
        (group_form(&session, &format!("/groups/{}/edit", group.id), Some(&group), &form, &errors))
    };
    Ok(page_with_status(StatusCode::BAD_REQUEST, &session, Section::Groups, "Edit group", body))
}

async fn delete(
    State(state): State<PortalState>,
    Path(id): Path<String>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let group = state.store.find_group(&id).await?;
    state.store.delete_group(&group.id).await?;
    Ok(Redirect::to("/groups").into_response())
}

async fn add_member(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Form(MemberForm { member: name, kind }): Form<MemberForm>,
) -> Result<Response, PortalError> {
    let group = state.store.find_group(&id).await?;
    let kind = kind.unwrap_or(PrincipalKind::User);
    let mut errors = FieldErrors::default();
    let added = if name.is_empty() {
        Err(StoreError::Invalid { message: "Enter the name of the user or group to add.".into() })
    } else if kind == PrincipalKind::Group {
        match state.store.find_group(&name).await {
            Ok(child) => state.store.add_group_member(&group.id, &child.id).await,
            Err(e) => Err(e),
        }
    } else {
        match state.store.find_user(&name).await {
            Ok(u) => state.store.add_user_member(&group.id, &u.id).await,
            Err(e) => Err(e),
        }
    };
    match added {
        Ok(()) => return Ok(Redirect::to(&format!("/groups/{}?done=member-added", group.id)).into_response()),
        Err(StoreError::NotFound { .. }) => {
            errors.add("member", format!("There is no {} named {name:?} in the directory.", kind.as_str()))
        }
        Err(StoreError::Invalid { message } | StoreError::Conflict { message }) => errors.add("member", message),
        Err(e) => return Err(e.into()),
    }
    render_group(&state, &session, &group, &ShowArgs::default(), &errors, StatusCode::BAD_REQUEST, &name, kind).await
}

async fn remove_member(
    State(state): State<PortalState>,
    Path((id, member)): Path<(String, String)>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let group = state.store.find_group(&id).await?;
    state.store.remove_member(&group.id, &member).await?;
    Ok(Redirect::to(&format!("/groups/{}?done=member-removed", group.id)).into_response())
}
