//! `roster app plan`: what the next cycle would send, with a proposed mapping
//! document or scoping filter, or as things stand. The summary first, then
//! each change with its requests, read from the server a page at a time and
//! printed as it comes (flat memory at any directory size).

use crate::client::{enc, read, Client};
use anyhow::{Context, Result};
use clap::Args;
use roster_engine::plan::{PlanSummary, PlannedChange, ProvisioningPlan};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::PathBuf;

/// Changes read per request.
const PAGE: usize = 500;

#[derive(Args)]
pub struct PlanArgs {
    app: String,
    /// A mapping document (JSON or YAML) to plan with instead of the saved one.
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// A users' scoping filter (JSON or YAML) to plan with instead of the saved one.
    #[arg(long)]
    scoping: Option<PathBuf>,
    /// Print the summary only.
    #[arg(long)]
    summary: bool,
    /// Print at most this many changes.
    #[arg(long)]
    limit: Option<usize>,
}

fn document(file: &Option<PathBuf>) -> Result<Value> {
    let Some(file) = file else { return Ok(Value::Null) };
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_norway::from_str(&text).with_context(|| format!("{} is neither JSON nor YAML", file.display()))
}

pub async fn run(c: &Client, json: bool, a: PlanArgs) -> Result<()> {
    let body = json!({"mappings": document(&a.mappings)?, "scoping": document(&a.scoping)?});
    let path = format!("/apps/{}/provisioning/plan", enc(&a.app));
    let mut out = std::io::stdout().lock();
    let mut after: Option<String> = None;
    let mut shown = 0usize;
    let wanted = if a.summary { 0 } else { a.limit.unwrap_or(usize::MAX) };
    loop {
        let page_size = PAGE.min(wanted.saturating_sub(shown)).max(1);
        let query = match &after {
            Some(cursor) => format!("{path}?limit={page_size}&after={}", enc(cursor)),
            None => format!("{path}?limit={page_size}"),
        };
        let page: ProvisioningPlan = read(c.post(&query, &body).await?)?;
        if let Some(summary) = &page.summary {
            if json {
                write!(out, "{{\"summary\":{},\"changes\":[", serde_json::to_string(summary)?)?;
            } else {
                print_summary(&mut out, &a.app, summary)?;
            }
        }
        for change in page.changes.iter().take(wanted - shown) {
            if json {
                write!(out, "{}{}", if shown > 0 { "," } else { "" }, serde_json::to_string(change)?)?;
            } else {
                print_change(&mut out, change)?;
            }
            shown += 1;
        }
        match page.next {
            Some(next) if shown < wanted => after = Some(next),
            _ => break,
        }
    }
    if json {
        writeln!(out, "]}}")?;
    }
    Ok(())
}

fn print_summary(out: &mut impl std::io::Write, app: &str, s: &PlanSummary) -> Result<()> {
    writeln!(
        out,
        "Plan for {app}: {} user(s) and {} group(s) looked at; nothing is sent until a cycle runs",
        s.users, s.groups
    )?;
    writeln!(
        out,
        "  {} create(s), {} update(s), {} enable(s), {} disable(s), {} delete(s), {} skip(s); {} member change(s); {} request(s)",
        s.creates, s.updates, s.enables, s.disables, s.deletes, s.skips, s.member_changes, s.requests
    )?;
    if !s.updates_by_attribute.is_empty() {
        let by: Vec<String> = s.updates_by_attribute.iter().map(|(a, n)| format!("{a} {n}")).collect();
        writeln!(out, "  updates by attribute: {}", by.join(", "))?;
    }
    if s.would_stage {
        writeln!(
            out,
            "  the {} disable(s) pass the deletion limit ({}): the cycle stages them until an admin runs `roster app allow-deletes`",
            s.disables,
            s.deletion_limit.unwrap_or_default()
        )?;
    }
    Ok(())
}

fn print_change(out: &mut impl std::io::Write, c: &PlannedChange) -> Result<()> {
    let name = c.name.as_deref().unwrap_or(&c.source_id);
    let target = c.target_id.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
    writeln!(out, "\n{} {} {name}{target}", c.action.as_str(), c.object)?;
    for step in c.steps.iter().filter(|s| s.step == "Scope" || s.step == "Note" || s.step == "Match") {
        writeln!(out, "  {}: {}", step.step, step.outcome)?;
    }
    for m in &c.modified {
        writeln!(out, "  {}: {} -> {}", m.name, m.old, m.new)?;
    }
    for r in &c.requests {
        writeln!(out, "  {} {}", r.method, r.path)?;
        if let Some(body) = &r.body {
            writeln!(out, "    {}", serde_json::to_string(body)?)?;
        }
        if let Some(note) = &r.note {
            writeln!(out, "    ({note})")?;
        }
    }
    Ok(())
}
