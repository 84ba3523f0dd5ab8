//! The decision for one user or group, without I/O: given what the directory
//! wants (out of scope, or these attributes), what is known of the object in
//! the app (the shadow, an object matched in the app, or nothing) and what the
//! mapping allows, the one thing to do. `cycle::process_user` and
//! `groups::sync_group` import, scope and match, ask [`decide`], then perform
//! the plan; every rule lives here, so that the table at the end of this file
//! tests each one on its own.
//!
//! The rules, in the documentation's words:
//! - a disabled object mapping provisions nothing;
//! - a user out of scope (deleted, disabled, unassigned, filtered out) whose
//!   account is enabled is disabled, never deleted; otherwise nothing happens;
//! - a group out of scope is deleted in the app when the mapping allows
//!   deleting; otherwise it is left there, and no longer provisioned;
//! - no account: created when the mapping allows creating, else skipped;
//! - an account: only the attributes that differ go out, in one PATCH;
//!   attributes applied only on creation are neither sent nor removed; when the
//!   mapping does not allow updates, only `active` goes out;
//! - an account that was disabled and is back in scope is enabled (with
//!   `active=true` whether the mapping sends `active` or not); a group left in
//!   the app and back in scope is provisioned again (its shadow is written even
//!   when nothing differs);
//! - nothing differs: nothing goes out; the shadow is written only when it would
//!   change (an account adopted from the app, a reference resolved or pending).

use roster_scim::{PatchOp, PatchOperation};
use roster_store::{ModifiedProperty, ObjectKind, ShadowEntry};
use serde_json::{json, Map, Value};

/// What the directory wants of a user's account in the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// Out of scope, with the reason (for the log).
    OutOfScope(&'static str),
    /// In scope, with these attributes.
    InScope(Wanted),
}

impl Want {
    /// The attributes wanted, when in scope.
    pub fn wanted(&self) -> Option<&Wanted> {
        match self {
            Want::InScope(w) => Some(w),
            Want::OutOfScope(_) => None,
        }
    }
}

/// The attributes a user in scope should have in the app.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    /// Target path → value, coerced to the target's types, references resolved.
    pub attributes: Vec<(String, Value)>,
    /// The targets applied only when the account is created.
    pub create_only: Vec<String>,
    /// The user's manager, when it has no account in the app yet.
    pub pending_ref: Option<String>,
}

/// What is known of the user's account in the app.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// roster's shadow: the account and what was last sent to it.
    Shadow(&'a ShadowEntry),
    /// An account matched in the app, with the values it holds now.
    InApp { id: &'a str, current: &'a Map<String, Value> },
    /// No account.
    Nothing,
}

/// What the object mapping allows, and for which kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Users or groups.
    pub kind: ObjectKind,
    /// The mapping is enabled.
    pub enabled: bool,
    /// Objects may be created.
    pub create: bool,
    /// Objects may be updated (else, for users, only `active` goes out).
    pub update: bool,
    /// Groups out of scope may be deleted in the app (users never are).
    pub delete: bool,
}

impl Rules {
    /// The rules of an object mapping.
    pub fn of(kind: ObjectKind, definition: &roster_mapping::ObjectMapping) -> Rules {
        Rules {
            kind,
            enabled: definition.enabled,
            create: definition.actions.create,
            update: definition.actions.update,
            delete: definition.actions.delete,
        }
    }
}

/// Why nothing goes out for a user that needs something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// No account, and the mapping does not allow creating one.
    CreateNotAllowed,
}

/// The one thing to do for a user.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing to send and nothing to record.
    Noop,
    /// Nothing is sent; the decision is logged as skipped.
    Skip(SkipReason),
    /// Create the account with these attributes.
    Create { attributes: Vec<(String, Value)>, exported: Map<String, Value> },
    /// Nothing is sent, but the shadow becomes `exported` (logged as an update
    /// with nothing to change).
    Record { target: String, exported: Map<String, Value> },
    /// Send `ops` to the account; the shadow becomes `exported`.
    Update { target: String, ops: Vec<PatchOperation>, exported: Map<String, Value>, changes: Vec<ModifiedProperty> },
    /// Like `Update`, to an account that was disabled: it is enabled.
    Enable { target: String, ops: Vec<PatchOperation>, exported: Map<String, Value>, changes: Vec<ModifiedProperty> },
    /// Disable the account (`active=false`); a user's account is never deleted.
    Disable { target: String },
    /// Delete the group in the app (deletes are on for groups).
    Delete { target: String },
    /// Nothing is sent: the group stays in the app, no longer provisioned (its
    /// shadow is kept, disabled); logged as skipped.
    Leave { target: String },
}

