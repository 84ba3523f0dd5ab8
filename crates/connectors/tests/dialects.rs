//! The SCIM connector against the sample app playing partial SCIM servers: each
//! refused form falls back to an equivalent one, the first that works is learned,
//! and the next change of that kind goes straight to it (the app's request
//! counters prove it). Every final state is read back over SCIM.

use std::time::Duration;

use roster_connectors::{Aspect, Connector, Dialect, Form, ResourceKind, ScimConnector, ScimSettings};
use roster_sample_app::{start, Refusal, RunningSampleApp, SampleOptions};
use roster_scim::diff_patch;
use serde_json::{json, Map, Value};

const TOKEN: &str = "dialect-token";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn app(refuse: &[Refusal]) -> RunningSampleApp {
    let options = SampleOptions { refuse: refuse.to_vec(), ..Default::default() };
    start("127.0.0.1:0".parse().expect("address"), TOKEN.into(), options).await.expect("sample app")
}

fn connector(base_url: &str, dialect: Dialect) -> ScimConnector {
    let settings = ScimSettings { timeout: Duration::from_secs(5), dialect, ..ScimSettings::new(base_url, TOKEN) };
    ScimConnector::new(settings).expect("connector")
}

fn attrs(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(p, v)| (p.to_string(), v.clone())).collect()
}

/// A user's attributes as roster sends them, `n` making each version differ.
fn person(n: u32, manager: &str) -> Vec<(String, Value)> {
    attrs(&[
        ("userName", json!("ann@x.example")),
        ("active", json!(true)),
        ("title", json!(format!("Title {n}"))),
        ("name.givenName", json!(format!("Ann{n}"))),
        ("name.familyName", json!("Example")),
        ("emails[type eq \"work\"].value", json!(format!("ann{n}@x.example"))),
        (&format!("{ENTERPRISE}:department"), json!(format!("Dept {n}"))),
        (&format!("{ENTERPRISE}:manager"), json!(manager)),
    ])
}

/// Sends the change from `old` to `new` and returns the PATCH/GET/PUT requests it took.
async fn change(
    app: &RunningSampleApp,
    c: &ScimConnector,
    id: &str,
    old: &[(String, Value)],
    new: &[(String, Value)],
) -> u64 {
    let before: u64 = requests(app);
    let old: Map<String, Value> = old.iter().cloned().collect();
    let ops = diff_patch(&old, new);
    c.update_managed(ResourceKind::User, id, &ops, new).await.expect("the change went through");
    requests(app) - before
}

fn requests(app: &RunningSampleApp) -> u64 {
    ["PATCH /Users/{id}", "GET /Users/{id}", "PUT /Users/{id}"].iter().map(|k| app.state.counter(k)).sum()
}

/// The user as the app holds it agrees with `want`.
async fn check_stored(c: &ScimConnector, id: &str, want: &[(String, Value)], manager: &str) {
    let got = c.get(ResourceKind::User, id).await.expect("read").expect("exists").resource;
    let field = |k: &str| want.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone()).unwrap_or(Value::Null);
    assert_eq!(got["title"], field("title"), "{got}");
    assert_eq!(got["name"]["givenName"], field("name.givenName"), "{got}");
    assert_eq!(got["name"]["familyName"], "Example", "{got}");
    let work = got["emails"].as_array().and_then(|e| e.iter().find(|e| e["type"] == "work")).cloned();
    assert_eq!(work.map(|w| w["value"].clone()), Some(field("emails[type eq \"work\"].value")), "{got}");
    assert_eq!(got[ENTERPRISE]["department"], field(&format!("{ENTERPRISE}:department")), "{got}");
    assert_eq!(got[ENTERPRISE]["manager"]["value"], manager, "{got}");
}

