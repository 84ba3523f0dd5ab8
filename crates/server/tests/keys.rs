//! The master key: every sealed secret is bound to its app and field, a rotation
//! re-seals every secret under a new key in one transaction (the old key opens
//! nothing afterwards; a rotation that fails changes nothing), and a rotation a
//! crash cut short between its steps is settled from what the store recorded.

mod common;

use roster_store::secrets::{read_key_file, write_private, Cipher, Slot, KEY_FILE, NEXT_KEY_FILE};
use roster_store::{AppId, Store};
use serde_json::json;

const NEW_KEY: [u8; 32] = [3; 32];

/// Apps `Crm0..Crm{n}` with the secret tokens `tok-0..`, sealed by the test server
/// (whose key is `common::TEST_KEY`); their ids.
async fn apps_with_secrets(app: &common::TestApp, n: usize) -> Vec<String> {
    for i in 0..n {
        let (s, v) = app.post("/apps", json!({"name": format!("Crm{i}"), "template": "scim"})).await;
        assert!(s.is_success(), "{v}");
        let patch = json!({
            "tenantUrl": "http://127.0.0.1:9/scim",
            "allowPrivateNetworks": true,
            "secretToken": format!("tok-{i}")
        });
        let (s, v) = app.patch(&format!("/apps/Crm{i}/provisioning"), patch).await;
        assert!(s.is_success(), "{v}");
    }
    let jobs = app.store.jobs().await.expect("jobs");
    jobs.iter().filter(|j| j.credentials.is_some()).map(|j| j.app_id.to_string()).collect()
}

async fn sealed(store: &Store, app: &str) -> String {
    store
        .job(&AppId::from_stored(app.to_string()))
        .await
        .expect("job")
        .and_then(|j| j.credentials)
        .expect("sealed credentials")
}

/// Every app's secret opens with `key` and holds its own token.
async fn all_open(store: &Store, apps: &[String], key: &Cipher) -> bool {
    for app in apps {
        match key.open(&sealed(store, app).await, Slot::credentials(app)) {
            Ok(plain) if plain.contains("tok-") => {}
            _ => return false,
        }
    }
    true
}

async fn none_open(store: &Store, apps: &[String], key: &Cipher) -> bool {
    for app in apps {
        if key.open(&sealed(store, app).await, Slot::credentials(app)).is_ok() {
            return false;
        }
    }
    true
}

async fn rotation_reseals_every_secret_and_the_old_key_opens_nothing(app: &common::TestApp) {
    let apps = apps_with_secrets(app, 3).await;
    assert_eq!(apps.len(), 3);
    let (old, new) = (Cipher::from_key(common::TEST_KEY), Cipher::from_key(NEW_KEY));
    let adopted = app.store.adopt_master_key(&old).await.expect("adopt");
    assert_eq!((adopted.resealed, adopted.already), (0, 3));
    let report = app.store.reseal_secrets(&old, &new).await.expect("rotate");
    assert_eq!((report.resealed, report.already), (3, 0));
    assert!(all_open(&app.store, &apps, &new).await, "every secret opens with the new key");
    assert!(none_open(&app.store, &apps, &old).await, "no secret opens with the old key");
    assert_eq!(app.store.master_key_id().await.expect("id"), Some(new.key_id()));
    // The store refuses the old key at start now.
    let refused = app.store.adopt_master_key(&old).await.expect_err("the old key is refused");
    assert!(refused.to_string().contains(&new.key_id()), "{refused}");
    // Run again (after a crash, say), it finds everything done.
    let again = app.store.reseal_secrets(&old, &new).await.expect("rerun");
    assert_eq!((again.resealed, again.already), (0, 3));
    // A sealed value copied to another app does not open there.
    let settings = app.store.job(&AppId::from_stored(apps[0].clone())).await.expect("job").expect("some").settings;
    let copied = sealed(&app.store, &apps[1]).await;
    app.store
        .save_job_config(&AppId::from_stored(apps[0].clone()), &settings, Some(&copied), None)
        .await
        .expect("copy");
    assert!(new.open(&copied, Slot::credentials(&apps[0])).is_err(), "a copied value does not open");
    assert!(new.open(&copied, Slot::credentials(&apps[1])).is_ok());
}

