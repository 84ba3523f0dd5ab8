//! SCIM dialects. Apps implement parts of RFC 7644 and disagree on the rest:
//! one takes `manager` as a whole complex value, another only `manager.value`;
//! one takes a value filter in a PATCH path, another only the whole list. A
//! [`Dialect`] names, for each [`Aspect`] of a change, the [`Form`] an app
//! accepts: learned from its answers or pinned by an admin. [`Dialect::shape`]
//! writes PATCH operations in those forms, and [`Dialect::alternatives`] lists
//! the equivalent forms of an operation the app refused, in a fixed order.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{extract, AttrPath, MemberRemoval, PatchOp, PatchOperation};

/// A kind of change whose form apps disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Aspect {
    /// Removing group members: a filter path per member, one value list, or
    /// one member per request.
    MemberRemoval,
    /// Setting a complex single value (`manager`, `name`): the whole value, or
    /// one sub-attribute path each (`manager.value`, `name.givenName`).
    ComplexValue,
    /// Changing an entry of a multi-valued attribute (`emails`): a value
    /// filter path (`emails[type eq "work"].value`), or the whole list.
    MultiValued,
    /// The operation that sets a value: `add` or `replace`.
    SetVerb,
    /// Many operations in one PATCH, or one operation per PATCH.
    Operations,
    /// How a user is updated: PATCH, or a read and a whole `PUT`.
    UserUpdate,
    /// How a group is updated: PATCH, or a read and a whole `PUT`.
    GroupUpdate,
}

impl Aspect {
    /// Every aspect.
    pub const ALL: [Aspect; 7] = [
        Aspect::MemberRemoval,
        Aspect::ComplexValue,
        Aspect::MultiValued,
        Aspect::SetVerb,
        Aspect::Operations,
        Aspect::UserUpdate,
        Aspect::GroupUpdate,
    ];

    /// Its forms, in the order roster tries them.
    pub fn forms(self) -> &'static [Form] {
        match self {
            Aspect::MemberRemoval => &[Form::Filter, Form::ValueList, Form::OnePerRequest],
            Aspect::ComplexValue => &[Form::Whole, Form::SubAttributes],
            Aspect::MultiValued => &[Form::FilterPath, Form::WholeList],
            Aspect::SetVerb => &[Form::Add, Form::Replace],
            Aspect::Operations => &[Form::Many, Form::One],
            Aspect::UserUpdate | Aspect::GroupUpdate => &[Form::Patch, Form::Put],
        }
    }

    /// Its name, as in settings and status (`memberRemoval`).
    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::MemberRemoval => "memberRemoval",
            Aspect::ComplexValue => "complexValue",
            Aspect::MultiValued => "multiValued",
            Aspect::SetVerb => "setVerb",
            Aspect::Operations => "operations",
            Aspect::UserUpdate => "userUpdate",
            Aspect::GroupUpdate => "groupUpdate",
        }
    }

    /// The aspect named `name` (any case).
    pub fn parse(name: &str) -> Option<Aspect> {
        Aspect::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(name))
    }
}

/// One form of an [`Aspect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Form {
    /// `remove` `members[value eq "id"]`, one operation per member.
    Filter,
    /// `remove` `members` with a list of values.
    ValueList,
    /// `remove` `members[value eq "id"]`, one member per request.
    OnePerRequest,
    /// A complex value whole: `replace` `manager` `{"value": "12"}`.
    Whole,
    /// Sub-attribute paths: `replace` `manager.value` `"12"`.
    SubAttributes,
    /// A value filter in the path: `replace` `emails[type eq "work"].value`.
    FilterPath,
    /// `replace` of the attribute's whole list.
    WholeList,
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// Many operations in one PATCH.
    Many,
    /// One operation per PATCH.
    One,
    /// PATCH.
    Patch,
    /// A read, then `PUT` of the whole resource with the change applied.
    Put,
}

