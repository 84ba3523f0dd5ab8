//! Attribute mappings: for one kind of source object (users or groups), the
//! target object, allowed actions, scoping filter and the list of target
//! attributes with where each value comes from.
//!
//! [`ObjectMapping`] is the stored, serde form (camelCase JSON).
//! [`ObjectMapping::compile`] validates it against the source attributes
//! that exist and parses every expression once; the resulting
//! [`CompiledObjectMapping`] is what the engine runs per object.

use serde::{Deserialize, Serialize};

mod errors;

pub use errors::{MappingError, MappingValidationError};

use crate::expr::{self, EvalContext, EvalError, Expr};
use crate::scoping::{CompiledScopingFilter, ScopingFilter};
use crate::value::{SourceObject, Value};

/// Where a target attribute's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MappingType {
    /// A source attribute as it is: `{"type":"direct","source":"mail"}`.
    Direct {
        /// The source attribute (case-insensitive).
        source: String,
    },
    /// A constant string: `{"type":"constant","value":"x"}`.
    Constant {
        /// The value sent.
        value: String,
    },
    /// An expression: `{"type":"expression","expression":"ToLower([mail])"}`.
    Expression {
        /// The expression's source text.
        expression: String,
    },
    /// No source: only the default value (on creation) is sent.
    None,
}

/// When a mapping applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApplyMapping {
    /// On creation and on every update ("always").
    #[default]
    Always,
    /// Only when the object is created ("onCreateOnly").
    OnCreateOnly,
}

/// One target attribute and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeMapping {
    /// SCIM path of the target attribute, e.g. `emails[type eq "work"].value`.
    pub target: String,
    /// Where the value comes from.
    pub mapping: MappingType,
    /// Sent on creation when the value is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// When the mapping applies.
    #[serde(default)]
    pub apply: ApplyMapping,
    /// Some(1) is the first attribute used to match source and target
    /// objects, Some(2) the next, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_precedence: Option<u32>,
}

/// Which actions the service may take in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetActions {
    /// Create objects.
    pub create: bool,
    /// Update objects.
    pub update: bool,
    /// Delete (or disable) objects that leave scope.
    pub delete: bool,
}

impl Default for TargetActions {
    /// Create and update. Delete is off until an admin turns it on: an object
    /// leaving scope is disabled, never deleted, so a misconfiguration loses no data.
    fn default() -> Self {
        TargetActions { create: true, update: true, delete: false }
    }
}

/// The kind of directory object a mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SourceObjectType {
    /// Users ("user").
    User,
    /// Groups ("group").
    Group,
}

fn yes() -> bool {
    true
}

/// The mapping of one kind of source object to one target object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMapping {
    /// Shown to administrators, e.g. "Provision users".
    pub name: String,
    /// Whether objects of this kind are provisioned at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What is read.
    pub source_object: SourceObjectType,
    /// The target's object type, "User" or "Group".
    pub target_object: String,
    /// The actions allowed.
    #[serde(default)]
    pub actions: TargetActions,
    /// Which source objects are provisioned.
    #[serde(default)]
    pub scoping: ScopingFilter,
    /// The target attributes.
    pub attributes: Vec<AttributeMapping>,
}

/// The whole mapping document of one app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppMappings {
    /// One mapping per kind of source object.
    pub objects: Vec<ObjectMapping>,
}

impl AppMappings {
    /// The mapping of the given kind of source object, if any.
    pub fn object(&self, kind: SourceObjectType) -> Option<&ObjectMapping> {
        self.objects.iter().find(|o| o.source_object == kind)
    }

    /// Compiles every object mapping against the default source attributes
    /// of its kind ([`crate::USER_SOURCE_ATTRIBUTES`],
    /// [`crate::GROUP_SOURCE_ATTRIBUTES`]); errors carry the mapping's name.
    pub fn compile(&self) -> Result<Vec<CompiledObjectMapping>, Vec<(String, MappingValidationError)>> {
        let mut compiled = Vec::new();
        let mut errors = Vec::new();
        for object in &self.objects {
            let known = match object.source_object {
                SourceObjectType::User => crate::USER_SOURCE_ATTRIBUTES,
                SourceObjectType::Group => crate::GROUP_SOURCE_ATTRIBUTES,
            };
            match object.compile(known) {
                Ok(c) => compiled.push(c),
                Err(es) => errors.extend(es.into_iter().map(|e| (object.name.clone(), e))),
            }
        }
        if errors.is_empty() {
            Ok(compiled)
        } else {
            Err(errors)
        }
    }
}

