//! The Salesforce connector against the Salesforce contract fake over real
//! HTTP: both logins and their failures, creates that fit Salesforce's
//! rules, matching, updates, disabling, paging, roles, session renewal and
//! the API limit. Each test checks the fake org's state, not only what the
//! connector returned.

use std::sync::Arc;
use std::time::Duration;

use roster_connectors::salesforce::{
    RoleKind, SalesforceAuth, SalesforceConnector, SalesforceSettings, DEFAULT_ACCESS_ROLE,
};
use roster_connectors::{Connector, ConnectorError, ResourceKind};
use roster_scim::{PatchOp, PatchOperation};
use roster_vendor_fakes::salesforce::{start, FakeOrg, RunningSalesforce};
use secrecy::SecretString;
use serde_json::{json, Value};

const STANDARD_USER: &str = "00e000000000002AAA";
const CEO_ROLE: &str = "00E000000000001AAA";

/// A fake org and ways to reach it.
struct TestOrg {
    sf: RunningSalesforce,
    org: FakeOrg,
}

impl TestOrg {
    async fn start(org: FakeOrg) -> TestOrg {
        let sf = start("127.0.0.1:0".parse().expect("address"), org.clone()).await.expect("fake org started");
        TestOrg { sf, org }
    }

    async fn new() -> TestOrg {
        TestOrg::start(FakeOrg::default()).await
    }

    fn password_auth(&self) -> SalesforceAuth {
        let a = &self.org.admin;
        SalesforceAuth::Password {
            username: a.username.clone(),
            password: a.password.clone().into(),
            security_token: a.security_token.clone().into(),
        }
    }

    fn client_auth(&self) -> SalesforceAuth {
        let app = self.org.connected_app.as_ref().expect("the org has a connected app");
        SalesforceAuth::ClientCredentials {
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone().into(),
        }
    }

    fn connector_with(&self, auth: SalesforceAuth) -> SalesforceConnector {
        let settings = SalesforceSettings { timeout: Duration::from_secs(5), ..SalesforceSettings::new(auth) }
            .with_tenant_url(Some(&self.sf.base_url));
        SalesforceConnector::new(settings).expect("connector")
    }

    fn connector(&self) -> SalesforceConnector {
        self.connector_with(self.password_auth())
    }

