//! The alerts roster emails about a provisioning job, and their rendering to a
//! subject and a plain-text body. Pure: no I/O, no clock.
//!
//! The alert types carry names, counts, times and the app's own error
//! messages, never credentials, so a body cannot leak one. Every text that
//! comes from outside (app names, object names, error messages) is put on one
//! line and shortened, so it cannot forge headers or drown the email.

use chrono::{DateTime, Utc};

/// How many staged objects a [`StagedDeletes`] alert names.
pub const SAMPLE_SHOWN: usize = 10;
/// How many failed objects a [`FailureDigest`] lists.
pub const FAILURES_SHOWN: usize = 20;
const NAME_MAX: usize = 120;
const MESSAGE_MAX: usize = 300;

/// The application an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    /// Its id.
    pub id: String,
    /// Its name, as the CLI accepts it.
    pub name: String,
}

/// Why a job is quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineReason {
    /// The app refused roster's credentials.
    BadCredentials,
    /// Too many of a cycle's calls failed and went to escrow.
    EscrowThreshold,
    /// A cycle would disable or delete more objects than the threshold allows.
    TooManyDeletes,
}

impl QuarantineReason {
    /// The reason's code, as the API and the logs show it.
    pub fn code(self) -> &'static str {
        match self {
            QuarantineReason::BadCredentials => "BadCredentials",
            QuarantineReason::EscrowThreshold => "EscrowThreshold",
            QuarantineReason::TooManyDeletes => "TooManyDeletes",
        }
    }
}

/// A job entered quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    /// The app.
    pub app: AppRef,
    /// Why.
    pub reason: QuarantineReason,
    /// The reason in words, such as the app's answer.
    pub detail: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// When the job tries again; `None` when it was turned off.
    pub next_attempt: Option<DateTime<Utc>>,
}

/// A cycle stopped before disabling or deleting more objects than the
/// threshold allows, and waits for an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedDeletes {
    /// The app.
    pub app: AppRef,
    /// How many disables and deletes are held.
    pub count: u64,
    /// The threshold they exceed.
    pub threshold: u64,
    /// Names of some of the held objects (userName, group name); the first
    /// [`SAMPLE_SHOWN`] are shown.
    pub sample: Vec<String>,
}

/// One object that failed to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedObject {
    /// Its name (userName, group name).
    pub object: String,
    /// The error's code (`InvalidValue`, `Throttled`...).
    pub code: String,
    /// The error's message, often the app's.
    pub message: String,
}

/// The objects that failed to provision during a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureDigest {
    /// The app.
    pub app: AppRef,
    /// The window's start.
    pub from: DateTime<Utc>,
    /// The window's end.
    pub until: DateTime<Utc>,
    /// Failed objects; the first [`FAILURES_SHOWN`] are listed.
    pub failures: Vec<FailedObject>,
    /// How many objects failed in all (at least `failures.len()`).
    pub total: u64,
}

/// A job left quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The app.
    pub app: AppRef,
    /// Why it had been quarantined.
    pub reason: QuarantineReason,
    /// Since when it had been quarantined.
    pub quarantined_since: DateTime<Utc>,
    /// When it left quarantine.
    pub at: DateTime<Utc>,
}

/// An alert about a provisioning job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A job entered quarantine.
    Quarantine(Quarantine),
    /// A cycle holds disables or deletes for approval.
    StagedDeletes(StagedDeletes),
    /// Objects failed to provision.
    FailureDigest(FailureDigest),
    /// A job left quarantine.
    Recovered(Recovered),
}

/// An alert as an email: one subject line and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAlert {
    /// The subject, one line.
    pub subject: String,
    /// The body, lines ending in `\n`.
    pub body: String,
}

impl Alert {
    /// The app it is about.
    pub fn app(&self) -> &AppRef {
        match self {
            Alert::Quarantine(a) => &a.app,
            Alert::StagedDeletes(a) => &a.app,
            Alert::FailureDigest(a) => &a.app,
            Alert::Recovered(a) => &a.app,
        }
    }