/// One value to send to the target.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedAttribute {
    /// SCIM path of the target attribute.
    pub target: String,
    /// The value; never null or empty.
    pub value: Value,
    /// When it applies: the caller keeps `OnCreateOnly` values out of
    /// updates.
    pub apply: ApplyMapping,
    /// The matching precedence, for matching attributes.
    pub matching_precedence: Option<u32>,
}

/// Where a compiled attribute's value comes from.
#[derive(Debug, Clone)]
enum Source {
    Direct(String),
    AppRoles,
    Constant(Value),
    Expression(Expr),
    Nothing,
}

#[derive(Debug, Clone)]
struct CompiledAttribute {
    target: String,
    source: Source,
    default: Option<Value>,
    apply: ApplyMapping,
    matching_precedence: Option<u32>,
}

/// A validated object mapping with its expressions parsed and its scoping
/// filter compiled.
#[derive(Debug, Clone)]
pub struct CompiledObjectMapping {
    definition: ObjectMapping,
    scoping: CompiledScopingFilter,
    attributes: Vec<CompiledAttribute>,
}

/// True when `name` is one of `known` (any case) or an `extension_*`
/// attribute.
fn is_known(name: &str, known: &[&str]) -> bool {
    let extension = name.get(..10).is_some_and(|p| p.eq_ignore_ascii_case("extension_"));
    extension || known.iter().any(|k| k.eq_ignore_ascii_case(name))
}

impl ObjectMapping {
    /// Validates the mapping against the source attributes that exist
    /// (`extension_*` attributes always do) and compiles it. Reports every
    /// problem found, not just the first.
    pub fn compile(
        &self,
        known_source_attributes: &[&str],
    ) -> Result<CompiledObjectMapping, Vec<MappingValidationError>> {
        let mut errors = Vec::new();
        let scoping = match self.scoping.compile() {
            Ok(s) => Some(s),
            Err(e) => {
                errors.push(MappingValidationError::InvalidScoping(e));
                None
            }
        };
        for attribute in self.scoping.attributes() {
            if !is_known(attribute, known_source_attributes) {
                errors.push(MappingValidationError::UnknownSourceAttribute {
                    target: "scoping filter".into(),
                    attribute: attribute.to_string(),
                });
            }
        }
        let mut attributes = Vec::with_capacity(self.attributes.len());
        for (i, mapping) in self.attributes.iter().enumerate() {
            match compile_attribute(mapping, i, known_source_attributes) {
                Ok(a) => attributes.push(a),
                Err(mut es) => errors.append(&mut es),
            }
        }
        check_targets(&self.attributes, &mut errors);
        if self.enabled && !self.attributes.iter().any(|a| a.matching_precedence.is_some()) {
            errors.push(MappingValidationError::NoMatchingAttribute { object: self.name.clone() });
        }
        match scoping {
            Some(scoping) if errors.is_empty() => {
                Ok(CompiledObjectMapping { definition: self.clone(), scoping, attributes })
            }
            _ => Err(errors),
        }
    }
}

/// Duplicate targets and duplicate matching precedences.
fn check_targets(mappings: &[AttributeMapping], errors: &mut Vec<MappingValidationError>) {
    for (i, a) in mappings.iter().enumerate() {
        let earlier = &mappings[..i];
        if !a.target.trim().is_empty() && earlier.iter().any(|b| b.target.trim().eq_ignore_ascii_case(a.target.trim()))
        {
            errors.push(MappingValidationError::DuplicateTarget { target: a.target.clone() });
        }
        if let Some(p) = a.matching_precedence {
            if let Some(b) = earlier.iter().find(|b| b.matching_precedence == Some(p)) {
                errors.push(MappingValidationError::DuplicateMatchingPrecedence {
                    precedence: p,
                    first: b.target.clone(),
                    second: a.target.clone(),
                });
            }
        }
    }
}

