//! Scoping filters: which source objects an object mapping provisions.
//!
//! A filter is groups of clauses: the clauses of a group are ANDed, the
//! groups ORed, and an empty filter matches everything. Operators keep the
//! reference's names on the wire ("EQUALS", "Greater_Than", "&", ...).
//! [`ScopingFilter::compile`] validates once and compiles regexes and
//! numbers, so [`CompiledScopingFilter::matches`] allocates little.
//!
//! Semantics: a clause on a missing value (null, empty string or empty
//! list) is false, except `IS NULL`, which is true — so `NOT EQUALS`,
//! `NOT REGEX MATCH` and `!&` are false on a missing value too. Text
//! comparisons (`EQUALS`, `NOT EQUALS`, `ENDS_WITH`, `Includes`) ignore
//! case; `REGEX MATCH` is case-sensitive and matches anywhere in the value
//! (anchor with `^...$`). Booleans compare as `True`/`False`. On a
//! multi-valued attribute a clause holds when any value satisfies it (for
//! the negated operators: when no value satisfies the positive one).

use std::fmt;
use std::str::FromStr;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::expr::functions::text::eq_ignore_case;
use crate::value::{SourceObject, Value};

/// A scoping filter: groups ORed; an empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopingFilter {
    /// The clause groups, ORed.
    #[serde(default)]
    pub groups: Vec<ScopingClauseGroup>,
}

/// Clauses that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopingClauseGroup {
    /// The clauses, ANDed.
    #[serde(default)]
    pub clauses: Vec<ScopingClause>,
}

/// One test on one source attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopingClause {
    /// The source attribute tested (case-insensitive).
    pub attribute: String,
    /// The test.
    pub operator: ScopingOperator,
    /// The operand; not used by IS TRUE / IS FALSE / IS NULL / IS NOT NULL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The operators of a scoping clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopingOperator {
    /// "EQUALS": the value equals the operand, ignoring case.
    Equals,
    /// "NOT EQUALS": the value is present and does not equal the operand.
    NotEquals,
    /// "IS TRUE": the value is boolean true (or the text `true`).
    IsTrue,
    /// "IS FALSE": the value is boolean false (or the text `false`).
    IsFalse,
    /// "IS NULL": the value is missing or empty.
    IsNull,
    /// "IS NOT NULL": the value is present.
    IsNotNull,
    /// "REGEX MATCH": the value matches the regex (case-sensitive, anywhere).
    RegexMatch,
    /// "NOT REGEX MATCH": the value is present and does not match.
    NotRegexMatch,
    /// "Greater_Than": both are integers and value > operand.
    GreaterThan,
    /// "Greater_Than_OR_EQUALS": both are integers and value >= operand.
    GreaterThanOrEquals,
    /// "Less_Than": both are integers and value < operand.
    LessThan,
    /// "Less_Than_OR_EQUALS": both are integers and value <= operand.
    LessThanOrEquals,
    /// "Includes": one value of a multi-valued attribute equals the
    /// operand; a single value contains it (both ignoring case).
    Includes,
    /// "ENDS_WITH": the value ends with the operand, ignoring case.
    EndsWith,
    /// "&": the value and the operand, as integers, share a set bit.
    BitAnd,
    /// "!&": the value is present and shares no set bit with the operand.
    NotBitAnd,
}

const OPERATOR_NAMES: &[(ScopingOperator, &str)] = &[
    (ScopingOperator::Equals, "EQUALS"),
    (ScopingOperator::NotEquals, "NOT EQUALS"),
    (ScopingOperator::IsTrue, "IS TRUE"),
    (ScopingOperator::IsFalse, "IS FALSE"),
    (ScopingOperator::IsNull, "IS NULL"),
    (ScopingOperator::IsNotNull, "IS NOT NULL"),
    (ScopingOperator::RegexMatch, "REGEX MATCH"),
    (ScopingOperator::NotRegexMatch, "NOT REGEX MATCH"),
    (ScopingOperator::GreaterThan, "Greater_Than"),
    (ScopingOperator::GreaterThanOrEquals, "Greater_Than_OR_EQUALS"),
    (ScopingOperator::LessThan, "Less_Than"),
    (ScopingOperator::LessThanOrEquals, "Less_Than_OR_EQUALS"),
    (ScopingOperator::Includes, "Includes"),
    (ScopingOperator::EndsWith, "ENDS_WITH"),
    (ScopingOperator::BitAnd, "&"),
    (ScopingOperator::NotBitAnd, "!&"),
];

impl ScopingOperator {
    /// The reference's name of the operator, as serialized.
    pub fn as_str(self) -> &'static str {
        OPERATOR_NAMES.iter().find(|(op, _)| *op == self).map_or("?", |(_, name)| name)
    }

    /// True for the operators that need a value.
    pub fn needs_value(self) -> bool {
        !matches!(
            self,
            ScopingOperator::IsTrue | ScopingOperator::IsFalse | ScopingOperator::IsNull | ScopingOperator::IsNotNull
        )
    }
}

impl fmt::Display for ScopingOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScopingOperator {
    type Err = ScopingError;

