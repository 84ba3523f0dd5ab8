//! The sample app's in-memory storage and the [`SampleState`] handle that
//! tests and benchmarks use to inspect it and read request counters.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use roster_scim::MemberRemoval;
use serde_json::{json, Map, Value};
use tokio::sync::RwLock;

/// A stored group: its attributes without members, and the members as a
/// set (value → insertion number and entry) so that adding and removing
/// one is O(1) even in a 10,000-member group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The group without `members`.
    pub resource: Value,
    /// Member value → (insertion order, member entry).
    pub members: HashMap<String, (u64, Value)>,
    /// Next insertion number.
    pub next_seq: u64,
}

impl Group {
    /// Adds a member entry (`{"value": id, ...}`) unless present.
    pub fn add_member(&mut self, value: String, entry: Value) {
        if !self.members.contains_key(&value) {
            self.members.insert(value, (self.next_seq, entry));
            self.next_seq += 1;
        }
    }

    /// The group as served, with its members unless `with_members` is false.
    pub fn render(&self, with_members: bool) -> Value {
        let mut out = self.resource.clone();
        if with_members && !self.members.is_empty() {
            let mut entries: Vec<&(u64, Value)> = self.members.values().collect();
            entries.sort_by_key(|(seq, _)| *seq);
            if let Some(o) = out.as_object_mut() {
                o.insert("members".into(), Value::Array(entries.into_iter().map(|(_, e)| e.clone()).collect()));
            }
        }
        out
    }
}

/// All stored resources.
#[derive(Debug, Default)]
pub struct Store {
    /// Users by id (ordered by id, for stable paging).
    pub users: BTreeMap<String, Value>,
    /// Lower-cased userName → id.
    pub user_names: HashMap<String, String>,
    /// Groups by id.
    pub groups: BTreeMap<String, Group>,
}

impl Store {
    /// The id of the user whose userName equals `name` (any case).
    pub fn user_id_by_name(&self, name: &str) -> Option<&String> {
        self.user_names.get(&name.to_lowercase())
    }
}

/// Options of a sample app.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Which forms of member removal PATCH accepts (default both); the
    /// other answers `400 invalidPath`.
    pub member_removal_forms: Vec<MemberRemoval>,
    /// The PATCH forms this app refuses, the way partial SCIM servers do (none
    /// by default): the app plays a SCIM dialect.
    pub refuse: Vec<Refusal>,
    /// The app keeps the entries of `emails`, `phoneNumbers` and `addresses`
    /// without their `type`, as some apps do (off by default).
    pub drop_types: bool,
    /// Attributes the app lets set on creation only: a change answers
    /// `400 mutability`, in a PATCH or a PUT (none by default; many apps treat
    /// `userName` so).
    pub immutable: Vec<String>,
    /// How long every answer is held back, as a remote app's round trip would
    /// be (none by default).
    pub latency: Option<std::time::Duration>,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            member_removal_forms: vec![MemberRemoval::Filter, MemberRemoval::ValueList],
            refuse: Vec::new(),
            drop_types: false,
            immutable: Vec::new(),
            latency: None,
        }
    }
}

/// A PATCH form a sample app can refuse, as partial SCIM servers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// `501` for a value filter in a path (`emails[type eq "work"].value`,
    /// `members[value eq "1"]`).
    FilterPaths,
    /// `501` for an `add` operation.
    Add,
    /// `501` for a complex value (`{"value": "12"}` for `manager`).
    ComplexValues,
    /// `501` for a PATCH of more than one operation.
    ManyOperations,
    /// `400 invalidValue` for a `remove` that carries a value list.
    ValueListRemoval,
    /// `501` for every PATCH (the app takes only `PUT`).
    Patch,
}

impl Refusal {
    /// Every refusal.
    pub const ALL: [Refusal; 6] = [
        Refusal::FilterPaths,
        Refusal::Add,
        Refusal::ComplexValues,
        Refusal::ManyOperations,
        Refusal::ValueListRemoval,
        Refusal::Patch,
    ];

