//! The SCIM 2.0 connector: [`ScimConnector`] sends RFC 7644 requests with
//! a bearer token and classifies every answer into a [`ConnectorError`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode, Url};
use roster_scim::{build_resource, patch_body, Dialect, ListResponse, PatchOperation, ResourceKind};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::classify::{app_message, chain, classify, conflict_as_permanent, filter_literal, Answer};
use crate::outbound::{check_destination, client_builder, exchange, DEFAULT_MAX_RESPONSE_BYTES};
use crate::{Connector, ConnectorError, TargetObject, TargetPage};

const SCIM_JSON: &str = "application/scim+json";

/// How to reach a SCIM application.
#[derive(Clone, Debug)]
pub struct ScimSettings {
    /// The SCIM base URL, e.g. `https://app.example.com/scim/v2`.
    pub base_url: String,
    /// The bearer token (never printed: its `Debug` is redacted).
    pub token: SecretString,
    /// Time limit of one request.
    pub timeout: Duration,
    /// Most member values in one group PATCH (100 by default).
    pub member_batch_size: usize,
    /// What the app is known to accept: forms an admin pinned, and forms
    /// learned from its answers in earlier cycles (see [`Dialect`]).
    pub dialect: Dialect,
    /// The most bytes of one answer read (16 MiB by default); a longer answer
    /// fails the call.
    pub max_response_bytes: usize,
    /// Whether the app may be on a private network address (see `destination`).
    pub allow_private_networks: bool,
}

impl ScimSettings {
    /// Settings with the defaults: 30 s timeout, batches of 100 members,
    /// nothing known of the app's dialect, answers of 16 MiB at most.
    pub fn new(base_url: impl Into<String>, token: impl Into<SecretString>) -> Self {
        ScimSettings {
            base_url: base_url.into(),
            token: token.into(),
            timeout: Duration::from_secs(30),
            member_batch_size: 100,
            dialect: Dialect::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_private_networks: false,
        }
    }
}

#[path = "scim_fallback.rs"]
mod fallback;

/// A SCIM 2.0 application.
#[derive(Clone, Debug)]
pub struct ScimConnector {
    client: Client,
    base: Url,
    settings: ScimSettings,
    /// The app's dialect, as learned so far (starts from the settings').
    dialect: Arc<Mutex<Dialect>>,
    /// What calls on an object did besides what was asked (a form learned, an
    /// attribute the app refuses), by object id, for the provisioning log.
    notes: Arc<Mutex<HashMap<String, fallback::Notes>>>,
    /// `Authorization: Bearer <token>`, made once (marked sensitive, so that
    /// it is never printed); `None` when the token cannot be a header value,
    /// and each request then fails as it did.
    authorization: Option<HeaderValue>,
    /// The `/Users` and `/Groups` endpoints.
    endpoints: (Url, Url),
}

fn random_uuid() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// The URL of `segments` under `base`.
fn under(base: &Url, segments: &[&str]) -> Result<Url, ConnectorError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ConnectorError::Config { message: format!("invalid SCIM base URL {base}") })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The JSON body of an answer; one that is not JSON is refused.
fn json_body(answer: &Answer) -> Result<Value, ConnectorError> {
    serde_json::from_slice(&answer.body).map_err(|_| ConnectorError::Permanent {
        status: answer.status.as_u16(),
        scim_type: None,
        app_message: "the app's answer is not JSON".to_string(),
    })
}

fn to_object(resource: Value) -> Option<TargetObject> {
    let id = match resource.get("id")? {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(TargetObject { id, resource })
}

/// The error for a successful create whose answer names no object.
fn no_id(answer: &Answer) -> ConnectorError {
    ConnectorError::Permanent {
        status: answer.status.as_u16(),
        scim_type: None,
        app_message: "the app created the object but its answer has no id".to_string(),
    }
}

/// The object of a JSON answer with only its `id` and the members named in
/// `keep` (in any letter case): the rest is scanned past, not built, which
/// is most of the cost of reading a created object's answer. `None` when the
/// answer is not a JSON object.
fn pick_members(body: &[u8], keep: &[String]) -> Option<Value> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(body);
    let picked = Pick { keep }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(Value::Object(picked))
}

/// The visitor of [`pick_members`].
struct Pick<'k> {
    keep: &'k [String],
}

