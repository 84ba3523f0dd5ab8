//! The SCIM connector against the sample app over real HTTP.

use std::time::Duration;

use roster_connectors::{
    Aspect, Connector, ConnectorError, Dialect, Form, MemberRemoval, ResourceKind, ScimConnector, ScimSettings,
};
use roster_sample_app::{start, RunningSampleApp, SampleOptions};
use roster_scim::{diff_patch, PatchOp, PatchOperation};
use serde_json::{json, Map, Value};

const TOKEN: &str = "conn-token";
const DEPT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";

async fn app(options: SampleOptions) -> RunningSampleApp {
    start("127.0.0.1:0".parse().expect("address"), TOKEN.into(), options).await.expect("sample app started")
}

fn connector(base_url: &str, token: &str, batch: usize, removal: MemberRemoval) -> ScimConnector {
    let settings = ScimSettings {
        timeout: Duration::from_secs(5),
        member_batch_size: batch,
        dialect: Dialect { pinned: [(Aspect::MemberRemoval, Form::from(removal))].into(), ..Dialect::default() },
        ..ScimSettings::new(base_url, token)
    };
    ScimConnector::new(settings).expect("connector")
}

fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(p, v)| (p.to_string(), v.clone())).collect()
}

#[tokio::test]
async fn user_lifecycle() {
    let app = app(SampleOptions::default()).await;
    let c = connector(&app.base_url, TOKEN, 100, MemberRemoval::Filter);
    let old = attrs(&[
        ("userName", json!("ann@x.com")),
        ("active", json!("True")),
        ("emails[type eq \"work\"].value", json!("ann@x.com")),
        ("name.givenName", json!("Ann")),
        (DEPT, json!("Sales")),
    ]);
    let created = c.create(ResourceKind::User, &old).await.expect("created");
    assert_eq!(created.resource["active"], true);
    assert_eq!(created.resource["emails"][0]["primary"], true);

    let again = c.create(ResourceKind::User, &old).await;
    assert!(matches!(again, Err(ConnectorError::Conflict { .. })), "{again:?}");

    let found = c.find(ResourceKind::User, "userName", "ANN@x.com").await.expect("found");
    assert_eq!(found.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), vec![created.id.clone()]);
    assert!(c.find(ResourceKind::User, "userName", "a\"b\\c").await.expect("searched").is_empty());

    let new = attrs(&[
        ("userName", json!("ann@x.com")),
        ("active", json!("False")),
        ("phoneNumbers[type eq \"mobile\"].value", json!("555")),
        ("name.givenName", json!("Anne")),
    ]);
    let old_map: Map<String, Value> = old.iter().cloned().collect();
    let ops = diff_patch(&old_map, &new);
    c.update(ResourceKind::User, &created.id, &ops).await.expect("updated");
    let got = c.get(ResourceKind::User, &created.id).await.expect("read").expect("exists");
    assert_eq!(got.resource["active"], false);
    assert_eq!(got.resource["name"]["givenName"], "Anne");
    assert_eq!(got.resource["phoneNumbers"][0]["value"], "555");
    assert!(got.resource.get("emails").is_none());
    assert!(got.resource.get(DEPT.rsplit_once(':').map_or("", |(s, _)| s)).is_none());

    // `id` is read-only: refused in every form (PATCH replace, add, then PUT), it is
    // left out from then on and said once, and the rest of a change goes through.
    let bad = vec![
        PatchOperation::new(PatchOp::Replace, "id", Some(json!("x"))),
        PatchOperation::new(PatchOp::Replace, "title", Some(json!("Boss"))),
    ];
    c.update(ResourceKind::User, &created.id, &bad).await.expect("the rest went through");
    let got = c.get(ResourceKind::User, &created.id).await.expect("read").expect("exists");
    assert_eq!(
        (got.resource["id"].as_str(), got.resource["title"].as_str()),
        (Some(created.id.as_str()), Some("Boss"))
    );
    let warnings = c.take_warnings(&created.id);
    assert!(warnings.len() == 1 && warnings[0].contains("refuses id in every form"), "{warnings:?}");
    assert!(c.dialect().is_some_and(|d| d.unsupported.contains("id")));
    c.update(ResourceKind::User, &created.id, &bad[..1]).await.expect("nothing left to send");
    assert!(c.take_warnings(&created.id).is_empty(), "said once");

    for i in 0..4 {
        c.create(ResourceKind::User, &attrs(&[("userName", json!(format!("u{i}")))])).await.expect("created");
    }
    let page = c.list(ResourceKind::User, None, 3).await.expect("listed");
    assert_eq!((page.total, page.items.len()), (5, 3));
    let page = c.list(ResourceKind::User, page.next.as_deref(), 3).await.expect("listed");
    assert_eq!(page.items.len(), 2);

    c.delete(ResourceKind::User, &created.id).await.expect("deleted");
    assert_eq!(c.get(ResourceKind::User, &created.id).await.expect("read"), None);
    assert_eq!(c.delete(ResourceKind::User, &created.id).await, Err(ConnectorError::NotFound));
    assert_eq!(c.update(ResourceKind::User, &created.id, &ops).await, Err(ConnectorError::NotFound));
}

