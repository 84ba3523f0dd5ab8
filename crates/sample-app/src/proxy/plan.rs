//! What the proxy does to the requests it receives ([`FaultPlan`]), what it
//! answers with, and what it counts of it.

use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::StatusCode;

/// The status an injected error answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStatus {
    /// `500 Internal Server Error`.
    InternalServerError,
    /// `502 Bad Gateway`.
    BadGateway,
    /// `503 Service Unavailable`.
    ServiceUnavailable,
    /// `501 Not Implemented`: the way a partial SCIM server refuses a request
    /// form it does not support (RFC 7644 §3.12).
    NotImplemented,
}

impl ErrorStatus {
    /// The numeric status code.
    pub fn code(self) -> u16 {
        self.status().as_u16()
    }

    pub(super) fn status(self) -> StatusCode {
        match self {
            ErrorStatus::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorStatus::BadGateway => StatusCode::BAD_GATEWAY,
            ErrorStatus::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorStatus::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        }
    }
}

/// How a `429` writes its `Retry-After` header (RFC 9110, section 10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfterForm {
    /// A number of seconds: `Retry-After: 2`.
    Seconds,
    /// A date: `Retry-After: Tue, 04 Jun 2024 10:00:02 GMT`.
    HttpDate,
}

/// What the proxy does to the requests it receives.
///
/// Every request draws one number per fault kind, always in this order: drop,
/// error, throttle, slow. The first kind whose draw falls under its rate
/// decides (a slowed request is then forwarded); with no hit the request is
/// forwarded at once. The draws depend only on the seed and on the order in
/// which requests arrive, so a client sending one request at a time meets the
/// same faults on every run. A rate of `0.0` never hits, `1.0` always does.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Share of requests answered with [`FaultPlan::error_status`] without being forwarded.
    pub error_rate: f64,
    /// The status of an injected error.
    pub error_status: ErrorStatus,
    /// Share of requests answered `429 Too Many Requests` without being forwarded.
    pub throttle_rate: f64,
    /// The wait a `429` asks for, rounded up to whole seconds.
    pub retry_after: Duration,
    /// How `Retry-After` is written.
    pub retry_after_form: RetryAfterForm,
    /// A request that arrives less than this long after a `429` was sent is not
    /// counted as early: the client may have sent it before it read the `429`.
    pub early_grace: Duration,
    /// Share of requests held for [`FaultPlan::slow_delay`], then forwarded.
    pub slow_rate: f64,
    /// How long a slowed request is held.
    pub slow_delay: Duration,
    /// Share of requests whose connection is closed after the request is read,
    /// without any response.
    pub drop_rate: f64,
    /// The seed of the draws.
    pub seed: u64,
}

impl FaultPlan {
    /// No faults: every request is forwarded.
    pub fn none() -> Self {
        FaultPlan {
            error_rate: 0.0,
            error_status: ErrorStatus::ServiceUnavailable,
            throttle_rate: 0.0,
            retry_after: Duration::from_secs(1),
            retry_after_form: RetryAfterForm::Seconds,
            early_grace: Duration::from_millis(50),
            slow_rate: 0.0,
            slow_delay: Duration::from_millis(500),
            drop_rate: 0.0,
            seed: 0,
        }
    }
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::none()
    }
}

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answered with a server error.
    Error,
    /// Answered `429` with `Retry-After`.
    Throttle,
    /// Held, then forwarded.
    Slow,
    /// Connection closed without a response.
    Drop,
}

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Server errors answered.
    pub errors: u64,
    /// `429`s answered.
    pub throttled: u64,
    /// Requests held, then forwarded.
    pub slowed: u64,
    /// Connections closed without a response.
    pub dropped: u64,
}

/// The `Retry-After` value for a wait, and how long the client must really
/// wait: seconds are rounded up, and a date is rounded up to the next whole
/// second, so a client that waits as told is never early.
pub(super) fn retry_after(wait: Duration, form: RetryAfterForm) -> (HeaderValue, Duration) {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match form {
        RetryAfterForm::Seconds => (HeaderValue::from(secs), Duration::from_secs(secs)),
        RetryAfterForm::HttpDate => {
            let now = chrono::Utc::now();
            let whole = now.timestamp() + i64::from(now.timestamp_subsec_nanos() > 0);
            let target = whole.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX / 2));
            let Some(date) = chrono::DateTime::from_timestamp(target, 0) else {
                return (HeaderValue::from(secs), Duration::from_secs(secs));
            };
            let real_wait = (date - now).to_std().unwrap_or_default();
            match HeaderValue::from_str(&date.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
                Ok(header) => (header, real_wait),
                Err(_) => (HeaderValue::from(secs), Duration::from_secs(secs)),
            }
        }
    }
}
