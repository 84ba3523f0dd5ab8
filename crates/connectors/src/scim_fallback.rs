//! Speaking each app's dialect. A change is sent in the forms the app is known
//! to accept ([`Dialect::shape`]). When the app refuses a form (501, or a 400
//! that refuses the request's shape), roster tries the equivalent forms in a
//! fixed order; the first that works becomes the app's dialect for that kind of
//! change, so that later changes go straight to it:
//! - a PATCH of many operations is split into one operation per PATCH;
//! - each refused operation tries its other forms ([`Dialect::alternatives`]);
//! - member removal: filter path, value list, one member per request;
//! - last resort: the resource is read and `PUT` whole with the change
//!   applied (`If-Match` when the app gives an `ETag`).
//!
//! An attribute the app refuses in every form is left out from then on, and
//! said once; the rest of the change still goes through.

use reqwest::header::{HeaderValue, ETAG};
use reqwest::Method;
use roster_scim::{
    apply_patch, build_resource, extract, members_patch, Aspect, AttrPath, Dialect, Form, MemberRemoval, PatchOp,
    PatchOperation, ResourceKind,
};
use serde_json::Value;

use super::ScimConnector;
use crate::classify::{classify, conflict_as_permanent};
use crate::describe::{PlannedRequest, Write};
use crate::ConnectorError;

/// The paths of `sent` with a value filter (`emails[type eq "work"].value`),
/// parsed, each with its text and the value sent under it (null ones left out):
/// the only paths whose entry an app can keep out of the filter's reach.
fn filtered_paths(sent: &[(String, Value)]) -> impl Iterator<Item = (std::sync::Arc<AttrPath>, &str, &Value)> {
    sent.iter()
        .filter(|(p, v)| !v.is_null() && p.contains('['))
        .filter_map(|(p, v)| Some((AttrPath::parse_cached(p).ok()?, p.as_str(), v)))
        .filter(|(path, _, _)| path.filter.is_some())
}

/// The most objects with notes kept (notes nobody takes are dropped past it).
const MAX_NOTED: usize = 10_000;

/// What calls on one object did besides what was asked.
#[derive(Debug, Default)]
pub(super) struct Notes {
    /// Forms learned, for a log step.
    learned: Vec<String>,
    /// Attributes the app refuses in every form, for a warning.
    refused: Vec<String>,
}

/// The aspect that says how objects of `kind` are updated.
fn update_aspect(kind: ResourceKind) -> Aspect {
    match kind {
        ResourceKind::Group => Aspect::GroupUpdate,
        _ => Aspect::UserUpdate,
    }
}

/// A short account of the refusal `e`, for a note.
fn refusal(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Permanent { status, scim_type: Some(t), .. } => format!("{status} {t}"),
        ConnectorError::Permanent { status, .. } => status.to_string(),
        e => e.to_string(),
    }
}

/// Whether `e` refuses a member removal's form: any form refusal, or the
/// `400 invalidValue` some apps give a `remove` that carries a value list.
fn refuses_removal(e: &ConnectorError, form: MemberRemoval) -> bool {
    e.is_unsupported_form()
        || (form == MemberRemoval::ValueList
            && matches!(e, ConnectorError::Permanent { status: 400, scim_type: Some(t), .. } if t.eq_ignore_ascii_case("invalidValue")))
}

/// `op` as a short text for a note (`replace emails[type eq "work"].value`).
fn describe(ops: &[PatchOperation]) -> String {
    let one = |op: &PatchOperation| {
        let verb = match op.op {
            PatchOp::Add => "add",
            PatchOp::Replace => "replace",
            PatchOp::Remove => "remove",
        };
        format!("{verb} {}", op.path.as_deref().unwrap_or("(the resource)"))
    };
    ops.iter().map(one).collect::<Vec<_>>().join(", ")
}

impl ScimConnector {
    /// The dialect as learned so far.
    pub(super) fn current_dialect(&self) -> Dialect {
        self.dialect.lock().map(|d| d.clone()).unwrap_or_default()
    }

    fn with_notes(&self, id: &str, f: impl FnOnce(&mut Notes)) {
        if let Ok(mut notes) = self.notes.lock() {
            if notes.len() >= MAX_NOTED {
                notes.clear();
            }
            f(notes.entry(id.to_string()).or_default());
        }
    }

