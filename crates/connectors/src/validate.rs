//! A SCIM validator for app builders (`roster scim validate`, and
//! `POST /api/v1/scim/validate` on the server). It sends an endpoint the
//! requests a provisioning service sends — discovery,
//! a filter by userName, create, read, a PATCH of each kind of attribute,
//! deactivate and reactivate, groups with members added and removed, pages,
//! errors — cleans up what it made, and says for each check: passed, failed
//! (with the request, the answer and the RFC section), or not supported (with
//! the form roster falls back to, as its SCIM dialects do). A failure makes the
//! exit status non-zero.

use crate::outbound::{check_destination, client_builder};
use crate::ConnectorError;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The most of an answer read, and the most of it a report shows.
const MAX_ANSWER: usize = 4 * 1024 * 1024;
const SHOWN: usize = 600;

/// Where and how long the validator may go.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time limit of one request.
    pub timeout: Duration,
    /// The endpoint may be on a private network address.
    pub allow_private_networks: bool,
    /// The endpoint may be plain http on a host other than loopback.
    pub allow_insecure_http: bool,
}

impl Limits {
    /// The CLI's, run by an admin on their own machine: 30 s, any network.
    pub fn local() -> Limits {
        Limits { timeout: Duration::from_secs(30), allow_private_networks: true, allow_insecure_http: true }
    }
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Outcome {
    Passed,
    Failed {
        request: String,
        answer: String,
        why: String,
    },
    /// The endpoint refused this form; roster sends `fallback` instead.
    NotSupported {
        fallback: String,
    },
    /// Not run: an earlier check it needs failed.
    Skipped {
        why: String,
    },
}

/// One check of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    /// What it checks, in words.
    pub what: &'static str,
    /// The RFC section it follows.
    pub rfc: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// An answer of the endpoint.
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    fn shown(&self) -> String {
        let text: String = self.text.chars().take(SHOWN).collect();
        format!("{} {text}", self.status)
    }

    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A refusal of a request's form, as SCIM servers say it: 501, or a 400
    /// of `invalidPath`, `invalidSyntax`, `invalidFilter`, `noTarget` or
    /// `mutability`, or a 400 without a type.
    fn refused_form(&self) -> bool {
        let kind = self.body["scimType"].as_str().unwrap_or_default();
        self.status == 501
            || (self.status == 400
                && matches!(kind, "" | "invalidPath" | "invalidSyntax" | "invalidFilter" | "noTarget" | "mutability"))
    }
}

/// The validator's state: the endpoint, and what it made (to clean up).
struct Run {
    http: reqwest::Client,
    base: String,
    token: String,
    checks: Vec<Check>,
    made: Vec<String>,
}

impl Run {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (String, Answer) {
        let url = format!("{}{path}", self.base);
        let shown = match body {
            Some(b) => format!("{method} {path} {b}"),
            None => format!("{method} {path}"),
        };
        let mut req =
            self.http.request(method, &url).bearer_auth(&self.token).header("accept", "application/scim+json");
        if let Some(b) = body {
            req = req.header("content-type", "application/scim+json").body(b.to_string());
        }
        let answer = match req.send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let mut bytes = Vec::new();
                while let Ok(Some(chunk)) = resp.chunk().await {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_ANSWER {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                Answer { status, body, text }
            }
            Err(e) => Answer { status: 0, body: Value::Null, text: format!("no answer: {e}") },
        };
        (shown, answer)
    }

    fn record(&mut self, name: &'static str, what: &'static str, rfc: &'static str, outcome: Outcome) {
        self.checks.push(Check { name, what, rfc, outcome });
    }

    fn fail(request: String, answer: &Answer, why: impl Into<String>) -> Outcome {
        Outcome::Failed { request, answer: answer.shown(), why: why.into() }
    }

    async fn get(&self, path: &str) -> (String, Answer) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn patch(&self, path: &str, ops: Value) -> (String, Answer) {
        let body = json!({"schemas": [PATCH], "Operations": ops});
        self.send(reqwest::Method::PATCH, path, Some(&body)).await
    }

