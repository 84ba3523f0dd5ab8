//! What a write would send, without sending it: the requests of a plan
//! (`roster app plan`). Each connector describes its writes in the forms it
//! would use now (a SCIM app's dialect as learned so far), so that a plan shows
//! the requests the next cycle sends, request for request.

use roster_scim::{build_resource, patch_body, PatchOperation, ResourceKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A write to the app, as the engine asks it of a connector.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// `Connector::create`.
    Create { kind: ResourceKind, attrs: &'a [(String, Value)] },
    /// `Connector::update_managed` (`managed`: every attribute roster sends the object).
    Update { kind: ResourceKind, id: &'a str, ops: &'a [PatchOperation], managed: &'a [(String, Value)] },
    /// `Connector::delete`.
    Delete { kind: ResourceKind, id: &'a str },
    /// `Connector::update_members` (target ids).
    Members { group: &'a str, add: &'a [String], remove: &'a [String] },
}

/// One request a write sends: method, path (as the app sees it, query
/// included) and body; `note` says what the body cannot show (a body read from
/// the app first, an id the app gives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRequest {
    /// `POST`, `PATCH`, `PUT`, `GET`, `DELETE` (`NONE`: the app refuses it, see the note).
    pub method: String,
    /// The path, as the app sees it.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// What the body cannot show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl PlannedRequest {
    /// A request with a body.
    pub fn new(method: &str, path: impl Into<String>, body: Option<Value>) -> PlannedRequest {
        PlannedRequest { method: method.to_string(), path: path.into(), body, note: None }
    }

    /// The same request, with a note.
    pub fn noted(mut self, note: impl Into<String>) -> PlannedRequest {
        self.note = Some(note.into());
        self
    }
}

/// A write in plain SCIM forms, under `base` (a path): what a connector that
/// has no description of its own shows.
pub fn scim_forms(base: &str, write: &Write<'_>) -> Vec<PlannedRequest> {
    let base = base.trim_end_matches('/');
    match *write {
        Write::Create { kind, attrs } => {
            vec![PlannedRequest::new("POST", format!("{base}/{}", kind.endpoint()), Some(build_resource(kind, attrs)))]
        }
        Write::Update { kind, id, ops, .. } if !ops.is_empty() => {
            vec![PlannedRequest::new("PATCH", format!("{base}/{}/{id}", kind.endpoint()), Some(patch_body(ops)))]
        }
        Write::Update { .. } => Vec::new(),
        Write::Delete { kind, id } => {
            vec![PlannedRequest::new("DELETE", format!("{base}/{}/{id}", kind.endpoint()), None)]
        }
        Write::Members { group, add, remove } => {
            let ops = roster_scim::members_patch(add, remove, roster_scim::MemberRemoval::Filter);
            if ops.is_empty() {
                return Vec::new();
            }
            vec![PlannedRequest::new("PATCH", format!("{base}/Groups/{group}"), Some(patch_body(&ops)))]
        }
    }
}
