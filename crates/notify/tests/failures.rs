//! How sending fails, against a scripted SMTP server: every failure comes out
//! as the `NotifyError` an admin can act on, naming what was refused.

mod common;

use std::time::Duration;

use common::{every_alert, free_port, ScriptedSmtp};
use roster_notify::{Mailer, NotifyError, Recipients, SmtpConfig};

const BANNER: Option<&str> = Some("220 scripted ESMTP");

fn mailer(url: &str, recipients: &str) -> Mailer {
    let config = SmtpConfig::parse(url, "alerts@example.com").map(|c| c.with_timeout(Duration::from_secs(5)));
    match (config, Recipients::parse(recipients)) {
        (Ok(config), Ok(recipients)) => Mailer::new(config, recipients),
        (config, recipients) => panic!("invalid test settings: {config:?} {recipients:?}"),
    }
}

async fn send(url: &str) -> Result<(), NotifyError> {
    mailer(url, "ops@example.com, nobody@example.com").send(&every_alert()[0]).await
}

#[tokio::test]
async fn a_scripted_server_gets_the_envelope_and_the_message() {
    let server = ScriptedSmtp::start(BANNER, &[]).await;
    let sent = send(&format!("smtp://127.0.0.1:{}", server.port)).await;
    assert!(sent.is_ok(), "{sent:?}");
    let received = server.received();
    let commands: Vec<&str> =
        received.iter().map(String::as_str).filter(|l| l.contains(" TO:") || l.contains(" FROM:")).collect();
    assert_eq!(
        commands,
        ["MAIL FROM:<alerts@example.com>", "RCPT TO:<ops@example.com>", "RCPT TO:<nobody@example.com>"]
    );
    assert!(received.iter().any(|l| l == "Subject: [roster] Payroll: provisioning quarantined (BadCredentials)"));
    assert_eq!(received.last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn a_refused_connection_means_unreachable() {
    let sent = send(&format!("smtp://127.0.0.1:{}", free_port())).await;
    assert!(matches!(&sent, Err(e @ NotifyError::Unreachable { .. }) if e.is_transient()), "{sent:?}");
}

#[tokio::test]
async fn a_refused_recipient_is_named_and_nothing_is_sent() {
    let server = ScriptedSmtp::start(BANNER, &[("RCPT", "550 5.1.1 mailbox unavailable")]).await;
    let sent = send(&format!("smtp://127.0.0.1:{}", server.port)).await;
    match &sent {
        Err(e @ NotifyError::RecipientRejected { recipient, reason, .. }) => {
            assert_eq!(recipient, "ops@example.com");
            assert_eq!(reason, "550 5.1.1 mailbox unavailable");
            assert!(!e.is_transient());
            assert!(e.to_string().contains("refused the recipient ops@example.com"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!server.received().iter().any(|l| l == "DATA"), "{:?}", server.received());
}

#[tokio::test]
async fn answers_at_each_step_are_classified() {
    type Script = &'static [(&'static str, &'static str)];
    type Check = fn(&NotifyError) -> bool;
    let cases: Vec<(&str, Script, Check)> = vec![
        (
            "refused sender",
            &[("MAIL", "553 5.1.8 sender rejected")],
            |e| matches!(e, NotifyError::SenderRejected { sender, .. } if sender == "alerts@example.com"),
        ),
        ("greylisted", &[("RCPT", "451 4.7.1 try again later")], |e| {
            matches!(e, NotifyError::Deferred { reason, .. } if reason.starts_with("451")) && e.is_transient()
        }),
        ("refused message", &[("DATA.", "554 5.7.1 spam")], |e| {
            matches!(e, NotifyError::Rejected { reason, .. } if reason.contains("spam")) && !e.is_transient()
        }),
        ("garbled answer", &[("EHLO", "this is not smtp")], |e| matches!(e, NotifyError::Protocol { .. })),
    ];
    for (name, script, check) in cases {
        let server = ScriptedSmtp::start(BANNER, script).await;
        let sent = send(&format!("smtp://127.0.0.1:{}", server.port)).await;
        assert!(sent.as_ref().is_err_and(check), "{name}: {sent:?}");
    }
}

#[tokio::test]
async fn tls_against_a_plain_server_is_a_tls_error() {
    let server = ScriptedSmtp::start(BANNER, &[]).await;
    let sent = send(&format!("smtps://127.0.0.1:{}", server.port)).await;
    assert!(matches!(&sent, Err(e @ NotifyError::Tls { .. }) if !e.is_transient()), "{sent:?}");
}

#[tokio::test]
async fn starttls_that_the_server_does_not_offer_is_a_tls_error() {
    let server = ScriptedSmtp::start(BANNER, &[]).await;
    let sent = send(&format!("smtp://127.0.0.1:{}?tls=starttls", server.port)).await;
    assert!(matches!(&sent, Err(NotifyError::Tls { reason, .. }) if reason.contains("STARTTLS")), "{sent:?}");
    assert!(!server.received().iter().any(|l| l.starts_with("MAIL")));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = ScriptedSmtp::start(None, &[]).await;
    let config = SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", server.port), "alerts@example.com")
        .map(|c| c.with_timeout(Duration::from_millis(300)));
    let (Ok(config), Ok(recipients)) = (config, Recipients::parse("ops@example.com")) else { panic!("valid settings") };
    let started = std::time::Instant::now();
    let sent = Mailer::new(config, recipients).send(&every_alert()[0]).await;
    assert!(matches!(&sent, Err(e @ NotifyError::Timeout { .. }) if e.is_transient()), "{sent:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}