/// Checks that a target is an attribute path as apps name them (RFC 7643,
/// section 2.1): an optional schema URN, an attribute name, an optional value
/// filter in brackets and an optional sub-attribute, each name an ASCII letter
/// followed by letters, digits, `_` or `-` (a sub-attribute may start with `$`,
/// as `$ref` does). The filter itself is the app's to judge.
pub fn check_target_path(target: &str) -> Result<(), String> {
    // The value filter is taken out first: it may hold any text.
    let without_filter = match (target.find('['), target.rfind(']')) {
        (Some(open), Some(close)) if open < close => format!("{}{}", &target[..open], &target[close + 1..]),
        (None, None) => target.to_string(),
        _ => return Err("unbalanced brackets".into()),
    };
    let path = match without_filter.rsplit_once(':') {
        Some((urn, path)) => {
            let is_urn = urn.get(..4).is_some_and(|u| u.eq_ignore_ascii_case("urn:"));
            if !is_urn || !urn.chars().all(|c| c.is_ascii_graphic()) {
                return Err(format!("{urn:?} is not a schema URN"));
            }
            path
        }
        None => without_filter.as_str(),
    };
    let (attr, sub) = match path.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (path, None),
    };
    let name_ok = |name: &str, first_dollar: bool| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || (first_dollar && c == '$'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !name_ok(attr, false) {
        return Err(format!("{attr:?} is not an attribute name (an ASCII letter, then letters, digits, _ or -)"));
    }
    match sub {
        Some(sub) if !name_ok(sub, true) => Err(format!("{sub:?} is not a sub-attribute name")),
        _ => Ok(()),
    }
}

