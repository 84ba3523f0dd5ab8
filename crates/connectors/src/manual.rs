//! Manual provisioning, seen from the connector side.
//!
//! [`ManualConnector`] stands in for the app while it is provisioned by hand:
//! it calls nothing, knows no accounts, and answers every change as done, so
//! that a cycle decides exactly what it would send; the engine stages that
//! in a hand-off instead of the shadow. A new account gets the id
//! `manual:<matching attribute>=<value>` ([`manual_id`]), since the app's own
//! id is unknown.
//!
//! [`ResolvesManualIds`] wraps a real connector once the app is provisioned
//! automatically again: an account known by a `manual:` id is looked up by
//! its matching attribute before it is read, changed or deleted, so the
//! accounts an admin created by hand are kept, not created twice.

use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::{Connector, ConnectorError, PatchOperation, RemoteRole, ResourceKind, TargetObject, TargetPage};

/// The prefix of ids roster gives accounts created by hand.
pub const MANUAL_ID_PREFIX: &str = "manual:";

/// What the log says of every change in manual mode.
const HANDED_OFF: &str =
    "manual mode: not sent to the app; written to the hand-off for an admin to apply by hand and confirm";

/// The most notes kept for [`Connector::take_note`].
const MAX_NOTES: usize = 10_000;

/// The id of an account created by hand, from its matching attribute.
pub fn manual_id(attribute: &str, value: &str) -> String {
    format!("{MANUAL_ID_PREFIX}{attribute}={value}")
}

/// The matching attribute and value a `manual:` id stands for.
pub fn parse_manual_id(id: &str) -> Option<(&str, &str)> {
    id.strip_prefix(MANUAL_ID_PREFIX)?.split_once('=').filter(|(a, _)| !a.is_empty())
}

/// The app while it is provisioned by hand: nothing is called.
#[derive(Debug)]
pub struct ManualConnector {
    matching: Vec<String>,
    notes: Mutex<HashMap<String, String>>,
}

impl ManualConnector {
    /// A stand-in that names new accounts by the first of `matching` (target
    /// attribute paths, in precedence order) that has a value.
    pub fn new(matching: Vec<String>) -> ManualConnector {
        ManualConnector { matching, notes: Mutex::new(HashMap::new()) }
    }

    fn note(&self, id: &str) {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        if notes.len() < MAX_NOTES || notes.contains_key(id) {
            notes.insert(id.to_string(), HANDED_OFF.to_string());
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait]
impl Connector for ManualConnector {
    async fn test_connection(&self, _matching_attribute: &str) -> Result<String, ConnectorError> {
        Ok("manual mode: roster does not connect to the app; each cycle writes a hand-off for an admin".into())
    }

    async fn find(&self, _: ResourceKind, _: &str, _: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        Ok(Vec::new())
    }

    async fn list(&self, _: ResourceKind, _: Option<&str>, _: u64) -> Result<TargetPage, ConnectorError> {
        Ok(TargetPage { items: Vec::new(), total: 0, next: None })
    }

    async fn get(&self, _: ResourceKind, _: &str) -> Result<Option<TargetObject>, ConnectorError> {
        Ok(None)
    }

    async fn create(&self, _: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError> {
        let named = self.matching.iter().find_map(|m| {
            let (_, v) = attrs.iter().find(|(a, _)| a.eq_ignore_ascii_case(m))?;
            Some(manual_id(m, &text(v)?))
        });
        let id = named.unwrap_or_else(|| format!("{MANUAL_ID_PREFIX}{:016x}", rand::random::<u64>()));
        self.note(&id);
        let resource = Value::Object(attrs.iter().cloned().collect());
        Ok(TargetObject { id, resource })
    }

    async fn update(&self, _: ResourceKind, id: &str, _: &[PatchOperation]) -> Result<(), ConnectorError> {
        self.note(id);
        Ok(())
    }

    async fn delete(&self, _: ResourceKind, id: &str) -> Result<(), ConnectorError> {
        self.note(id);
        Ok(())
    }

    async fn update_members(&self, _: &str, _: &[String], _: &[String]) -> Result<u32, ConnectorError> {
        Ok(0)
    }

    fn take_note(&self, id: &str) -> Option<String> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).remove(id)
    }

    /// Nothing is sent in manual mode: each write becomes a hand-off entry.
    fn describe(&self, write: &crate::Write<'_>) -> Vec<crate::PlannedRequest> {
        crate::describe::scim_forms("", write)
            .into_iter()
            .map(|r| r.noted("manual mode: written to the hand-off for an admin to apply by hand, not sent"))
            .collect()
    }
}

/// A real connector that also reaches accounts known by a `manual:` id.
pub struct ResolvesManualIds {
    inner: Arc<dyn Connector>,
    /// `manual:` id → the app's id, as found.
    resolved: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for ResolvesManualIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvesManualIds").finish_non_exhaustive()
    }
}