    /// Bodies of the PATCH requests the org received.
    fn patch_bodies(&self) -> Vec<Value> {
        self.sf.requests().into_iter().filter(|r| r.method == "PATCH").filter_map(|r| r.body).collect()
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// What the engine sends for a new user with a profile role.
fn ann() -> Vec<(String, Value)> {
    attrs(&[
        ("Username", json!("ann.smith@acme.example.com")),
        ("Email", json!("ann.smith@acme.example.com")),
        ("FirstName", json!("Ann")),
        ("LastName", json!("Smith-Jones")),
        ("FederationIdentifier", json!("ann-1")),
        ("ProfileId", json!(STANDARD_USER)),
        ("active", json!("True")),
    ])
}

fn config_message(r: Result<String, ConnectorError>) -> String {
    match r {
        Err(ConnectorError::Config { message }) => message,
        other => panic!("expected a Config error, got {other:?}"),
    }
}

#[tokio::test]
async fn soap_login_test_connection_says_which_login() {
    let t = TestOrg::new().await;
    let said = t.connector().test_connection("Username").await.expect("connection works");
    assert!(said.contains("logged in as admin@acme.example.com"), "{said}");
    assert!(said.contains("SOAP API login() (username, password and security token)"), "{said}");
    assert!(said.contains("organization Acme (00D000000000001AAA)"), "{said}");
    assert!(said.contains("looked users up by Username"), "{said}");
    assert!(said.contains("daily API requests left"), "{said}");
    assert_eq!(t.sf.count("POST soap-login"), 1);
    assert_eq!(t.sf.count("POST oauth-token"), 0);
    assert_eq!(t.sf.logins(), 1);
}

#[tokio::test]
async fn client_credentials_login_test_connection_says_which_login() {
    let t = TestOrg::new().await;
    let said = t.connector_with(t.client_auth()).test_connection("FederationIdentifier").await.expect("works");
    assert!(said.contains("OAuth 2.0 client credentials flow"), "{said}");
    // The run-as user is read from the identity URL's user id.
    assert!(said.contains("logged in as admin@acme.example.com"), "{said}");
    assert!(said.contains("looked users up by FederationIdentifier"), "{said}");
    assert_eq!(t.sf.count("POST oauth-token"), 1);
    assert_eq!(t.sf.count("POST soap-login"), 0);
}

#[tokio::test]
async fn wrong_password_is_a_config_error_with_invalid_login() {
    let t = TestOrg::new().await;
    let auth = SalesforceAuth::Password {
        username: t.org.admin.username.clone(),
        password: "not-the-password".into(),
        security_token: t.org.admin.security_token.clone().into(),
    };
    let message = config_message(t.connector_with(auth).test_connection("Username").await);
    assert!(
        message.contains("INVALID_LOGIN: Invalid username, password, security token; or user locked out."),
        "{message}"
    );
    assert!(!message.contains("not-the-password") && !message.contains(&t.org.admin.security_token), "{message}");
    assert_eq!(t.sf.logins(), 0);
}

#[tokio::test]
async fn missing_security_token_is_login_must_use_security_token() {
    let t = TestOrg::new().await;
    let auth = SalesforceAuth::Password {
        username: t.org.admin.username.clone(),
        password: t.org.admin.password.clone().into(),
        security_token: SecretString::default(),
    };
    let message = config_message(t.connector_with(auth).test_connection("Username").await);
    assert!(message.contains("LOGIN_MUST_USE_SECURITY_TOKEN"), "{message}");
    assert!(message.contains("Reset My Security Token"), "{message}");
}

#[tokio::test]
async fn no_token_needed_from_a_trusted_network() {
    let mut org = FakeOrg::default();
    org.admin.token_required = false;
    let t = TestOrg::start(org).await;
    let auth = SalesforceAuth::Password {
        username: t.org.admin.username.clone(),
        password: t.org.admin.password.clone().into(),
        security_token: SecretString::default(),
    };
    t.connector_with(auth).test_connection("Username").await.expect("logs in without a token");
}

#[tokio::test]
async fn expired_password_is_a_config_error() {
    let mut org = FakeOrg::default();
    org.admin.password_expired = true;
    let t = TestOrg::start(org).await;
    let message = config_message(t.connector().test_connection("Username").await);
    assert!(message.contains("has expired"), "{message}");
}

#[tokio::test]
async fn bad_client_secret_is_invalid_client() {
    let t = TestOrg::new().await;
    let app = t.org.connected_app.clone().expect("connected app");
    let auth = SalesforceAuth::ClientCredentials { client_id: app.client_id, client_secret: "wrong-secret".into() };
    let message = config_message(t.connector_with(auth).test_connection("Username").await);
    assert!(message.contains("invalid_client: invalid client credentials"), "{message}");
    assert!(!message.contains("wrong-secret"), "{message}");
}

#[tokio::test]
async fn unreachable_login_server_is_a_config_error_in_a_test() {
    let t = TestOrg::new().await;
    let base = t.sf.base_url.clone();
    let c = t.connector();
    t.sf.stop().await.expect("stopped");
    let message = config_message(c.test_connection("Username").await);
    assert!(message.contains("cannot reach the Salesforce login server"), "{message} ({base})");
}

#[tokio::test]
async fn create_fills_required_fields_and_fits_the_rules() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let sent = attrs(&[
        ("Username", json!("bob")),
        ("Email", json!("bob.lee@acme.example.com")),
        ("FirstName", json!("Bob")),
        ("LastName", json!("Leeroyjenkins")),
        ("profileid", json!(STANDARD_USER)),
    ]);
    let created = c.create(ResourceKind::User, &sent).await.expect("created");
    let user = t.sf.user(&created.id).expect("the org has the user");
    assert_eq!(user["Username"], json!("bob@acme.example.com"));
    assert_eq!(user["Alias"], json!("bleeroyj"));
    assert_eq!(user["CommunityNickname"], json!("bob"));
    assert_eq!(user["TimeZoneSidKey"], json!("America/Los_Angeles"));
    assert_eq!(user["LocaleSidKey"], json!("en_US"));
    assert_eq!(user["EmailEncodingKey"], json!("UTF-8"));
    assert_eq!(user["LanguageLocaleKey"], json!("en_US"));
    assert_eq!(user["IsActive"], json!(true));
    assert_eq!(created.resource["active"], json!(true));
    assert_eq!(created.resource["Id"], json!(created.id));

    let long = attrs(&[("Alias", json!("much-too-long")), ("Username", json!("cy@acme.example.com"))]);
    let mut sent = ann();
    sent.retain(|(k, _)| k != "Username");
    sent.extend(long);
    let created = c.create(ResourceKind::User, &sent).await.expect("created");
    assert_eq!(t.sf.user(&created.id).expect("user")["Alias"], json!("much-too"));
    let note = c.take_note(&created.id).expect("a note of the shortened alias");
    assert!(note.contains(r#"Alias "much-too-long" sent as "much-too""#), "{note}");
    assert_eq!(c.take_note(&created.id), None, "taken once");
}

#[tokio::test]
async fn create_retries_a_taken_nickname_with_a_suffix() {
    let t = TestOrg::new().await;
    t.sf.insert_user(json!({"Username": "other@x.com", "CommunityNickname": "ann.smith", "LastName": "Other"}));
    let c = t.connector();
    let created = c.create(ResourceKind::User, &ann()).await.expect("created");
    let nickname = t.sf.user(&created.id).expect("user")["CommunityNickname"].as_str().expect("text").to_string();
    assert!(nickname.starts_with("ann.smith") && nickname.len() > "ann.smith".len(), "{nickname}");
    assert_eq!(t.sf.count("POST sobjects/User"), 2);
    let note = c.take_note(&created.id).expect("a note of the nickname");
    assert!(note.contains("was taken") && note.contains(&nickname), "{note}");
}

#[tokio::test]
async fn create_without_profile_fails_before_sending() {
    let t = TestOrg::new().await;
    let mut sent = ann();
    sent.retain(|(k, _)| k != "ProfileId");
    let r = t.connector().create(ResourceKind::User, &sent).await;
    match r {
        Err(ConnectorError::Permanent { scim_type: Some(code), app_message, .. }) => {
            assert_eq!(code, "REQUIRED_FIELD_MISSING");
            assert!(app_message.contains("ProfileId") && app_message.contains("Default Access"), "{app_message}");
        }
        other => panic!("expected a Permanent error, got {other:?}"),
    }
    assert_eq!(t.sf.count("POST sobjects/User"), 0);
    assert!(t.sf.user_by_username("ann.smith@acme.example.com").is_none());
}

#[tokio::test]
async fn salesforce_refusals_reach_the_log_as_they_are() {
    let t = TestOrg::new().await;
    let mut sent = ann();
    sent.retain(|(k, _)| k != "LastName");
    sent.push(("Email".into(), json!("not-an-email")));
    let r = t.connector().create(ResourceKind::User, &sent).await;
    match r {
        Err(ConnectorError::Permanent { status: 400, scim_type: Some(code), app_message }) => {
            assert_eq!(code, "REQUIRED_FIELD_MISSING");
            assert_eq!(app_message, "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] [LastName]");
        }
        other => panic!("expected a Permanent error, got {other:?}"),
    }
    let unknown = attrs(&[("Shoe_Size__c", json!("44"))]);
    let mut sent = ann();
    sent.extend(unknown);
    let r = t.connector().create(ResourceKind::User, &sent).await;
    assert!(matches!(&r, Err(ConnectorError::Permanent { scim_type: Some(c), .. }) if c == "INVALID_FIELD"), "{r:?}");
}

#[tokio::test]
async fn duplicate_username_is_a_conflict() {
    let t = TestOrg::new().await;
    let c = t.connector();
    c.create(ResourceKind::User, &ann()).await.expect("created");
    let again = c.create(ResourceKind::User, &ann()).await;
    match again {
        Err(ConnectorError::Conflict { app_message }) => {
            assert!(app_message.starts_with("DUPLICATE_USERNAME: "), "{app_message}")
        }
        other => panic!("expected a Conflict, got {other:?}"),
    }
    let users = t.sf.state.lock().expect("state").users.len();
    assert_eq!(users, 2, "the admin and Ann");
}

#[tokio::test]
async fn find_by_username_and_by_federation_identifier_with_quotes() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let mut sent = ann();
    sent.push(("FederationIdentifier".into(), json!(r"o'brien\x")));
    let created = c.create(ResourceKind::User, &sent).await.expect("created");

    let by_name = c.find(ResourceKind::User, "Username", "ANN.SMITH@acme.example.com").await.expect("found");
    assert_eq!(by_name.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec![created.id.as_str()]);
    assert_eq!(by_name[0].resource["active"], json!(true));
    assert_eq!(by_name[0].resource["ProfileId"], json!(STANDARD_USER));
    assert!(by_name[0].resource.get("attributes").is_none());

    let by_federation = c.find(ResourceKind::User, "federationidentifier", r"o'brien\x").await.expect("found");
    assert_eq!(by_federation.len(), 1);
    assert_eq!(by_federation[0].id, created.id);
    assert!(c.find(ResourceKind::User, "FederationIdentifier", r"o'brien").await.expect("searched").is_empty());
    assert!(c.find(ResourceKind::User, "Username", "x' OR Username != '").await.expect("searched").is_empty());

    let injected = c.find(ResourceKind::User, "Username = 'a' OR Id", "x").await;
    assert!(matches!(injected, Err(ConnectorError::Permanent { .. })), "{injected:?}");
    assert_eq!(t.sf.count("GET query"), 4, "the bad field name never reached Salesforce");
}

#[tokio::test]
async fn get_reads_one_user_or_none() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let created = c.create(ResourceKind::User, &ann()).await.expect("created");
    let got = c.get(ResourceKind::User, &created.id).await.expect("read").expect("exists");
    assert_eq!(got.resource["Username"], json!("ann.smith@acme.example.com"));
    assert_eq!(got.resource["active"], json!(true));
    assert_eq!(c.get(ResourceKind::User, "005999999999999AAA").await.expect("read"), None);
}

#[tokio::test]
async fn update_sends_only_the_changed_fields() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let created = c.create(ResourceKind::User, &ann()).await.expect("created");
    let ops = vec![
        PatchOperation::new(PatchOp::Replace, "Title", Some(json!("Engineer"))),
        PatchOperation::new(PatchOp::Remove, "FederationIdentifier", None),
        PatchOperation::new(PatchOp::Replace, "UserRoleId", Some(json!(CEO_ROLE))),
    ];
    c.update(ResourceKind::User, &created.id, &ops).await.expect("updated");
    assert_eq!(
        t.patch_bodies(),
        vec![json!({"Title": "Engineer", "FederationIdentifier": null, "UserRoleId": CEO_ROLE})]
    );
    let user = t.sf.user(&created.id).expect("user");
    assert_eq!(user["Title"], json!("Engineer"));
    assert_eq!(user["UserRoleId"], json!(CEO_ROLE));
    assert!(user.get("FederationIdentifier").is_none());
    assert_eq!(user["LastName"], json!("Smith-Jones"), "fields not in the PATCH stay");
    assert_eq!(c.take_note(&created.id), None, "nothing was changed to fit");
    let alias = [PatchOperation::new(PatchOp::Replace, "Alias", Some(json!("annsmithjones")))];
    c.update(ResourceKind::User, &created.id, &alias).await.expect("updated");
    assert_eq!(t.sf.user(&created.id).expect("user")["Alias"], json!("annsmith"));
    assert!(c.take_note(&created.id).is_some_and(|n| n.contains("Alias")));

