//! Secrets at rest: admin credentials of applications are sealed with
//! ChaCha20-Poly1305 under a master key kept in the data directory
//! (`master.key`, mode 0600) or given in `ROSTER_MASTER_KEY` (64 hex digits).
//! [`SecretString`] keeps a secret out of `Debug` output and logs.

use crate::StoreError;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// A secret value (token, password) that never prints itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> SecretString {
        SecretString(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Seals and opens secrets with the master key.
#[derive(Clone)]
pub struct Cipher {
    aead: ChaCha20Poly1305,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(***)")
    }
}

const PREFIX: &str = "v1:";

impl Cipher {
    /// A cipher from 32 key bytes.
    pub fn from_key(key: [u8; 32]) -> Cipher {
        Cipher { aead: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// Loads the master key from `ROSTER_MASTER_KEY` (if `env_key` is set) or from
    /// `<data_dir>/master.key`, creating the file (mode 0600) on first start.
    pub fn load(data_dir: &Path, env_key: Option<&str>) -> Result<Cipher, StoreError> {
        if let Some(hex_key) = env_key {
            return Ok(Cipher::from_key(parse_key(hex_key.trim())?));
        }
        let path = data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Cipher::from_key(parse_key(text.trim())?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::prepare_data_dir(data_dir)?;
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(&path, &hex::encode(key))?;
                Ok(Cipher::from_key(key))
            }
            Err(e) => Err(io("read master.key", e)),
        }
    }

    /// Seals `plain` with a fresh random nonce.
    pub fn seal(&self, plain: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| StoreError::Corrupt { message: "encryption failed".into() })?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(out)))
    }

    /// Opens what [`Cipher::seal`] sealed; a wrong key is an error, not garbage.
    pub fn open(&self, sealed: &str) -> Result<String, StoreError> {
        let bad = || StoreError::Corrupt { message: "a stored secret cannot be decrypted (wrong master key?)".into() };
        let body = sealed.strip_prefix(PREFIX).ok_or_else(bad)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| bad())?;
        if bytes.len() < 12 {
            return Err(bad());
        }
        let (nonce, data) = bytes.split_at(12);
        let plain = self.aead.decrypt(Nonce::from_slice(nonce), data).map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

fn parse_key(hex_key: &str) -> Result<[u8; 32], StoreError> {
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

    #[test]
    fn sealed_secret_opens_and_hides_the_plaintext() {
        let c = Cipher::from_key([7; 32]);
        let sealed = c.seal("s3cret-token").expect("seal");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(c.open(&sealed).expect("open"), "s3cret-token");
        assert!(Cipher::from_key([8; 32]).open(&sealed).is_err());
        assert_eq!(format!("{:?}", SecretString::new("x")), "***");
    }
}
