//! Configuration as code: the apps as one document (template, settings,
//! mappings with their scoping filters, roles, assignments by name), exported
//! and applied. Secrets never leave: the export holds none, and a secret the
//! document gives is set only where none is set yet (rotate one with the
//! app's settings). Applying converges the apps it names to the document and
//! says what it changed; applying the same document again changes nothing.

use crate::settings::SettingsPatch;
use crate::{Engine, EngineError};
use roster_mapping::AppMappings;
use roster_store::{AppId, AppRoleInput, ApplicationInput, AssignmentTarget, PrincipalKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The settings whose values are secrets: write-only.
const SECRETS: &[&str] = &["secretToken", "adminPassword", "clientSecret"];

/// The document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigDocument {
    pub apps: Vec<AppConfig>,
}

/// One app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppConfig {
    pub name: String,
    /// The gallery template (`scim`, `salesforce`, `dropbox`, `manual`).
    pub template: String,
    /// The provisioning settings, as `PATCH .../provisioning` takes them
    /// (secrets only in a document applied, never in one exported).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mappings: Option<AppMappings>,
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    #[serde(default)]
    pub assignments: Vec<AssignmentConfig>,
}

/// An app role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleConfig {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An assignment: a user (by userName) or a group (by displayName), with a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignmentConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub role: String,
}

/// What applying did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    pub dry_run: bool,
    /// One line per change, `app: what`.
    pub changes: Vec<String>,
}

/// One app being applied: its id and name, the document's app, the app as it
/// stands, and whether this is a dry run.
#[derive(Clone, Copy)]
struct Step<'a> {
    id: &'a AppId,
    name: &'a str,
    want: &'a AppConfig,
    now: &'a AppConfig,
    dry_run: bool,
}

/// Whether a settings key is one a document carries: a field the settings
/// change takes, and not a secret.
fn exported(key: &str, value: &Value) -> bool {
    if SECRETS.contains(&key) {
        return false;
    }
    let one = Map::from_iter([(key.to_string(), value.clone())]);
    serde_json::from_value::<SettingsPatch>(Value::Object(one)).is_ok()
}

