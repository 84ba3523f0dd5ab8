//! Roles from the command line: `roster token create` gives a token a role and
//! an expiry, `roster token list` shows both, a token refused an operation says
//! which role it needs, and `roster admin create --role` makes a portal account
//! with that role. Runs against `roster serve` on a fresh SQLite store.

mod common;

use common::Roster;
use std::process::Output;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_admins_get_a_role_from_the_command_line() {
    let server = Roster::start().await;
    let out = server.cli(&["token", "create", "--name", "ci", "--role", "read", "--expires", "30d"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(secret.starts_with("rst_"), "the secret is printed: {}", text(&out));
    assert!(text(&out).contains("with the read role, expiring "), "{}", text(&out));

    let out = server.cli(&["token", "list"]).await;
    let listed = text(&out);
    let ci = listed.lines().find(|l| l.starts_with("ci ")).unwrap_or_else(|| panic!("ci is listed: {listed}"));
    assert!(ci.contains(" read ") && ci.contains(" UTC"), "role and expiry: {ci}");
    let admin = listed.lines().find(|l| l.starts_with("admin ")).unwrap_or_else(|| panic!("{listed}"));
    assert!(admin.contains(" admin ") && admin.contains(" never "), "the first token: {admin}");

    let out = server.cli_as(&secret, &["user", "list"]).await;
    assert!(out.status.success(), "a read token reads: {}", text(&out));
    let out = server.cli_as(&secret, &["user", "create", "--user-name", "ann"]).await;
    assert!(!out.status.success(), "a read token cannot create a user");
    assert!(text(&out).contains("that needs the admin role"), "{}", text(&out));

    let out = server.cli(&["token", "create", "--name", "x", "--role", "root"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("a role is read, operator or admin"), "{}", text(&out));
    let out = server.cli(&["token", "create", "--name", "x", "--role", "read", "--expires", "soon"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("not a duration"), "{}", text(&out));

    let password = std::env::temp_dir().join(format!("roster-password-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&password, "correct horse battery staple\n").expect("a password file");
    let file = password.to_string_lossy().to_string();
    let out = server.cli(&["admin", "create", "viewer", "--role", "operator", "--password-file", &file]).await;
    let _ = std::fs::remove_file(&password);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("with the operator role"), "{}", text(&out));
    let out = server.cli(&["admin", "list"]).await;
    assert!(text(&out).contains("viewer  operator"), "{}", text(&out));
    let out = server.cli(&["--json", "audit", "--principal", "local:roster admin"]).await;
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let entry = &page["items"][0];
    assert_eq!(entry["action"], "admin create", "{page}");
    assert_eq!(entry["target"], "admin:viewer");
    assert!(!page.to_string().contains("correct horse"), "the password is not in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_changes_as_a_table_json_and_csv() {
    let server = Roster::start().await;
    let out = server.cli(&["user", "create", "--user-name", "=cmd"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = server.cli(&["app", "create", "--name", "Crm", "--template", "scim"]).await;
    assert!(out.status.success(), "{}", text(&out));

    let out = server.cli(&["audit", "--since", "1h"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let table = text(&out);
    assert!(table.contains("WHO") && table.contains("token:admin") && table.contains("POST /users"), "{table}");

    let out = server.cli(&["--json", "audit", "--principal", "token:admin"]).await;
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let actions: Vec<&str> =
        page["items"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"POST /users") && actions.contains(&"POST /apps"), "{actions:?}");

    let out = server.cli(&["audit", "--csv"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(csv.starts_with("id,at,principal,role,source,action,target,outcome,request,before,after\n"), "{csv}");
    assert!(csv.contains("\"{\"\"userName\"\":\"\"=cmd\"\"}\""), "the request is one quoted cell: {csv}");
    assert!(!csv.contains("\n=") && !csv.contains(",="), "no cell starts a formula: {csv}");

    let out = server.cli(&["audit", "--since", "soon"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("not a duration"), "{}", text(&out));
    let reader = server.cli(&["token", "create", "--name", "r", "--role", "read"]).await;
    let secret = String::from_utf8_lossy(&reader.stdout).trim().to_string();
    let out = server.cli_as(&secret, &["audit"]).await;
    assert!(!out.status.success(), "the audit log is for admins only");
    assert!(text(&out).contains("that needs the admin role"), "{}", text(&out));
}
