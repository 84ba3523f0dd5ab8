//! `roster bench plan`: plan before apply at one or more directory sizes.
//! Each size provisions a directory into roster's sample app (every user with
//! a manager), then times, on the engine in this process:
//! - the baseline: a plain walk that reads each page of users and their shadow
//!   entries and does nothing else;
//! - the plan of the next cycle as it stands (nothing to change);
//! - the plan of a mapping change that updates every account (the title gets
//!   a prefix): its summary, then every change read page by page;
//! - the cycle that applies that change, for comparison.
//!
//! It prints each time, the ratio to the baseline, and the peak memory before
//! and after the plans (flat memory: the plans keep one page).

use crate::bench_provision::{directory, AppProcess};
use anyhow::{bail, Context, Result};
use clap::Args;
use roster_engine::plan::PlanProposal;
use roster_store::{ObjectKind, Store, UserId};
use std::time::Instant;

#[derive(Args)]
pub struct PlanBench {
    /// Directory sizes, comma-separated, each a run of its own.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    users: Vec<usize>,
}

pub async fn run(b: PlanBench) -> Result<()> {
    crate::serve::init_tracing();
    println!("plan benchmark: the sample app, scope all, every user has a manager");
    for &users in &b.users {
        one_size(users).await?;
    }
    Ok(())
}

async fn one_size(users: usize) -> Result<()> {
    use roster_engine::settings::{Mode, SettingsPatch, Status};
    let store = directory(users).await?;
    let engine = crate::serve::start_engine(&store, &crate::bench::scratch_dir("key")).await?;
    let app = AppProcess::sample_app("plan").await?;
    let application =
        store.create_app(roster_store::ApplicationInput { name: "bench-plan".into(), template: "scim".into() }).await?;
    let patch = SettingsPatch {
        mode: Some(Mode::Automatic),
        status: Some(Status::On),
        tenant_url: Some(app.base_url.clone()),
        secret_token: Some(app.token.as_str().into()),
        scope: Some(roster_engine::settings::Scope::All),
        ..Default::default()
    };
    engine.configure(&application.id, patch).await?;
    let counts = engine.cycle(&application.id).await?;
    if counts.created as usize != users {
        bail!("the initial cycle made {} accounts for {users} users", counts.created);
    }
    let id = &application.id;
    let rss_before = crate::bench::peak_rss_mib().unwrap_or_default();

    let started = Instant::now();
    let walked = plain_walk(&store, id).await?;
    let baseline = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let unchanged = engine.plan(id, &PlanProposal::default(), None, 1000).await?;
    let as_it_stands = started.elapsed().as_secs_f64();
    let s = unchanged.summary.context("the first page has the summary")?;
    if s.requests != 0 || s.users as usize != users {
        bail!("the plan of an unchanged app lists {} requests over {} users", s.requests, s.users);
    }

    let mut mappings = engine.mappings(id).await?;
    for o in &mut mappings.objects {
        for a in o.attributes.iter_mut().filter(|a| a.target == "title") {
            a.mapping =
                roster_mapping::MappingType::Expression { expression: "Join(\" \", \"Acme\", [jobTitle])".into() };
        }
    }
    let proposal = PlanProposal { mappings: Some(mappings.clone()), scoping: None };
    let started = Instant::now();
    let first = engine.plan(id, &proposal, None, 1000).await?;
    let summary_secs = started.elapsed().as_secs_f64();
    let summary = first.summary.context("the first page has the summary")?;
    let (mut changes, mut next) = (first.changes.len(), first.next);
    while let Some(after) = next {
        let page = engine.plan(id, &proposal, Some(&after), 1000).await?;
        changes += page.changes.len();
        next = page.next;
    }
    let all_secs = started.elapsed().as_secs_f64();
    let rss_after = crate::bench::peak_rss_mib().unwrap_or_default();
    if changes as u64 != summary.updates || summary.updates as usize != users {
        bail!("the plan lists {changes} changes, its summary {} updates, for {users} users", summary.updates);
    }

    engine.set_mappings(id, mappings).await?;
    let started = Instant::now();
    let applied = engine.cycle(id).await?;
    let cycle_secs = started.elapsed().as_secs_f64();
    if applied.updated != summary.updates {
        bail!("the plan said {} updates, the cycle made {}", summary.updates, applied.updated);
    }
    app.stop().await;

    println!("\n{users} users ({walked} read by the baseline):");
    println!("  baseline: read every user and its shadow, page by page   {baseline:>8.2} s");
    println!(
        "  plan of the next cycle as it stands (0 changes)         {as_it_stands:>8.2} s  ({:.1}x the baseline)",
        as_it_stands / baseline
    );
    println!(
        "  plan of a title mapping change: summary                 {summary_secs:>8.2} s  ({:.1}x the baseline)",
        summary_secs / baseline
    );
    println!(
        "  the same, with all {changes} changes read in pages of 1000 {all_secs:>8.2} s  ({:.1}x the baseline)",
        all_secs / baseline
    );
    println!(
        "  the cycle that applies it ({} updates)                  {cycle_secs:>8.2} s  (the plan is {:.2}x of it)",
        applied.updated,
        all_secs / cycle_secs
    );
    println!("  peak memory before the plans {rss_before:.0} MiB, after {rss_after:.0} MiB");
    Ok(())
}

/// The baseline: each page of users and their shadow entries, read and dropped.
async fn plain_walk(store: &Store, app: &roster_store::AppId) -> Result<usize> {
    let mut after = String::new();
    let mut n = 0;
    loop {
        let users = store.users_after(Some(&after), 1000).await?;
        let Some(last) = users.last().map(|u| u.id.to_string()) else { break };
        let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
        let refs: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        let shadows = store.shadow_of(app, ObjectKind::User, &refs).await?;
        n += users.len();
        drop(shadows);
        after = last;
    }
    Ok(n)
}