    /// Its kind, for logs: `quarantine`, `staged-deletes`, `failure-digest`, `recovered`.
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::Quarantine(_) => "quarantine",
            Alert::StagedDeletes(_) => "staged-deletes",
            Alert::FailureDigest(_) => "failure-digest",
            Alert::Recovered(_) => "recovered",
        }
    }

    /// Its subject and body.
    pub fn render(&self) -> RenderedAlert {
        let name = clean(&self.app().name, NAME_MAX);
        let (subject, body) = match self {
            Alert::Quarantine(a) => (format!("provisioning quarantined ({})", a.reason.code()), quarantine_body(a)),
            Alert::StagedDeletes(a) => (format!("{} held for approval", count(a.count, "delete")), staged_body(a)),
            Alert::FailureDigest(a) => (format!("{} failed to provision", count(total(a), "object")), digest_body(a)),
            Alert::Recovered(a) => ("provisioning recovered".to_string(), recovered_body(a)),
        };
        RenderedAlert { subject: format!("[roster] {name}: {subject}"), body }
    }
}

fn quarantine_body(a: &Quarantine) -> String {
    let app = shell_word(&a.app.name);
    let mut out = format!("Provisioning to {} is quarantined.\n\n", app_label(&a.app));
    out += &format!("Reason:        {}\n", a.reason.code());
    out += &format!("Details:       {}\n", clean(&a.detail, MESSAGE_MAX));
    out += &format!("Since:         {}\n", when(a.since));
    match a.next_attempt {
        Some(next) => out += &format!("Next attempt:  {}\n\n", when(next)),
        None => out += "Next attempt:  none, provisioning is turned off\n\n",
    }
    out += &match a.reason {
        QuarantineReason::BadCredentials => format!(
            "The app refused roster's credentials. Save working ones, then test them:\n  \
             roster app configure {app} --secret-token-file <file>\n  roster app test-connection {app}\n"
        ),
        QuarantineReason::EscrowThreshold => format!(
            "Too many of the last cycle's calls failed. The failures are in the\nprovisioning log:\n  \
             roster app logs {app} --status failure\n"
        ),
        QuarantineReason::TooManyDeletes => format!(
            "A cycle would disable or delete more objects than the threshold allows.\n\
             If that is expected, let them through:\n  roster app allow-deletes {app}\n"
        ),
    };
    out += &match a.next_attempt {
        Some(_) => format!("\nroster tries again at the next attempt. To try now:\n  roster app restart {app}\n"),
        None => format!("\nOnce the cause is fixed, turn provisioning on again:\n  roster app start {app}\n"),
    };
    out
}

fn staged_body(a: &StagedDeletes) -> String {
    let mut out = format!(
        "A provisioning cycle of {} would disable or delete\n{}, more than the threshold of {}, so it stopped\n\
         before doing any of them.\n\n",
        app_label(&a.app),
        count(a.count, "object"),
        a.threshold
    );
    if !a.sample.is_empty() {
        out += "Some of them:\n";
        out += &bullets(a.sample.iter().map(|s| clean(s, NAME_MAX)), a.count.max(a.sample.len() as u64), SAMPLE_SHOWN);
        out += "\n";
    }
    out += &format!(
        "If these changes are expected, let them through:\n  roster app allow-deletes {}\n\n",
        shell_word(&a.app.name)
    );
    out += "Otherwise fix the assignments or the scoping filter; nothing is\ndisabled or deleted until then.\n";
    out
}

fn digest_body(a: &FailureDigest) -> String {
    let mut out = format!(
        "{} failed to provision to {}\nbetween {} and {}.\n\n",
        count(total(a), "object"),
        app_label(&a.app),
        when(a.from),
        when(a.until)
    );
    let lines = a.failures.iter().map(|f| {
        format!("{}: {}: {}", clean(&f.object, NAME_MAX), clean(&f.code, NAME_MAX), clean(&f.message, MESSAGE_MAX))
    });
    out += &bullets(lines, total(a), FAILURES_SHOWN);
    out += &format!(
        "\nroster retries failed objects on its own. The details are in the\nprovisioning log:\n  \
         roster app logs {} --status failure\n",
        shell_word(&a.app.name)
    );
    out
}

fn recovered_body(a: &Recovered) -> String {
    format!(
        "Provisioning to {} left quarantine at {}.\nIt had been quarantined since {} ({}).\n\n\
         Cycles run as usual again; nothing to do.\n",
        app_label(&a.app),
        when(a.at),
        when(a.quarantined_since),
        a.reason.code()
    )
}

/// The failures in all: never fewer than those listed.
fn total(a: &FailureDigest) -> u64 {
    a.total.max(a.failures.len() as u64)
}