impl ResolvesManualIds {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Connector>) -> ResolvesManualIds {
        ResolvesManualIds { inner, resolved: Mutex::new(HashMap::new()) }
    }

    async fn resolve_users(&self, ids: &[String]) -> Result<Vec<String>, ConnectorError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.resolve(ResourceKind::User, id).await?);
        }
        Ok(out)
    }

    /// The app's id of `id`: itself, or the account its matching value finds.
    async fn resolve(&self, kind: ResourceKind, id: &str) -> Result<String, ConnectorError> {
        let Some((attribute, value)) = parse_manual_id(id) else { return Ok(id.to_string()) };
        if let Some(found) = self.resolved.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(found.clone());
        }
        let hits = self.inner.find(kind, attribute, value).await?;
        match hits.as_slice() {
            [] => Err(ConnectorError::NotFound),
            [one] => {
                let mut resolved = self.resolved.lock().unwrap_or_else(|p| p.into_inner());
                if resolved.len() >= MAX_NOTES {
                    resolved.clear();
                }
                resolved.insert(id.to_string(), one.id.clone());
                Ok(one.id.clone())
            }
            many => Err(ConnectorError::Permanent {
                status: 409,
                scim_type: Some("DuplicateTargetEntries".into()),
                app_message: format!(
                    "{} accounts in the app have {attribute} = {value:?} (an account created by hand): roster will \
                     not guess which one",
                    many.len()
                ),
            }),
        }
    }
}

impl ResolvesManualIds {
    /// The app's id of `id` (a `manual:` id resolved earlier), else `id`.
    fn real_id(&self, id: &str) -> String {
        let real = self.resolved.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        real.unwrap_or_else(|| id.to_string())
    }
}

#[async_trait]
impl Connector for ResolvesManualIds {
    async fn test_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError> {
        self.inner.test_connection(matching_attribute).await
    }

    async fn find(&self, kind: ResourceKind, attr: &str, value: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        self.inner.find(kind, attr, value).await
    }

    async fn list(&self, kind: ResourceKind, cursor: Option<&str>, count: u64) -> Result<TargetPage, ConnectorError> {
        self.inner.list(kind, cursor, count).await
    }

    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<TargetObject>, ConnectorError> {
        match self.resolve(kind, id).await {
            Ok(real) => self.inner.get(kind, &real).await,
            Err(ConnectorError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError> {
        self.inner.create(kind, attrs).await
    }

    async fn create_id(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<String, ConnectorError> {
        self.inner.create_id(kind, attrs).await
    }

    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        let real = self.resolve(kind, id).await?;
        self.inner.update(kind, &real, ops).await
    }

    async fn update_managed(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
        managed: &[(String, Value)],
    ) -> Result<(), ConnectorError> {
        let real = self.resolve(kind, id).await?;
        self.inner.update_managed(kind, &real, ops, managed).await
    }

    async fn delete(&self, kind: ResourceKind, id: &str) -> Result<(), ConnectorError> {
        let real = self.resolve(kind, id).await?;
        self.inner.delete(kind, &real).await
    }

    async fn update_members(&self, group_id: &str, add: &[String], remove: &[String]) -> Result<u32, ConnectorError> {
        let group = self.resolve(ResourceKind::Group, group_id).await?;
        let (add, remove) = (self.resolve_users(add).await?, self.resolve_users(remove).await?);
        self.inner.update_members(&group, &add, &remove).await
    }

    async fn app_roles(&self) -> Result<Option<Vec<RemoteRole>>, ConnectorError> {
        self.inner.app_roles().await
    }

    fn describe(&self, write: &crate::Write<'_>) -> Vec<crate::PlannedRequest> {
        self.inner.describe(write)
    }

    fn take_note(&self, id: &str) -> Option<String> {
        self.inner.take_note(&self.real_id(id))
    }

    fn take_warnings(&self, id: &str) -> Vec<String> {
        self.inner.take_warnings(&self.real_id(id))
    }

    fn dialect(&self) -> Option<crate::Dialect> {
        self.inner.dialect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manual_ids_round_trip() {
        let cases: &[(&str, &str)] = &[("userName", "ann@x.com"), ("Username", "a=b@x.com"), ("email", "")];
        for (attr, value) in cases {
            assert_eq!(parse_manual_id(&manual_id(attr, value)), Some((*attr, *value)));
        }
        assert_eq!(parse_manual_id("005000000000001AAA"), None);
        assert_eq!(parse_manual_id("manual:=x"), None);
    }

    #[tokio::test]
    async fn manual_connector_names_accounts_by_matching_value_and_notes_the_hand_off() {
        let c = ManualConnector::new(vec!["userName".into(), "externalId".into()]);
        let t = c
            .create(ResourceKind::User, &[("externalId".into(), json!("e1")), ("userName".into(), json!("ann"))])
            .await
            .expect("created");
        assert_eq!(t.id, "manual:userName=ann");
        assert!(c.take_note(&t.id).is_some_and(|n| n.contains("hand-off")));
        assert_eq!(c.take_note(&t.id), None);
        let t = c.create(ResourceKind::User, &[("externalId".into(), json!("e1"))]).await.expect("created");
        assert_eq!(t.id, "manual:externalId=e1");
        assert!(c.find(ResourceKind::User, "userName", "ann").await.expect("find").is_empty());
    }
}