/// One dialect: a change that needs the fallback, then one that goes straight
/// to the learned forms, in `straight` requests.
async fn dialect_case(refuse: &[Refusal], learned: &[(Aspect, Form)], straight: u64) {
    let app = app(refuse).await;
    let c = connector(&app.base_url, Dialect::default());
    let boss = c.create(ResourceKind::User, &attrs(&[("userName", json!("boss@x.example"))])).await.expect("boss");
    let boss2 = c.create(ResourceKind::User, &attrs(&[("userName", json!("boss2@x.example"))])).await.expect("boss2");
    let v0 = attrs(&[("userName", json!("ann@x.example")), ("active", json!(true))]);
    let ann = c.create(ResourceKind::User, &v0).await.expect("created");
    // The first change creates the entries, the second changes them: between
    // them, every form a change of that dialect needs has been tried.
    let v1 = person(1, &boss.id);
    change(&app, &c, &ann.id, &v0, &v1).await;
    check_stored(&c, &ann.id, &v1, &boss.id).await;
    let v2 = person(2, &boss2.id);
    change(&app, &c, &ann.id, &v1, &v2).await;
    check_stored(&c, &ann.id, &v2, &boss2.id).await;
    let dialect = c.dialect().expect("a SCIM connector has a dialect");
    for (aspect, form) in learned {
        assert_eq!(dialect.learned.get(aspect), Some(form), "{refuse:?}: {dialect:?}");
    }
    assert_eq!(dialect.learned.len(), learned.len(), "{refuse:?}: {dialect:?}");
    assert!(dialect.unsupported.is_empty(), "{refuse:?}: {dialect:?}");
    let note = c.take_note(&ann.id).unwrap_or_default();
    assert_eq!(note.matches("learned for this app").count(), learned.len(), "{refuse:?}: said once each: {note}");
    let v3 = person(3, &boss.id);
    let sent = change(&app, &c, &ann.id, &v2, &v3).await;
    check_stored(&c, &ann.id, &v3, &boss.id).await;
    assert_eq!(sent, straight, "{refuse:?}: later changes go straight to the learned forms");
    assert_eq!(c.take_note(&ann.id), None, "{refuse:?}: a form is learned once");

    // What was learned is what a new connector (the next cycle) starts from.
    let next = connector(&app.base_url, dialect.lessons());
    let v4 = person(4, &boss2.id);
    let sent = change(&app, &next, &ann.id, &v3, &v4).await;
    check_stored(&next, &ann.id, &v4, &boss2.id).await;
    assert_eq!(sent, straight, "{refuse:?}: the next cycle starts from the lessons");
}

#[tokio::test]
async fn a_full_scim_app_needs_no_lesson() {
    dialect_case(&[], &[], 1).await;
}

#[tokio::test]
async fn value_filters_in_paths_fall_back_to_whole_lists() {
    dialect_case(&[Refusal::FilterPaths], &[(Aspect::MultiValued, Form::WholeList)], 1).await;
}

#[tokio::test]
async fn complex_values_fall_back_to_sub_attribute_paths() {
    dialect_case(&[Refusal::ComplexValues], &[(Aspect::ComplexValue, Form::SubAttributes)], 1).await;
}

#[tokio::test]
async fn many_operations_fall_back_to_one_per_patch() {
    // title, givenName, the work email, department, manager: five PATCHes.
    dialect_case(&[Refusal::ManyOperations], &[(Aspect::Operations, Form::One)], 5).await;
}

#[tokio::test]
async fn add_falls_back_to_a_whole_list() {
    // `add emails [...]` becomes `replace emails [the whole list]`: the first
    // equivalent form in the order roster tries them.
    dialect_case(&[Refusal::Add], &[(Aspect::MultiValued, Form::WholeList)], 1).await;
}

#[tokio::test]
async fn an_app_without_patch_gets_a_read_and_a_put() {
    dialect_case(&[Refusal::Patch], &[(Aspect::UserUpdate, Form::Put)], 2).await;
}

