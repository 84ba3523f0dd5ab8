//! What the Salesforce connector needs to know: how to log in
//! ([`SalesforceAuth`], secrets never printed), where the org is, the
//! template values of required User fields, and how roles map to User
//! fields ([`RoleKind`]).

use std::time::Duration;

use secrecy::SecretString;

use super::fit::DEFAULT_USER_FIELDS;

/// How roster logs in to Salesforce (the app's admin credentials).
#[derive(Clone, Debug)]
pub enum SalesforceAuth {
    /// The SOAP API `login()` call with an admin account: the tutorial's
    /// Admin Username, Admin Password and Secret Token (the security token).
    Password {
        /// The admin's Salesforce username.
        username: String,
        /// The admin's password (never printed).
        password: SecretString,
        /// The admin's security token, appended to the password; empty when
        /// roster's address is in the org's trusted IP ranges (never printed).
        security_token: SecretString,
    },
    /// The OAuth 2.0 client credentials flow of a connected app with a
    /// run-as user; needs the org's My Domain URL as the login URL.
    ClientCredentials {
        /// The connected app's consumer key.
        client_id: String,
        /// The connected app's consumer secret (never printed).
        client_secret: SecretString,
    },
}

impl SalesforceAuth {
    /// The login method, as a person reads it in a connection test.
    pub(super) fn method(&self) -> &'static str {
        match self {
            SalesforceAuth::Password { .. } => "the SOAP API login() (username, password and security token)",
            SalesforceAuth::ClientCredentials { .. } => {
                "the OAuth 2.0 client credentials flow (the connected app's client id and secret)"
            }
        }
    }
}

/// Values for the User fields Salesforce requires and directories rarely
/// hold, used on create when the mapping gives none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDefaults {
    /// `TimeZoneSidKey`, e.g. `America/Los_Angeles`.
    pub time_zone_sid_key: String,
    /// `LocaleSidKey`, e.g. `en_US`.
    pub locale_sid_key: String,
    /// `EmailEncodingKey`, e.g. `UTF-8`.
    pub email_encoding_key: String,
    /// `LanguageLocaleKey`, e.g. `en_US`.
    pub language_locale_key: String,
}

impl Default for UserDefaults {
    fn default() -> Self {
        UserDefaults {
            time_zone_sid_key: "America/Los_Angeles".into(),
            locale_sid_key: "en_US".into(),
            email_encoding_key: "UTF-8".into(),
            language_locale_key: "en_US".into(),
        }
    }
}

/// How to reach a Salesforce org.
#[derive(Debug, Clone)]
pub struct SalesforceSettings {
    /// The login server: `https://login.salesforce.com` by default; the
    /// tutorial's Tenant URL replaces it (`https://test.salesforce.com` for
    /// a sandbox, the My Domain URL, a Government Cloud instance).
    pub login_url: String,
    /// The API version, `64.0` (the last one with the SOAP `login()` call).
    pub api_version: String,
    /// The admin credentials.
    pub auth: SalesforceAuth,
    /// Time limit of one request.
    pub timeout: Duration,
    /// How long the engine holds work when the org's rolling 24-hour API
    /// request limit is used up (`REQUEST_LIMIT_EXCEEDED`): Salesforce sends
    /// no `Retry-After`, and retrying soon only fails again. One hour.
    pub hold_on_limit: Duration,
    /// Template values of required fields for creates.
    pub user_defaults: UserDefaults,
    /// Domain appended to a `Username` that has no `@` when the record has
    /// no `Email` to take one from.
    pub username_domain: Option<String>,
    /// The User fields read by `find`, `list` and `get`.
    pub user_fields: Vec<String>,
    /// The most bytes of one answer read (16 MiB by default); a longer answer
    /// fails the call.
    pub max_response_bytes: usize,
    /// Whether the org may be on a private network address (see `destination`).
    pub allow_private_networks: bool,
}

impl SalesforceSettings {
    /// Settings with the defaults: `https://login.salesforce.com`, API 64.0,
    /// 30 s timeout, a one-hour hold on the API limit, `en_US`/`UTF-8`/
    /// `America/Los_Angeles` template values, the default User fields.
    pub fn new(auth: SalesforceAuth) -> Self {
        SalesforceSettings {
            login_url: "https://login.salesforce.com".into(),
            api_version: "64.0".into(),
            auth,
            timeout: Duration::from_secs(30),
            hold_on_limit: Duration::from_secs(3600),
            user_defaults: UserDefaults::default(),
            username_domain: None,
            user_fields: DEFAULT_USER_FIELDS.iter().map(|f| f.to_string()).collect(),
            max_response_bytes: crate::DEFAULT_MAX_RESPONSE_BYTES,
            allow_private_networks: false,
        }
    }

    /// The same settings with the tutorial's optional Tenant URL as the login
    /// server (blank keeps the default).
    pub fn with_tenant_url(mut self, tenant_url: Option<&str>) -> Self {
        if let Some(url) = tenant_url.map(str::trim).filter(|u| !u.is_empty()) {
            self.login_url = url.to_string();
        }
        self
    }
}

/// What a role of the app is in Salesforce, from its value (the record
/// id, whose first three characters name the object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// A Profile (`00e...`): goes to the user's `ProfileId`.
    Profile,
    /// A UserRole (`00E...`): goes to the user's `UserRoleId`.
    UserRole,
}

impl RoleKind {
    /// The kind of the role whose value is `value`; `None` for a value that
    /// is neither a profile id nor a role id (e.g. Default Access).
    pub fn of(value: &str) -> Option<RoleKind> {
        match value.get(..3) {
            Some("00e") => Some(RoleKind::Profile),
            Some("00E") => Some(RoleKind::UserRole),
            _ => None,
        }
    }

    /// The User field the role's value goes to.
    pub fn field(self) -> &'static str {
        match self {
            RoleKind::Profile => "ProfileId",
            RoleKind::UserRole => "UserRoleId",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::DEFAULT_ACCESS_ROLE;

    fn password_auth() -> SalesforceAuth {
        SalesforceAuth::Password {
            username: "admin@acme.com".into(),
            password: "pa55word".into(),
            security_token: "T0KEN".into(),
        }
    }

    #[test]
    fn tenant_url_replaces_the_login_server() {
        let s = SalesforceSettings::new(password_auth());
        assert_eq!(s.clone().with_tenant_url(Some(" ")).login_url, "https://login.salesforce.com");
        let t = s.with_tenant_url(Some("https://test.salesforce.com"));
        assert_eq!(t.login_url, "https://test.salesforce.com");
    }

    #[test]
    fn role_kinds_by_id_prefix() {
        assert_eq!(RoleKind::of("00e5w000002BaFVAA2"), Some(RoleKind::Profile));
        assert_eq!(RoleKind::of("00E5w000000abcdEAA"), Some(RoleKind::UserRole));
        assert_eq!(RoleKind::of(DEFAULT_ACCESS_ROLE), None);
        assert_eq!(RoleKind::Profile.field(), "ProfileId");
        assert_eq!(RoleKind::UserRole.field(), "UserRoleId");
    }
}