impl Engine {
    /// The document of the apps named (every app when none is).
    pub async fn export_config(&self, names: &[String]) -> Result<ConfigDocument, EngineError> {
        let mut apps = Vec::new();
        for app in self.store.list_apps().await? {
            if crate::inbound::SourceTemplate::parse(&app.template).is_some() {
                continue;
            }
            if !names.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(&app.name)) {
                continue;
            }
            apps.push(self.app_config(&app.id, &app.name, &app.template).await?);
        }
        apps.sort_by_key(|a| a.name.to_lowercase());
        Ok(ConfigDocument { apps })
    }

    async fn app_config(&self, id: &AppId, name: &str, template: &str) -> Result<AppConfig, EngineError> {
        let view =
            serde_json::to_value(self.settings_view(id).await?).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let settings: Map<String, Value> = view
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !v.is_null() && exported(k, v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut roles: Vec<RoleConfig> = self
            .store
            .app_roles(id)
            .await?
            .into_iter()
            .filter(|r| !r.imported)
            .map(|r| RoleConfig { name: r.name, value: r.value, description: r.description })
            .collect();
        roles.sort();
        let mut assignments = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.store.app_assignments(id, offset, 1000).await?;
            let n = page.items.len() as i64;
            for a in page.items {
                let (user, group) = match a.principal_kind {
                    PrincipalKind::Group => (None, Some(a.principal_name)),
                    _ => (Some(a.principal_name), None),
                };
                assignments.push(AssignmentConfig { user, group, role: a.role_name });
            }
            offset += n;
            if n == 0 || offset >= page.total {
                break;
            }
        }
        assignments.sort();
        Ok(AppConfig {
            name: name.to_string(),
            template: template.to_string(),
            settings,
            mappings: Some(self.mappings(id).await?),
            roles,
            assignments,
        })
    }

    /// Converges the apps the document names to it; on a dry run, only says
    /// what would change.
    pub async fn apply_config(&self, doc: ConfigDocument, dry_run: bool) -> Result<ApplyReport, EngineError> {
        let mut report = ApplyReport { dry_run, changes: Vec::new() };
        for want in doc.apps {
            self.apply_app(want, dry_run, &mut report.changes).await?;
        }
        Ok(report)
    }

    async fn apply_app(&self, want: AppConfig, dry_run: bool, changes: &mut Vec<String>) -> Result<(), EngineError> {
        let name = want.name.clone();
        let found = self.store.list_apps().await?.into_iter().find(|a| a.name.eq_ignore_ascii_case(&name));
        let (id, now) = match found {
            Some(app) => {
                if !app.template.eq_ignore_ascii_case(&want.template) {
                    return Err(EngineError::Invalid(format!(
                        "{name} is made from the template {}, not {}: a template is not changed in place",
                        app.template, want.template
                    )));
                }
                let now = self.app_config(&app.id, &app.name, &app.template).await?;
                (app.id, now)
            }
            None => {
                changes.push(format!("{name}: create the app (template {})", want.template));
                if dry_run {
                    return Ok(());
                }
                let input = ApplicationInput { name: name.clone(), template: want.template.clone() };
                let app = crate::gallery::create_app(&self.store, input).await?;
                let now = self.app_config(&app.id, &app.name, &app.template).await?;
                (app.id, now)
            }
        };
        let step = Step { id: &id, name: &name, want: &want, now: &now, dry_run };
        self.apply_settings(&step, changes).await?;
        if let Some(m) = want.mappings.as_ref().filter(|m| Some(*m) != now.mappings.as_ref()) {
            changes.push(format!("{name}: replace the mappings"));
            if !dry_run {
                self.set_mappings(&id, m.clone()).await?;
            }
        }
        for role in want.roles.iter().filter(|r| !now.roles.iter().any(|n| n.name.eq_ignore_ascii_case(&r.name))) {
            changes.push(format!("{name}: add the role {}", role.name));
            if !dry_run {
                let input = AppRoleInput {
                    name: role.name.clone(),
                    value: Some(role.value.clone()),
                    description: role.description.clone(),
                };
                self.store.create_role(&id, input).await?;
            }
        }
        self.apply_assignments(&step, changes).await
    }

    async fn apply_settings(&self, step: &Step<'_>, changes: &mut Vec<String>) -> Result<(), EngineError> {
        let Step { id, name, want, now, dry_run } = *step;
        let view =
            serde_json::to_value(self.settings_view(id).await?).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let mut patch = Map::new();
        for (k, v) in &want.settings {
            if SECRETS.contains(&k.as_str()) {
                // Set only where none is: a secret cannot be compared, and a
                // document applied twice must change nothing.
                if view[format!("{k}Set")] != Value::Bool(true) {
                    changes.push(format!("{name}: set {k}"));
                    patch.insert(k.clone(), v.clone());
                }
            } else if now.settings.get(k) != Some(v) {
                changes.push(format!("{name}: set {k} to {v}"));
                patch.insert(k.clone(), v.clone());
            }
        }
        if patch.is_empty() || dry_run {
            return Ok(());
        }
        let patch: SettingsPatch = serde_json::from_value(Value::Object(patch))
            .map_err(|e| EngineError::invalid_setting("settings", format!("{name}: {e}")))?;
        self.configure(id, patch).await?;
        Ok(())
    }

    async fn apply_assignments(&self, step: &Step<'_>, changes: &mut Vec<String>) -> Result<(), EngineError> {
        let Step { id, name, want, now, dry_run } = *step;
        let who = |a: &AssignmentConfig| match (&a.user, &a.group) {
            (Some(u), None) => Ok(format!("user {u}")),
            (None, Some(g)) => Ok(format!("group {g}")),
            _ => Err(EngineError::Invalid(format!("{name}: an assignment names one user or one group"))),
        };
        // Names match in any case, as the directory finds them.
        let key = |a: &AssignmentConfig| {
            let low = |s: &Option<String>| s.as_deref().map(str::to_lowercase);
            (low(&a.user), low(&a.group), a.role.to_lowercase())
        };
        let has = |list: &[AssignmentConfig], a: &AssignmentConfig| list.iter().any(|b| key(b) == key(a));
        for a in want.assignments.iter().filter(|a| !has(&now.assignments, a)) {
            changes.push(format!("{name}: assign {} ({})", who(a)?, a.role));
            if !dry_run {
                let target = self.target(a).await?;
                self.store.assign(id, &target, Some(&a.role)).await?;
            }
        }
        for a in now.assignments.iter().filter(|a| !has(&want.assignments, a)) {
            changes.push(format!("{name}: unassign {} ({})", who(a)?, a.role));
            if !dry_run {
                let target = self.target(a).await?;
                let role = self.store.find_role(id, Some(&a.role)).await?;
                self.store.unassign(id, &target, Some(&role.id)).await?;
            }
        }
        Ok(())
    }

    async fn target(&self, a: &AssignmentConfig) -> Result<AssignmentTarget, EngineError> {
        Ok(match (&a.user, &a.group) {
            (Some(u), _) => AssignmentTarget::User(self.store.find_user(u).await?.id),
            (_, Some(g)) => AssignmentTarget::Group(self.store.find_group(g).await?.id),
            _ => return Err(EngineError::Invalid("an assignment names one user or one group".into())),
        })
    }
}