    c.update(ResourceKind::User, &created.id, &[]).await.expect("nothing to do");
    assert_eq!(t.patch_bodies().len(), 2, "no request for no change");

    let gone = c.update(ResourceKind::User, "005999999999999AAA", &ops).await;
    assert_eq!(gone, Err(ConnectorError::NotFound));
}

#[tokio::test]
async fn active_false_disables_and_true_enables() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let created = c.create(ResourceKind::User, &ann()).await.expect("created");
    let set = |v: &str| vec![PatchOperation::new(PatchOp::Replace, "active", Some(json!(v)))];
    c.update(ResourceKind::User, &created.id, &set("False")).await.expect("disabled");
    assert_eq!(t.sf.user(&created.id).expect("user")["IsActive"], json!(false));
    let found = c.find(ResourceKind::User, "Username", "ann.smith@acme.example.com").await.expect("found");
    assert_eq!(found[0].resource["active"], json!(false));
    c.update(ResourceKind::User, &created.id, &set("True")).await.expect("enabled");
    assert_eq!(t.sf.user(&created.id).expect("user")["IsActive"], json!(true));
    assert_eq!(t.patch_bodies(), vec![json!({"IsActive": false}), json!({"IsActive": true})]);
}

#[tokio::test]
async fn delete_is_refused_and_never_sent() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let created = c.create(ResourceKind::User, &ann()).await.expect("created");
    let r = c.delete(ResourceKind::User, &created.id).await;
    match r {
        Err(ConnectorError::Permanent { app_message, .. }) => {
            assert!(app_message.contains("does not delete users"), "{app_message}")
        }
        other => panic!("expected a Permanent error, got {other:?}"),
    }
    assert_eq!(t.sf.count("DELETE sobjects/User/{id}"), 0);
    assert!(t.sf.user(&created.id).is_some());
}

