//! What every call roster makes to an application shares, whatever the
//! connector. The client follows no redirect: a 307 would make it send the
//! user's data and the credential again to wherever the app points. An answer
//! is read chunk by chunk and given up once it passes a cap, so that a broken or
//! hostile app cannot fill roster's memory. And what an app says is cut to a
//! size fit for a log entry, an error and an email before any of them keeps it.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{Client, ClientBuilder, RequestBuilder, StatusCode};

use crate::classify::{transport_reason, Answer};
use crate::ConnectorError;

/// The most bytes of one answer roster reads unless an app's settings say
/// otherwise (`maxResponseBytes`): 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The most bytes of an application's own words kept in an error.
pub const APP_TEXT_LIMIT: usize = 1024;

/// The most characters of a `Location` header repeated in an error.
const LOCATION_LIMIT: usize = 200;

/// A client builder for calls to an application: rustls, `timeout` per
/// request, no redirect followed, and names resolved only to addresses
/// `destination` allows.
pub(crate) fn client_builder(timeout: Duration, allow_private_networks: bool) -> ClientBuilder {
    Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(crate::destination::resolver(allow_private_networks))
}

/// Refuses a URL whose host `destination` does not allow, as a configuration
/// error naming `what` it is.
pub(crate) fn check_destination(
    what: &str,
    url: &reqwest::Url,
    allow_private_networks: bool,
) -> Result<(), ConnectorError> {
    match crate::destination::url_refusal(url, allow_private_networks) {
        Some(reason) => Err(ConnectorError::Config { message: format!("{what} {url} is refused: {reason}") }),
        None => Ok(()),
    }
}

/// Why a call gave no answer to work with.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// The app could not be reached, or its answer did not arrive whole.
    Transport(reqwest::Error),
    /// The app answered with a redirect, which roster does not follow.
    Redirect { status: StatusCode, location: String },
    /// The answer is longer than the cap; roster stopped reading it.
    TooLarge { cap: usize },
}

impl ExchangeError {
    /// The connector error, `whom` naming what was called (`https://app/scim/v2`,
    /// `Salesforce at https://...`): TLS and oversized answers need a person,
    /// a redirect is refused for good, the rest may pass.
    pub(crate) fn into_connector_error(self, whom: &str, timeout: Duration) -> ConnectorError {
        match self {
            ExchangeError::Transport(e) => {
                let (tls, reason) = transport_reason(&e, timeout);
                let message = format!("cannot reach {whom}: {reason}");
                if tls {
                    ConnectorError::Config { message }
                } else {
                    ConnectorError::Transient { message }
                }
            }
            ExchangeError::Redirect { status, location } => ConnectorError::Permanent {
                status: status.as_u16(),
                scim_type: None,
                app_message: format!(
                    "{whom} answered {status} and tried to send roster to {location}: roster follows no redirect, \
                     so that no user's data and no credential reach another address; if that address is really \
                     the app's, set it as the app's URL"
                ),
            },
            ExchangeError::TooLarge { cap } => ConnectorError::Config {
                message: format!(
                    "the answer of {whom} is longer than {cap} bytes: roster stopped reading it; raise the app's \
                     maxResponseBytes setting if the app really sends that much"
                ),
            },
        }
    }
}

/// The most bytes reserved ahead for an answer from its `Content-Length`.
const BODY_RESERVE: usize = 1 << 20;

/// Sends `request` and reads the answer, at most `cap` bytes of it, as the
/// chunks arrive: reading stops as soon as the cap is passed, and a
/// `Content-Length` over the cap is refused before any byte is read.
pub(crate) async fn exchange(request: RequestBuilder, cap: usize) -> Result<Answer, ExchangeError> {
    let mut response = request.send().await.map_err(ExchangeError::Transport)?;
    let status = response.status();
    if status.is_redirection() {
        let location = response.headers().get(LOCATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(ExchangeError::Redirect { status, location: sanitized_location(location.as_deref()) });
    }
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(ExchangeError::TooLarge { cap });
    }
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::with_capacity(response.content_length().map_or(0, |n| n as usize).min(cap).min(BODY_RESERVE));
    while let Some(chunk) = response.chunk().await.map_err(ExchangeError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(ExchangeError::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, headers, body })
}

/// A `Location` header fit to repeat: printable characters only, and short.
fn sanitized_location(location: Option<&str>) -> String {
    let Some(location) = location.filter(|l| !l.trim().is_empty()) else {
        return "no address (the answer has no Location header)".to_string();
    };
    let printable: String = location.chars().filter(|c| !c.is_control()).collect();
    let shown: String = printable.chars().take(LOCATION_LIMIT).collect();
    if shown.len() < printable.len() {
        format!("{shown}… (cut)")
    } else {
        shown
    }
}

/// What an application said, cut to [`APP_TEXT_LIMIT`] bytes (on a character
/// boundary) and marked as cut with its whole length.
pub fn cut_app_text(text: &str) -> String {
    if text.len() <= APP_TEXT_LIMIT {
        return text.to_string();
    }
    let mut end = APP_TEXT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut, {} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_app_text_is_kept_whole() {
        assert_eq!(cut_app_text("bad value"), "bad value");
        let exact = "x".repeat(APP_TEXT_LIMIT);
        assert_eq!(cut_app_text(&exact), exact);
    }

    #[test]
    fn long_app_text_is_cut_on_a_char_boundary_and_says_so() {
        let long = "é".repeat(4 << 20);
        let cut = cut_app_text(&long);
        assert!(cut.len() <= APP_TEXT_LIMIT + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!("… (cut, {} bytes in all)", 8 << 20)), "{}", &cut[cut.len() - 40..]);
        assert!(cut.starts_with("éé"));
    }

    #[test]
    fn a_location_is_repeated_printable_and_short() {
        assert_eq!(sanitized_location(Some("https://evil.example/x")), "https://evil.example/x");
        assert_eq!(sanitized_location(Some("https://e\r\nvil.example/\t")), "https://evil.example/");
        assert!(sanitized_location(None).starts_with("no address"));
        let long = format!("https://evil.example/{}", "a".repeat(1000));
        let shown = sanitized_location(Some(&long));
        assert!(shown.ends_with("… (cut)") && shown.chars().count() <= LOCATION_LIMIT + 10, "{shown}");
    }
}
