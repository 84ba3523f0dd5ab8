//! `roster app drift`: compare the app with what roster sent, and with
//! `--repair` put it back to what the directory says.

use crate::client::{enc, read, Client};
use anyhow::{bail, Result};
use clap::Args;
use roster_engine::drift::{describe, DriftReport};
use serde_json::json;

#[derive(Args)]
pub struct DriftArgs {
    app: String,
    /// Put the app back to what the directory says (an unknown account is never deleted).
    #[arg(long)]
    repair: bool,
    /// Adopt the unknown accounts that match a user in scope.
    #[arg(long)]
    adopt: bool,
    /// Show the last report instead of checking now.
    #[arg(long, conflicts_with_all = ["repair", "adopt"])]
    last: bool,
}

pub async fn run(c: &Client, json: bool, a: DriftArgs) -> Result<()> {
    let path = format!("/apps/{}/provisioning/drift", enc(&a.app));
    let answer = if a.last {
        c.get(&path).await?
    } else {
        let limit = std::time::Duration::from_secs(3600);
        c.post_long(&path, &json!({"repair": a.repair, "adopt": a.adopt}), limit).await?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let Some(report) = read::<Option<DriftReport>>(answer)? else {
        println!("no drift check has run for {} yet: `roster app drift {}` runs one", a.app, a.app);
        return Ok(());
    };
    print(&a.app, &report);
    if report.failed > 0 {
        bail!("{} repair(s) failed: see `roster app logs {}`", report.failed, a.app);
    }
    Ok(())
}

fn print(app: &str, r: &DriftReport) {
    println!("{app}: {} account(s) and {} group(s) read; {} difference(s)", r.accounts, r.groups, r.total());
    println!(
        "  changed {}, missing {}, unmanaged {}, members added {}, members removed {}, groups missing {}",
        r.changed, r.missing, r.unmanaged, r.members_added, r.members_removed, r.groups_missing
    );
    for d in &r.items {
        let who = d.name.as_deref().or(d.source_id.as_deref()).unwrap_or("?");
        let target = d.target_id.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
        println!("\n{} {} {who}{target}: {}", d.kind.as_str(), d.object, describe(d));
        for m in &d.differences {
            println!("  {}: the app has {}, roster sent {}", m.name, m.old, m.new);
        }
        if let Some(repair) = &d.repair {
            println!("  repair: {repair}");
        }
    }
    if r.truncated {
        println!("\n(the first {} differences are listed; every one is counted)", r.items.len());
    }
    if r.repair || r.adopt {
        println!("\n{} object(s) sent again, {} failed", r.repaired, r.failed);
    } else if r.total() > 0 {
        println!("\n`roster app drift {app} --repair` puts the app back to what the directory says");
    }
}
