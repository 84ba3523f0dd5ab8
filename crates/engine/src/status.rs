//! What a job reports about itself: state, phase, the running cycle's progress,
//! and counts for the last cycle and to date. [`ProvisioningStatus`] is the
//! one answer the REST API, the CLI and the portal show: what it says (whether
//! provisioning is on, what its cycles do in the job's mode) is decided here,
//! never by the surface that renders it.

use crate::reliability::Quarantine;
use crate::settings::{JobSettings, Mode, Status};
use roster_store::{EscrowItem, Phase};
use serde::{Deserialize, Serialize};

/// Counts of actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub disabled: u64,
    pub enabled: u64,
    pub deleted: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Of the failed, those the app refused for the request's form (501, or
    /// a 400 `invalidPath`, `invalidSyntax` or `mutability`): they say nothing
    /// about the app's health and never count toward quarantine.
    pub unsupported: u64,
}

impl Counts {
    /// Counts one object's outcome from its log entry: a failure under
    /// `failed` (and `unsupported` when the app refused the request's form),
    /// else under its action.
    pub(crate) fn tally_logged(
        &mut self,
        action: crate::cycle::Action,
        failed: bool,
        log: Option<&roster_store::LogRecord>,
    ) {
        self.tally(action, failed);
        if failed && log.is_some_and(|l| l.error_code.as_deref() == Some(crate::cycle::UNSUPPORTED)) {
            self.unsupported += 1;
        }
    }

    /// Counts one object's action (a failure under `failed`, whatever it tried).
    fn tally(&mut self, action: crate::cycle::Action, failed: bool) {
        use crate::cycle::Action;
        let counter = match (action, failed) {
            (_, true) => &mut self.failed,
            (Action::Create, _) => &mut self.created,
            (Action::Update, _) => &mut self.updated,
            (Action::Disable, _) => &mut self.disabled,
            (Action::Enable, _) => &mut self.enabled,
            (Action::Delete, _) => &mut self.deleted,
            (Action::Skip, _) => &mut self.skipped,
        };
        *counter += 1;
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.disabled += other.disabled;
        self.enabled += other.enabled;
        self.deleted += other.deleted;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.unsupported += other.unsupported;
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
    /// What roster learned of the app's SCIM dialect: forms that work, and
    /// attributes the app refuses in every form (pins live in the settings).
    pub dialect: roster_connectors::Dialect,
}

/// What the accidental-deletion guard holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct StagedDeletes {
    pub count: u64,
    pub threshold: u64,
    pub at: i64,
    /// The cycle whose log lists them (status `Staged`).
    pub cycle_id: String,
}

/// The progress of the running cycle.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub running: bool,
    pub cycle_id: Option<String>,
    /// The phase of the running (or last) cycle; none before the first, written
    /// as an empty text.
    #[serde(with = "phase_or_empty")]
    #[schema(value_type = String)]
    pub phase: Option<Phase>,
    pub done: u64,
    pub total: u64,
    pub percent: f64,
    pub counts: Counts,
}

/// A progress's phase in JSON: the phase's word, or an empty text when no
/// cycle ran yet.
mod phase_or_empty {
    use roster_store::Phase;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(phase: &Option<Phase>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(phase.map(Phase::as_str).unwrap_or_default())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Phase>, D::Error> {
        let text = String::deserialize(d)?;
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// Whether a job's provisioning runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ProvisioningState {
    /// No settings yet, or its connector lacks what it needs (URL, credentials).
    #[default]
    #[serde(rename = "not configured")]
    NotConfigured,
    /// Cycles run.
    #[serde(rename = "on")]
    On,
    /// No cycle runs.
    #[serde(rename = "off")]
    Off,
    /// Its stored settings or state do not decode: it is not run (`lastError` says why).
    #[serde(rename = "unreadable")]
    Unreadable,
}

/// What a job's cycles do now: the one rule of status and mode. In manual
/// mode a job that is on runs its cycles all the same, and they write
/// hand-offs for an admin to apply instead of calling the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Activity {
    /// No cycle runs (off, not configured, unreadable).
    #[default]
    Idle,
    /// Cycles provision the app (automatic mode).
    Provisioning,
    /// Cycles write hand-offs (manual mode).
    HandingOff,
}

impl ProvisioningState {
    /// The state of a readable job, and what its cycles do.
    pub fn of(settings: &JobSettings, configured: bool) -> (ProvisioningState, Activity) {
        match (configured, settings.status, settings.mode) {
            (false, _, _) => (ProvisioningState::NotConfigured, Activity::Idle),
            (true, Status::Off, _) => (ProvisioningState::Off, Activity::Idle),
            (true, Status::On, Mode::Automatic) => (ProvisioningState::On, Activity::Provisioning),
            (true, Status::On, Mode::Manual) => (ProvisioningState::On, Activity::HandingOff),
        }
    }
}

/// Accounts roster holds in the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountCounts {
    pub provisioned: i64,
    pub enabled: i64,
}

