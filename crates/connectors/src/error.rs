//! Connector errors, classified by what the engine should do about them,
//! and `Retry-After` parsing (RFC 7231 §7.1.3: seconds or HTTP-date).

use std::time::{Duration, SystemTime};

/// Why a connector call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// 5xx, 408, timeouts, connection errors: a retry may help.
    #[error("temporary failure: {message}")]
    Transient {
        /// What happened.
        message: String,
    },
    /// 429: the application asks to slow down.
    #[error("throttled by the app: {message}")]
    Throttled {
        /// How long the application asked to wait (`Retry-After`).
        retry_after: Option<Duration>,
        /// What happened.
        message: String,
    },
    /// Another 4xx: the application refused this request.
    #[error("the app refused the request ({status}{}): {app_message}", scim_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default())]
    Permanent {
        /// The HTTP status.
        status: u16,
        /// The SCIM `scimType`, if the application sent one.
        scim_type: Option<String>,
        /// The application's message.
        app_message: String,
    },
    /// 401/403, a bad URL, TLS, not a SCIM endpoint: a person must act.
    #[error("{message}")]
    Config {
        /// The reason, for a person.
        message: String,
    },
    /// 404 on an object.
    #[error("the object does not exist in the app")]
    NotFound,
    /// 409 on create: the object already exists.
    #[error("the object already exists in the app: {app_message}")]
    Conflict {
        /// The application's message.
        app_message: String,
    },
}

/// The `scimType`s of a 400 that refuse the request's form rather than its
/// data (RFC 7644 §3.12): the path, the syntax, or an operation on an attribute
/// the app does not let change. `noTarget` is not among them: for a member
/// removal it means the member is already gone.
pub const FORM_REFUSALS: [&str; 3] = ["invalidPath", "invalidSyntax", "mutability"];

/// Whether a 400's `scimType` is one of [`FORM_REFUSALS`] (any case).
pub(crate) fn refuses_form(scim_type: &str) -> bool {
    FORM_REFUSALS.iter().any(|f| f.eq_ignore_ascii_case(scim_type))
}

impl ConnectorError {
    /// Whether retrying later may succeed (transient or throttled).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ConnectorError::Transient { .. } | ConnectorError::Throttled { .. })
    }

    /// Whether the app refused the form of the request, not its content: a 501
    /// (the operation is not implemented), or a 400 whose `scimType` is one of
    /// [`FORM_REFUSALS`]. The same request cannot succeed later, and such a
    /// refusal says nothing about the app's health.
    pub fn is_unsupported_form(&self) -> bool {
        match self {
            ConnectorError::Permanent { status: 501, .. } => true,
            ConnectorError::Permanent { status: 400, scim_type: Some(t), .. } => refuses_form(t),
            _ => false,
        }
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (a date in
/// the past gives zero). `None` if it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP-date in any of the three forms RFC 9110 accepts: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`)
/// and asctime (`Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn tells_unsupported_forms() {
        let permanent = |status: u16, scim_type: Option<&str>| ConnectorError::Permanent {
            status,
            scim_type: scim_type.map(String::from),
            app_message: String::new(),
        };
        for (e, want) in [
            (permanent(501, None), true),
            (permanent(400, Some("invalidPath")), true),
            (permanent(400, Some("invalidSyntax")), true),
            (permanent(400, Some("mutability")), true),
            (permanent(400, Some("INVALIDPATH")), true),
            (permanent(400, Some("noTarget")), false),
            (permanent(400, Some("invalidValue")), false),
            (permanent(400, Some("uniqueness")), false),
            (permanent(400, None), false),
            (permanent(422, Some("invalidPath")), false),
            (ConnectorError::Transient { message: String::new() }, false),
            (ConnectorError::NotFound, false),
        ] {
            assert_eq!(e.is_unsupported_form(), want, "{e:?}");
        }
    }

    fn check(input: &str, now_secs: u64, want: Option<u64>) {
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);
        assert_eq!(parse_retry_after(input, now), want.map(Duration::from_secs), "{input:?}");
    }

    #[test]
    fn retry_after() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        let t = 784_111_777;
        let cases: &[(&str, u64, Option<u64>)] = &[
            ("120", 0, Some(120)),
            (" 0 ", 0, Some(0)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", t - 30, Some(30)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", t + 30, Some(0)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", t - 5, Some(5)),
            ("Sun Nov  6 08:49:37 1994", t - 7, Some(7)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0, Some(0)),
            ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600 - 1, Some(1)),
            ("-5", 0, None),
            ("1.5", 0, None),
            ("", 0, None),
            ("soon", 0, None),
            ("Sun, 06 Foo 1994 08:49:37 GMT", 0, None),
            ("Sun, 06 Nov 1994 25:49:37 GMT", 0, None),
            ("Sun, 06 Nov 1994 08:49:37 CET", 0, None),
            ("99999999999999999999999", 0, None),
        ];
        for &(input, now, want) in cases {
            check(input, now, want);
        }
    }

    #[test]
    fn retryable() {
        assert!(ConnectorError::Transient { message: "x".into() }.is_retryable());
        assert!(!ConnectorError::NotFound.is_retryable());
        let e = ConnectorError::Permanent {
            status: 400,
            scim_type: Some("invalidValue".into()),
            app_message: "bad".into(),
        };
        assert_eq!(e.to_string(), "the app refused the request (400 invalidValue): bad");
    }
}
