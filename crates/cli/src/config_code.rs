//! `roster export` and `roster apply -f FILE`: the apps as a YAML document
//! (configuration as code). The document names no secret: a secret is given as
//! a file beside it (`secretTokenFile: token.txt`), read here and sent, and set
//! only where the app has none yet.

use crate::client::Client;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The secret settings a document may give as a file.
const SECRETS: &[&str] = &["secretToken", "adminPassword", "clientSecret"];

#[derive(Args)]
pub struct ExportArgs {
    /// Only these apps (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    apps: Vec<String>,
}

#[derive(Args)]
pub struct ApplyArgs {
    /// The document (YAML or JSON).
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Say what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn export(c: &Client, json: bool, a: ExportArgs) -> Result<()> {
    let mut path = "/config".to_string();
    if !a.apps.is_empty() {
        path.push_str(&format!("?apps={}", crate::client::enc(&a.apps.join(","))));
    }
    let doc = c.get(&path).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        // Read as the document's type, so that each app's fields come in its order.
        let doc: roster_engine::config::ConfigDocument = crate::client::read(doc)?;
        print!("{}", serde_norway::to_string(&doc).context("the document as YAML")?);
    }
    Ok(())
}

/// Replaces each `<secret>File` setting by the secret its file holds (a path
/// relative to the document's folder).
fn read_secret_files(doc: &mut Value, folder: &Path) -> Result<()> {
    for app in doc["apps"].as_array_mut().into_iter().flatten() {
        let Some(settings) = app.get_mut("settings").and_then(Value::as_object_mut) else { continue };
        for secret in SECRETS {
            if settings.contains_key(*secret) {
                bail!("a document names no secret: give {secret}File (a file holding it) instead of {secret}");
            }
            let Some(file) = settings.remove(&format!("{secret}File")) else { continue };
            let file = file.as_str().ok_or_else(|| anyhow!("{secret}File is a file name"))?;
            let path = folder.join(file);
            let value = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            settings.insert(secret.to_string(), Value::String(value.trim().to_string()));
        }
    }
    Ok(())
}

pub async fn apply(c: &Client, json: bool, a: ApplyArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let mut doc: Value =
        serde_norway::from_str(&text).map_err(|e| anyhow!("{} is not a YAML document: {e}", a.file.display()))?;
    read_secret_files(&mut doc, a.file.parent().unwrap_or(Path::new(".")))?;
    let path = if a.dry_run { "/config/apply?dryRun=true" } else { "/config/apply" };
    let report = c.post_long(path, &doc, std::time::Duration::from_secs(600)).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let changes: Vec<&str> = report["changes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if changes.is_empty() {
        println!("nothing to change: the apps are as the document says");
        return Ok(());
    }
    let verb = if a.dry_run { "would change" } else { "changed" };
    println!("{} {verb}:", changes.len());
    for line in changes {
        println!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_comes_from_its_file_and_never_from_the_document() {
        let dir = std::env::temp_dir().join(format!("roster-config-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("token.txt"), "s3cret\n").expect("write");
        let yaml = "apps:\n- name: Wiki\n  template: scim\n  settings:\n    tenantUrl: https://wiki.example.com/scim\n    secretTokenFile: token.txt\n";
        let mut doc: Value = serde_norway::from_str(yaml).expect("YAML");
        read_secret_files(&mut doc, &dir).expect("read");
        assert_eq!(doc["apps"][0]["settings"]["secretToken"], "s3cret");
        assert!(doc["apps"][0]["settings"].get("secretTokenFile").is_none());
        let mut given: Value =
            serde_norway::from_str("apps:\n- name: W\n  template: scim\n  settings:\n    secretToken: x\n")
                .expect("YAML");
        let e = read_secret_files(&mut given, &dir).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("secretTokenFile"), "{e}");
        let mut missing: Value = serde_norway::from_str(
            "apps:\n- name: W\n  template: scim\n  settings:\n    adminPasswordFile: nope.txt\n",
        )
        .expect("YAML");
        assert!(read_secret_files(&mut missing, &dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
