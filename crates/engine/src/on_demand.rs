//! What the engine answers about one user: the preview (what the app would
//! receive now, and whether the user is in scope) and the outcome of
//! provisioning it on demand, in the same shape as a provisioning log entry
//! (action, status, each step, the properties sent, the app's error).

use roster_store::{LogAction, LogRecord, LogStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A step of provisioning and an attribute it changed: the log's own types.
pub use roster_store::{ModifiedProperty, Step};

/// What provisioning did to one object: a provisioning log entry as the
/// surfaces show it, and the answer of provision on demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ProvisioningOutcome {
    /// The log entry's id (none when nothing was logged).
    pub id: Option<String>,
    pub cycle_id: Option<String>,
    pub change_id: Option<String>,
    /// When it happened (ms).
    pub at: Option<i64>,
    pub source_id: Option<String>,
    pub source_name: Option<String>,
    /// The account in the app.
    pub target_id: Option<String>,
    /// `Create`, `Update`, `Disable`, `Enable`, `Delete`, `Skip`.
    pub action: LogAction,
    /// `Success`, `Failure`, `Skipped`, `Staged`...
    pub status: LogStatus,
    pub steps: Vec<Step>,
    pub modified: Vec<ModifiedProperty>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Nothing logged: a skip, without steps.
impl Default for ProvisioningOutcome {
    fn default() -> ProvisioningOutcome {
        ProvisioningOutcome {
            id: None,
            cycle_id: None,
            change_id: None,
            at: None,
            source_id: None,
            source_name: None,
            target_id: None,
            action: LogAction::Skip,
            status: LogStatus::Skipped,
            steps: Vec::new(),
            modified: Vec::new(),
            error_code: None,
            error_message: None,
        }
    }
}

impl ProvisioningOutcome {
    /// The outcome of a run that found the app in step with the directory.
    pub fn nothing_to_do() -> ProvisioningOutcome {
        ProvisioningOutcome {
            action: LogAction::Skip,
            status: LogStatus::Skipped,
            steps: vec![Step {
                step: "Action".into(),
                outcome: "nothing to do: the app is already in step with the directory".into(),
            }],
            ..ProvisioningOutcome::default()
        }
    }
}

impl From<LogRecord> for ProvisioningOutcome {
    /// A log entry as it is shown. Steps and properties are read leniently (an
    /// entry written by an older roster shows what it has).
    fn from(l: LogRecord) -> ProvisioningOutcome {
        ProvisioningOutcome {
            id: Some(l.id),
            cycle_id: Some(l.cycle_id),
            change_id: Some(l.change_id),
            at: Some(l.at),
            source_id: Some(l.source_id),
            source_name: l.source_name,
            target_id: l.target_id,
            action: l.action,
            status: l.status,
            steps: l.steps,
            modified: l.modified,
            error_code: l.error_code,
            error_message: l.error_message,
        }
    }
}

/// What the app would receive for a user now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Preview {
    /// The user's userName.
    pub user: String,
    pub in_scope: bool,
    /// Why the user is out of scope, when it is.
    pub out_of_scope: Option<String>,
    /// The mapped attributes, by target.
    pub attributes: BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::ObjectKind;
    use serde_json::json;

    #[test]
    fn a_log_entry_keeps_its_steps_and_properties() {
        let record = LogRecord {
            id: "l1".into(),
            app_id: roster_store::AppId::from_stored("a".into()),
            cycle_id: "c1".into(),
            change_id: "u1".into(),
            at: 5,
            object_kind: ObjectKind::User,
            source_id: "u1".into(),
            source_name: Some("ann".into()),
            target_id: Some("t1".into()),
            action: LogAction::Update,
            status: LogStatus::Success,
            // As stored: a step without its outcome still reads.
            steps: serde_json::from_value(json!([{"step": "Import", "outcome": "read ann"}, {"step": "Odd"}]))
                .expect("steps"),
            modified: serde_json::from_value(json!([{"name": "title", "old": "A", "new": "B"}])).expect("modified"),
            error_code: None,
            error_message: None,
        };
        let shown = ProvisioningOutcome::from(record);
        assert_eq!(shown.steps[0], Step { step: "Import".into(), outcome: "read ann".into() });
        assert_eq!(shown.steps[1].outcome, "");
        assert_eq!(shown.modified[0].new, json!("B"));
        let v = serde_json::to_value(&shown).expect("serializes");
        assert_eq!(v["cycleId"], "c1");
        assert_eq!(v["steps"][0]["step"], "Import");
    }
}
