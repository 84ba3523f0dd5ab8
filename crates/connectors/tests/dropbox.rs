//! The Dropbox for Business connector against the Dropbox contract fake over
//! real HTTP: the OAuth flow a team admin goes through, then the member
//! lifecycle (add, invite, suspend, cancel an invitation, remove, recover),
//! token refresh, throttling and Dropbox's error messages.

use std::time::Duration;

use roster_connectors::dropbox::{authorize_url, exchange_code, DropboxApp, DropboxConnector};
use roster_connectors::{Connector, ConnectorError, ResourceKind};
use roster_scim::{PatchOp, PatchOperation};
use roster_vendor_fakes::dropbox::{
    start, FakeMember, FakeStatus, FakeTeam, RunningDropbox, ADMIN_EMAIL, TEAM_ADMIN_ROLE, USER_MANAGEMENT_ROLE,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

const USER: ResourceKind = ResourceKind::User;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const REDIRECT: &str = "https://roster.example/api/v1/oauth/dropbox/callback";

/// A fake team and roster's app registered with it.
struct TestTeam {
    fake: RunningDropbox,
    app: DropboxApp,
}

impl TestTeam {
    async fn start(team: FakeTeam) -> TestTeam {
        let (key, secret) = (team.app_key.clone(), team.app_secret.clone());
        let fake = start("127.0.0.1:0".parse().expect("address"), team).await.expect("fake Dropbox started");
        let app = DropboxApp::at(key, secret, &fake.base_url);
        TestTeam { fake, app }
    }

    /// A connector authorized by the fake team's configured authorizer.
    fn connector(&self) -> DropboxConnector {
        let refresh_token = self.fake.state.lock().issue_refresh_token();
        DropboxConnector::new(self.app.clone(), refresh_token, Duration::from_secs(5))
            .expect("connector")
            .job_polling(Duration::from_millis(5), 20)
    }

    fn count(&self, route: &str) -> u64 {
        self.fake.state.lock().count(route)
    }

    fn bodies(&self, route: &str) -> Vec<Value> {
        self.fake.state.lock().bodies(route)
    }

    fn member(&self, email: &str) -> Option<FakeMember> {
        self.fake.state.lock().member(email).cloned()
    }

    /// Follows the authorize URL as the browser would, without following the
    /// redirect back: the query of the `Location` Dropbox sends.
    async fn consent(&self, url: &str) -> Vec<(String, String)> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let resp = client.get(url).send().await.expect("authorize answered");
        assert_eq!(resp.status().as_u16(), 302, "{:?}", resp.text().await);
        let location = resp.headers()["location"].to_str().expect("location").to_string();
        assert!(location.starts_with(REDIRECT), "{location}");
        let parsed = reqwest::Url::parse(&location).expect("location URL");
        parsed.query_pairs().into_owned().collect()
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn replace(path: &str, value: Value) -> PatchOperation {
    PatchOperation::new(PatchOp::Replace, path, Some(value))
}

fn query<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn ann() -> Vec<(String, Value)> {
    attrs(&[
        ("email", json!("ann@example.com")),
        ("given_name", json!("Ann")),
        ("surname", json!("Lee")),
        ("external_id", json!("E-1")),
        ("active", json!(true)),
    ])
}

#[tokio::test]
async fn authorize_url_asks_for_offline_access_and_carries_state() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let url = authorize_url(&t.app, REDIRECT, "st-42");
    let parsed = reqwest::Url::parse(&url).expect("URL");
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert_eq!(query(&pairs, "token_access_type"), Some("offline"));
    assert_eq!(query(&pairs, "response_type"), Some("code"));
    assert_eq!(query(&pairs, "client_id"), Some("roster-app-key"));
    assert_eq!(query(&pairs, "redirect_uri"), Some(REDIRECT));
    assert_eq!(query(&pairs, "state"), Some("st-42"));
    assert!(url.starts_with(&t.fake.authorize_url()));
}

#[tokio::test]
async fn a_team_admins_code_exchanges_for_a_refresh_token_that_works() {
    let team = FakeTeam { redirect_uris: vec![REDIRECT.into()], ..FakeTeam::default() };
    let t = TestTeam::start(team).await;
    let back = t.consent(&authorize_url(&t.app, REDIRECT, "st-1")).await;
    assert_eq!(query(&back, "state"), Some("st-1"));
    let code = SecretString::from(query(&back, "code").expect("code"));

    let tokens = exchange_code(&t.app, &code, REDIRECT).await.expect("tokens");
    assert!(!tokens.refresh_token.expose_secret().is_empty());
    assert_eq!(tokens.team_id, "dbtid:AADexampleteam");
    assert!(tokens.scopes.iter().any(|s| s == "members.write"), "{:?}", tokens.scopes);
    let shown = format!("{tokens:?}");
    let (refresh, access) = (tokens.refresh_token.expose_secret(), tokens.access_token.expose_secret());
    assert!(!shown.contains(refresh) && !shown.contains(access), "{shown}");

    // A code is used once.
    let again = exchange_code(&t.app, &code, REDIRECT).await;
    assert!(
        matches!(&again, Err(ConnectorError::Config { message }) if message.contains("invalid_grant")),
        "{again:?}"
    );

    let c = DropboxConnector::new(t.app.clone(), tokens.refresh_token, Duration::from_secs(5)).expect("connector");
    let said = c.test_connection("email").await.expect("connected");
    assert!(said.contains("Example Team"), "{said}");
}

#[tokio::test]
async fn a_redirect_uri_dropbox_does_not_know_is_refused() {
    let team = FakeTeam { redirect_uris: vec![REDIRECT.into()], ..FakeTeam::default() };
    let t = TestTeam::start(team).await;
    let url = authorize_url(&t.app, "https://elsewhere.example/cb", "s");
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn refused_consent_comes_back_as_access_denied() {
    let t = TestTeam::start(FakeTeam::default()).await;
    t.fake.state.lock().deny_consent = true;
    let back = t.consent(&authorize_url(&t.app, REDIRECT, "st-2")).await;
    assert_eq!(query(&back, "error"), Some("access_denied"));
    assert_eq!(query(&back, "state"), Some("st-2"));
    assert_eq!(query(&back, "code"), None);
}

#[tokio::test]
async fn an_authorizer_who_is_not_a_team_admin_gets_an_explanation() {
    let team = FakeTeam { authorizer_is_team_admin: false, ..FakeTeam::default() };
    let t = TestTeam::start(team).await;
    let back = t.consent(&authorize_url(&t.app, REDIRECT, "s")).await;
    let code = SecretString::from(query(&back, "code").expect("code"));
    let refused = exchange_code(&t.app, &code, REDIRECT).await;
    assert!(
        matches!(&refused, Err(ConnectorError::Config { message }) if message.contains("not a Dropbox team admin")),
        "{refused:?}"
    );

    // A user-linked token that reached the connector anyway is explained the same way.
    let refused = t.connector().test_connection("email").await;
    assert!(
        matches!(&refused, Err(ConnectorError::Config { message })
            if message.contains("not a Dropbox team admin") && message.contains("click Authorize again")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn test_connection_reads_the_team_and_refuses_unknown_matching_attributes() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = t.connector();
    let said = c.test_connection("email").await.expect("connected");
    assert!(said.contains("Example Team") && said.contains("1 of 100"), "{said}");
    assert_eq!(t.count("team/get_info"), 1);
    assert_eq!(t.count("team/members/get_info_v2"), 1);
    let refused = c.test_connection("userName").await;
    assert!(matches!(refused, Err(ConnectorError::Config { .. })), "{refused:?}");
}

#[tokio::test]
async fn create_adds_an_invited_member() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = t.connector();
    let created = c.create(USER, &ann()).await.expect("created");
    assert!(created.id.starts_with("dbmid:"), "{}", created.id);
    for (key, want) in [
        ("email", json!("ann@example.com")),
        ("given_name", json!("Ann")),
        ("surname", json!("Lee")),
        ("external_id", json!("E-1")),
        ("status", json!("invited")),
        ("active", json!(true)),
        ("role", json!("member")),
    ] {
        assert_eq!(created.resource[key], want, "{key}");
    }
    let m = t.member("ann@example.com").expect("in the team");
    assert_eq!((m.status, m.team_member_id.as_str()), (FakeStatus::Invited, created.id.as_str()));
    let sent = &t.bodies("team/members/add_v2")[0]["new_members"][0];
    assert_eq!(sent["member_given_name"], "Ann");
    assert_eq!(sent["send_welcome_email"], true);
    assert!(sent.get("role_ids").is_none(), "{sent}");
    assert_eq!(t.count("team/members/add/job_status/get_v2"), 0);
}

#[tokio::test]
async fn create_with_an_admin_role_and_an_async_job_polls_to_completion() {
    let t = TestTeam::start(FakeTeam::default()).await;
    {
        let mut st = t.fake.state.lock();
        st.force_async = true;
        st.job_polls_in_progress = 2;
    }
    let c = t.connector().send_welcome_email(false);
    let mut a = ann();
    a.push(("role".into(), json!(USER_MANAGEMENT_ROLE)));
    let created = c.create(USER, &a).await.expect("created");
    assert_eq!(created.resource["role"], USER_MANAGEMENT_ROLE);
    assert_eq!(t.count("team/members/add/job_status/get_v2"), 3, "two in_progress, then complete");
    assert_eq!(t.member("ann@example.com").expect("added").role_ids, vec![USER_MANAGEMENT_ROLE.to_string()]);
    assert_eq!(t.bodies("team/members/add_v2")[0]["new_members"][0]["send_welcome_email"], false);
}

#[tokio::test]
async fn creating_a_member_already_on_the_team_is_a_conflict() {
    let mut team = FakeTeam::default();
    team.members.push(FakeMember::active("ann@example.com", "Ann", "Lee"));
    let t = TestTeam::start(team).await;
    let again = t.connector().create(USER, &ann()).await;
    assert!(
        matches!(&again, Err(ConnectorError::Conflict { app_message }) if app_message.contains("user_already_on_team")),
        "{again:?}"
    );
    assert_eq!(t.count("team/members/recover"), 0);
}

#[tokio::test]
async fn find_looks_members_up_by_email_and_external_id() {
    let mut team = FakeTeam::default();
    team.members.push(FakeMember::active("ann@example.com", "Ann", "Lee").with_external_id("E-1"));
    team.members.push(FakeMember::active("gone@example.com", "Gone", "Away").removed(WEEK));
    let t = TestTeam::start(team).await;
    let c = t.connector();
    let id = t.member("ann@example.com").expect("seeded").team_member_id;
    let ids = |found: Vec<roster_connectors::TargetObject>| found.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(c.find(USER, "email", "ANN@example.com").await.expect("by email")), vec![id.clone()]);
    assert_eq!(ids(c.find(USER, "external_id", "E-1").await.expect("by external id")), vec![id.clone()]);
    assert_eq!(ids(c.find(USER, "surname", "lee").await.expect("by scan")), vec![id]);
    assert!(c.find(USER, "email", "nobody@example.com").await.expect("searched").is_empty());
    assert!(c.find(USER, "email", "gone@example.com").await.expect("searched").is_empty(), "removed are not found");
    assert!(matches!(c.find(USER, "userName", "x").await, Err(ConnectorError::Config { .. })));
}

#[tokio::test]
async fn list_pages_with_dropboxs_cursor() {
    let mut team = FakeTeam::default();
    for i in 0..4 {
        team.members.push(FakeMember::active(&format!("m{i}@example.com"), "M", &i.to_string()));
    }
    team.members.push(FakeMember::active("gone@example.com", "Gone", "Away").removed(WEEK));
    let t = TestTeam::start(team).await;
    let c = t.connector();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = c.list(USER, cursor.as_deref(), 2).await.expect("page");
        assert!(page.items.len() <= 2);
        ids.extend(page.items.into_iter().map(|o| o.resource["email"].as_str().unwrap_or("").to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ids.sort();
    assert_eq!(ids, vec![ADMIN_EMAIL, "m0@example.com", "m1@example.com", "m2@example.com", "m3@example.com"]);
    assert_eq!((t.count("team/members/list_v2"), t.count("team/members/list/continue_v2")), (1, 2));
}

#[tokio::test]
async fn update_sends_only_the_profile_fields_that_changed() {
    let mut team = FakeTeam::default();
    team.members.push(FakeMember::active("ann@example.com", "Ann", "Lee").with_external_id("E-1"));
    let t = TestTeam::start(team).await;
    let id = t.member("ann@example.com").expect("seeded").team_member_id;
    t.connector().update(USER, &id, &[replace("surname", json!("Lovelace"))]).await.expect("updated");
    let sent = t.bodies("team/members/set_profile_v2");
    assert_eq!(
        sent,
        vec![json!({ "user": { ".tag": "team_member_id", "team_member_id": id }, "new_surname": "Lovelace" })]
    );
    let m = t.member("ann@example.com").expect("still there");
    assert_eq!((m.given_name.as_str(), m.surname.as_str(), m.external_id.as_deref()), ("Ann", "Lovelace", Some("E-1")));
    assert_eq!(t.count("team/members/suspend") + t.count("team/members/set_admin_permissions_v2"), 0);
}

#[tokio::test]
async fn a_role_change_goes_through_set_admin_permissions() {
    let mut team = FakeTeam::default();
    team.members.push(FakeMember::active("ann@example.com", "Ann", "Lee"));
    let t = TestTeam::start(team).await;
    let c = t.connector();
    let id = t.member("ann@example.com").expect("seeded").team_member_id;
    c.update(USER, &id, &[replace("role", json!(USER_MANAGEMENT_ROLE))]).await.expect("made admin");
    assert_eq!(t.member("ann@example.com").expect("there").role_ids, vec![USER_MANAGEMENT_ROLE.to_string()]);
    c.update(USER, &id, &[replace("role", json!("member"))]).await.expect("made member");
    assert!(t.member("ann@example.com").expect("there").role_ids.is_empty());
    let sent: Vec<Value> =
        t.bodies("team/members/set_admin_permissions_v2").iter().map(|b| b["new_roles"].clone()).collect();
    assert_eq!(sent, vec![json!([USER_MANAGEMENT_ROLE]), json!([])]);
    assert_eq!(t.count("team/members/set_profile_v2"), 0);
}

#[tokio::test]
async fn disabling_suspends_and_enabling_unsuspends() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = t.connector();
    let id = c.create(USER, &ann()).await.expect("created").id;
    assert!(t.fake.state.lock().mark_joined("ann@example.com"));

    c.update(USER, &id, &[replace("active", json!(false))]).await.expect("disabled");
    assert_eq!(t.member("ann@example.com").expect("kept").status, FakeStatus::Suspended);
    assert_eq!(t.bodies("team/members/suspend")[0]["wipe_data"], false);
    assert_eq!(c.get(USER, &id).await.expect("read").expect("exists").resource["active"], false);
    assert_eq!(c.take_note(&id), None);

    c.update(USER, &id, &[replace("active", json!(true))]).await.expect("enabled");
    assert_eq!(t.member("ann@example.com").expect("kept").status, FakeStatus::Active);
    // Enabling a member who is active already changes nothing and succeeds.
    c.update(USER, &id, &[replace("active", json!(true))]).await.expect("enabled again");
    assert_eq!(t.count("team/members/unsuspend"), 2);
}

#[tokio::test]
async fn disabling_an_invited_member_cancels_the_invitation() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = t.connector();
    let id = c.create(USER, &ann()).await.expect("created").id;

    c.update(USER, &id, &[replace("active", json!(false))]).await.expect("disabled");
    assert!(t.member("ann@example.com").is_none(), "the invitation is cancelled, not suspended");
    assert_eq!((t.count("team/members/suspend"), t.count("team/members/remove")), (1, 1));
    let note = c.take_note(&id).expect("a note for the log");
    assert!(note.contains("invitation was cancelled"), "{note}");
    assert_eq!(c.take_note(&id), None, "taken once");
    assert_eq!(c.get(USER, &id).await.expect("read"), None);

    // Back in scope: the engine's enable finds no member, and a create invites anew.
    let enable = c.update(USER, &id, &[replace("active", json!(true))]).await;
    assert_eq!(enable, Err(ConnectorError::NotFound));
    c.create(USER, &ann()).await.expect("invited again");
    assert_eq!(t.member("ann@example.com").expect("invited").status, FakeStatus::Invited);
}

#[tokio::test]
async fn a_recently_removed_member_is_recovered_not_added_twice() {
    let mut team = FakeTeam::default();
    let old = FakeMember::active("ann@example.com", "Ann", "Old").with_external_id("E-1");
    let old_id = old.team_member_id.clone();
    team.members.push(old.removed(WEEK));
    let t = TestTeam::start(team).await;
    let c = t.connector();

    let created = c.create(USER, &ann()).await.expect("recovered");
    assert_eq!(created.id, old_id);
    assert_eq!(
        (created.resource["status"].clone(), created.resource["surname"].clone()),
        (json!("active"), json!("Lee"))
    );
    let m = t.member("ann@example.com").expect("back");
    assert_eq!((m.status, m.surname.as_str()), (FakeStatus::Active, "Lee"));
    assert_eq!(t.fake.state.lock().team.members.len(), 2, "no second member");
    assert_eq!(t.count("team/members/recover"), 1);
    assert_eq!(t.bodies("team/members/set_profile_v2")[0]["new_surname"], "Lee");
    assert!(t.bodies("team/members/set_profile_v2")[0].get("new_external_id").is_none(), "unchanged fields stay out");
    assert!(c.take_note(&old_id).is_some_and(|n| n.contains("recovered")));
}

#[tokio::test]
async fn delete_removes_the_member() {
    let mut team = FakeTeam::default();
    team.members.push(FakeMember::active("ann@example.com", "Ann", "Lee"));
    let t = TestTeam::start(team).await;
    t.fake.state.lock().force_async = true;
    let c = t.connector();
    let id = t.member("ann@example.com").expect("seeded").team_member_id;
    c.delete(USER, &id).await.expect("deleted");
    assert_eq!(t.member("ann@example.com").expect("recoverable").status, FakeStatus::Removed);
    assert_eq!(t.bodies("team/members/remove")[0]["wipe_data"], false);
    assert_eq!(t.count("team/members/remove/job_status/get"), 2, "one in_progress, then complete");
    assert_eq!(c.delete(USER, &id).await, Err(ConnectorError::NotFound));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_for_all_callers() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = std::sync::Arc::new(t.connector());
    c.test_connection("email").await.expect("connected");
    assert_eq!(t.count("oauth2/token"), 1);

    t.fake.state.lock().expire_access_tokens();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.find(USER, "email", ADMIN_EMAIL).await })
        })
        .collect();
    for call in calls {
        let found = call.await.expect("joined").expect("found");
        assert_eq!(found.len(), 1);
    }
    assert_eq!(t.count("oauth2/token"), 2, "one refresh for the four calls");
    let refreshes: Vec<Value> = t.bodies("oauth2/token");
    assert!(refreshes.iter().all(|b| b["grant_type"] == "refresh_token"), "{refreshes:?}");
}