#[tokio::test]
async fn test_connection_reasons() {
    let app = app(SampleOptions::default()).await;
    let good = connector(&app.base_url, TOKEN, 100, MemberRemoval::Filter);
    let checked = good.test_connection("userName").await.expect("connection works");
    assert!(checked.contains("userName"), "{checked}");

    let bad_token = connector(&app.base_url, "wrong", 100, MemberRemoval::Filter);
    match bad_token.test_connection("userName").await {
        Err(ConnectorError::Config { message }) => {
            assert!(message.contains("refused the secret token (401)"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let not_scim = connector(&format!("{}/nothing", app.base_url), TOKEN, 100, MemberRemoval::Filter);
    match not_scim.test_connection("userName").await {
        Err(ConnectorError::Config { message }) => {
            assert!(message.contains("not a SCIM endpoint"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let bad_filter = good.test_connection("userName zz").await;
    assert!(matches!(bad_filter, Err(ConnectorError::Config { .. })), "{bad_filter:?}");

    let addr = app.addr;
    app.stop().await.expect("stopped");
    let gone = connector(&format!("http://{addr}/scim/v2"), TOKEN, 100, MemberRemoval::Filter);
    match gone.test_connection("userName").await {
        Err(ConnectorError::Config { message }) => {
            assert!(message.contains("cannot reach") && message.contains("connection refused"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let transient = gone.get(ResourceKind::User, "x").await;
    assert!(matches!(transient, Err(ConnectorError::Transient { .. })), "{transient:?}");
}

#[tokio::test]
async fn member_batches() {
    let cases =
        [(MemberRemoval::Filter, 10, 25usize, 12usize, 3 + 2), (MemberRemoval::ValueList, 100, 250, 100, 3 + 1)];
    for (removal, batch, add, remove, want_requests) in cases {
        let app = app(SampleOptions::default()).await;
        let c = connector(&app.base_url, TOKEN, batch, removal);
        let group = c.create(ResourceKind::Group, &attrs(&[("displayName", json!("G"))])).await.expect("group");
        let found = c.find(ResourceKind::Group, "displayName", "g").await.expect("found");
        assert_eq!(found.len(), 1);
        assert!(found[0].resource.get("members").is_none());
        let ids: Vec<String> = (0..add).map(|i| format!("u{i}")).collect();
        app.state.reset_counters();
        let sent = c.update_members(&group.id, &ids, &[]).await.expect("added");
        let sent2 = c.update_members(&group.id, &[], &ids[..remove]).await.expect("removed");
        assert_eq!(sent + sent2, want_requests as u32, "{removal:?}");
        assert_eq!(app.state.counter("PATCH /Groups/{id}"), want_requests as u64);
        assert_eq!(app.state.counter("PATCH /Groups member values"), (add + remove) as u64);
        let members = app.state.group_member_ids(&group.id).await.unwrap_or_default();
        assert_eq!(members.len(), add - remove);
        assert_eq!(c.update_members("nope", &ids[..1], &[]).await, Err(ConnectorError::NotFound));
    }
}
