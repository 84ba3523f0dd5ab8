//! The noun-verb commands of the CLI (`roster user create ...`), each one call (or
//! a few) of the admin API.

use crate::client::{enc, Client};
use crate::output;
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

const USER_COLUMNS: &[(&str, &str)] = &[
    ("userName", "USERNAME"),
    ("displayName", "DISPLAY NAME"),
    ("jobTitle", "TITLE"),
    ("active", "ACTIVE"),
    ("id", "ID"),
];

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user.
    Create(UserCreate),
    /// Change attributes: --set jobTitle=Engineer (an empty value clears).
    Update {
        user: String,
        #[arg(long = "set", value_name = "KEY=VALUE", required = true)]
        set: Vec<String>,
    },
    /// Disable a user (accountEnabled=false).
    Disable { user: String },
    /// Enable a user.
    Enable { user: String },
    /// Soft-delete a user (restorable for 30 days).
    Delete { user: String },
    /// Restore a soft-deleted user.
    Restore { user: String },
    /// Show a user and the apps it is assigned to.
    Show { user: String },
    /// List users.
    List(ListArgs),
}

#[derive(Args)]
pub struct UserCreate {
    #[arg(long)]
    user_name: String,
    #[arg(long)]
    display_name: Option<String>,
    #[arg(long)]
    given_name: Option<String>,
    #[arg(long)]
    surname: Option<String>,
    #[arg(long)]
    mail: Option<String>,
    #[arg(long)]
    job_title: Option<String>,
    #[arg(long)]
    department: Option<String>,
    #[arg(long)]
    employee_id: Option<String>,
    /// The manager's userName or id.
    #[arg(long)]
    manager: Option<String>,
    /// Any other attribute (mobile=..., city=..., extension_costCenter=...).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attr: Vec<String>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Free text search.
    #[arg(long)]
    search: Option<String>,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    #[arg(long, default_value_t = 100)]
    limit: i64,
}

/// Turns KEY=VALUE pairs into a JSON object in the API's shape.
fn attributes(pairs: &[String], clear_empty: bool) -> Result<Map<String, Value>> {
    let mut obj = Map::new();
    let mut ext = Map::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else { bail!("{pair:?} is not KEY=VALUE") };
        let value = if v.is_empty() && clear_empty { Value::Null } else { json!(v) };
        match k {
            "active" | "accountEnabled" => {
                obj.insert("active".into(), json!(v.eq_ignore_ascii_case("true")));
            }
            "businessPhones" => {
                let phones: Vec<&str> = v.split(';').filter(|s| !s.is_empty()).collect();
                obj.insert(k.into(), json!(phones));
            }
            _ => match k.strip_prefix("extension_") {
                Some(name) => {
                    ext.insert(name.to_string(), value);
                }
                None => {
                    obj.insert(k.to_string(), value);
                }
            },
        }
    }
    if !ext.is_empty() {
        obj.insert("extensions".into(), Value::Object(ext));
    }
    Ok(obj)
}

pub async fn user(c: &Client, json: bool, cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Create(a) => {
            let mut body = attributes(&a.attr, false)?;
            let fields = [
                ("userName", Some(a.user_name)),
                ("displayName", a.display_name),
                ("givenName", a.given_name),
                ("surname", a.surname),
                ("mail", a.mail),
                ("jobTitle", a.job_title),
                ("department", a.department),
                ("employeeId", a.employee_id),
                ("manager", a.manager),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    body.insert(k.into(), json!(v));
                }
            }
            output::object(json, &c.post("/users", &Value::Object(body)).await?);
        }
        UserCmd::Update { user, set } => {
            let body = Value::Object(attributes(&set, true)?);
            output::object(json, &c.patch(&format!("/users/{}", enc(&user)), &body).await?);
        }
        UserCmd::Disable { user } => {
            output::object(json, &c.post(&format!("/users/{}/disable", enc(&user)), &json!({})).await?)
        }
        UserCmd::Enable { user } => {
            output::object(json, &c.post(&format!("/users/{}/enable", enc(&user)), &json!({})).await?)
        }
        UserCmd::Delete { user } => output::object(json, &c.delete(&format!("/users/{}", enc(&user))).await?),
        UserCmd::Restore { user } => {
            output::object(json, &c.post(&format!("/users/{}/restore", enc(&user)), &json!({})).await?)
        }
        UserCmd::Show { user } => {
            let u = c.get(&format!("/users/{}", enc(&user))).await?;
            let assignments = c.get(&format!("/users/{}/assignments", enc(&user))).await?;
            if json {
                output::object(true, &json!({"user": u, "assignments": assignments}));
            } else {
                output::object(false, &u);
                println!();
                let rows: Vec<Value> = assignments
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| json!({"app": a["appName"], "role": a["roleName"], "via": via_text(&a["via"])}))
                    .collect();
                output::table(false, &assignments, &rows, &[("app", "APP"), ("role", "ROLE"), ("via", "VIA")]);
            }
        }
        UserCmd::List(l) => {
            let mut path = format!("/users?offset={}&limit={}", l.offset, l.limit);
            if let Some(s) = &l.search {
                path.push_str(&format!("&q={}", enc(s)));
            }
            let page = c.get(&path).await?;
            list_page(json, &page, USER_COLUMNS);
        }
    }
    Ok(())
}

