//! Vendor credentials on the command line: the flags `roster app configure`
//! takes besides the SCIM ones (a Salesforce admin login or connected app,
//! roster's Dropbox app and its URLs), read from files where they are
//! secrets, and `roster app authorize`, which prints the URL a Dropbox team
//! admin opens.

use crate::client::{enc, Client};
use crate::output;
use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The vendor flags of `roster app configure`. `--secret-token-file` is the
/// SCIM bearer token, or for a Salesforce app the admin's security token.
#[derive(Args, Default)]
pub struct VendorArgs {
    /// Salesforce: the admin's username (System Administrator profile).
    #[arg(long)]
    admin_username: Option<String>,
    /// Salesforce: a file holding the admin's password.
    #[arg(long)]
    admin_password_file: Option<PathBuf>,
    /// Salesforce: a connected app's consumer key; Dropbox: the app key of roster's Dropbox app.
    #[arg(long)]
    client_id: Option<String>,
    /// A file holding the consumer secret (Salesforce) or the app secret (Dropbox).
    #[arg(long)]
    client_secret_file: Option<PathBuf>,
    /// Dropbox: the API host (default https://api.dropboxapi.com).
    #[arg(long)]
    api_url: Option<String>,
    /// Dropbox: the consent page (default https://www.dropbox.com/oauth2/authorize).
    #[arg(long)]
    authorize_url: Option<String>,
    /// Dropbox: the token endpoint (default https://api.dropboxapi.com/oauth2/token).
    #[arg(long)]
    token_url: Option<String>,
    /// Salesforce: seconds to hold work when the org's daily API limit is used up (default 3600).
    #[arg(long)]
    api_limit_hold_secs: Option<u64>,
}

/// The contents of a secret file, trimmed.
pub fn read_secret(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?.trim().to_string())
}

/// Adds the vendor fields that were given to a settings change.
pub fn add_to(body: &mut Map<String, Value>, a: VendorArgs) -> Result<()> {
    let password = a.admin_password_file.as_deref().map(read_secret).transpose()?;
    let secret = a.client_secret_file.as_deref().map(read_secret).transpose()?;
    let fields = [
        ("adminUsername", a.admin_username.map(Value::from)),
        ("adminPassword", password.map(Value::from)),
        ("clientId", a.client_id.map(Value::from)),
        ("clientSecret", secret.map(Value::from)),
        ("apiUrl", a.api_url.map(Value::from)),
        ("authorizeUrl", a.authorize_url.map(Value::from)),
        ("tokenUrl", a.token_url.map(Value::from)),
        ("apiLimitHoldSecs", a.api_limit_hold_secs.map(Value::from)),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            body.insert(k.into(), v);
        }
    }
    Ok(())
}

/// `roster app authorize APP`: prints the URL for a team admin to open.
pub async fn authorize(c: &Client, json: bool, app: &str) -> Result<()> {
    let r = c.post(&format!("/apps/{}/provisioning/authorize", enc(app)), &json!({})).await?;
    if json {
        output::object(true, &r);
    } else {
        println!("Open this URL as a team admin of the app and choose Allow (it works once, for 15 minutes):");
        println!("{}", r["url"].as_str().unwrap_or_default());
        println!("The app sends the browser back to {}.", r["redirectUri"].as_str().unwrap_or_default());
        println!("Then: roster app test-connection {app}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_files_and_only_given_fields_are_sent() {
        let dir = std::env::temp_dir().join(format!("roster-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("secret");
        std::fs::write(&file, "s3cret\n").expect("write");
        let mut body = Map::new();
        let args =
            VendorArgs { client_id: Some("key".into()), client_secret_file: Some(file), ..VendorArgs::default() };
        add_to(&mut body, args).expect("fields");
        assert_eq!(Value::Object(body), json!({"clientId": "key", "clientSecret": "s3cret"}));
        let missing = VendorArgs { admin_password_file: Some(dir.join("nope")), ..VendorArgs::default() };
        assert!(add_to(&mut Map::new(), missing).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
