//! The Mappings part of the Provisioning tab: an object mapping (enabled, target
//! object, target actions, its matching attributes, the scoping filter) and the
//! attribute-mapping editor: add, edit, delete; mapping type direct, constant,
//! expression or none; source attribute, constant, expression with a live test
//! against a chosen user, default value, apply always or on create only, and
//! matching precedence.
//!
//! An edit is checked the way the engine checks it (`ObjectMapping::compile` of
//! the mapping crate, against the source attributes of the object kind) so that
//! each problem is shown next to its field; then it is saved through
//! `Engine::set_mappings`, as the REST API does.

use crate::error::PortalError;
use crate::form::{field, Button, Form};
use crate::layout::{
    app_header, csrf_field, field_error, flash, page_with_status, text_field, AppTab, FieldErrors, Section,
};
use crate::session::{Args, Session};
use crate::status::app_of;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use roster_mapping::{
    AppMappings, ApplyMapping, AttributeMapping, MappingType, MappingValidationError, ObjectMapping, SourceObjectType,
    TargetActions, GROUP_SOURCE_ATTRIBUTES, USER_SOURCE_ATTRIBUTES,
};
use roster_store::Application;
use serde::Deserialize;

/// The routes of the mapping pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/apps/{id}/provisioning/mappings/{kind}", get(show).post(save_object))
        .route("/apps/{id}/provisioning/mappings/{kind}/attributes/{index}", get(edit_attribute).post(save_attribute))
        .route("/apps/{id}/provisioning/mappings/{kind}/attributes/{index}/delete", post(delete_attribute))
}

/// The path segment of an object kind.
pub fn kind_slug(kind: SourceObjectType) -> &'static str {
    match kind {
        SourceObjectType::User => "user",
        SourceObjectType::Group => "group",
    }
}

/// Reads an object kind from a path segment.
pub fn parse_kind(slug: &str) -> Result<SourceObjectType, PortalError> {
    match slug {
        "user" => Ok(SourceObjectType::User),
        "group" => Ok(SourceObjectType::Group),
        other => Err(PortalError::NotFound(format!("no object mapping {other:?}: use user or group"))),
    }
}

/// The source attributes of an object kind.
pub fn source_attributes(kind: SourceObjectType) -> &'static [&'static str] {
    match kind {
        SourceObjectType::User => USER_SOURCE_ATTRIBUTES,
        SourceObjectType::Group => GROUP_SOURCE_ATTRIBUTES,
    }
}

/// The app, its mapping document and the object mapping a path names.
pub async fn load(
    state: &PortalState,
    id: &str,
    kind: &str,
) -> Result<(Application, AppMappings, SourceObjectType), PortalError> {
    let app = app_of(state, id).await?;
    let kind = parse_kind(kind)?;
    let doc = state.engine()?.mappings(&app.id).await?;
    if doc.object(kind).is_none() {
        return Err(PortalError::NotFound(format!("the app has no {} mapping", kind_slug(kind))));
    }
    Ok((app, doc, kind))
}

/// The object mapping of a kind, to change in place.
pub fn object_mut(doc: &mut AppMappings, kind: SourceObjectType) -> Result<&mut ObjectMapping, PortalError> {
    doc.objects
        .iter_mut()
        .find(|o| o.source_object == kind)
        .ok_or_else(|| PortalError::NotFound(format!("the app has no {} mapping", kind_slug(kind))))
}

/// Checks an object mapping as the engine will; errors go next to their fields.
pub fn check(object: &ObjectMapping, errors: &mut FieldErrors, target: Option<&str>) {
    let Err(problems) = object.compile(source_attributes(object.source_object)) else { return };
    for p in problems {
        let ours = |t: &str| target.is_some_and(|x| x.eq_ignore_ascii_case(t));
        let field = match &p {
            MappingValidationError::UnknownSourceAttribute { target: t, .. } if ours(t) => "source",
            MappingValidationError::InvalidExpression { target: t, .. } if ours(t) => "expression",
            MappingValidationError::DuplicateTarget { target: t } if ours(t) => "target",
            MappingValidationError::EmptyTarget { .. } => "target",
            MappingValidationError::DuplicateMatchingPrecedence { .. } => "matchingPrecedence",
            MappingValidationError::InvalidMatchingAttribute { target: t, .. } if ours(t) => "matching",
            _ => "",
        };
        let message = match &p {
            MappingValidationError::InvalidExpression { expression, error, .. } => error.render(expression),
            other => other.to_string(),
        };
        errors.add(field, message);
    }
}