/// The path of an effective assignment: "direct", or the groups from the user's own
/// up to the assigned one.
pub(crate) fn via_text(via: &Value) -> String {
    let groups: Vec<&str> = via.as_array().into_iter().flatten().filter_map(|g| g["displayName"].as_str()).collect();
    if groups.is_empty() {
        "direct".to_string()
    } else {
        groups.join(" ⊂ ")
    }
}

pub(crate) fn list_page(json: bool, page: &Value, columns: &[(&str, &str)]) {
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    output::table(json, page, &rows, columns);
    if !json {
        let (offset, total) = (page["offset"].as_i64().unwrap_or(0), page["total"].as_i64().unwrap_or(0));
        eprintln!("{}–{} of {}", if rows.is_empty() { offset } else { offset + 1 }, offset + rows.len() as i64, total);
    }
}

#[derive(Subcommand)]
pub enum GroupCmd {
    /// Create a group.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change attributes: --set description=... (displayName, description, mailNickname).
    Update {
        group: String,
        #[arg(long = "set", value_name = "KEY=VALUE", required = true)]
        set: Vec<String>,
    },
    /// Add a user or a nested group.
    AddMember(Membership),
    /// Remove a user or a nested group.
    RemoveMember(Membership),
    /// Show a group and its members.
    Show { group: String },
    /// List groups.
    List(ListArgs),
    /// Delete a group.
    Delete { group: String },
}

#[derive(Args)]
pub struct Membership {
    group: String,
    #[arg(long, conflicts_with = "member_group", required_unless_present = "member_group")]
    user: Option<String>,
    #[arg(long = "group", id = "member_group")]
    member_group: Option<String>,
}