impl Form {
    /// Its name, as in settings and status (`valueList`).
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Filter => "filter",
            Form::ValueList => "valueList",
            Form::OnePerRequest => "onePerRequest",
            Form::Whole => "whole",
            Form::SubAttributes => "subAttributes",
            Form::FilterPath => "filterPath",
            Form::WholeList => "wholeList",
            Form::Add => "add",
            Form::Replace => "replace",
            Form::Many => "many",
            Form::One => "one",
            Form::Patch => "patch",
            Form::Put => "put",
        }
    }

    /// The form of `aspect` named `name` (any case).
    pub fn parse(aspect: Aspect, name: &str) -> Option<Form> {
        aspect.forms().iter().copied().find(|f| f.as_str().eq_ignore_ascii_case(name))
    }

    /// The member removal this form stands for.
    pub fn member_removal(self) -> MemberRemoval {
        match self {
            Form::ValueList => MemberRemoval::ValueList,
            Form::OnePerRequest => MemberRemoval::OnePerRequest,
            _ => MemberRemoval::Filter,
        }
    }
}

impl From<MemberRemoval> for Form {
    fn from(r: MemberRemoval) -> Form {
        match r {
            MemberRemoval::Filter => Form::Filter,
            MemberRemoval::ValueList => Form::ValueList,
            MemberRemoval::OnePerRequest => Form::OnePerRequest,
        }
    }
}

/// What an app accepts: forms pinned by an admin, forms learned from its
/// answers, and attributes it refused in every form. An aspect with neither
/// pin nor lesson is sent as roster writes it first (for the member removal,
/// the filter path).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Dialect {
    /// Forms an admin chose; learning never changes them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pinned: BTreeMap<Aspect, Form>,
    /// Forms learned from the app's answers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub learned: BTreeMap<Aspect, Form>,
    /// Attributes (as `attribute()` paths, lower case) the app refused in every
    /// form: roster no longer sends them to this app.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub unsupported: BTreeSet<String>,
}

/// An equivalent of a refused operation: the form it takes, and the operations.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// The aspect whose form changes.
    pub aspect: Aspect,
    /// The form tried.
    pub form: Form,
    /// The operations in that form.
    pub ops: Vec<PatchOperation>,
}

impl Dialect {
    /// The form of `aspect`: pinned, else learned, else none yet.
    pub fn form(&self, aspect: Aspect) -> Option<Form> {
        self.pinned.get(&aspect).or_else(|| self.learned.get(&aspect)).copied()
    }

    /// Whether an admin pinned `aspect`.
    pub fn is_pinned(&self, aspect: Aspect) -> bool {
        self.pinned.contains_key(&aspect)
    }

    /// Learns `form` for `aspect`; `false` when it was known already or the
    /// aspect is pinned.
    pub fn learn(&mut self, aspect: Aspect, form: Form) -> bool {
        if self.is_pinned(aspect) || self.learned.get(&aspect) == Some(&form) {
            return false;
        }
        self.learned.insert(aspect, form);
        true
    }

    /// The member removal form to send first.
    pub fn member_removal(&self) -> MemberRemoval {
        self.form(Aspect::MemberRemoval).map(Form::member_removal).unwrap_or_default()
    }

    /// Whether the app refused `op`'s attribute in every form.
    pub fn refuses(&self, op: &PatchOperation) -> bool {
        !self.unsupported.is_empty() && op_attribute(op).is_some_and(|a| self.unsupported.contains(&a))
    }

    /// Records that the app refused `op`'s attribute in every form; returns the
    /// attribute, `None` if it was recorded already (or `op` has no path).
    pub fn mark_unsupported(&mut self, op: &PatchOperation) -> Option<String> {
        let attribute = op_attribute(op)?;
        self.unsupported.insert(attribute.clone()).then_some(attribute)
    }

    /// Only the learned part (what a job keeps in its state).
    pub fn lessons(&self) -> Dialect {
        Dialect { pinned: BTreeMap::new(), learned: self.learned.clone(), unsupported: self.unsupported.clone() }
    }