    /// Accepts the reference names in any case, with `_` and space
    /// interchangeable ("not_equals", "GREATER THAN", "ends with").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = |x: &str| x.trim().to_ascii_uppercase().replace('_', " ");
        let wanted = norm(s);
        OPERATOR_NAMES
            .iter()
            .find(|(_, name)| norm(name) == wanted)
            .map(|(op, _)| *op)
            .ok_or_else(|| ScopingError::UnknownOperator { operator: s.to_string() })
    }
}

impl Serialize for ScopingOperator {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ScopingOperator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The operator's schema: one of the reference's names (any case is read, with
/// `_` and space alike; these are written).
impl utoipa::PartialSchema for ScopingOperator {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(OPERATOR_NAMES.iter().map(|(_, name)| *name)))
            .description(Some("A scoping operator, as the reference names it"))
            .into()
    }
}

impl utoipa::ToSchema for ScopingOperator {}

/// Why a scoping filter is invalid. Groups and clauses are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopingError {
    /// An operator name that is not one of the reference's.
    #[error("unknown scoping operator {operator:?}")]
    UnknownOperator {
        /// The name given.
        operator: String,
    },
    /// A group without clauses (it would match every object).
    #[error("scoping group {group} has no clauses")]
    EmptyGroup {
        /// The group.
        group: usize,
    },
    /// A clause without an attribute name.
    #[error("scoping clause {group}.{clause} names no attribute")]
    EmptyAttribute {
        /// The group.
        group: usize,
        /// The clause in the group.
        clause: usize,
    },
    /// An operator that needs a value has none.
    #[error("scoping clause {group}.{clause} ([{attribute}] {operator}) needs a value")]
    MissingValue {
        /// The group.
        group: usize,
        /// The clause in the group.
        clause: usize,
        /// The attribute tested.
        attribute: String,
        /// The operator.
        operator: ScopingOperator,
    },
    /// A REGEX MATCH pattern that does not compile.
    #[error("scoping clause {group}.{clause} ([{attribute}] {operator}): invalid regex {pattern:?}: {message}")]
    InvalidRegex {
        /// The group.
        group: usize,
        /// The clause in the group.
        clause: usize,
        /// The attribute tested.
        attribute: String,
        /// The operator.
        operator: ScopingOperator,
        /// The pattern.
        pattern: String,
        /// The regex engine's complaint.
        message: String,
    },
    /// A numeric or bitwise operator whose value is not an integer.
    #[error("scoping clause {group}.{clause} ([{attribute}] {operator}): {value:?} is not an integer")]
    NotAnInteger {
        /// The group.
        group: usize,
        /// The clause in the group.
        clause: usize,
        /// The attribute tested.
        attribute: String,
        /// The operator.
        operator: ScopingOperator,
        /// The value given.
        value: String,
    },
}

impl ScopingFilter {
    /// A filter that matches everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Checks every clause (operators that need a value have one, regexes
    /// compile, numbers are integers, no empty group).
    pub fn validate(&self) -> Result<(), ScopingError> {
        self.compile().map(|_| ())
    }

    /// Validates and compiles the filter for fast matching.
    pub fn compile(&self) -> Result<CompiledScopingFilter, ScopingError> {
        let mut groups = Vec::with_capacity(self.groups.len());
        for (g, group) in self.groups.iter().enumerate() {
            if group.clauses.is_empty() {
                return Err(ScopingError::EmptyGroup { group: g + 1 });
            }
            let clauses = group
                .clauses
                .iter()
                .enumerate()
                .map(|(c, clause)| compile_clause(clause, g + 1, c + 1))
                .collect::<Result<Vec<_>, _>>()?;
            groups.push(clauses);
        }
        Ok(CompiledScopingFilter { groups })
    }

    /// Whether `src` passes the filter. Compiles the filter on every call;
    /// prefer [`ScopingFilter::compile`] once and
    /// [`CompiledScopingFilter::matches`]. An invalid filter matches
    /// nothing, so a broken filter never widens the scope.
    pub fn matches(&self, src: &dyn SourceObject) -> bool {
        self.compile().is_ok_and(|f| f.matches(src))
    }

    /// The attributes the filter reads, each once, in order.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for clause in self.groups.iter().flat_map(|g| &g.clauses) {
            if !out.iter().any(|a| a.eq_ignore_ascii_case(&clause.attribute)) {
                out.push(&clause.attribute);
            }
        }
        out
    }
}

/// A validated scoping filter with regexes and numbers compiled.
#[derive(Debug, Clone)]
pub struct CompiledScopingFilter {
    groups: Vec<Vec<CompiledClause>>,
}

#[derive(Debug, Clone)]
struct CompiledClause {
    attribute: String,
    test: Test,
}

/// A clause's test with its operand prepared.
#[derive(Debug, Clone)]
enum Test {
    Equals(String),
    NotEquals(String),
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    Regex(Regex),
    NotRegex(Regex),
    GreaterThan(i64),
    GreaterThanOrEquals(i64),
    LessThan(i64),
    LessThanOrEquals(i64),
    /// The operand lower-cased.
    Includes(String),
    /// The operand lower-cased.
    EndsWith(String),
    BitAnd(i64),
    NotBitAnd(i64),
}

