//! The mail settings of roster's alerts, parsed once where they enter (flags,
//! environment, the API): where the SMTP server is and how to talk to it, who
//! sends ([`SmtpConfig`]) and who receives ([`Recipients`]). The rest of the
//! crate never sees an unparsed URL or address.
//!
//! URL forms: `smtp://host[:port]` (plain, port 25), `smtp://host[:port]?tls=starttls`
//! (plain, then STARTTLS, required; port 587), `smtps://host[:port]` (TLS from
//! the first byte; port 465); each may carry `user:password@` (percent-encoded).

use std::time::Duration;

use lettre::message::{Mailbox, Mailboxes};
use percent_encoding::percent_decode_str;
use secrecy::SecretString;
use url::{Host, Url};

use crate::NotifyError;

/// How long one alert may take to send, connection included, unless set otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (`smtp://`): only for a relay on a trusted network.
    Plain,
    /// Plain connection upgraded with STARTTLS, which the server must offer (`smtp://...?tls=starttls`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    ImplicitTls,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::Plain => 25,
            Security::StartTls => 587,
            Security::ImplicitTls => 465,
        }
    }
}

/// The user and password of the SMTP URL.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub(crate) user: String,
    /// Never printed: its `Debug` is redacted.
    pub(crate) password: SecretString,
}

/// Where and how to send alerts, and from whom.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    host: String,
    port: u16,
    security: Security,
    login: Option<Login>,
    sender: Mailbox,
    timeout: Duration,
}

impl SmtpConfig {
    /// Parses an SMTP URL (see the module's documentation for the forms) and
    /// the sender address (`alerts@example.com` or `Roster <alerts@example.com>`).
    ///
    /// Credentials are refused on a plain `smtp://` URL: they would cross the
    /// network in clear. Errors never repeat the URL, which may hold a password.
    pub fn parse(url: &str, sender: &str) -> Result<SmtpConfig, NotifyError> {
        let url = Url::parse(url.trim()).map_err(|e| {
            config(format!(
                "the SMTP URL is not a URL ({e}); expected smtp://host:port, smtp://host:port?tls=starttls \
                 or smtps://host:port"
            ))
        })?;
        let mut security = match url.scheme() {
            "smtp" => Security::Plain,
            "smtps" => Security::ImplicitTls,
            other => {
                return Err(config(format!("the SMTP URL's scheme is {other:?}; expected smtp or smtps")));
            }
        };
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_string(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(config("the SMTP URL has no host: smtp://host:port".into())),
        };
        if !matches!(url.path(), "" | "/") {
            return Err(config(format!("the SMTP URL has a path ({}); expected none", url.path())));
        }
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), security) {
                ("tls", "starttls", Security::Plain) => security = Security::StartTls,
                ("tls", "starttls", _) => {
                    return Err(config("smtps:// already means TLS from the first byte; drop ?tls=starttls".into()));
                }
                ("tls", other, _) => {
                    return Err(config(format!("the SMTP URL's tls={other:?} is unknown; the one value is starttls")));
                }
                (other, _, _) => {
                    return Err(config(format!(
                        "the SMTP URL's parameter {other:?} is unknown; the one parameter is tls"
                    )));
                }
            }
        }
        let login = parse_login(&url)?;
        if login.is_some() && security == Security::Plain {
            return Err(config(
                "the SMTP URL has credentials but no TLS, so they would cross the network in clear; \
                 use smtps://... or smtp://...?tls=starttls"
                    .into(),
            ));
        }
        let sender = sender
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| config(format!("the sender {sender:?} is not an email address ({e})")))?;
        Ok(SmtpConfig {
            port: url.port().unwrap_or(security.default_port()),
            host,
            security,
            login,
            sender,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same settings with another time limit for one alert (connection included).
    pub fn with_timeout(self, timeout: Duration) -> SmtpConfig {
        SmtpConfig { timeout, ..self }
    }

    /// The server's host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, as errors and logs name the server.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// How the connection is protected.
    pub fn security(&self) -> Security {
        self.security
    }

    /// The user of the URL, if any (the password is not readable).
    pub fn user(&self) -> Option<&str> {
        self.login.as_ref().map(|l| l.user.as_str())
    }

    /// The sender, as it will appear in `From:`.
    pub fn sender(&self) -> String {
        self.sender.to_string()
    }

    /// The time limit for one alert.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn sender_mailbox(&self) -> &Mailbox {
        &self.sender
    }

    pub(crate) fn login(&self) -> Option<&Login> {
        self.login.as_ref()
    }
}

fn parse_login(url: &Url) -> Result<Option<Login>, NotifyError> {
    let decode = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| config(format!("the SMTP URL's {what} is not UTF-8 once percent-decoded")))
    };
    let user = decode(url.username(), "user")?;
    let password = decode(url.password().unwrap_or_default(), "password")?;
    Ok(match (user.is_empty(), password.is_empty()) {
        (true, true) => None,
        (true, false) => return Err(config("the SMTP URL has a password but no user".into())),
        (false, _) => Some(Login { user, password: SecretString::from(password) }),
    })
}

/// Who receives the alerts: one or more addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipients(Vec<Mailbox>);

/// The most recipients one alert goes to; beyond, use a mailing list.
pub const MAX_RECIPIENTS: usize = 50;

