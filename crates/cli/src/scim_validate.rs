//! `roster scim validate URL --token-file F [--via-server]`: the SCIM
//! validator (`roster_connectors::validate`) run here, or on the server
//! (`POST /api/v1/scim/validate`, which applies its destination rules), and
//! its report printed check by check.

use anyhow::{Context, Result};
use clap::Args;
#[cfg(test)]
use roster_connectors::validate::Outcome;
use roster_connectors::validate::{Check, Limits};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args)]
pub struct ValidateArgs {
    /// The endpoint's base URL, e.g. https://app.example.com/scim/v2.
    url: String,
    /// A file holding the bearer token.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// Run the checks on the roster server (--server) instead of here.
    #[arg(long)]
    via_server: bool,
}

impl ValidateArgs {
    /// Whether the checks run on the server.
    pub fn via_server(&self) -> bool {
        self.via_server
    }
}

/// Runs every check from this machine.
pub async fn validate(base: &str, token: &str) -> Result<Vec<Check>> {
    Ok(roster_connectors::validate::validate(base, token, Limits::local()).await?)
}

/// Runs the validator and prints its report; fails when a check failed.
pub async fn run(a: ValidateArgs, json_out: bool, server: Option<&crate::client::Client>) -> Result<()> {
    let token =
        std::fs::read_to_string(&a.token_file).with_context(|| format!("cannot read {}", a.token_file.display()))?;
    if a.via_server {
        let c = server.context("--via-server needs a server: --server URL or ROSTER_URL")?;
        let limit = std::time::Duration::from_secs(600);
        let answer = c.post_long("/scim/validate", &json!({"url": a.url, "token": token.trim()}), limit).await?;
        return print(answer["checks"].as_array().cloned().unwrap_or_default(), json_out);
    }
    let checks = validate(&a.url, token.trim()).await?;
    print(checks.iter().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).collect(), json_out)
}

/// Prints a report (checks as JSON, as the API gives them); fails when a check failed.
fn print(checks: Vec<Value>, json_out: bool) -> Result<()> {
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    let count = |o: &str| checks.iter().filter(|c| text(c, "outcome") == o).count();
    let (passed, failed) = (count("passed"), count("failed"));
    if json_out {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            let (name, what) = (text(c, "name"), text(c, "what"));
            match text(c, "outcome").as_str() {
                "passed" => println!("PASS           {name}  {what}"),
                "notSupported" => println!(
                    "NOT SUPPORTED  {name}  {what}\n               roster sends instead: {}",
                    text(c, "fallback")
                ),
                "skipped" => println!("SKIPPED        {name}  {what} ({})", text(c, "why")),
                _ => println!(
                    "FAIL           {name}  {what} ({})\n               {}\n               request: {}\n               answer:  {}",
                    text(c, "rfc"),
                    text(c, "why"),
                    text(c, "request"),
                    text(c, "answer")
                ),
            }
        }
        println!(
            "{passed} passed, {failed} failed, {} other, of {} checks",
            checks.len() - passed - failed,
            checks.len()
        );
    }
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
