//! Connectors against applications that misbehave on purpose, each a small axum
//! server on 127.0.0.1 written here: one that redirects roster elsewhere, one
//! whose answer never ends, one whose error message is megabytes long. roster must
//! send nothing to where a redirect points, stop reading at its cap, and keep
//! only the start of what an app says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use roster_connectors::dropbox::{DropboxApp, DropboxConnector};
use roster_connectors::salesforce::{SalesforceAuth, SalesforceConnector, SalesforceSettings};
use roster_connectors::{Connector, ConnectorError, ResourceKind, ScimConnector, ScimSettings};
use serde_json::{json, Value};

/// Serves `router` on a random port of 127.0.0.1; its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A server that counts every request it receives; its base URL and the count.
async fn counting_server() -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    let router = Router::new().fallback(move || {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, "{}")
        }
    });
    (serve(router).await, count)
}

/// A server that answers every request with a 307 to `to` (same path).
async fn redirecting_server(to: String) -> String {
    let router = Router::new().fallback(move |uri: axum::http::Uri| {
        let to = to.clone();
        async move {
            let location = format!("{to}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)], "")
        }
    });
    serve(router).await
}

fn refused_redirect(result: Result<impl std::fmt::Debug, ConnectorError>, to: &str) {
    match result {
        Err(ConnectorError::Permanent { status: 307, app_message, .. }) => {
            assert!(app_message.contains(to), "the error says where the app tried to send roster: {app_message}");
            assert!(app_message.contains("follows no redirect"), "{app_message}");
        }
        other => panic!("expected a refused redirect, got {other:?}"),
    }
}

fn scim(base: &str) -> ScimConnector {
    let settings =
        ScimSettings { timeout: Duration::from_secs(10), ..ScimSettings::new(format!("{base}/scim/v2"), "t0k3n") };
    ScimConnector::new(settings).expect("connector")
}

#[tokio::test]
async fn scim_does_not_follow_a_redirect_with_the_user_and_the_token() {
    let (elsewhere, received) = counting_server().await;
    let app = redirecting_server(elsewhere.clone()).await;
    let connector = scim(&app);
    let attrs = vec![("userName".to_string(), json!("ann@example.com"))];
    refused_redirect(connector.create(ResourceKind::User, &attrs).await, &elsewhere);
    refused_redirect(connector.test_connection("userName").await, &elsewhere);
    refused_redirect(connector.list(ResourceKind::User, None, 100).await, &elsewhere);
    assert_eq!(received.load(Ordering::SeqCst), 0, "nothing reached the address the redirect named");
}

#[tokio::test]
async fn salesforce_does_not_follow_a_redirect_of_its_login() {
    let (elsewhere, received) = counting_server().await;
    let app = redirecting_server(elsewhere.clone()).await;
    let auth = SalesforceAuth::Password {
        username: "admin@example.com".into(),
        password: "pw".into(),
        security_token: "tok".into(),
    };
    let settings = SalesforceSettings { timeout: Duration::from_secs(10), ..SalesforceSettings::new(auth) }
        .with_tenant_url(Some(app.as_str()));
    let connector = SalesforceConnector::new(settings).expect("connector");
    refused_redirect(connector.test_connection("Username").await, &elsewhere);
    assert_eq!(received.load(Ordering::SeqCst), 0, "the password did not reach the address the redirect named");
}

#[tokio::test]
async fn dropbox_does_not_follow_a_redirect_of_its_token_endpoint() {
    let (elsewhere, received) = counting_server().await;
    let app = redirecting_server(elsewhere.clone()).await;
    let connector = DropboxConnector::new(DropboxApp::at("key", "secret", &app), "refresh", Duration::from_secs(10))
        .expect("connector");
    refused_redirect(connector.test_connection("email").await, &elsewhere);
    assert_eq!(received.load(Ordering::SeqCst), 0, "the app secret did not reach the address the redirect named");
}

/// An answer of 64 KiB chunks that goes on for 256 MiB (as good as endless
/// here, and a bound on what a connector that reads it all holds); the count is
/// of the bytes the server managed to hand to the connection.
fn endless_body(written: Arc<AtomicU64>) -> Response {
    let chunk = bytes_of(64 << 10);
    let stream = futures::stream::unfold(0u64, move |sent| {
        let (chunk, written) = (chunk.clone(), written.clone());
        async move {
            if sent >= 256 << 20 {
                return None;
            }
            written.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(chunk.clone()), sent + chunk.len() as u64))
        }
    });
    ([(header::CONTENT_TYPE, "application/scim+json")], Body::from_stream(stream)).into_response()
}

fn bytes_of(n: usize) -> axum::body::Bytes {
    let mut v = b"{\"Resources\":[\"".to_vec();
    v.resize(n, b'x');
    axum::body::Bytes::from(v)
}

#[tokio::test]
async fn an_endless_answer_is_read_up_to_the_cap_only() {
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let app = serve(Router::new().fallback(move || {
        let w = w.clone();
        async move { endless_body(w) }
    }))
    .await;
    let connector = ScimConnector::new(ScimSettings::new(format!("{app}/scim/v2"), "t")).expect("connector");
    match connector.test_connection("userName").await {
        Err(ConnectorError::Config { message }) => assert!(message.contains("longer than 16777216 bytes"), "{message}"),
        other => panic!("expected the answer to be refused as too long, got {other:?}"),
    }
    // What the server hands to the socket past the cap sits in kernel buffers
    // until the connection closes (their size depends on the machine's TCP
    // tuning and load), then the server can write no more: the count stops,
    // far below the endless rest.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let settled = written.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = written.load(Ordering::SeqCst);
    assert_eq!(sent, settled, "the server went on writing ({settled} then {sent} bytes): roster kept reading");
    assert!(sent < 64 << 20, "the server could write {sent} bytes of 256 MiB: roster kept reading");
}

