//! `roster bench portal`: how long the web portal takes to render its pages over
//! a large directory: 100,000 users, a group of 1,000, an app with 10,000
//! provisioning log entries (all paged). Each page is fetched over real HTTP from
//! the whole server (API, portal, engine) with a signed-in session; the figures
//! are the median and 95th percentile of sequential requests after a warm-up,
//! next to a baseline measured in the same run (`/healthz`, the cheapest route of
//! the same stack). The aim is every page under 200 ms.

use anyhow::{Context, Result};
use clap::Args;
use roster_server::AppState;
use roster_store::{
    AppId, ApplicationInput, AssignmentTarget, LogAction, LogRecord, LogStatus, ModifiedProperty, ObjectKind,
    RecordBatch, SessionLifetime, Step, Store, UserInput,
};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct PortalBench {
    /// How many users in the directory.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// How many provisioning log entries the app has.
    #[arg(long, default_value_t = 10_000)]
    logs: usize,
    /// Timed requests per page (after two warm-up requests).
    #[arg(long, default_value_t = 15)]
    requests: usize,
}

/// The aim for every page.
const BUDGET_MS: f64 = 200.0;

async fn seed(store: &Store, b: &PortalBench) -> Result<(AppId, String, String)> {
    let started = Instant::now();
    let mut batch = Vec::with_capacity(2000);
    for i in 0..b.users {
        batch.push(UserInput {
            user_name: format!("user{i}@example.com"),
            display_name: Some(format!("User {i}")),
            given_name: Some(format!("Given{i}")),
            surname: Some(format!("Surname{i}")),
            mail: Some(format!("user{i}@example.com")),
            department: Some(format!("Dept {}", i % 20)),
            job_title: Some(format!("Engineer {}", i % 50)),
            ..UserInput::default()
        });
        if batch.len() == 2000 {
            store.upsert_users(std::mem::take(&mut batch)).await?;
        }
    }
    store.upsert_users(batch).await?;
    let group = store
        .create_group(roster_store::GroupInput { display_name: "Bench group".into(), ..Default::default() })
        .await?;
    let members: Vec<String> = (0..b.users.min(1000)).map(|i| format!("user{i}@example.com")).collect();
    store.add_user_members(&group.id, &members).await?;
    let app = roster_engine::gallery::create_app(
        store,
        ApplicationInput { name: "Bench app".into(), template: "scim".into() },
    )
    .await?;
    store.assign(&app.id, &AssignmentTarget::Group(group.id.clone()), None).await?;
    let now = roster_store::now_ms();
    let mut logs = Vec::with_capacity(1000);
    for i in 0..b.logs {
        let failed = i % 25 == 0;
        logs.push(LogRecord {
            id: format!("bench-cycle-{}:{i}:user{i}", i / 1000),
            app_id: app.id.clone(),
            cycle_id: format!("bench-cycle-{}", i / 1000),
            change_id: i.to_string(),
            at: now - (b.logs - i) as i64 * 1000,
            object_kind: ObjectKind::User,
            source_id: format!("source-{i}"),
            source_name: Some(format!("user{i}@example.com")),
            target_id: (!failed).then(|| format!("target-{i}")),
            action: if i % 3 == 0 { LogAction::Update } else { LogAction::Create },
            status: if failed { LogStatus::Failure } else { LogStatus::Success },
            steps: vec![
                Step::new("Import", format!("read user{i}@example.com from the directory")),
                Step::new("Scope", "in scope: assigned to the application"),
                Step::new("Match", "no account in the app"),
                Step::new("Action", "created the account"),
            ],
            modified: vec![ModifiedProperty::new("displayName", serde_json::Value::Null, format!("User {i}"))],
            error_code: failed.then(|| "AppRefused".to_string()),
            error_message: failed.then(|| "the app answered 400: invalid value".to_string()),
        });
        if logs.len() == 1000 {
            store.record(&app.id, &RecordBatch { logs: std::mem::take(&mut logs), ..RecordBatch::default() }).await?;
        }
    }
    store.record(&app.id, &RecordBatch { logs, ..RecordBatch::default() }).await?;
    println!(
        "seeded {} users, 1 group, 1 app, {} log entries in {:.1} s",
        b.users,
        b.logs,
        started.elapsed().as_secs_f64()
    );
    let sample = store.find_user(&format!("user{}@example.com", b.users / 2)).await?;
    Ok((app.id, group.id.to_string(), sample.id.to_string()))
}

