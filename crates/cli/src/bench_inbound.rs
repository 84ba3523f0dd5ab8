//! `roster bench inbound`: people pushed by HR, from the push to the app.
//!
//! 1. The baseline: the same people through the CSV import (`roster import
//!    users`: CSV → `/users/bulk` → store) into a fresh store.
//! 2. A SCIM BulkRequest of the same people (core, enterprise extension with
//!    the employee number and the manager's, eight reports each) pushed to an
//!    `hr-scim` source of a fresh roster whose outbound app (scope "all") is
//!    scim2-server (or the sample app): users/s until the push is applied, then
//!    until every account exists in the app.
//!    The same push into a roster without an app first: the directory alone.
//! 3. Single pushes of one hire each, one after the other: the time from the
//!    push to the account in the app, p50 and p99, next to the limit of 2 s.

use crate::bench_provision::AppProcess;
use crate::client::Client;
use anyhow::{bail, Context, Result};
use clap::Args;
use roster_server::AppState;
use roster_store::Store;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct InboundBench {
    /// People in the BulkRequest.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Single pushes timed to the app.
    #[arg(long, default_value_t = 100)]
    pushes: usize,
    /// The outbound app: scim2-server when its program is given (--scim2-server
    /// or ROSTER_SCIM2_SERVER), else roster's sample app.
    #[arg(long, env = "ROSTER_SCIM2_SERVER")]
    scim2_server: Option<PathBuf>,
}

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn person(i: usize) -> Value {
    let manager = (i > 0).then(|| json!({"value": format!("E{:06}", (i - 1) / 8)}));
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "userName": format!("hire{i:06}@bench.example"),
        "name": {"givenName": format!("Given{i}"), "familyName": "Bench"},
        "displayName": format!("Given{i} Bench"),
        "title": format!("Title {}", i % 40),
        "emails": [{"type": "work", "value": format!("hire{i:06}@bench.example"), "primary": true}],
        ENT: {"employeeNumber": format!("E{i:06}"), "department": format!("Dept {}", i % 12), "manager": manager}
    })
}