    /// A PATCH, then a read of the resource that `holds` must accept.
    async fn patch_and_read(&self, path: &str, ops: Value, holds: impl Fn(&Value) -> bool) -> PatchResult {
        let (request, answer) = self.patch(path, ops).await;
        if !answer.ok() {
            return if answer.refused_form() {
                PatchResult::Refused(request, answer)
            } else {
                PatchResult::Failed(request, answer)
            };
        }
        let (_, read) = self.get(path).await;
        if holds(&read.body) {
            PatchResult::Applied
        } else {
            PatchResult::NotApplied(request, read)
        }
    }
}

/// A change to check: its PATCH operations, the form roster tries next when
/// they are refused (operations and its name), and the same change made on
/// the resource for a whole `PUT`, roster's last resort.
struct Change<'a> {
    ops: Value,
    /// PATCHes sent one after the other.
    next: Option<(Vec<Value>, &'a str)>,
    edit: &'a (dyn Fn(&mut Value) + Sync),
    put_form: &'a str,
}

impl Run {
    /// Checks a change: passed when its PATCH works; not supported (naming the
    /// form) when a form roster falls back to works; failed otherwise.
    async fn check_change(&self, path: &str, change: Change<'_>, holds: &(dyn Fn(&Value) -> bool + Sync)) -> Outcome {
        let (request, answer) = match self.patch_and_read(path, change.ops, holds).await {
            PatchResult::Refused(request, answer) => (request, answer),
            other => return other.outcome(),
        };
        if let Some((patches, form)) = change.next {
            let mut refused = false;
            for ops in patches {
                let (request, answer) = self.patch(path, ops).await;
                if answer.refused_form() {
                    refused = true;
                    break;
                }
                if !answer.ok() {
                    return fallback_failed(PatchResult::Failed(request, answer), form);
                }
            }
            if !refused {
                let (request, read) = self.get(path).await;
                if holds(&read.body) {
                    return Outcome::NotSupported { fallback: form.to_string() };
                }
                return fallback_failed(PatchResult::NotApplied(request, read), form);
            }
        }
        let (_, read) = self.get(path).await;
        let mut resource = read.body.clone();
        if let Some(obj) = resource.as_object_mut() {
            obj.remove("meta");
        }
        (change.edit)(&mut resource);
        let (put_request, put) = self.send(reqwest::Method::PUT, path, Some(&resource)).await;
        if !put.ok() {
            let why =
                format!("the PATCH was refused ({}), and so was a whole PUT, roster's last resort", answer.status);
            return Outcome::Failed { request, answer: format!("{} | PUT: {}", answer.shown(), put.shown()), why };
        }
        let (_, after) = self.get(path).await;
        if holds(&after.body) {
            Outcome::NotSupported { fallback: change.put_form.to_string() }
        } else {
            Run::fail(
                put_request,
                &after,
                "the PUT was answered but the resource read after it does not hold the change",
            )
        }
    }
}

const USER_PUT: &str = "userUpdate=put: a read, then a PUT of the whole user";
const GROUP_PUT: &str = "groupUpdate=put: a read, then a PUT of the whole group";

fn fallback_failed(r: PatchResult, form: &str) -> Outcome {
    match r.outcome() {
        Outcome::Failed { request, answer, why } => Outcome::Failed {
            request,
            answer,
            why: format!("{why}; the fallback roster would use ({form}) failed too"),
        },
        o => o,
    }
}

enum PatchResult {
    Applied,
    Refused(String, Answer),
    Failed(String, Answer),
    NotApplied(String, Answer),
}