#[tokio::test]
async fn a_revoked_authorization_asks_for_a_new_one_without_showing_the_token() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let refresh_token = t.fake.state.lock().issue_refresh_token();
    let c = DropboxConnector::new(t.app.clone(), refresh_token.clone(), Duration::from_secs(5)).expect("connector");
    t.fake.state.lock().revoke_tokens();
    let refused = c.get(USER, "dbmid:x").await;
    let Err(ConnectorError::Config { message }) = &refused else { panic!("{refused:?}") };
    assert!(message.contains("click Authorize again") && !message.contains(&refresh_token), "{message}");
}

#[tokio::test]
async fn throttling_gives_dropboxs_retry_after() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = t.connector();
    t.fake.state.lock().throttle(1, 7);
    let throttled = c.find(USER, "email", ADMIN_EMAIL).await;
    assert!(
        matches!(throttled, Err(ConnectorError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(7)),
        "{throttled:?}"
    );
    assert_eq!(c.find(USER, "email", ADMIN_EMAIL).await.expect("after the wait").len(), 1);
}

#[tokio::test]
async fn dropboxs_error_summary_reaches_the_error() {
    let mut team = FakeTeam::default();
    team.members.push(FakeMember::active("ann@example.com", "Ann", "Lee"));
    let t = TestTeam::start(team).await;
    let c = t.connector();
    let id = t.member("ann@example.com").expect("seeded").team_member_id;
    let taken = c.update(USER, &id, &[replace("email", json!(ADMIN_EMAIL))]).await;
    assert_eq!(
        taken,
        Err(ConnectorError::Permanent {
            status: 409,
            scim_type: Some("email_reserved_for_other_user".into()),
            app_message: "email_reserved_for_other_user/..".into(),
        })
    );
    let admin = t.member(ADMIN_EMAIL).expect("admin").team_member_id;
    let last = c.update(USER, &admin, &[replace("active", json!(false))]).await;
    assert!(
        matches!(&last, Err(ConnectorError::Permanent { scim_type: Some(tag), .. }) if tag == "suspend_last_admin"),
        "{last:?}"
    );
    assert_eq!(c.update(USER, "dbmid:nobody", &[replace("surname", json!("X"))]).await, Err(ConnectorError::NotFound));
}

