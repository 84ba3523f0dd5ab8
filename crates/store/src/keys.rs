//! The master key's place in the store: which key the secrets are sealed under
//! (the `master_key` row), and rotation: every stored secret re-sealed under a new
//! key in one transaction, so that a crash leaves either all of them under the old
//! key or all under the new one, never a mix.
//!
//! With the key in the data directory, a rotation writes the new key to
//! `master.key.next` first, re-seals and records the new key id in one
//! transaction, then renames the file over `master.key`. A crash between two
//! steps is settled at the next start ([`Store::settle_key_files`]): the row says
//! which key the secrets are under, and the files are made to agree with it.

use crate::secrets::{self, key_id, read_key_file, sealed_form, Cipher, SealedForm, Slot, KEY_FILE, NEXT_KEY_FILE};
use crate::{now_ms, Store, StoreError};
use serde::Serialize;
use sqlx::Row;
use std::path::Path;

/// What a re-sealing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResealReport {
    /// Secrets opened with the old key and sealed under the new one.
    pub resealed: usize,
    /// Secrets already under the new key (a rotation run again after a crash).
    pub already: usize,
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn recorded_in(tx: &mut Tx) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT key_id FROM master_key WHERE id = 1").fetch_optional(&mut **tx).await?)
}

async fn record_in(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO master_key (id, key_id, updated_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET key_id = $1, updated_at = $2",
    )
    .bind(id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Re-seals every stored secret that `old` opens under `new`, bound to its place.
async fn reseal_in(tx: &mut Tx, old: &Cipher, new: &Cipher) -> Result<ResealReport, StoreError> {
    let rows = sqlx::query("SELECT app_id, credentials FROM jobs WHERE credentials IS NOT NULL ORDER BY app_id")
        .fetch_all(&mut **tx)
        .await?;
    let new_id = new.key_id();
    let mut report = ResealReport::default();
    for row in rows {
        let app: String = row.try_get("app_id")?;
        let sealed: String = row.try_get("credentials")?;
        let slot = Slot::credentials(&app);
        if sealed_form(&sealed) == Some(SealedForm::Keyed(&new_id)) {
            report.already += 1;
            continue;
        }
        let plain = old.open(&sealed, slot)?;
        sqlx::query("UPDATE jobs SET credentials = $1 WHERE app_id = $2")
            .bind(new.seal(&plain, slot)?)
            .bind(&app)
            .execute(&mut **tx)
            .await?;
        report.resealed += 1;
    }
    Ok(report)
}

fn mismatch(recorded: &str, given: &str) -> StoreError {
    StoreError::invalid(format!(
        "this store's secrets are sealed under master key {recorded}, and roster was given key {given}: \
         give it the store's key (ROSTER_MASTER_KEY, or the data directory's master.key)"
    ))
}

impl Store {
    /// The id of the key the store's secrets are sealed under, once recorded.
    pub async fn master_key_id(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT key_id FROM master_key WHERE id = 1").fetch_optional(self.pool()).await?)
    }

    /// Takes `cipher`'s key as the store's at start: records it when no key is
    /// recorded yet (a new store, or one from before key ids, whose values are
    /// re-sealed bound to their place), re-seals any value still in the old form,
    /// and refuses a key other than the recorded one.
    pub async fn adopt_master_key(&self, cipher: &Cipher) -> Result<ResealReport, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let id = cipher.key_id();
        if let Some(recorded) = recorded_in(&mut tx).await? {
            if recorded != id {
                return Err(mismatch(&recorded, &id));
            }
        }
        let report = reseal_in(&mut tx, cipher, cipher).await?;
        record_in(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Re-seals every stored secret from `old` to `new` and records `new` as the
    /// store's key, in one transaction: if any secret does not open, nothing
    /// changes. Run again after a crash, it finishes what is left.
    pub async fn reseal_secrets(&self, old: &Cipher, new: &Cipher) -> Result<ResealReport, StoreError> {
        let mut tx = self.begin_write().await?;
        let (old_id, new_id) = (old.key_id(), new.key_id());
        if old_id == new_id {
            return Err(StoreError::invalid("the new master key is the old one"));
        }
        match recorded_in(&mut tx).await? {
            Some(recorded) if recorded != old_id && recorded != new_id => return Err(mismatch(&recorded, &old_id)),
            _ => {}
        }
        let report = reseal_in(&mut tx, old, new).await?;
        record_in(&mut tx, &new_id).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Makes the data directory's key files agree with the key the store records,
    /// after a rotation a crash cut short: a `master.key.next` whose key the store
    /// records becomes `master.key`; any other is removed (the rotation did not commit).
    pub async fn settle_key_files(&self, data_dir: &Path) -> Result<(), StoreError> {
        let next = data_dir.join(NEXT_KEY_FILE);
        let Some(next_key) = read_key_file(&next)? else { return Ok(()) };
        if self.master_key_id().await?.as_deref() == Some(key_id(&next_key).as_str()) {
            replace_file(&next, &data_dir.join(KEY_FILE))?;
            tracing::info!("finished a master-key rotation a stop cut short");
        } else {
            std::fs::remove_file(&next)
                .map_err(|source| StoreError::Io { what: format!("remove {}", next.display()), source })?;
            tracing::info!("undid a master-key rotation that had not committed");
        }
        Ok(())
    }

    /// Rotates the master key kept in `data_dir`: a new random key, every secret
    /// re-sealed under it in one transaction, then the key file replaced. The old
    /// key opens nothing afterwards. A running roster on the same directory picks
    /// the new file up when it first meets a value sealed under it.
    pub async fn rotate_key_file(&self, data_dir: &Path) -> Result<(ResealReport, String), StoreError> {
        self.settle_key_files(data_dir).await?;
        let Some(old_key) = read_key_file(&data_dir.join(KEY_FILE))? else {
            return Err(StoreError::invalid(format!("there is no master key in {}", data_dir.display())));
        };
        let old = Cipher::from_key(old_key);
        let new_key = Cipher::random_key();
        let next = data_dir.join(NEXT_KEY_FILE);
        secrets::write_private(&next, &hex::encode(new_key))?;
        sync_dir(data_dir)?;
        let new = Cipher::from_key(new_key);
        match self.reseal_secrets(&old, &new).await {
            Ok(report) => {
                replace_file(&next, &data_dir.join(KEY_FILE))?;
                Ok((report, new.key_id()))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&next);
                Err(e)
            }
        }
    }
}

/// Renames `from` over `to` and makes the rename durable.
fn replace_file(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::rename(from, to)
        .map_err(|source| StoreError::Io { what: format!("rename {} to {}", from.display(), to.display()), source })?;
    match to.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io { what: format!("sync {}", dir.display()), source })
}
