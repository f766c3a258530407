//! The error returned when a name, registry or digest does not parse.

use std::fmt;

/// A string that is not a valid package name, package spec, registry or digest.
///
/// The message says what is wrong and shows a valid example:
/// `"WASI:http" is not a valid package name: namespace must be lowercase, e.g. "wasi:http"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub(crate) input: String,
    pub(crate) what: &'static str,
    pub(crate) reason: String,
    pub(crate) example: String,
}

impl ParseError {
    pub(crate) fn new(
        input: &str,
        what: &'static str,
        reason: impl Into<String>,
        example: impl Into<String>,
    ) -> Self {
        Self {
            input: input.to_owned(),
            what,
            reason: reason.into(),
            example: example.into(),
        }
    }

    /// The string that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What the string should have been: `package name`, `registry`, ...
    pub fn expected(&self) -> &'static str {
        self.what
    }

    /// Why it is not valid, without the input or the example.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// A valid value of the same kind, corrected from the input where that was possible.
    pub fn example(&self) -> &str {
        &self.example
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a valid {}: {}, e.g. {:?}",
            self.input, self.what, self.reason, self.example
        )
    }
}

impl std::error::Error for ParseError {}
