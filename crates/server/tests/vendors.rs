//! The gallery's vendor apps end to end, through the real server and engine:
//! Salesforce and Dropbox for Business against their contract fakes (the
//! lifecycle, roles, credentials and throttling), and manual mode's
//! hand-offs. Each scenario runs on SQLite and on PostgreSQL.

mod common;

use common::{eventually, TestApp};
use reqwest::StatusCode;
use roster_vendor_fakes::dropbox::{self, FakeMember, FakeStatus, FakeTeam, RunningDropbox, USER_MANAGEMENT_ROLE};
use roster_vendor_fakes::salesforce::{self, FakeOrg, RunningSalesforce};
use serde_json::{json, Map, Value};
use std::time::Duration;

const SYSTEM_ADMINISTRATOR: &str = "00e000000000001AAA";
const STANDARD_USER: &str = "00e000000000002AAA";

fn message(v: &Value) -> String {
    v["error"]["message"].as_str().or(v["message"].as_str()).unwrap_or_default().to_string()
}

async fn user(app: &TestApp, user_name: &str, given: &str, surname: &str, title: &str) {
    let body = json!({"userName": user_name, "givenName": given, "surname": surname, "jobTitle": title});
    let (s, v) = app.post("/users", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn assign(app: &TestApp, app_name: &str, user_name: &str, role: &str) {
    let (s, v) = app.post(&format!("/apps/{app_name}/assignments"), json!({"user": user_name, "role": role})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn unassign(app: &TestApp, app_name: &str, user_name: &str, role: Option<&str>) {
    let role = role.map(|r| format!("&role={}", r.replace(' ', "%20"))).unwrap_or_default();
    let (s, v) = app.delete(&format!("/apps/{app_name}/assignments?user={user_name}{role}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
}

async fn create_app(app: &TestApp, name: &str, template: &str) {
    let (s, v) = app.post("/apps", json!({"name": name, "template": template})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["template"], template);
}

async fn configure(app: &TestApp, name: &str, settings: Value) -> Value {
    let (s, v) = app.patch(&format!("/apps/{name}/provisioning"), settings).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn test_connection(app: &TestApp, name: &str) -> (bool, String) {
    let (s, v) = app.post(&format!("/apps/{name}/provisioning/test-connection"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["ok"] == true, message(&v))
}

async fn roles(app: &TestApp, name: &str) -> Vec<Value> {
    let (s, v) = app.get(&format!("/apps/{name}/roles")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

async fn failures(app: &TestApp, name: &str, user_name: &str) -> Vec<Value> {
    let (_, v) = app.get(&format!("/apps/{name}/provisioning/logs?user={user_name}&status=failure")).await;
    v["items"].as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------- gallery

async fn gallery_lists_every_template_with_its_modes(app: &TestApp) {
    let (s, list) = app.get("/gallery").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let names: Vec<&str> = list.as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["scim", "salesforce", "dropbox", "manual"]);
    for t in list.as_array().into_iter().flatten() {
        let modes: Vec<&str> = t["modes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        if t["name"] == "manual" {
            assert_eq!(modes, ["manual"], "{t}");
            assert!(t["manualOnlyReason"].as_str().is_some_and(|r| r.contains("no user-management API")), "{t}");
            assert!(t["modesText"].as_str().is_some_and(|m| m.starts_with("manual only")), "{t}");
        } else {
            assert_eq!(modes, ["manual", "automatic"], "{t}");
        }
    }
    let (s, sf) = app.get("/gallery/salesforce").await;
    assert_eq!(s, StatusCode::OK);
    let fields: Vec<&str> =
        sf["credentials"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str()).collect();
    assert!(fields.contains(&"adminUsername") && fields.contains(&"secretToken"), "{fields:?}");
    assert_eq!(sf["matchingAttributes"], json!(["Username", "FederationIdentifier"]));
    assert_eq!(sf["appRoles"]["defaultRole"]["name"], "Default Access");
    let (s, v) = app.get("/gallery/fax").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(message(&v).contains("scim, salesforce, dropbox, manual"), "{v}");
    let (s, v) = app.post("/apps", json!({"name": "Fax", "template": "fax"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("unknown template") && message(&v).contains("dropbox"), "{v}");
    // A new app starts with its template's mappings.
    create_app(app, "Sf", "salesforce").await;
    let (_, m) = app.get("/apps/Sf/provisioning/mappings").await;
    assert_eq!(m["objects"][0]["attributes"][0]["target"], "Username");
    let (_, settings) = app.get("/apps/Sf/provisioning").await;
    assert_eq!(settings["template"], "salesforce");
    assert_eq!(settings["mode"], "automatic");
}

// ---------------------------------------------------------------- Salesforce

async fn start_org() -> (RunningSalesforce, FakeOrg) {
    let org = FakeOrg::default();
    let sf = salesforce::start("127.0.0.1:0".parse().expect("address"), org.clone()).await.expect("fake org");
    (sf, org)
}

fn password_login(sf: &RunningSalesforce, org: &FakeOrg) -> Value {
    json!({
        "adminUsername": org.admin.username,
        "adminPassword": org.admin.password,
        "secretToken": org.admin.security_token,
        "tenantUrl": sf.base_url,
    })
}

fn sf_patches(sf: &RunningSalesforce, id: &str) -> Vec<Value> {
    sf.requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&format!("/sobjects/User/{id}")))
        .filter_map(|r| r.body)
        .collect()
}

fn sf_field(u: &Map<String, Value>, f: &str) -> Value {
    u.get(f).cloned().unwrap_or(Value::Null)
}

async fn sf_user(
    sf: &RunningSalesforce,
    username: &str,
    what: &str,
    check: impl Fn(&Map<String, Value>) -> bool,
) -> Map<String, Value> {
    eventually(20, what, || async { sf.user_by_username(username).filter(|u| check(u)) }).await
}

async fn salesforce_lifecycle(app: &TestApp) {
    let (sf, org) = start_org().await;
    // An account that exists before roster: matched by Username and adopted.
    sf.insert_user(json!({
        "Username": "dave@acme.example.com", "Email": "dave@acme.example.com", "FirstName": "Dave", "LastName": "Old",
        "Alias": "dold", "CommunityNickname": "dave", "ProfileId": STANDARD_USER, "TimeZoneSidKey": "America/Los_Angeles",
        "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
    }));
    create_app(app, "Sf", "salesforce").await;
    configure(app, "Sf", password_login(&sf, &org)).await;
    let (ok, said) = test_connection(app, "Sf").await;
    assert!(ok, "{said}");
    assert!(said.contains("SOAP API login()") && said.contains("imported"), "{said}");

    // Roles: the org's profiles and roles; Default Access and portal profiles refused.
    let roles = roles(app, "Sf").await;
    let role = |name: &str| roles.iter().find(|r| r["name"] == name).cloned().unwrap_or(Value::Null);
    assert_eq!(role("Standard User")["value"], STANDARD_USER);
    assert_eq!(role("System Administrator")["imported"], true);
    assert!(role("Default Access")["refused"].as_str().is_some_and(|r| r.contains("does not work for provisioning")));
    assert!(role("Customer Community User")["refused"].is_string());
    user(app, "alice@acme.example.com", "Alice", "Smith", "Engineer").await;
    user(app, "dave@acme.example.com", "Dave", "Jones", "Analyst").await;
    let (s, v) = app.post("/apps/Sf/assignments", json!({"user": "alice@acme.example.com"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the default role is Default Access: {v}");
    assert!(message(&v).contains("Default Access") && message(&v).contains("profile"), "{v}");
    let (s, v) = app
        .post("/apps/Sf/assignments", json!({"user": "alice@acme.example.com", "role": "Customer Community User"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assign(app, "Sf", "alice@acme.example.com", "Standard User").await;
    assign(app, "Sf", "dave@acme.example.com", "Standard User").await;
    let (s, v) = app.post("/apps/Sf/provisioning/start", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Created, with the fields Salesforce requires, fitted to its rules.
    let alice = sf_user(&sf, "alice@acme.example.com", "alice is created", |_| true).await;
    assert_eq!(sf_field(&alice, "ProfileId"), STANDARD_USER);
    assert_eq!(sf_field(&alice, "Alias"), "asmith");
    assert_eq!(sf_field(&alice, "IsActive"), true);
    assert_eq!(sf_field(&alice, "Title"), "Engineer");
    let alice_id = sf_field(&alice, "Id").as_str().unwrap_or_default().to_string();
    // Matched and adopted: one dave, updated, not created again.
    sf_user(&sf, "dave@acme.example.com", "dave is adopted", |u| sf_field(u, "LastName") == "Jones").await;
    assert_eq!(sf.count("POST sobjects/User"), 1, "only alice is created");

    // An attribute change is a PATCH of that field only.
    let (s, _) = app.patch("/users/alice@acme.example.com", json!({"jobTitle": "Lead"})).await;
    assert_eq!(s, StatusCode::OK);
    sf_user(&sf, "alice@acme.example.com", "alice's title", |u| sf_field(u, "Title") == "Lead").await;
    assert_eq!(sf_patches(&sf, &alice_id).last(), Some(&json!({"Title": "Lead"})));

    // A role change reaches the app as the profile.
    assign(app, "Sf", "alice@acme.example.com", "System Administrator").await;
    unassign(app, "Sf", "alice@acme.example.com", Some("Standard User")).await;
    sf_user(&sf, "alice@acme.example.com", "alice's profile", |u| sf_field(u, "ProfileId") == SYSTEM_ADMINISTRATOR)
        .await;

    // Unassigned: disabled, never deleted; assigned again: enabled.
    unassign(app, "Sf", "alice@acme.example.com", None).await;
    sf_user(&sf, "alice@acme.example.com", "alice is disabled", |u| sf_field(u, "IsActive") == false).await;
    assert_eq!(sf.count("DELETE sobjects/User/{id}"), 0);
    assign(app, "Sf", "alice@acme.example.com", "Standard User").await;
    sf_user(&sf, "alice@acme.example.com", "alice is enabled", |u| sf_field(u, "IsActive") == true).await;
    assert_eq!(sf_patches(&sf, &alice_id).last().map(|b| b["IsActive"].clone()), Some(json!(true)));

    // Gone from the org behind roster's back: created again on the next change.
    sf.state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .users
        .retain(|u| u.get("Username") != Some(&json!("dave@acme.example.com")));
    app.patch("/users/dave@acme.example.com", json!({"jobTitle": "Manager"})).await;
    sf_user(&sf, "dave@acme.example.com", "dave is created again", |u| sf_field(u, "Title") == "Manager").await;
    assert_eq!(sf.count("POST sobjects/User"), 2);
    assert!(failures(app, "Sf", "alice@acme.example.com").await.is_empty());
}

async fn salesforce_credentials(app: &TestApp) {
    let (sf, org) = start_org().await;
    create_app(app, "Sf", "salesforce").await;
    let (ok, said) = test_connection(app, "Sf").await;
    assert!(!ok && said.contains("--admin-username"), "not configured yet: {said}");
    let mut wrong = password_login(&sf, &org);
    wrong["adminPassword"] = json!("not-the-password");
    configure(app, "Sf", wrong).await;
    let (ok, said) = test_connection(app, "Sf").await;
    assert!(!ok && said.contains("INVALID_LOGIN"), "{said}");
    configure(app, "Sf", json!({"adminPassword": org.admin.password, "secretToken": ""})).await;
    let (ok, said) = test_connection(app, "Sf").await;
    assert!(!ok && said.contains("LOGIN_MUST_USE_SECURITY_TOKEN"), "{said}");
    let view = configure(app, "Sf", json!({"secretToken": org.admin.security_token})).await;
    assert_eq!(view["adminPasswordSet"], true);
    assert!(!view.to_string().contains(&org.admin.password) && !view.to_string().contains(&org.admin.security_token));
    let (ok, said) = test_connection(app, "Sf").await;
    assert!(ok && said.contains("SOAP API login()"), "{said}");

    // The client credentials flow of a connected app, said so by Test Connection.
    let connected = org.connected_app.clone().expect("connected app");
    configure(app, "Sf", json!({"clientId": connected.client_id, "clientSecret": connected.client_secret})).await;
    let (ok, said) = test_connection(app, "Sf").await;
    assert!(ok && said.contains("client credentials"), "{said}");

    // An expired session is renewed: provisioning goes on.
    user(app, "erin@acme.example.com", "Erin", "Lee", "Engineer").await;
    assign(app, "Sf", "erin@acme.example.com", "Standard User").await;
    app.post("/apps/Sf/provisioning/start", json!({})).await;
    sf_user(&sf, "erin@acme.example.com", "erin is created", |_| true).await;
    sf.expire_sessions();
    app.patch("/users/erin@acme.example.com", json!({"jobTitle": "Lead"})).await;
    sf_user(&sf, "erin@acme.example.com", "erin's title after the session expired", |u| sf_field(u, "Title") == "Lead")
        .await;
}

async fn salesforce_api_limit_holds_the_work(app: &TestApp) {
    let (sf, org) = start_org().await;
    create_app(app, "Sf", "salesforce").await;
    let mut settings = password_login(&sf, &org);
    settings["apiLimitHoldSecs"] = json!(3);
    configure(app, "Sf", settings).await;
    assert!(test_connection(app, "Sf").await.0);
    user(app, "fay@acme.example.com", "Fay", "Wu", "Engineer").await;
    assign(app, "Sf", "fay@acme.example.com", "Standard User").await;
    app.post("/apps/Sf/provisioning/start", json!({})).await;
    sf_user(&sf, "fay@acme.example.com", "fay is created", |_| true).await;

    // The org's daily limit is used up: roster stops calling for the hold
    // (Salesforce sends no Retry-After), and the change is held, not lost.
    let fay = sf.user_by_username("fay@acme.example.com").expect("fay");
    let fay_id = sf_field(&fay, "Id").as_str().unwrap_or_default().to_string();
    let before = sf_patches(&sf, &fay_id).len();
    sf.exhaust_api_limit(true);
    app.patch("/users/fay@acme.example.com", json!({"jobTitle": "Held"})).await;
    eventually(30, "the change meets REQUEST_LIMIT_EXCEEDED", || async {
        (sf_patches(&sf, &fay_id).len() > before).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sf_patches(&sf, &fay_id).len(), before + 1, "no second call within the hold");
    assert_eq!(sf.user_by_username("fay@acme.example.com").map(|u| sf_field(&u, "Title")), Some(json!("Engineer")));
    sf.exhaust_api_limit(false);
    eventually(60, "the held change reaches Salesforce", || async {
        let _ = app.post("/apps/Sf/provisioning/sync", json!({})).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        sf.user_by_username("fay@acme.example.com").filter(|u| sf_field(u, "Title") == "Held")
    })
    .await;
}

// ---------------------------------------------------------------- Dropbox

async fn start_team(team: FakeTeam) -> RunningDropbox {
    dropbox::start("127.0.0.1:0".parse().expect("address"), team).await.expect("fake Dropbox")
}

async fn dropbox_app(app: &TestApp, fake: &RunningDropbox, name: &str) {
    create_app(app, name, "dropbox").await;
    let team = fake.state.lock().team.clone();
    configure(
        app,
        name,
        json!({
            "clientId": team.app_key, "clientSecret": team.app_secret, "apiUrl": fake.base_url,
            "authorizeUrl": fake.authorize_url(), "tokenUrl": fake.token_url(),
        }),
    )
    .await;
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// Drives Authorize as a browser would: roster's URL, Dropbox's consent (a
/// 302), then roster's callback. Returns the callback's status and page.
async fn authorize(app: &TestApp, name: &str) -> (StatusCode, String, String) {
    let (s, v) = app.post(&format!("/apps/{name}/provisioning/authorize"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let url = v["url"].as_str().expect("url").to_string();
    assert!(url.contains("token_access_type=offline") && url.contains("state="), "{url}");
    let browser = no_redirects();
    let consent = browser.get(&url).send().await.expect("consent page");
    assert_eq!(consent.status(), StatusCode::FOUND);
    let back = consent.headers()["location"].to_str().expect("location").to_string();
    assert!(back.starts_with(&format!("{}/oauth/callback?", app.base)), "{back}");
    let page = browser.get(&back).send().await.expect("callback");
    let status = page.status();
    (status, page.text().await.expect("page"), back)
}

async fn dropbox_member(
    fake: &RunningDropbox,
    email: &str,
    what: &str,
    check: impl Fn(&FakeMember) -> bool,
) -> FakeMember {
    eventually(20, what, || async { fake.state.lock().member(email).filter(|m| check(m)).cloned() }).await
}

async fn dropbox_lifecycle(app: &TestApp) {
    let team = FakeTeam {
        members: vec![
            FakeMember::active(dropbox::ADMIN_EMAIL, "Ada", "Admin").with_role(dropbox::TEAM_ADMIN_ROLE),
            FakeMember::active("dave@corp.example", "Dave", "Old").with_external_id("legacy-7"),
        ],
        ..FakeTeam::default()
    };
    let fake = start_team(team).await;
    dropbox_app(app, &fake, "Dbx").await;
    let (ok, said) = test_connection(app, "Dbx").await;
    assert!(!ok && said.contains("roster app authorize"), "before Authorize: {said}");

    let (status, page, callback) = authorize(app, "Dbx").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("roster is authorized for Dbx"), "{page}");
    let audit = app.get("/audit?principal=oauth:callback").await.1;
    let entry = &audit["items"][0];
    assert_eq!(entry["target"], "Dbx", "{audit}");
    assert!(entry["outcome"].as_str().unwrap_or_default().starts_with("ok (200)"), "{audit}");
    let query = callback.split_once('?').map(|(_, q)| q).unwrap_or_default();
    for pair in query.split('&') {
        let value = pair.split_once('=').map(|(_, v)| v).unwrap_or_default();
        assert!(value.len() < 4 || !audit.to_string().contains(value), "the callback's {pair} is not kept");
    }
    // The state is used once.
    let again = no_redirects().get(&callback).send().await.expect("callback again");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    // The refresh token is sealed and never shown.
    let (_, view) = app.get("/apps/Dbx/provisioning").await;
    assert_eq!(view["authorized"], true, "{view}");
    assert!(!view.to_string().contains("rt."), "{view}");

    let (ok, said) = test_connection(app, "Dbx").await;
    assert!(ok && said.contains("Example Team") && said.contains("imported"), "{said}");
    let roles = roles(app, "Dbx").await;
    let names: Vec<&str> = roles.iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(names.contains(&"Member") && names.contains(&"User management admin"), "{names:?}");
    let (s, v) = app.post("/apps/Dbx/assignments", json!({"user": "x"})).await;
    assert!(s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST, "{v}");

    user(app, "alice@corp.example", "Alice", "Smith", "Engineer").await;
    user(app, "dave@corp.example", "Dave", "Jones", "Analyst").await;
    let (s, v) = app.post("/apps/Dbx/assignments", json!({"user": "alice@corp.example"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "Default Access is refused: {v}");
    assign(app, "Dbx", "alice@corp.example", "Member").await;
    assign(app, "Dbx", "dave@corp.example", "Member").await;
    app.post("/apps/Dbx/provisioning/start", json!({})).await;

    let alice = dropbox_member(&fake, "alice@corp.example", "alice is added", |_| true).await;
    assert_eq!((alice.given_name.as_str(), alice.surname.as_str()), ("Alice", "Smith"));
    dropbox_member(&fake, "dave@corp.example", "dave is adopted", |m| m.surname == "Jones").await;
    assert_eq!(fake.state.lock().count("team/members/add_v2"), 1, "only alice is added");
    assert!(fake.state.lock().mark_joined("alice@corp.example"));

    // An attribute change sends that field only.
    app.patch("/users/alice@corp.example", json!({"surname": "Brown"})).await;
    dropbox_member(&fake, "alice@corp.example", "alice's surname", |m| m.surname == "Brown").await;
    let last = fake.state.lock().bodies("team/members/set_profile_v2").last().cloned().unwrap_or_default();
    let keys: Vec<&String> = last.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, ["new_surname", "user"], "{last}");

    // A role change reaches Dropbox.
    assign(app, "Dbx", "alice@corp.example", "User management admin").await;
    unassign(app, "Dbx", "alice@corp.example", Some("Member")).await;
    dropbox_member(&fake, "alice@corp.example", "alice's admin role", |m| m.role_ids == [USER_MANAGEMENT_ROLE]).await;

    // Unassigned: suspended; assigned again: unsuspended.
    unassign(app, "Dbx", "alice@corp.example", None).await;
    dropbox_member(&fake, "alice@corp.example", "alice is suspended", |m| m.status == FakeStatus::Suspended).await;
    assign(app, "Dbx", "alice@corp.example", "Member").await;
    dropbox_member(&fake, "alice@corp.example", "alice is back", |m| {
        m.status == FakeStatus::Active && m.role_ids.is_empty()
    })
    .await;

    // An expired access token is renewed.
    let tokens = fake.state.lock().count("oauth2/token");
    fake.state.lock().expire_access_tokens();
    app.patch("/users/alice@corp.example", json!({"givenName": "Alicia"})).await;
    dropbox_member(&fake, "alice@corp.example", "a change after the token expired", |m| m.given_name == "Alicia").await;
    assert!(fake.state.lock().count("oauth2/token") > tokens);

    // Throttled: Retry-After is honoured and the change lands.
    fake.state.lock().throttle(2, 1);
    app.patch("/users/alice@corp.example", json!({"givenName": "Ali"})).await;
    dropbox_member(&fake, "alice@corp.example", "a change after a 429", |m| m.given_name == "Ali").await;

    // Gone from the team behind roster's back: added again on the next change.
    fake.state.lock().team.members.retain(|m| m.email != "dave@corp.example");
    app.patch("/users/dave@corp.example", json!({"givenName": "David"})).await;
    dropbox_member(&fake, "dave@corp.example", "dave is added again", |m| m.given_name == "David").await;
    assert_eq!(fake.state.lock().count("team/members/add_v2"), 2);
    assert!(failures(app, "Dbx", "alice@corp.example").await.is_empty());
}

async fn dropbox_authorize_explains_refusals(app: &TestApp) {
    let fake = start_team(FakeTeam { authorizer_is_team_admin: false, ..FakeTeam::default() }).await;
    dropbox_app(app, &fake, "Dbx").await;
    let (status, page, _) = authorize(app, "Dbx").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("not a Dropbox team admin"), "{page}");
    fake.state.lock().deny_consent = true;
    let (status, page, _) = authorize(app, "Dbx").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("access denied"), "{page}");
    let (_, view) = app.get("/apps/Dbx/provisioning").await;
    assert_eq!(view["authorized"], false);

    // A forged or stale state is refused; the callback needs no token but a state.
    let forged =
        no_redirects().get(format!("{}/oauth/callback?code=x&state=forged", app.base)).send().await.expect("callback");
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    // Revoked tokens: Test Connection fails with Dropbox's reason.
    fake.state.lock().deny_consent = false;
    fake.state.lock().team.authorizer_is_team_admin = true;
    let (status, page, _) = authorize(app, "Dbx").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(test_connection(app, "Dbx").await.0);
    fake.state.lock().revoke_tokens();
    let (ok, said) = test_connection(app, "Dbx").await;
    assert!(!ok && said.contains("invalid_grant"), "{said}");
}

// ---------------------------------------------------------------- manual mode

async fn handoff(app: &TestApp, name: &str) -> Value {
    let (s, v) = app.get(&format!("/apps/{name}/provisioning/handoff")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn manual_mode_hands_off_exactly_what_changed(app: &TestApp) {
    create_app(app, "Legacy", "manual").await;
    let (s, v) = app.patch("/apps/Legacy/provisioning", json!({"mode": "automatic"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a manual-only app stays manual: {v}");
    let rows: Vec<Value> = (0..100)
        .map(|i| json!({"userName": format!("u{i:03}@corp.example"), "givenName": format!("U{i}"), "surname": "Doe", "jobTitle": "Clerk"}))
        .collect();
    let (s, v) = app.post("/users/bulk", json!({"upsert": rows})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.post("/groups", json!({"displayName": "Staff"})).await;
    for i in 0..100 {
        app.post("/groups/Staff/members", json!({"user": format!("u{i:03}@corp.example")})).await;
    }
    let (s, v) = app.post("/apps/Legacy/assignments", json!({"group": "Staff"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, started) = app.post("/apps/Legacy/provisioning/start", json!({})).await;
    assert_eq!(started["mode"], "manual", "{started}");

    let first = eventually(30, "a hand-off of 100 creates", || async {
        let h = handoff(app, "Legacy").await;
        (h["counts"]["Create"] == 100).then_some(h)
    })
    .await;
    let id = first["id"].as_i64().expect("hand-off id");
    let csv = app
        .http
        .get(format!("{}/api/v1/apps/Legacy/provisioning/handoff?format=csv", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 101, "{csv}");
    assert!(
        lines[0].starts_with("handoffId,action,userName,sourceId,targetId,changed,") && lines[0].contains("email"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with(&format!("{id},Create,u")), "{}", lines[1]);
    // Nothing reached the shadow yet.
    let (_, status) = app.get("/apps/Legacy/provisioning/status").await;
    assert_eq!(status["accounts"]["provisioned"], 0, "{status}");

    let (s, confirmed) = app.post("/apps/Legacy/provisioning/handoff/confirm", json!({"id": id})).await;
    assert_eq!(s, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["items"], 100);
    let (s, v) = app.post("/apps/Legacy/provisioning/handoff/confirm", json!({"id": id})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "confirmed once: {v}");
    let (_, status) = app.get("/apps/Legacy/provisioning/status").await;
    assert_eq!(status["accounts"]["provisioned"], 100, "{status}");
    assert_eq!(handoff(app, "Legacy").await["items"], json!([]));

    for i in [3, 42, 97] {
        app.patch(&format!("/users/u{i:03}@corp.example"), json!({"jobTitle": "Supervisor"})).await;
    }
    let second = eventually(30, "a hand-off of the 3 changed users", || async {
        let h = handoff(app, "Legacy").await;
        (h["items"].as_array().map(Vec::len) == Some(3)).then_some(h)
    })
    .await;
    // A cycle that runs again replaces the hand-off's entries, never adds to them.
    let (s, _) = app.post("/apps/Legacy/provisioning/sync?wait=true", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let again = handoff(app, "Legacy").await;
    assert_eq!(again["items"].as_array().map(Vec::len), Some(3), "{again}");
    let users: Vec<&str> =
        second["items"].as_array().into_iter().flatten().filter_map(|i| i["sourceName"].as_str()).collect();
    assert_eq!(users, ["u003@corp.example", "u042@corp.example", "u097@corp.example"]);
    for item in second["items"].as_array().into_iter().flatten() {
        assert_eq!(item["action"], "Update", "{item}");
        assert_eq!(item["changed"], json!(["title"]), "{item}");
        assert_eq!(item["attributes"]["title"], "Supervisor");
    }
}

async fn switching_modes_keeps_what_was_provisioned(app: &TestApp) {
    let fake = start_team(FakeTeam::default()).await;
    dropbox_app(app, &fake, "Dbx").await;
    assert_eq!(authorize(app, "Dbx").await.0, StatusCode::OK);
    assert!(test_connection(app, "Dbx").await.0);
    configure(app, "Dbx", json!({"mode": "manual"})).await;
    user(app, "alice@corp.example", "Alice", "Smith", "Engineer").await;
    assign(app, "Dbx", "alice@corp.example", "Member").await;
    let (_, started) = app.post("/apps/Dbx/provisioning/start", json!({})).await;
    assert_eq!(started["mode"], "manual", "{started}");
    let h = eventually(20, "alice in the hand-off", || async {
        let h = handoff(app, "Dbx").await;
        (h["counts"]["Create"] == 1).then_some(h)
    })
    .await;
    assert_eq!(fake.state.lock().count("team/members/add_v2"), 0, "manual mode calls nothing");
    // The admin adds alice by hand, and confirms.
    fake.state.lock().team.members.push(FakeMember::active("alice@corp.example", "Alice", "Smith"));
    let (s, v) = app.post("/apps/Dbx/provisioning/handoff/confirm", json!({"id": h["id"]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Automatic again: alice's account is the one made by hand, reached by her email.
    configure(app, "Dbx", json!({"mode": "automatic"})).await;
    app.patch("/users/alice@corp.example", json!({"surname": "Brown"})).await;
    dropbox_member(&fake, "alice@corp.example", "alice's surname", |m| m.surname == "Brown").await;
    unassign(app, "Dbx", "alice@corp.example", None).await;
    dropbox_member(&fake, "alice@corp.example", "alice is suspended", |m| m.status == FakeStatus::Suspended).await;
    assert_eq!(fake.state.lock().count("team/members/add_v2"), 0, "never added twice");
}

on_both_backends!(
    gallery_lists_every_template_with_its_modes,
    salesforce_lifecycle,
    salesforce_credentials,
    salesforce_api_limit_holds_the_work,
    dropbox_lifecycle,
    dropbox_authorize_explains_refusals,
    manual_mode_hands_off_exactly_what_changed,
    switching_modes_keeps_what_was_provisioned,
);
