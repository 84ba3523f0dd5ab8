//! Connectors from roster to applications. [`Connector`] is what the
//! engine calls; [`ScimConnector`] speaks SCIM 2.0 over HTTPS, [`salesforce`]
//! and [`dropbox`] speak those vendors' APIs, and [`manual`] stands in for an
//! app provisioned by hand. Connectors only classify failures
//! ([`ConnectorError`]): the engine retries.

use async_trait::async_trait;
use serde_json::Value;

mod classify;
pub mod describe;
pub mod destination;
pub mod dropbox;
mod error;
pub mod manual;
mod outbound;
pub mod salesforce;
mod scim;
pub mod validate;

pub use describe::{PlannedRequest, Write};
pub use error::{parse_http_date, parse_retry_after, ConnectorError};
pub use manual::{ManualConnector, ResolvesManualIds};
pub use outbound::{cut_app_text, APP_TEXT_LIMIT, DEFAULT_MAX_RESPONSE_BYTES};
pub use roster_scim::{Aspect, Dialect, Form, MemberRemoval, PatchOperation, ResourceKind};
pub use scim::{ScimConnector, ScimSettings};

/// An object in the target application.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetObject {
    /// The application's id of the object.
    pub id: String,
    /// The object as the application returned it.
    pub resource: Value,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPage {
    /// The objects of the page.
    pub items: Vec<TargetObject>,
    /// How many objects the whole listing has.
    pub total: u64,
    /// Where the next page starts (pass it back to [`Connector::list`]);
    /// `None` on the last page.
    pub next: Option<String>,
}

/// A role the application defines (a Salesforce profile, a Dropbox admin
/// role), imported as an app role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRole {
    /// The value the application knows the role by (sent to it on assignment).
    pub value: String,
    /// The role's display name.
    pub name: String,
    /// A description, if the application gives one.
    pub description: Option<String>,
    /// Why the role cannot be used for provisioning, if it cannot.
    pub refused: Option<String>,
}

/// A connection to one target application.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Checks that the application is reachable, accepts the credentials and
    /// can look objects up by `matching_attribute`; returns what was checked.
    async fn test_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError>;
    /// The objects whose `attr_path` equals `value`.
    async fn find(&self, kind: ResourceKind, attr_path: &str, value: &str)
        -> Result<Vec<TargetObject>, ConnectorError>;
    /// One page of all objects: the first page with `cursor = None`, then each
    /// next one with the previous page's [`TargetPage::next`].
    async fn list(&self, kind: ResourceKind, cursor: Option<&str>, count: u64) -> Result<TargetPage, ConnectorError>;
    /// One object by id; `None` if the application does not have it.
    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<TargetObject>, ConnectorError>;
    /// Creates an object from (target path, value) pairs.
    async fn create(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError>;
    /// Creates an object and returns only its id in the app, which is all a
    /// cycle keeps of the answer. A connector whose answers are long reads no
    /// more of them than it needs; by default, [`create`](Self::create).
    async fn create_id(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<String, ConnectorError> {
        self.create(kind, attrs).await.map(|t| t.id)
    }
    /// Applies PATCH operations to an object.
    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError>;
    /// Applies PATCH operations to an object, knowing every attribute roster
    /// manages on it (`managed`, target path → value), for the apps that must be
    /// sent a whole list or a whole object instead. By default, [`update`](Self::update).
    async fn update_managed(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
        managed: &[(String, Value)],
    ) -> Result<(), ConnectorError> {
        let _ = managed;
        self.update(kind, id, ops).await
    }
    /// Deletes an object.
    async fn delete(&self, kind: ResourceKind, id: &str) -> Result<(), ConnectorError>;
    /// Adds and removes group members (target ids); returns how many
    /// requests were sent.
    async fn update_members(&self, group_id: &str, add: &[String], remove: &[String]) -> Result<u32, ConnectorError>;
    /// The roles the application defines, when it is their source; `None`
    /// when the app's roles are roster's own (the default).
    async fn app_roles(&self) -> Result<Option<Vec<RemoteRole>>, ConnectorError> {
        Ok(None)
    }
    /// What the last call on object `id` did other than what was asked, for
    /// the provisioning log (Dropbox cannot suspend a member who never joined,
    /// so disabling one cancels the invitation); taken once. `None` by default.
    fn take_note(&self, _id: &str) -> Option<String> {
        None
    }
    /// What the last calls on object `id` could not do because the app refuses
    /// it in every form (an attribute left out), for a warning in the log;
    /// taken once. Empty by default.
    fn take_warnings(&self, _id: &str) -> Vec<String> {
        Vec::new()
    }
    /// What the connector knows of the app's dialect (SCIM only): pinned forms,
    /// forms learned so far, attributes refused in every form.
    fn dialect(&self) -> Option<Dialect> {
        None
    }
    /// The requests `write` would send now, in the forms the connector would
    /// use, without sending anything (a plan). By default, plain SCIM forms.
    fn describe(&self, write: &Write<'_>) -> Vec<PlannedRequest> {
        describe::scim_forms("", write)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::dropbox::{DropboxApp, DropboxConnector};
    use crate::salesforce::{SalesforceAuth, SalesforceSettings};
    use crate::ScimSettings;

    /// `shown` (a `Debug` output) names `visible` and holds none of `secrets`.
    fn check(shown: String, visible: &str, secrets: &[&str]) {
        assert!(shown.contains(visible), "{visible} is missing from {shown}");
        for secret in secrets {
            assert!(!shown.contains(secret), "{shown} shows the secret {secret}");
        }
    }

    #[test]
    fn settings_debug_never_shows_a_secret() {
        let scim = ScimSettings::new("https://app.example/scim/v2", "scim-bearer-1");
        check(format!("{scim:?}"), "https://app.example/scim/v2", &["scim-bearer-1"]);
        let password = SalesforceAuth::Password {
            username: "admin@acme.example".into(),
            password: "sf-password-2".into(),
            security_token: "sf-token-3".into(),
        };
        check(format!("{password:?}"), "admin@acme.example", &["sf-password-2", "sf-token-3"]);
        check(
            format!("{:?}", SalesforceSettings::new(password)),
            "admin@acme.example",
            &["sf-password-2", "sf-token-3"],
        );
        let client =
            SalesforceAuth::ClientCredentials { client_id: "3MVG-id".into(), client_secret: "sf-secret-4".into() };
        check(format!("{client:?}"), "3MVG-id", &["sf-secret-4"]);
        let dropbox = DropboxApp::new("dropbox-key", "dropbox-secret-5");
        check(format!("{dropbox:?}"), "dropbox-key", &["dropbox-secret-5"]);
        let connector = DropboxConnector::new(dropbox, "dropbox-refresh-6", Duration::from_secs(1));
        check(format!("{connector:?}"), "dropbox-key", &["dropbox-secret-5", "dropbox-refresh-6"]);
    }
}
