//! Alerts delivered over real SMTP to aiosmtpd (from PyPI), read back from the
//! files it stores: headers, envelope and body as the recipients get them.

mod common;

use common::{every_alert, SmtpSink, StoredEmail};
use roster_notify::{Mailer, Recipients, SmtpConfig};

#[tokio::test]
async fn every_alert_kind_reaches_the_recipients_as_rendered() {
    let Some(sink) = SmtpSink::start().await else { return };
    let config = SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port), "Roster <alerts@example.com>");
    let recipients = Recipients::parse("ops@example.com, Ann <ann@example.com>");
    let (Ok(config), Ok(recipients)) = (config, recipients) else { panic!("valid mail settings") };
    let mailer = Mailer::new(config, recipients);

    let alerts = every_alert();
    for alert in &alerts {
        if let Err(e) = mailer.send(alert).await {
            panic!("{} not sent: {e}", alert.kind());
        }
    }

    let stored: Vec<StoredEmail> = sink.messages(alerts.len()).await.iter().map(|m| StoredEmail::parse(m)).collect();
    assert_eq!(stored.len(), alerts.len());
    for alert in &alerts {
        let rendered = alert.render();
        let Some(email) = stored.iter().find(|e| e.header("subject") == Some(rendered.subject.as_str())) else {
            let subjects: Vec<_> = stored.iter().map(|e| e.header("subject")).collect();
            panic!("no email with subject {:?} among {subjects:?}", rendered.subject);
        };
        assert_eq!(email.header("from"), Some("Roster <alerts@example.com>"));
        assert_eq!(email.header("to"), Some("ops@example.com, Ann <ann@example.com>"));
        assert_eq!(email.header("x-mailfrom"), Some("alerts@example.com"));
        assert_eq!(email.header("x-rcptto"), Some("ops@example.com, ann@example.com"));
        assert!(email.header("content-type").is_some_and(|t| t.starts_with("text/plain")), "{:?}", email.headers);
        assert!(email.header("date").is_some() && email.header("message-id").is_some(), "{:?}", email.headers);
        assert_eq!(email.body.trim_end(), rendered.body.trim_end(), "{}", alert.kind());
    }
}