/// Groups roster holds in the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupCounts {
    pub provisioned: i64,
    pub in_scope: i64,
}

/// The objects in escrow: how many, and the first few (next retry first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EscrowSummary {
    pub count: i64,
    pub items: Vec<EscrowItem>,
}

/// The status of a job, as every surface shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ProvisioningStatus {
    pub state: ProvisioningState,
    /// What the cycles do now, from the status and the mode.
    pub activity: Activity,
    /// The job's mode (none before it is configured or when unreadable).
    pub mode: Option<Mode>,
    /// `initial` or `incremental`.
    pub phase: Option<Phase>,
    /// The change feed position the job has processed up to.
    pub watermark: Option<i64>,
    pub progress: Progress,
    pub last_cycle: Counts,
    pub to_date: Counts,
    pub last_cycle_id: Option<String>,
    pub last_cycle_at: Option<i64>,
    pub last_cycle_ms: Option<u64>,
    pub last_success_at: Option<i64>,
    pub steady_state_at: Option<i64>,
    pub last_error: Option<String>,
    pub accounts: AccountCounts,
    pub groups: GroupCounts,
    pub quarantine: Option<Quarantine>,
    pub escrow: EscrowSummary,
    /// Disables the accidental-deletion guard holds.
    pub staged: Option<StagedDeletes>,
    /// The staged disables were let through: the next cycle does them.
    pub allow_deletes: bool,
    /// No cycle before this time (ms).
    pub hold_until: Option<i64>,
    /// The app's SCIM dialect: forms pinned in the settings, forms learned
    /// from its answers, attributes it refuses in every form.
    pub dialect: roster_connectors::Dialect,
    /// The worker whose lease runs this job's cycles (none before its first lease).
    pub worker: Option<JobLease>,
}

/// Which worker runs a job's cycles, and until when its lease holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobLease {
    /// The worker's id (`None`: the lease is free).
    pub worker_id: Option<String>,
    /// The worker's name (host and process id unless named).
    pub worker_name: Option<String>,
    /// The fencing token: it rises with each new holder.
    pub token: i64,
    /// When the lease expires unless renewed (ms since the Unix epoch).
    pub expires_at: i64,
    /// Whether the worker that answered holds it.
    pub here: bool,
}

/// A worker: a `roster serve` process sharing the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerView {
    pub id: String,
    pub name: String,
    pub started_at: i64,
    /// Its last heartbeat (ms since the Unix epoch).
    pub heartbeat_at: i64,
    /// Running, with a heartbeat within its lease's length.
    pub live: bool,
    /// Set when it stopped gracefully.
    pub stopped_at: Option<i64>,
    /// Whether this is the worker that answered.
    pub this: bool,
    /// The apps (ids) whose leases it holds, unexpired.
    pub jobs: Vec<String>,
}

impl ProvisioningStatus {
    /// The status of a job whose stored settings or state do not decode.
    pub fn unreadable(phase: Phase, error: String) -> ProvisioningStatus {
        ProvisioningStatus {
            state: ProvisioningState::Unreadable,
            phase: Some(phase),
            last_error: Some(error),
            ..ProvisioningStatus::default()
        }
    }

    /// Whether the job is in quarantine.
    pub fn quarantined(&self) -> bool {
        self.quarantine.is_some()
    }
}

/// The answer to Allow deletes: how many staged disables it let through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllowedDeletes {
    pub allowed: u64,
}
