//! `roster key rotate` on the data directory of a running `roster serve`: every
//! secret is re-sealed under a new key, the key file is replaced, and the running
//! server goes on reaching its app (it follows the new key file), while the old
//! key opens nothing.

mod common;

use roster_store::secrets::{read_key_file, Cipher, Slot, KEY_FILE};
use serde_json::json;
use std::process::Command;

fn key_cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["--data-dir", &dir.to_string_lossy(), "key"])
        .args(args)
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_MASTER_KEY")
        .output()
        .expect("roster key runs")
}

fn hex_of(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_rotation_while_serving_keeps_the_app_reachable_and_retires_the_old_key() {
    let sample = roster_sample_app::start("127.0.0.1:0".parse().expect("addr"), "s3cret".into(), Default::default())
        .await
        .expect("sample app");
    let roster = common::Roster::start().await;
    roster.call(reqwest::Method::POST, "/apps", json!({"name": "Crm", "template": "scim"})).await;
    let settings = json!({"tenantUrl": sample.base_url, "secretToken": "s3cret", "allowPrivateNetworks": true});
    roster.call(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;
    let tested = roster.call(reqwest::Method::POST, "/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(tested["ok"], json!(true), "{tested}");
    let old_key = read_key_file(&roster.dir().join(KEY_FILE)).expect("read").expect("a key file");

    let out = key_cli(roster.dir(), &["rotate"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("re-sealed 1 stored secret"), "{said}");
    let new_key = read_key_file(&roster.dir().join(KEY_FILE)).expect("read").expect("a key file");
    assert_ne!(old_key, new_key);

    // The running server reaches the app with the re-sealed token.
    let tested = roster.call(reqwest::Method::POST, "/apps/Crm/provisioning/test-connection", json!({})).await;
    assert_eq!(tested["ok"], json!(true), "{tested}");
    // A new secret is sealed under the new key.
    let settings = json!({"secretToken": "s3cret"});
    roster.call(reqwest::Method::PATCH, "/apps/Crm/provisioning", settings).await;
    let store = roster_store::Store::open_sqlite(roster.dir()).await.expect("store");
    let job = store.jobs().await.expect("jobs").into_iter().next().expect("a job");
    let sealed = job.credentials.expect("sealed");
    let slot = Slot::credentials(job.app_id.as_str());
    assert!(Cipher::from_key(new_key).open(&sealed, slot).is_ok());
    assert!(Cipher::from_key(old_key).open(&sealed, slot).is_err(), "the old key opens nothing");
    assert_eq!(store.master_key_id().await.expect("id"), Some(Cipher::from_key(new_key).key_id()));
    let audit = store.audit(&Default::default()).await.expect("audit").items;
    let rotation = audit.iter().find(|e| e.action == "key rotate").expect("the rotation is audited");
    assert_eq!(rotation.principal, "local:roster key");
    let entry = serde_json::to_string(rotation).expect("json");
    assert!(entry.contains(&Cipher::from_key(new_key).key_id()) && !entry.contains(&hex_of(&new_key)), "{entry}");
    store.close().await;

    let id = key_cli(roster.dir(), &["id"]);
    let said = String::from_utf8_lossy(&id.stdout);
    let new_id = Cipher::from_key(new_key).key_id();
    assert!(said.contains(&format!("store: {new_id}")) && said.contains(&format!("this roster: {new_id}")), "{said}");
    let _ = sample.stop().await;
}
