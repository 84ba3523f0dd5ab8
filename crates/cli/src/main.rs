//! `roster`: the one binary. `roster serve` runs the server (API + engine); every
//! other command is a client of the admin REST API.

mod admin;
mod app_commands;
mod audit;
mod bench;
mod bench_inbound;
mod bench_plan;
mod bench_portal;
mod bench_provision;
mod bench_scale;
mod client;
mod commands;
mod config_code;
mod credentials;
mod csv;
mod demo;
mod drift;
mod gallery;
mod handoff;
mod import;
mod key;
mod output;
mod plan;
mod scim_validate;
mod serve;
mod sources;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// The engine builds and drops many small values on several threads; the C
/// library's allocator spends a fifth of a cycle's time on them. Built without
/// transparent huge pages (`no_thp`): memory it hands back and takes again
/// would otherwise be zeroed by the kernel 2 MB at a time (a tenth of a
/// cycle's CPU in a profile of `roster bench provision`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Automated user provisioning: keeps SaaS applications in step with a directory.
#[derive(Parser)]
#[command(name = "roster", version, about)]
pub struct Cli {
    /// The roster server the commands talk to (http:// or https://).
    #[arg(long, global = true, env = "ROSTER_URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// A CA certificate (PEM) to trust besides the built-in roots, for a server
    /// whose certificate a private CA signed, or that is self-signed.
    #[arg(long, global = true, env = "ROSTER_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// API token (else the data directory's admin.token is used).
    #[arg(long, global = true, env = "ROSTER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Data directory (SQLite store, master key, admin token).
    #[arg(long, global = true, env = "ROSTER_DATA_DIR", default_value = "./roster-data")]
    data_dir: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: admin API and provisioning engine.
    Serve(serve::ServeArgs),
    /// See roster work: a sample app, a seeded directory, provisioning, and changes flowing.
    Demo(demo::DemoArgs),
    /// Users of the directory.
    #[command(subcommand)]
    User(commands::UserCmd),
    /// Groups of the directory.
    #[command(subcommand)]
    Group(commands::GroupCmd),
    /// Applications, assignments and provisioning.
    #[command(subcommand)]
    App(app_commands::AppCmd),
    /// Inbound sources: HR systems that push people into the directory.
    #[command(subcommand)]
    Source(sources::SourceCmd),
    /// The app templates: what roster can provision, and how.
    #[command(subcommand)]
    Gallery(gallery::GalleryCmd),
    /// Import objects from files.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Admin API tokens.
    #[command(subcommand)]
    Token(commands::TokenCmd),
    /// The audit log: who changed what, when and from where (an admin token's).
    Audit(audit::AuditArgs),
    /// Benchmarks (figures and ratios against a baseline of the same run).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// The expression language of attribute mappings.
    #[command(subcommand)]
    Expr(commands::ExprCmd),
    /// Admin accounts of the web portal (on the server's own store).
    #[command(subcommand)]
    Admin(admin::AdminCmd),
    /// The master key that seals the apps' credentials: rotation.
    #[command(subcommand)]
    Key(key::KeyCmd),
    /// Run the sample SCIM 2.0 application on its own (in memory).
    SampleApp(SampleAppArgs),
    /// The workers sharing the store: heartbeats, and the apps whose jobs each runs.
    Workers,
    /// The apps as one YAML document: template, settings, mappings, roles,
    /// assignments (never a secret).
    Export(config_code::ExportArgs),
    /// Make the apps a document names as it says (--dry-run: only say what would change).
    Apply(config_code::ApplyArgs),
    /// SCIM tools for app builders.
    #[command(subcommand)]
    Scim(ScimCmd),
}

#[derive(clap::Subcommand)]
enum ScimCmd {
    /// Check a SCIM endpoint with the requests roster sends: each check passed,
    /// failed (request, answer, RFC section) or not supported (with the form
    /// roster sends instead); a failure makes the exit status non-zero.
    Validate(scim_validate::ValidateArgs),
}

