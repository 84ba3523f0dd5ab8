//! `roster bench`: benchmarks that print figures and ratios against a baseline
//! measured in the same run (never timed tests).
//!
//! `roster bench import` writes a CSV of N users, then imports it on each backend
//! through the real path (`roster import users`: CSV → HTTP API → store), next to
//! a baseline that writes the same rows straight into the store.
//!
//! `roster bench provision` (see `bench_provision`) runs the engine's initial
//! cycle next to a raw client loop POSTing the same resources; `roster bench
//! groups` provisions groups and counts the requests against the fewest possible.

use crate::client::Client;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use roster_server::AppState;
use roster_store::{Store, UserInput};
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// CSV import throughput on SQLite (and PostgreSQL with --postgres).
    Import(ImportBench),
    /// Provisioning throughput into the sample app (or scim2-server), next to
    /// a raw client loop, at one or more directory sizes.
    Provision(crate::bench_provision::ProvisionBench),
    /// Group provisioning into the sample app: time and requests, next to the
    /// fewest requests the work needs.
    Groups(GroupsBench),
    /// Portal page render times over 100,000 users and 10,000 log entries.
    Portal(crate::bench_portal::PortalBench),
    /// Several workers on PostgreSQL provisioning several sample apps: throughput,
    /// change -> app latency under a trickle, memory per worker.
    Scale(crate::bench_scale::ScaleBench),
    /// Plan before apply: the plan of a change to every account, at one or
    /// more directory sizes, next to a plain read of the directory and shadow.
    Plan(crate::bench_plan::PlanBench),
    /// HR pushes: a SCIM BulkRequest of 10,000 people next to the CSV import,
    /// on to an outbound app, and single pushes timed to the app (p50, p99).
    Inbound(crate::bench_inbound::InboundBench),
}

#[derive(Args)]
pub struct ImportBench {
    /// How many users.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// A PostgreSQL server URL; a fresh database is made on it for the run.
    #[arg(long, env = "ROSTER_TEST_POSTGRES")]
    postgres: Option<String>,
}

pub async fn run(cmd: BenchCmd) -> Result<()> {
    let ran = run_one(cmd).await;
    remove_scratch_dirs();
    ran
}

async fn run_one(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Import(b) => import(b).await,
        BenchCmd::Provision(b) => crate::bench_provision::provision(b).await,
        BenchCmd::Groups(b) => groups(b).await,
        BenchCmd::Portal(b) => crate::bench_portal::run(b).await,
        BenchCmd::Scale(b) => crate::bench_scale::run(b).await,
        BenchCmd::Inbound(b) => crate::bench_inbound::run(b).await,
        BenchCmd::Plan(b) => crate::bench_plan::run(b).await,
    }
}

/// The scratch directories of this run, removed when it ends.
static SCRATCH: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A fresh directory under the temporary directory, removed when the benchmark
/// ends (a store of 100,000 users takes hundreds of MB).
pub(crate) fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("roster-bench-{tag}-{}", uuid::Uuid::new_v4().simple()));
    if let Ok(mut dirs) = SCRATCH.lock() {
        dirs.push(dir.clone());
    }
    dir
}