#[tokio::test]
async fn app_roles_are_member_and_the_teams_admin_roles() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let roles = t.connector().app_roles().await.expect("roles").expect("from Dropbox");
    let values: Vec<&str> = roles.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(values[0], "member");
    assert!(values.contains(&TEAM_ADMIN_ROLE) && values.contains(&USER_MANAGEMENT_ROLE), "{values:?}");
    assert!(roles.iter().any(|r| r.name == "Team admin"));
    assert!(roles.iter().all(|r| r.refused.is_none()));
}

#[tokio::test]
async fn groups_are_refused_with_an_explanation() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let c = t.connector();
    let refused = c.update_members("g:1", &["dbmid:1".into()], &[]).await;
    assert!(
        matches!(&refused, Err(ConnectorError::Config { message }) if message.contains("not groups")),
        "{refused:?}"
    );
    assert!(matches!(c.list(ResourceKind::Group, None, 10).await, Err(ConnectorError::Config { .. })));
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let refresh_token = t.fake.state.lock().issue_refresh_token();
    let c = DropboxConnector::new(t.app.clone(), refresh_token.clone(), Duration::from_secs(5)).expect("connector");
    c.test_connection("email").await.expect("connected");
    let shown = format!("{c:?} {:?}", t.app);
    assert!(!shown.contains(&refresh_token), "{shown}");
    assert!(!shown.contains("roster-app-secret"), "{shown}");
    assert!(!shown.contains("sl."), "no access token: {shown}");
}