#[tokio::test]
async fn member_removal_tries_each_form_then_put() {
    for (refuse, learned, removed_in) in [
        (vec![Refusal::FilterPaths], Some(Form::ValueList), 1),
        (vec![Refusal::ManyOperations], Some(Form::ValueList), 1),
        (vec![Refusal::ManyOperations, Refusal::ValueListRemoval], Some(Form::OnePerRequest), 2),
        (vec![Refusal::FilterPaths, Refusal::ValueListRemoval], None, 2),
    ] {
        let app = app(&refuse).await;
        let c = connector(&app.base_url, Dialect::default());
        let mut ids = Vec::new();
        for u in ["a", "b", "c", "d", "e"] {
            ids.push(c.create(ResourceKind::User, &attrs(&[("userName", json!(u))])).await.expect("user").id);
        }
        let group = c.create(ResourceKind::Group, &attrs(&[("displayName", json!("G"))])).await.expect("group");
        c.update_members(&group.id, &ids, &[]).await.expect("added");
        c.update_members(&group.id, &[], &ids[..2]).await.expect("removed, whatever the form");
        let dialect = c.dialect().unwrap_or_default();
        match learned {
            Some(form) => assert_eq!(dialect.learned.get(&Aspect::MemberRemoval), Some(&form), "{refuse:?}"),
            None => assert_eq!(dialect.learned.get(&Aspect::GroupUpdate), Some(&Form::Put), "{refuse:?}"),
        }
        let count =
            || ["PATCH", "GET", "PUT"].iter().map(|m| app.state.counter(&format!("{m} /Groups/{{id}}"))).sum::<u64>();
        let before = count();
        let sent = c.update_members(&group.id, &[], &ids[2..4]).await.expect("removed again");
        let after = count();
        assert_eq!(after - before, removed_in, "{refuse:?}: straight to the learned form ({sent} reported)");
        let got = c.get(ResourceKind::Group, &group.id).await.expect("read").expect("group");
        let members: Vec<&str> = got.resource["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(members, vec![ids[4].as_str()], "{refuse:?}: {got:?}");
    }
}

#[tokio::test]
async fn an_app_that_drops_entry_types_is_sent_whole_lists() {
    let options = SampleOptions { drop_types: true, ..Default::default() };
    let app = start("127.0.0.1:0".parse().expect("address"), TOKEN.into(), options).await.expect("sample app");
    let c = connector(&app.base_url, Dialect::default());
    let v1 = attrs(&[("userName", json!("ann@x.example")), ("emails[type eq \"work\"].value", json!("a1@x.example"))]);
    let ann = c.create(ResourceKind::User, &v1).await.expect("created");
    assert_eq!(ann.resource["emails"], json!([{"value": "a1@x.example", "primary": true}]), "the app dropped the type");
    let dialect = c.dialect().unwrap_or_default();
    assert_eq!(dialect.learned.get(&Aspect::MultiValued), Some(&Form::WholeList), "{dialect:?}");
    let note = c.take_note(&ann.id).unwrap_or_default();
    assert!(note.contains("without type"), "{note}");
    // The cycle's create, which reads only the members it needs, learns the same.
    let fresh = connector(&app.base_url, Dialect::default());
    let bob = attrs(&[("userName", json!("bob@x.example")), ("emails[type eq \"work\"].value", json!("b@x.example"))]);
    let bob_id = fresh.create_id(ResourceKind::User, &bob).await.expect("created by id");
    let learned = fresh.dialect().unwrap_or_default();
    assert_eq!(learned.learned.get(&Aspect::MultiValued), Some(&Form::WholeList), "{learned:?}");
    assert!(fresh.take_note(&bob_id).unwrap_or_default().contains("without type"));
    let bob_got = fresh.get(ResourceKind::User, &bob_id).await.expect("read").expect("exists").resource;
    assert_eq!(bob_got["userName"], "bob@x.example");
    let v2 = attrs(&[("userName", json!("ann@x.example")), ("emails[type eq \"work\"].value", json!("a2@x.example"))]);
    let sent = change(&app, &c, &ann.id, &v1, &v2).await;
    assert_eq!(sent, 1, "one PATCH, the whole list");
    let got = c.get(ResourceKind::User, &ann.id).await.expect("read").expect("exists").resource;
    assert_eq!(got["emails"], json!([{"value": "a2@x.example", "primary": true}]), "changed, not duplicated");
}
