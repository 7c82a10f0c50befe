//! Per-process kernel attributes from the config, set by the init before exec:
//! oomScoreAdj, linux.personality, process.scheduler, process.ioPriority, noNewPrivileges.

use oci_spec::runtime::Spec;

#[derive(Debug, thiserror::Error)]
pub enum AttributeError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Checks values (e.g. oomScoreAdj in -1000..=1000, a known personality domain, a valid
/// scheduler policy) before anything is created.
pub fn validate_attributes(_spec: &Spec) -> Result<(), AttributeError> {
    todo!()
}

/// oomScoreAdj, personality, scheduler, ioPriority — applied to the calling process.
pub fn apply_attributes(_spec: &Spec) -> Result<(), AttributeError> {
    todo!()
}

/// prctl(PR_SET_NO_NEW_PRIVS) when `process.noNewPrivileges`.
pub fn apply_no_new_privileges(_spec: &Spec) -> Result<(), AttributeError> {
    todo!()
}
