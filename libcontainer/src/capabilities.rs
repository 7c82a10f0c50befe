//! `process.capabilities`: the five sets, applied with the caps crate after the uid change.

use oci_spec::runtime::LinuxCapabilities;

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("process.capabilities.{set}: {cap}: {reason}")]
    Apply { set: &'static str, cap: String, reason: String },
}

/// Checks every capability is known to this kernel (e.g. CAP_BPF on an old kernel).
pub fn validate_capabilities(_caps: Option<&LinuxCapabilities>) -> Result<(), CapsError> {
    todo!()
}

/// Drops the bounding set to `bounding`, then sets effective, permitted, inheritable and
/// ambient. Called after `identity::set_identity` (which keeps caps across the uid change).
/// `None` means the spec gave no capabilities: every set ends up empty.
pub fn apply_capabilities(_caps: Option<&LinuxCapabilities>) -> Result<(), CapsError> {
    todo!()
}
