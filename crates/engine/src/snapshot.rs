//! The initial cycle's snapshot: every object of a kind in the app, read once in
//! pages of 1,000 and keyed by the first matching attribute, so that the cycle
//! does not ask the app per object.
//!
//! The app decides how long its listing is, so the reading is bounded: it ends at
//! an empty page and at a page whose objects were all read already (an app that
//! ignores `startIndex`), and an app that lists more than `maxListedObjects` ends
//! the cycle with an error rather than roster's memory. A short page does not end
//! it: SCIM lets an app answer fewer objects than asked (RFC 7644 §3.4.2.4), and
//! Salesforce's batch size is a hint, so a short page is not always the last. The objects are kept as compact
//! JSON text, parsed again on the one lookup each gets: a parsed object takes
//! several times the memory.

use crate::cycle::CycleContext;
use crate::EngineError;
use roster_connectors::{ConnectorError, ResourceKind, TargetObject};
use roster_mapping::CompiledObjectMapping;
use roster_scim::AttrPath;
use std::collections::{HashMap, HashSet};

/// Objects asked for per page.
const PAGE: u64 = 1000;

/// Target objects by lowercased value of the first matching attribute.
#[derive(Debug, Default)]
pub struct Snapshot {
    objects: HashMap<String, Vec<(String, Box<str>)>>,
}

impl Snapshot {
    /// The objects whose matching value is `key` (lowercased).
    pub fn get(&self, key: &str) -> Vec<TargetObject> {
        let Some(found) = self.objects.get(key) else { return Vec::new() };
        found
            .iter()
            .map(|(id, text)| TargetObject {
                id: id.clone(),
                resource: serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
            })
            .collect()
    }
}

/// Target objects by lowercased value of the first matching attribute; `None`
/// when the listing cannot be used (the cycle then asks the app per object).
/// A configuration error (refused token, an answer over the size cap, a listing
/// over `maxListedObjects`) ends the cycle: a person must act.
pub async fn snapshot(
    ctx: &CycleContext,
    kind: ResourceKind,
    mapping: &CompiledObjectMapping,
) -> Result<Option<Snapshot>, EngineError> {
    match read(ctx, kind, mapping).await {
        Ok(found) => Ok(Some(found)),
        Err(EngineError::Connector(e @ ConnectorError::Config { .. })) => Err(EngineError::Connector(e)),
        Err(e) => {
            tracing::info!(app = %ctx.app.as_str(), error = %e, "no snapshot of the app; objects are looked up one by one");
            Ok(None)
        }
    }
}

async fn read(
    ctx: &CycleContext,
    kind: ResourceKind,
    mapping: &CompiledObjectMapping,
) -> Result<Snapshot, EngineError> {
    let Some((_, path)) = mapping.matching_attributes().first().cloned() else { return Ok(Snapshot::default()) };
    let path = AttrPath::parse(path).map_err(|e| EngineError::Invalid(e.to_string()))?;
    let mut out: HashMap<String, Vec<(String, Box<str>)>> = HashMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = crate::cycle::with_retry(|| ctx.connector.list(kind, cursor.as_deref(), PAGE)).await?;
        let n = page.items.len();
        let fresh: Vec<TargetObject> = page.items.into_iter().filter(|t| seen.insert(t.id.clone())).collect();
        if n > 0 && fresh.is_empty() {
            tracing::warn!(app = %ctx.app.as_str(), kind = kind.endpoint(), "the app listed a page it had listed already");
            break;
        }
        if seen.len() as u64 > ctx.max_listed_objects {
            return Err(EngineError::Connector(ConnectorError::Config {
                message: format!(
                    "the app listed more than {} {} and did not stop: roster stopped reading the listing; raise \
                     maxListedObjects if the app really holds that many",
                    ctx.max_listed_objects,
                    kind.endpoint()
                ),
            }));
        }
        for t in fresh {
            if let Some(v) = roster_scim::extract(&t.resource, &path).and_then(|v| v.as_str().map(str::to_lowercase)) {
                out.entry(v).or_default().push((t.id, t.resource.to_string().into_boxed_str()));
            }
        }
        match page.next {
            Some(next) if n > 0 => cursor = Some(next),
            _ => break,
        }
    }
    out.shrink_to_fit();
    Ok(Snapshot { objects: out })
}
