//! `roster source ...`: inbound sources (HR systems): create one from a
//! template, see it (held batches, scheduled starts and ends), change its
//! settings, push a file, and approve or reject a held batch. Its provisioning
//! log is read with `roster app logs SOURCE`.

use crate::client::{enc, Client};
use crate::output;
use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SourceCmd {
    /// List the sources.
    List,
    /// Create a source from a template: hr-scim (SCIM BulkRequest pushes) or hr-csv (CSV files).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        template: String,
    },
    /// A source: its rules, held batches, latest batches and scheduled actions.
    Show { source: String },
    /// Change a source's settings: a whole settings document (JSON), or single rules.
    Configure {
        source: String,
        /// The settings document (as `roster source show SOURCE --json` prints under "settings").
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// How many days before the start date a hire is created (disabled until then).
        #[arg(long)]
        prehire_days: Option<u32>,
        /// A batch that would disable more users than this is held for approval (0: never held).
        #[arg(long)]
        disable_threshold: Option<u32>,
    },
    /// Push a file: a CSV file (hr-csv) or a SCIM BulkRequest in JSON (hr-scim).
    Push { source: String, file: PathBuf },
    /// The batches a source received, newest first.
    Batches { source: String },
    /// Approve a held batch: it is applied past the disable threshold.
    Approve { source: String, batch: String },
    /// Reject a held batch: nothing of it is applied.
    Reject { source: String, batch: String },
    /// Delete a source (the users it made stay in the directory).
    Delete { source: String },
}

fn batch_line(b: &Value) -> String {
    let counts: Vec<String> = b["summary"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| v.is_i64() && !matches!(k.as_str(), "records" | "threshold" | "disables"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let mut line = format!("batch {}: {}, {} record(s)", cell(&b["id"]), cell(&b["status"]), b["records"]);
    if !counts.is_empty() {
        line.push_str(&format!(" ({})", counts.join(", ")));
    }
    if let Some(reason) = b["summary"]["reason"].as_str() {
        line.push_str(&format!("\n  {reason}"));
    }
    line
}

fn cell(v: &Value) -> String {
    output::cell(v)
}

pub async fn run(c: &Client, json: bool, cmd: SourceCmd) -> Result<()> {
    match cmd {
        SourceCmd::List => {
            let list = c.get("/sources").await?;
            let rows: Vec<Value> = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    json!({
                        "name": s["name"], "template": s["template"],
                        "held": s["held"].as_array().map_or(0, Vec::len),
                        "scheduled": s["scheduled"].as_array().map_or(0, Vec::len),
                        "last": s["batches"][0]["status"],
                    })
                })
                .collect();
            let columns = [
                ("name", "NAME"),
                ("template", "TEMPLATE"),
                ("last", "LAST BATCH"),
                ("held", "HELD"),
                ("scheduled", "SCHEDULED"),
            ];
            output::table(json, &list, &rows, &columns);
        }
        SourceCmd::Create { name, template } => {
            let s = c.post("/sources", &json!({"name": name, "template": template})).await?;
            if json {
                output::object(true, &s);
            } else {
                println!("created source {} ({})", cell(&s["name"]), cell(&s["template"]));
                println!("push people: roster source push {} FILE (or, from the HR system, with a token of roster token create --name NAME --scope scim)", cell(&s["name"]));
            }
        }
        SourceCmd::Show { source } => show(c, json, &source).await?,
        SourceCmd::Configure { source, settings, prehire_days, disable_threshold } => {
            let path = format!("/sources/{}", enc(&source));
            let mut doc = match settings {
                Some(file) => {
                    let text =
                        std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                    serde_json::from_str(&text).map_err(|e| anyhow!("{} is not JSON: {e}", file.display()))?
                }
                None => c.get(&path).await?["settings"].clone(),
            };
            if let Some(d) = prehire_days {
                doc["prehireDays"] = json!(d);
            }
            if let Some(t) = disable_threshold {
                doc["disableThreshold"] = json!(t);
            }
            let s = c.put(&format!("{path}/settings"), &doc).await?;
            if json {
                output::object(true, &s);
            } else {
                println!("saved the settings of {}", cell(&s["name"]));
            }
        }
        SourceCmd::Push { source, file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let is_json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            let (route, content_type) =
                if is_json { ("bulkUpload", "application/scim+json") } else { ("csv", "text/csv") };
            let path = format!("/sources/{}/{route}", enc(&source));
            let limit = std::time::Duration::from_secs(3600);
            let b = c.post_file(&path, content_type, bytes, limit).await?;
            if json {
                output::object(true, &b);
            } else {
                println!("{}", batch_line(&b));
                if b["status"] == "held" {
                    println!("  roster source approve {source} {}   (or reject)", cell(&b["id"]));
                }
            }
        }
        SourceCmd::Batches { source } => {
            let list = c.get(&format!("/sources/{}/batches", enc(&source))).await?;
            let rows: Vec<Value> = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    json!({"id": b["id"], "origin": b["origin"], "status": b["status"], "records": b["records"],
                    "received": output::time(b["receivedAt"].as_i64().unwrap_or(0))})
                })
                .collect();
            let columns = [
                ("id", "BATCH"),
                ("received", "RECEIVED"),
                ("origin", "ORIGIN"),
                ("status", "STATUS"),
                ("records", "RECORDS"),
            ];
            output::table(json, &list, &rows, &columns);
        }
        SourceCmd::Approve { source, batch } => decide(c, json, &source, &batch, "approve").await?,
        SourceCmd::Reject { source, batch } => decide(c, json, &source, &batch, "reject").await?,
        SourceCmd::Delete { source } => {
            c.delete(&format!("/sources/{}", enc(&source))).await?;
            if !json {
                println!("deleted source {source}");
            }
        }
    }
    Ok(())
}

