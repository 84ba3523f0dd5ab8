//! `roster bench scale`: several workers (`roster serve` processes) sharing one
//! PostgreSQL, provisioning several sample apps (each a process of its own).
//! Prints the initial provisioning's throughput per app and in total, the
//! latency from a directory change to the app under a steady trickle of changes
//! (p50 and p99, read from the provisioning logs), and each worker's memory.
//! A benchmark, not a test: it prints figures, and says where they miss the aims
//! (change → app p99 under 2 s; under 300 MiB per worker).

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

#[derive(Args)]
pub struct ScaleBench {
    /// Workers (`roster serve` processes) sharing the database.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// Sample apps, each provisioned with every user.
    #[arg(long, default_value_t = 5)]
    apps: usize,
    /// Users in the directory (every one assigned to every app).
    #[arg(long, default_value_t = 200_000)]
    users: usize,
    /// The PostgreSQL server; a fresh database is made on it for the run and dropped after.
    #[arg(long, env = "ROSTER_TEST_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres: String,
    /// How long the trickle of changes lasts (seconds).
    #[arg(long, default_value_t = 30)]
    trickle_secs: u64,
    /// Directory changes per second during the trickle.
    #[arg(long, default_value_t = 10)]
    trickle_rate: u64,
    /// Requests in flight per app.
    #[arg(long, default_value_t = 16)]
    concurrency: u64,
    /// The job lease's length.
    #[arg(long, default_value = "10s")]
    lease_ttl: String,
    /// The run's deadline (seconds).
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
    /// Provision the assignment group itself too (every user its member): by
    /// default only the users are, so that the figures are users per second.
    #[arg(long)]
    groups: bool,
}

