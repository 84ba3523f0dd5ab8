//! Errors of attribute mappings: what is wrong with a mapping when it is
//! compiled ([`MappingValidationError`]) and what failed when it was
//! evaluated for one object ([`MappingError`]).

use crate::expr::{EvalError, ParseError};
use crate::scoping::ScopingError;

/// What is wrong with an object mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingValidationError {
    /// A direct mapping, expression or scoping clause reads an attribute the
    /// source does not have.
    #[error("target attribute {target}: unknown source attribute {attribute:?}")]
    UnknownSourceAttribute {
        /// The target attribute (or "scoping filter").
        target: String,
        /// The unknown source attribute.
        attribute: String,
    },
    /// An expression does not parse; `error.render(&expression)` points at it.
    #[error("target attribute {target}: invalid expression: {error}")]
    InvalidExpression {
        /// The target attribute.
        target: String,
        /// The expression's source text.
        expression: String,
        /// Where and why it fails.
        error: ParseError,
    },
    /// An enabled mapping has no matching attribute, so target objects could
    /// not be found.
    #[error("object mapping {object:?} has no matching attribute (set matchingPrecedence 1 on one attribute)")]
    NoMatchingAttribute {
        /// The object mapping's name.
        object: String,
    },
    /// Two mappings write the same target attribute.
    #[error("target attribute {target} is mapped more than once")]
    DuplicateTarget {
        /// The target attribute.
        target: String,
    },
    /// Two matching attributes share a precedence.
    #[error("matching precedence {precedence} is given to both {first} and {second}")]
    DuplicateMatchingPrecedence {
        /// The precedence.
        precedence: u32,
        /// The first target attribute with it.
        first: String,
        /// The second.
        second: String,
    },
    /// A matching attribute whose value cannot be used to find objects.
    #[error("target attribute {target} cannot be a matching attribute: {reason}")]
    InvalidMatchingAttribute {
        /// The target attribute.
        target: String,
        /// Why.
        reason: &'static str,
    },
    /// An attribute mapping with an empty target.
    #[error("attribute mapping {index} has no target attribute")]
    EmptyTarget {
        /// 1-based position in the list.
        index: usize,
    },
    /// A target that is not an attribute path of the app's schema.
    #[error("target attribute {target:?} is not an attribute path: {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The scoping filter is invalid.
    #[error("scoping filter: {0}")]
    InvalidScoping(#[from] ScopingError),
}

/// Why evaluating a mapping for one object failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The expression of one target attribute failed.
    #[error("target attribute {target}: {error}")]
    Evaluation {
        /// The target attribute.
        target: String,
        /// What failed.
        error: EvalError,
    },
}
