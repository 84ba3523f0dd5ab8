//! `roster app plan` and `roster app drift` from the CLI, against `roster
//! serve` (a fresh SQLite store) and roster's sample SCIM app, both on
//! 127.0.0.1: the plan of a mapping file lists the update it proposes and
//! changes nothing; a change made in the app behind roster's back is reported
//! by the drift check and put back by `--repair`.

mod common;

use common::Roster;
use serde_json::{json, Value};
use std::process::Output;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_drift_from_the_cli() {
    let server = Roster::start().await;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), Default::default())
        .await
        .expect("the sample app starts");
    server.call(reqwest::Method::POST, "/users", json!({"userName": "ann@corp.example", "jobTitle": "Dev"})).await;
    server.call(reqwest::Method::POST, "/apps", json!({"name": "Crm"})).await;
    server.call(reqwest::Method::POST, "/apps/Crm/assignments", json!({"user": "ann@corp.example"})).await;
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "tok", "mode": "automatic"});
    server.call(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;
    let out = server.cli(&["app", "sync", "Crm", "--wait"]).await;
    assert!(out.status.success(), "{}", text(&out));

    // A proposed mapping, as a file: the title gets a prefix.
    let mut mappings = server.call(reqwest::Method::GET, "/apps/Crm/provisioning/mappings", Value::Null).await;
    for o in mappings["objects"].as_array_mut().expect("objects") {
        for a in o["attributes"].as_array_mut().expect("attributes") {
            if a["target"] == "title" {
                a["mapping"] = json!({"type": "expression", "expression": "Join(\" \", \"Acme\", [jobTitle])"});
            }
        }
    }
    let file = server.dir().join("proposed.json");
    std::fs::write(&file, mappings.to_string()).expect("write the file");
    let file = file.to_string_lossy().to_string();
    let out = server.cli(&["app", "plan", "Crm", "--mappings", &file]).await;
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Plan for Crm: 1 user(s)"), "{said}");
    assert!(said.contains("Update user ann@corp.example"), "{said}");
    assert!(said.contains("title: \"Dev\" -> \"Acme Dev\""), "{said}");
    assert!(said.contains("PATCH /scim/v2/Users/"), "{said}");
    let out = server.cli(&["--json", "app", "plan", "Crm", "--mappings", &file]).await;
    let plan: Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert_eq!(plan["summary"]["updates"], 1, "{plan}");
    assert_eq!(plan["changes"][0]["requests"][0]["method"], "PATCH", "{plan}");
    let out = server.cli(&["app", "plan", "Crm"]).await;
    assert!(text(&out).contains("0 update(s)"), "the saved mapping is unchanged: {}", text(&out));

    // Drift: the title changed in the app behind roster's back.
    let ann = sample.state.user_by_name("ann@corp.example").await.expect("ann's account");
    let id = ann["id"].as_str().expect("an id").to_string();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Hacked"}]});
    let answer = reqwest::Client::new()
        .patch(format!("{}/Users/{id}", sample.base_url))
        .bearer_auth("tok")
        .header("content-type", "application/scim+json")
        .body(patch.to_string())
        .send()
        .await
        .expect("the app answers");
    assert!(answer.status().is_success());
    let out = server.cli(&["app", "drift", "Crm"]).await;
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("changed user ann@corp.example"), "{said}");
    assert!(said.contains("title: the app has \"Hacked\", roster sent \"Dev\""), "{said}");
    let out = server.cli(&["app", "drift", "Crm", "--repair"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = server.cli(&["--json", "app", "drift", "Crm"]).await;
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["items"], json!([]), "repaired: {report}");
    let out = server.cli(&["--json", "app", "drift", "Crm", "--last"]).await;
    let last: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(last, report);
}

/// `roster scim validate --via-server`: the checks run on the server, and the
/// report is printed as when they run here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_runs_here_or_on_the_server() {
    let server = Roster::start().await;
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "tok".into(), Default::default())
        .await
        .expect("the sample app starts");
    let file = server.dir().join("app.token");
    std::fs::write(&file, "tok\n").expect("write the token");
    let file = file.to_string_lossy().to_string();
    for extra in [None, Some("--via-server")] {
        let mut args = vec!["scim", "validate", sample.base_url.as_str(), "--token-file", file.as_str()];
        args.extend(extra);
        let out = server.cli(&args).await;
        let said = text(&out);
        assert!(out.status.success(), "{extra:?}: {said}");
        assert!(said.contains("22 passed, 0 failed, 0 other, of 22 checks"), "{extra:?}: {said}");
        assert!(said.contains("PASS           users.patch.manager"), "{extra:?}: {said}");
    }
    std::fs::write(server.dir().join("app.token"), "wrong\n").expect("write the token");
    let out = server
        .cli(&["scim", "validate", sample.base_url.as_str(), "--token-file", file.as_str(), "--via-server"])
        .await;
    assert!(!out.status.success(), "a failed check fails the command: {}", text(&out));
}
