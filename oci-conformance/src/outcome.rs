//! The verdict of one case.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// What a case returns: `Ok(())` is a pass; `Err` carries a failure or a skip, so case code can
/// use `?` on anything that converts into a failure with its reason.
pub type CaseResult = Result<(), Outcome>;

impl From<std::io::Error> for Outcome {
    fn from(e: std::io::Error) -> Self {
        Outcome::Fail(format!("I/O error: {e}"))
    }
}

impl From<String> for Outcome {
    fn from(s: String) -> Self {
        Outcome::Fail(s)
    }
}

impl From<serde_json::Error> for Outcome {
    fn from(e: serde_json::Error) -> Self {
        Outcome::Fail(format!("JSON: {e}"))
    }
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "SKIP",
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Outcome::Pass => "",
            Outcome::Fail(r) | Outcome::Skip(r) => r,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Fails the case with a formatted reason.
#[macro_export]
macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::outcome::Outcome::Fail(format!($($t)*))) };
}

/// Skips the case with a formatted reason.
#[macro_export]
macro_rules! skip {
    ($($t:tt)*) => { return Err($crate::outcome::Outcome::Skip(format!($($t)*))) };
}

/// Fails the case unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($t:tt)*) => { if !$cond { $crate::fail!($($t)*) } };
}
