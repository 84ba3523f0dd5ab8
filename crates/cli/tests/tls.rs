//! `roster serve --tls-cert --tls-key`: HTTPS with a certificate of a CA made
//! at test time, the CLI trusting that CA only when told to, HSTS and Secure
//! cookies over TLS only, plain HTTP to the HTTPS port turned away without harm,
//! the certificate swapped on SIGHUP (and kept when the new files are broken),
//! wrong files refused at start, and a clean shutdown.

mod common;

use common::certs::{write, TestCa, TlsFiles};
use common::Roster;
use std::process::Output;
use std::time::{Duration, Instant};

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// An HTTPS server with a certificate of a new CA, and that CA.
async fn https_server() -> (Roster, TlsFiles, TestCa) {
    let ca = TestCa::new("roster test CA");
    let tls = TlsFiles::issued_by(&ca);
    let server = Roster::start_https(&tls, ca.client()).await;
    (server, tls, ca)
}

/// Whether a new connection trusting `ca` only gets an answer from `/healthz`.
async fn trusted_by(ca: &TestCa, server: &Roster) -> bool {
    let answer = ca.client().get(format!("{}/healthz", server.base)).send().await;
    answer.is_ok_and(|r| r.status().is_success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_talks_to_https_server_with_its_ca_by_flag_or_env() {
    let (server, tls, _ca) = https_server().await;
    let ca = tls.ca().to_string_lossy().into_owned();

    let out = server.cli(&["--ca-cert", &ca, "user", "create", "--user-name", "ann@corp.example"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = server.cli_with_env(&[("ROSTER_CA_CERT", &ca)], &["--json", "user", "list"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ann@corp.example"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_without_ca_cert_refuses_the_unknown_certificate() {
    let (server, _tls, _ca) = https_server().await;

    let out = server.cli(&["user", "list"]).await;
    assert!(!out.status.success(), "an unknown CA is not trusted: {}", text(&out));
    let said = text(&out);
    assert!(said.contains("cannot reach the roster server at https://127.0.0.1:"), "{said}");
    assert!(said.contains("invalid peer certificate: UnknownIssuer"), "the cause is said: {said}");
    assert!(said.contains("not signed by a CA this command trusts"), "{said}");
    assert!(said.contains("--ca-cert FILE"), "what to do is said: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_explains_a_ca_certificate_served_as_the_servers_own() {
    let ca = TestCa::new("roster test CA");
    let tls = TlsFiles::issued_by(&ca);
    write(&tls.cert(), &ca.pem);
    write(&tls.key(), &ca.key_pem());
    let any_certificate =
        reqwest::Client::builder().danger_accept_invalid_certs(true).build().expect("a client for the health check");
    let server = Roster::start_https(&tls, any_certificate).await;

    let out = server.cli(&["--ca-cert", &tls.cert().to_string_lossy(), "user", "list"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("make the self-signed certificate with CA:FALSE"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_refuses_a_ca_cert_file_without_a_certificate() {
    let (server, tls, _ca) = https_server().await;
    let not_a_ca = tls.dir.join("notes.txt");
    write(&not_a_ca, "not a certificate\n");

    let out = server.cli(&["--ca-cert", &not_a_ca.to_string_lossy(), "user", "list"]).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(--ca-cert) holds no certificate"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_answers_carry_hsts_and_secure_cookies() {
    let (server, _tls, ca) = https_server().await;

    for path in ["/healthz", "/signin", "/api/v1/users"] {
        let answer = ca.client().get(format!("{}{path}", server.base)).send().await.expect("an answer");
        let hsts = answer.headers().get("strict-transport-security").and_then(|v| v.to_str().ok());
        assert_eq!(hsts, Some("max-age=31536000"), "{path}");
    }
    let signin = ca.client().get(format!("{}/signin", server.base)).send().await.expect("the sign-in page");
    let cookies: Vec<_> = signin.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.contains("; Secure")), "{cookies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_answers_carry_neither_hsts_nor_secure_cookies() {
    let server = Roster::start().await;

    let signin = reqwest::get(format!("{}/signin", server.base)).await.expect("the sign-in page");
    assert!(!signin.headers().contains_key("strict-transport-security"));
    let cookies: Vec<_> = signin.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(!cookies.is_empty() && cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_failed_handshakes_on_the_https_port_leave_the_server_serving() {
    let (server, _tls, ca) = https_server().await;
    let plain_base = server.base.replacen("https://", "http://", 1);

    let answer = reqwest::get(format!("{plain_base}/healthz")).await.expect("a plain answer");
    assert_eq!(answer.status(), reqwest::StatusCode::BAD_REQUEST);
    let said = answer.text().await.expect("a body");
    assert!(said.contains("use an https:// URL"), "{said}");

    let untrusting = TestCa::new("another CA").client();
    let refused = untrusting.get(format!("{}/healthz", server.base)).send().await;
    assert!(refused.is_err(), "a client that does not trust the certificate ends the handshake");

    // Bytes that are neither HTTP nor TLS, then a connection closed at once.
    {
        use tokio::io::AsyncWriteExt;
        let address = server.base.trim_start_matches("https://");
        let mut garbage = tokio::net::TcpStream::connect(address).await.expect("a connection");
        let _ = garbage.write_all(&[0x01, 0x02, 0x03, 0x04]).await;
        drop(garbage);
        drop(tokio::net::TcpStream::connect(address).await.expect("a connection"));
    }

    assert!(trusted_by(&ca, &server).await, "the server still serves HTTPS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_in_the_new_certificate_for_new_connections() {
    let (server, tls, old_ca) = https_server().await;
    let new_ca = TestCa::new("the next roster test CA");
    assert!(!trusted_by(&new_ca, &server).await, "the new CA is not the server's yet");

    tls.install(&new_ca);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !trusted_by(&new_ca, &server).await {
        assert!(Instant::now() < deadline, "the new certificate is not served 30 s after SIGHUP:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!trusted_by(&old_ca, &server).await, "the old certificate is gone");
    assert!(server.log().contains("reloaded the TLS certificate"), "{}", server.log());

    let ca = tls.ca().to_string_lossy().into_owned();
    let out = server.cli(&["--ca-cert", &ca, "user", "list"]).await;
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_with_a_broken_certificate_file_keeps_the_old_certificate() {
    let (server, tls, ca) = https_server().await;

    write(&tls.cert(), "-----BEGIN CERTIFICATE-----\nhalf written");
    server.signal("HUP");
    server.wait_for_log("still serving the previous certificate").await;
    assert!(server.log().contains(&tls.cert().display().to_string()), "the log names the file:\n{}", server.log());
    assert!(trusted_by(&ca, &server).await, "the old certificate still serves:\n{}", server.log());

    // A key that is not the certificate's is refused the same way.
    let (cert, _) = ca.issue();
    let (_, other_key) = ca.issue();
    write(&tls.cert(), &cert);
    write(&tls.key(), &other_key);
    server.signal("HUP");
    server.wait_for_log("does not fit the certificate").await;
    assert!(trusted_by(&ca, &server).await, "the old certificate still serves:\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_server_shuts_down_cleanly_on_sigterm() {
    let (mut server, _tls, ca) = https_server().await;
    // An idle kept-alive connection, and one that never starts its handshake.
    let keeps_alive = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("the CA's PEM"))
        .build()
        .expect("a client");
    let answer = keeps_alive.get(format!("{}/healthz", server.base)).send().await.expect("an answer");
    assert!(answer.status().is_success());
    let _silent =
        tokio::net::TcpStream::connect(server.base.trim_start_matches("https://")).await.expect("a connection");

    server.signal("TERM");
    let status = server.wait_for_exit().await;
    assert!(status.success(), "{status}:\n{}", server.log());
}

/// Runs `roster serve` with `tls_args`, expecting it to refuse to start; what it said.
async fn refused_start(tls_args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("roster-refused-{}", uuid::Uuid::new_v4().simple()));
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(["--data-dir", &dir.to_string_lossy(), "serve", "--listen", "127.0.0.1:0"])
        .args(tls_args)
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_TLS_CERT")
        .env_remove("ROSTER_TLS_KEY");
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("roster serve ends within 60 s")
        .expect("roster runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "roster serve {tls_args:?} started: {}", text(&out));
    assert!(!dir.exists(), "nothing is written before the certificate is checked");
    text(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_with_wrong_tls_files() {
    let ca = TestCa::new("roster test CA");
    let tls = TlsFiles::issued_by(&ca);
    let (cert, key) = (tls.cert().to_string_lossy().into_owned(), tls.key().to_string_lossy().into_owned());
    let missing = tls.dir.join("missing.pem").to_string_lossy().into_owned();
    let other_key = tls.dir.join("other-key.pem");
    write(&other_key, &ca.issue().1);
    let other_key = other_key.to_string_lossy().into_owned();
    let ca_pem = tls.ca().to_string_lossy().into_owned();

    let cases: &[(&[&str], &str)] = &[
        (&["--tls-cert", &cert], "--tls-key"),
        (&["--tls-key", &key], "--tls-cert"),
        (&["--tls-cert", &missing, "--tls-key", &key], "cannot read the TLS certificate file"),
        (&["--tls-cert", &cert, "--tls-key", &missing], "cannot read the TLS key file"),
        (&["--tls-cert", &key, "--tls-key", &key], "holds no certificate"),
        (&["--tls-cert", &cert, "--tls-key", &cert], "holds no private key"),
        (&["--tls-cert", &cert, "--tls-key", &other_key], "does not fit the certificate"),
        (&["--tls-cert", &ca_pem, "--tls-key", &key], "does not fit the certificate"),
    ];
    for (args, expected) in cases {
        let said = refused_start(args).await;
        assert!(said.contains(expected), "{args:?}: expected {expected:?} in: {said}");
    }
}
