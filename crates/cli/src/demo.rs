//! `roster demo`: the main job for a newcomer. On the embedded SQLite store it
//! starts the server, starts the sample SCIM 2.0 application, seeds a directory of
//! a thousand people in a few groups, assigns groups to the app, provisions them
//! with a progress bar, then makes a few changes (a title change, a leaver, a
//! returner) and shows each reaching the app, prints a summary and the log, and
//! keeps serving until Ctrl-C (`--exit` stops when done).

use crate::client::Client;
use crate::serve::{first_start, open_store, shutdown_signal, start_engine, wait_for};
use anyhow::{bail, Context, Result};
use clap::Args;
use roster_server::AppState;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DemoArgs {
    /// Address of roster's server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// People in the seeded directory.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Stop when the demo is done instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

const APP: &str = "Sample SCIM app";
const GROUPS: &[&str] = &["Engineering", "Sales", "Support", "Finance"];
const TITLES: &[&str] = &["Engineer", "Account Executive", "Support Specialist", "Accountant", "Manager", "Analyst"];

pub async fn run(args: DemoArgs, data_dir: &Path) -> Result<()> {
    crate::serve::init_tracing();
    let _serving = crate::serve::lock_data_dir(data_dir)?;
    let store = open_store(None, data_dir).await?;
    first_start(&store, data_dir).await?;
    let token = std::fs::read_to_string(data_dir.join("admin.token"))
        .context("cannot read the admin token")?
        .trim()
        .to_string();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let engine = start_engine(&store, data_dir).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().run(wait_for(stopped.clone())));
    let server = tokio::spawn(roster_server::serve(
        listener,
        AppState { store: store.clone(), engine: Some(engine), public_url: base.clone() },
        wait_for(stopped),
    ));
    println!(
        "roster is serving on {base} (data in {}, admin token in {})",
        data_dir.display(),
        data_dir.join("admin.token").display()
    );

    let sample_token = format!("demo-{}", uuid::Uuid::new_v4().simple());
    let sample = roster_sample_app::start("127.0.0.1:0".parse()?, sample_token.clone(), Default::default()).await?;
    println!("the sample SCIM 2.0 app is serving on {}", sample.base_url);

    let c = Client::new(&base, token, None)?;
    seed(&c, args.users).await?;
    // A fresh sample app each run: start the app's provisioning from a clean state.
    if c.get(&format!("/apps/{}", crate::client::enc(APP))).await.is_ok() {
        c.delete(&format!("/apps/{}", crate::client::enc(APP))).await?;
    }
    c.post("/apps", &json!({"name": APP, "template": "scim"})).await?;
    let app = crate::client::enc(APP);
    c.patch(
        &format!("/apps/{app}/provisioning"),
        &json!({"tenantUrl": sample.base_url, "secretToken": sample_token, "mode": "automatic"}),
    )
    .await?;
    let t = c.post(&format!("/apps/{app}/provisioning/test-connection"), &json!({})).await?;
    println!("test connection: {}", t["message"].as_str().unwrap_or_default());
    for g in &GROUPS[..3] {
        c.post(&format!("/apps/{app}/assignments"), &json!({"group": g})).await?;
    }
    println!("assigned the groups {} to {APP}; turning provisioning on", GROUPS[..3].join(", "));
    c.post(&format!("/apps/{app}/provisioning/start"), &json!({})).await?;
    let started = Instant::now();
    let status = crate::app_commands::follow_cycle(&c, APP, false).await?;
    println!(
        "initial cycle: {} accounts created in {:.1} s; the app holds {} users",
        status.last_cycle.created,
        started.elapsed().as_secs_f64(),
        sample.state.user_count().await
    );

    // Changes, each watched until it reaches the app.
    let title_user = "user0001@demo.example";
    let leaver = "user0002@demo.example";
    let returner = "user0003@demo.example"; // in Finance, which is not assigned
    c.patch(&format!("/users/{title_user}"), &json!({"jobTitle": "Principal Engineer"})).await?;
    watch(&sample.state, title_user, "title change", |u| u["title"] == "Principal Engineer").await?;
    c.post(&format!("/users/{leaver}/disable"), &json!({})).await?;
    watch(&sample.state, leaver, "leaver disabled", |u| u["active"] == false).await?;
    c.post("/groups/Engineering/members", &json!({"user": returner})).await?;
    watch(&sample.state, returner, "newcomer to an assigned group provisioned", |u| u["active"] == true).await?;
    c.post(&format!("/users/{leaver}/enable"), &json!({})).await?;
    watch(&sample.state, leaver, "returner enabled", |u| u["active"] == true).await?;

    let s = c.get(&format!("/apps/{app}/provisioning/status")).await?;
    let to_date = &s["toDate"];
    println!(
        "\nsummary: created {} · updated {} · disabled {} · enabled {} · failed {}; {} accounts in the app",
        to_date["created"],
        to_date["updated"],
        to_date["disabled"],
        to_date["enabled"],
        to_date["failed"],
        s["accounts"]["provisioned"]
    );
    let logs = c.get(&format!("/apps/{app}/provisioning/logs?limit=8")).await?;
    println!("\nlatest provisioning log entries:");
    for l in logs["items"].as_array().into_iter().flatten() {
        let changed: Vec<String> = l["modified"]
            .as_array()
            .into_iter()
            .flatten()
            .take(3)
            .map(|m| match (m.get("addedCount"), m.get("removedCount")) {
                // A group's membership change: how many members joined and left.
                (Some(a), Some(r)) => format!("members +{a} -{r}"),
                _ => format!("{}={}", m["name"].as_str().unwrap_or_default(), crate::output::cell(&m["new"])),
            })
            .collect();
        println!(
            "  {:<8} {:<8} {:<24} {}",
            l["action"].as_str().unwrap_or_default(),
            l["status"].as_str().unwrap_or_default(),
            l["sourceName"].as_str().unwrap_or_default(),
            changed.join(" ")
        );
    }
    if !args.exit {
        println!(
            "\nroster keeps serving on {base}; try `roster app status \"{APP}\"` in another terminal. Ctrl-C stops."
        );
        shutdown_signal().await;
    }
    let _ = stop.send(true);
    let _ = server.await;
    let _ = scheduler.await;
    sample.stop().await?;
    store.close().await;
    Ok(())
}

