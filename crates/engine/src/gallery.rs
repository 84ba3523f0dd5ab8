//! The gallery: the app templates roster ships, as data. Each template is one
//! JSON file under `crates/engine/templates/`, compiled into the binary and
//! parsed into [`Template`]: what the app is, the provisioning modes it
//! supports (and why only manual, when so), the credential fields its form
//! asks for, its default mappings, where its app roles come from, and the
//! quirks an admin should know. A new app made from a template starts with
//! the template's settings, mappings and default role ([`create_app`]).

use crate::settings::{JobSettings, Mode};
use crate::EngineError;
use roster_mapping::{AppMappings, SourceObjectType};
use roster_store::{Application, ApplicationInput, Store};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The template files, by name. One file per template; adding an app to the
/// gallery is adding a file here.
const FILES: &[(&str, &str)] = &[
    ("scim", include_str!("../templates/scim.json")),
    ("salesforce", include_str!("../templates/salesforce.json")),
    ("dropbox", include_str!("../templates/dropbox.json")),
    ("manual", include_str!("../templates/manual.json")),
];

/// Which connector provisions an app made from a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// SCIM 2.0.
    Scim,
    /// Salesforce's REST and SOAP APIs.
    Salesforce,
    /// Dropbox's API v2 team routes.
    Dropbox,
    /// None: the app is provisioned by hand (hand-offs only).
    None,
}

/// One field of a template's admin-credentials form. `name` is the field of
/// the provisioning settings (`PATCH /apps/{app}/provisioning`) it fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialField {
    /// The settings field, e.g. `adminUsername`.
    pub name: String,
    /// The label the form shows, e.g. `Admin Username`.
    pub label: String,
    /// A secret is write-only: the settings view only says whether it is set.
    pub secret: bool,
    /// Whether the app cannot be reached without it.
    pub required: bool,
    /// Fields of one group are filled together, as one way to log in
    /// (Salesforce: `password` or `clientCredentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Where to find the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// Where an app's roles come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleSource {
    /// roster's own roles (the default `User` role and those an admin adds).
    Roster,
    /// Imported from the app at Test Connection and every cycle.
    App,
}

/// The role an app made from a template starts with, instead of `User`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefaultRole {
    /// Its name, e.g. `Default Access`.
    pub name: String,
    /// Why assignments with it are refused, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The app roles of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRoles {
    /// roster's or the app's.
    pub source: RoleSource,
    /// The default role, when it is not roster's `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<DefaultRole>,
}

/// One app template of the gallery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// The name `--template` takes.
    pub name: String,
    /// The name people know the app by.
    pub display_name: String,
    /// What the app is and how roster reaches it.
    pub description: String,
    /// The provisioning modes the app supports.
    pub modes: Vec<Mode>,
    /// Why only manual provisioning is possible, when that is so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_only_reason: Option<String>,
    /// The connector that provisions the app.
    pub connector: ConnectorKind,
    /// Whether the credentials come from an OAuth Authorize step
    /// (`roster app authorize`) rather than only from the form.
    #[serde(default)]
    pub authorize: bool,
    /// The admin-credential fields the form asks for.
    pub credentials: Vec<CredentialField>,
    /// Where the app's roles come from.
    pub app_roles: AppRoles,
    /// What an admin should know about the app's API.
    pub quirks: Vec<String>,
    /// The mappings a new app starts with.
    pub mappings: AppMappings,
}

impl Template {
    /// Whether roster can provision the app itself.
    pub fn supports_automatic(&self) -> bool {
        self.modes.contains(&Mode::Automatic)
    }

    /// The matching attributes of the user mapping, in precedence order.
    pub fn matching_attributes(&self) -> Vec<String> {
        let Some(user) = self.mappings.object(SourceObjectType::User) else { return Vec::new() };
        let mut matching: Vec<(u32, &str)> =
            user.attributes.iter().filter_map(|a| Some((a.matching_precedence?, a.target.as_str()))).collect();
        matching.sort();
        matching.into_iter().map(|(_, t)| t.to_string()).collect()
    }

    /// The modes as a person reads them: `manual, automatic` or
    /// `manual only (<why>)`.
    pub fn modes_text(&self) -> String {
        if self.supports_automatic() {
            "manual, automatic".into()
        } else {
            match &self.manual_only_reason {
                Some(why) => format!("manual only: {why}"),
                None => "manual only".into(),
            }
        }
    }

    /// The settings a new app made from the template starts with: automatic
    /// where the template supports it, manual otherwise.
    pub fn initial_settings(&self) -> JobSettings {
        JobSettings {
            template: self.name.clone(),
            mode: if self.supports_automatic() { Mode::Automatic } else { Mode::Manual },
            ..JobSettings::default()
        }
    }

    /// The template as the gallery's detail view shows it.
    pub fn detail(&self) -> TemplateDetail {
        TemplateDetail {
            template: self.clone(),
            matching_attributes: self.matching_attributes(),
            modes_text: self.modes_text(),
        }
    }

    /// The template as the gallery's list shows it.
    pub fn summary(&self) -> TemplateSummary {
        TemplateSummary {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            modes: self.modes.clone(),
            manual_only_reason: self.manual_only_reason.clone(),
            modes_text: self.modes_text(),
        }
    }
}