#[tokio::test]
async fn groups_are_refused_clearly() {
    let t = TestOrg::new().await;
    let c = t.connector();
    let r = c.update_members("00G000000000001AAA", &["005000000000001AAA".into()], &[]).await;
    assert!(matches!(&r, Err(ConnectorError::Config { message }) if message.contains("users only")), "{r:?}");
    let r = c.list(ResourceKind::Group, None, 100).await;
    assert!(matches!(r, Err(ConnectorError::Config { .. })), "{r:?}");
    assert!(t.sf.requests().is_empty());
}

#[tokio::test]
async fn list_pages_through_next_records_url() {
    let org = FakeOrg { page_size: 2, ..FakeOrg::default() };
    let t = TestOrg::start(org).await;
    let c = t.connector();
    for i in 0..4 {
        let sent = attrs(&[
            ("Username", json!(format!("user{i}@acme.example.com"))),
            ("Email", json!(format!("user{i}@acme.example.com"))),
            ("LastName", json!(format!("User{i}"))),
            ("ProfileId", json!(STANDARD_USER)),
        ]);
        c.create(ResourceKind::User, &sent).await.expect("created");
    }
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.list(ResourceKind::User, cursor.as_deref(), 1000).await.expect("page");
        assert_eq!(page.total, 5, "the admin and four users");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|o| o.resource["Username"].as_str().unwrap_or_default().to_string()));
        pages += 1;
        match page.next {
            Some(next) => {
                assert!(next.starts_with("/services/data/v64.0/query/01g"), "{next}");
                cursor = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen.len(), 5);
    assert!(seen.contains(&"user3@acme.example.com".to_string()));
    assert_eq!(t.sf.count("GET query-more"), 2);

    let foreign = c.list(ResourceKind::User, Some("https://evil.example.com/services/data/v64.0/query/x-1"), 10).await;
    assert!(matches!(foreign, Err(ConnectorError::Permanent { .. })), "{foreign:?}");
}

