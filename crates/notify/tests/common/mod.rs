//! Helpers shared by the SMTP tests: alerts of every kind, a real SMTP server
//! from PyPI (aiosmtpd, storing messages in a Maildir), and a scripted SMTP
//! server that answers each command as a test tells it to.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use roster_notify::{
    Alert, AppRef, FailedObject, FailureDigest, Quarantine, QuarantineReason, Recovered, StagedDeletes,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One alert of each kind, about the app "Payroll".
pub fn every_alert() -> Vec<Alert> {
    let at = |hour| Utc.with_ymd_and_hms(2024, 5, 1, hour, 0, 0).single().unwrap_or_default();
    let app = AppRef { id: "0b7c".into(), name: "Payroll".into() };
    vec![
        Alert::Quarantine(Quarantine {
            app: app.clone(),
            reason: QuarantineReason::BadCredentials,
            detail: "401 Unauthorized on GET /Users".into(),
            since: at(12),
            next_attempt: Some(at(18)),
        }),
        Alert::StagedDeletes(StagedDeletes {
            app: app.clone(),
            count: 42,
            threshold: 20,
            sample: vec!["alice@example.com".into(), "bob@example.com".into()],
        }),
        Alert::FailureDigest(FailureDigest {
            app: app.clone(),
            from: at(12),
            until: at(13),
            failures: vec![FailedObject {
                object: "carol@example.com".into(),
                code: "InvalidValue".into(),
                message: "title is too long".into(),
            }],
            total: 7,
        }),
        Alert::Recovered(Recovered {
            app,
            reason: QuarantineReason::BadCredentials,
            quarantined_since: at(12),
            at: at(19),
        }),
    ]
}

/// A free port on 127.0.0.1 (free when asked; a peer binds it right after).
pub fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("no free port on 127.0.0.1: {e}"),
    }
}