impl Recipients {
    /// Parses a comma-separated list of addresses (`ops@example.com, Ann <ann@example.com>`).
    pub fn parse(list: &str) -> Result<Recipients, NotifyError> {
        if list.trim().is_empty() {
            return Err(config("no recipient: give at least one email address".into()));
        }
        let mailboxes = list
            .parse::<Mailboxes>()
            .map_err(|e| config(format!("the recipients {list:?} are not a list of email addresses ({e})")))?;
        let all: Vec<Mailbox> = mailboxes.into_iter().collect();
        if all.is_empty() {
            return Err(config("no recipient: give at least one email address".into()));
        }
        if all.len() > MAX_RECIPIENTS {
            return Err(config(format!(
                "{} recipients, more than {MAX_RECIPIENTS}: send to a mailing list instead",
                all.len()
            )));
        }
        Ok(Recipients(all))
    }

    /// The addresses, as they will appear in `To:`.
    pub fn addresses(&self) -> Vec<String> {
        self.0.iter().map(|m| m.email.to_string()).collect()
    }

    pub(crate) fn mailboxes(&self) -> &[Mailbox] {
        &self.0
    }
}

fn config(message: String) -> NotifyError {
    NotifyError::Config(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `url` with a fixed sender and shows the outcome on one line.
    fn outcome(url: &str) -> String {
        match SmtpConfig::parse(url, "Roster <alerts@example.com>") {
            Ok(c) => format!("{:?} {} user={:?}", c.security(), c.server(), c.user()),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn smtp_urls() {
        fn check(url: &str, want: &str) {
            let got = outcome(url);
            assert!(got.starts_with(want), "{url}: got {got}, want {want}...");
        }
        check("smtp://mail.example.com", "Plain mail.example.com:25 user=None");
        check("smtp://mail.example.com:2525", "Plain mail.example.com:2525 user=None");
        check(" smtp://127.0.0.1:1025/ ", "Plain 127.0.0.1:1025 user=None");
        check("smtp://[::1]:1025", "Plain [::1]:1025 user=None");
        check("smtp://mail.example.com?tls=starttls", "StartTls mail.example.com:587 user=None");
        check(
            "smtp://bob:s%40cret@mail.example.com:25?tls=starttls",
            "StartTls mail.example.com:25 user=Some(\"bob\")",
        );
        check("smtps://mail.example.com", "ImplicitTls mail.example.com:465 user=None");
        check(
            "smtps://bob%40example.com:pw@mail.example.com",
            "ImplicitTls mail.example.com:465 user=Some(\"bob@example.com\")",
        );
        check("smtps://bob@mail.example.com", "ImplicitTls mail.example.com:465 user=Some(\"bob\")");
        check("mail.example.com:25", "error: mail settings: the SMTP URL's scheme is \"mail.example.com\"");
        check("mail.example.com", "error: mail settings: the SMTP URL is not a URL");
        check("http://mail.example.com", "error: mail settings: the SMTP URL's scheme is \"http\"");
        check("smtp://", "error: mail settings: the SMTP URL has no host");
        check("smtp://mail.example.com/inbox", "error: mail settings: the SMTP URL has a path");
        check(
            "smtp://mail.example.com?tls=required",
            "error: mail settings: the SMTP URL's tls=\"required\" is unknown",
        );
        check("smtp://mail.example.com?port=25", "error: mail settings: the SMTP URL's parameter \"port\" is unknown");
        check("smtps://mail.example.com?tls=starttls", "error: mail settings: smtps:// already means TLS");
        check("smtp://bob:pw@mail.example.com", "error: mail settings: the SMTP URL has credentials but no TLS");
        check("smtps://:pw@mail.example.com", "error: mail settings: the SMTP URL has a password but no user");
        check("smtp://mail.example.com:99999", "error: mail settings: the SMTP URL is not a URL");
    }

    #[test]
    fn debug_shows_the_user_not_the_password() {
        let parsed = SmtpConfig::parse("smtps://bob:hunter2@mail.example.com", "alerts@example.com");
        let mailer = parsed.as_ref().ok().cloned().zip(Recipients::parse("ops@example.com").ok());
        let mailer = mailer.map(|(config, recipients)| crate::Mailer::new(config, recipients));
        for shown in [format!("{parsed:?}"), format!("{mailer:?}")] {
            assert!(shown.contains("bob") && !shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn errors_never_show_the_password() {
        for url in
            ["smtp://bob:hunter2@mail.example.com", "smtps://bob:hunter2@mail.example.com/x", "smtps://bob:hunter2@"]
        {
            let shown = format!("{:?} {}", SmtpConfig::parse(url, "a@b.c"), outcome(url));
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn senders_and_recipients() {
        let sender = |s: &str| SmtpConfig::parse("smtp://localhost", s).map(|c| c.sender()).map_err(|e| e.to_string());
        assert_eq!(sender("alerts@example.com"), Ok("alerts@example.com".into()));
        assert_eq!(sender("Roster <alerts@example.com>"), Ok("Roster <alerts@example.com>".into()));
        assert!(sender("not an address").is_err_and(|e| e.contains("is not an email address")));

        let recipients = |s: &str| Recipients::parse(s).map(|r| r.addresses()).map_err(|e| e.to_string());
        assert_eq!(recipients("ops@example.com"), Ok(vec!["ops@example.com".into()]));
        assert_eq!(
            recipients("ops@example.com, Ann <ann@example.com>"),
            Ok(vec!["ops@example.com".into(), "ann@example.com".into()])
        );
        assert!(recipients("").is_err_and(|e| e.contains("no recipient")));
        assert!(recipients("ops@example.com, nope").is_err_and(|e| e.contains("not a list of email addresses")));
        let many = vec!["a@example.com"; MAX_RECIPIENTS + 1].join(",");
        assert!(recipients(&many).is_err_and(|e| e.contains("mailing list")));
    }
}
