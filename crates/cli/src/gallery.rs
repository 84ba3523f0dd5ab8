//! `roster gallery`: the app templates roster ships, listed with the
//! provisioning modes each supports, and one template in full (its
//! credentials form, roles, quirks and default mappings).

use crate::client::{enc, Client};
use crate::output;
use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand)]
pub enum GalleryCmd {
    /// List the templates and the provisioning modes each supports.
    List,
    /// Show a template: credentials, roles, quirks, default mappings.
    Show { template: String },
}

/// The rows of `roster gallery list`: name, modes and what the app is.
pub fn list_rows(templates: &Value) -> Vec<Value> {
    templates
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            serde_json::json!({
                "name": t["name"],
                "displayName": t["displayName"],
                "modes": t["modesText"],
            })
        })
        .collect()
}

fn print_template(t: &Value) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    println!("{} ({})", text(&t["displayName"]), text(&t["name"]));
    println!("  {}", text(&t["description"]));
    println!("modes: {}", text(&t["modesText"]));
    let fields = t["credentials"].as_array().cloned().unwrap_or_default();
    if fields.is_empty() {
        println!("credentials: none");
    } else {
        println!("credentials{}:", if t["authorize"] == true { " (then `roster app authorize APP`)" } else { "" });
        for f in fields {
            let mut notes = Vec::new();
            if f["required"] == true {
                notes.push("required".to_string());
            }
            if f["secret"] == true {
                notes.push("secret".to_string());
            }
            if let Some(g) = f["group"].as_str() {
                notes.push(format!("login: {g}"));
            }
            println!("  {:<14} {} [{}]", text(&f["name"]), text(&f["label"]), notes.join(", "));
            if let Some(h) = f["help"].as_str() {
                println!("  {:<14} {h}", "");
            }
        }
    }
    let roles = &t["appRoles"];
    println!(
        "app roles: {}{}",
        if roles["source"] == "app" { "imported from the app" } else { "roster's own" },
        roles["defaultRole"]["name"]
            .as_str()
            .map(|n| format!("; default role {n:?} (refused for provisioning)"))
            .unwrap_or_default()
    );
    let matching: Vec<String> =
        t["matchingAttributes"].as_array().into_iter().flatten().filter_map(|m| m.as_str().map(String::from)).collect();
    println!("matching attributes: {}", matching.join(", "));
    println!("quirks:");
    for q in t["quirks"].as_array().into_iter().flatten() {
        println!("  - {}", text(q));
    }
    println!("default mappings: `roster gallery show {} --json` prints them", text(&t["name"]));
}

pub async fn run(c: &Client, json: bool, cmd: GalleryCmd) -> Result<()> {
    match cmd {
        GalleryCmd::List => {
            let templates = c.get("/gallery").await?;
            let rows = list_rows(&templates);
            output::table(json, &templates, &rows, &[("name", "TEMPLATE"), ("displayName", "APP"), ("modes", "MODES")]);
        }
        GalleryCmd::Show { template } => {
            let t = c.get(&format!("/gallery/{}", enc(&template))).await?;
            if json {
                output::object(true, &t);
            } else {
                print_template(&t);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_shows_every_template_with_its_modes() {
        let templates = json!([
            {"name": "scim", "displayName": "Generic SCIM 2.0 application", "modesText": "manual, automatic"},
            {"name": "manual", "displayName": "No API", "modesText": "manual only: no API"},
        ]);
        let rows = list_rows(&templates);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["modes"], "manual only: no API");
        assert_eq!(rows[0]["name"], "scim");
    }
}
