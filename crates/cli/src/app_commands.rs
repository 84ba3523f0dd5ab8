//! The `roster app` commands: applications, their roles and assignments, and
//! provisioning (configure, test connection, start/stop/restart, sync with a
//! progress bar, status, logs, mappings, preview, on demand, hand-offs).

use crate::client::read;
use crate::client::{enc, Client};
use crate::commands::{list_page, via_text};
use crate::output;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use roster_engine::connect::ConnectionTest;
use roster_engine::on_demand::{Preview, ProvisioningOutcome};
use roster_engine::reliability::Quarantine;
use roster_engine::settings::SettingsView;
use roster_engine::status::{AllowedDeletes, Counts, Progress, ProvisioningStatus};
use serde_json::{json, Map, Value};

#[derive(Subcommand)]
pub enum AppCmd {
    /// Create an application from a gallery template.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "scim")]
        template: String,
    },
    /// List applications.
    List,
    /// Show an application.
    Show { app: String },
    /// Delete an application (accounts already in the app are left alone).
    Delete { app: String },
    /// Assign a user or group to the application.
    Assign(AssignArgs),
    /// Remove a user's or group's assignment.
    Unassign(AssignArgs),
    /// List the application's assignments.
    Assignments {
        app: String,
        /// Show every user the app reaches, with the path, instead of direct assignments.
        #[arg(long)]
        effective: bool,
    },
    /// Define an app role.
    AddRole {
        app: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        value: Option<String>,
    },
    /// List app roles.
    Roles { app: String },
    /// Configure provisioning: mode automatic, tenant URL, secret token, settings.
    Configure(Box<ConfigureArgs>),
    /// Test the connection to the app with the saved credentials (and import its roles).
    TestConnection { app: String },
    /// Print the URL a team admin opens to authorize roster (Dropbox for Business).
    Authorize { app: String },
    /// Manual mode: the accounts to change by hand (table, --csv FILE), or --confirm ID once applied.
    Handoff(crate::handoff::HandoffArgs),
    /// Turn provisioning on.
    Start { app: String },
    /// Turn provisioning off.
    Stop { app: String },
    /// Restart provisioning: the next cycle is an initial one (keeps the shadow; --full clears it).
    Restart {
        app: String,
        #[arg(long)]
        full: bool,
    },
    /// Let the disables the accidental-deletion guard staged through.
    AllowDeletes { app: String },
    /// The app's SCIM dialect: forms pinned, forms learned, attributes refused
    /// in every form; --reset forgets what was learned.
    Dialect {
        app: String,
        #[arg(long)]
        reset: bool,
    },
    /// Run a cycle now.
    Sync {
        app: String,
        /// Wait for the cycle to end, with a progress bar.
        #[arg(long)]
        wait: bool,
    },
    /// Show the provisioning status.
    Status { app: String },
    /// Show the provisioning logs.
    Logs(LogsArgs),
    /// The attribute mappings of the app as one JSON document.
    Mappings {
        app: String,
        #[command(subcommand)]
        action: MappingsAction,
    },
    /// Plan before apply: every change the next cycle would send (with a
    /// proposed --mappings or --scoping file), without calling the app.
    Plan(crate::plan::PlanArgs),
    /// Drift: compare the app's accounts and groups with what roster sent;
    /// --repair puts the app back to what the directory says.
    Drift(crate::drift::DriftArgs),
    /// Show the attributes a user would get in the app.
    Preview {
        app: String,
        #[arg(long)]
        user: String,
    },
    /// Provision one user now and show each step.
    ProvisionOnDemand {
        app: String,
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
pub enum MappingsAction {
    /// Print the mapping document.
    Show,
    /// Write the mapping document to a file.
    Export { file: std::path::PathBuf },
    /// Replace the mapping document with a file's (validated before it is saved).
    Import { file: std::path::PathBuf },
}

#[derive(Args)]
pub struct ConfigureArgs {
    app: String,
    #[arg(long)]
    tenant_url: Option<String>,
    /// A file holding the secret token (safer than --secret-token): a SCIM app's bearer
    /// token, or a Salesforce admin's security token (the tutorial's Secret Token).
    #[arg(long, conflicts_with = "secret_token")]
    secret_token_file: Option<std::path::PathBuf>,
    #[arg(long)]
    secret_token: Option<String>,
    #[arg(long)]
    notification_email: Option<String>,
    /// assigned or all.
    #[arg(long)]
    scope: Option<String>,
    /// Safety-net interval between cycles: 40m, 6h, 90s...
    #[arg(long)]
    interval: Option<String>,
    /// manual or automatic (default: automatic once a tenant URL is given).
    #[arg(long)]
    mode: Option<String>,
    /// Requests in flight to the app at once.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Most member values in one group PATCH (default 100).
    #[arg(long)]
    member_batch_size: Option<usize>,
    /// Pins how group members are removed: filter (`members[value eq "id"]`), value-list,
    /// one-per-request; auto (the default) lets roster learn what the app takes.
    #[arg(long, value_parser = ["auto", "filter", "value-list", "one-per-request"])]
    member_removal: Option<String>,
    /// Pins a SCIM form, ASPECT=FORM (complexValue=subAttributes, multiValued=wholeList,
    /// setVerb=replace, operations=one, userUpdate=put, ...); ASPECT=auto lets roster learn it.
    /// Repeatable.
    #[arg(long = "dialect", value_name = "ASPECT=FORM")]
    dialect: Vec<String>,
    #[command(flatten)]
    vendor: crate::credentials::VendorArgs,
    /// Most requests per second to the app (0: no limit).
    #[arg(long)]
    rate_limit: Option<f64>,
    /// The accidental-deletion guard: most disables in one cycle without approval (default 500).
    #[arg(long)]
    delete_threshold: Option<u64>,
    /// The guard as a percentage of provisioned accounts (0: off).
    #[arg(long)]
    delete_threshold_percent: Option<f64>,
    /// Mail a failure digest (at most hourly) to the notification email: true or false.
    #[arg(long)]
    send_failure_email: Option<bool>,
    /// Hours between scheduled drift checks (0: none).
    #[arg(long)]
    drift_check_hours: Option<u64>,
    /// Let the app's URLs use plain http off loopback (credentials unencrypted): true or false.
    #[arg(long)]
    allow_insecure_http: Option<bool>,
    /// Let the app's URLs be private network addresses (10/8, 192.168/16...): true or false.
    #[arg(long)]
    allow_private_networks: Option<bool>,
    /// Most bytes of one answer of the app (default 16 MiB).
    #[arg(long)]
    max_response_bytes: Option<u64>,
    /// Most objects read from one listing of the app (default 200000).
    #[arg(long)]
    max_listed_objects: Option<u64>,
}

#[derive(Args)]
pub struct LogsArgs {
    app: String,
    /// success, failure or skipped.
    #[arg(long)]
    status: Option<String>,
    /// A userName or id.
    #[arg(long)]
    user: Option<String>,
    /// Create, Update, Disable, Enable, Skip.
    #[arg(long)]
    action: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print CSV.
    #[arg(long)]
    csv: bool,
}

#[derive(Args)]
pub struct AssignArgs {
    app: String,
    #[arg(long, conflicts_with = "group", required_unless_present = "group")]
    user: Option<String>,
    #[arg(long)]
    group: Option<String>,
    /// App role (the default role when omitted).
    #[arg(long)]
    role: Option<String>,
}

pub async fn app(c: &Client, json: bool, cmd: AppCmd) -> Result<()> {
    match cmd {
        AppCmd::Create { name, template } => {
            output::object(json, &c.post("/apps", &json!({"name": name, "template": template})).await?)
        }
        AppCmd::List => {
            let apps = c.get("/apps").await?;
            let rows = apps.as_array().cloned().unwrap_or_default();
            output::table(json, &apps, &rows, &[("name", "NAME"), ("template", "TEMPLATE"), ("id", "ID")]);
        }
        AppCmd::Show { app } => output::object(json, &c.get(&format!("/apps/{}", enc(&app))).await?),
        AppCmd::Delete { app } => {
            c.delete(&format!("/apps/{}", enc(&app))).await?;
            if !json {
                println!("deleted");
            }
        }
        AppCmd::Assign(a) => {
            let body = json!({"user": a.user, "group": a.group, "role": a.role});
            let body = Value::Object(
                body.as_object().cloned().unwrap_or_default().into_iter().filter(|(_, v)| !v.is_null()).collect(),
            );
            output::object(json, &c.post(&format!("/apps/{}/assignments", enc(&a.app)), &body).await?);
        }
        AppCmd::Unassign(a) => {
            let mut path = format!("/apps/{}/assignments?", enc(&a.app));
            match (&a.user, &a.group) {
                (Some(u), _) => path.push_str(&format!("user={}", enc(u))),
                (None, Some(g)) => path.push_str(&format!("group={}", enc(g))),
                _ => bail!("give --user or --group"),
            }
            if let Some(r) = &a.role {
                path.push_str(&format!("&role={}", enc(r)));
            }
            c.delete(&path).await?;
            if !json {
                println!("unassigned");
            }
        }
        AppCmd::Assignments { app, effective } => {
            if effective {
                let mut page = c.get(&format!("/apps/{}/effective-assignments?limit=1000", enc(&app))).await?;
                if !json {
                    for item in page["items"].as_array_mut().into_iter().flatten() {
                        item["via"] = json!(via_text(&item["via"]));
                    }
                }
                list_page(json, &page, &[("userName", "USER"), ("roleName", "ROLE"), ("via", "VIA")]);
            } else {
                let page = c.get(&format!("/apps/{}/assignments?limit=1000", enc(&app))).await?;
                list_page(json, &page, &[("principalName", "NAME"), ("principalKind", "KIND"), ("roleName", "ROLE")]);
            }
        }
        AppCmd::AddRole { app, name, value } => output::object(
            json,
            &c.post(&format!("/apps/{}/roles", enc(&app)), &json!({"name": name, "value": value})).await?,
        ),
        AppCmd::Roles { app } => {
            let roles = c.get(&format!("/apps/{}/roles", enc(&app))).await?;
            let rows = roles.as_array().cloned().unwrap_or_default();
            output::table(
                json,
                &roles,
                &rows,
                &[("name", "NAME"), ("value", "VALUE"), ("isDefault", "DEFAULT"), ("refused", "REFUSED")],
            );
        }
        AppCmd::Configure(a) => {
            let token = match (&a.secret_token_file, a.secret_token) {
                (Some(f), _) => Some(
                    std::fs::read_to_string(f)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?
                        .trim()
                        .to_string(),
                ),
                (None, t) => t,
            };
            let mode = a.mode.or_else(|| a.tenant_url.as_ref().map(|_| "automatic".to_string()));
            let body = json!({"tenantUrl": a.tenant_url, "secretToken": token, "notificationEmail": a.notification_email,
                "scope": a.scope, "interval": a.interval, "mode": mode, "concurrency": a.concurrency,
                "memberBatchSize": a.member_batch_size, "rateLimit": a.rate_limit,
                "deleteThreshold": a.delete_threshold, "deleteThresholdPercent": a.delete_threshold_percent,
                "sendFailureEmail": a.send_failure_email, "allowInsecureHttp": a.allow_insecure_http,
                "allowPrivateNetworks": a.allow_private_networks, "maxResponseBytes": a.max_response_bytes,
                "maxListedObjects": a.max_listed_objects, "driftCheckHours": a.drift_check_hours,
                "memberRemoval": a.member_removal.map(|r| camel(&r)), "dialect": dialect_pins(&a.dialect)?});
            let mut body: Map<String, Value> =
                body.as_object().cloned().unwrap_or_default().into_iter().filter(|(_, v)| !v.is_null()).collect();
            crate::credentials::add_to(&mut body, a.vendor)?;
            let body = Value::Object(body);
            let view: SettingsView = read(c.patch(&format!("/apps/{}/provisioning", enc(&a.app)), &body).await?)?;
            if !view.cleared_credentials.is_empty() {
                eprintln!(
                    "note: the URL changed, so the credentials sent to it were cleared ({}): set them again",
                    view.cleared_credentials.join(", ")
                );
            }
            output::object(json, &serde_json::to_value(&view)?);
        }
        AppCmd::TestConnection { app } => {
            let answer = c.post(&format!("/apps/{}/provisioning/test-connection", enc(&app)), &json!({})).await?;
            let tested: ConnectionTest = read(answer.clone())?;
            if json {
                output::object(true, &answer);
            } else if tested.ok {
                println!("connection OK: {}", tested.message);
            } else {
                bail!("connection failed: {}", tested.message);
            }
        }
        AppCmd::Authorize { app } => crate::credentials::authorize(c, json, &app).await?,
        AppCmd::Handoff(a) => crate::handoff::run(c, json, a).await?,
        AppCmd::Plan(a) => crate::plan::run(c, json, a).await?,
        AppCmd::Drift(a) => crate::drift::run(c, json, a).await?,
        AppCmd::Start { app } => {
            output::object(json, &c.post(&format!("/apps/{}/provisioning/start", enc(&app)), &json!({})).await?)
        }
        AppCmd::Stop { app } => {
            output::object(json, &c.post(&format!("/apps/{}/provisioning/stop", enc(&app)), &json!({})).await?)
        }
        AppCmd::Restart { app, full } => {
            c.post(&format!("/apps/{}/provisioning/restart?full={full}", enc(&app)), &json!({})).await?;
            if !json {
                println!(
                    "restarted: the next cycle is an initial cycle{}",
                    if full { " (shadow cleared)" } else { "" }
                );
            }
        }
        AppCmd::Dialect { app, reset } => {
            if reset {
                let answer = c.post(&format!("/apps/{}/provisioning/dialect/reset", enc(&app)), &json!({})).await?;
                let forgot: roster_engine::Dialect = read(answer.clone())?;
                if json {
                    output::object(json, &answer);
                } else {
                    println!(
                        "forgot {} learned form(s) and {} refused attribute(s): the next changes try the first forms again",
                        forgot.learned.len(),
                        forgot.unsupported.len()
                    );
                }
            } else {
                let status: ProvisioningStatus =
                    read(c.get(&format!("/apps/{}/provisioning/status", enc(&app))).await?)?;
                if json {
                    output::object(json, &serde_json::to_value(&status.dialect).unwrap_or_default());
                } else {
                    print_dialect(&status.dialect, &shell_word(&app), true);
                }
            }
        }
        AppCmd::AllowDeletes { app } => {
            let answer = c.post(&format!("/apps/{}/provisioning/allow-deletes", enc(&app)), &json!({})).await?;
            let allowed: AllowedDeletes = read(answer.clone())?;
            if json {
                output::object(json, &answer);
            } else {
                println!("allowed: the next cycle disables the {} staged account(s)", allowed.allowed);
            }
        }
        AppCmd::Sync { app, wait } => {
            if wait {
                let status = sync_and_wait(c, &app, json).await?;
                output::object(json, &serde_json::to_value(&status.last_cycle)?);
            } else {
                c.post(&format!("/apps/{}/provisioning/sync", enc(&app)), &json!({})).await?;
                if !json {
                    println!("cycle started");
                }
            }
        }
        AppCmd::Status { app } => {
            let s = c.get(&format!("/apps/{}/provisioning/status", enc(&app))).await?;
            if json {
                output::object(true, &s);
            } else {
                print_status(&app, &read(s)?);
            }
        }
        AppCmd::Logs(l) => {
            let mut path = format!("/apps/{}/provisioning/logs?limit={}", enc(&l.app), l.limit);
            for (k, v) in [("status", &l.status), ("user", &l.user), ("action", &l.action)] {
                if let Some(v) = v {
                    path.push_str(&format!("&{k}={}", enc(v)));
                }
            }
            if l.csv {
                path.push_str("&format=csv");
                print!("{}", c.get_text(&path).await?);
            } else {
                let page = c.get(&path).await?;
                list_page(
                    json,
                    &page,
                    &[
                        ("at", "AT"),
                        ("sourceName", "USER"),
                        ("action", "ACTION"),
                        ("status", "STATUS"),
                        ("errorMessage", "ERROR"),
                    ],
                );
            }
        }
        AppCmd::Mappings { app, action } => {
            let path = format!("/apps/{}/provisioning/mappings", enc(&app));
            match action {
                MappingsAction::Show => output::object(true, &c.get(&path).await?),
                MappingsAction::Export { file } => {
                    let doc = c.get(&path).await?;
                    std::fs::write(&file, serde_json::to_string_pretty(&doc)?)?;
                    println!("wrote {}", file.display());
                }
                MappingsAction::Import { file } => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                    let doc: Value = serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
                    c.put(&path, &doc).await?;
                    println!("saved; the next cycle evaluates every provisioned user again");
                }
            }
        }
        AppCmd::Preview { app, user } => {
            let answer = c.get(&format!("/apps/{}/provisioning/preview?user={}", enc(&app), enc(&user))).await?;
            if json {
                output::object(true, &answer);
            } else {
                let p: Preview = read(answer)?;
                println!("{} is {}", user, if p.in_scope { "in scope" } else { "out of scope" });
                output::object(false, &serde_json::to_value(&p.attributes)?);
            }
        }
        AppCmd::ProvisionOnDemand { app, user } => {
            let answer = c
                .post(&format!("/apps/{}/provisioning/provision-on-demand", enc(&app)), &json!({"user": user}))
                .await?;
            if json {
                output::object(true, &answer);
            } else {
                let r: ProvisioningOutcome = read(answer)?;
                println!("{} {}", r.action, r.status);
                for step in &r.steps {
                    println!("  {:<7} {}", step.step, step.outcome);
                }
                for m in &r.modified {
                    println!("  {} : {} → {}", m.name, output::cell(&m.old), output::cell(&m.new));
                }
                if let Some(e) = &r.error_message {
                    println!("  error: {e}");
                }
            }
        }
    }
    Ok(())
}