    /// `ops` in this dialect's forms, leaving out attributes the app refuses.
    /// `managed` is the whole resource as roster manages it (built from every
    /// attribute it sends), where whole lists are read.
    pub fn shape(&self, ops: &[PatchOperation], managed: &Value) -> Vec<PatchOperation> {
        let kept: Vec<PatchOperation> = ops.iter().filter(|op| !self.refuses(op)).cloned().collect();
        let lists = self.form(Aspect::MultiValued) == Some(Form::WholeList);
        let verb = self.form(Aspect::SetVerb);
        let complex = self.form(Aspect::ComplexValue);
        let mut out: Vec<PatchOperation> = Vec::with_capacity(kept.len());
        for op in kept {
            let path = op.path.as_deref().and_then(|p| AttrPath::parse(p).ok());
            // Members keep their form: a `replace` of the list would drop the
            // members roster does not manage.
            let Some(path) = path.filter(|p| !is_members(p)) else {
                out.push(op);
                continue;
            };
            let listed = is_list_change(&op, &path);
            if listed && (lists || (verb == Some(Form::Replace) && op.op == PatchOp::Add)) {
                push_whole_list(&mut out, &path, managed);
            } else if verb == Some(Form::Replace) && op.op == PatchOp::Add {
                push_shaped(&mut out, PatchOperation { op: PatchOp::Replace, ..op }, &path, complex);
            } else if verb == Some(Form::Add) && op.op == PatchOp::Replace && path.filter.is_none() {
                push_shaped(&mut out, PatchOperation { op: PatchOp::Add, ..op }, &path, complex);
            } else {
                push_shaped(&mut out, op, &path, complex);
            }
        }
        out
    }

    /// The equivalent forms of `op`, which the app refused, in the order roster
    /// tries them: each aspect that is not pinned and bears on `op`, in each form
    /// that writes `op` differently from this dialect.
    pub fn alternatives(&self, op: &PatchOperation, managed: &Value) -> Vec<Alternative> {
        let now = self.shape(std::slice::from_ref(op), managed);
        let mut out: Vec<Alternative> = Vec::new();
        for aspect in [Aspect::ComplexValue, Aspect::MultiValued, Aspect::SetVerb] {
            if self.is_pinned(aspect) {
                continue;
            }
            for &form in aspect.forms() {
                if self.form(aspect) == Some(form) {
                    continue;
                }
                let mut tried = self.clone();
                tried.learned.insert(aspect, form);
                let ops = tried.shape(std::slice::from_ref(op), managed);
                if ops != now && !ops.is_empty() && !out.iter().any(|a| a.ops == ops) {
                    out.push(Alternative { aspect, form, ops });
                }
            }
        }
        out
    }
}

/// The attribute an operation changes, lower case (`emails`,
/// `urn:...:user:manager`).
fn op_attribute(op: &PatchOperation) -> Option<String> {
    let path = AttrPath::parse(op.path.as_deref()?).ok()?;
    Some(path.attribute().to_string().to_ascii_lowercase())
}

/// Whether `path` is a group's `members`.
fn is_members(path: &AttrPath) -> bool {
    path.schema.is_none() && path.attr.eq_ignore_ascii_case("members")
}

/// Whether `op` changes an entry of a multi-valued attribute other than
/// members: a value filter in its path, or an `add` of a list.
fn is_list_change(op: &PatchOperation, path: &AttrPath) -> bool {
    path.filter.is_some() || (path.sub_attr.is_none() && matches!(op.value, Some(Value::Array(_))))
}