fn remove_scratch_dirs() {
    let dirs = SCRATCH.lock().map(|mut d| std::mem::take(&mut *d)).unwrap_or_default();
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn csv_of(n: usize) -> String {
    let mut out = String::from(
        "userName,displayName,givenName,surname,mail,jobTitle,department,employeeId,city,country,manager\n",
    );
    for i in 0..n {
        let manager = if i % 10 == 0 || i < 10 { String::new() } else { format!("user{}@example.com", i - i % 10) };
        out.push_str(&format!(
            "user{i}@example.com,User {i},Given{i},Surname{i},user{i}@example.com,Engineer {},Dept {},E{i:06},City {},NO,{manager}\n",
            i % 50,
            i % 20,
            i % 100
        ));
    }
    out
}

async fn fresh_store(postgres: Option<&str>, tag: &str) -> Result<Store> {
    match postgres {
        None => Ok(Store::open_sqlite(&scratch_dir(tag)).await?),
        Some(base) => Ok(Store::connect(&fresh_database(base).await?.0).await?),
    }
}

/// A fresh database on the PostgreSQL server `base` names: its URL and its name.
pub(crate) async fn fresh_database(base: &str) -> Result<(String, String)> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!("roster_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(base).await.context("connect to PostgreSQL")?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let (prefix, _) = base.rsplit_once('/').context("a PostgreSQL URL ends with /database")?;
    Ok((format!("{prefix}/{name}"), name))
}

/// Drops a database [`fresh_database`] made (what cannot be dropped is said).
pub(crate) async fn drop_database(base: &str, name: &str) {
    use sqlx::{Connection, Executor};
    let dropped = async {
        let mut conn = sqlx::AnyConnection::connect(base).await?;
        conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
        Ok::<(), sqlx::Error>(())
    };
    if let Err(e) = dropped.await {
        eprintln!("bench: could not drop the database {name}: {e}");
    }
}

async fn import(b: ImportBench) -> Result<()> {
    let dir = scratch_dir("csv");
    std::fs::create_dir_all(&dir)?;
    let csv_path = dir.join("users.csv");
    std::fs::write(&csv_path, csv_of(b.users))?;
    println!("import benchmark: {} users from {}", b.users, csv_path.display());
    let mut backends: Vec<(&str, Option<&str>)> = vec![("sqlite", None)];
    if let Some(pg) = b.postgres.as_deref() {
        backends.push(("postgres", Some(pg)));
    }
    for (name, url) in backends {
        // Baseline: the same rows written straight into the store, in the same batches.
        let store = fresh_store(url, "baseline").await?;
        let started = Instant::now();
        let mut batch = Vec::with_capacity(2000);
        for i in 0..b.users {
            batch.push(UserInput {
                user_name: format!("user{i}@example.com"),
                display_name: Some(format!("User {i}")),
                job_title: Some(format!("Engineer {}", i % 50)),
                ..UserInput::default()
            });
            if batch.len() == 2000 {
                store.upsert_users(std::mem::take(&mut batch)).await?;
            }
        }
        store.upsert_users(batch).await?;
        let baseline = b.users as f64 / started.elapsed().as_secs_f64();
        store.close().await;

        // The real path: CSV → CLI import → HTTP API → store.
        let store = fresh_store(url, "import").await?;
        let token = store.ensure_admin_token().await?.context("fresh store has no token")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(roster_server::serve(
            listener,
            AppState { store: store.clone(), engine: None, public_url: String::new() },
            async {
                let _ = stopped.await;
            },
        ));
        let client = Client::new(&base, token, None)?;
        let started = Instant::now();
        let report = crate::import::import_users(&client, &csv_path, false).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let rate = b.users as f64 / elapsed;
        let _ = stop.send(());
        let _ = server.await;
        println!(
            "{name:<8} import: {rate:>9.0} users/s ({elapsed:.1} s, {} created, {} failed) | store baseline: {baseline:>9.0} users/s | ratio: {:.2}",
            report.created,
            report.failed.len(),
            rate / baseline
        );
    }
    Ok(())
}

/// A task's name and the CPU seconds (user and system) it has used, from its
/// `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    // The name may hold spaces: the fields after it start after its ')'.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(').map(|(_, n)| n.to_string()).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel counts in USER_HZ, 100 on every Linux this runs on.
    Some((name, ticks / 100.0))
}

/// CPU seconds a process has used so far (Linux; `None` elsewhere or once the
/// process is gone). `pid` 0 is this process.
pub(crate) fn cpu_secs(pid: u32) -> Option<f64> {
    let path = match pid {
        0 => "/proc/self/stat".to_string(),
        pid => format!("/proc/{pid}/stat"),
    };
    stat_cpu(&std::fs::read_to_string(path).ok()?).map(|(_, secs)| secs)
}

/// What a thread has used so far: CPU seconds and context switches
/// (voluntary and not).
#[derive(Clone, Copy, Default)]
pub(crate) struct ThreadUse {
    pub(crate) cpu: f64,
    pub(crate) switches: u64,
}

/// The context switches of a task, from its `/proc/.../status` text.
fn status_switches(status: &str) -> u64 {
    status
        .lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// What this process's threads have used, by thread name (Linux).
pub(crate) fn use_by_thread() -> std::collections::BTreeMap<String, ThreadUse> {
    let mut out = std::collections::BTreeMap::<String, ThreadUse>::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in dir.flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        if let Some((name, secs)) = stat_cpu(&stat) {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            let used = out.entry(name).or_default();
            used.cpu += secs;
            used.switches += status_switches(&status);
        }
    }
    out
}

/// Context switches of every thread of this process so far (Linux).
pub(crate) fn switches() -> u64 {
    use_by_thread().values().map(|u| u.switches).sum()
}

