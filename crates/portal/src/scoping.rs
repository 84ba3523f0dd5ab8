//! The scoping-filter editor of an object mapping: clause groups ORed, the
//! clauses of a group ANDed, each clause an attribute, one of the sixteen
//! operators of the mapping crate, and a value. Rows are added and removed by
//! the server (the form is sent back with the change), so the editor works
//! without script; Save checks the filter as the engine does and saves the
//! mapping document.

use crate::error::PortalError;
use crate::form::FormFields;
use crate::layout::{app_header, csrf_field, flash, page_with_status, AppTab, FieldErrors, Section};
use crate::mappings::{check, kind_slug, load, object_mut, save_doc, source_attributes};
use crate::session::{Args, Session};
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use roster_mapping::{
    ScopingClause, ScopingClauseGroup, ScopingError, ScopingFilter, ScopingOperator, SourceObjectType,
};
use roster_store::Application;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The routes of the editor.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/apps/{id}/provisioning/mappings/{kind}/scoping", get(show).post(submit))
}

/// Every operator, in the order the editor offers them.
const OPERATORS: [ScopingOperator; 16] = [
    ScopingOperator::Equals,
    ScopingOperator::NotEquals,
    ScopingOperator::IsTrue,
    ScopingOperator::IsFalse,
    ScopingOperator::IsNull,
    ScopingOperator::IsNotNull,
    ScopingOperator::RegexMatch,
    ScopingOperator::NotRegexMatch,
    ScopingOperator::GreaterThan,
    ScopingOperator::GreaterThanOrEquals,
    ScopingOperator::LessThan,
    ScopingOperator::LessThanOrEquals,
    ScopingOperator::Includes,
    ScopingOperator::EndsWith,
    ScopingOperator::BitAnd,
    ScopingOperator::NotBitAnd,
];

