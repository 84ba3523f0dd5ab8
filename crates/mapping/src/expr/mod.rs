//! The expression language of attribute mappings, compatible with the
//! reference language of the major identity provider ("Reference for writing
//! expressions for attribute mappings"): `Name(arg, ...)` calls,
//! `[attribute]` references, `"string"` and number constants.
//!
//! [`parse`] turns source text into an [`Expr`] (checking function names,
//! argument counts and constant regexes up front); [`Expr::eval`] evaluates
//! it against a [`SourceObject`] in an [`EvalContext`]. The functions live in
//! [`functions`]; `EXPRESSIONS.md` at the crate root is their reference.

mod datetime;
mod error;
pub(crate) mod functions;
mod lexer;
pub mod limits;
mod parser;

use chrono::{DateTime, Utc};

pub use error::{EvalError, ParseError};
pub use functions::names as function_names;
pub use parser::{parse, MAX_DEPTH, MAX_SOURCE_BYTES};

use crate::value::{SourceObject, Value};
use functions::{Func, Prepared};

/// Answers whether a candidate value is still free in the target
/// application; `SelectUniqueValue` asks it.
pub trait UniquenessProbe {
    /// True when no object of the target already uses `value`.
    fn is_unique(&self, value: &str) -> bool;
}

/// What evaluation may depend on besides the source object.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// The current time, for `Now()` and anything built on it. Tests fix it.
    pub now: DateTime<Utc>,
    /// Checks candidates of `SelectUniqueValue` against the target. Without
    /// a probe, `SelectUniqueValue` returns its first non-empty candidate.
    pub uniqueness: Option<&'a dyn UniquenessProbe>,
}

impl<'a> EvalContext<'a> {
    /// A context at the given time, without a uniqueness probe.
    pub fn at(now: DateTime<Utc>) -> Self {
        EvalContext { now, uniqueness: None }
    }

    /// The same context with a uniqueness probe for `SelectUniqueValue`.
    pub fn with_uniqueness(self, probe: &'a dyn UniquenessProbe) -> Self {
        EvalContext { uniqueness: Some(probe), ..self }
    }
}

impl std::fmt::Debug for EvalContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext").field("now", &self.now).field("uniqueness", &self.uniqueness.is_some()).finish()
    }
}

/// A parsed expression, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Expr {
    root: Node,
}

/// One node of the syntax tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An empty argument slot, as in `Switch([x], , "a", "b")`: null.
    Empty,
    /// A string or number constant.
    Const(Value),
    /// An `[attribute]` reference, as written.
    Attr(String),
    /// The virtual attribute `[appRoleAssignments]`.
    AppRoles(String),
    /// A function call.
    Call(Box<Call>),
    /// `left = right`, as in `IIF([country]="USA", ...)`.
    Equals(Box<Node>, Box<Node>),
}

/// A function call with its arguments and anything prepared at parse time.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub func: Func,
    /// The function's name as the reference spells it, for errors.
    pub name: &'static str,
    pub args: Vec<Node>,
    pub prepared: Prepared,
}

impl Expr {
    pub(crate) fn from_root(root: Node) -> Self {
        Expr { root }
    }

    /// Evaluates the expression for one source object.
    ///
    /// `Err(EvalError::IgnoreFlow)` means the attribute must not be sent at
    /// all (raised by `IgnoreFlowIfNullOrEmpty`).
    pub fn eval(&self, src: &dyn SourceObject, ctx: &EvalContext) -> Result<Value, EvalError> {
        eval_node(&self.root, src, ctx)
    }

    /// The attribute names the expression reads, as written, each once
    /// (compared case-insensitively), in order of appearance.
    pub fn references(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        collect_references(&self.root, &mut out);
        out
    }

    /// True when the whole expression is wrapped in `Redact(...)`: its value
    /// is sent, but logs should show `[Redact]` instead.
    pub fn is_redacted(&self) -> bool {
        matches!(&self.root, Node::Call(c) if c.func == Func::Redact)
    }

    /// True when the expression is a `SelectUniqueValue(...)` call.
    pub fn is_select_unique_value(&self) -> bool {
        matches!(&self.root, Node::Call(c) if c.func == Func::SelectUniqueValue)
    }
}

fn push_reference(out: &mut Vec<String>, name: &str) {
    if !out.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        out.push(name.to_string());
    }
}

fn collect_references(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Empty | Node::Const(_) => {}
        Node::Attr(name) | Node::AppRoles(name) => push_reference(out, name),
        Node::Equals(a, b) => {
            collect_references(a, out);
            collect_references(b, out);
        }
        Node::Call(call) => {
            for arg in &call.args {
                collect_references(arg, out);
            }
            if let Some(name) = functions::named_attribute_argument(call) {
                push_reference(out, name);
            }
        }
    }
}

/// Evaluates one node. Nesting is bounded by the parser, so recursion is too.
pub(crate) fn eval_node(node: &Node, src: &dyn SourceObject, ctx: &EvalContext) -> Result<Value, EvalError> {
    match node {
        Node::Empty => Ok(Value::Null),
        Node::Const(v) => Ok(v.clone()),
        Node::Attr(name) => Ok(src.attribute(name)),
        Node::AppRoles(_) => Ok(app_roles(src)),
        Node::Call(call) => limits::check(functions::call(call, src, ctx)?, call.name),
        Node::Equals(a, b) => {
            let a = eval_node(a, src, ctx)?;
            let b = eval_node(b, src, ctx)?;
            Ok(Value::Bool(values_equal(&a, &b)))
        }
    }
}

/// The virtual attribute `[appRoleAssignments]`: a list of
/// `{id, displayName, value}` objects (null when there are none).
pub(crate) fn app_roles(src: &dyn SourceObject) -> Value {
    let roles = src.app_role_assignments();
    if roles.is_empty() {
        Value::Null
    } else {
        Value::List(roles.iter().map(|r| r.to_value()).collect())
    }
}

/// `=` compares text forms case-insensitively; null equals only null.
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.to_text(), b.to_text()) {
        (Some(x), Some(y)) => functions::text::eq_ignore_case(&x, &y),
        _ => a == b,
    }
}