/// Saves a checked document; a refusal of the engine is the form's error.
pub async fn save_doc(
    state: &PortalState,
    app: &Application,
    doc: AppMappings,
    errors: &mut FieldErrors,
) -> Result<(), PortalError> {
    match state.engine()?.set_mappings(&app.id, doc).await {
        Ok(()) => Ok(()),
        Err(roster_engine::EngineError::Invalid(m)) => {
            errors.add("", m);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn type_of(m: &MappingType) -> (&'static str, String) {
    match m {
        MappingType::Direct { source } => ("Direct", source.clone()),
        MappingType::Constant { value } => ("Constant", format!("\"{value}\"")),
        MappingType::Expression { expression } => ("Expression", expression.clone()),
        MappingType::None => ("None", String::new()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path((id, kind)): Path<(String, String)>,
    Args(done): Args<Done>,
) -> Result<Response, PortalError> {
    let (app, doc, kind) = load(&state, &id, &kind).await?;
    let done = done.done;
    Ok(render_object(&session, &app, &doc, kind, None, &FieldErrors::default(), done.as_deref(), StatusCode::OK, None))
}

/// The form of an object mapping: its name, whether it is on, the target
/// object and the actions it may take there.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ObjectForm {
    #[serde(deserialize_with = "field::text")]
    name: String,
    #[serde(deserialize_with = "field::checkbox")]
    enabled: bool,
    #[serde(deserialize_with = "field::text")]
    target_object: String,
    #[serde(deserialize_with = "field::checkbox")]
    create: bool,
    #[serde(deserialize_with = "field::checkbox")]
    update: bool,
    #[serde(deserialize_with = "field::checkbox")]
    delete: bool,
    /// `save` (or nothing), or `preview[@cursor]` for "Preview changes".
    #[serde(deserialize_with = "field::text")]
    op: String,
}

impl ObjectForm {
    /// The form filled with a saved object mapping.
    fn of(o: &ObjectMapping) -> ObjectForm {
        ObjectForm {
            name: o.name.clone(),
            enabled: o.enabled,
            target_object: o.target_object.clone(),
            create: o.actions.create,
            update: o.actions.update,
            delete: o.actions.delete,
            op: String::new(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn render_object(
    session: &Session,
    app: &Application,
    doc: &AppMappings,
    kind: SourceObjectType,
    sent: Option<&ObjectForm>,
    errors: &FieldErrors,
    done: Option<&str>,
    code: StatusCode,
    preview: Option<Markup>,
) -> Response {
    let Some(o) = doc.object(kind) else {
        return PortalError::NotFound("no such object mapping".into()).into_response();
    };
    let base = format!("/apps/{}/provisioning/mappings/{}", app.id, kind_slug(kind));
    let shown = sent.cloned().unwrap_or_else(|| ObjectForm::of(o));
    let mut matching: Vec<(u32, &str)> =
        o.attributes.iter().filter_map(|a| Some((a.matching_precedence?, a.target.as_str()))).collect();
    matching.sort();
    let may_save = session.may_post(&base);
    let may_edit_attribute = session.may_open(&format!("{base}/attributes/new"));
    let body = html! {
        (app_header(session, app, AppTab::Provisioning))
        p class="crumbs" { a href={ "/apps/" (app.id) "/provisioning" } { "Provisioning" } " › Mappings › " (o.name) }
        (flash(done))
        (errors.banner())
        form method="post" action=(base) class="card" {
            (csrf_field(session))
            h2 { "Object mapping" }
            (text_field("text", "name", "Name", &shown.name, errors, None))
            label class="inline" { input type="checkbox" name="enabled" value="on" checked[shown.enabled]; "Enabled" }
            (text_field("text", "targetObject", "Target object", &shown.target_object, errors, None))
            fieldset {
                legend { "Target object actions" }
                label class="inline" { input type="checkbox" name="create" value="on" checked[shown.create]; "Create" }
                label class="inline" { input type="checkbox" name="update" value="on" checked[shown.update]; "Update" }
                label class="inline" { input type="checkbox" name="delete" value="on" checked[shown.delete]; "Delete" }
            }
            p class="hint" { "Without Delete, an account that leaves scope is disabled, never deleted." }
            @if may_save { div class="actions" {
                button type="submit" name="op" value="save" { "Save" }
                button type="submit" name="op" value="preview" class="secondary" { "Preview changes" }
            } }
            @if let Some(p) = preview { (p) }
        }
        section class="card" {
            h2 { "Source object scope" }
            p {
                @if o.scoping.groups.is_empty() { "All records: no scoping filter." }
                @else { (o.scoping.groups.len()) " clause group(s), ORed; the clauses of a group are ANDed." }
            }
            @if session.may_open(&format!("{base}/scoping")) {
                a class="button secondary" href={ (base) "/scoping" } { "Edit the scoping filter" }
            }
        }
        section class="card" {
            h2 { "Attribute mappings" }
            p class="hint" {
                "Matching attributes, in precedence order: "
                @for (i, (_, t)) in matching.iter().enumerate() { @if i > 0 { ", " } code { (t) } }
            }
            div class="table-wrap" { table {
                thead { tr {
                    th { "Target attribute" } th { "Mapping type" } th { "Source" } th { "Default" }
                    th class="num" { "Matching precedence" } th { "Apply" } th { span class="skip" { "Actions" } }
                } }
                tbody { @for (i, a) in o.attributes.iter().enumerate() {
                    @let (t, src) = type_of(&a.mapping);
                    tr {
                        td { code { (a.target) } }
                        td { (t) }
                        td { code { (src) } }
                        td { (a.default_value.as_deref().unwrap_or("")) }
                        td class="num" { @if let Some(p) = a.matching_precedence { (p) } }
                        td { @if a.apply == ApplyMapping::OnCreateOnly { "On create" } @else { "Always" } }
                        td {
                            @if may_edit_attribute {
                                a class="button secondary small" href={ (base) "/attributes/" (i) } aria-label={ "Edit " (a.target) } { "Edit" }
                                " "
                                form method="post" action={ (base) "/attributes/" (i) "/delete" } data-confirm={ "Delete the mapping of " (a.target) "?" } {
                                    (csrf_field(session))
                                    button type="submit" class="danger small" aria-label={ "Delete " (a.target) } { "Delete" }
                                }
                            }
                        }
                    }
                } }
            } }
            @if may_edit_attribute {
                div class="actions" { a class="button" href={ (base) "/attributes/new" } { "Add new mapping" } }
            }
        }
    };
    page_with_status(code, session, Section::Apps, &format!("{} · {}", app.name, o.name), body)
}

async fn save_object(
    State(state): State<PortalState>,
    session: Session,
    Path((id, kind)): Path<(String, String)>,
    Form(form): Form<ObjectForm>,
) -> Result<Response, PortalError> {
    let (app, mut doc, kind) = load(&state, &id, &kind).await?;
    let mut errors = FieldErrors::default();
    {
        let o = object_mut(&mut doc, kind)?;
        o.name = form.name.clone();
        o.enabled = form.enabled;
        o.target_object = form.target_object.clone();
        o.actions = TargetActions { create: form.create, update: form.update, delete: form.delete };
        if o.name.is_empty() {
            errors.add("name", "Give the mapping a name.");
        }
        if o.target_object.is_empty() {
            errors.add("targetObject", "Name the target object, like User or Group.");
        }
        check(o, &mut errors, None);
    }
    if errors.is_empty() {
        if let Some(p) = crate::plan_view::preview_if(&state, &app.id, &form.op, &doc).await? {
            let saved = state.engine()?.mappings(&app.id).await?;
            return Ok(render_object(
                &session,
                &app,
                &saved,
                kind,
                Some(&form),
                &errors,
                None,
                StatusCode::OK,
                Some(p),
            ));
        }
        save_doc(&state, &app, doc.clone(), &mut errors).await?;
    }
    if errors.is_empty() {
        let to = format!("/apps/{}/provisioning/mappings/{}?done=mapping-saved", app.id, kind_slug(kind));
        return Ok(Redirect::to(&to).into_response());
    }
    Ok(render_object(&session, &app, &doc, kind, Some(&form), &errors, None, StatusCode::BAD_REQUEST, None))
}

fn parse_index(index: &str, len: usize) -> Result<Option<usize>, PortalError> {
    if index == "new" {
        return Ok(None);
    }
    match index.parse::<usize>() {
        Ok(i) if i < len => Ok(Some(i)),
        _ => Err(PortalError::NotFound(format!("no attribute mapping {index:?}"))),
    }
}

async fn edit_attribute(
    State(state): State<PortalState>,
    session: Session,
    Path((id, kind, index)): Path<(String, String, String)>,
) -> Result<Response, PortalError> {
    let (app, doc, kind) = load(&state, &id, &kind).await?;
    let o = doc.object(kind).ok_or_else(|| PortalError::NotFound("no such object mapping".into()))?;
    let i = parse_index(&index, o.attributes.len())?;
    let current = i.and_then(|i| o.attributes.get(i));
    Ok(render_attribute(&session, &app, kind, &index, current, None, &FieldErrors::default(), StatusCode::OK, None))
}

/// The mapping types the attribute editor offers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TypeChoice {
    #[default]
    Direct,
    Constant,
    Expression,
    None,
}

impl TypeChoice {
    fn as_str(self) -> &'static str {
        match self {
            TypeChoice::Direct => "direct",
            TypeChoice::Constant => "constant",
            TypeChoice::Expression => "expression",
            TypeChoice::None => "none",
        }
    }
}

/// The choice of "Match objects using this attribute".
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Matching {
    #[default]
    No,
    Yes,
}

/// The form of the attribute-mapping editor. The precedence is read as text:
/// one that is no number is an error next to its field, not a refused form.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AttributeForm {
    mapping_type: TypeChoice,
    #[serde(deserialize_with = "field::text")]
    source: String,
    /// A constant is taken as typed, spaces included.
    constant: String,
    #[serde(deserialize_with = "field::text")]
    expression: String,
    #[serde(deserialize_with = "field::optional")]
    default_value: Option<String>,
    #[serde(deserialize_with = "field::text")]
    target: String,
    matching: Matching,
    #[serde(deserialize_with = "field::text")]
    matching_precedence: String,
    apply: ApplyMapping,
    /// `save` (or nothing), or `preview[@cursor]` for "Preview changes".
    #[serde(deserialize_with = "field::text")]
    op: String,
}

impl AttributeForm {
    /// The form filled with a saved attribute mapping, or for a new one.
    fn of(current: Option<&AttributeMapping>) -> AttributeForm {
        let Some(a) = current else { return AttributeForm::default() };
        let mut form = AttributeForm {
            default_value: a.default_value.clone(),
            target: a.target.clone(),
            matching: if a.matching_precedence.is_some() { Matching::Yes } else { Matching::No },
            matching_precedence: a.matching_precedence.map(|p| p.to_string()).unwrap_or_default(),
            apply: a.apply,
            ..AttributeForm::default()
        };
        match &a.mapping {
            MappingType::Direct { source } => form.source = source.clone(),
            MappingType::Constant { value } => {
                form.mapping_type = TypeChoice::Constant;
                form.constant = value.clone();
            }
            MappingType::Expression { expression } => {
                form.mapping_type = TypeChoice::Expression;
                form.expression = expression.clone();
            }
            MappingType::None => form.mapping_type = TypeChoice::None,
        }
        form
    }
}

#[allow(clippy::too_many_arguments)]
fn render_attribute(
    session: &Session,
    app: &Application,
    kind: SourceObjectType,
    index: &str,
    current: Option<&AttributeMapping>,
    sent: Option<&AttributeForm>,
    errors: &FieldErrors,
    code: StatusCode,
    preview: Option<Markup>,
) -> Response {
    let base = format!("/apps/{}/provisioning/mappings/{}", app.id, kind_slug(kind));
    let shown = sent.cloned().unwrap_or_else(|| AttributeForm::of(current));
    let mtype = shown.mapping_type.as_str();
    let matching = shown.matching == Matching::Yes;
    let title = if current.is_some() { "Edit attribute mapping" } else { "Add attribute mapping" };
    let body = html! {
        (app_header(session, app, AppTab::Provisioning))
        p class="crumbs" {
            a href={ "/apps/" (app.id) "/provisioning" } { "Provisioning" } " › "
            a href=(base) { "Mappings" } " › " (title)
        }
        (errors.banner())
        form method="post" action={ (base) "/attributes/" (index) } class="card" {
            (csrf_field(session))
            h2 { (title) }
            label for="mapping-type" { "Mapping type" }
            select id="mapping-type" name="mappingType" {
                @for (v, l) in [("direct", "Direct"), ("constant", "Constant"), ("expression", "Expression"), ("none", "None")] {
                    option value=(v) selected[mtype == v] { (l) }
                }
            }
            div data-for-type="direct" {
                label for="source" { "Source attribute" }
                select id="source" name="source" aria-invalid=[errors.get("source").map(|_| "true")] {
                    @for a in source_attributes(kind) { option value=(a) selected[shown.source.eq_ignore_ascii_case(a)] { (a) } }
                }
                (field_error(errors, "source"))
            }
            div data-for-type="constant" {
                (text_field("text", "constant", "Constant value", &shown.constant, errors, None))
            }
            div data-for-type="expression" {
                label for="expression" { "Expression" }
                textarea id="expression" name="expression" rows="3" spellcheck="false"
                    aria-invalid=[errors.get("expression").map(|_| "true")] aria-describedby="hint-expression" { (shown.expression) }
                p class="hint" id="hint-expression" { "For example " code { "Join(\" \", [givenName], [surname])" } "." }
                @if let Some(e) = errors.get("expression") { pre class="field-error" id="err-expression" { (e) } }
                fieldset {
                    legend { "Test the expression" }
                    label for="test-user" { "Against the user" }
                    input type="text" id="test-user" name="testUser" placeholder="A user name; empty tests against an empty user";
                    div class="actions" {
                        button type="button" class="secondary" data-expr-test="/expressions/test" { "Test expression" }
                    }
                    div class="result" data-expr-result aria-live="polite" {}
                }
            }
            (text_field("text", "defaultValue", "Default value if null (optional)", shown.default_value.as_deref().unwrap_or_default(), errors, None))
            (text_field("text", "target", "Target attribute", &shown.target, errors,
                Some("A SCIM path, like emails[type eq \"work\"].value.")))
            label for="matching" { "Match objects using this attribute" }
            select id="matching" name="matching" aria-invalid=[errors.get("matching").map(|_| "true")] {
                option value="no" selected[!matching] { "No" }
                option value="yes" selected[matching] { "Yes" }
            }
            (field_error(errors, "matching"))
            (text_field("number", "matchingPrecedence", "Matching precedence", &shown.matching_precedence, errors, Some("1 is tried first.")))
            label for="apply" { "Apply this mapping" }
            select id="apply" name="apply" {
                option value="always" selected[shown.apply == ApplyMapping::Always] { "Always" }
                option value="onCreateOnly" selected[shown.apply == ApplyMapping::OnCreateOnly] { "Only during object creation" }
            }
            div class="actions" {
                button type="submit" name="op" value="save" { "Save" }
                button type="submit" name="op" value="preview" class="secondary" { "Preview changes" }
                a class="button secondary" href=(base) { "Cancel" }
            }
            @if let Some(p) = preview { (p) }
        }
    };
    page_with_status(code, session, Section::Apps, title, body)
}

/// The attribute mapping a form describes; what cannot be read is a field error.
fn attribute_from(form: &AttributeForm, errors: &mut FieldErrors) -> AttributeMapping {
    let mapping = match form.mapping_type {
        TypeChoice::Constant => MappingType::Constant { value: form.constant.clone() },
        TypeChoice::Expression => {
            if form.expression.is_empty() {
                errors.add("expression", "Write the expression.");
            }
            MappingType::Expression { expression: form.expression.clone() }
        }
        TypeChoice::None => MappingType::None,
        TypeChoice::Direct => MappingType::Direct { source: form.source.clone() },
    };
    let matching_precedence = match form.matching {
        Matching::Yes => match form.matching_precedence.parse::<u32>() {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                errors.add("matchingPrecedence", "A matching attribute needs a precedence of 1 or more.");
                None
            }
        },
        Matching::No => None,
    };
    if form.target.is_empty() {
        errors.add("target", "Name the target attribute.");
    }
    AttributeMapping {
        target: form.target.clone(),
        mapping,
        default_value: form.default_value.clone(),
        apply: form.apply,
        matching_precedence,
    }
}

async fn save_attribute(
    State(state): State<PortalState>,
    session: Session,
    Path((id, kind, index)): Path<(String, String, String)>,
    Form(form): Form<AttributeForm>,
) -> Result<Response, PortalError> {
    let (app, mut doc, kind) = load(&state, &id, &kind).await?;
    let mut errors = FieldErrors::default();
    let attribute = attribute_from(&form, &mut errors);
    let target = attribute.target.clone();
    let previous;
    {
        let o = object_mut(&mut doc, kind)?;
        let i = parse_index(&index, o.attributes.len())?;
        previous = i.and_then(|i| o.attributes.get(i).cloned());
        match i {
            Some(i) => o.attributes[i] = attribute,
            None => o.attributes.push(attribute),
        }
        if errors.is_empty() {
            check(o, &mut errors, Some(&target));
        }
    }
    if errors.is_empty() {
        if let Some(p) = crate::plan_view::preview_if(&state, &app.id, &form.op, &doc).await? {
            let ok = StatusCode::OK;
            return Ok(render_attribute(
                &session,
                &app,
                kind,
                &index,
                previous.as_ref(),
                Some(&form),
                &errors,
                ok,
                Some(p),
            ));
        }
        save_doc(&state, &app, doc, &mut errors).await?;
    }
    if errors.is_empty() {
        let to = format!("/apps/{}/provisioning/mappings/{}?done=mapping-saved", app.id, kind_slug(kind));
        return Ok(Redirect::to(&to).into_response());
    }
    let bad = StatusCode::BAD_REQUEST;
    Ok(render_attribute(&session, &app, kind, &index, previous.as_ref(), Some(&form), &errors, bad, None))
}

async fn delete_attribute(
    State(state): State<PortalState>,
    session: Session,
    Path((id, kind, index)): Path<(String, String, String)>,
    _: Form<Button>,
) -> Result<Response, PortalError> {
    let (app, mut doc, kind) = load(&state, &id, &kind).await?;
    let mut errors = FieldErrors::default();
    {
        let o = object_mut(&mut doc, kind)?;
        let Some(i) = parse_index(&index, o.attributes.len())? else {
            return Err(PortalError::BadRequest("choose the attribute mapping to delete".into()));
        };
        o.attributes.remove(i);
        check(o, &mut errors, None);
    }
    if errors.is_empty() {
        save_doc(&state, &app, doc.clone(), &mut errors).await?;
    }
    if errors.is_empty() {
        let to = format!("/apps/{}/provisioning/mappings/{}?done=mapping-deleted", app.id, kind_slug(kind));
        return Ok(Redirect::to(&to).into_response());
    }
    let saved = state.engine()?.mappings(&app.id).await?;
    Ok(render_object(&session, &app, &saved, kind, None, &errors, None, StatusCode::BAD_REQUEST, None))
}
