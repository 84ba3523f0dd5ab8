//! `roster serve`: opens the store (SQLite in the data directory, or PostgreSQL),
//! makes the admin token on first start, starts the engine and the HTTP server
//! (HTTPS with `--tls-cert` and `--tls-key`, re-reading them on SIGHUP), and shuts
//! both down cleanly on Ctrl-C or SIGTERM.

use anyhow::{Context, Result};
use clap::Args;
use roster_server::tls::{ServerCertificate, TlsFiles};
use roster_server::AppState;
use roster_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// PostgreSQL URL (postgres://...); the default is SQLite in the data directory.
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// roster's URL as admins' browsers reach it (OAuth vendors send them back
    /// to its /oauth/callback); default http://<listen address>, or https://
    /// with --tls-cert.
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SMTP server for alert emails: smtp://host:port, smtp://host:port?tls=starttls
    /// or smtps://host:port (user:password@ allowed with TLS).
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of alert emails.
    #[arg(long, env = "ROSTER_SMTP_FROM", default_value = "roster@localhost")]
    pub smtp_from: String,
    /// Serve HTTPS with this certificate (PEM: the certificate, then its chain);
    /// re-read with the key on SIGHUP.
    #[arg(long, env = "ROSTER_TLS_CERT", requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or SEC1).
    #[arg(long, env = "ROSTER_TLS_KEY", requires = "tls_cert", value_name = "FILE", hide_env_values = true)]
    pub tls_key: Option<PathBuf>,
    /// On PostgreSQL: this worker's name in status and `GET /api/v1/workers`
    /// (default: host name and process id).
    #[arg(long, env = "ROSTER_WORKER_NAME")]
    pub worker_name: Option<String>,
    /// On PostgreSQL: how long a job lease lasts unless renewed (renewed every
    /// third of it). A worker that dies loses its jobs to the others this long after.
    #[arg(long, env = "ROSTER_LEASE_TTL", default_value = "10s", value_parser = parse_ttl)]
    pub lease_ttl: std::time::Duration,
    /// Export traces to this OpenTelemetry collector (OTLP over HTTP, JSON),
    /// e.g. http://127.0.0.1:4318: spans of each cycle, batch, object and request.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// A folder watched for HR files: `<DIR>/<source name>/*.csv` is taken by
    /// that (hr-csv) source, then moved to `processed/` (or `failed/`, with why).
    #[arg(long, env = "ROSTER_INBOUND_DIR", value_name = "DIR")]
    pub inbound_dir: Option<PathBuf>,
}

fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let ms = roster_store::parse_duration_ms(s).ok_or_else(|| format!("{s:?} is not a duration (e.g. 10s, 1m)"))?;
    let ms = u64::try_from(ms).map_err(|_| "a lease lasts a positive time".to_string())?;
    if ms < 1000 {
        return Err("a lease lasts at least 1s".into());
    }
    Ok(std::time::Duration::from_millis(ms))
}

impl ServeArgs {
    /// The certificate and key files, when HTTPS is asked for (clap sees that
    /// both or neither are given).
    fn tls_files(&self) -> Option<TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert: cert.clone(), key: key.clone() }),
            _ => None,
        }
    }
}

/// Opens the store the flags name.
pub async fn open_store(database: Option<&str>, data_dir: &Path) -> Result<Store> {
    match database {
        Some(url) => Store::connect(url).await.context("cannot open the PostgreSQL store"),
        None => Store::open_sqlite(data_dir)
            .await
            .with_context(|| format!("cannot open the store in {}", data_dir.display())),
    }
}

/// The name of the lock file in a data directory.
const LOCK_FILE: &str = "serve.lock";

/// Holds the data directory for this process: on SQLite one process runs the jobs
/// of a data directory, since two would run the same job's cycle at once (two
/// creates for one user, a watermark moved backwards). The lock is the
/// operating system's on `serve.lock`, dropped when the process ends, SIGKILL
/// included; keep the file for as long as the process serves.
pub fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    roster_store::prepare_data_dir(data_dir)?;
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another roster process is already serving {} (it holds {LOCK_FILE}): on SQLite one process runs a data \
             directory's jobs; stop the other one, or run several workers against one PostgreSQL (--database)",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Writes the admin token on first start and says where it is.
