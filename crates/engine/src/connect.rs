//! From a job's settings and sealed credentials to a live connector, and back:
//! sealing the credentials an admin sends, and showing which are set (never
//! their values).

use crate::job::LoadedJob;
use crate::settings::{Credentials, SettingsPatch};
use crate::EngineError;
use roster_connectors::{Connector, ScimConnector, ScimSettings};
use roster_store::secrets::{Cipher, SecretString};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Builds the connector of a job from its settings and sealed credentials.
pub fn connector(cipher: &Cipher, job: &LoadedJob) -> Result<Arc<dyn Connector>, EngineError> {
    let url =
        job.settings.tenant_url.clone().ok_or_else(|| EngineError::NotConfigured("no tenant URL is set".into()))?;
    let sealed =
        job.row.credentials.as_deref().ok_or_else(|| EngineError::NotConfigured("no secret token is set".into()))?;
    let creds: Credentials = serde_json::from_str(&cipher.open(sealed)?)
        .map_err(|_| EngineError::Invalid("stored credentials are unreadable".into()))?;
    let mut s = ScimSettings::new(url, creds.secret_token.expose());
    s.timeout = Duration::from_secs(job.settings.timeout_secs.max(1));
    s.member_batch_size = job.settings.member_batch_size.max(1);
    s.member_removal = job.settings.member_removal;
    Ok(Arc::new(ScimConnector::new(s)?))
}

/// Seals the credentials a settings change carries, merged into the stored ones;
/// `None` when the change carries none.
pub fn seal_credentials(
    cipher: &Cipher,
    _stored: Option<&str>,
    patch: &SettingsPatch,
) -> Result<Option<String>, EngineError> {
    match &patch.secret_token {
        Some(t) if t.trim().is_empty() => Err(EngineError::Invalid("the secret token is empty".into())),
        Some(t) => {
            let creds = Credentials { secret_token: SecretString::new(t.trim()) };
            let text = serde_json::to_string(&creds).map_err(|e| EngineError::Invalid(e.to_string()))?;
            Ok(Some(cipher.seal(&text)?))
        }
        None => Ok(None),
    }
}

/// Which credentials are set, for the settings view (values never leave).
pub fn credentials_view(_cipher: &Cipher, sealed: Option<&str>) -> Value {
    json!({"secretTokenSet": sealed.is_some()})
}