    /// Its name on the command line (`filter-paths`).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::FilterPaths => "filter-paths",
            Refusal::Add => "add",
            Refusal::ComplexValues => "complex-values",
            Refusal::ManyOperations => "many-operations",
            Refusal::ValueListRemoval => "value-list-removal",
            Refusal::Patch => "patch",
        }
    }

    /// The refusal named `name`.
    pub fn parse(name: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The error this refusal gives `ops`, if it refuses them.
    pub(crate) fn check(self, ops: &[roster_scim::PatchOperation]) -> Option<crate::http::ApiError> {
        use roster_scim::PatchOp;
        let unsupported =
            |what: &str| Some(crate::http::ApiError::new(501, None, format!("{what} is not implemented")));
        let refused = match self {
            Refusal::FilterPaths => ops.iter().any(|o| o.path.as_deref().is_some_and(|p| p.contains('['))),
            Refusal::Add => ops.iter().any(|o| o.op == PatchOp::Add),
            Refusal::ComplexValues => ops.iter().any(|o| o.path.is_some() && matches!(o.value, Some(Value::Object(_)))),
            Refusal::ManyOperations => ops.len() > 1,
            Refusal::ValueListRemoval => {
                if ops.iter().any(|o| o.op == PatchOp::Remove && matches!(o.value, Some(Value::Array(_)))) {
                    return Some(crate::http::ApiError::bad("invalidValue", "a remove operation takes no value"));
                }
                false
            }
            Refusal::Patch => true,
        };
        match (refused, self) {
            (false, _) => None,
            (true, Refusal::FilterPaths) => unsupported("a value filter in a PATCH path"),
            (true, Refusal::Add) => unsupported("the add operation"),
            (true, Refusal::ComplexValues) => unsupported("a complex value in a PATCH"),
            (true, Refusal::ManyOperations) => unsupported("more than one operation in a PATCH"),
            (true, _) => unsupported("PATCH"),
        }
    }
}

#[derive(Debug)]
struct Shared {
    store: RwLock<Store>,
    counters: Mutex<BTreeMap<String, u64>>,
    token: String,
    options: SampleOptions,
    base_url: Mutex<String>,
}

/// A handle on a sample app's state, cheap to clone.
///
/// Request counters are keyed `"<METHOD> /<Users|Groups><suffix>"`:
/// `POST /Users`, `GET /Users` (unfiltered list), `GET /Users?filter`,
/// `GET /Users/{id}`, `PUT /Users/{id}`, `PATCH /Users/{id}`,
/// `DELETE /Users/{id}`, the same for `/Groups`, and
/// `PATCH /Groups member values` (member values in group PATCHes).
#[derive(Debug, Clone)]
pub struct SampleState {
    inner: Arc<Shared>,
}

impl SampleState {
    pub(crate) fn new(token: String, options: SampleOptions) -> Self {
        SampleState {
            inner: Arc::new(Shared {
                store: RwLock::new(Store::default()),
                counters: Mutex::new(BTreeMap::new()),
                token,
                options,
                base_url: Mutex::new(String::new()),
            }),
        }
    }

    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    pub(crate) fn options(&self) -> &SampleOptions {
        &self.inner.options
    }

