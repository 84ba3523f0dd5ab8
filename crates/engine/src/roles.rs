//! App roles that come from the app: a connector that defines its own roles
//! (Salesforce profiles, Dropbox admin roles) has them imported into the
//! app's roles at Test Connection and at the start of every cycle, so that
//! admins assign with roles the app knows, and a role the app refuses is
//! refused at assignment already.

use crate::EngineError;
use roster_connectors::Connector;
use roster_store::{AppId, ImportedRole, RoleImport, Store};

/// Imports the app's roles into roster's; `None` when the app's roles are
/// roster's own (the connector defines none).
pub async fn import_roles(
    store: &Store,
    app: &AppId,
    connector: &dyn Connector,
) -> Result<Option<RoleImport>, EngineError> {
    let Some(remote) = connector.app_roles().await? else { return Ok(None) };
    let roles: Vec<ImportedRole> = remote
        .into_iter()
        .map(|r| ImportedRole { value: r.value, name: r.name, description: r.description, refused: r.refused })
        .collect();
    let report = store.import_app_roles(app, &roles).await?;
    tracing::info!(app = %app, total = report.total, added = report.added, removed = report.removed, "app roles imported");
    Ok(Some(report))
}

/// What an import did, as Test Connection reports it.
pub fn describe(report: &RoleImport) -> String {
    let mut changes = Vec::new();
    for (n, what) in [(report.added, "new"), (report.updated, "changed"), (report.removed, "removed")] {
        if n > 0 {
            changes.push(format!("{n} {what}"));
        }
    }
    if report.orphaned > 0 {
        changes.push(format!("{} gone from the app but still assigned", report.orphaned));
    }
    let changes = if changes.is_empty() { "unchanged".to_string() } else { changes.join(", ") };
    format!("imported {} app role(s) from the app ({changes})", report.total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        let check = |r: RoleImport, expected: &str| assert_eq!(describe(&r), expected);
        check(RoleImport { total: 6, added: 6, ..Default::default() }, "imported 6 app role(s) from the app (6 new)");
        check(RoleImport { total: 3, ..Default::default() }, "imported 3 app role(s) from the app (unchanged)");
        check(
            RoleImport { total: 2, updated: 1, removed: 1, orphaned: 1, ..Default::default() },
            "imported 2 app role(s) from the app (1 changed, 1 removed, 1 gone from the app but still assigned)",
        );
    }
}