/// A child process, killed when dropped.
struct Process {
    child: Child,
    /// How the figures name it.
    name: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Process {
    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident and peak memory (MiB), from /proc.
    fn memory(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let kib = |key: &str| {
            status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        };
        Some((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
    }
}

struct Worker {
    process: Process,
    url: String,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn sample_app(exe: &Path, token: &str, i: usize) -> Result<(Process, String)> {
    let mut child = Command::new(exe)
        .args(["sample-app", "--listen", "127.0.0.1:0"])
        .env("ROSTER_SAMPLE_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start a sample app")?;
    let stdout = child.stdout.take().context("the sample app's output")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the sample app did not start within 30 s")??
        .unwrap_or_default();
    if !line.starts_with("http://127.0.0.1:") {
        bail!("the sample app printed {line:?} instead of its URL");
    }
    Ok((Process { child, name: format!("app{i}") }, line))
}

async fn worker(exe: &Path, dir: &Path, database: &str, key: &str, ttl: &str, i: usize) -> Result<Worker> {
    let port = free_port()?;
    let data = dir.join(format!("worker-{i}"));
    let log = std::fs::File::create(dir.join(format!("worker-{i}.log")))?;
    let child = Command::new(exe)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ROSTER_DATABASE_URL", database)
        .env("ROSTER_MASTER_KEY", key)
        .env("ROSTER_LEASE_TTL", ttl)
        .env("ROSTER_WORKER_NAME", format!("worker-{i}"))
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("start a worker")?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while !http.get(format!("{url}/healthz")).send().await.map(|r| r.status().is_success()).unwrap_or(false) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("worker-{i} did not answer within 60 s; see {}", dir.join(format!("worker-{i}.log")).display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Worker { process: Process { child, name: format!("worker-{i}") }, url })
}

/// The admin API of one worker.
struct Api {
    http: reqwest::Client,
    token: String,
}

impl Api {
    async fn call(&self, base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self.http.request(method.clone(), format!("{base}/api/v1{path}")).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = answer.status();
        let text = answer.text().await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {}", text.chars().take(300).collect::<String>());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn accounts(http: &reqwest::Client, base: &str, token: &str) -> Result<u64> {
    let page: Value = http.get(format!("{base}/Users?count=0")).bearer_auth(token).send().await?.json().await?;
    Ok(page["totalResults"].as_u64().unwrap_or(0))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(b: ScaleBench) -> Result<()> {
    if b.workers == 0 || b.apps == 0 || b.users == 0 {
        bail!("--workers, --apps and --users must be at least 1");
    }
    let deadline = Instant::now() + Duration::from_secs(b.timeout);
    let exe = std::env::current_exe().context("find roster's own binary")?;
    let dir: PathBuf = crate::bench::scratch_dir("scale");
    std::fs::create_dir_all(&dir)?;
    let (database, name) = crate::bench::fresh_database(&b.postgres).await?;
    let result = scale(&b, &exe, &dir, &database, deadline).await;
    crate::bench::drop_database(&b.postgres, &name).await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("bench scale: the workers' logs are kept in {}", dir.display());
    }
    result
}

async fn scale(b: &ScaleBench, exe: &Path, dir: &Path, database: &str, deadline: Instant) -> Result<()> {
    let key = hex::encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let app_token = format!("scale-{}", uuid::Uuid::new_v4().simple());
    let mut samples = Vec::new();
    for i in 0..b.apps {
        samples.push(sample_app(exe, &app_token, i).await?);
    }
    let mut workers = Vec::new();
    for i in 1..=b.workers {
        workers.push(worker(exe, dir, database, &key, &b.lease_ttl, i).await?);
    }
    let token = std::fs::read_to_string(dir.join("worker-1").join("admin.token")).context("the admin token")?;
    let api = Api { http: reqwest::Client::new(), token: token.trim().to_string() };
    let first = workers[0].url.clone();
    println!(
        "bench scale: {} workers x {} apps x {} users on PostgreSQL (sample apps in their own processes)",
        b.workers, b.apps, b.users
    );

    // The directory: every user in one group, assigned to every app.
    let seeded = Instant::now();
    let mut ids = Vec::with_capacity(b.users);
    for start in (0..b.users).step_by(5000) {
        let rows: Vec<Value> = (start..(start + 5000).min(b.users))
            .map(|i| json!({"userName": format!("user{i:07}@scale.example"), "displayName": format!("User {i}"), "jobTitle": "Engineer"}))
            .collect();
        let answer = api.call(&first, reqwest::Method::POST, "/users/bulk", Some(json!({"upsert": rows}))).await?;
        for r in answer["results"].as_array().into_iter().flatten() {
            ids.push(r["id"].as_str().unwrap_or_default().to_string());
        }
    }
    api.call(&first, reqwest::Method::POST, "/groups", Some(json!({"displayName": "everyone"}))).await?;
    for chunk in ids.chunks(50_000) {
        api.call(&first, reqwest::Method::POST, "/groups/everyone/members", Some(json!({"users": chunk}))).await?;
    }
    println!("directory: {} users seeded in {:.1} s", ids.len(), seeded.elapsed().as_secs_f64());
    for (i, (_, base)) in samples.iter().enumerate() {
        let name = format!("app{i}");
        api.call(&first, reqwest::Method::POST, "/apps", Some(json!({"name": name}))).await?;
        api.call(
            &first,
            reqwest::Method::POST,
            &format!("/apps/{name}/assignments"),
            Some(json!({"group": "everyone"})),
        )
        .await?;
        let settings = json!({"tenantUrl": base, "secretToken": app_token, "mode": "automatic",
            "concurrency": b.concurrency, "deleteThreshold": b.users});
        api.call(&first, reqwest::Method::PATCH, &format!("/apps/{name}/provisioning"), Some(settings)).await?;
        if !b.groups {
            let path = format!("/apps/{name}/provisioning/mappings");
            let mut mappings = api.call(&first, reqwest::Method::GET, &path, None).await?;
            for object in mappings["objects"].as_array_mut().into_iter().flatten() {
                if object["sourceObject"] == "group" {
                    object["enabled"] = json!(false);
                }
            }
            api.call(&first, reqwest::Method::PUT, &path, Some(mappings)).await?;
        }
    }
    let started = Instant::now();
    for i in 0..b.apps {
        api.call(&first, reqwest::Method::POST, &format!("/apps/app{i}/provisioning/start"), Some(json!({}))).await?;
    }

    // The initial cycles, with a progress bar over every account to make.
    let total = (b.users * b.apps) as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} accounts {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut done_at: Vec<Option<f64>> = vec![None; b.apps];
    let mut peak = vec![0f64; b.workers];
    loop {
        if Instant::now() > deadline {
            bail!("the initial cycles did not end before --timeout");
        }
        let mut sum = 0;
        for (i, (_, base)) in samples.iter().enumerate() {
            let n = accounts(&api.http, base, &app_token).await?;
            sum += n;
            if n >= b.users as u64 && done_at[i].is_none() {
                done_at[i] = Some(started.elapsed().as_secs_f64());
            }
        }
        for (w, p) in workers.iter().zip(peak.iter_mut()) {
            if let Some((rss, _)) = w.process.memory() {
                *p = p.max(rss);
            }
        }
        bar.set_position(sum);
        if done_at.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bar.finish_and_clear();
    let all = done_at.iter().flatten().cloned().fold(0f64, f64::max);
    println!("initial provisioning:");
    for (i, t) in done_at.iter().enumerate() {
        let t = t.unwrap_or(all);
        println!("  app{i}: {} accounts in {t:.1} s ({:.0} users/s)", b.users, b.users as f64 / t);
    }
    println!("  total: {total} accounts in {all:.1} s ({:.0} accounts/s)", total as f64 / all);

    // Wait for steady state (every job incremental), then the trickle.
    loop {
        if Instant::now() > deadline {
            bail!("the jobs did not reach steady state before --timeout");
        }
        let mut steady = true;
        for i in 0..b.apps {
            let st = api.call(&first, reqwest::Method::GET, &format!("/apps/app{i}/provisioning/status"), None).await?;
            steady &= st["phase"] == "incremental" && !st["progress"]["running"].as_bool().unwrap_or(false);
        }
        if steady {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let changes = (b.trickle_secs * b.trickle_rate) as usize;
    let changes = changes.min(ids.len());
    println!("trickle: {changes} changes at {}/s, each through a worker in turn", b.trickle_rate);
    let interval = Duration::from_secs_f64(1.0 / b.trickle_rate.max(1) as f64);
    let mut sent: Vec<(String, i64)> = Vec::with_capacity(changes);
    let mut next = Instant::now();
    let stride = (ids.len() / changes.max(1)).max(1);
    for k in 0..changes {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        let id = &ids[(k * stride) % ids.len()];
        let via = &workers[k % workers.len()].url;
        api.call(via, reqwest::Method::PATCH, &format!("/users/{id}"), Some(json!({"jobTitle": format!("Title {k}")})))
            .await?;
        sent.push((id.clone(), chrono::Utc::now().timestamp_millis()));
    }
    // The logs say when each update reached each app (recorded after the app answered).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut latencies = Vec::new();
    let mut missing = 0usize;
    let since = sent.first().map(|s| s.1).unwrap_or(0);
    for i in 0..b.apps {
        let path = format!("/apps/app{i}/provisioning/logs?format=json&action=Update&since={since}&limit=10000");
        let logs = api.call(&first, reqwest::Method::GET, &path, None).await?;
        let mut at: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
        for e in logs["items"].as_array().into_iter().flatten() {
            let (Some(source), Some(when)) = (e["sourceId"].as_str(), e["at"].as_i64()) else { continue };
            if when >= since && e["status"] == "Success" {
                let slot = at.entry(source).or_insert(when);
                *slot = (*slot).min(when);
            }
        }
        for (id, t) in &sent {
            match at.get(id.as_str()) {
                Some(when) => latencies.push((when - t).max(0) as f64 / 1000.0),
                None => missing += 1,
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!(
        "change -> app latency over {} updates: p50 {p50:.2} s, p99 {p99:.2} s (aim: p99 under 2 s){}",
        latencies.len(),
        if missing > 0 { format!("; {missing} not seen in the logs") } else { String::new() }
    );
    println!("memory per worker (RSS now, and the most seen during the initial cycles):");
    for (w, p) in workers.iter().zip(&peak) {
        let (rss, hwm) = w.process.memory().unwrap_or((f64::NAN, f64::NAN));
        println!(
            "  {}: {rss:.0} MiB now, {p:.0} MiB during the initial cycles, {hwm:.0} MiB peak (aim: under 300 MiB)",
            w.process.name
        );
    }
    if p99 > 2.0 || missing > 0 {
        println!("bench scale: the change -> app aim is not met");
    }
    Ok(())
}