/// Peak resident memory of this process, in MiB (Linux).
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[derive(Args)]
pub struct GroupsBench {
    /// Groups assigned to the app.
    #[arg(long, default_value_t = 100)]
    groups: usize,
    /// Members per group.
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// Users in the directory (members overlap when groups × members exceeds it).
    #[arg(long, default_value_t = 20_000)]
    users: usize,
    /// Member values per group PATCH.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Provisions `groups` groups of `members` members over `users` users into a
/// fresh sample app (in this process, so that its request counters are at hand)
/// and prints the requests it took next to the fewest the work needs: one POST
/// per user, one POST per group, and one PATCH per `batch` members of a group.
pub async fn groups(b: GroupsBench) -> Result<()> {
    use roster_engine::settings::{Mode, SettingsPatch, Status};
    anyhow::ensure!(b.users > 0 && b.groups > 0 && b.batch > 0, "users, groups and batch must be positive");
    println!(
        "group provisioning benchmark: {} groups x {} members over {} users, {} members per PATCH",
        b.groups, b.members, b.users, b.batch
    );
    crate::serve::init_tracing();
    let store = Store::open_sqlite(&scratch_dir("groups")).await?;
    let mut batch = Vec::with_capacity(2000);
    for i in 0..b.users {
        batch.push(UserInput {
            user_name: format!("user{i:06}@bench.example"),
            given_name: Some(format!("Given{i}")),
            surname: Some("Bench".into()),
            display_name: Some(format!("Given{i} Bench")),
            ..UserInput::default()
        });
        if batch.len() == 2000 {
            store.upsert_users(std::mem::take(&mut batch)).await?;
        }
    }
    store.upsert_users(batch).await?;
    let mut ids: Vec<String> = Vec::with_capacity(b.users);
    let mut after: Option<String> = None;
    loop {
        let page = store.users_after(after.as_deref(), 5000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.to_string());
        ids.extend(page.into_iter().map(|u| u.id.into_string()));
    }
    let application =
        store.create_app(roster_store::ApplicationInput { name: "bench".into(), template: "scim".into() }).await?;
    // Group i holds `members` consecutive users from i * users / groups on, wrapping.
    let stride = (b.users / b.groups).max(1);
    let mut minimum = b.groups as u64;
    let mut reached = std::collections::HashSet::new();
    for g in 0..b.groups {
        let group = store
            .create_group(roster_store::GroupInput { display_name: format!("Team {g:04}"), ..Default::default() })
            .await?;
        let members: Vec<String> = (0..b.members.min(b.users))
            .map(|k| {
                let i = (g * stride + k) % b.users;
                reached.insert(i);
                ids[i].clone()
            })
            .collect();
        minimum += members.len().div_ceil(b.batch) as u64;
        store.add_user_members(&group.id, &members).await?;
        store.assign(&application.id, &roster_store::AssignmentTarget::Group(group.id), None).await?;
    }
    // Only the users in some group are provisioned.
    let reached = reached.len();
    minimum += reached as u64;

    let sample = roster_sample_app::start("127.0.0.1:0".parse()?, "bench".into(), Default::default()).await?;
    let engine = crate::serve::start_engine(&store, &scratch_dir("groups-key")).await?;
    let patch = SettingsPatch {
        mode: Some(Mode::Automatic),
        status: Some(Status::On),
        tenant_url: Some(sample.base_url.clone()),
        secret_token: Some("bench".into()),
        concurrency: Some(b.concurrency),
        member_batch_size: Some(b.batch),
        ..Default::default()
    };
    engine.configure(&application.id, patch).await?;
    let started = Instant::now();
    let counts = engine.cycle(&application.id).await?;
    let secs = started.elapsed().as_secs_f64();
    let counters = sample.state.counters();
    // The sample app also counts member values sent; requests are the other keys.
    let is_request = |k: &str| !k.ends_with("member values");
    let sent: u64 = counters.iter().filter(|(k, _)| is_request(k)).map(|(_, v)| v).sum();
    let in_app_groups = sample.state.group_count().await;
    let in_app_users = sample.state.user_count().await;

    // One member joins a group and another leaves it.
    sample.state.reset_counters();
    let group = store.find_group("Team 0000").await?;
    let joining = ids[(b.members.min(b.users) + stride * b.groups) % b.users].clone();
    store.add_user_members(&group.id, std::slice::from_ref(&joining)).await?;
    store.remove_member(&group.id, &ids[0]).await?;
    let started = Instant::now();
    engine.cycle(&application.id).await?;
    let change_ms = started.elapsed().as_secs_f64() * 1000.0;
    let change_counters = sample.state.counters();
    sample.stop().await?;

    println!("initial cycle: {secs:.2} s ({} created, {} failed)", counts.created, counts.failed);
    println!("in the app: {in_app_users} users, {in_app_groups} groups");
    println!("requests sent: {sent}");
    for (k, v) in &counters {
        println!("  {k:<28} {v}");
    }
    println!(
        "fewest requests the work needs: {minimum} ({reached} user POSTs + {} group POSTs + member PATCHes of {})",
        b.groups, b.batch
    );
    println!("ratio sent / fewest: {:.3} (aim: at most 1.10)", sent as f64 / minimum as f64);
    println!(
        "one member added and one removed in a group of {}: {change_ms:.1} ms, requests {:?}",
        b.members, change_counters
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tasks_context_switches_are_both_kinds_summed() {
        let status = "Name:\ttokio-rt-worker\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t1200\nnonvoluntary_ctxt_switches:\t34\n";
        assert_eq!(status_switches(status), 1234);
        assert_eq!(status_switches("Name:\tx\n"), 0);
        assert_eq!(status_switches("voluntary_ctxt_switches:\tmany\nnonvoluntary_ctxt_switches:\t5\n"), 5);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_that_sleeps_is_counted_under_its_name() {
        let (slept, done) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let probe = std::thread::Builder::new()
            .name("switch-probe".into())
            .spawn(move || {
                for _ in 0..3 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                let _ = slept.0.send(());
                let _ = done.1.recv();
            })
            .expect("spawn");
        slept.1.recv().expect("the probe slept");
        let used = use_by_thread().get("switch-probe").copied().unwrap_or_default();
        let _ = done.0.send(());
        probe.join().expect("join");
        assert!(used.switches >= 3, "three sleeps are three switches at least, got {}", used.switches);
        assert!(switches() >= used.switches);
    }
}
