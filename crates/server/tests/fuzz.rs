//! Random bodies and query strings thrown at every route of the admin API: no
//! answer is a 5xx, and the server never panics (it keeps answering `/healthz`).

mod common;

use proptest::prelude::*;
use reqwest::Method;
use std::sync::OnceLock;

const ROUTES: &[&str] = &[
    "/users",
    "/users/bulk",
    "/users/seed",
    "/users/seed/restore",
    "/users/seed/enable",
    "/users/seed/disable",
    "/users/seed/assignments",
    "/groups",
    "/groups/Seeds",
    "/groups/Seeds/members",
    "/groups/Seeds/members/seed",
    "/apps",
    "/apps/SeedApp",
    "/apps/SeedApp/roles",
    "/apps/SeedApp/roles/User",
    "/apps/SeedApp/assignments",
    "/apps/SeedApp/effective-assignments",
    "/tokens",
    "/tokens/x",
    "/users/%00",
    "/groups/%FF%FE",
];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: common::TestApp,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
        let app = runtime.block_on(async {
            let app = common::TestApp::spawn(common::Db::Sqlite).await.expect("sqlite is always there");
            app.post("/users", serde_json::json!({"userName": "seed"})).await;
            app.post("/groups", serde_json::json!({"displayName": "Seeds"})).await;
            app.post("/apps", serde_json::json!({"name": "SeedApp"})).await;
            app
        });
        Fixture { runtime, app }
    })
}

/// JSON-ish bodies: valid JSON of random shape, JSON with the API's own field
/// names and random values, and raw bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    let json = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("userName".to_string()),
                    Just("displayName".to_string()),
                    Just("manager".to_string()),
                    Just("user".to_string()),
                    Just("group".to_string()),
                    Just("role".to_string()),
                    Just("name".to_string()),
                    Just("upsert".to_string()),
                    Just("extensions".to_string()),
                    Just("businessPhones".to_string()),
                    Just("active".to_string()),
                    ".{0,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![json.prop_map(|v| v.to_string().into_bytes()), prop::collection::vec(any::<u8>(), 0..200),]
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("limit"),
                Just("offset"),
                Just("q"),
                Just("userName"),
                Just("displayName"),
                Just("includeDeleted"),
                Just("user"),
                Just("group"),
                Just("role"),
                Just("x")
            ],
            "[ -~]{0,12}",
        ),
        0..4,
    )
    .prop_map(|pairs| pairs.into_iter().map(|(k, v)| format!("{k}={}", urlencode(&v))).collect::<Vec<_>>().join("&"))
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]
    #[test]
    fn random_requests_never_get_a_5xx(
        route in 0..ROUTES.len(),
        method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PATCH), Just(Method::DELETE), Just(Method::PUT)],
        body in body(),
        query in query(),
    ) {
        let f = fixture();
        let status = f.runtime.block_on(async {
            let url = format!("{}/api/v1{}?{}", f.app.base, ROUTES[route], query);
            f.app.http.request(method, url).bearer_auth(&f.app.token)
                .header("content-type", "application/json").body(body).send().await.expect("answered").status()
        });
        prop_assert!(status.as_u16() < 500, "got {}", status);
        let health = f.runtime.block_on(async {
            f.app.http.get(format!("{}/healthz", f.app.base)).send().await.expect("answered").status()
        });
        prop_assert_eq!(health.as_u16(), 200);
    }
}
