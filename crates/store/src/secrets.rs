//! Secrets at rest: admin credentials of applications are sealed with
//! ChaCha20-Poly1305 under a master key kept in the data directory
//! (`master.key`, mode 0600) or given in `ROSTER_MASTER_KEY` (64 hex digits).
//!
//! A sealed value names the key that sealed it (a key id, a one-way hash of the
//! key) and is bound to its place: the app and the field it belongs to are the
//! AEAD's associated data, so a value copied to another app or field does not
//! open. The store records which key its secrets are sealed under (the
//! `master_key` row), so that a wrong key is refused at start and a rotation
//! ([`crate::Store::reseal_secrets`]) is one transaction. Secrets in memory are
//! [`SecretString`]s (the `secrecy` crate): they never print themselves.

use crate::StoreError;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
pub use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Where a sealed value lives: the app it belongs to and the field of that app.
/// Both are bound into the seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    pub app: &'a str,
    pub field: &'a str,
}

impl<'a> Slot<'a> {
    /// The sealed admin credentials of app `app`.
    pub fn credentials(app: &'a str) -> Slot<'a> {
        Slot { app, field: "credentials" }
    }

    fn associated_data(&self) -> Vec<u8> {
        format!("roster\0{}\0{}", self.app, self.field).into_bytes()
    }
}

/// Serializes an optional secret as its plain value: only for the document
/// that is sealed right after (`#[serde(serialize_with = ...)]`).
pub fn serialize_exposed<S: serde::Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_some(v.expose_secret()),
        None => s.serialize_none(),
    }
}

/// One master key: the AEAD and the key's id.
struct Keyed {
    aead: ChaCha20Poly1305,
    id: String,
}

impl Keyed {
    fn new(key: &[u8; 32]) -> Keyed {
        Keyed { aead: ChaCha20Poly1305::new(Key::from_slice(key)), id: key_id(key) }
    }
}

/// The id of a key: the first 16 hex digits of a SHA-256 over it (one way: the
/// id tells which key sealed a value, not the key).
pub fn key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"roster master key id\0");
    h.update(key);
    hex::encode(&h.finalize()[..8])
}

/// Seals and opens secrets with the master key. Loaded from a key file, it
/// re-reads the file when it meets a value sealed under another key (a
/// `roster key rotate` while serving), and keeps the newer key.
#[derive(Clone)]
pub struct Cipher {
    current: Arc<RwLock<Arc<Keyed>>>,
    file: Option<PathBuf>,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cipher(key id {})", self.key_id())
    }
}

/// Sealed values made before keys had ids and values were bound to their place.
const LEGACY_PREFIX: &str = "v1:";
const PREFIX: &str = "v2:";
/// The key file in the data directory, and the next key during a rotation.
pub const KEY_FILE: &str = "master.key";
pub const NEXT_KEY_FILE: &str = "master.key.next";

/// How a sealed value was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedForm<'a> {
    /// Before key ids: no id, not bound to its place.
    Legacy,
    /// Under the key with this id, bound to its slot.
    Keyed(&'a str),
}

/// Tells how `sealed` was made (without opening it); `None` if it is no sealed value.
pub fn sealed_form(sealed: &str) -> Option<SealedForm<'_>> {
    if sealed.starts_with(LEGACY_PREFIX) {
        return Some(SealedForm::Legacy);
    }
    let (id, _) = sealed.strip_prefix(PREFIX)?.split_once(':')?;
    Some(SealedForm::Keyed(id))
}

impl Cipher {
    /// A cipher from 32 key bytes.
    pub fn from_key(key: [u8; 32]) -> Cipher {
        Cipher { current: Arc::new(RwLock::new(Arc::new(Keyed::new(&key)))), file: None }
    }

    /// A fresh random key (for a rotation, or `roster key generate`).
    pub fn random_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    }

    /// Loads the master key from `ROSTER_MASTER_KEY` (if `env_key` is set) or from
    /// `<data_dir>/master.key`, creating the file (mode 0600) on first start.
    pub fn load(data_dir: &Path, env_key: Option<&str>) -> Result<Cipher, StoreError> {
        if let Some(hex_key) = env_key {
            return Ok(Cipher::from_key(parse_key(hex_key.trim())?));
        }
        let path = data_dir.join(KEY_FILE);
        let key = match read_key_file(&path)? {
            Some(key) => key,
            None => {
                crate::prepare_data_dir(data_dir)?;
                let key = Cipher::random_key();
                write_private(&path, &hex::encode(key))?;
                key
            }
        };
        let mut cipher = Cipher::from_key(key);
        cipher.file = Some(path);
        Ok(cipher)
    }

    /// The id of the key in use.
    pub fn key_id(&self) -> String {
        self.keyed().id.clone()
    }

    fn keyed(&self) -> Arc<Keyed> {
        match self.current.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Seals `plain` for `slot` with a fresh random nonce.
    pub fn seal(&self, plain: &str, slot: Slot<'_>) -> Result<String, StoreError> {
        let keyed = self.keyed();
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = slot.associated_data();
        let sealed = keyed
            .aead
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: &aad })
            .map_err(|_| StoreError::Corrupt { message: "encryption failed".into() })?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{PREFIX}{}:{}", keyed.id, base64::engine::general_purpose::STANDARD.encode(out)))
    }

    /// Opens what [`Cipher::seal`] sealed for `slot`; a wrong key or another slot
    /// is an error, not garbage. A value sealed under another key makes a cipher
    /// loaded from a key file re-read it once (a rotation while serving).
    pub fn open(&self, sealed: &str, slot: Slot<'_>) -> Result<String, StoreError> {
        if let Some(SealedForm::Keyed(id)) = sealed_form(sealed) {
            if id != self.keyed().id {
                self.reload();
            }
        }
        open_with(&self.keyed(), sealed, slot)
    }

    /// Re-reads the key file, if this cipher came from one and it now holds another key.
    fn reload(&self) {
        let Some(path) = &self.file else { return };
        if let Ok(Some(key)) = read_key_file(path) {
            let keyed = Keyed::new(&key);
            if keyed.id != self.keyed().id {
                tracing::info!(key_id = %keyed.id, "the master key file changed (a rotation): using the new key");
                match self.current.write() {
                    Ok(mut k) => *k = Arc::new(keyed),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(keyed),
                }
            }
        }
    }
}