/// A template as the gallery's list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSummary {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub modes: Vec<Mode>,
    pub manual_only_reason: Option<String>,
    /// The modes as a person reads them (`manual, automatic`, `manual only: ...`).
    pub modes_text: String,
}

/// A template in full, as the gallery's detail view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateDetail {
    #[serde(flatten)]
    pub template: Template,
    /// The matching attributes of the user mapping, in precedence order.
    pub matching_attributes: Vec<String>,
    /// The modes as a person reads them.
    pub modes_text: String,
}

/// Every template, in the gallery's order.
pub fn templates() -> &'static [Template] {
    static PARSED: OnceLock<Vec<Template>> = OnceLock::new();
    PARSED.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, text)| {
                let t: Template = serde_json::from_str(text).unwrap_or_else(|e| {
                    panic!("built-in template {name} is invalid (the gallery tests check it): {e}")
                });
                t
            })
            .collect()
    })
}

/// The template named `name` (any case).
pub fn template(name: &str) -> Option<&'static Template> {
    templates().iter().find(|t| t.name.eq_ignore_ascii_case(name.trim()))
}

/// The names of every template, for messages.
pub fn names() -> String {
    templates().iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The template named `name`, or an error that lists the known ones.
pub fn require(name: &str) -> Result<&'static Template, EngineError> {
    template(name)
        .ok_or_else(|| EngineError::Invalid(format!("unknown template {:?}: the gallery has {}", name.trim(), names())))
}

/// Creates an app from its template: the app, its provisioning job with the
/// template's settings and mappings, and the template's default role.
pub async fn create_app(store: &Store, input: ApplicationInput) -> Result<Application, EngineError> {
    let template = require(&input.template)?;
    let app = store.create_app(ApplicationInput { template: template.name.clone(), ..input }).await?;
    let settings =
        serde_json::to_value(template.initial_settings()).map_err(|e| EngineError::Invalid(e.to_string()))?;
    let mappings = serde_json::to_value(&template.mappings).map_err(|e| EngineError::Invalid(e.to_string()))?;
    let made = async {
        store.save_job_config(&app.id, &settings, None, Some(&mappings)).await?;
        if let Some(role) = &template.app_roles.default_role {
            store.set_default_role(&app.id, &role.name, role.refused.as_deref()).await?;
        }
        Ok::<_, EngineError>(())
    }
    .await;
    if let Err(e) = made {
        // An app without its template's job would provision as the wrong kind.
        let _ = store.delete_app(&app.id).await;
        return Err(e);
    }
    Ok(store.app(&app.id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{compile_group_mapping, compile_user_mapping};

    #[test]
    fn every_template_parses_and_its_mappings_compile() {
        assert_eq!(templates().len(), FILES.len());
        for (file, t) in FILES.iter().zip(templates()) {
            assert_eq!(file.0, t.name, "file name and template name agree");
            compile_user_mapping(&t.mappings).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            compile_group_mapping(&t.mappings).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert!(!t.modes.is_empty(), "{}", t.name);
            assert!(t.modes.contains(&Mode::Manual), "{}: every app can be provisioned by hand", t.name);
            assert_eq!(t.supports_automatic(), t.connector != ConnectorKind::None, "{}", t.name);
            assert_eq!(
                t.manual_only_reason.is_some(),
                !t.supports_automatic(),
                "{}: a manual-only template says why",
                t.name
            );
            assert!(!t.matching_attributes().is_empty(), "{}", t.name);
        }
    }

    #[test]
    fn credential_fields_are_settings_fields() {
        let known = [
            "tenantUrl",
            "secretToken",
            "adminUsername",
            "adminPassword",
            "clientId",
            "clientSecret",
            "apiUrl",
            "authorizeUrl",
            "tokenUrl",
        ];
        for t in templates() {
            for f in &t.credentials {
                assert!(known.contains(&f.name.as_str()), "{}: {} is not a settings field", t.name, f.name);
                let patch = serde_json::json!({ f.name.clone(): "x" });
                assert!(serde_json::from_value::<crate::settings::SettingsPatch>(patch).is_ok(), "{}", f.name);
            }
        }
    }

    #[test]
    fn the_scim_template_is_the_default_scim_mapping() {
        let scim = template("scim").expect("scim template");
        assert_eq!(scim.mappings, roster_mapping::defaults::scim_app_mappings());
    }

    #[test]
    fn lookups() {
        let check = |name: &str, expected: Option<&str>| {
            assert_eq!(template(name).map(|t| t.name.as_str()), expected, "{name}");
        };
        check("salesforce", Some("salesforce"));
        check(" Dropbox ", Some("dropbox"));
        check("fax", None);
        let e = require("fax").expect_err("unknown");
        assert!(e.to_string().contains("scim, salesforce, dropbox, manual"), "{e}");
        assert_eq!(template("manual").map(|t| t.initial_settings().mode), Some(Mode::Manual));
        assert_eq!(template("salesforce").map(|t| t.initial_settings().mode), Some(Mode::Automatic));
        assert_eq!(
            template("salesforce").map(|t| t.matching_attributes()),
            Some(vec!["Username".to_string(), "FederationIdentifier".to_string()])
        );
    }
}