pub async fn first_start(store: &Store, data_dir: &Path) -> Result<()> {
    if let Some(secret) = store.ensure_admin_token().await? {
        roster_store::prepare_data_dir(data_dir)?;
        let path = data_dir.join("admin.token");
        roster_store::secrets::write_private(&path, &secret)?;
        eprintln!("roster: created the admin API token; it is in {} (readable only by you)", path.display());
    }
    Ok(())
}

pub async fn run(args: ServeArgs, data_dir: &Path) -> Result<()> {
    let traces = init_tracing_with(args.otlp_endpoint.as_ref().map(|endpoint| roster_server::otlp::OtlpConfig {
        endpoint: endpoint.clone(),
        service_name: std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "roster".into()),
        interval: std::time::Duration::from_secs(2),
    }));
    // A wrong certificate stops the start before anything is opened or written.
    let certificate = args.tls_files().map(ServerCertificate::load).transpose()?;
    if let Some(certificate) = &certificate {
        reload_on_hangup(certificate.clone())?;
    }
    let scheme = if certificate.is_some() { "https" } else { "http" };
    let _serving = match args.database {
        None => Some(lock_data_dir(data_dir)?),
        Some(_) => None,
    };
    let store = open_store(args.database.as_deref(), data_dir).await?;
    first_start(&store, data_dir).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("roster: serving on {scheme}://{}", listener.local_addr()?);
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{}", args.listen));
    let smtp = match &args.smtp_url {
        Some(url) => Some(roster_notify::SmtpConfig::parse(url, &args.smtp_from).context("invalid --smtp-url")?),
        None => None,
    };
    let worker = match args.database {
        None => roster_engine::WorkerConfig::alone(),
        Some(_) => roster_engine::WorkerConfig::shared(args.worker_name.clone(), args.lease_ttl),
    };
    let cipher = load_cipher(&store, data_dir).await?;
    let clock = std::sync::Arc::new(roster_engine::reliability::SystemClock);
    let engine = roster_engine::Engine::build(store.clone(), cipher, clock, smtp, worker);
    eprintln!("roster: worker {}", engine.worker_id());
    if let Some(dir) = &args.inbound_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the inbound folder {}", dir.display()))?;
        engine.watch_inbound_dir(dir.clone());
        eprintln!("roster: watching {} for HR files (<source name>/*.csv)", dir.display());
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().run(wait_for(stopped.clone())));
    let state = AppState { store: store.clone(), engine: Some(engine.clone()), public_url };
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    match certificate {
        Some(certificate) => roster_server::serve_tls(listener, certificate, state, shutdown).await?,
        None => roster_server::serve(listener, state, shutdown).await?,
    }
    let _ = scheduler.await;
    engine.drain(std::time::Duration::from_secs(30)).await;
    engine.stop_worker().await;
    store.close().await;
    if let Some(traces) = traces {
        traces.flush().await;
    }
    Ok(())
}

/// The engine over `store`, with the master key of the data directory (or
/// `ROSTER_MASTER_KEY`).
pub async fn start_engine(store: &Store, data_dir: &Path) -> Result<std::sync::Arc<roster_engine::Engine>> {
    start_engine_with(store, data_dir, None).await
}

/// Like [`start_engine`], mailing alerts through `smtp`.
pub async fn start_engine_with(
    store: &Store,
    data_dir: &Path,
    smtp: Option<roster_notify::SmtpConfig>,
) -> Result<std::sync::Arc<roster_engine::Engine>> {
    let cipher = load_cipher(store, data_dir).await?;
    let clock = std::sync::Arc::new(roster_engine::reliability::SystemClock);
    Ok(roster_engine::Engine::with(store.clone(), cipher, clock, smtp))
}

/// The master key: `ROSTER_MASTER_KEY`, or the data directory's `master.key`
/// (after settling a rotation a stop cut short). The store must record the same
/// key (a new store records it): roster refuses to start with another one.
pub async fn load_cipher(store: &Store, data_dir: &Path) -> Result<roster_store::secrets::Cipher> {
    let env_key = std::env::var("ROSTER_MASTER_KEY").ok().filter(|k| !k.trim().is_empty());
    if env_key.is_none() {
        store.settle_key_files(data_dir).await.context("cannot settle the master key files")?;
    }
    let cipher =
        roster_store::secrets::Cipher::load(data_dir, env_key.as_deref()).context("cannot load the master key")?;
    let report = store.adopt_master_key(&cipher).await.context("cannot use the master key")?;
    if report.resealed > 0 {
        tracing::info!(resealed = report.resealed, "sealed stored secrets in the current form, bound to their app");
    }
    Ok(cipher)
}

