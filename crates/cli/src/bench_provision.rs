//! `roster bench provision`: the engine's initial cycle next to a raw client
//! loop POSTing the same user resources at the same concurrency, each into a
//! fresh app of its own, at one or more directory sizes in one run. The app is
//! roster's sample app, or (`--target scim2-server`) a third-party SCIM server,
//! PyPI's scim2-server, the peer the tests install. Every user has a manager
//! (eight reports each), and the requests per user are printed next to the
//! limit of one.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use roster_store::{Store, UserInput};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct ProvisionBench {
    /// Directory sizes, comma-separated, each a run of its own (default:
    /// 10000,100000 into the sample app; 3000,10000 into scim2-server).
    #[arg(long, value_delimiter = ',')]
    users: Vec<usize>,
    /// Requests in flight at once, for the engine and the raw loop alike.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The app to provision into.
    #[arg(long, value_enum, default_value_t = Target::SampleApp)]
    target: Target,
    /// The scim2-server program, for `--target scim2-server` (`scripts/peers.sh`
    /// installs it in `.venv/bin`).
    #[arg(long, env = "ROSTER_SCIM2_SERVER")]
    scim2_server: Option<PathBuf>,
    /// Runs of the engine and of the raw loop at each size, alternating, each
    /// into a fresh app; the rates are their medians (a single-threaded app
    /// such as scim2-server varies from run to run).
    #[arg(long, default_value_t = 1)]
    runs: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// roster's own sample SCIM app (in memory, in a process of its own).
    SampleApp,
    /// PyPI's scim2-server (in memory, single-threaded Python).
    Scim2Server,
}

/// An app in a process of its own, so that the figures of this process are
/// roster's alone. Killed when dropped.
pub(crate) struct AppProcess {
    child: tokio::process::Child,
    pub(crate) base_url: String,
    pub(crate) token: String,
}

impl AppProcess {
    async fn start(b: &ProvisionBench, token: &str) -> Result<AppProcess> {
        match b.target {
            Target::SampleApp => Self::sample_app(token).await,
            Target::Scim2Server => {
                let bin = b.scim2_server.as_ref().context(
                    "--target scim2-server needs the program: --scim2-server PATH or ROSTER_SCIM2_SERVER \
                     (`source scripts/peers.sh && peers_install` puts it in .venv/bin)",
                )?;
                Self::scim2_server(bin, token).await
            }
        }
    }