async fn a_rotation_that_fails_changes_nothing(app: &common::TestApp) {
    let mut apps = apps_with_secrets(app, 3).await;
    let old = Cipher::from_key(common::TEST_KEY);
    app.store.adopt_master_key(&old).await.expect("adopt");
    // The last app's secret is unreadable (sealed under a key nobody has): the
    // rotation meets it after re-sealing the others, and must undo them.
    apps.sort();
    let last = apps.pop().expect("three apps");
    let settings = app.store.job(&AppId::from_stored(last.clone())).await.expect("job").expect("some").settings;
    let stray = Cipher::from_key([77; 32]).seal("{}", Slot::credentials(&last)).expect("seal");
    let err = app.store.save_job_config(&AppId::from_stored(last.clone()), &settings, Some(&stray), None).await;
    assert!(err.is_err(), "a value sealed under a key other than the store's is refused");
    // Written behind the engine's back (a corrupt row), the rotation must fail whole.
    let legacy_looking = format!("v1:{}", "A".repeat(40));
    app.store
        .save_job_config(&AppId::from_stored(last.clone()), &settings, Some(&legacy_looking), None)
        .await
        .expect("write");
    let new = Cipher::from_key(NEW_KEY);
    let failed = app.store.reseal_secrets(&old, &new).await.expect_err("one secret does not open");
    assert!(failed.to_string().contains("cannot be decrypted"), "{failed}");
    assert!(all_open(&app.store, &apps, &old).await, "the others are still under the old key");
    assert!(none_open(&app.store, &apps, &new).await);
    assert_eq!(app.store.master_key_id().await.expect("id"), Some(old.key_id()));
}

async fn a_rotation_cut_short_is_settled_from_what_the_store_recorded(app: &common::TestApp) {
    let apps = apps_with_secrets(app, 2).await;
    let dir = common::fresh_dir();
    std::fs::create_dir_all(&dir).expect("dir");
    write_private(&dir.join(KEY_FILE), &hex::encode(common::TEST_KEY)).expect("key file");
    let old = Cipher::load(&dir, None).expect("load");
    app.store.adopt_master_key(&old).await.expect("adopt");

    // Stopped after writing the next key, before the transaction committed.
    write_private(&dir.join(NEXT_KEY_FILE), &hex::encode(NEW_KEY)).expect("next");
    app.store.settle_key_files(&dir).await.expect("settle");
    assert!(!dir.join(NEXT_KEY_FILE).exists(), "an uncommitted next key is removed");
    assert_eq!(read_key_file(&dir.join(KEY_FILE)).expect("read"), Some(common::TEST_KEY));
    assert!(all_open(&app.store, &apps, &Cipher::load(&dir, None).expect("load")).await);

    // Stopped after the commit, before the rename.
    write_private(&dir.join(NEXT_KEY_FILE), &hex::encode(NEW_KEY)).expect("next");
    app.store.reseal_secrets(&old, &Cipher::from_key(NEW_KEY)).await.expect("reseal");
    app.store.settle_key_files(&dir).await.expect("settle");
    assert!(!dir.join(NEXT_KEY_FILE).exists());
    assert_eq!(read_key_file(&dir.join(KEY_FILE)).expect("read"), Some(NEW_KEY), "the committed key is promoted");
    let now = Cipher::load(&dir, None).expect("load");
    assert!(all_open(&app.store, &apps, &now).await);
    // (`old` came from the key file and follows it: the old key itself is TEST_KEY.)
    assert!(none_open(&app.store, &apps, &Cipher::from_key(common::TEST_KEY)).await);

    // A whole rotation of the key file: a fresh key, every secret under it.
    let (report, id) = app.store.rotate_key_file(&dir).await.expect("rotate");
    assert_eq!(report.resealed, 2);
    let rotated = Cipher::load(&dir, None).expect("load");
    assert_eq!(rotated.key_id(), id);
    assert!(all_open(&app.store, &apps, &rotated).await);
    assert!(none_open(&app.store, &apps, &Cipher::from_key(NEW_KEY)).await);
    // `now` was loaded from the file: it follows the rotated file on its own.
    assert!(now.open(&sealed(&app.store, &apps[0]).await, Slot::credentials(&apps[0])).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

on_both_backends!(
    rotation_reseals_every_secret_and_the_old_key_opens_nothing,
    a_rotation_that_fails_changes_nothing,
    a_rotation_cut_short_is_settled_from_what_the_store_recorded,
);
