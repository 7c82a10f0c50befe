//! `process.rlimits`, set with setrlimit in the init before exec.

use oci_spec::runtime::PosixRlimit;

#[derive(Debug, thiserror::Error)]
pub enum RlimitError {
    #[error("process.rlimits: {name} (soft {soft}, hard {hard}): {reason}")]
    Apply { name: String, soft: u64, hard: u64, reason: String },
}

/// Duplicate types and soft > hard are errors, before anything is created.
pub fn validate_rlimits(_rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    todo!()
}

pub fn apply_rlimits(_rlimits: &[PosixRlimit]) -> Result<(), RlimitError> {
    todo!()
}
