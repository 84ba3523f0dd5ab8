//! Manual mode, on the engine's side: the hand-off an admin fetches (JSON, or
//! CSV with one column per mapped attribute), its confirmation, and what a
//! switch back to automatic provisioning does with a hand-off nobody
//! confirmed. A manual-mode cycle itself runs like any other, with the
//! stand-in connector, and its batches are recorded with `handoff` set.

use crate::{Engine, EngineError};
use roster_store::{AppId, ConfirmedHandoff, Handoff, JobStateUpdate, Store};
use serde_json::Value;

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
            phase: Some("initial".into()),
            initial_cursor: Some(None),
            initial_head: Some(None),
            ..JobStateUpdate::default()
        };
        store.update_job_state(app, &update).await?;
    }
    Ok(())
}

fn cell(v: Option<&Value>) -> String {
    v.map(roster_store::csv::value_cell).unwrap_or_default()
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
    let mut header: Vec<String> =
        ["handoffId", "action", "userName", "sourceId", "targetId", "changed"].iter().map(|s| s.to_string()).collect();
    header.extend(attributes.iter().map(|a| cell(Some(&Value::String(a.to_string())))));
    let mut out = header.join(",");
    out.push('\n');
    let id = h.id.map(|i| i.to_string()).unwrap_or_default();
    for item in &h.items {
        let mut row = vec![
            id.clone(),
            item.action.as_str().to_string(),
            cell(item.source_name.as_ref().map(|s| Value::String(s.clone())).as_ref()),
            cell(Some(&Value::String(item.source_id.clone()))),
            cell(item.target_id.as_ref().map(|s| Value::String(s.clone())).as_ref()),
            cell(Some(&Value::String(item.changed.join(";")))),
        ];
        row.extend(attributes.iter().map(|a| cell(item.attributes.get(*a))));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::{HandoffAction, HandoffItem};
    use serde_json::json;

    #[test]
    fn csv_has_a_column_per_attribute_and_quotes_what_needs_it() {
        let item = |action, name: &str, attrs: Value, changed: &[&str]| HandoffItem {
            action,
            object_kind: "user".into(),
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