    /// The forms learned on calls about object `id`, once.
    pub(super) fn take_learned(&self, id: &str) -> Option<String> {
        let mut notes = self.notes.lock().ok()?;
        let entry = notes.get_mut(id)?;
        let learned = std::mem::take(&mut entry.learned);
        if entry.refused.is_empty() {
            notes.remove(id);
        }
        (!learned.is_empty()).then(|| learned.join("; "))
    }

    /// The attributes found refused in every form on calls about `id`, once.
    pub(super) fn take_refused(&self, id: &str) -> Vec<String> {
        let Ok(mut notes) = self.notes.lock() else { return Vec::new() };
        let Some(entry) = notes.get_mut(id) else { return Vec::new() };
        let refused = std::mem::take(&mut entry.refused);
        if entry.learned.is_empty() {
            notes.remove(id);
        }
        refused
    }

    /// Learns `form` for `aspect` after the app refused `refused`; the first
    /// call to learn it notes it on `id`.
    fn lesson(&self, id: &str, aspect: Aspect, form: Form, refused: &[PatchOperation], e: &ConnectorError) {
        self.learn(id, aspect, form, &format!("the app refused {} ({})", describe(refused), refusal(e)));
    }

    /// Learns `form` for `aspect` for the reason `why`; the first call to learn
    /// it notes it on `id`.
    fn learn(&self, id: &str, aspect: Aspect, form: Form, why: &str) {
        let new = self.dialect.lock().map(|mut d| d.learn(aspect, form)).unwrap_or(false);
        if new {
            let text = format!(
                "{why}; it takes {} {}: learned for this app, later changes go straight to it",
                aspect.as_str(),
                form.as_str()
            );
            tracing::info!(base = %self.base, aspect = aspect.as_str(), form = form.as_str(), "SCIM dialect learned");
            self.with_notes(id, |n| n.learned.push(text));
        }
    }

    /// Whether the app's form of multi-valued attributes is known (pinned or
    /// learned), so that a created object's answer has nothing more to teach.
    fn knows_multi_valued_form(&self) -> bool {
        self.dialect.lock().map(|d| d.form(Aspect::MultiValued).is_some()).unwrap_or(false)
    }

    /// The top-level members of a created object's answer that
    /// [`read_back`](Self::read_back) looks at: the attribute (or extension)
    /// of each path sent with a value filter; none once the form is known.
    pub(super) fn read_back_members(&self, sent: &[(String, Value)]) -> Vec<String> {
        if self.knows_multi_valued_form() {
            return Vec::new();
        }
        filtered_paths(sent).map(|(path, _, _)| path.schema.clone().unwrap_or_else(|| path.attr.clone())).collect()
    }

    /// Reads back what the app stored of `sent` (path → value) in `stored`, the
    /// resource its answer carries. An entry sent under a value filter
    /// (`emails[type eq "work"]`) that the app keeps without the filter's
    /// attribute cannot be reached by that filter again: changes to such lists
    /// go as the whole list from then on.
    pub(super) fn read_back(&self, id: &str, sent: &[(String, Value)], stored: &Value) {
        if self.knows_multi_valued_form() {
            return;
        }
        // Only a path with a value filter (`emails[type eq "work"].value`) can miss.
        for (path, p, v) in filtered_paths(sent) {
            let Some(filter) = &path.filter else { continue };
            let listed = matches!(extract(stored, &path.attribute()), Some(Value::Array(a)) if !a.is_empty());
            if listed && extract(stored, &path.entry()).is_none() {
                let why = format!(
                    "the app keeps {} without {} {} (sent as {p}), so a value filter cannot reach the entry again",
                    path.attribute(),
                    filter.attr,
                    v
                );
                self.learn(id, Aspect::MultiValued, Form::WholeList, &why);
                return;
            }
        }
    }

