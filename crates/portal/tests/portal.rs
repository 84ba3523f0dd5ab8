//! The portal's guards over a real SQLite store and the real router, without
//! a browser (the browser test is tests/portal/ at the root): no session, no
//! page; no CSRF token, no POST; a secret never comes back; bad input is a 4xx
//! page; roles, tokens and the audit.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use roster_store::{AccessRole, SessionLifetime};

#[tokio::test]
async fn a_page_without_a_session_redirects_to_sign_in() {
    let p = TestPortal::start().await;
    let (status, headers, _) = p.get("/users?q=a", false).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/signin?next=%2Fusers%3Fq%3Da");
}

#[tokio::test]
async fn a_fetch_without_a_session_is_a_401() {
    let p = TestPortal::start().await;
    let r = Request::get("/apps/x/status.json").body(Body::empty()).expect("a valid request");
    let (status, _, body) = p.send(r).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"unauthorized\""), "{body}");
}

#[tokio::test]
async fn an_unknown_session_is_no_session() {
    let p = TestPortal::start().await;
    let r = Request::get("/apps")
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, "roster_session=rss_not-a-session")
        .body(Body::empty())
        .expect("a valid request");
    assert_eq!(p.send(r).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused_and_changes_nothing() {
    let p = TestPortal::start().await;
    assert_eq!(p.post("/groups/new", "displayName=Forged").await.0, StatusCode::FORBIDDEN);
    assert_eq!(p.post("/groups/new", "_csrf=wrong&displayName=Forged").await.0, StatusCode::FORBIDDEN);
    assert!(p.store.find_group("Forged").await.is_err(), "no group was made");
    let (status, headers, _) = p.post("/groups/new", &p.with_csrf("displayName=Real")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "with the token the form goes through");
    assert!(headers[header::LOCATION].to_str().unwrap_or_default().starts_with("/groups/"));
    assert!(p.store.find_group("Real").await.is_ok());
}

#[tokio::test]
async fn bad_input_is_a_400_page_with_the_error_next_to_its_field() {
    let p = TestPortal::start().await;
    let (status, _, body) = p.post("/users/new", &p.with_csrf("userName=&displayName=Nobody")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"err-userName\""), "{body}");
    let (status, _, _) = p.get("/users?offset=not-a-number", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = p.get("/apps/00000000-0000-0000-0000-000000000000/provisioning", true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_saved_secret_token_shows_only_as_set() {
    let p = TestPortal::start().await;
    let (status, headers, _) = p.post("/apps/new", &p.with_csrf("template=scim&name=Crm")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[header::LOCATION].to_str().unwrap_or_default().to_string();
    let app = location.trim_start_matches("/apps/").split('?').next().unwrap_or_default().to_string();
    let form = p.with_csrf(
        "mode=automatic&tenantUrl=https%3A%2F%2Fcrm.example.com%2Fscim%2Fv2&secretToken=very-secret-value-42\
         &notificationEmail=&scope=assigned&interval=40m&deleteThreshold=500&deleteThresholdPercent=&status=off",
    );
    let (status, _, body) = p.post(&format!("/apps/{app}/provisioning"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, _, page) = p.get(&format!("/apps/{app}/provisioning"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("very-secret-value-42"), "the secret is not in the page");
    assert!(page.contains("set — leave empty to keep it"));
}

/// Makes an app from `template` through the portal; its id.
#[tokio::test]
async fn an_engine_refusal_is_shown_next_to_the_field_it_names() {
    let p = TestPortal::start().await;
    let app = new_app_from(&p, "scim", "Crm").await;
    let cases = [
        ("mode=automatic&tenantUrl=ftp%3A%2F%2Fcrm.example.com&status=off", "tenantUrl"),
        ("mode=automatic&tenantUrl=https%3A%2F%2Fcrm.example.com&status=off&interval=5w", "interval"),
        ("mode=automatic&status=off&notificationEmail=ops", "notificationEmail"),
        ("mode=automatic&status=off&deleteThresholdPercent=120", "deleteThresholdPercent"),
        ("mode=automatic&status=off&driftCheckHours=721", "driftCheckHours"),
        ("mode=automatic&status=off&driftCheckHours=daily", "driftCheckHours"),
    ];
    for (fields, field) in cases {
        let form = p.with_csrf(&settings_form(fields));
        let (status, _, body) = p.post(&format!("/apps/{app}/provisioning"), &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields}");
        assert!(body.contains(&format!("id=\"err-{field}\"")), "{fields}: the error is next to {field}");
    }
}

#[tokio::test]
async fn a_manual_app_is_turned_on_and_says_its_cycles_write_hand_offs() {
    let p = TestPortal::start().await;
    let app = new_app_from(&p, "manual", "Legacy").await;
    let form = p.with_csrf(&settings_form("mode=manual&status=on"));
    let (status, _, body) = p.post(&format!("/apps/{app}/provisioning"), &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, _, page) = p.get(&format!("/apps/{app}/provisioning"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Hand-offs"), "{page}");
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let p = TestPortal::start().await;
    let (status, headers, _) = p.post("/signout", &p.with_csrf("")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[header::SET_COOKIE].to_str().unwrap_or_default().contains("Max-Age=0"));
    assert_eq!(p.get("/apps", true).await.0, StatusCode::SEE_OTHER, "the old cookie opens nothing");
}

#[tokio::test]
async fn sign_in_never_sends_the_browser_to_another_site() {
    let p = TestPortal::start().await;
    let (_, token) = p.store.create_token("signin", AccessRole::Admin, None).await.expect("a token");
    for next in
        ["%2F%2509%2Fevil.example%2Fphish", "%2F%09%2Fevil.example%2Fphish", "%2F%5Cevil.example", "%2F%2Fevil.example"]
    {
        let (status, headers, body) = p.sign_in(&format!("method=token&token={token}&next={next}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(headers[header::LOCATION], "/", "next={next}");
    }
    let (_, headers, _) = p.sign_in(&format!("method=token&token={token}&next=%2Fusers%3Fq%3Da")).await;
    assert_eq!(headers[header::LOCATION], "/users?q=a", "a local path is kept");
    let (_, _, page) = p.get("/signin?next=%2F%09%2Fevil.example%2Fphish", false).await;
    assert!(page.contains("name=\"next\" value=\"/\""), "the form carries the safe path: {page}");
}

/// The session cookie a sign-in answer sets.
fn session_cookie(headers: &axum::http::HeaderMap) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("roster_session="))
        .and_then(|c| c.split(';').next())
        .expect("the sign-in sets a session cookie")
        .to_string()
}

async fn opens(p: &TestPortal, cookie: &str, path: &str) -> StatusCode {
    let r = Request::get(path)
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("a valid request");
    p.send(r).await.0
}

#[tokio::test]
async fn a_session_opened_with_a_token_ends_when_the_token_is_revoked() {
    let p = TestPortal::start().await;
    let (_, token) = p.store.create_token("laptop", AccessRole::Admin, None).await.expect("a token");
    let (status, headers, _) = p.sign_in(&format!("method=token&token={token}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = session_cookie(&headers);
    assert_eq!(opens(&p, &cookie, "/users").await, StatusCode::OK);
    p.store.revoke_token("laptop").await.expect("revoked");
    assert_eq!(opens(&p, &cookie, "/users").await, StatusCode::SEE_OTHER, "the revoked token's session is over");
}

#[tokio::test]
async fn an_admins_sessions_end_when_the_password_changes() {
    let p = TestPortal::start().await;
    roster_portal::password::create_admin(&p.store, "Ops", &"correct horse battery".into(), AccessRole::Admin)
        .await
        .expect("an admin");
    let (status, headers, _) = p.sign_in("method=password&name=ops&password=correct+horse+battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = session_cookie(&headers);
    assert_eq!(opens(&p, &cookie, "/users").await, StatusCode::OK);
    roster_portal::password::set_admin_password(&p.store, "OPS", &"another long passphrase".into())
        .await
        .expect("changed");
    assert_eq!(opens(&p, &cookie, "/users").await, StatusCode::SEE_OTHER, "the old password's session is over");
    assert_eq!(opens(&p, &p.cookie, "/users").await, StatusCode::OK, "another admin's session goes on");
}

/// Signs in as a browser at `address` does.
async fn sign_in_from(p: &TestPortal, address: &str, fields: &str) -> (StatusCode, axum::http::HeaderMap) {
    let addr: std::net::SocketAddr = format!("{address}:50000").parse().expect("an address");
    let (_, headers, _) = p.get("/signin", false).await;
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap_or_default();
    let nonce = set_cookie.trim_start_matches("roster_signin=").split(';').next().unwrap_or_default().to_string();
    let mut r = Request::post("/signin")
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, format!("roster_signin={nonce}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("_signin={nonce}&{fields}")))
        .expect("a valid request");
    r.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    let (status, headers, _) = p.send(r).await;
    (status, headers)
}

#[tokio::test]
async fn guessing_a_password_is_slowed_for_that_account_from_that_address_only() {
    let p = TestPortal::start().await;
    roster_portal::password::create_admin(&p.store, "ops", &"correct horse battery".into(), AccessRole::Admin)
        .await
        .expect("an admin");
    roster_portal::password::create_admin(&p.store, "dev", &"another long passphrase".into(), AccessRole::Admin)
        .await
        .expect("an admin");
    for _ in 0..5 {
        let (status, _) = sign_in_from(&p, "192.0.2.1", "method=password&name=ops&password=wrong+guess+here").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, headers) =
        sign_in_from(&p, "192.0.2.1", "method=password&name=ops&password=correct+horse+battery").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the sixth attempt waits, the right password included");
    let retry: u64 = headers[header::RETRY_AFTER].to_str().unwrap_or_default().parse().expect("Retry-After seconds");
    assert!(retry >= 1, "{retry}");
    let (status, _) = sign_in_from(&p, "192.0.2.2", "method=password&name=ops&password=correct+horse+battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the same admin from another address signs in");
    let (status, _) = sign_in_from(&p, "192.0.2.1", "method=password&name=dev&password=another+long+passphrase").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "another admin from the same address signs in");
}

#[tokio::test]
async fn a_session_opened_as_its_token_is_revoked_ends_at_its_next_request() {
    let p = TestPortal::start().await;
    p.store.create_token("racing", AccessRole::Admin, None).await.expect("a token");
    // The sign-in checked the token, then the revocation ran, then the session
    // was written: the revocation's delete missed it.
    p.store.revoke_token("racing").await.expect("revoked");
    let (secret, _) =
        p.store.create_session("token:racing", AccessRole::Admin, SessionLifetime::default()).await.expect("a session");
    let cookie = format!("roster_session={secret}");
    assert_eq!(
        opens(&p, &cookie, "/users").await,
        StatusCode::SEE_OTHER,
        "the session of a revoked token opens nothing"
    );
}

#[tokio::test]
async fn a_new_tenant_url_clears_the_saved_token_and_says_so() {
    let p = TestPortal::start().await;
    let (_, headers, _) = p.post("/apps/new", &p.with_csrf("template=scim&name=Crm")).await;
    let location = headers[header::LOCATION].to_str().unwrap_or_default().to_string();
    let app = location.trim_start_matches("/apps/").split('?').next().unwrap_or_default().to_string();
    let form = |url: &str, token: &str| {
        p.with_csrf(&format!(
            "mode=automatic&tenantUrl={url}&secretToken={token}&notificationEmail=&scope=assigned&interval=40m\
             &deleteThreshold=500&deleteThresholdPercent=&status=off"
        ))
    };
    let (status, headers, _) =
        p.post(&format!("/apps/{app}/provisioning"), &form("https%3A%2F%2Fcrm.example.com%2Fscim", "s3cret")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers[header::LOCATION].to_str().unwrap_or_default().ends_with("done=saved"));
    let (status, headers, _) =
        p.post(&format!("/apps/{app}/provisioning"), &form("https%3A%2F%2Fattacker.example%2Fscim", "")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[header::LOCATION].to_str().unwrap_or_default().to_string();
    assert!(location.ends_with("done=saved-credentials-cleared"), "{location}");
    let (_, _, page) = p.get(&location, true).await;
    assert!(page.contains("credentials sent to it were cleared"), "the page says so");
}

/// The id of an app made through the portal's form.
#[tokio::test]
async fn a_read_only_admin_is_refused_a_change_and_sees_no_button_for_it() {
    let p = TestPortal::start().await;
    let reader = p.session_as(AccessRole::Read).await;
    let (status, body) = p.post_as(&reader, "/groups/new", "displayName=Sneaky").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Your role (read) cannot do this: it needs the admin role"), "{body}");
    assert!(p.store.find_group("Sneaky").await.is_err(), "no group was made");
    let (status, page) = p.get_as(&reader.0, "/groups").await;
    assert_eq!(status, StatusCode::OK, "reading is allowed");
    assert!(!page.contains("href=\"/groups/new\""), "no New group button: {page}");
    assert_eq!(p.get_as(&reader.0, "/groups/new").await.0, StatusCode::FORBIDDEN, "nor its form");
    let (_, _, page) = p.get("/groups", true).await;
    assert!(page.contains("href=\"/groups/new\""), "an admin sees the button");
}

#[tokio::test]
async fn an_operator_restarts_provisioning_but_does_not_change_its_settings() {
    let p = TestPortal::start().await;
    let app = new_app(&p, "Crm").await;
    let operator = p.session_as(AccessRole::Operator).await;
    let settings = "mode=automatic&tenantUrl=https%3A%2F%2Fcrm.example.com%2Fscim&secretToken=x&scope=assigned\
                    &interval=40m&deleteThreshold=500&deleteThresholdPercent=&status=off";
    let (status, body) = p.post_as(&operator, &format!("/apps/{app}/provisioning"), settings).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Your role (operator) cannot do this: it needs the admin role"), "{body}");
    let (status, body) = p.post_as(&operator, &format!("/apps/{app}/provisioning/restart"), "").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, page) = p.get_as(&operator.0, &format!("/apps/{app}/provisioning")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("id=\"save\""), "no Save button for an operator");
    assert!(page.contains("Restart provisioning"), "but Restart");
    assert!(page.contains(&format!("action=\"/apps/{app}/provisioning/test\"")), "and Test Connection");
    let reader = p.session_as(AccessRole::Read).await;
    let (_, page) = p.get_as(&reader.0, &format!("/apps/{app}/provisioning")).await;
    assert!(!page.contains("Restart provisioning") && !page.contains("/logs\""), "a reader sees neither");
}

#[tokio::test]
async fn an_operators_test_connection_never_saves_credentials() {
    let p = TestPortal::start().await;
    let app = new_app(&p, "Crm").await;
    let operator = p.session_as(AccessRole::Operator).await;
    let (status, body) = p
        .post_as(
            &operator,
            &format!("/apps/{app}/provisioning/test"),
            "tenantUrl=https%3A%2F%2Fattacker.example%2Fscim",
        )
        .await;
    assert_ne!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, _, page) = p.get(&format!("/apps/{app}/provisioning"), true).await;
    assert!(!page.contains("attacker.example"), "the typed URL was not saved");
}

#[tokio::test]
async fn a_session_opened_with_a_token_carries_the_tokens_role() {
    let p = TestPortal::start().await;
    let (_, token) = p.store.create_token("viewer", AccessRole::Read, None).await.expect("a token");
    let (status, headers, _) = p.sign_in(&format!("method=token&token={token}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = session_cookie(&headers);
    let (_, page) = p.get_as(&cookie, "/apps").await;
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the CSRF token")
        .to_string();
    let (status, body) = p.post_as(&(cookie, csrf), "/groups/new", "displayName=Sneaky").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("Your role (read)"), "{body}");
}

#[tokio::test]
async fn an_expired_token_opens_no_session() {
    let p = TestPortal::start().await;
    let soon = roster_store::now_ms() + 300;
    let (_, token) = p.store.create_token("brief", AccessRole::Admin, Some(soon)).await.expect("a token");
    let (status, headers, _) = p.sign_in(&format!("method=token&token={token}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "alive until its expiry");
    let cookie = session_cookie(&headers);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while opens(&p, &cookie, "/users").await == StatusCode::OK {
        assert!(std::time::Instant::now() < deadline, "the session outlived its token");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(opens(&p, &cookie, "/users").await, StatusCode::SEE_OTHER, "the session ended with its token");
    let (status, _, body) = p.sign_in(&format!("method=token&token={token}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("This token has expired"), "{body}");
}

#[tokio::test]
async fn every_route_in_the_role_table_admits_exactly_its_roles() {
    use roster_portal::access::{Kind, ROUTES};
    let p = TestPortal::start().await;
    let app = new_app(&p, "Crm").await;
    p.post("/users/new", &p.with_csrf("userName=alice")).await;
    let user = p.store.find_user("alice").await.expect("a user").id;
    p.post("/groups/new", &p.with_csrf("displayName=Eng")).await;
    let group = p.store.find_group("Eng").await.expect("a group").id;
    p.post("/sources/new", &p.with_csrf("name=Workday&template=hr-csv")).await;
    let source = p.store.find_app("Workday").await.expect("a source").id;
    for role in AccessRole::ALL {
        let session = p.session_as(role).await;
        for (kind, template, needed) in ROUTES {
            let path = match template.split('/').nth(1) {
                Some("users") => template.replace("{id}", user.as_str()),
                Some("groups") => template.replace("{id}", group.as_str()).replace("{member}", user.as_str()),
                Some("sources") => template
                    .replace("{id}", source.as_str())
                    .replace("{batch}", "none")
                    .replace("{decision}", "approve"),
                _ => template.replace("{id}", &app),
            }
            .replace("{kind}", "users")
            .replace("{index}", "0")
            .replace("{action}", "disable");
            let what = format!("{kind:?} {template} as {role}");
            let status = match kind {
                Kind::Page => p.get_as(&session.0, &path).await.0,
                // Only refusals are sent: an allowed action would run.
                Kind::Action if !role.allows(*needed) => p.post_as(&session, &path, "").await.0,
                Kind::Action => continue,
            };
            if role.allows(*needed) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{what} is admitted");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} is refused");
            }
        }
    }
}

#[tokio::test]
async fn form_actions_and_sign_ins_are_audited_without_their_secrets() {
    let p = TestPortal::start().await;
    let app = new_app(&p, "Crm").await;
    let form = p.with_csrf(
        "mode=automatic&tenantUrl=https%3A%2F%2Fcrm.example.com%2Fscim&secretToken=portal-secret-1f2e\
         &notificationEmail=&scope=assigned&interval=40m&deleteThreshold=500&deleteThresholdPercent=&status=off",
    );
    assert_eq!(p.post(&format!("/apps/{app}/provisioning"), &form).await.0, StatusCode::SEE_OTHER);
    let reader = p.session_as(AccessRole::Read).await;
    assert_eq!(p.post_as(&reader, "/groups/new", "displayName=Sneaky").await.0, StatusCode::FORBIDDEN);
    roster_portal::password::create_admin(&p.store, "ops", &"correct horse battery".into(), AccessRole::Operator)
        .await
        .expect("an admin");
    assert_eq!(p.sign_in("method=password&name=ops&password=wrong+guess+here").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(p.sign_in("method=password&name=ops&password=correct+horse+battery").await.0, StatusCode::SEE_OTHER);
    assert_eq!(p.sign_in("method=token&token=rst_made-up").await.0, StatusCode::UNAUTHORIZED);

    let log = p
        .store
        .audit(&roster_store::AuditQuery { limit: Some(100), ..Default::default() })
        .await
        .expect("the log reads")
        .items;
    let find = |action: &str, outcome: &str| {
        log.iter()
            .find(|e| e.action == action && e.outcome.starts_with(outcome))
            .unwrap_or_else(|| panic!("no {action} entry with outcome {outcome}: {log:?}"))
    };
    let saved = find("POST /apps/{id}/provisioning", "ok (303)");
    assert_eq!(saved.principal, "admin:tester");
    assert_eq!(saved.role, Some(AccessRole::Admin));
    assert_eq!(saved.target.as_deref(), Some(format!("/apps/{app}/provisioning").as_str()));
    let request = saved.request.clone().expect("the form is kept");
    assert_eq!(request["secretToken"], "changed");
    assert_eq!(request["tenantUrl"], "https://crm.example.com/scim");
    assert!(request.get("_csrf").is_none(), "the CSRF token is not kept");
    let refused = find("POST /groups/new", "refused (403)");
    assert_eq!(refused.role, Some(AccessRole::Read));
    let sign_in = |principal: &str, outcome: &str| {
        log.iter().any(|e| e.action == "sign-in" && e.principal == principal && e.outcome.starts_with(outcome))
    };
    assert!(sign_in("admin:ops", "failed (401): The admin name or the password is wrong."), "{log:?}");
    assert!(sign_in("admin:ops", "ok"), "{log:?}");
    assert!(sign_in("token:(unknown)", "failed (401)"), "{log:?}");
    let everything = serde_json::to_string(&log).expect("entries serialize");
    for secret in ["portal-secret-1f2e", "correct horse battery", "wrong guess here", "rst_made-up"] {
        assert!(!everything.contains(secret), "{secret:?} is in the audit log");
    }

    let (status, page) = p.get_as(&reader.0, "/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the audit log is for admins only");
    assert!(!page.contains("href=\"/audit\""));
    let (status, _, page) = p.get("/audit", true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("POST /apps/{id}/provisioning") && page.contains("admin:ops"), "{page}");
    assert!(page.contains("href=\"/audit\""), "admins see it in the header");
    assert!(!page.contains("portal-secret-1f2e"));
    let (_, _, page) = p.get("/audit?principal=admin%3Aops", true).await;
    assert!(!page.contains("admin:tester"), "filtered by principal");
}

#[tokio::test]
async fn a_form_that_cannot_be_read_is_a_400_page_that_says_why() {
    let p = TestPortal::start().await;
    let (status, _, body) = p.post("/groups/new", &p.with_csrf("displayName=A&displayName=B")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("role=\"alert\"") && body.contains("duplicate field `displayName`"), "{body}");
    let app = new_app(&p, "Crm").await;
    let path = format!("/apps/{app}/provisioning/mappings/user/attributes/new");
    let (status, _, body) = p.post(&path, &p.with_csrf("mappingType=javascript&target=title")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown variant `javascript`"), "{body}");
    let json = Request::post("/groups/new")
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, &p.cookie)
        .header("x-csrf-token", &p.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"displayName\":\"Json\"}"))
        .expect("a valid request");
    let (status, _, body) = p.send(json).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("send the form as application/x-www-form-urlencoded"), "{body}");
    let (status, _, body) = p.sign_in("method=password&name=a&name=b&password=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(p.store.find_group("A").await.is_err() && p.store.find_group("Json").await.is_err());
}
