//! `roster audit`: the audit log (an admin token's), newest first, as a table,
//! JSON (`--json`) or CSV (`--csv`, through the store's CSV cell writer, which
//! neutralises cells a spreadsheet would read as formulas).

use crate::client::{enc, Client};
use crate::output;
use anyhow::{bail, Context, Result};
use clap::Args;
use roster_store::{audit_csv, parse_duration_ms, AuditEntry};
use serde_json::{json, Value};

#[derive(Args)]
pub struct AuditArgs {
    /// Entries of the last DURATION only (like 1h, 7d).
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    /// Entries older than DURATION ago only.
    #[arg(long, value_name = "DURATION")]
    until: Option<String>,
    /// One principal's entries (token:NAME or admin:NAME).
    #[arg(long)]
    principal: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print CSV.
    #[arg(long)]
    csv: bool,
}

/// Milliseconds since the epoch, `text` ago.
fn ago(flag: &str, text: &str, now: i64) -> Result<i64> {
    let Some(ms) = parse_duration_ms(text) else {
        bail!("--{flag} {text:?} is not a duration like 1h, 30m or 7d");
    };
    Ok(now - ms)
}

pub async fn run(c: &Client, json: bool, a: AuditArgs) -> Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut path = format!("/audit?limit={}", a.limit);
    if let Some(s) = &a.since {
        path.push_str(&format!("&since={}", ago("since", s, now)?));
    }
    if let Some(u) = &a.until {
        path.push_str(&format!("&until={}", ago("until", u, now)?));
    }
    if let Some(p) = &a.principal {
        path.push_str(&format!("&principal={}", enc(p)));
    }
    if json && a.csv {
        bail!("--json and --csv: choose one");
    }
    let page = c.get(&path).await?;
    if json {
        output::object(true, &page);
        return Ok(());
    }
    if a.csv {
        let items: Vec<AuditEntry> =
            serde_json::from_value(page["items"].clone()).context("the server's audit entries are unreadable")?;
        print!("{}", audit_csv(&items));
        return Ok(());
    }
    let rows: Vec<Value> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            json!({
                "at": e["at"].as_i64().map(output::time),
                "principal": e["principal"],
                "role": e["role"],
                "source": e["source"],
                "action": e["action"],
                "target": e["target"],
                "outcome": e["outcome"],
            })
        })
        .collect();
    output::table(
        false,
        &page,
        &rows,
        &[
            ("at", "WHEN"),
            ("principal", "WHO"),
            ("role", "ROLE"),
            ("source", "FROM"),
            ("action", "ACTION"),
            ("target", "TARGET"),
            ("outcome", "OUTCOME"),
        ],
    );
    let total = page["total"].as_i64().unwrap_or(0);
    if total > rows.len() as i64 {
        eprintln!("{} of {total} entries; --limit shows more", rows.len());
    }
    Ok(())
}