    /// A user as this app keeps it: without the `type` of its entries when it
    /// drops them.
    pub(crate) fn keep(&self, mut user: Map<String, Value>) -> Map<String, Value> {
        if self.inner.options.drop_types {
            for (name, value) in user.iter_mut() {
                let listed = ["emails", "phoneNumbers", "addresses"].iter().any(|a| a.eq_ignore_ascii_case(name));
                if let (true, Value::Array(entries)) = (listed, value) {
                    for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                        entry.retain(|k, _| !k.eq_ignore_ascii_case("type"));
                    }
                }
            }
        }
        user
    }

    /// Refuses a change of an attribute this app lets set on creation only
    /// (`old` is the user as stored, `new` as it would become).
    pub(crate) fn check_immutable(
        &self,
        old: Option<&Value>,
        new: &Map<String, Value>,
    ) -> Result<(), crate::http::ApiError> {
        let old = old.and_then(Value::as_object);
        for attr in &self.inner.options.immutable {
            let was = old.and_then(|o| roster_scim::get_ci(o, attr));
            if was.is_some() && was != roster_scim::get_ci(new, attr) {
                return Err(crate::http::ApiError::bad("mutability", format!("{attr} cannot be changed")));
            }
        }
        Ok(())
    }

    /// The refusal the app's dialect gives a PATCH of `ops`, if any.
    pub(crate) fn refuse(&self, ops: &[roster_scim::PatchOperation]) -> Result<(), crate::http::ApiError> {
        match self.inner.options.refuse.iter().find_map(|r| r.check(ops)) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub(crate) fn store(&self) -> &RwLock<Store> {
        &self.inner.store
    }

    pub(crate) fn set_base_url(&self, url: String) {
        if let Ok(mut b) = self.inner.base_url.lock() {
            *b = url;
        }
    }

    /// The base URL (`http://127.0.0.1:PORT/scim/v2`), once bound.
    pub fn base_url(&self) -> String {
        self.inner.base_url.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Adds `n` to a counter.
    pub(crate) fn count(&self, key: &str, n: u64) {
        if let Ok(mut c) = self.inner.counters.lock() {
            *c.entry(key.to_string()).or_insert(0) += n;
        }
    }

    /// One counter's value (0 if never counted).
    pub fn counter(&self, key: &str) -> u64 {
        self.inner.counters.lock().map(|c| c.get(key).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// All counters.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.inner.counters.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        if let Ok(mut c) = self.inner.counters.lock() {
            c.clear();
        }
    }

    /// Number of users.
    pub async fn user_count(&self) -> usize {
        self.inner.store.read().await.users.len()
    }

    /// Number of users not disabled (`active` is not false).
    pub async fn active_user_count(&self) -> usize {
        self.inner.store.read().await.users.values().filter(|u| u["active"] != serde_json::Value::Bool(false)).count()
    }

    /// How many groups it holds.
    pub async fn group_count(&self) -> usize {
        self.inner.store.read().await.groups.len()
    }

    /// The user with this userName (any case).
    pub async fn user_by_name(&self, user_name: &str) -> Option<Value> {
        let store = self.inner.store.read().await;
        store.user_id_by_name(user_name).and_then(|id| store.users.get(id)).cloned()
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Option<Value> {
        self.inner.store.read().await.users.get(id).cloned()
    }

    /// The first group (by id) with this displayName (any case), with
    /// its members.
    pub async fn group_by_name(&self, display_name: &str) -> Option<Value> {
        let store = self.inner.store.read().await;
        store
            .groups
            .values()
            .find(|g| {
                crate::http::str_attr(&g.resource, "displayName").is_some_and(|d| d.eq_ignore_ascii_case(display_name))
            })
            .map(|g| g.render(true))
    }

    /// A group by id, with its members.
    pub async fn group(&self, id: &str) -> Option<Value> {
        self.inner.store.read().await.groups.get(id).map(|g| g.render(true))
    }

    /// Member ids of a group by id.
    pub async fn group_member_ids(&self, id: &str) -> Option<Vec<String>> {
        let store = self.inner.store.read().await;
        let g = store.groups.get(id)?;
        let mut ids: Vec<(&u64, &String)> = g.members.iter().map(|(k, (seq, _))| (seq, k)).collect();
        ids.sort();
        Some(ids.into_iter().map(|(_, k)| k.clone()).collect())
    }

    /// Deletes a user without any request (as an admin of the app would);
    /// returns whether it existed.
    pub async fn delete_user_behind_back(&self, id: &str) -> bool {
        let mut store = self.inner.store.write().await;
        match store.users.remove(id) {
            Some(user) => {
                if let Some(name) = crate::http::str_attr(&user, "userName") {
                    let key = name.to_lowercase();
                    store.user_names.remove(&key);
                }
                true
            }
            None => false,
        }
    }
}

/// A new resource id (32 hex digits).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The current time in RFC 3339.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Sets `meta` for a resource at version `version`, keeping `created`.
pub fn set_meta(resource: &mut Map<String, Value>, kind: &str, location: String, version: u64) {
    let created = resource.get("meta").and_then(|m| m.get("created")).cloned().unwrap_or_else(|| Value::String(now()));
    resource.insert(
        "meta".into(),
        json!({"resourceType": kind, "created": created, "lastModified": now(),
               "location": location, "version": format!("W/\"{version}\"")}),
    );
}

/// The version number in `meta.version` (`W/"n"`), 0 if none.
pub fn version_of(resource: &Value) -> u64 {
    resource
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok())
        .unwrap_or(0)
}