/// Fails to compile when the mapping crate gains an operator the editor does not
/// offer yet (the match must name every one, and each is in [`OPERATORS`]).
#[allow(dead_code)]
fn every_operator_is_offered(op: ScopingOperator) -> usize {
    use ScopingOperator::*;
    match op {
        Equals | NotEquals | IsTrue | IsFalse | IsNull | IsNotNull | RegexMatch | NotRegexMatch | GreaterThan
        | GreaterThanOrEquals | LessThan | LessThanOrEquals | Includes | EndsWith | BitAnd | NotBitAnd => {
            OPERATORS.len()
        }
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
    let filter = doc.object(kind).map(|o| o.scoping.clone()).unwrap_or_default();
    let done = done.done;
    Ok(render(&session, &app, kind, &filter, &FieldErrors::default(), done.as_deref(), StatusCode::OK, None))
}

fn clause_field(g: usize, c: usize, part: &str) -> String {
    format!("g{g}.c{c}.{part}")
}

#[allow(clippy::too_many_arguments)]
fn render(
    session: &Session,
    app: &Application,
    kind: SourceObjectType,
    filter: &ScopingFilter,
    errors: &FieldErrors,
    done: Option<&str>,
    code: StatusCode,
    preview: Option<Markup>,
) -> Response {
    let base = format!("/apps/{}/provisioning/mappings/{}", app.id, kind_slug(kind));
    let body = html! {
        (app_header(session, app, AppTab::Provisioning))
        p class="crumbs" {
            a href={ "/apps/" (app.id) "/provisioning" } { "Provisioning" } " › "
            a href=(base) { "Mappings" } " › Scoping filter"
        }
        (flash(done))
        (errors.banner())
        form method="post" action={ (base) "/scoping" } class="card" {
            (csrf_field(session))
            // Enter in a field saves, rather than pressing the first row button.
            button type="submit" name="op" value="save" class="skip" tabindex="-1" aria-hidden="true" { "Save" }
            h2 { "Source object scope" }
            p class="hint" { "An object is in scope when all the clauses of any one group hold. No group: every object is in scope." }
            @for (g, group) in filter.groups.iter().enumerate() {
                @if g > 0 { p { strong { "OR" } } }
                fieldset {
                    legend { "Clause group " (g + 1) " (all must hold)" }
                    @for (c, clause) in group.clauses.iter().enumerate() {
                        @let attr = clause_field(g, c, "attribute");
                        @let op = clause_field(g, c, "operator");
                        @let val = clause_field(g, c, "value");
                        div class="clause-row" {
                            div {
                                label for=(attr) { "Attribute" }
                                select id=(attr) name=(attr) {
                                    @for a in source_attributes(kind) { option value=(a) selected[clause.attribute.eq_ignore_ascii_case(a)] { (a) } }
                                }
                            }
                            div {
                                label for=(op) { "Operator" }
                                select id=(op) name=(op) {
                                    @for o in OPERATORS { option value=(o.as_str()) selected[clause.operator == o] { (o.as_str()) } }
                                }
                            }
                            div {
                                label for=(val) { "Value" }
                                input type="text" id=(val) name=(val) value=(clause.value.as_deref().unwrap_or(""))
                                    aria-invalid=[errors.get(&val).map(|_| "true")];
                            }
                            button type="submit" name="op" value={ "remove:" (g) ":" (c) } class="danger small"
                                aria-label={ "Remove clause " (c + 1) " of group " (g + 1) } { "Remove" }
                        }
                        (crate::layout::field_error(errors, &val))
                    }
                    button type="submit" name="op" value={ "add-clause:" (g) } class="secondary small" { "Add clause" }
                }
            }
            div class="actions" {
                button type="submit" name="op" value="add-group" class="secondary" { "Add scoping clause group (OR)" }
            }
            div class="actions" {
                button type="submit" name="op" value="save" { "Save" }
                button type="submit" name="op" value="preview" class="secondary" { "Preview changes" }
                a class="button secondary" href=(base) { "Cancel" }
            }
            @if let Some(p) = preview { (p) }
        }
    };
    page_with_status(code, session, Section::Apps, "Scoping filter", body)
}

/// The filter the form describes (unknown operators fall back to EQUALS, which
/// the select never sends).
fn filter_from(form: &FormFields) -> ScopingFilter {
    let mut rows: BTreeMap<(usize, usize), ScopingClause> = BTreeMap::new();
    let mut groups: BTreeMap<usize, ()> = BTreeMap::new();
    for (k, v) in &form.0 {
        let Some(rest) = k.strip_prefix('g') else { continue };
        let Some((g, rest)) = rest.split_once(".c") else { continue };
        let Some((c, part)) = rest.split_once('.') else { continue };
        let (Ok(g), Ok(c)) = (g.parse::<usize>(), c.parse::<usize>()) else { continue };
        if g > 100 || c > 100 {
            continue;
        }
        groups.insert(g, ());
        let clause = rows.entry((g, c)).or_insert_with(|| ScopingClause {
            attribute: String::new(),
            operator: ScopingOperator::Equals,
            value: None,
        });
        match part {
            "attribute" => clause.attribute = v.trim().to_string(),
            "operator" => clause.operator = v.parse().unwrap_or(ScopingOperator::Equals),
            "value" => clause.value = Some(v.clone()).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    let mut filter = ScopingFilter::default();
    for g in groups.keys() {
        let clauses = rows.range((*g, 0)..(*g, usize::MAX)).map(|(_, c)| c.clone()).collect();
        filter.groups.push(ScopingClauseGroup { clauses });
    }
    filter
}

fn blank_clause(kind: SourceObjectType) -> ScopingClause {
    let attribute = source_attributes(kind).iter().find(|a| **a == "department").or(source_attributes(kind).first());
    ScopingClause {
        attribute: attribute.map(|a| a.to_string()).unwrap_or_default(),
        operator: ScopingOperator::Equals,
        value: None,
    }
}

fn clause_error(e: &ScopingError, errors: &mut FieldErrors) {
    let at = match e {
        ScopingError::EmptyAttribute { group, clause }
        | ScopingError::MissingValue { group, clause, .. }
        | ScopingError::InvalidRegex { group, clause, .. }
        | ScopingError::NotAnInteger { group, clause, .. } => Some((*group, *clause)),
        _ => None,
    };
    match at {
        Some((g, c)) => errors.add(&clause_field(g.saturating_sub(1), c.saturating_sub(1), "value"), e.to_string()),
        None => errors.add("", e.to_string()),
    }
}

async fn submit(
    State(state): State<PortalState>,
    session: Session,
    Path((id, kind)): Path<(String, String)>,
    form: FormFields,
) -> Result<Response, PortalError> {
    let (app, mut doc, kind) = load(&state, &id, &kind).await?;
    let mut filter = filter_from(&form);
    let op = form.get("op").unwrap_or("save").to_string();
    let op_text = op.clone();
    let mut parts = op.split(':');
    match (
        parts.next(),
        parts.next().and_then(|g| g.parse::<usize>().ok()),
        parts.next().and_then(|c| c.parse::<usize>().ok()),
    ) {
        (Some("add-group"), _, _) => filter.groups.push(ScopingClauseGroup { clauses: vec![blank_clause(kind)] }),
        (Some("add-clause"), Some(g), _) => {
            if let Some(group) = filter.groups.get_mut(g) {
                group.clauses.push(blank_clause(kind));
            }
        }
        (Some("remove"), Some(g), Some(c)) => {
            if let Some(group) = filter.groups.get_mut(g) {
                if c < group.clauses.len() {
                    group.clauses.remove(c);
                }
                if group.clauses.is_empty() {
                    filter.groups.remove(g);
                }
            }
        }
        (Some(op), _, _) if crate::plan_view::preview_op(op).is_some() || op == "save" => {
            let mut errors = FieldErrors::default();
            if let Err(e) = filter.validate() {
                clause_error(&e, &mut errors);
            } else {
                let o = object_mut(&mut doc, kind)?;
                o.scoping = filter.clone();
                check(o, &mut errors, None);
                if errors.is_empty() {
                    if let Some(p) = crate::plan_view::preview_if(&state, &app.id, &op_text, &doc).await? {
                        return Ok(render(&session, &app, kind, &filter, &errors, None, StatusCode::OK, Some(p)));
                    }
                }
                if errors.is_empty() {
                    save_doc(&state, &app, doc, &mut errors).await?;
                }
            }
            if errors.is_empty() {
                let to = format!("/apps/{}/provisioning/mappings/{}?done=scoping-saved", app.id, kind_slug(kind));
                return Ok(Redirect::to(&to).into_response());
            }
            return Ok(render(&session, &app, kind, &filter, &errors, None, StatusCode::BAD_REQUEST, None));
        }
        _ => return Err(PortalError::BadRequest(format!("unknown editor action {op:?}"))),
    }
    Ok(render(&session, &app, kind, &filter, &FieldErrors::default(), None, StatusCode::OK, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_round_trips_through_its_name() {
        for op in OPERATORS {
            assert_eq!(op.as_str().parse::<ScopingOperator>().ok(), Some(op));
        }
    }

    #[test]
    fn a_form_reads_back_as_groups_and_clauses() {
        let form = FormFields::parse(
            b"g0.c0.attribute=department&g0.c0.operator=EQUALS&g0.c0.value=Sales&g0.c1.attribute=active&g0.c1.operator=IS+TRUE&g0.c1.value=&g1.c0.attribute=city&g1.c0.operator=ENDS_WITH&g1.c0.value=lo",
        );
        let f = filter_from(&form);
        assert_eq!(f.groups.len(), 2);
        assert_eq!(f.groups[0].clauses.len(), 2);
        assert_eq!(f.groups[0].clauses[1].operator, ScopingOperator::IsTrue);
        assert_eq!(f.groups[0].clauses[1].value, None);
        assert_eq!(f.groups[1].clauses[0].operator, ScopingOperator::EndsWith);
    }
}
