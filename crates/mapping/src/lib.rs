//! roster-mapping: what roster sends to an application for each directory
//! object. Attribute mappings, the expression language compatible with the
//! major identity provider's, and scoping filters.
//!
//! The crate is pure: no I/O, no async, no clock reads except through
//! [`EvalContext`]. The engine compiles an app's [`ObjectMapping`]s once
//! ([`ObjectMapping::compile`]) and then, per source object, asks
//! [`CompiledObjectMapping::in_scope`] and [`CompiledObjectMapping::evaluate`].

#![warn(missing_docs)]

pub mod attribute_mapping;
pub mod defaults;
pub mod expr;
pub mod scoping;
pub mod value;

pub use attribute_mapping::{
    AppMappings, ApplyMapping, AttributeMapping, CompiledObjectMapping, MappedAttribute, MappingError, MappingType,
    MappingValidationError, ObjectMapping, SourceObjectType, TargetActions,
};
pub use defaults::{GROUP_SOURCE_ATTRIBUTES, USER_SOURCE_ATTRIBUTES};
pub use expr::{parse, EvalContext, EvalError, Expr, ParseError, UniquenessProbe};
pub use scoping::{
    CompiledScopingFilter, ScopingClause, ScopingClauseGroup, ScopingError, ScopingFilter, ScopingOperator,
};
pub use value::{AppRoleAssignment, MapSource, SourceObject, Value};
