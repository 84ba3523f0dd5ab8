//! Manual mode, on the engine's side: the hand-off an admin fetches (JSON, or
//! CSV with one column per mapped attribute), its confirmation, and what a
//! switch back to automatic provisioning does with a hand-off nobody
//! confirmed. A manual-mode cycle itself runs like any other, with the
//! stand-in connector, and its batches are recorded with `handoff` set.

use crate::{Engine, EngineError};
use roster_store::csv::{value_text, Table};
use roster_store::{AppId, ConfirmedHandoff, Handoff, JobStateUpdate, Phase, Store};
use std::borrow::Cow;

impl Engine {
    /// The open hand-off of `app`.
    pub async fn handoff(&self, app: &AppId) -> Result<Handoff, EngineError> {
        Ok(self.store().handoff(app).await?)
    }

    /// Records that an admin applied hand-off `id`: the shadow moves on.
    pub async fn confirm_handoff(&self, app: &AppId, id: i64) -> Result<ConfirmedHandoff, EngineError> {
        Ok(self.store().confirm_handoff(app, id).await?)
    }
}

/// An app leaves manual mode: a hand-off nobody confirmed is dropped, and the
/// next cycle walks every user again, matching each in the app (where an
/// admin may have created it by hand) instead of creating it twice.
pub async fn leave_manual_mode(store: &Store, app: &AppId) -> Result<(), EngineError> {
    if store.discard_handoff(app).await? > 0 {
        let update = JobStateUpdate {
            phase: Some(Phase::Initial),
            initial_cursor: Some(None),
            initial_head: Some(None),
            ..JobStateUpdate::default()
        };
        store.update_job_state(app, &update).await?;
    }
    Ok(())
}

/// The hand-off as CSV: `handoffId, action, userName, sourceId, targetId,
/// changed`, then one column per mapped attribute (in first-seen order).
pub fn handoff_csv(h: &Handoff) -> String {
    let mut attributes: Vec<&str> = Vec::new();
    for item in &h.items {
        for k in item.attributes.keys() {
            if !attributes.contains(&k.as_str()) {
                attributes.push(k);
            }
        }
    }
    let fixed = ["handoffId", "action", "userName", "sourceId", "targetId", "changed"];
    let mut table = Table::new(fixed.iter().chain(&attributes));
    let id = h.id.map(|i| i.to_string()).unwrap_or_default();
    for item in &h.items {
        let mut row: Vec<Cow<'_, str>> = vec![
            Cow::Borrowed(&id),
            Cow::Borrowed(item.action.as_str()),
            Cow::Borrowed(item.source_name.as_deref().unwrap_or_default()),
            Cow::Borrowed(&item.source_id),
            Cow::Borrowed(item.target_id.as_deref().unwrap_or_default()),
            Cow::Owned(item.changed.join(";")),
        ];
        row.extend(attributes.iter().map(|a| item.attributes.get(*a).map(value_text).unwrap_or_default()));
        table.row(row);
    }
    table.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::{HandoffAction, HandoffItem, ObjectKind};
    use serde_json::json;
    use serde_json::Value;

    #[test]
    fn csv_has_a_column_per_attribute_and_quotes_what_needs_it() {
        let item = |action, name: &str, attrs: Value, changed: &[&str]| HandoffItem {
            action,
            object_kind: ObjectKind::User,
            source_id: format!("id-{name}"),
            source_name: Some(name.into()),
            target_id: None,
            attributes: attrs.as_object().cloned().unwrap_or_default(),
            changed: changed.iter().map(|s| s.to_string()).collect(),
            staged_at: 0,
        };
        let h = Handoff {
            id: Some(7),
            items: vec![
                item(HandoffAction::Create, "ann", json!({"userName": "ann", "title": "A, B"}), &["title", "userName"]),
                item(
                    HandoffAction::Update,
                    "bob",
                    json!({"userName": "bob", "active": true, "title": "=1+1"}),
                    &["title"],
                ),
            ],
            counts: Default::default(),
            last_confirmed: None,
        };
        let csv = handoff_csv(&h);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "handoffId,action,userName,sourceId,targetId,changed,title,userName,active");
        assert_eq!(lines[1], "7,Create,ann,id-ann,,title;userName,\"A, B\",ann,");
        assert_eq!(lines[2], "7,Update,bob,id-bob,,title,'=1+1,bob,true");
    }
}
