//! Errors of the expression language: [`ParseError`] when an expression is
//! read (with the position to point at), [`EvalError`] when it is evaluated
//! against one source object.

use std::fmt;

/// Why an expression could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// 0-based character (not byte) offset of the problem in the source.
    pub position: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        ParseError { position, message: message.into() }
    }

    /// The source on one line, a caret under the position, then the message:
    ///
    /// ```text
    /// Left([givenName])
    /// ^ Left expects 2 arguments, got 1
    /// ```
    ///
    /// Line breaks and tabs in the source are shown as spaces so the caret
    /// stays under the right character.
    pub fn render(&self, src: &str) -> String {
        let line: String = src.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let pad = " ".repeat(self.position.min(line.chars().count()));
        format!("{line}\n{pad}^ {}", self.message)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position, self.message)
    }
}

/// Why evaluating an expression against a source object failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// An argument has a type the function cannot use.
    #[error("{function}: argument {argument} must be {expected}, got {found}")]
    WrongType {
        /// The function, as the reference spells it.
        function: &'static str,
        /// 1-based index of the argument.
        argument: usize,
        /// What the function expects there.
        expected: &'static str,
        /// The type of the value found.
        found: &'static str,
    },
    /// An argument has the right type but a value the function refuses.
    #[error("{function}: argument {argument}: {message}")]
    InvalidArgument {
        /// The function, as the reference spells it.
        function: &'static str,
        /// 1-based index of the argument.
        argument: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A regular expression computed at evaluation time does not compile.
    #[error("{function}: invalid regular expression {pattern:?}: {message}")]
    InvalidRegex {
        /// The function, as the reference spells it.
        function: &'static str,
        /// The pattern.
        pattern: String,
        /// The regex engine's complaint.
        message: String,
    },
    /// A date string could not be read.
    #[error("{function}: cannot read {value:?} as a date: {message}")]
    InvalidDate {
        /// The function, as the reference spells it.
        function: &'static str,
        /// The text that is not a date.
        value: String,
        /// What did not match.
        message: String,
    },
    /// A date format string or time zone is not supported.
    #[error("{function}: invalid date format {format:?}: {message}")]
    InvalidFormat {
        /// The function, as the reference spells it.
        function: &'static str,
        /// The format (or time zone) given.
        format: String,
        /// What is wrong with it.
        message: String,
    },
    /// A computation went out of range (a date past year 9999, an integer
    /// overflow).
    #[error("{function}: result out of range")]
    OutOfRange {
        /// The function, as the reference spells it.
        function: &'static str,
    },
    /// A value grew past what an expression may compute (see `limits`).
    #[error("{function}: the result is too large: an expression may compute {limit}")]
    TooLarge {
        /// The function, as the reference spells it.
        function: &'static str,
        /// The bound it passed, in words.
        limit: String,
    },
    /// `IgnoreFlowIfNullOrEmpty` met a null or empty value: the attribute
    /// must not be sent at all. Not a failure; mappings drop the attribute.
    #[error("the value is null or empty: the attribute is not sent (IgnoreFlowIfNullOrEmpty)")]
    IgnoreFlow,
    /// `SelectUniqueValue` found every candidate taken in the target.
    #[error("SelectUniqueValue: none of the candidate values is unique: {candidates:?}")]
    NoUniqueValue {
        /// The candidates tried, in order.
        candidates: Vec<String>,
    },
}
