//! Classifying SCIM answers and transport failures into
//! [`ConnectorError`]s, with the application's own message.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use roster_scim::ScimError;

use crate::outbound::cut_app_text;
use crate::{parse_retry_after, ConnectorError};

/// An answer: status, headers and body.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// The error text of `e` with its causes.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// A short reason for a transport failure.
pub(crate) fn transport_reason(e: &reqwest::Error, timeout: Duration) -> (bool, String) {
    let text = chain(e);
    let lower = text.to_lowercase();
    if let Some(at) = text.find(crate::destination::REFUSED) {
        return (true, text[at..].to_string());
    }
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return (true, format!("TLS failed: {text}"));
    }
    if e.is_timeout() {
        return (false, format!("no answer within {} s", timeout.as_secs_f32()));
    }
    if lower.contains("connection refused") {
        return (false, "connection refused".to_string());
    }
    if lower.contains("dns") || lower.contains("failed to lookup") || lower.contains("name or service not known") {
        return (false, format!("the host name does not resolve ({text})"));
    }
    (false, text)
}

/// The application's message in an error body: the SCIM `detail`, else
/// the start of the body; cut to a size fit for a log entry either way.
pub(crate) fn app_message(status: StatusCode, body: &[u8]) -> (Option<String>, String) {
    if let Some(e) = ScimError::parse(body) {
        let scim_type = e.scim_type.map(|t| cut_app_text(&t));
        if let Some(detail) = e.detail.filter(|d| !d.trim().is_empty()) {
            return (scim_type, cut_app_text(&detail));
        }
        return (scim_type, format!("HTTP {status}"));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return (None, format!("HTTP {status}"));
    }
    let short: String = text.chars().take(300).collect();
    (None, short)
}

/// Classifies a non-success answer. 404 → `NotFound`, 409 → `Conflict`;
/// callers re-map those where they mean something else.
pub(crate) fn classify(answer: &Answer) -> ConnectorError {
    let status = answer.status;
    let (scim_type, message) = app_message(status, &answer.body);
    match status.as_u16() {
        401 | 403 => ConnectorError::Config {
            message: format!("the app refused the secret token ({}): {message}", status.as_u16()),
        },
        404 => ConnectorError::NotFound,
        409 => ConnectorError::Conflict { app_message: message },
        429 => ConnectorError::Throttled {
            retry_after: answer
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            message,
        },
        // RFC 7644 §3.12: 501 says the app does not implement this operation, and
        // a 400 of a form-refusing `scimType` that it does not take this form: the
        // same request cannot succeed later, so it is refused, not retried.
        s @ (400 | 501) if s == 501 || scim_type.as_deref().is_some_and(crate::error::refuses_form) => {
            ConnectorError::Permanent {
                status: s,
                scim_type,
                app_message: format!("the app does not support this request form (not retried): {message}"),
            }
        }
        408 | 500..=599 => ConnectorError::Transient { message: format!("the app answered {status}: {message}") },
        s => ConnectorError::Permanent { status: s, scim_type, app_message: message },
    }
}

pub(crate) fn conflict_as_permanent(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Conflict { app_message } => {
            ConnectorError::Permanent { status: 409, scim_type: None, app_message }
        }
        e => e,
    }
}

/// Escapes `"` and `\` for a SCIM filter string literal.
pub(crate) fn filter_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn escapes_filter_literals() {
        for (input, want) in [("a", "\"a\""), ("a\"b", "\"a\\\"b\""), ("a\\b", "\"a\\\\b\""), ("", "\"\"")] {
            assert_eq!(filter_literal(input), want);
        }
    }

    #[test]
    fn classifies_answers() {
        let answer = |status: u16, body: &str, retry: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(r) = retry.and_then(|r| HeaderValue::from_str(r).ok()) {
                headers.insert(RETRY_AFTER, r);
            }
            Answer {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
                headers,
                body: body.as_bytes().to_vec(),
            }
        };
        let scim = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"bad"}"#;
        let cases: Vec<(Answer, ConnectorError)> = vec![
            (
                answer(400, scim, None),
                ConnectorError::Permanent {
                    status: 400,
                    scim_type: Some("invalidValue".into()),
                    app_message: "bad".into(),
                },
            ),
            (
                answer(400, &scim.replace("invalidValue", "invalidPath"), None),
                ConnectorError::Permanent {
                    status: 400,
                    scim_type: Some("invalidPath".into()),
                    app_message: "the app does not support this request form (not retried): bad".into(),
                },
            ),
            (
                answer(422, "nope", None),
                ConnectorError::Permanent { status: 422, scim_type: None, app_message: "nope".into() },
            ),
            (answer(404, "", None), ConnectorError::NotFound),
            (
                answer(409, r#"{"status":409,"detail":"taken"}"#, None),
                ConnectorError::Conflict { app_message: "taken".into() },
            ),
            (
                answer(429, "", Some("7")),
                ConnectorError::Throttled {
                    retry_after: Some(Duration::from_secs(7)),
                    message: "HTTP 429 Too Many Requests".into(),
                },
            ),
            (
                answer(503, "", None),
                ConnectorError::Transient {
                    message: "the app answered 503 Service Unavailable: HTTP 503 Service Unavailable".into(),
                },
            ),
            (
                answer(501, r#"{"status":"501","detail":"filters in paths are not implemented"}"#, None),
                ConnectorError::Permanent {
                    status: 501,
                    scim_type: None,
                    app_message: "the app does not support this request form (not retried): filters in paths are \
                                  not implemented"
                        .into(),
                },
            ),
            (
                answer(401, "", None),
                ConnectorError::Config {
                    message: "the app refused the secret token (401): HTTP 401 Unauthorized".into(),
                },
            ),
        ];
        for (a, want) in cases {
            assert_eq!(classify(&a), want);
        }
    }
}