fn compile_clause(clause: &ScopingClause, group: usize, index: usize) -> Result<CompiledClause, ScopingError> {
    use ScopingOperator as Op;
    let attribute = clause.attribute.trim().to_string();
    if attribute.is_empty() {
        return Err(ScopingError::EmptyAttribute { group, clause: index });
    }
    let op = clause.operator;
    let value = match (&clause.value, op.needs_value()) {
        (Some(v), _) => v.clone(),
        (None, false) => String::new(),
        (None, true) => {
            return Err(ScopingError::MissingValue { group, clause: index, attribute, operator: op });
        }
    };
    let integer = || {
        value.trim().parse::<i64>().map_err(|_| ScopingError::NotAnInteger {
            group,
            clause: index,
            attribute: attribute.clone(),
            operator: op,
            value: value.clone(),
        })
    };
    let regex = || {
        Regex::new(&value).map_err(|e| ScopingError::InvalidRegex {
            group,
            clause: index,
            attribute: attribute.clone(),
            operator: op,
            pattern: value.clone(),
            message: e.to_string(),
        })
    };
    let test = match op {
        Op::Equals => Test::Equals(value.clone()),
        Op::NotEquals => Test::NotEquals(value.clone()),
        Op::IsTrue => Test::IsTrue,
        Op::IsFalse => Test::IsFalse,
        Op::IsNull => Test::IsNull,
        Op::IsNotNull => Test::IsNotNull,
        Op::RegexMatch => Test::Regex(regex()?),
        Op::NotRegexMatch => Test::NotRegex(regex()?),
        Op::GreaterThan => Test::GreaterThan(integer()?),
        Op::GreaterThanOrEquals => Test::GreaterThanOrEquals(integer()?),
        Op::LessThan => Test::LessThan(integer()?),
        Op::LessThanOrEquals => Test::LessThanOrEquals(integer()?),
        Op::Includes => Test::Includes(value.to_lowercase()),
        Op::EndsWith => Test::EndsWith(value.to_lowercase()),
        Op::BitAnd => Test::BitAnd(integer()?),
        Op::NotBitAnd => Test::NotBitAnd(integer()?),
    };
    Ok(CompiledClause { attribute, test })
}

impl CompiledScopingFilter {
    /// Whether `src` passes: any group whose clauses all hold (true when
    /// there are no groups).
    pub fn matches(&self, src: &dyn SourceObject) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g.iter().all(|c| c.matches(src)))
    }

    /// True when the filter has no clause (everything is in scope).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

impl CompiledClause {
    fn matches(&self, src: &dyn SourceObject) -> bool {
        let value = src.attribute(&self.attribute);
        if value.is_null_or_empty() {
            return matches!(self.test, Test::IsNull);
        }
        let values: &[Value] = match &value {
            Value::List(items) => items,
            single => std::slice::from_ref(single),
        };
        match &self.test {
            Test::IsNull => false,
            Test::IsNotNull => true,
            Test::NotEquals(v) => !values.iter().any(|x| text_eq(x, v)),
            Test::NotRegex(re) => !values.iter().any(|x| x.to_text().is_some_and(|t| re.is_match(&t))),
            Test::NotBitAnd(mask) => values.iter().all(|x| integer(x).is_some_and(|i| i & mask == 0)),
            Test::Includes(v) if matches!(value, Value::List(_)) => values.iter().any(|x| text_eq(x, v)),
            positive => values.iter().any(|x| holds(positive, x)),
        }
    }
}

fn text_eq(x: &Value, operand: &str) -> bool {
    x.to_text().is_some_and(|t| eq_ignore_case(&t, operand))
}

fn integer(x: &Value) -> Option<i64> {
    match x {
        Value::Int(i) => Some(*i),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn boolean(x: &Value) -> Option<bool> {
    match x {
        Value::Bool(b) => Some(*b),
        Value::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A positive test on one value.
fn holds(test: &Test, x: &Value) -> bool {
    match test {
        Test::Equals(v) => text_eq(x, v),
        Test::IsTrue => boolean(x) == Some(true),
        Test::IsFalse => boolean(x) == Some(false),
        Test::Regex(re) => x.to_text().is_some_and(|t| re.is_match(&t)),
        Test::GreaterThan(n) => integer(x).is_some_and(|i| i > *n),
        Test::GreaterThanOrEquals(n) => integer(x).is_some_and(|i| i >= *n),
        Test::LessThan(n) => integer(x).is_some_and(|i| i < *n),
        Test::LessThanOrEquals(n) => integer(x).is_some_and(|i| i <= *n),
        Test::Includes(v) => x.to_text().is_some_and(|t| t.to_lowercase().contains(v.as_str())),
        Test::EndsWith(v) => x.to_text().is_some_and(|t| t.to_lowercase().ends_with(v.as_str())),
        Test::BitAnd(mask) => integer(x).is_some_and(|i| i & mask != 0),
        Test::IsNull | Test::IsNotNull | Test::NotEquals(_) | Test::NotRegex(_) | Test::NotBitAnd(_) => false,
    }
}

#[cfg(test)]
mod tests;