/// `replace` of the attribute's whole managed list (or `remove` of the
/// attribute when roster manages no entry of it any more), once per attribute.
fn push_whole_list(out: &mut Vec<PatchOperation>, path: &AttrPath, managed: &Value) {
    let attribute = path.attribute();
    let target = attribute.to_string();
    if out.iter().any(|o| o.path.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(&target))) {
        return;
    }
    match extract(managed, &attribute) {
        Some(list @ Value::Array(_)) => out.push(PatchOperation::new(PatchOp::Replace, target, Some(list))),
        _ => out.push(PatchOperation::new(PatchOp::Remove, target, None)),
    }
}

/// `op` written in the complex-value form: a whole value split into
/// sub-attribute paths, or sub-attribute paths merged into one whole value.
fn push_shaped(out: &mut Vec<PatchOperation>, op: PatchOperation, path: &AttrPath, complex: Option<Form>) {
    let sets = matches!(op.op, PatchOp::Add | PatchOp::Replace) && path.filter.is_none();
    match (complex, &op.value) {
        (Some(Form::SubAttributes), Some(Value::Object(fields))) if sets && path.sub_attr.is_none() => {
            for (k, v) in fields {
                let sub = AttrPath { sub_attr: Some(k.clone()), ..path.clone() };
                out.push(PatchOperation::new(op.op, sub.to_string(), Some(v.clone())));
            }
        }
        (Some(Form::Whole), Some(v)) if sets && path.sub_attr.is_some() => {
            let whole = path.attribute().to_string();
            let sub = path.sub_attr.clone().unwrap_or_default();
            let slot = out.iter_mut().find(|o| {
                o.op == op.op
                    && o.path.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(&whole))
                    && matches!(o.value, Some(Value::Object(_)))
            });
            match slot {
                Some(PatchOperation { value: Some(Value::Object(m)), .. }) => {
                    m.insert(sub, v.clone());
                }
                _ => {
                    let mut m = Map::new();
                    m.insert(sub, v.clone());
                    out.push(PatchOperation::new(op.op, whole, Some(Value::Object(m))));
                }
            }
        }
        _ => out.push(op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_resource, ResourceKind};
    use serde_json::json;

    const MGR: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

    fn ops(v: Value) -> Vec<PatchOperation> {
        serde_json::from_value(v).unwrap_or_default()
    }

    fn managed() -> Value {
        build_resource(
            ResourceKind::User,
            &[
                ("emails[type eq \"work\"].value".to_string(), json!("w@x")),
                ("emails[type eq \"home\"].value".to_string(), json!("h@x")),
                ("name.givenName".to_string(), json!("G")),
            ],
        )
    }

    fn dialect(pairs: &[(Aspect, Form)]) -> Dialect {
        Dialect { learned: pairs.iter().copied().collect(), ..Dialect::default() }
    }

    /// (learned forms, operations in, operations out)
    fn check(learned: &[(Aspect, Form)], input: Value, want: Value) {
        let got = dialect(learned).shape(&ops(input.clone()), &managed());
        assert_eq!(serde_json::to_value(&got).unwrap_or_default(), want, "{learned:?} {input}");
    }

    #[test]
    fn shapes() {
        let title = json!([{"op":"replace","path":"title","value":"T"}]);
        check(&[], title.clone(), title.clone());
        check(&[(Aspect::SetVerb, Form::Add)], title.clone(), json!([{"op":"add","path":"title","value":"T"}]));
        let mgr = json!([{"op":"replace","path":MGR,"value":{"value":"12"}}]);
        check(&[], mgr.clone(), mgr.clone());
        check(
            &[(Aspect::ComplexValue, Form::SubAttributes)],
            mgr.clone(),
            json!([{"op":"replace","path":format!("{MGR}.value"),"value":"12"}]),
        );
        let names = json!([{"op":"replace","path":"name.givenName","value":"G"},
            {"op":"replace","path":"name.familyName","value":"F"}]);
        check(&[], names.clone(), names.clone());
        check(
            &[(Aspect::ComplexValue, Form::Whole)],
            names,
            json!([{"op":"replace","path":"name","value":{"givenName":"G","familyName":"F"}}]),
        );
        let email = json!([{"op":"replace","path":"emails[type eq \"work\"].value","value":"w@x"}]);
        check(&[], email.clone(), email.clone());
        let whole = json!([{"op":"replace","path":"emails","value":[
            {"type":"work","value":"w@x","primary":true},{"type":"home","value":"h@x"}]}]);
        check(&[(Aspect::MultiValued, Form::WholeList)], email, whole.clone());
        let add = json!([{"op":"add","path":"emails","value":[{"type":"home","value":"h@x"}]}]);
        check(&[], add.clone(), add.clone());
        check(&[(Aspect::SetVerb, Form::Replace)], add.clone(), whole.clone());
        check(&[(Aspect::MultiValued, Form::WholeList)], add, whole);
        let gone = json!([{"op":"remove","path":"phoneNumbers[type eq \"work\"]"}]);
        check(&[(Aspect::MultiValued, Form::WholeList)], gone, json!([{"op":"remove","path":"phoneNumbers"}]));
        let members = json!([{"op":"add","path":"members","value":[{"value":"1"}]}]);
        check(&[(Aspect::MultiValued, Form::WholeList), (Aspect::SetVerb, Form::Replace)], members.clone(), members);
    }

    #[test]
    fn leaves_out_what_the_app_refuses_in_every_form() {
        let mut d = Dialect::default();
        let op = PatchOperation::new(PatchOp::Replace, "nickName", Some(json!("n")));
        assert_eq!(d.mark_unsupported(&op), Some("nickname".to_string()));
        assert_eq!(d.mark_unsupported(&op), None, "once");
        let title = PatchOperation::new(PatchOp::Replace, "title", Some(json!("t")));
        assert_eq!(d.shape(&[op, title.clone()], &Value::Null), vec![title]);
    }

    #[test]
    fn alternatives_follow_the_fixed_order_and_skip_pins() {
        let d = Dialect::default();
        let mgr = PatchOperation::new(PatchOp::Replace, MGR, Some(json!({"value": "12"})));
        let alts: Vec<(Aspect, Form)> = d.alternatives(&mgr, &managed()).iter().map(|a| (a.aspect, a.form)).collect();
        assert_eq!(alts, vec![(Aspect::ComplexValue, Form::SubAttributes), (Aspect::SetVerb, Form::Add)]);
        let email = PatchOperation::new(PatchOp::Replace, "emails[type eq \"work\"].value", Some(json!("w@x")));
        let alts: Vec<(Aspect, Form)> = d.alternatives(&email, &managed()).iter().map(|a| (a.aspect, a.form)).collect();
        assert_eq!(alts, vec![(Aspect::MultiValued, Form::WholeList)]);
        let mut pinned = Dialect::default();
        pinned.pinned.insert(Aspect::ComplexValue, Form::Whole);
        let alts: Vec<Aspect> = pinned.alternatives(&mgr, &managed()).iter().map(|a| a.aspect).collect();
        assert_eq!(alts, vec![Aspect::SetVerb]);
    }

    #[test]
    fn learning_keeps_pins_and_says_once() {
        let mut d = Dialect::default();
        assert!(d.learn(Aspect::Operations, Form::One));
        assert!(!d.learn(Aspect::Operations, Form::One));
        d.pinned.insert(Aspect::MemberRemoval, Form::ValueList);
        assert!(!d.learn(Aspect::MemberRemoval, Form::Filter));
        assert_eq!(d.member_removal(), MemberRemoval::ValueList);
        assert_eq!(d.lessons().pinned, BTreeMap::new());
        let text = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(text, json!({"pinned":{"memberRemoval":"valueList"},"learned":{"operations":"one"}}));
        for aspect in Aspect::ALL {
            assert_eq!(Aspect::parse(aspect.as_str()), Some(aspect));
            for &form in aspect.forms() {
                assert_eq!(Form::parse(aspect, form.as_str()), Some(form));
            }
        }
    }
}