#[tokio::test]
async fn app_roles_are_profiles_and_roles() {
    let t = TestOrg::new().await;
    let roles = t.connector().app_roles().await.expect("roles").expect("Salesforce defines its roles");
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    for name in ["System Administrator", "Standard User", "Chatter Free User", "CEO", "Sales Manager"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(!names.contains(&DEFAULT_ACCESS_ROLE));
    let standard = roles.iter().find(|r| r.name == "Standard User").expect("profile");
    assert_eq!(standard.value, STANDARD_USER);
    assert_eq!(RoleKind::of(&standard.value), Some(RoleKind::Profile));
    assert_eq!(standard.description.as_deref(), Some("Profile: Can create and edit most types of records"));
    assert_eq!(standard.refused, None);
    let ceo = roles.iter().find(|r| r.name == "CEO").expect("role");
    assert_eq!(RoleKind::of(&ceo.value).map(RoleKind::field), Some("UserRoleId"));
    let community = roles.iter().find(|r| r.name == "Customer Community User").expect("profile");
    assert!(community.refused.as_deref().is_some_and(|r| r.contains("PowerCustomerSuccess")), "{community:?}");
}

#[tokio::test]
async fn expired_session_is_renewed_once_transparently() {
    let t = TestOrg::new().await;
    let c = t.connector();
    c.find(ResourceKind::User, "Username", "nobody@x.com").await.expect("found");
    assert_eq!(t.sf.logins(), 1);
    t.sf.expire_sessions();
    let found = c.find(ResourceKind::User, "Username", t.org.admin.username.as_str()).await.expect("found");
    assert_eq!(found.len(), 1);
    assert_eq!(t.sf.logins(), 2, "one new login");
    assert_eq!(t.sf.count("GET query"), 3, "the refused query was sent again once");
    assert_eq!(c.logins(), 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_login() {
    let t = TestOrg::new().await;
    let c = Arc::new(t.connector());
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.find(ResourceKind::User, "Username", &format!("u{i}@x.com")).await })
        })
        .collect();
    for call in calls {
        call.await.expect("joined").expect("found");
    }
    assert_eq!(t.sf.logins(), 1);
    t.sf.expire_sessions();
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.find(ResourceKind::User, "Username", &format!("u{i}@x.com")).await })
        })
        .collect();
    for call in calls {
        call.await.expect("joined").expect("found after renewal");
    }
    assert_eq!(t.sf.logins(), 2, "one renewal for all the calls that saw the expired session");
}