/// Up to `shown` items as `  - item` lines, then `  and N more` when `total` exceeds them.
fn bullets(items: impl Iterator<Item = String>, total: u64, shown: usize) -> String {
    let mut out = String::new();
    let mut listed = 0u64;
    for item in items.take(shown) {
        out += &format!("  - {item}\n");
        listed += 1;
    }
    if total > listed {
        out += &format!("  and {} more\n", total - listed);
    }
    out
}

fn app_label(app: &AppRef) -> String {
    format!("\"{}\" (id {})", clean(&app.name, NAME_MAX), clean(&app.id, NAME_MAX))
}

fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `s` on one line (control characters become spaces, runs of spaces one),
/// cut to `max` characters with `...`.
fn clean(s: &str, max: usize) -> String {
    let spaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let one_line = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(3)).collect();
        format!("{}...", cut.trim_end())
    }
}

/// `s` as one shell word, so that a command in an email can be pasted as is.
fn shell_word(s: &str) -> String {
    let s = clean(s, NAME_MAX);
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-@%+=:,/".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2024, 5, 1, hour, 0, 0).single().unwrap_or_default()
    }

    fn slack() -> AppRef {
        AppRef { id: "7f3e".into(), name: "Slack".into() }
    }

    fn check(alert: Alert, subject: &str, body: &str) {
        let rendered = alert.render();
        assert_eq!(rendered.subject, subject);
        assert_eq!(rendered.body, body, "\n--- got:\n{}--- want:\n{body}", rendered.body);
    }

    #[test]
    fn quarantine() {
        let alert = |reason, next_attempt| {
            Alert::Quarantine(Quarantine {
                app: slack(),
                reason,
                detail: "The app answered\r\n401 Unauthorized.".into(),
                since: at(12),
                next_attempt,
            })
        };
        check(
            alert(QuarantineReason::BadCredentials, Some(at(18))),
            "[roster] Slack: provisioning quarantined (BadCredentials)",
            "Provisioning to \"Slack\" (id 7f3e) is quarantined.\n\n\
             Reason:        BadCredentials\n\
             Details:       The app answered 401 Unauthorized.\n\
             Since:         2024-05-01 12:00:00 UTC\n\
             Next attempt:  2024-05-01 18:00:00 UTC\n\n\
             The app refused roster's credentials. Save working ones, then test them:\n  \
             roster app configure Slack --secret-token-file <file>\n  \
             roster app test-connection Slack\n\n\
             roster tries again at the next attempt. To try now:\n  \
             roster app restart Slack\n",
        );
        check(
            alert(QuarantineReason::EscrowThreshold, None),
            "[roster] Slack: provisioning quarantined (EscrowThreshold)",
            "Provisioning to \"Slack\" (id 7f3e) is quarantined.\n\n\
             Reason:        EscrowThreshold\n\
             Details:       The app answered 401 Unauthorized.\n\
             Since:         2024-05-01 12:00:00 UTC\n\
             Next attempt:  none, provisioning is turned off\n\n\
             Too many of the last cycle's calls failed. The failures are in the\n\
             provisioning log:\n  \
             roster app logs Slack --status failure\n\n\
             Once the cause is fixed, turn provisioning on again:\n  \
             roster app start Slack\n",
        );
        let body = alert(QuarantineReason::TooManyDeletes, Some(at(18))).render().body;
        assert!(body.contains("let them through:\n  roster app allow-deletes Slack\n"), "{body}");
    }

    #[test]
    fn staged_deletes() {
        let sample: Vec<String> = (1..=12).map(|i| format!("user{i}@example.com")).collect();
        let mut want = "A provisioning cycle of \"Slack\" (id 7f3e) would disable or delete\n\
             250 objects, more than the threshold of 100, so it stopped\n\
             before doing any of them.\n\nSome of them:\n"
            .to_string();
        for i in 1..=10 {
            want += &format!("  - user{i}@example.com\n");
        }
        want += "  and 240 more\n\n\
             If these changes are expected, let them through:\n  roster app allow-deletes Slack\n\n\
             Otherwise fix the assignments or the scoping filter; nothing is\n\
             disabled or deleted until then.\n";
        let alert = Alert::StagedDeletes(StagedDeletes { app: slack(), count: 250, threshold: 100, sample });
        check(alert, "[roster] Slack: 250 deletes held for approval", &want);

        let odd_name = AppRef { id: "1".into(), name: "Bob's CRM".into() };
        let alert = Alert::StagedDeletes(StagedDeletes { app: odd_name, count: 1, threshold: 0, sample: vec![] });
        let rendered = alert.render();
        assert_eq!(rendered.subject, "[roster] Bob's CRM: 1 delete held for approval");
        assert!(rendered.body.contains("1 object, more than"), "{}", rendered.body);
        assert!(!rendered.body.contains("Some of them"), "{}", rendered.body);
        assert!(rendered.body.contains("roster app allow-deletes 'Bob'\\''s CRM'\n"), "{}", rendered.body);
    }

    #[test]
    fn failure_digest() {
        let failure = |object: &str, code: &str, message: &str| FailedObject {
            object: object.into(),
            code: code.into(),
            message: message.into(),
        };
        let failures = vec![
            failure("alice@example.com", "InvalidValue", "title is too long"),
            failure("bob@example.com", "Throttled", "429 Too Many Requests"),
        ];
        let alert =
            Alert::FailureDigest(FailureDigest { app: slack(), from: at(12), until: at(13), failures, total: 3 });
        check(
            alert,
            "[roster] Slack: 3 objects failed to provision",
            "3 objects failed to provision to \"Slack\" (id 7f3e)\n\
             between 2024-05-01 12:00:00 UTC and 2024-05-01 13:00:00 UTC.\n\n  \
             - alice@example.com: InvalidValue: title is too long\n  \
             - bob@example.com: Throttled: 429 Too Many Requests\n  \
             and 1 more\n\n\
             roster retries failed objects on its own. The details are in the\n\
             provisioning log:\n  \
             roster app logs Slack --status failure\n",
        );

        let many: Vec<FailedObject> = (0..25).map(|i| failure(&format!("u{i}"), "E", &"x".repeat(1000))).collect();
        let alert =
            Alert::FailureDigest(FailureDigest { app: slack(), from: at(12), until: at(13), failures: many, total: 0 });
        let rendered = alert.render();
        assert_eq!(rendered.subject, "[roster] Slack: 25 objects failed to provision");
        assert_eq!(rendered.body.matches("\n  - u").count(), FAILURES_SHOWN, "{}", rendered.body);
        assert!(rendered.body.contains("  and 5 more\n"), "{}", rendered.body);
        assert!(rendered.body.lines().all(|l| l.len() <= MESSAGE_MAX + 40), "{}", rendered.body);
    }

    #[test]
    fn recovered() {
        let alert = Alert::Recovered(Recovered {
            app: slack(),
            reason: QuarantineReason::BadCredentials,
            quarantined_since: at(12),
            at: at(18),
        });
        check(
            alert,
            "[roster] Slack: provisioning recovered",
            "Provisioning to \"Slack\" (id 7f3e) left quarantine at 2024-05-01 18:00:00 UTC.\n\
             It had been quarantined since 2024-05-01 12:00:00 UTC (BadCredentials).\n\n\
             Cycles run as usual again; nothing to do.\n",
        );
    }

    #[test]
    fn names_cannot_break_the_subject() {
        let app = AppRef { id: "1".into(), name: "Evil\r\nBcc: x@example.com".into() };
        let alert = Alert::Recovered(Recovered {
            app,
            reason: QuarantineReason::BadCredentials,
            quarantined_since: at(1),
            at: at(2),
        });
        assert_eq!(alert.render().subject, "[roster] Evil Bcc: x@example.com: provisioning recovered");
    }

    #[test]
    fn clean_and_shell_word() {
        let cases = [
            ("Slack", "Slack", "Slack"),
            ("  two\twords \n", "two words", "'two words'"),
            ("it's", "it's", "'it'\\''s'"),
            ("a$(rm -rf)", "a$(rm -rf)", "'a$(rm -rf)'"),
            ("", "", "''"),
            ("ok.name-1@x", "ok.name-1@x", "ok.name-1@x"),
        ];
        for (input, cleaned, word) in cases {
            assert_eq!(clean(input, NAME_MAX), cleaned, "{input:?}");
            assert_eq!(shell_word(input), word, "{input:?}");
        }
        assert_eq!(clean(&"y".repeat(10), 8), "yyyyy...");
        assert_eq!(clean("ünïcode", 7), "ünïcode");
    }
}