async fn decide(c: &Client, json: bool, source: &str, batch: &str, verb: &str) -> Result<()> {
    let path = format!("/sources/{}/batches/{}/{verb}", enc(source), enc(batch));
    let b = c.post_long(&path, &json!({}), std::time::Duration::from_secs(3600)).await?;
    if json {
        output::object(true, &b);
    } else {
        println!("{}", batch_line(&b));
    }
    Ok(())
}

async fn show(c: &Client, json: bool, source: &str) -> Result<()> {
    let s = c.get(&format!("/sources/{}", enc(source))).await?;
    if json {
        output::object(true, &s);
        return Ok(());
    }
    let set = &s["settings"];
    println!("source     {} ({})", cell(&s["name"]), cell(&s["template"]));
    println!("dates      start {}, end {}", cell(&set["startDateAttribute"]), cell(&set["endDateAttribute"]));
    println!("prehire    {} day(s) before the start date", set["prehireDays"]);
    let threshold = set["disableThreshold"].as_i64().unwrap_or(0);
    if threshold > 0 {
        println!("guard      a batch disabling more than {threshold} users is held for approval");
    } else {
        println!("guard      off");
    }
    for b in s["held"].as_array().into_iter().flatten() {
        println!("HELD       {}", batch_line(b));
        println!("           roster source approve {source} {}   (or reject)", cell(&b["id"]));
    }
    for b in s["batches"].as_array().into_iter().flatten().take(5) {
        println!("batch      {} {}", output::time(b["receivedAt"].as_i64().unwrap_or(0)), batch_line(b));
    }
    for a in s["scheduled"].as_array().into_iter().flatten() {
        println!(
            "scheduled  {} {} on {}",
            cell(&a["action"]),
            cell(&a["subject"]),
            output::time(a["dueAt"].as_i64().unwrap_or(0))
        );
    }
    println!("logs       roster app logs {}", cell(&s["name"]));
    Ok(())
}