async fn seed(c: &Client, n: usize) -> Result<()> {
    for g in GROUPS {
        if c.get(&format!("/groups/{g}")).await.is_err() {
            c.post("/groups", &json!({"displayName": g, "description": format!("The {g} team")})).await?;
        }
    }
    let rows: Vec<Value> = (1..=n)
        .map(|i| {
            json!({"userName": format!("user{i:04}@demo.example"), "givenName": format!("Person{i}"), "surname": "Demo",
                "displayName": format!("Person{i} Demo"), "mail": format!("user{i:04}@demo.example"),
                "jobTitle": TITLES[i % TITLES.len()], "department": GROUPS[i % GROUPS.len()], "employeeId": format!("E{i:05}"),
                "city": "Oslo", "country": "NO", "manager": if i > 10 { Some(format!("user{:04}@demo.example", 1 + i % 10)) } else { None }})
        })
        .collect();
    let answer = c.post("/users/bulk", &json!({"upsert": rows})).await?;
    let failed = answer["results"].as_array().into_iter().flatten().filter(|r| r["status"] == "error").count();
    if failed > 0 {
        bail!("{failed} demo users could not be written");
    }
    // Memberships: every person in the group of their department.
    for i in 1..=n {
        let g = GROUPS[i % GROUPS.len()];
        c.post(&format!("/groups/{g}/members"), &json!({"user": format!("user{i:04}@demo.example")})).await?;
    }
    println!("seeded {n} people in the groups {}", GROUPS.join(", "));
    Ok(())
}

async fn watch(
    state: &roster_sample_app::SampleState,
    user: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if state.user_by_name(user).await.is_some_and(|u| done(&u)) {
            println!("{what}: {user} reached the app in {} ms", started.elapsed().as_millis());
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("{what}: {user} did not reach the app within 30 s")
}
