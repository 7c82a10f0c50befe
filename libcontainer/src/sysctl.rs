//! `linux.sysctl`: written under /proc/sys inside the container's namespaces.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error("linux.sysctl.{key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// Rejects keys with `..` or `/` tricks, and keys that are not namespaced by a namespace the
/// container has (runc's rules: kernel.msg*/sem*/shm*, fs.mqueue.* need ipc; net.* needs net;
/// kernel.hostname/domainname need uts).
pub fn validate_sysctl(
    _sysctl: &HashMap<String, String>,
    _has_ns: &dyn Fn(oci_spec::runtime::LinuxNamespaceType) -> bool,
) -> Result<(), SysctlError> {
    todo!()
}

/// Writes each key (after pivot_root: the container's /proc/sys).
pub fn apply_sysctl(_sysctl: &HashMap<String, String>) -> Result<(), SysctlError> {
    todo!()
}
