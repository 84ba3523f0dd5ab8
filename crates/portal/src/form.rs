//! The forms the portal reads. The session middleware ([`crate::session`])
//! reads each form body once, bounded, to check its CSRF token and to write its
//! fields to the audit log, then hands the body on as it came.
//!
//! A form with a known set of fields is a `#[derive(Deserialize)]` struct that
//! a handler takes as [`Form<T>`]: axum's `Form` (serde_urlencoded), whose
//! refusals become a 400 page that says what is wrong. Fields are read with the
//! helpers of [`field`]: text is trimmed, an empty optional text is `None`, a
//! checkbox is a `bool`. A form whose field names are data (the scoping filter's
//! clause rows, the credential fields of an app's template) is read as
//! [`FormFields`], every field in order.

use crate::error::PortalError;
use axum::body::{Body, Bytes};
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The largest form body the portal reads.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// What a handler that reads a form says to a request that sent none.
const NOT_A_FORM: &str = "send the form as application/x-www-form-urlencoded";

fn too_large() -> PortalError {
    PortalError::BadRequest(format!("the form is larger than {MAX_FORM_BYTES} bytes"))
}

/// A form read into `T` by axum's `Form`; a body that is not a form, is too
/// large, or does not fit `T` (a field sent twice, a choice no page offers) is
/// a 400 page that says why.
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = PortalError;

    async fn from_request(request: Request, state: &S) -> Result<Form<T>, PortalError> {
        match axum::extract::Form::<T>::from_request(request, state).await {
            Ok(axum::extract::Form(t)) => Ok(Form(t)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(PortalError::BadRequest(NOT_A_FORM.into())),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(e) => Err(PortalError::BadRequest(format!("the form cannot be read: {}", e.body_text()))),
        }
    }
}

/// The form of an action button: no field but its CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct Button {}

/// Readers of one field, for `#[serde(deserialize_with = ...)]` on a form's
/// struct (with `#[serde(default)]` on the struct: an absent field is empty,
/// `None` or unchecked).
pub mod field {
    use serde::{Deserialize, Deserializer};

    /// Text, trimmed.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(String::deserialize(d)?.trim().to_string())
    }

    /// Text, trimmed; `None` when empty.
    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Some(text(d)?).filter(|s| !s.is_empty()))
    }

    /// A checkbox: checked when sent, unless its value is `off` or `false`.
    pub fn checkbox<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let value = String::deserialize(d)?;
        Ok(value != "off" && value != "false")
    }
}

/// A form's fields in order, as sent: for the CSRF check, the audit log and
/// the forms whose field names are data. Its `Debug` names the fields and
/// shows no value: a form may carry a password or an app's secret.
#[derive(Clone, Default)]
pub struct FormFields(pub Vec<(String, String)>);

impl std::fmt::Debug for FormFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FormFields").field(&self.0.iter().map(|(name, _)| name).collect::<Vec<_>>()).finish()
    }
}

impl FormFields {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> FormFields {
        FormFields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a field, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).map(str::trim).unwrap_or_default().to_string()
    }

    /// The value of a field, trimmed, or `None` when absent or empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|s| !s.is_empty())
    }

    /// Whether a checkbox is checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "off" && v != "false")
    }
}

/// The fields the session middleware read; a request that sent no form is a 400.
impl<S: Send + Sync> FromRequestParts<S> for FormFields {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<FormFields, PortalError> {
        parts.extensions.remove::<FormFields>().ok_or_else(|| PortalError::BadRequest(NOT_A_FORM.into()))
    }
}

/// Reads a form body, bounded: its bytes (to hand on) and its fields.
pub async fn read_form(body: Body) -> Result<(Bytes, FormFields), PortalError> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| too_large())?;
    let fields = FormFields::parse(&bytes);
    Ok((bytes, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default, rename_all = "camelCase")]
    struct Sample {
        #[serde(deserialize_with = "field::text")]
        user_name: String,
        #[serde(deserialize_with = "field::optional")]
        mail: Option<String>,
        #[serde(deserialize_with = "field::checkbox")]
        active: bool,
    }

    async fn read(body: &'static str) -> Result<Sample, PortalError> {
        let request = Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .map_err(|e| PortalError::BadRequest(e.to_string()))?;
        Form::<Sample>::from_request(request, &()).await.map(|Form(s)| s)
    }

    #[tokio::test]
    async fn typed_forms_trim_text_and_read_checkboxes() {
        let s = read("_csrf=x&userName=+ann+&mail=+&active=on").await.expect("a form");
        assert_eq!(s, Sample { user_name: "ann".into(), mail: None, active: true });
        let s = read("_csrf=x&mail=a%40x&active=off").await.expect("a form");
        assert_eq!(s, Sample { user_name: String::new(), mail: Some("a@x".into()), active: false });
        assert_eq!(read("").await.expect("an empty form"), Sample::default());
    }

    #[tokio::test]
    async fn a_field_sent_twice_is_a_400_that_names_it() {
        match read("userName=a&userName=b").await {
            Err(PortalError::BadRequest(m)) => assert!(m.contains("userName"), "{m}"),
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_body_that_is_no_form_is_a_400() {
        let request = Request::post("/").header("content-type", "application/json").body(Body::from("{}"));
        let request = request.expect("a request");
        match Form::<Sample>::from_request(request, &()).await {
            Err(PortalError::BadRequest(m)) => assert_eq!(m, NOT_A_FORM),
            Err(other) => panic!("expected a 400, got {other:?}"),
            Ok(_) => panic!("expected a 400, got a form"),
        }
    }

    #[test]
    fn fields_read_in_order() {
        let f = FormFields::parse(b"a=1&b=+x+&c=&a=2&box=on");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.text("b"), "x");
        assert_eq!(f.opt("c"), None);
        assert!(f.checked("box"));
        assert!(!f.checked("nope"));
    }

    #[test]
    fn fields_debug_names_without_values() {
        let shown = format!("{:?}", FormFields::parse(b"name=ops&password=hunter2hunter2&secretToken=t0k3n"));
        assert!(shown.contains("password") && shown.contains("secretToken"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("t0k3n") && !shown.contains("ops"), "{shown}");
    }
}
