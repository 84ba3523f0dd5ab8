//! The Salesforce connector's REST plumbing: logging in and sharing one
//! session between concurrent calls (renewed once on `INVALID_SESSION_ID`),
//! sending requests, classifying Salesforce's refusals into
//! [`ConnectorError`]s, and reading SOQL query pages.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{config, fit, login, not_json, to_object, SalesforceAuth, SalesforceConnector, MAX_QUERY_PAGES};
use crate::classify::Answer;
use crate::outbound::{cut_app_text, exchange};
use crate::{parse_retry_after, ConnectorError, TargetObject, TargetPage};

/// A logged-in session shared by concurrent calls.
pub(super) struct Session {
    pub(super) instance: Url,
    pub(super) token: SecretString,
    pub(super) user_id: Option<String>,
    pub(super) user_name: Option<String>,
    pub(super) generation: u64,
}

/// Where a request goes: under `/services/data/vXX.X/`, or a path Salesforce
/// returned (`nextRecordsUrl`).
pub(super) enum Target<'a> {
    Data(&'a [&'a str]),
    Path(&'a str),
}

/// A page of a query: the first, by its SOQL, or a next one, by its locator.
pub(super) enum QueryPage<'a> {
    First(&'a str),
    Next(&'a str),
}

impl SalesforceConnector {
    /// Logs in with the configured method.
    pub(super) async fn log_in(&self) -> Result<Session, ConnectorError> {
        let s = &self.settings;
        let logged_in = match &s.auth {
            SalesforceAuth::Password { username, password, security_token } => {
                let call = login::LoginCall::new(&self.client, &self.login_base, s);
                login::soap_login(&call, username, password, security_token).await?
            }
            SalesforceAuth::ClientCredentials { client_id, client_secret } => {
                let call = login::LoginCall::new(&self.client, &self.login_base, s);
                login::client_credentials(&call, client_id, client_secret).await?
            }
        };
        let generation = self.logins.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(instance = %login::origin(&logged_in.instance), generation, "logged in to Salesforce");
        let user_name = logged_in.user_name.or_else(|| match &s.auth {
            SalesforceAuth::Password { username, .. } => Some(username.clone()),
            SalesforceAuth::ClientCredentials { .. } => None,
        });
        Ok(Session {
            instance: logged_in.instance,
            token: logged_in.token,
            user_id: logged_in.user_id,
            user_name,
            generation,
        })
    }

    /// The current session, logging in if there is none.
    pub(super) async fn session(&self) -> Result<Arc<Session>, ConnectorError> {
        if let Some(s) = self.session.read().await.as_ref() {
            return Ok(s.clone());
        }
        self.renew(None).await
    }

    /// Logs in again unless another call already replaced the session
    /// `stale` (`None`: replace no session, only fill an empty slot).
    /// Holding the write lock over the login makes concurrent callers wait
    /// for one login instead of each sending their own.
    pub(super) async fn renew(&self, stale: Option<u64>) -> Result<Arc<Session>, ConnectorError> {
        let mut slot = self.session.write().await;
        if let Some(current) = slot.as_ref() {
            if Some(current.generation) != stale {
                return Ok(current.clone());
            }
        }
        let fresh = Arc::new(self.log_in().await?);
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    fn url(&self, session: &Session, target: &Target<'_>) -> Result<Url, ConnectorError> {
        match target {
            Target::Data(segments) => {
                let mut url = session.instance.clone();
                let version = format!("v{}", self.settings.api_version);
                url.path_segments_mut()
                    .map_err(|()| config(format!("invalid Salesforce instance URL {}", session.instance)))?
                    .clear()
                    .extend(["services", "data", version.as_str()])
                    .extend(segments.iter());
                Ok(url)
            }
            Target::Path(path) => {
                // Only paths on the same instance: a cursor must never send
                // the session to another host.
                if !path.starts_with("/services/data/") || path.contains("//") {
                    return Err(ConnectorError::Permanent {
                        status: 0,
                        scim_type: None,
                        app_message: format!("not a Salesforce query locator: {path:?}"),
                    });
                }
                session.instance.join(path).map_err(|e| config(format!("invalid Salesforce path {path:?}: {e}")))
            }
        }
    }

    async fn transport(
        &self,
        session: &Session,
        method: &Method,
        url: &Url,
        query: &[(&str, &str)],
        body: Option<&Value>,
        batch_size: Option<u64>,
    ) -> Result<Answer, ConnectorError> {
        let mut req = self
            .client
            .request(method.clone(), url.clone())
            .bearer_auth(session.token.expose_secret())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(size) = batch_size {
            // Salesforce takes 200 to 2,000 records a batch.
            req = req.header("Sforce-Query-Options", format!("batchSize={}", size.clamp(200, 2000)));
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| ConnectorError::Permanent {
                status: 0,
                scim_type: None,
                app_message: format!("cannot encode the request: {e}"),
            })?;
            req = req.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        match exchange(req, self.settings.max_response_bytes.max(1)).await {
            Ok(answer) => {
                tracing::debug!(%method, path = url.path(), status = answer.status.as_u16(), "Salesforce request");
                Ok(answer)
            }
            Err(e) => {
                tracing::debug!(%method, path = url.path(), error = ?e, "Salesforce request failed");
                let whom = format!("Salesforce at {}", login::origin(url));
                Err(e.into_connector_error(&whom, self.settings.timeout))
            }
        }
    }

    /// Sends a REST request; on `401` (an expired or revoked session) logs in
    /// again once and repeats it once.
    pub(super) async fn send(
        &self,
        method: Method,
        target: Target<'_>,
        query: &[(&str, &str)],
        body: Option<&Value>,
        batch_size: Option<u64>,
    ) -> Result<Answer, ConnectorError> {
        let mut session = self.session().await?;
        let mut renewed = false;
        loop {
            let url = self.url(&session, &target)?;
            let answer = self.transport(&session, &method, &url, query, body, batch_size).await?;
            if answer.status != StatusCode::UNAUTHORIZED || renewed {
                return Ok(answer);
            }
            tracing::info!(%method, path = url.path(), "Salesforce session expired or invalid; logging in again");
            session = self.renew(Some(session.generation)).await?;
            renewed = true;
        }
    }

    /// Classifies a refusal, with Salesforce's error array in the message.
    pub(super) fn refusal(&self, answer: &Answer) -> ConnectorError {
        let status = answer.status.as_u16();
        let errors = fit::parse_errors(&answer.body);
        let code = errors.first().map(|e| e.error_code.clone()).filter(|c| !c.is_empty());
        let message = if errors.is_empty() {
            let text: String = String::from_utf8_lossy(&answer.body).trim().chars().take(300).collect();
            if text.is_empty() {
                format!("HTTP {}", answer.status)
            } else {
                text
            }
        } else {
            fit::describe(&errors)
        };
        let message = cut_app_text(&message);
        let code = code.map(|c| cut_app_text(&c));
        match (status, code.as_deref()) {
            (401, _) => config(format!("Salesforce refused a new session too ({status}): {message}")),
            (403, Some("REQUEST_LIMIT_EXCEEDED")) => ConnectorError::Throttled {
                retry_after: Some(self.settings.hold_on_limit),
                message: format!(
                    "{message} (the org's rolling 24-hour API request limit is used up; holding work for {} min)",
                    self.settings.hold_on_limit.as_secs() / 60
                ),
            },
            (403, Some("API_DISABLED_FOR_ORG" | "API_CURRENTLY_DISABLED" | "INSUFFICIENT_ACCESS")) => {
                config(format!("Salesforce refused API access ({status}): {message}"))
            }
            (404, _) => ConnectorError::NotFound,
            (429, _) => ConnectorError::Throttled {
                retry_after: answer
                    .headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now())),
                message,
            },
            (408 | 500..=599, _) => {
                ConnectorError::Transient { message: format!("Salesforce answered {}: {message}", answer.status) }
            }
            (s, code) => {
                ConnectorError::Permanent { status: s, scim_type: code.map(str::to_string), app_message: message }
            }
        }
    }

    /// The JSON of a successful answer, or the refusal.
    pub(super) fn json(&self, answer: &Answer, what: &str) -> Result<Value, ConnectorError> {
        if !answer.status.is_success() {
            return Err(self.refusal(answer));
        }
        serde_json::from_slice(&answer.body).map_err(|_| not_json(answer.status, what))
    }

    /// One page of a SOQL query: the first with `soql`, the next ones with
    /// the locator path Salesforce returned.
    pub(super) async fn query_page(
        &self,
        page: QueryPage<'_>,
        batch_size: Option<u64>,
    ) -> Result<TargetPage, ConnectorError> {
        let answer = match page {
            QueryPage::First(soql) => {
                self.send(Method::GET, Target::Data(&["query"]), &[("q", soql)], None, batch_size).await?
            }
            QueryPage::Next(path) => self.send(Method::GET, Target::Path(path), &[], None, batch_size).await?,
        };
        let value = self.json(&answer, "a query")?;
        let total = value.get("totalSize").and_then(Value::as_u64).unwrap_or(0);
        let done = value.get("done").and_then(Value::as_bool).unwrap_or(true);
        let next = value.get("nextRecordsUrl").and_then(Value::as_str).filter(|_| !done).map(str::to_string);
        let Some(Value::Array(records)) = value.get("records").cloned() else {
            return Err(not_json(answer.status, "a query"));
        };
        let items = records.into_iter().filter_map(to_object).collect();
        Ok(TargetPage { items, total, next })
    }

    /// Every record of a query (at most [`MAX_QUERY_PAGES`] pages).
    pub(super) async fn query_all(&self, soql: &str) -> Result<Vec<TargetObject>, ConnectorError> {
        let mut page = self.query_page(QueryPage::First(soql), None).await?;
        let mut items = std::mem::take(&mut page.items);
        for _ in 1..MAX_QUERY_PAGES {
            let Some(next) = page.next.take() else { break };
            page = self.query_page(QueryPage::Next(&next), None).await?;
            items.append(&mut page.items);
        }
        Ok(items)
    }
}