impl<'de> serde::de::DeserializeSeed<'de> for Pick<'_> {
    type Value = serde_json::Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Pick<'_> {
    type Value = serde_json::Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "id" || self.keep.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
                let value = map.next_value::<Value>()?;
                out.insert(key.into_owned(), value);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A member's name, borrowed from the answer unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Name)
    }
}

impl ScimConnector {
    /// A connector; fails with `Config` on a URL that is not http(s).
    pub fn new(settings: ScimSettings) -> Result<Self, ConnectorError> {
        let config = |message: String| ConnectorError::Config { message };
        let base = Url::parse(settings.base_url.trim())
            .map_err(|e| config(format!("invalid SCIM base URL {:?}: {e}", settings.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(config(format!("invalid SCIM base URL {:?}: must be http(s)", settings.base_url)));
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/scim+json, application/json"));
        check_destination("the SCIM base URL", &base, settings.allow_private_networks)?;
        let client = client_builder(settings.timeout, settings.allow_private_networks)
            .pool_max_idle_per_host(32)
            .default_headers(headers)
            .build()
            .map_err(|e| config(format!("cannot set up HTTPS: {}", chain(&e))))?;
        let dialect = Arc::new(Mutex::new(settings.dialect.clone()));
        let authorization =
            HeaderValue::from_str(&format!("Bearer {}", settings.token.expose_secret())).ok().map(|mut v| {
                v.set_sensitive(true);
                v
            });
        let endpoints =
            (under(&base, &[ResourceKind::User.endpoint()])?, under(&base, &[ResourceKind::Group.endpoint()])?);
        Ok(ScimConnector { client, base, settings, dialect, notes: Arc::default(), authorization, endpoints })
    }

    /// The URL of `segments` under the base URL.
    fn url(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        under(&self.base, segments)
    }

    /// The endpoint of `kind` (`/Users`, `/Groups`), made once.
    fn endpoint(&self, kind: ResourceKind) -> Url {
        match kind {
            ResourceKind::User => self.endpoints.0.clone(),
            ResourceKind::Group => self.endpoints.1.clone(),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, ConnectorError> {
        self.send_if(method, url, query, body, None).await
    }

    /// [`send`](Self::send), with `If-Match: if_match` when given.
    async fn send_if(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, &str)],
        body: Option<&Value>,
        if_match: Option<&HeaderValue>,
    ) -> Result<Answer, ConnectorError> {
        let mut req = self.client.request(method.clone(), url.clone());
        req = match &self.authorization {
            Some(value) => req.header(AUTHORIZATION, value.clone()),
            None => req.bearer_auth(self.settings.token.expose_secret()),
        };
        if let Some(tag) = if_match {
            req = req.header(reqwest::header::IF_MATCH, tag.clone());
        }
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            let bytes = roster_scim::json_text::json_text(body, 1024).into_bytes();
            req = req.header(CONTENT_TYPE, SCIM_JSON).body(bytes);
        }
        match exchange(req, self.settings.max_response_bytes.max(1)).await {
            Ok(answer) => {
                tracing::debug!(%method, path = url.path(), status = answer.status.as_u16(), "SCIM request");
                Ok(answer)
            }
            Err(e) => {
                tracing::debug!(%method, path = url.path(), error = ?e, "SCIM request failed");
                Err(e.into_connector_error(self.base.as_str(), self.settings.timeout))
            }
        }
    }

    fn parse_list(&self, answer: &Answer) -> Result<ListResponse, ConnectorError> {
        ListResponse::parse(&answer.body).ok_or_else(|| ConnectorError::Permanent {
            status: answer.status.as_u16(),
            scim_type: None,
            app_message: "the app's answer is not a SCIM ListResponse".to_string(),
        })
    }

    fn page(&self, list: ListResponse) -> TargetPage {
        let total = list.total_results;
        let items = list.resources.into_iter().filter_map(to_object).collect();
        TargetPage { items, total, next: None }
    }

    async fn patch(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        self.patch_stored(kind, id, ops).await.map(|_| ())
    }

    /// PATCHes object `id`; returns the resource the answer carries, if any.
    async fn patch_stored(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<Option<Value>, ConnectorError> {
        let url = self.url(&[kind.endpoint(), id])?;
        let answer = self.send(Method::PATCH, url, &[], Some(&patch_body(ops))).await?;
        if answer.status.is_success() {
            return Ok(serde_json::from_slice::<Value>(&answer.body).ok().filter(Value::is_object));
        }
        Err(conflict_as_permanent(classify(&answer)))
    }
}

impl ScimConnector {
    /// POSTs a new object made of `attrs`; the answer, when the app made it.
    async fn post_new(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<Answer, ConnectorError> {
        let body = build_resource(kind, attrs);
        let answer = self.send(Method::POST, self.endpoint(kind), &[], Some(&body)).await?;
        if answer.status.is_success() {
            return Ok(answer);
        }
        Err(match classify(&answer) {
            ConnectorError::NotFound => ConnectorError::Config {
                message: format!("not a SCIM endpoint: POST {} answered 404", self.endpoint(kind)),
            },
            e => e,
        })
    }

    /// GETs a list of `kind` with `query` (groups without their members); a 404
    /// means the URL is not a SCIM endpoint.
    async fn query_list(&self, kind: ResourceKind, mut query: Vec<(&str, &str)>) -> Result<TargetPage, ConnectorError> {
        let url = self.endpoint(kind);
        if kind == ResourceKind::Group {
            query.push(("excludedAttributes", "members"));
        }
        let answer = self.send(Method::GET, url.clone(), &query, None).await?;
        if !answer.status.is_success() {
            return Err(match classify(&answer) {
                ConnectorError::NotFound => {
                    ConnectorError::Config { message: format!("not a SCIM endpoint: GET {url} answered 404") }
                }
                e => conflict_as_permanent(e),
            });
        }
        Ok(self.page(self.parse_list(&answer)?))
    }
}

#[async_trait]
impl Connector for ScimConnector {
    async fn test_connection(&self, matching_attribute: &str) -> Result<String, ConnectorError> {
        let config = |message: String| ConnectorError::Config { message };
        let url = self.url(&["Users"])?;
        let filter = format!("{matching_attribute} eq {}", filter_literal(&random_uuid()));
        let answer = match self.send(Method::GET, url.clone(), &[("filter", &filter)], None).await {
            Ok(a) => a,
            Err(ConnectorError::Transient { message }) => return Err(config(message)),
            Err(e) => return Err(e),
        };
        let status = answer.status.as_u16();
        if !answer.status.is_success() {
            let (scim_type, detail) = app_message(answer.status, &answer.body);
            return Err(match status {
                404 | 405 => config(format!("not a SCIM endpoint: GET {url} answered {status}: {detail}")),
                400 if scim_type.as_deref() == Some("invalidFilter") => {
                    config(format!("the app cannot look users up by {matching_attribute}: {detail}"))
                }
                _ => classify(&answer),
            });
        }
        let Some(list) = ListResponse::parse(&answer.body) else {
            return Err(config(format!(
                "not a SCIM endpoint: GET {url} answered {status} with a body that is not a SCIM ListResponse"
            )));
        };
        if list.total_results > 0 || !list.resources.is_empty() {
            return Err(config(format!(
                "the app returned {} users for a filter that matches none: it does not filter on {matching_attribute}",
                list.total_results
            )));
        }
        Ok(format!(
            "GET {url}?filter={matching_attribute} eq \"<random id>\" answered {status} with an empty ListResponse: \
             the URL, the secret token and filtering on {matching_attribute} work"
        ))
    }

    async fn find(
        &self,
        kind: ResourceKind,
        attr_path: &str,
        value: &str,
    ) -> Result<Vec<TargetObject>, ConnectorError> {
        let filter = format!("{attr_path} eq {}", filter_literal(value));
        let query = vec![("filter", filter.as_str())];
        Ok(self.query_list(kind, query).await?.items)
    }

    async fn list(&self, kind: ResourceKind, cursor: Option<&str>, count: u64) -> Result<TargetPage, ConnectorError> {
        // The cursor is the 1-based startIndex of the page.
        let start_index = cursor.and_then(|c| c.parse::<u64>().ok()).unwrap_or(1).max(1);
        let (start, count_s) = (start_index.to_string(), count.to_string());
        let query = vec![("startIndex", start.as_str()), ("count", count_s.as_str())];
        let mut page = self.query_list(kind, query).await?;
        let next = start_index + page.items.len() as u64;
        page.next = (!page.items.is_empty() && next <= page.total).then(|| next.to_string());
        Ok(page)
    }

    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<TargetObject>, ConnectorError> {
        let answer = self.send(Method::GET, self.url(&[kind.endpoint(), id])?, &[], None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(conflict_as_permanent(classify(&answer)));
        }
        let resource = json_body(&answer)?;
        Ok(Some(to_object(resource).unwrap_or_else(|| TargetObject { id: id.to_string(), resource: Value::Null })))
    }

    async fn create(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<TargetObject, ConnectorError> {
        let answer = self.post_new(kind, attrs).await?;
        let created =
            serde_json::from_slice::<Value>(&answer.body).ok().and_then(to_object).ok_or_else(|| no_id(&answer))?;
        self.read_back(&created.id, attrs, &created.resource);
        Ok(created)
    }

    async fn create_id(&self, kind: ResourceKind, attrs: &[(String, Value)]) -> Result<String, ConnectorError> {
        let answer = self.post_new(kind, attrs).await?;
        let keep = self.read_back_members(attrs);
        let created = pick_members(&answer.body, &keep).and_then(to_object).ok_or_else(|| no_id(&answer))?;
        self.read_back(&created.id, attrs, &created.resource);
        Ok(created.id)
    }

    async fn update(&self, kind: ResourceKind, id: &str, ops: &[PatchOperation]) -> Result<(), ConnectorError> {
        self.change(kind, id, ops, &[]).await
    }

    async fn update_managed(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
        managed: &[(String, Value)],
    ) -> Result<(), ConnectorError> {
        self.change(kind, id, ops, managed).await
    }

    async fn delete(&self, kind: ResourceKind, id: &str) -> Result<(), ConnectorError> {
        let answer = self.send(Method::DELETE, self.url(&[kind.endpoint(), id])?, &[], None).await?;
        if answer.status.is_success() {
            return Ok(());
        }
        Err(conflict_as_permanent(classify(&answer)))
    }

    async fn update_members(&self, group_id: &str, add: &[String], remove: &[String]) -> Result<u32, ConnectorError> {
        self.change_members(group_id, add, remove).await
    }

    fn take_note(&self, id: &str) -> Option<String> {
        self.take_learned(id)
    }

    fn take_warnings(&self, id: &str) -> Vec<String> {
        self.take_refused(id)
    }

    fn dialect(&self) -> Option<Dialect> {
        Some(self.current_dialect())
    }

    fn describe(&self, write: &crate::Write<'_>) -> Vec<crate::PlannedRequest> {
        self.describe_write(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hides_the_token() {
        let s = ScimSettings::new("https://x", "s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
        let c = ScimConnector::new(s);
        assert!(c.is_ok_and(|c| !format!("{c:?}").contains("s3cret")));
    }

    #[test]
    fn picks_the_id_and_the_members_asked_for() {
        let body = br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u-1","userName":"ann",
            "Emails":[{"value":"a@x","type":"work"}],"name":{"givenName":"Ann","x":[1,{"y":"\"}"}]},
            "meta":{"location":"https://app/Users/u-1"},"ph\u006fneNumbers":[{"value":"1"}]}"#;
        let keep = ["emails".to_string(), "phoneNumbers".to_string()];
        let picked = pick_members(body, &keep).expect("an object");
        assert_eq!(
            picked,
            json!({"id": "u-1", "Emails": [{"value": "a@x", "type": "work"}], "phoneNumbers": [{"value": "1"}]})
        );
        let full: Value = serde_json::from_slice(body).expect("json");
        assert_eq!(to_object(picked).map(|t| t.id), to_object(full).map(|t| t.id));
        // A numeric id is kept as the full reading keeps it.
        let numeric = pick_members(br#"{"id": 42, "userName": "bob"}"#, &[]).and_then(to_object);
        assert_eq!(numeric.map(|t| (t.id, t.resource)), Some(("42".to_string(), json!({"id": 42}))));
    }

    #[test]
    fn picks_nothing_from_an_answer_that_is_not_one_json_object() {
        for body in [&b"[1,2]"[..], b"\"id\"", b"{\"id\":\"u\"} trailing", b"{\"id\":\"u\"", b"", b"{\"id\":}"] {
            assert_eq!(pick_members(body, &[]), None, "{}", String::from_utf8_lossy(body));
        }
        // An object without an id is picked, and then names no object.
        assert_eq!(pick_members(b"{\"userName\":\"a\"}", &[]).and_then(to_object).map(|t| t.id), None);
    }

    #[test]
    fn refuses_bad_urls() {
        for url in ["", "ftp://x/scim", "not a url", "mailto:a@b"] {
            let r = ScimConnector::new(ScimSettings::new(url, "t"));
            assert!(matches!(r, Err(ConnectorError::Config { .. })), "{url}");
        }
    }
}