#[tokio::test]
async fn a_member_removed_past_the_recovery_window_is_added_anew() {
    let mut team = FakeTeam::default();
    let old = FakeMember::active("ann@example.com", "Ann", "Lee");
    let old_id = old.team_member_id.clone();
    team.members.push(old.removed(Duration::ZERO));
    let t = TestTeam::start(team).await;
    let created = t.connector().create(USER, &ann()).await.expect("added");
    assert_ne!(created.id, old_id);
    assert_eq!(created.resource["status"], "invited");
    assert_eq!(t.count("team/members/recover"), 0);
}

#[tokio::test]
async fn the_fake_answers_like_dropbox_to_requests_without_a_token_or_with_a_bad_body() {
    let t = TestTeam::start(FakeTeam::default()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/2/team/members/list_v2", t.fake.base_url);
    let no_token = client.post(&url).json(&json!({})).send().await.expect("answered");
    assert_eq!(no_token.status().as_u16(), 400);
    assert!(no_token.text().await.unwrap_or_default().contains("Authorization"));

    let refresh_token = t.fake.state.lock().issue_refresh_token();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
    let token: Value = client
        .post(t.fake.token_url())
        .basic_auth("roster-app-key", Some("roster-app-secret"))
        .form(&form)
        .send()
        .await
        .expect("token answered")
        .json()
        .await
        .expect("token JSON");
    let access_token = token["access_token"].as_str().expect("access token");
    let bad = client
        .post(&url)
        .bearer_auth(access_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap_or_default().starts_with("Error in call to API function"));
    let bad_limit = client.post(&url).bearer_auth(access_token).json(&json!({ "limit": 0 })).send().await;
    assert_eq!(bad_limit.expect("answered").status().as_u16(), 400);
    let unknown = client
        .post(format!("{}/2/team/members/get_info_v2", t.fake.base_url))
        .bearer_auth(access_token)
        .json(&json!({ "members": [{ ".tag": "email", "email": "nobody@example.com" }] }))
        .send()
        .await
        .expect("answered");
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(body["members_info"][0][".tag"], "id_not_found");
}
