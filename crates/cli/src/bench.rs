//! `roster bench`: benchmarks that print figures and ratios against a baseline
//! measured in the same run (never timed tests).
//!
//! `roster bench import` writes a CSV of N users, then imports it on each backend
//! through the real path (`roster import users`: CSV → HTTP API → store), next to
//! a baseline that writes the same rows straight into the store.

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
    match cmd {
        BenchCmd::Import(b) => import(b).await,
    }
}

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("roster-bench-{tag}-{}", uuid::Uuid::new_v4().simple()))
}

fn csv_of(n: usize) -> String {
    let mut out = String::from("userName,displayName,givenName,surname,mail,jobTitle,department,employeeId,city,country,manager\n");
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
        Some(base) => {
            use sqlx::{Connection, Executor};
            sqlx::any::install_default_drivers();
            let name = format!("roster_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(base).await.context("connect to PostgreSQL")?;
            conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
            let (prefix, _) = base.rsplit_once('/').context("a PostgreSQL URL ends with /database")?;
            Ok(Store::connect(&format!("{prefix}/{name}")).await?)
        }
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
        let server = tokio::spawn(roster_server::serve(listener, AppState { store: store.clone(), engine: None }, async {
            let _ = stopped.await;
        }));
        let client = Client::new(&base, token)?;
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