    pub(crate) async fn sample_app(token: &str) -> Result<AppProcess> {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["sample-app", "--listen", "127.0.0.1:0"])
            .env("ROSTER_SAMPLE_TOKEN", token)
            .env("ROSTER_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start the sample app")?;
        let stdout = child.stdout.take().context("sample app stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let base_url = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the sample app did not start within 30 s")??
            .context("the sample app exited")?;
        Ok(AppProcess { child, base_url, token: token.to_string() })
    }

    pub(crate) async fn scim2_server(bin: &std::path::Path, token: &str) -> Result<AppProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = tokio::process::Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string(), "--bearer-token", token])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let app = AppProcess { child, base_url: format!("http://127.0.0.1:{port}/v2"), token: token.to_string() };
        let deadline = Instant::now() + Duration::from_secs(30);
        while app.user_count().await.is_err() {
            if Instant::now() > deadline {
                bail!("scim2-server did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(app)
    }

    pub(crate) async fn user_count(&self) -> Result<u64> {
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/Users?count=1", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        v["totalResults"].as_u64().context("the app's list answer has no totalResults")
    }

    /// CPU seconds (this process, the app's process) used so far.
    fn cpu(&self) -> (f64, f64) {
        let app = self.child.id().and_then(crate::bench::cpu_secs);
        (crate::bench::cpu_secs(0).unwrap_or(0.0), app.unwrap_or(0.0))
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The figures of one directory size.
struct Figures {
    users: usize,
    /// The median rates of the runs.
    raw_rate: f64,
    engine_rate: f64,
    /// Each run's (engine, raw) rates.
    runs: Vec<(f64, f64)>,
    noop_ms: f64,
    ten_ms: f64,
    writes: u64,
    /// CPU µs per user (this process, the app) of the first engine run and the first raw loop.
    engine_cpu: (f64, f64),
    raw_cpu: (f64, f64),
    /// roster's CPU µs and context switches per user by thread name (first engine run).
    threads: Vec<(String, f64, f64)>,
    /// Context switches per user in this process (first engine run, first raw loop).
    switches: (f64, f64),
}

pub async fn provision(mut b: ProvisionBench) -> Result<()> {
    crate::serve::init_tracing();
    if b.users.is_empty() {
        b.users = match b.target {
            Target::SampleApp => vec![10_000, 100_000],
            Target::Scim2Server => vec![3_000, 10_000],
        };
    }
    let target = match b.target {
        Target::SampleApp => "roster's sample app",
        Target::Scim2Server => "scim2-server (PyPI, third-party)",
    };
    println!("provisioning benchmark into {target}: concurrency {}, every user has a manager", b.concurrency);
    let mut all = Vec::new();
    for &users in &b.users {
        let f = one_size(&b, users).await?;
        print_figures(&f);
        all.push(f);
    }
    if let (Some(small), Some(large)) = (all.iter().min_by_key(|f| f.users), all.iter().max_by_key(|f| f.users)) {
        if large.users > small.users {
            println!(
                "rate at {} users / rate at {} users: {:.2} (flat cost per user is 1.00)",
                large.users,
                small.users,
                large.engine_rate / small.engine_rate
            );
        }
    }
    Ok(())
}

impl Figures {
    /// The median of the runs' ratios: each run pairs an engine run with the
    /// raw loop that follows it, so a slow spell of the machine or of the app
    /// weighs on both sides of a ratio rather than on one side of the medians.
    fn ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self.runs.iter().map(|(e, r)| e / r).collect();
        ratios.sort_by(f64::total_cmp);
        ratios.get(ratios.len() / 2).copied().unwrap_or(self.engine_rate / self.raw_rate)
    }
}

fn print_figures(f: &Figures) {
    println!("{} users:", f.users);
    println!("  raw client loop : {:>9.0} users/s", f.raw_rate);
    println!("  roster engine   : {:>9.0} users/s", f.engine_rate);
    println!("  ratio           : {:.2}", f.ratio());
    if f.runs.len() > 1 {
        let each: Vec<String> = f.runs.iter().map(|(e, r)| format!("{:.0}/{:.0} = {:.2}", e, r, e / r)).collect();
        println!(
            "  runs (roster/raw): {} (the rates above are the medians; the ratio is the median of the runs' \
             ratios, each run an engine run and the raw loop right after it)",
            each.join(", ")
        );
    }
    println!(
        "  requests per user in the initial cycle: {:.3} ({} writes; the limit is 1.0)",
        f.writes as f64 / f.users.max(1) as f64,
        f.writes
    );
    println!(
        "  CPU per user, client / app: roster {:.0} / {:.0} µs, raw loop {:.0} / {:.0} µs",
        f.engine_cpu.0, f.engine_cpu.1, f.raw_cpu.0, f.raw_cpu.1
    );
    let threads: Vec<String> = f.threads.iter().map(|(name, us, _)| format!("{name} {us:.0}")).collect();
    println!("  roster's CPU per user by thread: {} µs", threads.join(", "));
    let threads: Vec<String> = f.threads.iter().map(|(name, _, n)| format!("{name} {n:.2}")).collect();
    println!(
        "  context switches per user in this process: roster {:.2} ({}), raw loop {:.2}",
        f.switches.0,
        threads.join(", "),
        f.switches.1
    );
    println!("  incremental cycle, nothing to do : {:.1} ms (median of 5)", f.noop_ms);
    println!("  incremental cycle, 10 changes    : {:.1} ms", f.ten_ms);
    if let Some(rss) = crate::bench::peak_rss_mib() {
        println!("  peak RSS so far: {rss:.0} MiB (roster; the apps run in processes of their own)");
    }
}

/// A directory of `users` users, each but the first with a manager created
/// before them, eight reports per manager.
pub(crate) async fn directory(users: usize) -> Result<Store> {
    let store = Store::open_sqlite(&crate::bench::scratch_dir("provision")).await?;
    let mut batch = Vec::with_capacity(2000);
    for i in 0..users {
        let manager = (i > 0).then(|| format!("user{:06}@bench.example", (i - 1) / 8));
        batch.push((
            UserInput {
                user_name: format!("user{i:06}@bench.example"),
                given_name: Some(format!("Given{i}")),
                surname: Some("Bench".into()),
                display_name: Some(format!("Given{i} Bench")),
                mail: Some(format!("user{i:06}@bench.example")),
                job_title: Some(format!("Title {}", i % 40)),
                department: Some(format!("Dept {}", i % 12)),
                employee_id: Some(format!("E{i:06}")),
                ..UserInput::default()
            },
            manager,
        ));
        if batch.len() == 2000 {
            store.upsert_users_with_managers(std::mem::take(&mut batch)).await?;
        }
    }
    store.upsert_users_with_managers(batch).await?;
    Ok(store)
}

async fn one_size(b: &ProvisionBench, users: usize) -> Result<Figures> {
    let store = directory(users).await?;
    let engine = crate::serve::start_engine(&store, &crate::bench::scratch_dir("key")).await?;
    let mut runs = Vec::new();
    let mut first = None;
    for run in 0..b.runs.max(1) {
        let measured = engine_run(b, &store, &engine, users, run, run == 0).await?;
        let (raw_secs, raw_cpu, raw_switches) = raw_loop(b, &store, users).await?;
        runs.push((users as f64 / measured.secs, users as f64 / raw_secs));
        first.get_or_insert((measured, raw_cpu, raw_switches));
    }
    let (first, raw_cpu, raw_switches) = first.context("no run")?;
    let per_user = |(client, app): (f64, f64)| (client * 1e6 / users as f64, app * 1e6 / users as f64);
    let median = |pick: fn(&(f64, f64)) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(Figures {
        users,
        raw_rate: median(|r| r.1),
        engine_rate: median(|r| r.0),
        runs,
        noop_ms: first.noop_ms,
        ten_ms: first.ten_ms,
        writes: first.writes,
        engine_cpu: per_user(first.cpu),
        switches: (first.switches as f64 / users as f64, raw_switches as f64 / users as f64),
        threads: first.threads,
        raw_cpu: per_user(raw_cpu),
    })
}

/// What one engine run measured.
struct EngineRun {
    secs: f64,
    noop_ms: f64,
    ten_ms: f64,
    writes: u64,
    /// CPU seconds of the initial cycle (this process, the app).
    cpu: (f64, f64),
    /// This process's context switches in the initial cycle.
    switches: u64,
    /// This process's CPU µs and context switches per user in the initial
    /// cycle, by thread name.
    threads: Vec<(String, f64, f64)>,
}

/// The engine's initial cycle into a fresh app (scope "all": every user of the
/// directory); with `incremental`, then five no-op cycles and one of ten
/// changes. The app is turned off afterwards.
async fn engine_run(
    b: &ProvisionBench,
    store: &Store,
    engine: &std::sync::Arc<roster_engine::Engine>,
    users: usize,
    run: usize,
    incremental: bool,
) -> Result<EngineRun> {
    use roster_engine::settings::{Mode, SettingsPatch, Status};
    let app = AppProcess::start(b, "engine").await?;
    let name = format!("bench-{run}");
    let application = store.create_app(roster_store::ApplicationInput { name, template: "scim".into() }).await?;
    let patch = SettingsPatch {
        mode: Some(Mode::Automatic),
        status: Some(Status::On),
        tenant_url: Some(app.base_url.clone()),
        secret_token: Some(app.token.as_str().into()),
        concurrency: Some(b.concurrency),
        scope: Some(roster_engine::settings::Scope::All),
        ..Default::default()
    };
    engine.configure(&application.id, patch).await?;
    let (started, cpu_before) = (Instant::now(), app.cpu());
    let (threads_before, switches_before) = (crate::bench::use_by_thread(), crate::bench::switches());
    let counts = cycle(engine, &application.id).await?;
    let secs = started.elapsed().as_secs_f64();
    let threads = crate::bench::use_by_thread()
        .into_iter()
        .map(|(name, used)| {
            let before = threads_before.get(&name).copied().unwrap_or_default();
            let per_user = |x: f64| x / users as f64;
            (
                name,
                per_user((used.cpu - before.cpu) * 1e6),
                per_user(used.switches.saturating_sub(before.switches) as f64),
            )
        })
        .filter(|(_, us, _)| *us >= 1.0)
        .collect();
    let (cpu_after, switches) = (app.cpu(), crate::bench::switches().saturating_sub(switches_before));
    let cpu = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    let in_app = app.user_count().await?;
    if counts.created as usize != users || in_app as usize != users {
        bail!("the engine made {} accounts and the app holds {in_app}, for {users} users", counts.created);
    }
    let (mut noop_ms, mut ten_ms) = (0.0, 0.0);
    if incremental {
        let mut noop = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            cycle(engine, &application.id).await?;
            noop.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        noop.sort_by(f64::total_cmp);
        noop_ms = noop[noop.len() / 2];
        for u in store.users_after(None, 10).await? {
            let patch = roster_store::UserPatch { job_title: Some(Some("Changed".into())), ..Default::default() };
            store.update_user(&u.id, patch).await?;
        }
        let started = Instant::now();
        cycle(engine, &application.id).await?;
        ten_ms = started.elapsed().as_secs_f64() * 1000.0;
    }
    engine.configure(&application.id, SettingsPatch { status: Some(Status::Off), ..Default::default() }).await?;
    app.stop().await;
    // Each create is a POST, each update or enable a PATCH: the requests that
    // wrote to the app, against the fewest possible (one per user).
    let writes = counts.created + counts.updated + counts.enabled + counts.disabled;
    Ok(EngineRun { secs, noop_ms, ten_ms, writes, cpu, switches, threads })
}

/// One cycle, run on the runtime's worker threads as `roster serve` runs it
/// (not on the thread that waits for it).
async fn cycle(
    engine: &std::sync::Arc<roster_engine::Engine>,
    app: &roster_store::AppId,
) -> Result<roster_engine::status::Counts> {
    let (engine, app) = (engine.clone(), app.clone());
    Ok(tokio::spawn(async move { engine.cycle(&app).await }).await??)
}

/// The baseline: the same user resources (built by the same mapping) POSTed by
/// a plain client at the same concurrency into a fresh app. Returns the seconds,
/// the CPU seconds (this process, the app) and this process's context switches.
async fn raw_loop(b: &ProvisionBench, store: &Store, users: usize) -> Result<(f64, (f64, f64), u64)> {
    use futures::StreamExt;
    let mapping = roster_engine::job::compile_user_mapping(&roster_mapping::defaults::scim_app_mappings())?;
    let mut bodies = Vec::with_capacity(users);
    let mut after: Option<String> = None;
    loop {
        let page = store.users_after(after.as_deref(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.to_string());
        for u in &page {
            let src = roster_engine::source::UserSource { user: u, soft_deleted: false, roles: Vec::new() };
            let eval = roster_mapping::EvalContext::at(chrono::Utc::now());
            let attrs: Vec<(String, serde_json::Value)> =
                mapping.evaluate(&src, &eval, true)?.into_iter().map(|m| (m.target, m.value.to_json())).collect();
            bodies.push(roster_scim::build_resource(roster_scim::ResourceKind::User, &attrs).to_string());
        }
    }
    let app = AppProcess::start(b, "raw").await?;
    let http = reqwest::Client::new();
    let url = format!("{}/Users", app.base_url);
    let (started, cpu_before, switches_before) = (Instant::now(), app.cpu(), crate::bench::switches());
    let ok = futures::stream::iter(bodies.into_iter().map(|body| {
        let (http, url, token) = (http.clone(), url.clone(), app.token.clone());
        async move {
            http.post(&url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }
    }))
    .buffer_unordered(b.concurrency)
    .filter(|ok| futures::future::ready(*ok))
    .count()
    .await;
    let secs = started.elapsed().as_secs_f64();
    let (cpu_after, switches) = (app.cpu(), crate::bench::switches().saturating_sub(switches_before));
    app.stop().await;
    if ok != users {
        bail!("the raw loop made {ok} of {users} accounts");
    }
    Ok((secs, (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1), switches))
}