fn open_with(keyed: &Keyed, sealed: &str, slot: Slot<'_>) -> Result<String, StoreError> {
    let corrupt = |m: String| StoreError::Corrupt { message: m };
    let bad = || corrupt(format!("a stored secret of {} cannot be decrypted (wrong master key?)", slot.app));
    let (body, aad) = match sealed_form(sealed) {
        Some(SealedForm::Legacy) => (&sealed[LEGACY_PREFIX.len()..], Vec::new()),
        Some(SealedForm::Keyed(id)) => {
            if id != keyed.id {
                return Err(corrupt(format!(
                    "a stored secret of {} is sealed under master key {id}, and this roster has key {}: \
                     give it the key the store uses (ROSTER_MASTER_KEY or master.key)",
                    slot.app, keyed.id
                )));
            }
            (&sealed[PREFIX.len() + id.len() + 1..], slot.associated_data())
        }
        None => return Err(bad()),
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| bad())?;
    if bytes.len() < 12 {
        return Err(bad());
    }
    let (nonce, data) = bytes.split_at(12);
    let plain = keyed.aead.decrypt(Nonce::from_slice(nonce), Payload { msg: data, aad: &aad }).map_err(|_| bad())?;
    String::from_utf8(plain).map_err(|_| bad())
}

/// Reads a key file; `None` if there is none.
pub fn read_key_file(path: &Path) -> Result<Option<[u8; 32]>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(text.trim()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&format!("read {}", path.display()), e)),
    }
}

/// Parses a master key written as 64 hex digits.
pub fn parse_key(hex_key: &str) -> Result<[u8; 32], StoreError> {
    let bytes = hex::decode(hex_key).map_err(|_| StoreError::invalid("the master key must be 64 hex digits"))?;
    bytes.try_into().map_err(|_| StoreError::invalid("the master key must be 64 hex digits (32 bytes)"))
}

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io { what: what.to_string(), source: e }
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, contents: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io(&format!("write {}", path.display()), e))?;
    file.write_all(contents.as_bytes()).map_err(|e| io(&format!("write {}", path.display()), e))?;
    file.sync_all().map_err(|e| io(&format!("write {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io(&format!("set permissions of {}", path.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Slot<'static> = Slot { app: "app-a", field: "credentials" };

    #[test]
    fn sealed_secret_opens_only_with_its_key_and_in_its_slot() {
        let c = Cipher::from_key([7; 32]);
        let sealed = c.seal("s3cret-token", A).expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(sealed_form(&sealed), Some(SealedForm::Keyed(&key_id(&[7; 32]))));
        assert_eq!(c.open(&sealed, A).expect("open"), "s3cret-token");
        let other_key = Cipher::from_key([8; 32]).open(&sealed, A).expect_err("another key");
        assert!(other_key.to_string().contains(&key_id(&[7; 32])), "{other_key}");
        // Copied to another app or another field, it does not open.
        assert!(c.open(&sealed, Slot::credentials("app-b")).is_err());
        assert!(c.open(&sealed, Slot { app: "app-a", field: "other" }).is_err());
        // Tampered with, it does not open.
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(c.open(&String::from_utf8(tampered).expect("ascii"), A).is_err());
        assert!(c.open("not sealed", A).is_err());
        assert!(format!("{:?}", SecretString::from("x")).contains("REDACTED"));
    }

    #[test]
    fn a_legacy_value_still_opens() {
        // The form before key ids: "v1:" + base64(nonce || ciphertext), no associated data.
        let aead = ChaCha20Poly1305::new(Key::from_slice(&[7; 32]));
        let nonce = [1u8; 12];
        let mut bytes = nonce.to_vec();
        bytes.extend(aead.encrypt(Nonce::from_slice(&nonce), b"old".as_slice()).expect("encrypt"));
        let legacy = format!("v1:{}", base64::engine::general_purpose::STANDARD.encode(bytes));
        assert_eq!(sealed_form(&legacy), Some(SealedForm::Legacy));
        assert_eq!(Cipher::from_key([7; 32]).open(&legacy, A).expect("open"), "old");
        assert!(Cipher::from_key([8; 32]).open(&legacy, A).is_err());
    }

    #[test]
    fn a_cipher_from_a_key_file_follows_a_rotated_file() {
        let dir = std::env::temp_dir().join(format!("roster-key-{}", uuid::Uuid::new_v4()));
        let c = Cipher::load(&dir, None).expect("load");
        let old_id = c.key_id();
        let new_key = [5u8; 32];
        let sealed = Cipher::from_key(new_key).seal("rotated", A).expect("seal");
        write_private(&dir.join(KEY_FILE), &hex::encode(new_key)).expect("write");
        assert_eq!(c.open(&sealed, A).expect("opens after reload"), "rotated");
        assert_ne!(c.key_id(), old_id);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
