//! `roster app handoff APP`: the hand-off of an app in manual mode — the
//! accounts to create, update, disable and enable by hand — as a table, JSON
//! or a CSV file; `--confirm ID` records that an admin applied it.

use crate::client::{enc, Client};
use crate::output;
use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args)]
pub struct HandoffArgs {
    app: String,
    /// Write the hand-off as CSV to this file (one row per account, one column per attribute).
    #[arg(long, conflicts_with = "confirm")]
    csv: Option<PathBuf>,
    /// Record that hand-off ID was applied in the app: the accounts it lists count as provisioned.
    #[arg(long, value_name = "ID")]
    confirm: Option<i64>,
}

pub async fn run(c: &Client, json: bool, a: HandoffArgs) -> Result<()> {
    let path = format!("/apps/{}/provisioning/handoff", enc(&a.app));
    if let Some(id) = a.confirm {
        let r = c.post(&format!("{path}/confirm"), &json!({"id": id})).await?;
        if json {
            output::object(true, &r);
        } else {
            println!("confirmed hand-off {id}: {} account(s) now count as provisioned", r["items"]);
        }
        return Ok(());
    }
    if let Some(file) = &a.csv {
        let csv = c.get_text(&format!("{path}?format=csv")).await?;
        std::fs::write(file, &csv).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
        // A cell may hold a line break: count records, not lines.
        let records = crate::csv::records(&csv).map_err(|e| anyhow::anyhow!("the hand-off CSV is unreadable: {e}"))?;
        let accounts = records.get(1..).unwrap_or_default();
        println!("wrote {} account(s) to {}", accounts.len(), file.display());
        if let Some(id) = accounts.first().and_then(|(_, fields)| fields.first()) {
            println!("once applied: roster app handoff {} --confirm {id}", a.app);
        }
        return Ok(());
    }
    let h = c.get(&path).await?;
    if json {
        output::object(true, &h);
        return Ok(());
    }
    let Some(id) = h["id"].as_i64().filter(|_| h["items"].as_array().is_some_and(|i| !i.is_empty())) else {
        println!("nothing to hand off: the app is in step with the directory (as far as confirmed hand-offs go)");
        return Ok(());
    };
    let rows: Vec<Value> = h["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            json!({
                "action": i["action"],
                "user": i["sourceName"].as_str().unwrap_or(i["sourceId"].as_str().unwrap_or_default()),
                "changed": i["changed"].as_array().map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
            })
        })
        .collect();
    output::table(false, &h, &rows, &[("action", "ACTION"), ("user", "USER"), ("changed", "ATTRIBUTES")]);
    println!(
        "hand-off {id}: apply it in the app (--csv FILE for every attribute), then: roster app handoff {} --confirm {id}",
        a.app
    );
    Ok(())
}
