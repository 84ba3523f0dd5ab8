//! The portal's pages over a real SQLite store and the real router, without a
//! browser: the attribute mapping form, a held inbound batch, the activity
//! charts, plan before apply (Preview changes) and the Drift page.

mod common;

use axum::http::{header, StatusCode};
use common::*;

#[tokio::test]
async fn an_attribute_mapping_is_saved_from_its_form_and_a_bad_precedence_stays_on_the_page() {
    let p = TestPortal::start().await;
    let app = new_app(&p, "Crm").await;
    let path = format!("/apps/{app}/provisioning/mappings/user/attributes/new");
    let form = "mappingType=constant&constant=+Sales+&target=department&matching=yes&matchingPrecedence=x";
    let (status, _, body) = p.post(&path, &p.with_csrf(form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("id=\"err-matchingPrecedence\"") && body.contains("value=\" Sales \""), "{body}");
    let form = "mappingType=constant&constant=+Sales+&target=department&matching=no&apply=onCreateOnly";
    assert_eq!(p.post(&path, &p.with_csrf(form)).await.0, StatusCode::SEE_OTHER);
    let (_, body) = p.get_as(&p.cookie, &format!("/apps/{app}/provisioning/mappings/user")).await;
    let saved = "<td><code>department</code></td><td>Constant</td><td><code>&quot; Sales &quot;</code></td>";
    assert!(body.contains(saved) && body.contains("On create"), "the constant is kept as typed, spaces included");
}

/// A source from the New source form; its settings edited as a document (a bad
/// one stays on the page with the error); a batch held by the disable guard is
/// shown with Approve, and approving applies it.
#[tokio::test]
async fn a_held_batch_is_approved_from_the_source_page() {
    let p = TestPortal::start().await;
    let (status, headers, _) = p.post("/sources/new", &p.with_csrf("name=Workday&template=hr-csv")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers[header::LOCATION].to_str().unwrap_or_default().to_string();
    let id = p.store.find_app("Workday").await.expect("the source").id;
    assert!(location.starts_with(&format!("/sources/{id}")), "{location}");
    let (_, _, list) = p.get("/sources", true).await;
    assert!(list.contains("Workday") && list.contains("HR files (CSV)"), "{list}");
    let (_, _, apps) = p.get("/apps", true).await;
    assert!(!apps.contains("Workday"), "a source is not listed among the apps");

    let view = p.engine.source(&id).await.expect("the source");
    let mut settings = serde_json::to_value(&view.settings).expect("settings");
    settings["disableThreshold"] = serde_json::json!(1);
    let enc = |v: &str| v.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let (status, _, _) =
        p.post(&format!("/sources/{id}"), &p.with_csrf(&format!("settings={}", enc(&settings.to_string())))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, page) =
        p.post(&format!("/sources/{id}"), &p.with_csrf("settings=%7B%22prehireDays%22%3A1%7D")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("err-settings"), "the error sits next to the document: {page}");

    let people = |end: &str| -> Vec<serde_json::Value> {
        (1..=3)
            .map(|i| serde_json::json!({"EmployeeId": format!("E{i}"), "UserName": format!("p{i}@corp.example"), "EndDate": end}))
            .collect()
    };
    let first = p.engine.submit_records(&id, "csv", people("")).await.expect("a batch");
    assert_eq!(first.status, roster_store::BatchStatus::Applied);
    let held = p.engine.submit_records(&id, "csv", people("2020-01-01")).await.expect("a batch");
    assert_eq!(held.status, roster_store::BatchStatus::Held);
    let (_, _, page) = p.get(&format!("/sources/{id}"), true).await;
    assert!(page.contains("Held for approval") && page.contains("Approve"), "{page}");
    let action = format!("/sources/{id}/batches/{}/approve", held.id);
    assert!(page.contains(&action), "{page}");
    let (status, _, _) = p.post(&action, &p.with_csrf("")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for i in 1..=3 {
        assert!(!p.store.find_user(&format!("p{i}@corp.example")).await.expect("a user").active);
    }
    let (_, _, page) = p.get(&format!("/sources/{id}"), true).await;
    assert!(!page.contains("Held for approval"), "{page}");
    // Its log is the app log of the source, under the source's own tabs.
    let (status, _, logs) = p.get(&format!("/apps/{id}/logs"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(logs.contains("Inbound sources") && !logs.contains(&format!("/apps/{id}/provisioning\"")), "{logs}");
    assert!(logs.contains("Disable"), "the applied batch's entries: {logs}");
    let (status, headers, _) = p.get(&format!("/apps/{id}"), true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], format!("/sources/{id}").as_str());
}

/// An app's Overview draws its activity as SVG (no script), and the list of
/// apps a sparkline of failures per day.
#[tokio::test]
async fn activity_is_drawn_on_the_overview_and_failures_in_the_list() {
    use roster_store::{LogAction, LogRecord, LogStatus, ObjectKind, RecordBatch};
    let p = TestPortal::start().await;
    let id = new_app(&p, "Crm").await;
    let app = p.store.find_app(&id).await.expect("the app").id;
    let now = roster_store::now_ms();
    let entry = |n: usize, action: LogAction, status: LogStatus| LogRecord {
        id: format!("e{n}"),
        app_id: app.clone(),
        cycle_id: "c".into(),
        change_id: n.to_string(),
        at: now,
        object_kind: ObjectKind::User,
        source_id: format!("u{n}"),
        source_name: None,
        target_id: None,
        action,
        status,
        steps: Vec::new(),
        modified: Vec::new(),
        error_code: None,
        error_message: None,
    };
    let logs = vec![
        entry(1, LogAction::Create, LogStatus::Success),
        entry(2, LogAction::Create, LogStatus::Success),
        entry(3, LogAction::Update, LogStatus::Failure),
    ];
    p.store.record(&app, &RecordBatch { logs, ..RecordBatch::default() }).await.expect("log entries");
    let (status, _, page) = p.get(&format!("/apps/{id}"), true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg class=\"activity\""), "{page}");
    assert!(page.contains("3 log entries, 1 failed"), "{page}");
    assert!(page.contains("2 created, 1 failed"), "the hour's title: {page}");
    assert!(!page.contains("<script>"), "drawn on the server, no inline script");
    let (_, _, list) = p.get("/apps", true).await;
    assert!(list.contains("Failures per day, last 7 days: 0, 0, 0, 0, 0, 0, 1"), "{list}");
}

/// Plan before apply in the portal: the plan page shows the next cycle's
/// requests; "Preview changes" in the scoping and attribute editors shows the
/// plan of the form's change and saves nothing.
#[tokio::test]
async fn preview_changes_shows_the_plan_of_the_form_and_saves_nothing() {
    let p = TestPortal::start().await;
    let app = new_app(&p, "Crm").await;
    let app_id = p.store.find_app("Crm").await.expect("the app").id;
    let settings = serde_json::json!({"tenantUrl": "https://crm.example.com/scim/v2", "secretToken": "t",
        "mode": "automatic", "scope": "all"});
    p.engine.configure(&app_id, serde_json::from_value(settings).expect("settings")).await.expect("configured");
    for (name, department) in [("ann@corp.example", "Eng"), ("ben@corp.example", "Sales")] {
        let input = roster_store::UserInput {
            user_name: name.into(),
            department: Some(department.into()),
            ..Default::default()
        };
        p.store.create_user(input).await.expect("a user");
    }
    let (status, page) = p.get_as(&p.cookie, &format!("/apps/{app}/provisioning/plan")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Create</strong> user ann@corp.example"), "{page}");
    assert!(page.contains("POST /scim/v2/Users"), "the request is shown: {page}");
    let (_, page) = p.get_as(&p.cookie, &format!("/apps/{app}/provisioning")).await;
    assert!(page.contains(&format!("/apps/{app}/provisioning/plan")), "the provisioning page links to the plan");

    let scoping = format!("/apps/{app}/provisioning/mappings/user/scoping");
    let form = "g0.c0.attribute=department&g0.c0.operator=EQUALS&g0.c0.value=Sales&op=preview";
    let (status, _, page) = p.post(&scoping, &p.with_csrf(form)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Preview of the next cycle"), "{page}");
    assert!(page.contains("user ben@corp.example") && !page.contains("user ann@corp.example"), "{page}");
    let saved = p.engine.mappings(&app_id).await.expect("mappings");
    assert!(saved.objects.iter().all(|o| o.scoping.groups.is_empty()), "a preview saves nothing");

    let attribute = format!("/apps/{app}/provisioning/mappings/user/attributes/new");
    let form = "mappingType=constant&constant=Acme&target=urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Aextension%3Aenterprise%3A2.0%3AUser%3Aorganization&matching=no&op=preview";
    let (status, _, page) = p.post(&attribute, &p.with_csrf(form)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("organization") && page.contains("Acme"), "the new attribute is in the plan: {page}");
    let after = p.engine.mappings(&app_id).await.expect("mappings");
    assert_eq!(after, saved, "a preview saves nothing");
}

/// Drift in the portal: a check shows an account deleted in the app behind
/// roster's back, and Repair makes it again (roster's sample SCIM app on
/// 127.0.0.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drift_page_checks_and_repairs() {
    let p = TestPortal::start().await;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), Default::default())
        .await
        .expect("the sample app starts");
    let app = new_app(&p, "Crm").await;
    let app_id = p.store.find_app("Crm").await.expect("the app").id;
    let settings = serde_json::json!({"tenantUrl": sample.base_url, "secretToken": "tok", "mode": "automatic",
        "scope": "all"});
    p.engine.configure(&app_id, serde_json::from_value(settings).expect("settings")).await.expect("configured");
    let input = roster_store::UserInput { user_name: "ann@corp.example".into(), ..Default::default() };
    p.store.create_user(input).await.expect("a user");
    p.engine.cycle(&app_id).await.expect("a cycle");
    let ann = sample.state.user_by_name("ann@corp.example").await.expect("ann's account");
    assert!(sample.state.delete_user_behind_back(ann["id"].as_str().expect("id")).await);

    let drift = format!("/apps/{app}/provisioning/drift");
    let (status, page) = p.get_as(&p.cookie, &drift).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No drift check has run yet"), "{page}");
    let (status, _, _) = p.post(&drift, &p.with_csrf("op=check")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = p.get_as(&p.cookie, &drift).await;
    assert!(page.contains("<strong>missing</strong> user ann@corp.example"), "{page}");
    assert_eq!(sample.state.user_count().await, 0, "a check sends nothing");
    let (status, _, _) = p.post(&drift, &p.with_csrf("op=repair")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(sample.state.user_by_name("ann@corp.example").await.is_some(), "the repair made the account again");
    let (_, page) = p.get_as(&p.cookie, &format!("/apps/{app}/provisioning")).await;
    assert!(page.contains(&drift), "the provisioning page links to the drift page");
}