impl PatchResult {
    /// The outcome of a form with no fallback.
    fn outcome(self) -> Outcome {
        match self {
            PatchResult::Applied => Outcome::Passed,
            PatchResult::Refused(r, a) => Run::fail(r, &a, "the endpoint refused the form"),
            PatchResult::Failed(r, a) => Run::fail(r, &a, "the PATCH failed"),
            PatchResult::NotApplied(r, a) => {
                Run::fail(r, &a, "the PATCH was answered but the resource read after it does not hold the change")
            }
        }
    }
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

fn rand_tag() -> String {
    format!("{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

/// Runs every check against `base` with `token`. A URL that is not http(s),
/// plain http off loopback (unless allowed), or a destination roster refuses
/// (see `crate::destination`) is a `Config` error before anything is sent.
pub async fn validate(base: &str, token: &str, limits: Limits) -> Result<Vec<Check>, ConnectorError> {
    let config = |message: String| ConnectorError::Config { message };
    let url = reqwest::Url::parse(base.trim()).map_err(|e| config(format!("invalid SCIM base URL {base:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(config(format!("invalid SCIM base URL {base:?}: must be http(s)")));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    check_destination("the SCIM base URL", &url, limits.allow_private_networks)?;
    if url.scheme() == "http" && !loopback && !limits.allow_insecure_http {
        return Err(config(format!("{base} is plain http: the token would cross the network unencrypted")));
    }
    let http = client_builder(limits.timeout, limits.allow_private_networks)
        .build()
        .map_err(|e| config(format!("cannot set up HTTPS: {e}")))?;
    let mut run = Run {
        http,
        base: base.trim_end_matches('/').to_string(),
        token: token.to_string(),
        checks: Vec::new(),
        made: Vec::new(),
    };
    discovery(&mut run).await;
    let tag = rand_tag();
    let users = users(&mut run, &tag).await;
    groups(&mut run, &tag, users.as_ref()).await;
    errors(&mut run, &tag, users.as_ref()).await;
    cleanup(&mut run).await;
    Ok(run.checks)
}

async fn discovery(run: &mut Run) {
    for (name, path, what) in [
        (
            "discovery.serviceProviderConfig",
            "/ServiceProviderConfig",
            "GET /ServiceProviderConfig answers its configuration",
        ),
        ("discovery.schemas", "/Schemas", "GET /Schemas answers the schemas"),
        ("discovery.resourceTypes", "/ResourceTypes", "GET /ResourceTypes answers the resource types"),
    ] {
        let (request, answer) = run.get(path).await;
        let outcome = if answer.status == 200 && (answer.body.is_object() || answer.body.is_array()) {
            Outcome::Passed
        } else {
            Run::fail(request, &answer, "expected 200 with JSON")
        };
        run.record(name, what, "RFC 7644 §4", outcome);
    }
}

/// The ids of the two users made: a person and their manager.
struct Users {
    person: String,
    manager: String,
    user_name: String,
}

fn user_body(user_name: &str, given: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "active": true,
        "displayName": format!("{given} Validate"),
        "name": {"givenName": given, "familyName": "Validate"},
        "emails": [{"type": "work", "value": user_name, "primary": true}],
        ENTERPRISE: {"department": "Quality"}
    })
}

async fn create_user(run: &mut Run, user_name: &str, given: &str) -> Result<String, Outcome> {
    let body = user_body(user_name, given);
    let (request, answer) = run.send(reqwest::Method::POST, "/Users", Some(&body)).await;
    let id = answer.body["id"].as_str().map(str::to_string);
    match (answer.status, id) {
        (201, Some(id)) if answer.body["userName"].as_str().is_some_and(|u| u.eq_ignore_ascii_case(user_name)) => {
            run.made.push(format!("/Users/{id}"));
            Ok(id)
        }
        (201, Some(id)) => {
            run.made.push(format!("/Users/{id}"));
            Err(Run::fail(request, &answer, "the answer does not carry the userName sent"))
        }
        _ => Err(Run::fail(request, &answer, "expected 201 with the new user and its id")),
    }
}

async fn users(run: &mut Run, tag: &str) -> Option<Users> {
    let user_name = format!("validate-{tag}@roster.example");
    let person = match create_user(run, &user_name, "Ada").await {
        Ok(id) => id,
        Err(outcome) => {
            run.record("users.create", "POST /Users creates a user", "RFC 7644 §3.3", outcome);
            for (name, what) in USER_CHECKS {
                run.record(name, what, "", Outcome::Skipped { why: "no user could be created".into() });
            }
            return None;
        }
    };
    run.record("users.create", "POST /Users creates a user", "RFC 7644 §3.3", Outcome::Passed);
    // Without a manager, the checks that need one say they were skipped.
    let manager =
        create_user(run, &format!("validate-{tag}-manager@roster.example"), "Grace").await.unwrap_or_default();
    let u = Users { person, manager, user_name };
    read_and_filter(run, &u).await;
    patches(run, &u).await;
    activity(run, &u).await;
    paging(run).await;
    Some(u)
}

/// The checks that need a user, to mark skipped when none could be made.
const USER_CHECKS: &[(&str, &str)] = &[
    ("users.get", "GET /Users/{id} reads the user"),
    ("users.filter", "GET /Users?filter=userName eq \"...\" finds the user (how roster matches)"),
    ("users.filterNone", "a filter that matches nobody answers an empty list, not 404"),
];

async fn read_and_filter(run: &mut Run, u: &Users) {
    let (request, answer) = run.get(&format!("/Users/{}", u.person)).await;
    let outcome = if answer.status == 200 && answer.body["id"] == u.person.as_str() {
        Outcome::Passed
    } else {
        Run::fail(request, &answer, "expected 200 with the user")
    };
    run.record("users.get", "GET /Users/{id} reads the user", "RFC 7644 §3.4.1", outcome);

    let filter = format!("userName eq \"{}\"", u.user_name);
    let path = format!("/Users?filter={}", enc(&filter));
    let (request, answer) = run.get(&path).await;
    let found =
        answer.body["Resources"].as_array().map(|r| r.iter().filter_map(|x| x["id"].as_str()).collect::<Vec<_>>());
    let outcome = match found {
        Some(ids) if answer.status == 200 && ids == [u.person.as_str()] => Outcome::Passed,
        _ => Run::fail(request, &answer, "expected a ListResponse holding exactly the user"),
    };
    run.record("users.filter", USER_CHECKS[1].1, "RFC 7644 §3.4.2.2", outcome);

    let path = format!("/Users?filter={}", enc("userName eq \"nobody-roster-validate@roster.example\""));
    let (request, answer) = run.get(&path).await;
    let outcome = if answer.status == 200 && answer.body["totalResults"] == 0 {
        Outcome::Passed
    } else {
        Run::fail(request, &answer, "expected 200 with totalResults 0")
    };
    run.record("users.filterNone", USER_CHECKS[2].1, "RFC 7644 §3.4.2", outcome);
}

async fn patches(run: &mut Run, u: &Users) {
    let path = format!("/Users/{}", u.person);
    let change = Change {
        ops: json!([{"op": "replace", "path": "displayName", "value": "Ada Changed"}]),
        next: None,
        edit: &|r| r["displayName"] = json!("Ada Changed"),
        put_form: USER_PUT,
    };
    let outcome = run.check_change(&path, change, &|b| b["displayName"] == "Ada Changed").await;
    run.record("users.patch.simple", "PATCH replace of a simple attribute (displayName)", "RFC 7644 §3.5.2.3", outcome);

    let whole = json!([{"op": "replace", "path": "name", "value": {"givenName": "Augusta", "familyName": "Validate"}}]);
    let change = Change {
        ops: json!([{"op": "replace", "path": "name.givenName", "value": "Augusta"}]),
        next: Some((vec![whole], "complexValue=whole: replace of the whole name")),
        edit: &|r| r["name"]["givenName"] = json!("Augusta"),
        put_form: USER_PUT,
    };
    let outcome = run.check_change(&path, change, &|b| b["name"]["givenName"] == "Augusta").await;
    run.record(
        "users.patch.subAttribute",
        "PATCH of a sub-attribute path (name.givenName)",
        "RFC 7644 §3.5.2.3",
        outcome,
    );

    let mail = format!("changed-{}", u.user_name);
    let list = json!([{"type": "work", "value": mail, "primary": true}]);
    let change = Change {
        ops: json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": mail}]),
        next: Some((
            vec![json!([{"op": "replace", "path": "emails", "value": list}])],
            "multiValued=wholeList: replace of the whole emails list",
        )),
        edit: &|r| r["emails"] = list.clone(),
        put_form: USER_PUT,
    };
    let holds = |b: &Value| b["emails"].as_array().is_some_and(|l| l.iter().any(|e| e["value"] == mail.as_str()));
    let outcome = run.check_change(&path, change, &holds).await;
    let what = "PATCH of a multi-valued entry by a value filter (emails[type eq \"work\"].value)";
    run.record("users.patch.filterPath", what, "RFC 7644 §3.5.2.3", outcome);

    let change = Change {
        ops: json!([{"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Research"}]),
        next: None,
        edit: &|r| r[ENTERPRISE]["department"] = json!("Research"),
        put_form: USER_PUT,
    };
    let outcome = run.check_change(&path, change, &|b| b[ENTERPRISE]["department"] == "Research").await;
    run.record(
        "users.patch.extension",
        "PATCH of an extension attribute (enterprise department)",
        "RFC 7644 §3.5.2.3",
        outcome,
    );

    manager(run, u, &path).await;

    let title = json!({"op": "replace", "path": "title", "value": "Engineer"});
    let name = json!({"op": "replace", "path": "displayName", "value": "Ada Twice"});
    let change = Change {
        ops: json!([title.clone(), name.clone()]),
        next: Some((vec![json!([title]), json!([name])], "operations=one: one operation per PATCH")),
        edit: &|r| {
            r["title"] = json!("Engineer");
            r["displayName"] = json!("Ada Twice");
        },
        put_form: USER_PUT,
    };
    let outcome =
        run.check_change(&path, change, &|b| b["title"] == "Engineer" && b["displayName"] == "Ada Twice").await;
    run.record("users.patch.manyOperations", "one PATCH of two operations", "RFC 7644 §3.5.2", outcome);
}

async fn manager(run: &mut Run, u: &Users, path: &str) {
    if u.manager.is_empty() {
        let why = Outcome::Skipped { why: "the manager user could not be created".into() };
        run.record("users.patch.manager", "PATCH of the manager reference", "RFC 7643 §4.3", why);
        return;
    }
    let change = Change {
        ops: json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": u.manager}}]),
        next: Some((
            vec![json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager.value"), "value": u.manager}])],
            "complexValue=subAttributes: replace of manager.value",
        )),
        edit: &|r| r[ENTERPRISE]["manager"] = json!({"value": u.manager}),
        put_form: USER_PUT,
    };
    let outcome = run.check_change(path, change, &|b| b[ENTERPRISE]["manager"]["value"] == u.manager.as_str()).await;
    run.record("users.patch.manager", "PATCH of the manager reference (a complex value)", "RFC 7643 §4.3", outcome);
}

async fn activity(run: &mut Run, u: &Users) {
    let path = format!("/Users/{}", u.person);
    for (name, what, to) in [
        ("users.deactivate", "PATCH active false disables the account (how roster disables)", false),
        ("users.reactivate", "PATCH active true enables it again", true),
    ] {
        let change = Change {
            ops: json!([{"op": "replace", "path": "active", "value": to}]),
            next: None,
            edit: &|r| r["active"] = json!(to),
            put_form: USER_PUT,
        };
        let outcome = run.check_change(&path, change, &|b| b["active"] == to).await;
        run.record(name, what, "RFC 7643 §4.1.1", outcome);
    }
}

async fn paging(run: &mut Run) {
    let (request, answer) = run.get("/Users?startIndex=1&count=1").await;
    let items = answer.body["Resources"].as_array().map_or(0, Vec::len);
    let total = answer.body["totalResults"].as_u64().unwrap_or(0);
    let outcome = if answer.status == 200
        && items <= 1
        && total >= 2
        && answer.body["startIndex"].as_u64().unwrap_or(1) == 1
    {
        Outcome::Passed
    } else {
        Run::fail(request, &answer, "expected at most one resource of a total of at least two (startIndex 1, count 1)")
    };
    run.record("users.paging", "GET /Users?startIndex=1&count=1 answers one page", "RFC 7644 §3.4.2.4", outcome);
}

fn members_of(b: &Value) -> Vec<String> {
    b["members"]
        .as_array()
        .map(|l| l.iter().filter_map(|m| m["value"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

async fn groups(run: &mut Run, tag: &str, users: Option<&Users>) {
    let Some(u) = users.filter(|u| !u.manager.is_empty()) else {
        for name in ["groups.create", "groups.addMember", "groups.removeMember"] {
            run.record(
                name,
                "groups with members",
                "RFC 7644 §3.5.2",
                Outcome::Skipped { why: "two users are needed".into() },
            );
        }
        return;
    };
    let body = json!({"schemas": [GROUP], "displayName": format!("validate-{tag}"), "members": [{"value": u.person}]});
    let (request, answer) = run.send(reqwest::Method::POST, "/Groups", Some(&body)).await;
    let Some(id) = answer.body["id"].as_str().filter(|_| answer.status == 201).map(str::to_string) else {
        run.record(
            "groups.create",
            "POST /Groups creates a group with a member",
            "RFC 7644 §3.3",
            Run::fail(request, &answer, "expected 201 with the group's id"),
        );
        return;
    };
    run.made.push(format!("/Groups/{id}"));
    let path = format!("/Groups/{id}");
    let (request, read) = run.get(&path).await;
    let outcome = if members_of(&read.body).contains(&u.person) {
        Outcome::Passed
    } else {
        Run::fail(request, &read, "the group read after its creation does not list its member")
    };
    run.record("groups.create", "POST /Groups creates a group with a member", "RFC 7644 §3.3", outcome);

    let both = json!([{"value": u.person}, {"value": u.manager}]);
    let change = Change {
        ops: json!([{"op": "add", "path": "members", "value": [{"value": u.manager}]}]),
        next: None,
        edit: &|r| r["members"] = both.clone(),
        put_form: GROUP_PUT,
    };
    let outcome = run.check_change(&path, change, &|b| members_of(b).contains(&u.manager)).await;
    run.record("groups.addMember", "PATCH add of a member", "RFC 7644 §3.5.2.1", outcome);

    let gone = |b: &Value| !members_of(b).contains(&u.manager) && members_of(b).contains(&u.person);
    let change = Change {
        ops: json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", u.manager)}]),
        next: Some((
            vec![json!([{"op": "remove", "path": "members", "value": [{"value": u.manager}]}])],
            "memberRemoval=valueList: remove of members with a value list",
        )),
        edit: &|r| r["members"] = json!([{"value": u.person}]),
        put_form: GROUP_PUT,
    };
    let outcome = run.check_change(&path, change, &gone).await;
    run.record(
        "groups.removeMember",
        "PATCH remove of one member by a value filter (members[value eq \"...\"])",
        "RFC 7644 §3.5.2.2",
        outcome,
    );
}

async fn errors(run: &mut Run, tag: &str, users: Option<&Users>) {
    let (request, answer) = run.get(&format!("/Users/roster-validate-missing-{tag}")).await;
    let outcome = if answer.status == 404 && answer.body["schemas"][0] == ERROR {
        Outcome::Passed
    } else {
        Run::fail(request, &answer, "expected 404 in the SCIM error schema")
    };
    run.record("errors.notFound", "a read of an unknown id answers 404 in the error schema", "RFC 7644 §3.12", outcome);

    let Some(u) = users else {
        run.record(
            "errors.uniqueness",
            "a second user of the same userName",
            "RFC 7644 §3.3",
            Outcome::Skipped { why: "no user could be created".into() },
        );
        return;
    };
    let body = user_body(&u.user_name, "Twin");
    let (request, answer) = run.send(reqwest::Method::POST, "/Users", Some(&body)).await;
    if let Some(id) = answer.body["id"].as_str().filter(|_| answer.ok()) {
        run.made.push(format!("/Users/{id}"));
    }
    let outcome = if answer.status == 409 {
        Outcome::Passed
    } else {
        Run::fail(request, &answer, "expected 409 (scimType uniqueness): roster adopts the existing account on it")
    };
    run.record("errors.uniqueness", "a second user of the same userName answers 409", "RFC 7644 §3.3", outcome);
}

async fn cleanup(run: &mut Run) {
    let made: Vec<String> = run.made.iter().rev().cloned().collect();
    if made.is_empty() {
        let what = "DELETE removes what the validator made";
        run.record("cleanup.delete", what, "RFC 7644 §3.6", Outcome::Skipped { why: "nothing was made".into() });
        return;
    }
    let mut failures = Vec::new();
    let mut last = None;
    for path in &made {
        let (request, answer) = run.send(reqwest::Method::DELETE, path, None).await;
        let (_, read) = run.get(path).await;
        if !(answer.ok() && read.status == 404) {
            failures.push(path.clone());
            last = Some((request, answer));
        }
    }
    let outcome = match last {
        None => Outcome::Passed,
        Some((request, answer)) => Run::fail(
            request,
            &answer,
            format!("expected 204, then 404 on a read; left behind: {}", failures.join(", ")),
        ),
    };
    run.record("cleanup.delete", "DELETE removes what the validator made", "RFC 7644 §3.6", outcome);
}