/// A fresh, empty directory under the system's temporary directory.
pub fn fresh_dir(label: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("roster-notify-{label}-{}-{nanos}-{n}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}

/// aiosmtpd on a free loopback port, storing each message as a file in a
/// Maildir of its own; killed by PID when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub maildir: PathBuf,
    root: PathBuf,
    child: Child,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl SmtpSink {
    /// Starts aiosmtpd from `ROSTER_SMTP_SINK` (the aiosmtpd command, or a
    /// Python that has it), else from `ROSTER_PYTHON`. `None` when neither is
    /// set: the test then says it is skipped, unless `ROSTER_REQUIRE_PEERS`
    /// makes it fail.
    pub async fn start() -> Option<SmtpSink> {
        let var = |name| std::env::var(name).ok().filter(|s| !s.is_empty());
        let Some(program) = var("ROSTER_SMTP_SINK").or_else(|| var("ROSTER_PYTHON")) else {
            if std::env::var("ROSTER_REQUIRE_PEERS").is_ok() {
                panic!("ROSTER_REQUIRE_PEERS is set but ROSTER_SMTP_SINK is not: run the tests with scripts/test.sh");
            }
            eprintln!("skipped against aiosmtpd: ROSTER_SMTP_SINK is not set (scripts/test.sh sets it)");
            return None;
        };
        let port = free_port();
        let root = fresh_dir("maildir");
        let maildir = root.join("mail");
        for sub in ["tmp", "new", "cur"] {
            if let Err(e) = std::fs::create_dir_all(maildir.join(sub)) {
                panic!("cannot create the Maildir {}: {e}", maildir.display());
            }
        }
        let is_python = Path::new(&program).file_name().is_some_and(|n| n.to_string_lossy().starts_with("python"));
        let mut command = Command::new(&program);
        if is_python {
            command.args(["-m", "aiosmtpd"]);
        }
        let listen = format!("127.0.0.1:{port}");
        command.args(["-n", "-l", &listen, "-c", "aiosmtpd.handlers.Mailbox"]).arg(&maildir);
        let child = match command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
            Ok(child) => child,
            Err(e) => panic!("cannot start aiosmtpd with {program}: {e}"),
        };
        let mut sink = SmtpSink { port, maildir, root, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if banner(port).await.is_some_and(|b| b.starts_with("220")) {
                return Some(sink);
            }
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!("aiosmtpd ({program}) exited at start with {status}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not answer on {listen} within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The delivered messages, as files' contents, once there are `n` (waits up to 10 s).
    pub async fn messages(&self, n: usize) -> Vec<String> {
        let new = self.maildir.join("new");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let files: Vec<PathBuf> = match std::fs::read_dir(&new) {
                Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => panic!("cannot read {}: {e}", new.display()),
            };
            if files.len() >= n || Instant::now() > deadline {
                return files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The first line a server on `port` sends, if it answers.
async fn banner(port: u16) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(2), reader.read_line(&mut line)).await.ok()?.ok()?;
    Some(line)
}

/// An email as stored: its headers (unfolded, names lowercased) and its body
/// (quoted-printable decoded, line ends as `\n`).
pub struct StoredEmail {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl StoredEmail {
    pub fn parse(raw: &str) -> StoredEmail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            match (line.starts_with([' ', '\t']), headers.last_mut()) {
                (true, Some((_, value))) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                _ => {
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    headers.push((name.trim().to_lowercase(), value.trim().to_string()));
                }
            }
        }
        let email = StoredEmail { headers, body: String::new() };
        let body = match email.header("content-transfer-encoding") {
            Some(e) if e.eq_ignore_ascii_case("quoted-printable") => decode_quoted_printable(body),
            _ => body.to_string(),
        };
        StoredEmail { body, ..email }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An SMTP server that answers each command from a script (by verb; `DATA.`
/// is the answer after the message), with plain defaults, and records every
/// line it receives. Stopped when dropped.
pub struct ScriptedSmtp {
    pub port: u16,
    pub received: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for ScriptedSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers the script does not override.
const DEFAULT_ANSWERS: [(&str, &str); 7] = [
    ("EHLO", "250-scripted\r\n250 8BITMIME"),
    ("MAIL", "250 2.1.0 ok"),
    ("RCPT", "250 2.1.5 ok"),
    ("DATA", "354 end with <CRLF>.<CRLF>"),
    ("DATA.", "250 2.0.0 queued"),
    ("RSET", "250 ok"),
    ("QUIT", "221 bye"),
];

impl ScriptedSmtp {
    /// Starts it; `banner` is None for a server that accepts and never speaks.
    pub async fn start(banner: Option<&'static str>, script: &[(&'static str, &'static str)]) -> ScriptedSmtp {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("cannot bind: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let mut answers: Vec<(&'static str, &'static str)> = script.to_vec();
        answers.extend(DEFAULT_ANSWERS);
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let answers = answers.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let Some(banner) = banner else {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    };
                    let _ = converse(stream, banner, &answers, &log).await;
                });
            }
        });
        ScriptedSmtp { port, received, task }
    }

    pub fn received(&self) -> Vec<String> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

async fn converse(
    stream: tokio::net::TcpStream,
    banner: &str,
    answers: &[(&str, &str)],
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(format!("{banner}\r\n").as_bytes()).await?;
    let mut in_data = false;
    while let Some(line) = lines.next_line().await? {
        if let Ok(mut l) = log.lock() {
            l.push(line.clone());
        }
        let verb = if in_data {
            if line != "." {
                continue;
            }
            "DATA.".to_string()
        } else {
            line.split_whitespace().next().unwrap_or_default().to_uppercase()
        };
        let answer = answers.iter().find(|(v, _)| *v == verb).map_or("500 5.5.1 unknown command", |(_, a)| a);
        write.write_all(format!("{answer}\r\n").as_bytes()).await?;
        in_data = verb == "DATA" && answer.starts_with("354");
        if verb == "QUIT" || answer.starts_with("221") {
            return Ok(());
        }
    }
    Ok(())
}
