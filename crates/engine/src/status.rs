//! What a job reports about itself: state, phase, the running cycle's progress,
//! and counts for the last cycle and to date.

use serde::{Deserialize, Serialize};

/// Counts of actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub disabled: u64,
    pub enabled: u64,
    pub deleted: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.disabled += other.disabled;
        self.enabled += other.enabled;
        self.deleted += other.deleted;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// The persisted part of a job's state (`jobs.state`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobState {
    pub last_cycle: Counts,
    pub to_date: Counts,
    pub last_cycle_id: Option<String>,
    pub last_cycle_at: Option<i64>,
    pub last_cycle_ms: Option<u64>,
    pub last_success_at: Option<i64>,
    pub steady_state_at: Option<i64>,
    pub last_error: Option<String>,
    /// A fingerprint of the settings and mappings the shadow was built with: when it
    /// changes, every provisioned object is evaluated again.
    pub config_fingerprint: Option<String>,
    /// The job's quarantine, while it is in one.
    pub quarantine: Option<crate::reliability::Quarantine>,
    /// Disables held by the accidental-deletion guard, waiting for an admin.
    pub staged: Option<StagedDeletes>,
    /// An admin let the staged disables through: the next cycle skips the guard.
    pub allow_deletes: bool,
    /// Cycles in a row that could not run to the end.
    pub failed_cycles: u32,
    /// No cycle before this time (ms): the app asked to be left alone, or a
    /// failed cycle backs off.
    pub hold_until: Option<i64>,
    /// When the last failure digest was mailed.
    pub last_digest_at: Option<i64>,
    /// When the app's own roles were last imported.
    pub roles_imported_at: Option<i64>,
}

/// What the accidental-deletion guard holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StagedDeletes {
    pub count: u64,
    pub threshold: u64,
    pub at: i64,
    /// The cycle whose log lists them (status `Staged`).
    pub cycle_id: String,
}

/// The progress of the running cycle.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub running: bool,
    pub cycle_id: Option<String>,
    pub phase: String,
    pub done: u64,
    pub total: u64,
    pub percent: f64,
    pub counts: Counts,
}
