//! A provisioning job's settings and credentials, as the admin sets them. Stored as
//! JSON in the job row; credentials are sealed before they reach the store.

pub use roster_connectors::MemberRemoval;
use roster_store::secrets::SecretString;
use serde::{Deserialize, Serialize};

/// Manual: roster never calls the app. Automatic: roster provisions it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Manual,
    Automatic,
}

/// Provisioning status: on (cycles run) or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    On,
    #[default]
    Off,
}

/// Which users are provisioned: the assigned ones (default) or every user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Assigned,
    All,
}

/// The settings of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobSettings {
    pub mode: Mode,
    pub status: Status,
    /// The SCIM base URL of the app.
    pub tenant_url: Option<String>,
    pub notification_email: Option<String>,
    pub scope: Scope,
    /// Seconds between safety-net cycles (changes are picked up within a second anyway).
    pub interval_secs: u64,
    /// Requests in flight to the app at once.
    pub concurrency: usize,
    /// Member values per group PATCH.
    pub member_batch_size: usize,
    /// How group members are removed: `filter` (`members[value eq "id"]`, the
    /// RFC's form) or `valueList` (`path: "members"` with a value list).
    pub member_removal: MemberRemoval,
    /// Request timeout, seconds.
    pub timeout_secs: u64,
    /// Most requests per second to the app (`None`: no limit beyond concurrency).
    pub rate_limit: Option<f64>,
    /// The first delay before an escrowed object is retried, seconds; it doubles
    /// with each failed attempt, up to a day.
    pub escrow_retry_secs: u64,
    /// Send a failure digest (at most hourly) to the notification email.
    pub send_failure_email: bool,
    /// The accidental-deletion guard: a cycle that would disable or delete more
    /// objects than this stops before doing any of them.
    pub delete_threshold: u64,
    /// The guard as a share of provisioned objects (percent), when set; the
    /// smaller of the two limits applies.
    pub delete_threshold_percent: Option<f64>,
    /// When a job goes into quarantine.
    pub quarantine: QuarantineRules,
}

/// The quarantine rules (the reference service's by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuarantineRules {
    /// The share of failed operations in a cycle that quarantines the job.
    pub failure_ratio: f64,
    /// ...once at least this many operations were tried.
    pub min_operations: u64,
    /// Delays before the attempts in quarantine, seconds (the last repeats).
    pub schedule_secs: Vec<u64>,
    /// Days in quarantine after which the job is turned off.
    pub give_up_days: u64,
}

impl Default for QuarantineRules {
    fn default() -> QuarantineRules {
        QuarantineRules {
            failure_ratio: 0.4,
            min_operations: 10,
            schedule_secs: vec![6 * 3600, 12 * 3600, 24 * 3600],
            give_up_days: 28,
        }
    }
}

impl Default for JobSettings {
    fn default() -> JobSettings {
        JobSettings {
            mode: Mode::Manual,
            status: Status::Off,
            tenant_url: None,
            notification_email: None,
            scope: Scope::Assigned,
            interval_secs: 40 * 60,
            concurrency: 8,
            member_batch_size: 100,
            member_removal: MemberRemoval::Filter,
            timeout_secs: 30,
            rate_limit: None,
            escrow_retry_secs: 60,
            send_failure_email: true,
            delete_threshold: 500,
            delete_threshold_percent: None,
            quarantine: QuarantineRules::default(),
        }
    }
}

/// The admin credentials of a SCIM app. Never serialized anywhere but sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub secret_token: SecretString,
}

/// A change to the settings, as the API and CLI send it; absent fields are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    pub mode: Option<Mode>,
    pub status: Option<Status>,
    pub tenant_url: Option<String>,
    /// Write-only.
    pub secret_token: Option<String>,
    pub notification_email: Option<String>,
    pub scope: Option<Scope>,
    /// Seconds, or a duration like `40m`, `6h`, `90s`.
    pub interval: Option<serde_json::Value>,
    pub concurrency: Option<usize>,
    pub member_batch_size: Option<usize>,
    pub member_removal: Option<MemberRemoval>,
    pub timeout_secs: Option<u64>,
    /// Requests per second; 0 removes the limit.
    pub rate_limit: Option<f64>,
    pub escrow_retry_secs: Option<u64>,
    pub send_failure_email: Option<bool>,
    pub delete_threshold: Option<u64>,
    /// Percent; 0 removes it.
    pub delete_threshold_percent: Option<f64>,
    pub quarantine: Option<QuarantineRules>,
}

/// Parses `40m`, `6h`, `90s`, `1d` or a number of seconds.
pub fn parse_interval(v: &serde_json::Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use serde_json::json;

    fn check(input: serde_json::Value, expected: Option<u64>) {
        assert_eq!(parse_interval(&input), expected, "{input}");
    }

    #[test]
    fn intervals() {
        check(json!(90), Some(90));
        check(json!("40m"), Some(2400));
        check(json!("6h"), Some(21_600));
        check(json!("1d"), Some(86_400));
        check(json!("15"), Some(15));
        check(json!("5w"), None);
        check(json!("m"), None);
        check(json!(-1), None);
    }
}