pub async fn group(c: &Client, json: bool, cmd: GroupCmd) -> Result<()> {
    match cmd {
        GroupCmd::Create { name, description } => {
            output::object(json, &c.post("/groups", &json!({"displayName": name, "description": description})).await?)
        }
        GroupCmd::Update { group, set } => {
            let body = Value::Object(attributes(&set, true)?);
            output::object(json, &c.patch(&format!("/groups/{}", enc(&group)), &body).await?);
        }
        GroupCmd::AddMember(m) => {
            let body = match (&m.user, &m.member_group) {
                (Some(u), _) => json!({"user": u}),
                (None, Some(g)) => json!({"group": g}),
                _ => bail!("give --user or --group"),
            };
            c.post(&format!("/groups/{}/members", enc(&m.group)), &body).await?;
            if !json {
                println!("added");
            }
        }
        GroupCmd::RemoveMember(m) => {
            let member = m.user.or(m.member_group).unwrap_or_default();
            c.delete(&format!("/groups/{}/members/{}", enc(&m.group), enc(&member))).await?;
            if !json {
                println!("removed");
            }
        }
        GroupCmd::Show { group } => {
            let g = c.get(&format!("/groups/{}", enc(&group))).await?;
            let members = c.get(&format!("/groups/{}/members?limit=1000", enc(&group))).await?;
            if json {
                output::object(true, &json!({"group": g, "members": members}));
            } else {
                output::object(false, &g);
                println!();
                list_page(false, &members, &[("name", "MEMBER"), ("kind", "KIND"), ("id", "ID")]);
            }
        }
        GroupCmd::List(l) => {
            let mut path = format!("/groups?offset={}&limit={}", l.offset, l.limit);
            if let Some(s) = &l.search {
                path.push_str(&format!("&q={}", enc(s)));
            }
            let page = c.get(&path).await?;
            list_page(
                json,
                &page,
                &[("displayName", "NAME"), ("memberCount", "MEMBERS"), ("description", "DESCRIPTION"), ("id", "ID")],
            );
        }
        GroupCmd::Delete { group } => {
            c.delete(&format!("/groups/{}", enc(&group))).await?;
            if !json {
                println!("deleted");
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum ExprCmd {
    /// Evaluate an expression, over a user if given; errors show a caret under their position.
    Eval {
        expression: String,
        #[arg(long)]
        user: Option<String>,
    },
}

pub async fn expr(c: &Client, json: bool, cmd: ExprCmd) -> Result<()> {
    let ExprCmd::Eval { expression, user } = cmd;
    let r = c.post("/expressions/evaluate", &json!({"expression": expression, "user": user})).await?;
    if json {
        output::object(true, &r);
    } else if r["ok"] == true {
        println!("{}", r["value"]);
    } else {
        bail!("{}", r["rendered"].as_str().or(r["message"].as_str()).unwrap_or("the expression failed"));
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an API token; its secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// What the token may do: read, operator or admin.
        #[arg(long, value_parser = crate::admin::parse_role, required_unless_present = "scope", conflicts_with = "scope")]
        role: Option<roster_store::AccessRole>,
        /// `scim`: a token for roster's SCIM service only (/scim/v2), for an HR
        /// system or an identity tool pushing people; it reaches nothing else.
        #[arg(long, value_parser = ["scim"])]
        scope: Option<String>,
        /// How long the token lives, like 30d or 12h (the default: until revoked).
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// List API tokens.
    List,
    /// Revoke an API token.
    Revoke { name: String },
}

pub async fn token(c: &Client, json: bool, cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Create { name, role, scope, expires } => {
            let role = match scope {
                Some(_) => roster_store::AccessRole::Scim,
                None => role.unwrap_or(roster_store::AccessRole::Read),
            };
            if let Some(e) = &expires {
                if roster_store::parse_duration_ms(e).is_none() {
                    bail!("--expires {e:?} is not a duration like 30d, 12h or 90m");
                }
            }
            let mut body = json!({"name": name, "role": role});
            if let Some(e) = expires {
                body["expiresIn"] = json!(e);
            }
            let t = c.post("/tokens", &body).await?;
            if json {
                output::object(true, &t);
            } else {
                println!("{}", t["secret"].as_str().unwrap_or_default());
                let until = match t["token"]["expiresAt"].as_i64() {
                    Some(ms) => format!(", expiring {}", output::time(ms)),
                    None => String::new(),
                };
                eprintln!(
                    "token {name:?} created with the {role} role{until}; this is the only time its secret is shown"
                );
            }
        }
        TokenCmd::List => {
            let list = c.get("/tokens").await?;
            let now = chrono::Utc::now().timestamp_millis();
            let rows: Vec<Value> = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let expires = match t["expiresAt"].as_i64() {
                        Some(ms) if ms <= now => format!("expired {}", output::time(ms)),
                        Some(ms) => output::time(ms),
                        None => "never".to_string(),
                    };
                    json!({
                        "name": t["name"],
                        "role": t["role"],
                        "expires": expires,
                        "created": t["createdAt"].as_i64().map(output::time),
                        "lastUsed": t["lastUsedAt"].as_i64().map(output::time),
                        "id": t["id"],
                    })
                })
                .collect();
            output::table(
                json,
                &list,
                &rows,
                &[
                    ("name", "NAME"),
                    ("role", "ROLE"),
                    ("expires", "EXPIRES"),
                    ("created", "CREATED"),
                    ("lastUsed", "LAST USED"),
                    ("id", "ID"),
                ],
            );
        }
        TokenCmd::Revoke { name } => {
            c.delete(&format!("/tokens/{}", enc(&name))).await?;
            if !json {
                println!("revoked");
            }
        }
    }
    Ok(())
}

/// `roster workers`: every worker seen in the last hour, live ones first, with
/// the apps (by name) whose leases it holds.
pub async fn workers(c: &Client, json: bool) -> Result<()> {
    let workers = c.get("/workers").await?;
    let apps = c.get("/apps?limit=1000").await?;
    let names: std::collections::HashMap<&str, &str> = apps["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["id"].as_str()?, a["name"].as_str()?)))
        .collect();
    let rows: Vec<Value> = workers
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            let jobs: Vec<&str> = w["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|j| j.as_str())
                .map(|id| names.get(id).copied().unwrap_or(id))
                .collect();
            let state = match (w["live"].as_bool(), w["stoppedAt"].is_null()) {
                (Some(true), _) => "live",
                (_, false) => "stopped",
                _ => "dead",
            };
            json!({
                "name": w["name"], "id": w["id"], "state": state,
                "heartbeat": w["heartbeatAt"].as_i64().map(crate::output::time),
                "this": if w["this"] == true { "yes" } else { "" },
                "jobs": jobs,
            })
        })
        .collect();
    crate::output::table(
        json,
        &workers,
        &rows,
        &[
            ("name", "NAME"),
            ("state", "STATE"),
            ("heartbeat", "HEARTBEAT"),
            ("jobs", "APPS"),
            ("this", "ANSWERED"),
            ("id", "ID"),
        ],
    );
    Ok(())
}