    /// Records that the app refuses `op`'s attribute in every form.
    fn refused_everywhere(&self, id: &str, op: &PatchOperation, e: &ConnectorError) {
        let attribute = self.dialect.lock().ok().and_then(|mut d| d.mark_unsupported(op));
        if let Some(attribute) = attribute {
            let text = format!(
                "the app refuses {attribute} in every form roster knows ({}): roster no longer sends it to this app \
                 (see the app's status; resetting the dialect tries again)",
                refusal(e)
            );
            tracing::warn!(base = %self.base, %attribute, "an attribute the app refuses in every form");
            self.with_notes(id, |n| n.refused.push(text));
        }
    }

    /// Applies `ops` to object `id` in the app's dialect; `managed` is every
    /// attribute roster sends the object (whole lists are read from it).
    pub(super) async fn change(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
        managed: &[(String, Value)],
    ) -> Result<(), ConnectorError> {
        let dialect = self.current_dialect();
        let kept: Vec<PatchOperation> = ops.iter().filter(|op| !dialect.refuses(op)).cloned().collect();
        if kept.is_empty() {
            return Ok(());
        }
        if dialect.form(update_aspect(kind)) == Some(Form::Put) {
            return self.put_change(kind, id, &kept).await;
        }
        let pairs = managed;
        let managed = build_resource(kind, pairs);
        let shaped = dialect.shape(&kept, &managed);
        if shaped.len() <= 1 || dialect.form(Aspect::Operations) == Some(Form::One) {
            for op in &shaped {
                self.one_op(kind, id, op, &managed).await?;
            }
            return Ok(());
        }
        let refused = match self.patch_stored(kind, id, &shaped).await {
            Err(e) if e.is_unsupported_form() => e,
            Ok(stored) => {
                if let Some(stored) = stored {
                    self.read_back(id, pairs, &stored);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut as_first_sent = true;
        for op in &shaped {
            as_first_sent &= self.one_op(kind, id, op, &managed).await?;
        }
        if as_first_sent {
            self.lesson(id, Aspect::Operations, Form::One, &shaped, &refused);
        }
        Ok(())
    }

    /// Sends one operation, then its equivalents, then a PUT; `true` when it
    /// went through as first sent.
    async fn one_op(
        &self,
        kind: ResourceKind,
        id: &str,
        op: &PatchOperation,
        managed: &Value,
    ) -> Result<bool, ConnectorError> {
        let one = std::slice::from_ref(op);
        let refused = match self.patch(kind, id, one).await {
            Ok(()) => return Ok(true),
            Err(e) if e.is_unsupported_form() => e,
            Err(e) => return Err(e),
        };
        for alt in self.current_dialect().alternatives(op, managed) {
            match self.patch(kind, id, &alt.ops).await {
                Ok(()) => {
                    self.lesson(id, alt.aspect, alt.form, one, &refused);
                    return Ok(false);
                }
                Err(e) if e.is_unsupported_form() => continue,
                Err(e) => return Err(e),
            }
        }
        // The last resort: a read, then a PUT. An app that does not even let
        // the object be read has refused the change, not the attribute.
        let (resource, tag) = match self.read_for_put(kind, id).await {
            Ok(read) => read,
            Err(e) if e.is_unsupported_form() => return Err(refused),
            Err(e) => return Err(e),
        };
        match self.put_applied(kind, id, resource, tag, one).await {
            Ok(()) => self.lesson(id, update_aspect(kind), Form::Put, one, &refused),
            Err(e) if e.is_unsupported_form() => self.refused_everywhere(id, op, &e),
            Err(e) => return Err(e),
        }
        Ok(false)
    }

    /// Reads object `id`, applies `ops` to it and `PUT`s it whole, with
    /// `If-Match` when the app gave an `ETag`; a 412 (changed meanwhile) may
    /// pass on a retry.
    pub(super) async fn put_change(
        &self,
        kind: ResourceKind,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<(), ConnectorError> {
        let (resource, tag) = self.read_for_put(kind, id).await?;
        self.put_applied(kind, id, resource, tag, ops).await
    }

    /// Object `id` as the app holds it, and its `ETag`.
    async fn read_for_put(&self, kind: ResourceKind, id: &str) -> Result<(Value, Option<HeaderValue>), ConnectorError> {
        let read = self.send(Method::GET, self.url(&[kind.endpoint(), id])?, &[], None).await?;
        if !read.status.is_success() {
            return Err(conflict_as_permanent(classify(&read)));
        }
        Ok((super::json_body(&read)?, read.headers.get(ETAG).cloned()))
    }

    /// `PUT`s `resource` (as read, with its `tag`) with `ops` applied.
    async fn put_applied(
        &self,
        kind: ResourceKind,
        id: &str,
        mut resource: Value,
        tag: Option<HeaderValue>,
        ops: &[PatchOperation],
    ) -> Result<(), ConnectorError> {
        apply_patch(&mut resource, ops).map_err(|e| ConnectorError::Permanent {
            status: 400,
            scim_type: Some(e.scim_type().to_string()),
            app_message: format!("cannot apply the change to the {} the app holds: {e}", kind.name()),
        })?;
        if let Value::Object(o) = &mut resource {
            o.remove("meta");
        }
        let url = self.url(&[kind.endpoint(), id])?;
        let answer = self.send_if(Method::PUT, url, &[], Some(&resource), tag.as_ref()).await?;
        if answer.status.is_success() {
            return Ok(());
        }
        if answer.status.as_u16() == 412 {
            return Err(ConnectorError::Transient {
                message: format!("the {} changed in the app while roster updated it (412)", kind.name()),
            });
        }
        Err(conflict_as_permanent(classify(&answer)))
    }

    /// Adds and removes members of a group in batches, each removal batch in
    /// the first member-removal form the app takes.
    pub(super) async fn change_members(
        &self,
        group: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<u32, ConnectorError> {
        let size = self.settings.member_batch_size.max(1);
        let mut sent = 0u32;
        if self.current_dialect().form(Aspect::GroupUpdate) == Some(Form::Put) {
            for (adds, removes) in
                add.chunks(size).map(|a| (a, &[][..])).chain(remove.chunks(size).map(|r| (&[][..], r)))
            {
                self.put_change(ResourceKind::Group, group, &members_patch(adds, removes, MemberRemoval::Filter))
                    .await?;
                sent += 2;
            }
            return Ok(sent);
        }
        for batch in add.chunks(size) {
            let ops = members_patch(batch, &[], MemberRemoval::Filter);
            sent += 1;
            match self.patch(ResourceKind::Group, group, &ops).await {
                Err(e) if e.is_unsupported_form() => {
                    sent += 2;
                    self.put_change(ResourceKind::Group, group, &ops).await?;
                    self.lesson(group, Aspect::GroupUpdate, Form::Put, &ops, &e);
                }
                other => other?,
            }
        }
        for batch in remove.chunks(size) {
            sent += self.remove_members(group, batch).await?;
        }
        Ok(sent)
    }

    /// Removes one batch of members in the first form the app takes, starting
    /// from the one learned (or pinned: then only that one); returns the
    /// requests sent.
    async fn remove_members(&self, group: &str, ids: &[String]) -> Result<u32, ConnectorError> {
        let dialect = self.current_dialect();
        let first = dialect.member_removal();
        let forms: Vec<MemberRemoval> = if dialect.is_pinned(Aspect::MemberRemoval) {
            vec![first]
        } else {
            Aspect::MemberRemoval.forms().iter().map(|f| f.member_removal()).skip_while(|f| *f != first).collect()
        };
        let mut sent = 0u32;
        let mut refused = None;
        for form in forms {
            let attempt = self.send_removal(group, ids, form, &mut sent).await;
            match attempt {
                Ok(()) => {
                    if let Some(e) = &refused {
                        self.lesson(group, Aspect::MemberRemoval, Form::from(form), &members_patch(&[], ids, first), e);
                    }
                    return Ok(sent);
                }
                Err(e) if refuses_removal(&e, form) => refused = Some(e),
                Err(e) => return Err(e),
            }
        }
        if let (true, Some(e)) = (dialect.is_pinned(Aspect::MemberRemoval), &refused) {
            return Err(e.clone());
        }
        let ops = members_patch(&[], ids, MemberRemoval::Filter);
        sent += 2;
        match self.put_change(ResourceKind::Group, group, &ops).await {
            Ok(()) => {
                if let Some(e) = &refused {
                    self.lesson(group, Aspect::GroupUpdate, Form::Put, &ops, e);
                }
                Ok(sent)
            }
            Err(e) => Err(refused.filter(|_| e.is_unsupported_form()).unwrap_or(e)),
        }
    }

    /// Sends one removal batch in `form`, counting the requests in `sent`.
    async fn send_removal(
        &self,
        group: &str,
        ids: &[String],
        form: MemberRemoval,
        sent: &mut u32,
    ) -> Result<(), ConnectorError> {
        if form == MemberRemoval::OnePerRequest {
            for id in ids {
                *sent += 1;
                self.patch(ResourceKind::Group, group, &members_patch(&[], std::slice::from_ref(id), form)).await?;
            }
            return Ok(());
        }
        *sent += 1;
        self.patch(ResourceKind::Group, group, &members_patch(&[], ids, form)).await
    }

    /// The requests [`change`](Self::change) and
    /// [`change_members`](Self::change_members) send first for `write`, in
    /// the forms the app is known to take now (a form the app would refuse
    /// is found only by sending it).
    pub(super) fn describe_write(&self, write: &Write<'_>) -> Vec<PlannedRequest> {
        let path = |segments: &[&str]| self.url(segments).map(|u| u.path().to_string()).unwrap_or_default();
        let dialect = self.current_dialect();
        let put = |kind: ResourceKind, id: &str, ops: &[PatchOperation]| {
            let at = path(&[kind.endpoint(), id]);
            vec![
                PlannedRequest::new("GET", at.clone(), None),
                PlannedRequest::new("PUT", at, Some(roster_scim::patch_body(ops)))
                    .noted("the app takes whole objects: the object is read, these operations applied, and PUT whole"),
            ]
        };
        match *write {
            Write::Create { kind, attrs } => {
                vec![PlannedRequest::new("POST", path(&[kind.endpoint()]), Some(build_resource(kind, attrs)))]
            }
            Write::Delete { kind, id } => vec![PlannedRequest::new("DELETE", path(&[kind.endpoint(), id]), None)],
            Write::Update { kind, id, ops, managed } => {
                let kept: Vec<PatchOperation> = ops.iter().filter(|op| !dialect.refuses(op)).cloned().collect();
                if kept.is_empty() {
                    return Vec::new();
                }
                if dialect.form(update_aspect(kind)) == Some(Form::Put) {
                    return put(kind, id, &kept);
                }
                let shaped = dialect.shape(&kept, &build_resource(kind, managed));
                let at = path(&[kind.endpoint(), id]);
                if shaped.len() <= 1 || dialect.form(Aspect::Operations) == Some(Form::One) {
                    let one = |op: &PatchOperation| {
                        PlannedRequest::new(
                            "PATCH",
                            at.clone(),
                            Some(roster_scim::patch_body(std::slice::from_ref(op))),
                        )
                    };
                    return shaped.iter().map(one).collect();
                }
                vec![PlannedRequest::new("PATCH", at, Some(roster_scim::patch_body(&shaped)))]
            }
            Write::Members { group, add, remove } => {
                let size = self.settings.member_batch_size.max(1);
                let at = path(&[ResourceKind::Group.endpoint(), group]);
                let patch = |ops: Vec<PatchOperation>| {
                    PlannedRequest::new("PATCH", at.clone(), Some(roster_scim::patch_body(&ops)))
                };
                let mut out = Vec::new();
                if dialect.form(Aspect::GroupUpdate) == Some(Form::Put) {
                    for batch in add.chunks(size) {
                        out.extend(put(ResourceKind::Group, group, &members_patch(batch, &[], MemberRemoval::Filter)));
                    }
                    for batch in remove.chunks(size) {
                        out.extend(put(ResourceKind::Group, group, &members_patch(&[], batch, MemberRemoval::Filter)));
                    }
                    return out;
                }
                out.extend(add.chunks(size).map(|batch| patch(members_patch(batch, &[], MemberRemoval::Filter))));
                let form = dialect.member_removal();
                for batch in remove.chunks(size) {
                    if form == MemberRemoval::OnePerRequest {
                        out.extend(batch.iter().map(|m| patch(members_patch(&[], std::slice::from_ref(m), form))));
                    } else {
                        out.push(patch(members_patch(&[], batch, form)));
                    }
                }
                out
            }
        }
    }
}
