//! Provision on demand: pick a user, run the provisioning steps for it now
//! (`Engine::provision_on_demand`), and show each step's outcome (Import, Scope,
//! Match, Action), the properties sent (old → new) and the app's error, if any.

use crate::error::PortalError;
use crate::form::{field, Form};
use crate::layout::{app_header, csrf_field, page_with_status, text_field, AppTab, FieldErrors, Section};
use crate::logs::entry_detail;
use crate::session::Session;
use crate::status::app_of;
use crate::PortalState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;
use roster_engine::on_demand::ProvisioningOutcome;
use roster_store::{Application, StoreError};
use serde::Deserialize;

/// The routes of the page.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/apps/{id}/provisioning/on-demand", get(show).post(run))
}

async fn show(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    Ok(render(&session, &app, "", &FieldErrors::default(), None, StatusCode::OK))
}

fn render(
    session: &Session,
    app: &Application,
    user: &str,
    errors: &FieldErrors,
    result: Option<&ProvisioningOutcome>,
    code: StatusCode,
) -> Response {
    let body = html! {
        (app_header(session, app, AppTab::Provisioning))
        p class="crumbs" { a href={ "/apps/" (app.id) "/provisioning" } { "Provisioning" } " › Provision on demand" }
        section class="card" {
            h2 { "Provision on demand" }
            (errors.banner())
            form method="post" action={ "/apps/" (app.id) "/provisioning/on-demand" } {
                (csrf_field(session))
                (text_field("text", "user", "User", user, errors, Some("The user name (or object ID) of the user to provision now.")))
                div class="actions" { button type="submit" { "Provision" } }
            }
        }
        @if let Some(r) = result {
            section class="card" id="on-demand-result" {
                h2 { "Result" }
                (entry_detail(r))
            }
        }
    };
    page_with_status(code, session, Section::Apps, &format!("{} · Provision on demand", app.name), body)
}

/// The form of Provision on demand: the user to provision.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OnDemand {
    #[serde(deserialize_with = "field::text")]
    user: String,
}

async fn run(
    State(state): State<PortalState>,
    session: Session,
    Path(id): Path<String>,
    Form(OnDemand { user: name }): Form<OnDemand>,
) -> Result<Response, PortalError> {
    let app = app_of(&state, &id).await?;
    let mut errors = FieldErrors::default();
    if name.is_empty() {
        errors.add("user", "Enter the user to provision.");
        return Ok(render(&session, &app, &name, &errors, None, StatusCode::BAD_REQUEST));
    }
    let user = match state.store.find_user(&name).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => {
            errors.add("user", format!("There is no user named {name:?}."));
            return Ok(render(&session, &app, &name, &errors, None, StatusCode::BAD_REQUEST));
        }
        Err(e) => return Err(e.into()),
    };
    match state.engine()?.provision_on_demand(&app.id, &user.id).await {
        Ok(result) => Ok(render(&session, &app, &name, &errors, Some(&result), StatusCode::OK)),
        Err(e) => match PortalError::from(e) {
            PortalError::BadRequest(m) | PortalError::Conflict(m) | PortalError::App(m) => {
                errors.add("", m);
                Ok(render(&session, &app, &name, &errors, None, StatusCode::BAD_REQUEST))
            }
            other => Err(other),
        },
    }
}
