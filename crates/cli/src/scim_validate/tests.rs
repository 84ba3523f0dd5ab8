//! The validator against the sample app in its dialects, scim2-server, and an
//! endpoint that does not answer.

use super::*;
use roster_sample_app::{Refusal, SampleOptions};

fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed { .. } => "failed",
        Outcome::NotSupported { .. } => "not supported",
        Outcome::Skipped { .. } => "skipped",
    }
}

/// The report on the sample app playing `refuse`, as (check, outcome, fallback).
async fn report(refuse: Vec<Refusal>) -> Vec<(&'static str, &'static str, String)> {
    let options = SampleOptions { refuse, ..SampleOptions::default() };
    let app = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "t0ken".into(), options)
        .await
        .expect("the sample app");
    let checks = validate(&app.base_url, "t0ken").await.expect("a report");
    checks
        .iter()
        .map(|c| {
            let fallback = match &c.outcome {
                Outcome::NotSupported { fallback } => fallback.clone(),
                Outcome::Failed { why, answer, .. } => format!("{why}: {answer}"),
                _ => String::new(),
            };
            (c.name, kind(&c.outcome), fallback)
        })
        .collect()
}

const NAMES: [&str; 20] = [
    "discovery.serviceProviderConfig",
    "discovery.schemas",
    "discovery.resourceTypes",
    "users.create",
    "users.get",
    "users.filter",
    "users.filterNone",
    "users.patch.simple",
    "users.patch.subAttribute",
    "users.patch.filterPath",
    "users.patch.extension",
    "users.patch.manager",
    "users.patch.manyOperations",
    "users.deactivate",
    "users.reactivate",
    "users.paging",
    "groups.create",
    "groups.addMember",
    "groups.removeMember",
    "errors.notFound",
];

#[tokio::test]
async fn a_full_scim_app_passes_every_check() {
    let r = report(Vec::new()).await;
    let names: Vec<&str> = r.iter().map(|c| c.0).collect();
    let mut expected = NAMES.to_vec();
    expected.extend(["errors.uniqueness", "cleanup.delete"]);
    assert_eq!(names, expected);
    for (name, kind, why) in &r {
        assert_eq!(*kind, "passed", "{name}: {why}");
    }
}

#[tokio::test]
async fn each_refused_form_names_the_form_roster_sends_instead() {
    let r = report(vec![Refusal::FilterPaths, Refusal::ComplexValues, Refusal::ManyOperations]).await;
    let not_supported: Vec<(&str, &str)> =
        r.iter().filter(|c| c.1 == "not supported").map(|c| (c.0, c.2.as_str())).collect();
    assert_eq!(
        not_supported,
        [
            ("users.patch.filterPath", "multiValued=wholeList: replace of the whole emails list"),
            ("users.patch.manager", "complexValue=subAttributes: replace of manager.value"),
            ("users.patch.manyOperations", "operations=one: one operation per PATCH"),
            ("groups.removeMember", "memberRemoval=valueList: remove of members with a value list"),
        ]
    );
    for (name, kind, why) in &r {
        assert!(matches!(*kind, "passed" | "not supported"), "{name}: {kind} {why}");
    }
}

/// scim2-server (PyPI), the peer the tests install: every check, line by line.
#[tokio::test]
async fn scim2_server_passes_every_check() {
    let Some(bin) = std::env::var("ROSTER_SCIM2_SERVER").ok().filter(|s| !s.is_empty()) else {
        assert!(
            std::env::var("ROSTER_REQUIRE_PEERS").is_err(),
            "ROSTER_REQUIRE_PEERS is set but ROSTER_SCIM2_SERVER is not"
        );
        eprintln!("skipped: ROSTER_SCIM2_SERVER is not set");
        return;
    };
    let app = crate::bench_provision::AppProcess::scim2_server(std::path::Path::new(&bin), "t0ken")
        .await
        .expect("scim2-server starts");
    let checks = validate(&app.base_url, "t0ken").await.expect("a report");
    let lines: Vec<(&str, &str)> = checks.iter().map(|c| (c.name, kind(&c.outcome))).collect();
    let mut expected: Vec<(&str, &str)> = NAMES.iter().map(|n| (*n, "passed")).collect();
    expected.extend([("errors.uniqueness", "passed"), ("cleanup.delete", "passed")]);
    assert_eq!(lines, expected, "{checks:#?}");
    app.stop().await;
}

/// Nothing listening: every check fails or is skipped, and says so; no hang.
#[tokio::test]
async fn an_endpoint_that_does_not_answer_fails_every_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9);
    let checks = validate(&format!("http://127.0.0.1:{port}/scim/v2"), "t").await.expect("a report");
    assert!(
        checks.iter().all(|c| matches!(c.outcome, Outcome::Failed { .. } | Outcome::Skipped { .. })),
        "{checks:#?}"
    );
    let create = checks.iter().find(|c| c.name == "users.create").map(|c| c.outcome.clone());
    assert!(
        matches!(create, Some(Outcome::Failed { ref answer, .. }) if answer.starts_with("0 no answer")),
        "{create:?}"
    );
}

#[tokio::test]
async fn an_app_without_patch_is_updated_by_put() {
    let r = report(vec![Refusal::Patch]).await;
    let put: Vec<&str> = r.iter().filter(|c| c.2.starts_with("userUpdate=put")).map(|c| c.0).collect();
    let user_changes: Vec<&str> =
        NAMES.iter().copied().filter(|n| n.starts_with("users.patch") || n.ends_with("activate")).collect();
    assert_eq!(put, user_changes, "{r:?}");
    let group_put: Vec<&str> = r.iter().filter(|c| c.2.starts_with("groupUpdate=put")).map(|c| c.0).collect();
    assert_eq!(group_put, ["groups.addMember", "groups.removeMember"], "{r:?}");
    assert!(r.iter().all(|c| matches!(c.1, "passed" | "not supported")), "{r:?}");
}
