//! `roster admin`: the admin accounts people sign in to the web portal with.
//! These commands work on the server's own store (the data directory's SQLite
//! file, or `--database`), not through the API: the first account has to exist
//! before anyone can sign in. The password is read from standard input or from
//! `--password-file`, never from the command line, and only its Argon2id hash is
//! stored. Each change is written to the audit log (principal `local:roster admin`).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use roster_store::secrets::SecretString;
use roster_store::AccessRole;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Create an admin account (the password comes from stdin or --password-file).
    Create {
        #[command(flatten)]
        account: PasswordArgs,
        /// What the account may do in the portal: read, operator or admin.
        #[arg(long, value_parser = parse_role, default_value = "admin")]
        role: AccessRole,
    },
    /// Give an admin account a new password.
    SetPassword(PasswordArgs),
    /// List the admin accounts.
    List(StoreArgs),
}

#[derive(Args)]
pub struct StoreArgs {
    /// PostgreSQL URL (postgres://...); the default is SQLite in the data directory.
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
}

#[derive(Args)]
pub struct PasswordArgs {
    /// The admin's name (letters, digits, '.', '_', '-', '@').
    name: String,
    /// Read the password from this file (its first line) instead of stdin.
    #[arg(long)]
    password_file: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// A role named on the command line.
pub fn parse_role(name: &str) -> Result<AccessRole, String> {
    AccessRole::parse(name).map_err(|e| e.to_string())
}

fn read_password(file: Option<&Path>) -> Result<SecretString> {
    let line = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            text.lines().next().unwrap_or_default().to_string()
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!(
                    "Password (at least {} characters; it is shown as you type): ",
                    roster_portal::password::MIN_PASSWORD_CHARS
                );
                std::io::stderr().flush().ok();
            }
            let mut line = String::new();
            stdin.lock().read_line(&mut line).context("cannot read the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if line.is_empty() {
        bail!("no password given: pipe it to stdin or use --password-file");
    }
    Ok(SecretString::from(line))
}

/// Writes a change these commands made to the audit log: they work on the store
/// directly, so the principal is the command on the server's machine.
async fn audit(store: &roster_store::Store, action: &str, name: &str, after: Option<serde_json::Value>) -> Result<()> {
    let entry = roster_store::NewAuditEntry {
        principal: "local:roster admin".into(),
        action: action.into(),
        target: Some(format!("admin:{name}")),
        after,
        outcome: "ok".into(),
        ..roster_store::NewAuditEntry::default()
    };
    store.append_audit(&entry).await.context("the change is made, but the audit log could not be written")
}

pub async fn run(cmd: AdminCmd, data_dir: &Path, json: bool) -> Result<()> {
    match cmd {
        AdminCmd::Create { account: a, role } => {
            let password = read_password(a.password_file.as_deref())?;
            let store = crate::serve::open_store(a.store.database.as_deref(), data_dir).await?;
            let admin = roster_portal::password::create_admin(&store, &a.name, &password, role).await?;
            let after = serde_json::json!({"name": admin.name, "role": admin.role});
            audit(&store, "admin create", &admin.name, Some(after)).await?;
            store.close().await;
            if json {
                println!("{}", serde_json::to_string(&admin)?);
            } else {
                println!(
                    "created admin {} with the {} role: sign in to the portal at / with this name and the password",
                    admin.name, admin.role
                );
            }
        }
        AdminCmd::SetPassword(a) => {
            let password = read_password(a.password_file.as_deref())?;
            let store = crate::serve::open_store(a.store.database.as_deref(), data_dir).await?;
            roster_portal::password::set_admin_password(&store, &a.name, &password).await?;
            audit(&store, "admin set-password", &a.name, None).await?;
            store.close().await;
            println!("set a new password for admin {}", a.name);
        }
        AdminCmd::List(s) => {
            let store = crate::serve::open_store(s.database.as_deref(), data_dir).await?;
            let admins = store.list_admins().await?;
            store.close().await;
            if json {
                println!("{}", serde_json::to_string(&admins)?);
            } else {
                for a in admins {
                    println!("{}  {}", a.name, a.role);
                }
            }
        }
    }
    Ok(())
}
