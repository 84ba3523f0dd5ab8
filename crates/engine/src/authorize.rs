//! Authorize: the OAuth 2.0 authorization-code flow that gives roster an
//! app's admin credentials (Dropbox for Business). `begin` makes the URL a
//! team admin opens, with a random `state` remembered (hashed) for 15
//! minutes; `complete` checks the state the vendor sends back, exchanges the
//! code, and seals the refresh token with the other credentials. Nothing of
//! it is ever shown again.

use crate::gallery::{self, ConnectorKind};
use crate::settings::JobSettings;
use crate::{connect, Engine, EngineError};
use roster_connectors::dropbox::{authorize_url, exchange_code};
use roster_store::secrets::SecretString;
use roster_store::AppId;

/// How an Authorize request came back from the vendor.
#[derive(Debug, Clone)]
pub enum Consent {
    /// The admin allowed roster: the code to exchange (a one-time credential).
    Code(SecretString),
    /// The vendor said no (`error`, `error_description`).
    Refused { error: String, description: Option<String> },
}

impl Engine {
    async fn oauth_job(&self, app: &AppId) -> Result<(JobSettings, Option<String>), EngineError> {
        let row = self.store().job(app).await?;
        let (settings, sealed) = match row {
            Some(r) => (crate::job::settings_of(&r)?, r.credentials),
            None => (gallery::require(&self.store().app(app).await?.template)?.initial_settings(), None),
        };
        let template = gallery::require(&settings.template)?;
        if !template.authorize || template.connector != ConnectorKind::Dropbox {
            return Err(EngineError::Invalid(format!(
                "a {} app is not authorized through Authorize: set its credentials with `roster app configure`",
                template.display_name
            )));
        }
        Ok((settings, sealed))
    }

    /// The URL a team admin opens to authorize roster for `app`; the vendor
    /// sends the browser back to `redirect_uri` (roster's `/oauth/callback`).
    pub async fn begin_authorization(&self, app: &AppId, redirect_uri: &str) -> Result<String, EngineError> {
        let (settings, sealed) = self.oauth_job(app).await?;
        let creds = connect::open_credentials(&self.cipher, app, sealed.as_deref())?;
        let dropbox = connect::dropbox_app(&settings, &creds)?;
        let state = self.store().new_oauth_state(app).await?;
        Ok(authorize_url(&dropbox, redirect_uri, &state))
    }

    /// Completes an Authorize request: checks `state`, exchanges the code and
    /// seals the refresh token. Returns the app's name; an error explains
    /// what the admin must do (a refusal, an account that is no team admin).
    pub async fn complete_authorization(
        &self,
        state: &str,
        consent: Consent,
        redirect_uri: &str,
    ) -> Result<String, EngineError> {
        let app = self.store().take_oauth_state(state).await?.ok_or_else(|| {
            EngineError::Invalid(
                "this authorization is unknown, was used already or is older than 15 minutes: run Authorize again"
                    .into(),
            )
        })?;
        let name = self.store().app(&app).await?.name;
        let code = match consent {
            Consent::Code(code) => code,
            Consent::Refused { error, description } => {
                let why = if error == "access_denied" {
                    "the Dropbox account chose not to allow roster (access denied)".to_string()
                } else {
                    format!("Dropbox answered {error}")
                };
                let detail = description.map(|d| format!(": {d}")).unwrap_or_default();
                return Err(EngineError::Invalid(format!(
                    "{name} was not authorized: {why}{detail}; a Dropbox team admin must click Authorize again and \
                     choose Allow"
                )));
            }
        };
        let (settings, sealed) = self.oauth_job(&app).await?;
        let mut creds = connect::open_credentials(&self.cipher, &app, sealed.as_deref())?;
        let dropbox = connect::dropbox_app(&settings, &creds)?;
        let tokens = exchange_code(&dropbox, &code, redirect_uri).await?;
        creds.refresh_token = Some(tokens.refresh_token);
        creds.team_id = Some(tokens.team_id);
        let sealed = connect::seal(&self.cipher, &app, &creds)?;
        let settings = serde_json::to_value(&settings).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store().save_job_config(&app, &settings, Some(&sealed), None).await?;
        tracing::info!(app = %app, "authorized through OAuth; the refresh token is sealed");
        Ok(name)
    }
}
