//! The Audit log page (admins only): every change made through the API or the
//! portal, sign-ins and token use, newest first, fifty a page, filtered by
//! principal; each entry opens to the request, and the resource before and after.

use crate::error::PortalError;
use crate::layout::{page, pager, query, time, Section};
use crate::session::{Args, Session};
use crate::PortalState;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use roster_store::{AuditEntry, AuditQuery};
use serde::Deserialize;
use serde_json::Value;

const PAGE: i64 = 50;

/// The route of the page.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/audit", get(show))
}

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    principal: Option<String>,
    offset: Option<i64>,
}

fn json_block(label: &str, value: Option<&Value>) -> Markup {
    html! {
        @if let Some(v) = value {
            h3 { (label) }
            pre { (serde_json::to_string_pretty(v).unwrap_or_default()) }
        }
    }
}

fn row(e: &AuditEntry) -> Markup {
    let failed = !e.outcome.starts_with("ok");
    html! {
        tr {
            td { (time(Some(e.at))) }
            td { (e.principal) }
            td { (e.role.map(|r| r.as_str()).unwrap_or("")) }
            td { (e.source.as_deref().unwrap_or("")) }
            td { code { (e.action) } }
            td { (e.target.as_deref().unwrap_or("")) }
            td { @if failed { span class="badge bad" { (e.outcome) } } @else { (e.outcome) } }
            td {
                @if e.request.is_some() || e.before.is_some() || e.after.is_some() {
                    details {
                        summary { "Details" }
                        (json_block("Request", e.request.as_ref()))
                        (json_block("Before", e.before.as_ref()))
                        (json_block("After", e.after.as_ref()))
                    }
                }
            }
        }
    }
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Args(filters): Args<Filters>,
) -> Result<Response, PortalError> {
    let principal = filters.principal.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_string);
    let q = AuditQuery {
        principal: principal.clone(),
        offset: Some(filters.offset.unwrap_or(0).max(0)),
        limit: Some(PAGE),
        ..AuditQuery::default()
    };
    let entries = state.store.audit(&q).await?;
    let shown = principal.unwrap_or_default();
    let base = format!("/audit?{}", query(&[("principal", &shown)]));
    let body = html! {
        h1 { "Audit log" }
        p class="lead" { "Who changed what, when and from where: every change through the API or the portal, sign-ins and token use. Secrets show as “changed”." }
        form class="toolbar" method="get" action="/audit" role="search" {
            div {
                label for="principal" { "Principal" }
                input type="search" id="principal" name="principal" value=(shown) placeholder="admin:alice or token:ci";
            }
            button type="submit" class="secondary" { "Filter" }
        }
        div class="table-wrap" { table {
            thead { tr {
                th { "When" } th { "Who" } th { "Role" } th { "From" } th { "Action" } th { "Target" } th { "Outcome" }
                th { span class="skip" { "Details" } }
            } }
            tbody {
                @for e in &entries.items { (row(e)) }
                @if entries.items.is_empty() { tr { td colspan="8" class="muted" { "No entry matches." } } }
            }
        } }
        (pager(&base, entries.offset, entries.limit, entries.total))
    };
    Ok(page(&session, Section::Audit, "Audit log", body))
}