/// Resolves when the watch turns true.
pub async fn wait_for(mut rx: tokio::sync::watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

pub fn init_tracing() {
    let _ = init_tracing_with(None);
}

/// Logs to stderr (filtered by `ROSTER_LOG`) and, with `otlp`, traces to an
/// OpenTelemetry collector: the spans of roster's work (cycle, batch, object,
/// request), whatever `ROSTER_LOG` says of the log.
pub fn init_tracing_with(otlp: Option<roster_server::otlp::OtlpConfig>) -> Option<roster_server::otlp::OtlpHandle> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| "roster=info,warn".into());
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter);
    let (traces, handle) = match otlp {
        Some(config) => {
            let (layer, handle) = roster_server::otlp::layer(config);
            let spans = tracing_subscriber::filter::Targets::new().with_target("roster", tracing::Level::DEBUG);
            (Some(layer.with_filter(spans)), Some(handle))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry().with(log).with(traces).try_init();
    handle
}

/// Re-reads the certificate and key on every SIGHUP, for the connections that
/// follow; a file that cannot be used is logged and the current certificate kept.
#[cfg(unix)]
fn reload_on_hangup(certificate: Arc<ServerCertificate>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Watching starts now, so a SIGHUP from here on reloads rather than ends roster.
    let mut hangups = signal(SignalKind::hangup()).context("cannot watch for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let reloading = certificate.clone();
            match tokio::task::spawn_blocking(move || reloading.reload()).await {
                Ok(Ok(())) => {
                    let cert = certificate.files().cert.display();
                    tracing::info!("SIGHUP: reloaded the TLS certificate from {cert}");
                }
                Ok(Err(e)) => tracing::error!("SIGHUP: {e}; still serving the previous certificate"),
                Err(e) => {
                    tracing::error!("SIGHUP: the TLS reload failed ({e}); still serving the previous certificate")
                }
            }
        }
    });
    Ok(())
}

/// Elsewhere there is no SIGHUP: the certificate is read once, at start.
#[cfg(not(unix))]
fn reload_on_hangup(_certificate: Arc<ServerCertificate>) -> Result<()> {
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("the file exists").permissions().mode() & 0o777
    }

    fn scratch_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("roster-private-{}", uuid::Uuid::new_v4().simple()))
    }

    #[tokio::test]
    async fn data_directory_and_every_file_in_it_are_readable_by_the_owner_only() {
        let dir = scratch_dir();
        let _serving = lock_data_dir(&dir).expect("the data directory is free");
        let store = open_store(None, &dir).await.expect("store opens");
        first_start(&store, &dir).await.expect("first start");
        roster_store::secrets::Cipher::load(&dir, None).expect("master key");
        let input = roster_store::UserInput { user_name: "ann@example.com".into(), ..Default::default() };
        store.create_user(input).await.expect("user written");

        assert_eq!(mode(&dir), 0o700, "data directory");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            names.push(path.file_name().expect("a name").to_string_lossy().into_owned());
        }
        names.sort();
        assert_eq!(names, ["admin.token", "master.key", "roster.db", "roster.db-shm", "roster.db-wal", "serve.lock"]);
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_process_on_one_sqlite_data_directory_is_refused() {
        let dir = scratch_dir();
        let first = lock_data_dir(&dir).expect("the data directory is free");
        // A second open of the lock file is what another process would do.
        let second = lock_data_dir(&dir).map(|_| ()).map_err(|e| e.to_string());
        let refused = second.expect_err("a second holder is refused");
        assert!(refused.contains("another roster process is already serving"), "{refused}");
        assert!(refused.contains("PostgreSQL"), "says what to do instead: {refused}");
        drop(first);
        lock_data_dir(&dir).expect("free again once the first holder is gone");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_open_data_directory_is_tightened_on_start() {
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let old = dir.join("roster.db");
        std::fs::write(&old, b"").expect("old database");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod file");

        let store = open_store(None, &dir).await.expect("store opens");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&old), 0o600);
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