fn compile_attribute(
    m: &AttributeMapping,
    index: usize,
    known: &[&str],
) -> Result<CompiledAttribute, Vec<MappingValidationError>> {
    let target = m.target.trim().to_string();
    if target.is_empty() {
        return Err(vec![MappingValidationError::EmptyTarget { index: index + 1 }]);
    }
    if let Err(reason) = check_target_path(&target) {
        return Err(vec![MappingValidationError::InvalidTarget { target, reason }]);
    }
    let unknown = |attribute: &str| MappingValidationError::UnknownSourceAttribute {
        target: target.clone(),
        attribute: attribute.to_string(),
    };
    let mut errors = Vec::new();
    let source = match &m.mapping {
        MappingType::Direct { source } => {
            let name = source.trim();
            if !is_known(name, known) {
                errors.push(unknown(name));
            }
            if name.eq_ignore_ascii_case("appRoleAssignments") {
                Source::AppRoles
            } else {
                Source::Direct(name.to_string())
            }
        }
        MappingType::Constant { value } => Source::Constant(Value::Str(value.clone())),
        MappingType::Expression { expression } => match expr::parse(expression) {
            Ok(e) => {
                errors.extend(e.references().iter().filter(|r| !is_known(r, known)).map(|r| unknown(r)));
                if m.matching_precedence.is_some() && e.is_select_unique_value() {
                    errors.push(MappingValidationError::InvalidMatchingAttribute {
                        target: target.clone(),
                        reason: "SelectUniqueValue cannot be used on a matching attribute",
                    });
                }
                Source::Expression(e)
            }
            Err(error) => {
                errors.push(MappingValidationError::InvalidExpression {
                    target: target.clone(),
                    expression: expression.clone(),
                    error,
                });
                Source::Nothing
            }
        },
        MappingType::None => {
            if m.matching_precedence.is_some() {
                errors.push(MappingValidationError::InvalidMatchingAttribute {
                    target: target.clone(),
                    reason: "it has no source (mapping type None)",
                });
            }
            Source::Nothing
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledAttribute {
        target,
        source,
        default: m.default_value.clone().map(Value::Str),
        apply: m.apply,
        matching_precedence: m.matching_precedence,
    })
}

/// Null, empty strings and empty lists all mean "no value"; null values
/// inside a list are dropped.
fn normalize(v: Value) -> Value {
    match v {
        Value::List(items) => {
            let items: Vec<Value> = items.into_iter().filter(|x| !x.is_null_or_empty()).collect();
            if items.is_empty() {
                Value::Null
            } else {
                Value::List(items)
            }
        }
        v if v.is_null_or_empty() => Value::Null,
        v => v,
    }
}

impl CompiledAttribute {
    /// The value to send, or `None` when nothing is sent.
    fn evaluate(
        &self,
        src: &dyn SourceObject,
        ctx: &EvalContext,
        on_create: bool,
    ) -> Result<Option<Value>, MappingError> {
        let raw = match &self.source {
            Source::Direct(name) => src.attribute(name),
            Source::AppRoles => expr::app_roles(src),
            Source::Constant(v) => v.clone(),
            Source::Expression(e) => match e.eval(src, ctx) {
                Ok(v) => v,
                Err(EvalError::IgnoreFlow) => return Ok(None),
                Err(error) => return Err(MappingError::Evaluation { target: self.target.clone(), error }),
            },
            Source::Nothing => Value::Null,
        };
        let value = normalize(raw);
        if !value.is_null() {
            return Ok(Some(value));
        }
        Ok(if on_create { self.default.clone() } else { None })
    }

    fn mapped(&self, value: Value) -> MappedAttribute {
        MappedAttribute {
            target: self.target.clone(),
            value,
            apply: self.apply,
            matching_precedence: self.matching_precedence,
        }
    }
}

impl CompiledObjectMapping {
    /// The mapping this was compiled from.
    pub fn definition(&self) -> &ObjectMapping {
        &self.definition
    }

    /// Whether `src` passes the scoping filter.
    pub fn in_scope(&self, src: &dyn SourceObject) -> bool {
        self.scoping.matches(src)
    }

    /// The values to send for `src`, in mapping order. Null and empty values
    /// are left out; on creation (`on_create`), a null value is replaced by
    /// the default value. `OnCreateOnly` attributes are returned too, marked
    /// by `apply`. An expression that raises IgnoreFlow leaves its attribute
    /// out. The first failing expression fails the whole object, naming its
    /// target attribute.
    pub fn evaluate(
        &self,
        src: &dyn SourceObject,
        ctx: &EvalContext,
        on_create: bool,
    ) -> Result<Vec<MappedAttribute>, MappingError> {
        let mut out = Vec::with_capacity(self.attributes.len());
        for attribute in &self.attributes {
            if let Some(value) = attribute.evaluate(src, ctx, on_create)? {
                out.push(attribute.mapped(value));
            }
        }
        Ok(out)
    }

    /// The values of the matching attributes only, in precedence order, for
    /// finding `src`'s object in the target (attributes without a value are
    /// left out).
    pub fn matching_values(
        &self,
        src: &dyn SourceObject,
        ctx: &EvalContext,
    ) -> Result<Vec<MappedAttribute>, MappingError> {
        let mut matching: Vec<&CompiledAttribute> =
            self.attributes.iter().filter(|a| a.matching_precedence.is_some()).collect();
        matching.sort_by_key(|a| a.matching_precedence);
        let mut out = Vec::with_capacity(matching.len());
        for attribute in matching {
            if let Some(value) = attribute.evaluate(src, ctx, false)? {
                out.push(attribute.mapped(value));
            }
        }
        Ok(out)
    }

    /// The matching attributes as (precedence, target), sorted by precedence.
    pub fn matching_attributes(&self) -> Vec<(u32, &str)> {
        let mut out: Vec<(u32, &str)> =
            self.attributes.iter().filter_map(|a| a.matching_precedence.map(|p| (p, a.target.as_str()))).collect();
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// The target attributes, in mapping order.
    pub fn targets(&self) -> Vec<&str> {
        self.attributes.iter().map(|a| a.target.as_str()).collect()
    }

    /// Target attributes whose expression is wrapped in `Redact(...)`: send
    /// them, but show `[Redact]` in logs.
    pub fn redacted_targets(&self) -> Vec<&str> {
        self.attributes
            .iter()
            .filter(|a| matches!(&a.source, Source::Expression(e) if e.is_redacted()))
            .map(|a| a.target.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests;