/// Median and 95th percentile of `n` sequential GETs, in ms (after two warm-ups).
async fn measure(client: &reqwest::Client, url: &str, cookie: &str, n: usize) -> Result<(f64, f64, u16)> {
    let mut times = Vec::with_capacity(n);
    let mut status = 0;
    for i in 0..n + 2 {
        let started = Instant::now();
        let r = client
            .get(url)
            .header("Cookie", cookie)
            .header("Accept", "text/html")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        status = r.status().as_u16();
        r.bytes().await?;
        if i >= 2 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.95), status))
}

pub async fn run(b: PortalBench) -> Result<()> {
    let dir = crate::bench::scratch_dir("portal");
    let store = Store::open_sqlite(&dir).await?;
    let (app, group, user) = seed(&store, &b).await?;
    // A session needs its admin; the hash is never checked (no one signs in).
    store.create_admin("bench", "$argon2id$v=19$m=19456,t=2,p=1$unused", roster_store::AccessRole::Admin).await?;
    let (secret, _) =
        store.create_session("admin:bench", roster_store::AccessRole::Admin, SessionLifetime::default()).await?;
    let engine = crate::serve::start_engine(&store, &dir).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState { store: store.clone(), engine: Some(engine), public_url: base.clone() };
    let server = tokio::spawn(roster_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = format!("roster_session={secret}");
    let last_users = b.users.saturating_sub(50);
    let last_logs = b.logs.saturating_sub(50);
    let pages = [
        "/apps".to_string(),
        "/apps/new".to_string(),
        "/users".to_string(),
        "/users?q=user4242".to_string(),
        format!("/users?offset={last_users}"),
        format!("/users/{user}"),
        format!("/users/{user}/edit"),
        "/groups".to_string(),
        format!("/groups/{group}"),
        format!("/apps/{app}"),
        format!("/apps/{app}/users"),
        format!("/apps/{app}/provisioning"),
        format!("/apps/{app}/provisioning/mappings/user"),
        format!("/apps/{app}/provisioning/mappings/user/attributes/2"),
        format!("/apps/{app}/provisioning/mappings/user/scoping"),
        format!("/apps/{app}/status"),
        format!("/apps/{app}/logs"),
        format!("/apps/{app}/logs?offset={last_logs}"),
        format!("/apps/{app}/logs?status=Failure&action=Create"),
        format!("/apps/{app}/logs?user=user9000%40example.com"),
        format!("/apps/{app}/logs?selected=bench-cycle-9%3A9999%3Auser9999"),
    ];
    println!(
        "portal render time: {} users, {} log entries, SQLite; {} requests per page after 2 warm-ups",
        b.users, b.logs, b.requests
    );
    let (base_median, base_p95, _) = measure(&client, &format!("{base}/healthz"), &cookie, b.requests).await?;
    println!("{:<58} {:>10} {:>8} {:>12}", "page", "median ms", "p95 ms", "vs /healthz");
    println!("{:<58} {:>10.1} {:>8.1} {:>11.1}x", "/healthz (baseline)", base_median, base_p95, 1.0);
    let mut slowest = 0.0f64;
    let mut failures = Vec::new();
    for p in &pages {
        let shown = p.replace(&app.to_string(), "{app}").replace(&group, "{group}").replace(&user, "{user}");
        let (median, p95, status) = measure(&client, &format!("{base}{p}"), &cookie, b.requests).await?;
        if status != 200 {
            failures.push(format!("{shown}: HTTP {status}"));
        }
        slowest = slowest.max(p95);
        println!("{:<58} {:>10.1} {:>8.1} {:>11.1}x", shown, median, p95, median / base_median.max(0.001));
    }
    let (csv_median, _, _) = measure(&client, &format!("{base}/apps/{app}/logs.csv"), &cookie, 3).await?;
    println!("(download, not a page) /apps/{{app}}/logs.csv of {} entries: {csv_median:.1} ms", b.logs.min(10_000));
    println!(
        "slowest page p95: {slowest:.1} ms — {} the {BUDGET_MS:.0} ms aim",
        if slowest < BUDGET_MS { "under" } else { "OVER" }
    );
    let _ = stop.send(());
    let _ = server.await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if !failures.is_empty() {
        anyhow::bail!("pages that did not answer 200: {}", failures.join(", "));
    }
    Ok(())
}