#[derive(Args)]
struct SampleAppArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The bearer token the app accepts.
    #[arg(long, env = "ROSTER_SAMPLE_TOKEN", hide_env_values = true)]
    token: String,
    /// PATCH forms the app refuses, as partial SCIM servers do (comma-separated):
    /// filter-paths, add, complex-values, many-operations, value-list-removal, patch.
    #[arg(long, value_delimiter = ',', value_parser = parse_refusal)]
    refuse: Vec<roster_sample_app::Refusal>,
    /// Keep the entries of emails, phoneNumbers and addresses without their type, as some apps do.
    #[arg(long)]
    drop_types: bool,
    /// Hold every answer back this many milliseconds, as a remote app's round trip would be.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
}

/// A sample-app refusal by name.
fn parse_refusal(name: &str) -> Result<roster_sample_app::Refusal, String> {
    roster_sample_app::Refusal::parse(name).ok_or_else(|| {
        let names: Vec<&str> = roster_sample_app::Refusal::ALL.iter().map(|r| r.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

#[derive(Subcommand)]
enum ImportCmd {
    /// Create or update users by userName from a CSV file whose header names the attributes.
    Users(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    file: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => return serve::run(args, &cli.data_dir).await,
        Command::Bench(cmd) => return bench::run(cmd).await,
        Command::Demo(args) => return demo::run(args, &cli.data_dir).await,
        Command::Admin(cmd) => return admin::run(cmd, &cli.data_dir, cli.json).await,
        Command::Key(cmd) => return key::run(cmd, &cli.data_dir, cli.json).await,
        Command::Scim(ScimCmd::Validate(a)) if !a.via_server() => return scim_validate::run(a, cli.json, None).await,
        Command::SampleApp(a) => {
            let options = roster_sample_app::SampleOptions {
                refuse: a.refuse,
                drop_types: a.drop_types,
                latency: a.latency_ms.map(std::time::Duration::from_millis),
                ..Default::default()
            };
            let app = roster_sample_app::start(a.listen, a.token, options).await?;
            // The first line of output is the base URL, for whoever started this process.
            println!("{}", app.base_url);
            serve::shutdown_signal().await;
            app.stop().await?;
            return Ok(());
        }
        _ => {}
    }
    let token = client::find_token(cli.token.clone(), &cli.data_dir)?;
    let client = client::Client::new(&cli.server, token, cli.ca_cert.as_deref())?;
    let json = cli.json;
    match cli.command {
        Command::Serve(_)
        | Command::Bench(_)
        | Command::Demo(_)
        | Command::SampleApp(_)
        | Command::Admin(_)
        | Command::Key(_) => Ok(()),
        Command::Scim(ScimCmd::Validate(a)) => scim_validate::run(a, json, Some(&client)).await,
        Command::User(c) => commands::user(&client, json, c).await,
        Command::Group(c) => commands::group(&client, json, c).await,
        Command::App(c) => app_commands::app(&client, json, c).await,
        Command::Gallery(c) => gallery::run(&client, json, c).await,
        Command::Source(c) => sources::run(&client, json, c).await,
        Command::Export(a) => config_code::export(&client, json, a).await,
        Command::Apply(a) => config_code::apply(&client, json, a).await,
        Command::Token(c) => commands::token(&client, json, c).await,
        Command::Audit(a) => audit::run(&client, json, a).await,
        Command::Expr(c) => commands::expr(&client, json, c).await,
        Command::Workers => commands::workers(&client, json).await,
        Command::Import(ImportCmd::Users(a)) => {
            let report = import::import_users(&client, &a.file, a.quiet || json).await?;
            if json {
                let failed: Vec<_> =
                    report.failed.iter().map(|(l, e)| serde_json::json!({"line": l, "error": e})).collect();
                println!(
                    "{}",
                    serde_json::json!({"created": report.created, "updated": report.updated, "unchanged": report.unchanged, "failed": failed})
                );
            } else {
                for (line, e) in &report.failed {
                    eprintln!("line {line}: {e}");
                }
                println!(
                    "imported: {} created, {} updated, {} unchanged, {} failed",
                    report.created,
                    report.updated,
                    report.unchanged,
                    report.failed.len()
                );
            }
            if report.failed.is_empty() {
                Ok(())
            } else {
                std::process::exit(2)
            }
        }
    }
}