/// Decides what to do for one user.
pub fn decide(want: &Want, found: Found<'_>, rules: Rules) -> Plan {
    if !rules.enabled {
        return Plan::Noop;
    }
    let wanted = match want {
        Want::OutOfScope(_) => {
            let Found::Shadow(s) = found else { return Plan::Noop };
            let target = s.target_id.clone();
            return match rules.kind {
                _ if !s.enabled => Plan::Noop,
                ObjectKind::User => Plan::Disable { target },
                ObjectKind::Group if rules.delete => Plan::Delete { target },
                ObjectKind::Group => Plan::Leave { target },
            };
        }
        Want::InScope(w) => w,
    };
    let (target, old, shadow) = match found {
        Found::Nothing if !rules.create => return Plan::Skip(SkipReason::CreateNotAllowed),
        Found::Nothing => {
            let exported: Map<String, Value> = wanted.attributes.iter().cloned().collect();
            return Plan::Create { attributes: wanted.attributes.clone(), exported };
        }
        Found::Shadow(s) => (s.target_id.as_str(), &s.exported, Some(s)),
        Found::InApp { id, current } => (id, current, None),
    };
    let returning = shadow.is_some_and(|s| !s.enabled);
    // Only accounts are enabled (`active`); a group coming back is updated.
    let enabling = returning && rules.kind == ObjectKind::User;
    let (ops, exported) = update_of(wanted, old, rules.update, enabling);
    if ops.is_empty() {
        let unchanged = shadow.is_some_and(|s| s.enabled && s.pending_ref == wanted.pending_ref);
        return if unchanged { Plan::Noop } else { Plan::Record { target: target.to_string(), exported } };
    }
    let changes = crate::cycle::modified(old, &exported);
    let target = target.to_string();
    if enabling {
        Plan::Enable { target, ops, exported, changes }
    } else {
        Plan::Update { target, ops, exported, changes }
    }
}

/// The operations that bring an account from `old` to what is wanted, and the
/// shadow after them.
fn update_of(
    wanted: &Wanted,
    old: &Map<String, Value>,
    update_allowed: bool,
    returning: bool,
) -> (Vec<PatchOperation>, Map<String, Value>) {
    let is_create_only = |k: &str| wanted.create_only.iter().any(|c| c == k);
    // Attributes applied only on creation are neither sent nor removed.
    let mut update: Vec<(String, Value)> =
        wanted.attributes.iter().filter(|(k, _)| !is_create_only(k)).cloned().collect();
    let mut compared: Map<String, Value> =
        old.iter().filter(|(k, _)| !is_create_only(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !update_allowed {
        // Only enabling goes out; the shadow keeps what the app holds otherwise.
        update.retain(|(k, _)| k == "active");
        compared.retain(|k, _| k == "active");
    }
    if returning && !update.iter().any(|(k, _)| k == "active") {
        // The account was disabled with `active=false`: it is enabled the same
        // way, whether the mapping sends `active` or not.
        update.push(("active".into(), Value::Bool(true)));
        compared.insert("active".into(), Value::Bool(false));
    }
    let mut ops = roster_scim::diff_patch(&compared, &update);
    if returning && !ops.iter().any(|o| o.path.as_deref() == Some("active")) {
        ops.push(PatchOperation::new(PatchOp::Replace, "active", Some(Value::Bool(true))));
    }
    let mut exported: Map<String, Value> = if update_allowed { Map::new() } else { old.clone() };
    exported.extend(update);
    for k in &wanted.create_only {
        if let Some(v) = old.get(k) {
            exported.insert(k.clone(), v.clone());
        }
    }
    (ops, exported)
}

/// A one-line account of a plan, for tests and traces.
pub fn summary(plan: &Plan) -> String {
    let ops = |ops: &[PatchOperation]| {
        ops.iter()
            .map(|o| {
                let op = json!(o.op).as_str().unwrap_or_default().to_string();
                match &o.value {
                    Some(v) => format!("{op} {}={v}", o.path.as_deref().unwrap_or("")),
                    None => format!("{op} {}", o.path.as_deref().unwrap_or("")),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match plan {
        Plan::Noop => "Noop".into(),
        Plan::Skip(r) => format!("Skip {r:?}"),
        Plan::Create { attributes, .. } => {
            format!("Create {}", attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "))
        }
        Plan::Record { target, .. } => format!("Record {target}"),
        Plan::Update { target, ops: o, .. } => format!("Update {target} [{}]", ops(o)),
        Plan::Enable { target, ops: o, .. } => format!("Enable {target} [{}]", ops(o)),
        Plan::Disable { target } => format!("Disable {target}"),
        Plan::Delete { target } => format!("Delete {target}"),
        Plan::Leave { target } => format!("Leave {target}"),
    }
}

#[cfg(test)]
mod tests;