#[tokio::test]
async fn request_limit_exceeded_holds_work_for_an_hour() {
    let t = TestOrg::new().await;
    let c = t.connector();
    t.sf.exhaust_api_limit(true);
    let r = c.create(ResourceKind::User, &ann()).await;
    match r {
        Err(ConnectorError::Throttled { retry_after, message }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3600)));
            assert!(message.contains("REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."), "{message}");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(t.sf.user_by_username("ann.smith@acme.example.com").is_none());
    assert_eq!(t.sf.count("POST sobjects/User"), 1, "no quick retry");
    t.sf.exhaust_api_limit(false);
    c.create(ResourceKind::User, &ann()).await.expect("created once the limit is back");
}

#[tokio::test]
async fn hold_on_limit_is_a_setting() {
    let t = TestOrg::new().await;
    let settings =
        SalesforceSettings { hold_on_limit: Duration::from_secs(900), ..SalesforceSettings::new(t.password_auth()) }
            .with_tenant_url(Some(&t.sf.base_url));
    let c = SalesforceConnector::new(settings).expect("connector");
    t.sf.exhaust_api_limit(true);
    let r = c.find(ResourceKind::User, "Username", "a@x.com").await;
    assert!(matches!(r, Err(ConnectorError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(900)));
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let t = TestOrg::new().await;
    let password = t.connector();
    password.test_connection("Username").await.expect("works");
    let client = t.connector_with(t.client_auth());
    client.test_connection("Username").await.expect("works");
    let sessions: Vec<String> = t.sf.state.lock().expect("state").sessions.iter().cloned().collect();
    assert_eq!(sessions.len(), 2);
    let app = t.org.connected_app.clone().expect("app");
    let secrets = [t.org.admin.password.clone(), t.org.admin.security_token.clone(), app.client_secret];
    for text in [format!("{password:?}"), format!("{client:?}"), format!("{:?}", t.password_auth())] {
        for secret in secrets.iter().chain(sessions.iter()) {
            assert!(!text.contains(secret.as_str()), "{text} shows a secret");
        }
        assert!(text.contains("REDACTED"), "{text}");
    }
}