#[tokio::test]
async fn a_megabytes_long_error_detail_is_cut_to_a_kilobyte() {
    let detail = "é".repeat(2 << 20);
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": detail});
    let app = serve(Router::new().fallback(move || {
        let body = body.clone();
        async move { (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/scim+json")], body.to_string()) }
    }))
    .await;
    let attrs = vec![("userName".to_string(), Value::from("ann@example.com"))];
    match scim(&app).create(ResourceKind::User, &attrs).await {
        Err(e @ ConnectorError::Permanent { .. }) => {
            let text = e.to_string();
            assert!(text.len() <= 1200, "the error keeps {} bytes", text.len());
            assert!(text.contains("(cut, 4194304 bytes in all)"), "{}", &text[text.len() - 60..]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn salesforce_sends_no_session_to_an_instance_outside_salesforce() {
    // A loopback login server (as the contract fake is) whose answer names an
    // instance on another host: the session must not go there.
    let login = serve(Router::new().fallback(|| async {
        let body = "<soapenv:Envelope><soapenv:Body><loginResponse><result>\
            <serverUrl>https://attacker.example/services/Soap/u/64.0/00D</serverUrl>\
            <sessionId>SESSION</sessionId></result></loginResponse></soapenv:Body></soapenv:Envelope>";
        ([(header::CONTENT_TYPE, "text/xml")], body)
    }))
    .await;
    let auth = SalesforceAuth::Password {
        username: "admin@example.com".into(),
        password: "pw".into(),
        security_token: "".into(),
    };
    let settings = SalesforceSettings { timeout: Duration::from_secs(10), ..SalesforceSettings::new(auth) }
        .with_tenant_url(Some(login.as_str()));
    let connector = SalesforceConnector::new(settings).expect("connector");
    match connector.test_connection("Username").await {
        Err(ConnectorError::Config { message }) => {
            assert!(message.contains("attacker.example") && message.contains("instance"), "{message}")
        }
        other => panic!("expected the instance to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn no_connector_calls_a_cloud_metadata_address() {
    let scim = ScimConnector::new(ScimSettings::new("http://169.254.169.254/latest/meta-data", "t"));
    assert!(matches!(&scim, Err(ConnectorError::Config { message }) if message.contains("link-local")), "{scim:?}");
    let auth =
        SalesforceAuth::Password { username: "a@example.com".into(), password: "pw".into(), security_token: "".into() };
    let settings = SalesforceSettings::new(auth).with_tenant_url(Some("http://metadata.google.internal/"));
    let salesforce = SalesforceConnector::new(settings);
    assert!(matches!(&salesforce, Err(ConnectorError::Config { .. })), "{:?}", salesforce.err());
    let dropbox = DropboxConnector::new(
        DropboxApp::at("key", "secret", "http://[fd00:ec2::254]"),
        "refresh",
        Duration::from_secs(5),
    );
    assert!(matches!(&dropbox, Err(ConnectorError::Config { .. })), "{:?}", dropbox.err());
}

/// A server that answers every POST with 201 and `body`.
async fn creating_server(body: impl Into<String>) -> String {
    let body = body.into();
    let router = Router::new().fallback(move || {
        let body = body.clone();
        async move { (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/scim+json")], body) }
    });
    serve(router).await
}

#[tokio::test]
async fn a_created_answer_without_an_id_or_not_json_is_a_failure_both_ways() {
    let attrs =
        vec![("userName".to_string(), json!("ann")), ("emails[type eq \"work\"].value".to_string(), json!("a@x"))];
    for body in
        [r#"{"userName":"ann"}"#, r#"{"id":""}"#, r#"{"id":null}"#, "<html>made</html>", r#"{"id":"u1"}{"#, "[]"]
    {
        let c = scim(&creating_server(body).await);
        for (way, result) in [
            ("create", c.create(ResourceKind::User, &attrs).await.map(|t| t.id)),
            ("create_id", c.create_id(ResourceKind::User, &attrs).await),
        ] {
            match result {
                Err(ConnectorError::Permanent { status: 201, app_message, .. }) => {
                    assert!(app_message.contains("has no id"), "{way} {body}: {app_message}")
                }
                other => panic!("{way} {body}: expected a failure, got {other:?}"),
            }
        }
    }
    // A long answer with the id last is read for its id, and for nothing it does not need.
    let long = format!(
        r#"{{"userName":"ann","meta":{{"x":"{}"}},"emails":[{{"value":"a@x","type":"work"}}],"id":"u-9"}}"#,
        "y".repeat(100_000)
    );
    let c = scim(&creating_server(long).await);
    assert_eq!(c.create_id(ResourceKind::User, &attrs).await.expect("created"), "u-9");
    assert_eq!(c.dialect().unwrap_or_default().learned.len(), 0, "the app kept the entry's type: nothing to learn");
}
