//! `process.user`: uid, gid, additionalGids, umask — the init's change of identity.

use oci_spec::runtime::User;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("process.user.{field}: {reason}")]
    Set { field: &'static str, reason: String },
}

/// setgroups (unless the user namespace forbids it and no additionalGids were asked), setresgid,
/// setresuid with PR_SET_KEEPCAPS so `capabilities::apply_capabilities` can still set the sets
/// afterwards, and umask (default 0022).
pub fn set_identity(_user: &User, _setgroups_allowed: bool) -> Result<(), IdentityError> {
    todo!()
}
