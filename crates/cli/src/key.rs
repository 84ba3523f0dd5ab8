//! `roster key`: the master key that seals every app's credentials. These
//! commands work on the server's own store, like `roster admin`; a rotation is
//! written to the audit log (principal `local:roster key`), key ids only.

use crate::admin::StoreArgs;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use roster_store::secrets::{parse_key, Cipher};
use std::path::Path;

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Re-seal every stored secret under a new master key, in one transaction; the
    /// old key opens nothing afterwards. With the key in the data directory, the new
    /// key replaces master.key (a running roster picks it up). With ROSTER_MASTER_KEY,
    /// the new key comes from ROSTER_NEW_MASTER_KEY (see `roster key generate`), and
    /// every roster sharing the store must restart with it.
    Rotate(StoreArgs),
    /// Print a new random master key (64 hex digits), for ROSTER_NEW_MASTER_KEY.
    Generate,
    /// The id of the master key the store's secrets are sealed under (a one-way
    /// hash of the key, safe to show) and of the key this roster would use.
    Id(StoreArgs),
}

pub async fn run(cmd: KeyCmd, data_dir: &Path, json: bool) -> Result<()> {
    match cmd {
        KeyCmd::Generate => println!("{}", hex::encode(Cipher::random_key())),
        KeyCmd::Rotate(s) => {
            let store = crate::serve::open_store(s.database.as_deref(), data_dir).await?;
            let before = store.master_key_id().await?;
            let outcome = rotate(&store, data_dir).await;
            let entry = roster_store::NewAuditEntry {
                principal: "local:roster key".into(),
                action: "key rotate".into(),
                target: Some("master key".into()),
                before: Some(serde_json::json!({ "keyId": before })),
                after: outcome.as_ref().ok().map(|(r, id, _)| serde_json::json!({"keyId": id, "resealed": r.resealed})),
                outcome: match &outcome {
                    Ok(_) => "ok".into(),
                    Err(e) => format!("{e:#}"),
                },
                ..roster_store::NewAuditEntry::default()
            };
            let audited = store.append_audit(&entry).await;
            store.close().await;
            let (report, id, env) = outcome?;
            audited.context("the key is rotated, but the audit log could not be written")?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"resealed": report.resealed, "already": report.already, "keyId": id})
                );
            } else {
                println!(
                    "re-sealed {} stored secret(s) under the new master key {id}{}; the old key opens nothing now",
                    report.resealed,
                    if report.already > 0 {
                        format!(" ({} were already under it)", report.already)
                    } else {
                        String::new()
                    }
                );
                if env {
                    println!("start every roster on this store with ROSTER_MASTER_KEY set to the new key");
                }
            }
        }
        KeyCmd::Id(s) => {
            let store = crate::serve::open_store(s.database.as_deref(), data_dir).await?;
            let recorded = store.master_key_id().await;
            store.close().await;
            let recorded = recorded?;
            let own = match std::env::var("ROSTER_MASTER_KEY").ok().filter(|k| !k.trim().is_empty()) {
                Some(k) => Some(Cipher::from_key(parse_key(k.trim())?).key_id()),
                None => roster_store::secrets::read_key_file(&data_dir.join(roster_store::secrets::KEY_FILE))?
                    .map(|k| roster_store::secrets::key_id(&k)),
            };
            if json {
                println!("{}", serde_json::json!({"store": recorded, "this": own}));
            } else {
                println!("store: {}", recorded.as_deref().unwrap_or("(none recorded yet)"));
                println!("this roster: {}", own.as_deref().unwrap_or("(no key yet)"));
            }
        }
    }
    Ok(())
}

async fn rotate(store: &roster_store::Store, data_dir: &Path) -> Result<(roster_store::ResealReport, String, bool)> {
    let old_env = std::env::var("ROSTER_MASTER_KEY").ok().filter(|k| !k.trim().is_empty());
    let Some(old_env) = old_env else {
        let (report, id) = store.rotate_key_file(data_dir).await.context("the rotation did not happen")?;
        return Ok((report, id, false));
    };
    let Some(new_env) = std::env::var("ROSTER_NEW_MASTER_KEY").ok().filter(|k| !k.trim().is_empty()) else {
        bail!(
            "the master key comes from ROSTER_MASTER_KEY: give the new one in ROSTER_NEW_MASTER_KEY \
             (`roster key generate` makes one)"
        );
    };
    let old = Cipher::from_key(parse_key(old_env.trim()).context("ROSTER_MASTER_KEY")?);
    let new = Cipher::from_key(parse_key(new_env.trim()).context("ROSTER_NEW_MASTER_KEY")?);
    let report = store.reseal_secrets(&old, &new).await.context("the rotation did not happen")?;
    Ok((report, new.key_id(), true))
}
