//! `roster import users FILE.csv`: creates or updates users by userName. The header
//! row names the attributes (API names: userName, displayName, mail, manager,
//! businessPhones separated by ';', extension_<name>...). Rows that fail are
//! reported with their line number and reason; the others are imported.

use crate::client::Client;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};

const BATCH: usize = 2000;

const TEXT_FIELDS: &[&str] = roster_store::USER_TEXT_ATTRIBUTES;

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: Vec<(usize, String)>,
}

fn row_to_json(header: &[String], fields: &[String]) -> Result<(Value, Option<String>), String> {
    if fields.len() != header.len() {
        return Err(format!("has {} fields, the header has {}", fields.len(), header.len()));
    }
    let mut obj = Map::new();
    let mut ext = Map::new();
    let mut manager = None;
    for (name, value) in header.iter().zip(fields) {
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            n if TEXT_FIELDS.contains(&n) => {
                obj.insert(n.to_string(), json!(value));
            }
            "manager" => manager = Some(value.clone()),
            "active" | "accountEnabled" => {
                let b = match value.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(format!("{name} must be true or false, not {value:?}")),
                };
                obj.insert("active".into(), json!(b));
            }
            "businessPhones" => {
                let phones: Vec<&str> = value.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
                obj.insert("businessPhones".into(), json!(phones));
            }
            n => match n.strip_prefix("extension_") {
                Some(key) => {
                    ext.insert(key.to_string(), json!(value));
                }
                None => return Err(format!("unknown column {n:?}")),
            },
        }
    }
    if !ext.is_empty() {
        obj.insert("extensions".into(), Value::Object(ext));
    }
    if !obj.contains_key("userName") {
        return Err("userName is empty".into());
    }
    Ok((Value::Object(obj), manager))
}

/// Imports `path` through the API, with a progress bar unless `quiet`.
pub async fn import_users(client: &Client, path: &std::path::Path, quiet: bool) -> Result<ImportReport> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let records = crate::csv::records(&text).map_err(anyhow::Error::msg)?;
    let Some(((_, header), rows)) = records.split_first() else { bail!("{} is empty", path.display()) };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    if !header.iter().any(|h| h == "userName") {
        bail!("the header row of {} has no userName column", path.display());
    }
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(rows.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} users ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut report = ImportReport::default();
    let mut managers: Vec<(usize, String, String)> = Vec::new();
    let mut batch: Vec<(usize, Value)> = Vec::new();
    // A manager that appears earlier in the file goes with the row itself; one that
    // appears later is set in a second pass.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (line, fields) in rows {
        match row_to_json(&header, fields) {
            Ok((mut v, m)) => {
                let user_name = v["userName"].as_str().unwrap_or_default().to_lowercase();
                if let Some(m) = m {
                    if seen.contains(&m.to_lowercase()) {
                        v["manager"] = json!(m);
                    } else {
                        managers.push((*line, user_name.clone(), m));
                    }
                }
                seen.insert(user_name);
                batch.push((*line, v));
            }
            Err(e) => report.failed.push((*line, e)),
        }
        if batch.len() == BATCH {
            send(client, std::mem::take(&mut batch), &mut report, &bar).await?;
        }
    }
    send(client, batch, &mut report, &bar).await?;
    // Managers go second, so that a manager may appear anywhere in the file.
    for chunk in managers.chunks(BATCH) {
        let rows: Vec<Value> = chunk.iter().map(|(_, u, m)| json!({"userName": u, "manager": m})).collect();
        let answer = client.post("/users/bulk", &json!({"upsert": rows})).await?;
        for r in answer["results"].as_array().into_iter().flatten() {
            if r["status"] == "error" {
                let i = r["index"].as_u64().unwrap_or(0) as usize;
                if let Some((line, user, _)) = chunk.get(i) {
                    let e = r["error"].as_str().unwrap_or("failed");
                    report.failed.push((*line, format!("user {user} was imported without a manager: {e}")));
                }
            }
        }
    }
    bar.finish_and_clear();
    report.failed.sort();
    Ok(report)
}

async fn send(client: &Client, batch: Vec<(usize, Value)>, report: &mut ImportReport, bar: &ProgressBar) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let rows: Vec<&Value> = batch.iter().map(|(_, v)| v).collect();
    let answer = client.post("/users/bulk", &json!({"upsert": rows})).await?;
    for r in answer["results"].as_array().into_iter().flatten() {
        let i = r["index"].as_u64().unwrap_or(0) as usize;
        match r["status"].as_str() {
            Some("created") => report.created += 1,
            Some("updated") => report.updated += 1,
            Some("unchanged") => report.unchanged += 1,
            _ => {
                let line = batch.get(i).map(|(l, _)| *l).unwrap_or(0);
                report.failed.push((line, r["error"].as_str().unwrap_or("failed").to_string()));
            }
        }
    }
    bar.inc(batch.len() as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{row_to_json, TEXT_FIELDS};
    use proptest::prelude::*;

    fn column() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(TEXT_FIELDS.to_vec()).prop_map(str::to_string),
            Just("manager".to_string()),
            Just("active".to_string()),
            Just("businessPhones".to_string()),
            "extension_[a-zA-Z0-9_]{0,8}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any header and row give a user or a reason, never a panic; a user
        /// always has its userName.
        #[test]
        fn any_row_gives_a_user_or_a_reason(
            header in prop::collection::vec(column(), 0..8),
            fields in prop::collection::vec(any::<String>(), 0..8),
        ) {
            if let Ok((user, _)) = row_to_json(&header, &fields) {
                prop_assert!(user.get("userName").and_then(|v| v.as_str()).is_some_and(|u| !u.is_empty()));
            }
        }
    }
}