fn bulk(people: impl Iterator<Item = Value>) -> Value {
    let ops: Vec<Value> = people
        .enumerate()
        .map(|(i, data)| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": data}))
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
}

/// A roster server in this process over a fresh SQLite store, its engine running.
struct Roster {
    client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Roster {
    async fn start(engine: bool) -> Result<Roster> {
        let dir = crate::bench::scratch_dir("inbound");
        let store = Store::open_sqlite(&dir).await?;
        let token = store.ensure_admin_token().await?.context("a fresh store has no token")?;
        let engine = match engine {
            true => Some(crate::serve::start_engine(&store, &dir).await?),
            false => None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (stop_engine, engine_stopped) = tokio::sync::oneshot::channel::<()>();
        if let Some(e) = &engine {
            tokio::spawn(e.clone().run(async {
                let _ = engine_stopped.await;
            }));
        }
        let state = AppState { store, engine, public_url: base.clone() };
        tokio::spawn(roster_server::serve(listener, state, async {
            let _ = stopped.await;
            let _ = stop_engine.send(());
        }));
        let client = Client::new(&base, token, None)?;
        Ok(Roster { client, stop: Some(stop) })
    }
}

impl Drop for Roster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Pushes the BulkRequest `body` of `users` people to the source `HR`, fails
/// unless every one was created, and prints the rate next to the CSV import's.
/// Returns when the push started.
async fn push_all(c: &Client, body: Vec<u8>, users: usize, import_rate: f64, label: &str) -> Result<Instant> {
    let started = Instant::now();
    let batch = c.post_file("/sources/HR/bulkUpload", "application/scim+json", body, Duration::from_secs(3600)).await?;
    let secs = started.elapsed().as_secs_f64();
    if batch["status"] != "applied" || batch["summary"]["created"].as_u64() != Some(users as u64) {
        bail!("the push was not applied as a whole: {batch}");
    }
    let rate = users as f64 / secs;
    println!("{label} {rate:>8.0} users/s ({secs:.1} s) | ratio to the CSV import: {:.2}", rate / import_rate);
    Ok(started)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

pub async fn run(b: InboundBench) -> Result<()> {
    anyhow::ensure!(b.users > 0, "--users must be positive");
    // 1. The baseline: the CSV import of the same people.
    let csv = crate::bench::scratch_dir("inbound-csv");
    std::fs::create_dir_all(&csv)?;
    let csv_path = csv.join("people.csv");
    let mut text = String::from("userName,givenName,surname,displayName,jobTitle,department,employeeId,mail,manager\n");
    for i in 0..b.users {
        let manager = if i > 0 { format!("hire{:06}@bench.example", (i - 1) / 8) } else { String::new() };
        text.push_str(&format!(
            "hire{i:06}@bench.example,Given{i},Bench,Given{i} Bench,Title {},Dept {},E{i:06},hire{i:06}@bench.example,{manager}\n",
            i % 40,
            i % 12
        ));
    }
    std::fs::write(&csv_path, text)?;
    let roster = Roster::start(false).await?;
    let started = Instant::now();
    let report = crate::import::import_users(&roster.client, &csv_path, true).await?;
    let import_rate = b.users as f64 / started.elapsed().as_secs_f64();
    drop(roster);
    println!("CSV import (roster import users):       {import_rate:>8.0} users/s ({} created)", report.created);

    // 2. The BulkRequest, into the directory alone.
    let body = serde_json::to_vec(&bulk((0..b.users).map(person)))?;
    let limit = Duration::from_secs(3600);
    let alone = Roster::start(true).await?;
    alone.client.post("/sources", &json!({"name": "HR", "template": "hr-scim"})).await?;
    push_all(&alone.client, body.clone(), b.users, import_rate, "SCIM BulkRequest, no outbound app:     ").await?;
    drop(alone);

    // 3. The BulkRequest, on to the app.
    let token = format!("t{}", uuid::Uuid::new_v4().simple());
    let (app, label) = match &b.scim2_server {
        Some(bin) => (AppProcess::scim2_server(bin, &token).await?, "scim2-server"),
        None => (AppProcess::sample_app(&token).await?, "the sample app"),
    };
    let roster = Roster::start(true).await?;
    let c = &roster.client;
    c.post("/apps", &json!({"name": "Target", "template": "scim"})).await?;
    let settings = json!({"tenantUrl": app.base_url, "secretToken": app.token, "mode": "automatic", "scope": "all"});
    c.patch("/apps/Target/provisioning", &settings).await?;
    c.post("/apps/Target/provisioning/start", &json!({})).await?;
    c.post("/sources", &json!({"name": "HR", "template": "hr-scim"})).await?;
    println!(
        "pushing {} people ({:.1} MiB) to an hr-scim source; outbound app: {label}",
        b.users,
        body.len() as f64 / 1048576.0
    );
    let started = push_all(c, body, b.users, import_rate, "SCIM BulkRequest, the app provisioning:").await?;
    let deadline = Instant::now() + Duration::from_secs(3600);
    while app.user_count().await.unwrap_or(0) < b.users as u64 {
        if Instant::now() > deadline {
            bail!("the app did not get every account within an hour");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let end_to_end = started.elapsed().as_secs_f64();
    println!("push to every account in {label}:  {:>8.0} users/s ({end_to_end:.1} s)", b.users as f64 / end_to_end);

    // 4. Single pushes, each timed until its account is in the app.
    let http = reqwest::Client::new();
    let mut times = Vec::with_capacity(b.pushes);
    for k in 0..b.pushes {
        let i = b.users + k;
        let body = serde_json::to_vec(&bulk(std::iter::once(person(i))))?;
        let started = Instant::now();
        c.post_file("/sources/HR/bulkUpload", "application/scim+json", body, limit).await?;
        let filter = format!("userName eq \"hire{i:06}@bench.example\"");
        let deadline = started + Duration::from_secs(60);
        loop {
            let found: Value = http
                .get(format!("{}/Users", app.base_url))
                .query(&[("filter", filter.as_str())])
                .bearer_auth(&app.token)
                .send()
                .await?
                .json()
                .await?;
            if found["totalResults"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            if Instant::now() > deadline {
                bail!("push {k} did not reach the app within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    if !times.is_empty() {
        println!(
            "one push to its account in the app:     p50 {:.3} s, p99 {:.3} s, max {:.3} s over {} pushes (limit: p99 < 2 s)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().copied().unwrap_or(f64::NAN),
            times.len()
        );
    }
    drop(roster);
    app.stop().await;
    let _ = std::fs::remove_dir_all(&csv);
    Ok(())
}