/// Follows the running cycle of `app` with a progress bar until it ends.
pub async fn follow_cycle(c: &Client, app: &str, quiet: bool) -> Result<ProvisioningStatus> {
    let bar = progress_bar(quiet);
    let path = format!("/apps/{}/provisioning/status", enc(app));
    let mut seen_running = false;
    for _ in 0..36_000 {
        let s: ProvisioningStatus = c.get_as(&path).await?;
        show_progress(&bar, &s.progress);
        if s.progress.running {
            seen_running = true;
        } else if seen_running || s.last_cycle_at.is_some() {
            bar.finish_and_clear();
            return Ok(s);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    bail!("the cycle did not end within an hour")
}

/// Runs a cycle of `app` now and follows it with a progress bar. Fails, with
/// the reason, when the cycle failed, left objects failed, was held by the app,
/// staged deletes, or left the job in quarantine: a script that syncs learns of
/// trouble from the exit status.
pub async fn sync_and_wait(c: &Client, app: &str, quiet: bool) -> Result<ProvisioningStatus> {
    let status_path = format!("/apps/{}/provisioning/status", enc(app));
    let sync_path = format!("/apps/{}/provisioning/sync?wait=true", enc(app));
    let empty = json!({});
    let run = c.post_long(&sync_path, &empty, std::time::Duration::from_secs(86_400));
    tokio::pin!(run);
    let bar = progress_bar(quiet);
    let ran = loop {
        tokio::select! {
            ran = &mut run => break ran,
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                if let Ok(s) = c.get_as::<ProvisioningStatus>(&status_path).await {
                    show_progress(&bar, &s.progress);
                }
            }
        }
    };
    bar.finish_and_clear();
    let status: ProvisioningStatus = c.get_as(&status_path).await?;
    let trouble = trouble(app, &status);
    match (ran, trouble) {
        (Err(e), Some(t)) => bail!("the cycle failed: {e}; {t}"),
        (Err(e), None) => bail!("the cycle failed: {e}"),
        (Ok(_), Some(t)) => bail!("{t}"),
        (Ok(_), None) => Ok(status),
    }
}

/// What in a job's status means a cycle did not do its work, in words, with
/// what to do about it.
fn trouble(app: &str, s: &ProvisioningStatus) -> Option<String> {
    let app_arg = shell_word(app);
    if let Some(q) = &s.quarantine {
        let next = match q.next_attempt {
            Some(t) => format!("next attempt at {}", when(t)),
            None => "provisioning was turned off".into(),
        };
        return Some(format!(
            "the job is in quarantine ({}): {}; {next}; fix the cause, then `roster app restart {app_arg}`",
            reason(q),
            q.message
        ));
    }
    if let Some(t) = held_until(s) {
        return Some(format!("the app asked roster to wait (Retry-After): the work is held until {}", when(t)));
    }
    if let Some(staged) = &s.staged {
        return Some(format!(
            "{} disable(s) staged by the accidental-deletion guard; `roster app allow-deletes {app_arg}` lets them through",
            staged.count
        ));
    }
    if s.last_cycle.failed > 0 {
        return Some(format!(
            "{} object(s) failed in the cycle (escrowed, retried later); `roster app logs {app_arg} --status failure`",
            s.last_cycle.failed
        ));
    }
    None
}

/// A quarantine's reason as the API names it (`TooManyDeletes`).
fn reason(q: &Quarantine) -> String {
    cell_of(&q.reason)
}

/// When the app's hold on the work ends, if it is still on.
fn held_until(s: &ProvisioningStatus) -> Option<i64> {
    s.hold_until.filter(|t| *t > chrono::Utc::now().timestamp_millis())
}

/// A name as a shell word (quoted when it holds anything but plain characters).
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|d| d.to_rfc3339()).unwrap_or_else(|| ms.to_string())
}

fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(0) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} users {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn show_progress(bar: &indicatif::ProgressBar, p: &Progress) {
    bar.set_length(p.total);
    bar.set_position(p.done);
    let c = &p.counts;
    bar.set_message(format!("created {} updated {} disabled {} failed {}", c.created, c.updated, c.disabled, c.failed));
}

fn print_status(app: &str, s: &ProvisioningStatus) {
    let p = &s.progress;
    println!("state        {}", cell_of(&s.state));
    println!("phase        {}", s.phase.map(|p| p.as_str()).unwrap_or_default());
    if p.running {
        println!("running      {}/{} ({:.0}%)", p.done, p.total, p.percent);
    }
    let fmt = |c: &Counts| {
        let unsupported = match c.unsupported {
            0 => String::new(),
            n => format!(" ({n} unsupported by the app)"),
        };
        format!(
            "created {} · updated {} · disabled {} · enabled {} · failed {}{unsupported} · skipped {}",
            c.created, c.updated, c.disabled, c.enabled, c.failed, c.skipped
        )
    };
    let ms = s.last_cycle_ms.map(|ms| ms.to_string()).unwrap_or_default();
    println!("last cycle   {} ({ms} ms)", fmt(&s.last_cycle));
    println!("to date      {}", fmt(&s.to_date));
    println!("accounts     {} provisioned, {} enabled", s.accounts.provisioned, s.accounts.enabled);
    for (at, label) in [(s.last_success_at, "last success"), (s.steady_state_at, "steady since")] {
        if let Some(ms) = at {
            println!(
                "{label:<12} {}",
                chrono::DateTime::from_timestamp_millis(ms).map(|d| d.to_rfc3339()).unwrap_or_default()
            );
        }
    }
    if let Some(e) = &s.last_error {
        println!("last error   {e}");
    }
    let app_arg = shell_word(app);
    if let Some(q) = &s.quarantine {
        println!("quarantine   {}: {}", reason(q), q.message);
        println!("  since      {}", when(q.since));
        match q.next_attempt {
            Some(t) => println!("  next       {}", when(t)),
            None => println!("  next       none: provisioning was turned off"),
        }
        println!("  attempts   {}", q.attempts);
        println!("  ends with  roster app restart {app_arg}");
    }
    if let Some(t) = held_until(s) {
        println!("held until   {} (the app asked roster to wait: Retry-After)", when(t));
    }
    if let Some(staged) = &s.staged {
        println!(
            "staged       {} disable(s) held by the deletion guard (threshold {}); allow: roster app allow-deletes {app_arg}",
            staged.count, staged.threshold
        );
    }
    print_dialect(&s.dialect, &app_arg, false);
    print_worker(s.worker.as_ref());
    if s.escrow.count > 0 {
        println!("escrow       {} object(s) failed, retried later:", s.escrow.count);
        for item in s.escrow.items.iter().take(5) {
            let who = item.source_name.as_deref().unwrap_or(&item.source_id);
            println!(
                "  {who}: {} (attempt {}, next at {})",
                item.error_message,
                item.attempts,
                when(item.next_retry_at)
            );
        }
    }
}

/// Which worker runs the job, and until when its lease holds.
fn print_worker(lease: Option<&roster_engine::status::JobLease>) {
    let now = chrono::Utc::now().timestamp_millis();
    match lease {
        Some(l) if l.worker_id.is_some() && l.expires_at > now => println!(
            "worker       {} (lease until {}, token {}{})",
            l.worker_name.as_deref().or(l.worker_id.as_deref()).unwrap_or_default(),
            when(l.expires_at),
            l.token,
            if l.here { ", the worker that answered" } else { "" }
        ),
        Some(_) => println!("worker       none now: the lease is free or expired, and the next live worker takes it"),
        None => {}
    }
}

/// The app's SCIM dialect, one line per form (`all`: also when nothing is
/// known yet).
fn print_dialect(d: &roster_engine::Dialect, app_arg: &str, all: bool) {
    if all && d.pinned.is_empty() && d.learned.is_empty() && d.unsupported.is_empty() {
        println!("dialect      nothing pinned or learned: roster sends the first forms and learns from refusals");
    }
    for (aspect, form) in &d.pinned {
        println!("dialect      {} = {} (pinned)", aspect.as_str(), form.as_str());
    }
    for (aspect, form) in d.learned.iter().filter(|(a, _)| !d.pinned.contains_key(*a)) {
        println!("dialect      {} = {} (learned)", aspect.as_str(), form.as_str());
    }
    for attribute in &d.unsupported {
        println!("unsupported  {attribute}: the app refuses it in every form; roster no longer sends it");
    }
    if !d.learned.is_empty() || !d.unsupported.is_empty() {
        println!("  reset with roster app dialect {app_arg} --reset");
    }
}

/// `value-list` as the API spells it (`valueList`).
fn camel(kebab: &str) -> String {
    let mut out = String::with_capacity(kebab.len());
    let mut upper = false;
    for ch in kebab.chars() {
        match (ch, upper) {
            ('-', _) => upper = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

/// `--dialect ASPECT=FORM` flags as the settings' `dialect` object (`None` when there are none).
fn dialect_pins(flags: &[String]) -> anyhow::Result<Option<Map<String, Value>>> {
    if flags.is_empty() {
        return Ok(None);
    }
    let mut pins = Map::new();
    for flag in flags {
        let (aspect, form) =
            flag.split_once('=').ok_or_else(|| anyhow::anyhow!("--dialect {flag:?}: write ASPECT=FORM"))?;
        pins.insert(aspect.trim().to_string(), Value::String(camel(form.trim())));
    }
    Ok(Some(pins))
}

/// A value of the status as the API writes it (`not configured`).
fn cell_of(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v).map(|v| output::cell(&v)).unwrap_or_default()
}
