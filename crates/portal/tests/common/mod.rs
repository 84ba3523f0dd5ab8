//! The portal's tests' harness: a portal over a fresh SQLite store and the
//! real router, a signed-in session, and the forms the tests post.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use roster_portal::{router, PortalState};
use roster_store::{AccessRole, SessionLifetime, Store};
use tower::ServiceExt;

/// A portal over a fresh store, and a signed-in session (its cookie and CSRF token).
pub struct TestPortal {
    pub app: Router,
    pub store: Store,
    pub engine: std::sync::Arc<roster_engine::Engine>,
    pub cookie: String,
    pub csrf: String,
    pub _dir: TempDir,
}

pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestPortal {
    pub async fn start() -> TestPortal {
        let dir = std::env::temp_dir().join(format!("roster-portal-test-{}", rand::random::<u64>()));
        let store = Store::open_sqlite(&dir).await.expect("a fresh SQLite store opens");
        let engine = roster_engine::Engine::new(store.clone(), roster_store::secrets::Cipher::from_key([7; 32]));
        let app = router(PortalState::new(store.clone(), Some(engine.clone())));
        // The hash is never checked here: the session is made directly.
        store
            .create_admin("tester", "$argon2id$v=19$m=19456,t=2,p=1$unused", AccessRole::Admin)
            .await
            .expect("an admin");
        let (secret, session) = store
            .create_session("admin:tester", AccessRole::Admin, SessionLifetime::default())
            .await
            .expect("a session starts");
        TestPortal {
            app,
            store,
            engine,
            cookie: format!("roster_session={secret}"),
            csrf: session.csrf_token,
            _dir: TempDir(dir),
        }
    }

    /// A session of a new admin account with `role`: its cookie and CSRF token.
    pub async fn session_as(&self, role: AccessRole) -> (String, String) {
        let name = format!("{role}-{}", rand::random::<u32>());
        self.store.create_admin(&name, "$argon2id$v=19$m=19456,t=2,p=1$unused", role).await.expect("an admin");
        let (secret, session) = self
            .store
            .create_session(&format!("admin:{name}"), role, SessionLifetime::default())
            .await
            .expect("a session starts");
        (format!("roster_session={secret}"), session.csrf_token)
    }

    /// A GET of `path` with the session `cookie`.
    pub async fn get_as(&self, cookie: &str, path: &str) -> (StatusCode, String) {
        let r = Request::get(path)
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("a valid request");
        let (status, _, body) = self.send(r).await;
        (status, body)
    }

    /// A form POST of `form` to `path` with the session `(cookie, csrf)`.
    pub async fn post_as(&self, (cookie, csrf): &(String, String), path: &str, form: &str) -> (StatusCode, String) {
        let r = Request::post(path)
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("_csrf={csrf}&{form}")))
            .expect("a valid request");
        let (status, _, body) = self.send(r).await;
        (status, body)
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = self.app.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 4 << 20).await.expect("the body reads");
        (status, headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn get(&self, path: &str, signed_in: bool) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut r = Request::get(path).header(header::ACCEPT, "text/html");
        if signed_in {
            r = r.header(header::COOKIE, &self.cookie);
        }
        self.send(r.body(Body::empty()).expect("a valid request")).await
    }

    pub async fn post(&self, path: &str, form: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let r = Request::post(path)
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("a valid request");
        self.send(r).await
    }

    pub fn with_csrf(&self, form: &str) -> String {
        format!("_csrf={}&{form}", self.csrf)
    }

    /// Signs in through the form as a browser does, with no session yet: the
    /// page for its nonce cookie, then the post of `fields` (form-encoded).
    pub async fn sign_in(&self, fields: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let (_, headers, _) = self.get("/signin", false).await;
        let set_cookie = headers[header::SET_COOKIE].to_str().unwrap_or_default();
        let nonce = set_cookie.trim_start_matches("roster_signin=").split(';').next().unwrap_or_default().to_string();
        let r = Request::post("/signin")
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, format!("roster_signin={nonce}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("_signin={nonce}&{fields}")))
            .expect("a valid request");
        self.send(r).await
    }
}

pub async fn new_app_from(p: &TestPortal, template: &str, name: &str) -> String {
    let (status, headers, _) = p.post("/apps/new", &p.with_csrf(&format!("template={template}&name={name}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[header::LOCATION].to_str().unwrap_or_default().to_string();
    location.trim_start_matches("/apps/").split('?').next().unwrap_or_default().to_string()
}

/// The Settings part of the provisioning form, with `changed` (`name=value`
/// pairs) in place of the defaults.
pub fn settings_form(changed: &str) -> String {
    let mut fields: Vec<(String, String)> = [
        ("notificationEmail", ""),
        ("scope", "assigned"),
        ("interval", "40m"),
        ("deleteThreshold", "500"),
        ("deleteThresholdPercent", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for pair in changed.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match fields.iter_mut().find(|(name, _)| name == k) {
            Some(field) => field.1 = v.to_string(),
            None => fields.push((k.to_string(), v.to_string())),
        }
    }
    fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

pub async fn new_app(p: &TestPortal, name: &str) -> String {
    new_app_from(p, "scim", name).await
}
